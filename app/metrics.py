"""Counters for operators and benchmarks, served as Prometheus text at /metrics."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.broker import Hub
from live_updates.card_followers import CardFollowers


class StatementCounter:
    """SQL statements this process has sent to its database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *_: Any) -> None:
        self.count += 1


def metrics_endpoint(statements: StatementCounter, cards: CardFollowers, hub: Hub) -> Any:
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse

    async def metrics(_request: Request) -> PlainTextResponse:
        lines = [
            "# HELP microgrid_db_statements_total SQL statements sent by this process.",
            "# TYPE microgrid_db_statements_total counter",
            f"microgrid_db_statements_total {statements.count}",
            "# HELP microgrid_card_reads_total Card reads for live subscribers: one per "
            "change per microgrid, however many local subscribers.",
            "# TYPE microgrid_card_reads_total counter",
            f"microgrid_card_reads_total {cards.reads}",
            "# HELP microgrid_card_updates_direct_total Card updates written to a "
            "subscriber's socket in the follower's one pass (the rest go through each "
            "subscriber's own task).",
            "# TYPE microgrid_card_updates_direct_total counter",
            f"microgrid_card_updates_direct_total {cards.direct_deliveries}",
            "# HELP microgrid_live_subscriptions Live subscriptions open in this process.",
            "# TYPE microgrid_live_subscriptions gauge",
            f"microgrid_live_subscriptions {hub.subscription_count}",
            f"microgrid_broker_notices_received_total {hub.notices_received}",
        ]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    return metrics
