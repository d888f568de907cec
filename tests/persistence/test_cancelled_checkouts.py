"""A checkout cancelled because its client went away logs no traceback."""

from __future__ import annotations

import asyncio
import logging

from persistence.cancelled_checkouts import POOL_LOGGER, quiet_cancelled_checkouts


def test_a_cancelled_reset_is_one_debug_line_and_other_errors_keep_their_traceback(caplog):
    quiet_cancelled_checkouts()
    quiet_cancelled_checkouts()
    caplog.set_level(logging.DEBUG, logger=POOL_LOGGER)
    pool = logging.getLogger(POOL_LOGGER)
    for error in (asyncio.CancelledError(), RuntimeError("a real fault")):
        try:
            raise error
        except BaseException:
            pool.error("Exception during reset or similar", exc_info=True)
    cancelled, fault = caplog.records
    assert (cancelled.levelno, cancelled.exc_info) == (logging.DEBUG, None)
    assert "client went away" in cancelled.getMessage()
    assert fault.levelno == logging.ERROR and fault.exc_info is not None
