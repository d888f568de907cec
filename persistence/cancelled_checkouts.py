"""A request cancelled while it holds a pooled connection (its client went
away: a closed WebSocket, a dropped HTTP connection) makes SQLAlchemy's pool
log "Exception during reset" at ERROR with the CancelledError's traceback. That
is an expected client event, not a fault (DESIGN §5): it becomes one short
DEBUG line. The connection itself is handled by the pool as before."""

from __future__ import annotations

import asyncio
import logging


class CancelledCheckouts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.msg = f"{record.msg} (cancelled: its client went away)"
        return True


def quiet_cancelled_checkouts(pool: object) -> None:
    """Installs the filter once on the logger of ``pool``'s class (a logger's
    filters see only its own records, not those of its children)."""
    logger = logging.getLogger(f"{type(pool).__module__}.{type(pool).__name__}")
    if not any(isinstance(f, CancelledCheckouts) for f in logger.filters):
        logger.addFilter(CancelledCheckouts())
