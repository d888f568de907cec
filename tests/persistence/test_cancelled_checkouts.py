"""A checkout cancelled because its client went away logs no traceback."""

from __future__ import annotations

import asyncio
import logging

import pytest

from persistence.database import create_engine


@pytest.mark.database_only("the log lines of SQLAlchemy's connection pool")
async def test_a_cancelled_reset_is_one_debug_line_and_other_errors_keep_their_traceback(
    database_url, caplog
):
    engine = create_engine(database_url)
    pool = engine.sync_engine.pool
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.pool")
    for error in (asyncio.CancelledError(), RuntimeError("a real fault")):
        try:
            raise error
        except BaseException:
            pool.logger.error("Exception during reset or similar", exc_info=True)
    await engine.dispose()
    cancelled, fault = [r for r in caplog.records if "reset" in r.getMessage()]
    assert (cancelled.levelno, cancelled.exc_info) == (logging.DEBUG, None)
    assert "client went away" in cancelled.getMessage()
    assert fault.levelno == logging.ERROR and fault.exc_info is not None
