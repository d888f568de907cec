"""Configuration from environment variables (documented in the README)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./microgrid.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    redis_channel: str = "microgrid:changes"
    broker_silence_check_seconds: float = Field(default=2.0, gt=0, le=3)
    stale_after_seconds: int = Field(default=300, gt=0)
    packet_retention_days: int = Field(default=30, gt=0, le=36_500)
    """Raw sensor packets with their outcomes are kept this long (by receive
    time); at most a century, so the window's start stays a date."""
    reading_retention_days: int = Field(default=400, gt=0, le=36_500)
    """Load-chart readings are kept this long (by observation time)."""
    retention_interval_seconds: float = Field(default=3600, ge=0)
    """How often ``serve`` runs a retention pass (the first one this long after
    start-up); 0 turns the job off in this process."""
    graphiql: bool = False
    introspection: bool = False
    max_query_depth: int = Field(default=15, gt=0)
    max_aliases: int = Field(default=30, gt=0)
    max_tokens: int = Field(default=5000, gt=0)
    max_query_cost: int = Field(default=2000, gt=0)
    """Fields a query may resolve, each times the `first` of every page on its path."""
    max_response_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    """A result larger than this (as JSON) is answered RESPONSE_TOO_LARGE instead;
    it holds a 20-series load chart at 5,000 points (about 12 MB)."""
    max_result_items: int = Field(default=10_000, gt=0)
    """List items a query or mutation may complete in all (unpaginated lists included)."""
    max_body_bytes: int = Field(default=262_144, gt=0)
    """256 KiB holds the largest request the API takes (1,000 named circuits, a
    64 KiB packet); parsing a 1 MiB body held the event loop 60-130 ms
    (bench/README.md, hostile clients)."""
    ws_init_timeout_seconds: float = Field(default=10.0, gt=0)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    keep_alive_timeout_seconds: float = Field(default=5.0, gt=0)
    max_header_bytes: int = Field(default=32_768, gt=0)
    max_connections: int = Field(default=2048, gt=0)
    max_subscriptions_per_connection: int = Field(default=20, gt=0)
    access_log: bool = True
    otel_exporter_otlp_endpoint: str | None = Field(default=None, pattern=r"^(https?://\S+)?$")
    """OpenTelemetry's own variable: traces go over OTLP/HTTP to this collector
    (``/v1/traces`` under it, unless OTEL_EXPORTER_OTLP_TRACES_ENDPOINT says
    otherwise). Unset or empty: no tracing at all. The SDK reads the other OTEL_*
    variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
    OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_*)."""
    host: str = "127.0.0.1"
    port: int = 8000
