"""Helper P's probe of the console's reconnect path: a card subscription that
the server answers with a retryable error (the database unreachable while the
card is read, a subscriber that fell behind) is opened again with backoff, as
a lost connection is, instead of leaving the screen without live updates until
a reload."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.test_deploys import der_status, live_text, microgrid_of_demo_depot, record
from tests.e2e.server import cli, serve
from tests.support import services
from tests.support.own_postgres import admin, own_database, url_of

pytestmark = pytest.mark.e2e

KEEP_SOCKETS = """window.openedSockets = [];
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) { super(...args); window.openedSockets.push(this); }
};"""
"""Lets the test drop the page's WebSocket, as a network blip does."""


def test_a_retryable_error_on_the_card_subscription_is_retried_until_live(browser: Any) -> None:
    asyncio.run(_retried(browser))


async def _retried(browser: Any) -> None:
    async with own_database() as name:
        url = url_of(name)
        lines = (await asyncio.to_thread(cli, url, "demo")).splitlines()
        token = {ln.split()[0]: ln.split()[-1] for ln in lines if ln.split()[1:2] == ["token:"]}
        # A card read that waits on a lock is cancelled soon: a retryable 503.
        await admin(f"ALTER DATABASE \"{name}\" SET statement_timeout = '1s'")
        running = serve(url)
        server = await asyncio.to_thread(running.__enter__)
        try:
            await asyncio.to_thread(_page_live, browser, server.base, token["operator"])
            microgrid_id = microgrid_of_demo_depot(server.base, token["operator"])
            dsn = services.POSTGRES_DSN.rsplit("/", 1)[0] + "/" + name
            lock = await asyncpg.connect(dsn)
            try:
                async with lock.transaction():
                    await lock.execute("LOCK TABLE microgrids IN ACCESS EXCLUSIVE MODE")
                    opened = browser.execute_script("return window.openedSockets.length")
                    browser.execute_script("window.openedSockets.at(-1).close()")
                    # Reconnected, was refused the card, and tried again.
                    await asyncio.to_thread(_until_sockets, browser, opened + 2)
            finally:
                await lock.close()
            # Without the lock the next attempt has the card, and what follows.
            await asyncio.to_thread(_until_text, browser, "Live")
            record(server.base, token["integration"], microgrid_id, True, "probe-after-retry")
            await asyncio.to_thread(
                lambda: WebDriverWait(browser, 20).until(lambda d: der_status(d) == "ON")
            )
        finally:
            await asyncio.to_thread(running.__exit__, None, None, None)


def _page_live(browser: Any, base: str, token: str) -> None:
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_SOCKETS})
    browser.get(f"{base}/healthz")
    browser.execute_script("sessionStorage.clear()")
    browser.get(f"{base}/")
    field = WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "token"))
    field.send_keys(token, Keys.ENTER)
    _until_text(browser, "Live")


def _until_sockets(browser: Any, count: int) -> None:
    """The page has opened ``count`` WebSockets since it loaded."""
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return window.openedSockets.length") >= count
    )


def _until_text(browser: Any, text: str) -> None:
    """The live indicator shows ``text`` (at some moment: it is polled)."""
    WebDriverWait(browser, 30, poll_frequency=0.02).until(lambda d: live_text(d) == text)
