"""Configuration from environment variables (documented in the README)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./microgrid.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    """``redis://host:port/db`` (one Redis), or ``redis+cluster://host:port[,host:port...]``
    (a Redis Cluster: sharded pub/sub, one shard channel per microgrid); unset:
    an in-process broker for a single instance."""
    redis_channel: str = "microgrid:changes"
    """The channel; on a cluster, the prefix of ``<channel>:{<microgrid id>}``
    (so it must not contain braces)."""
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
    database_pool_pre_ping: bool = False
    """Ping each pooled PostgreSQL connection before handing it out (a round trip per
    request). Off by default: after a restart or a failover, the first statement that
    finds its connection lost or its server read-only drops the whole pool instead."""
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
    """One line per HTTP request and per WebSocket open and close (the
    service's own access log; uvicorn's is always off)."""
    shutdown_drain_seconds: float = Field(default=5.0, ge=0, le=300)
    """On SIGTERM or SIGINT, how long ``serve`` keeps serving while /readyz
    answers 503, so load balancers stop sending work here; 0 skips the wait."""
    shutdown_grace_seconds: int = Field(default=20, ge=1, le=600)
    """After the drain, how long WebSocket closing handshakes and requests in
    flight may take before what is left is cancelled and the process exits."""
    metrics_enabled: bool = True
    """Serve Prometheus metrics at /metrics and record the per-operation ones;
    false removes the route (404) and the GraphQL operation instruments."""
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """Serve /metrics on this port only (not on PORT): 0 takes any free port."""
    metrics_host: str | None = None
    """The address METRICS_PORT listens on (default: HOST)."""
    metrics_controller_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    """A scrape re-reads the controllers' last reports at most this often."""
    log_format: Literal["json", "text"] = "json"
    """``json``: one JSON object per line with OpenTelemetry field names;
    ``text``: a readable line (``make run``)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    """The lowest level logged (any case)."""
    otel_exporter_otlp_endpoint: str | None = Field(default=None, pattern=r"^(https?://\S+)?$")
    """OpenTelemetry's own variable: traces go over OTLP/HTTP to this collector
    (``/v1/traces`` under it, unless OTEL_EXPORTER_OTLP_TRACES_ENDPOINT says
    otherwise). Unset or empty: no tracing at all. The SDK reads the other OTEL_*
    variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
    OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_*)."""
    host: str = "127.0.0.1"
    port: int = 8000

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value
