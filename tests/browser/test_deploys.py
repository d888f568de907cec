"""A deploy under an open console: the server is stopped with SIGTERM and a new
one started on the same port and database; the card comes back by itself and
shows what happens next, with no page reload."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import ARTIFACTS
from tests.e2e.server import cli, free_port

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent / "microgrid"
HOST = "127.0.0.1"
START_SECONDS = 60
"""A server's start-up (migrations, imports) on a busy shared machine."""


@contextmanager
def running(database_url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``microgrid serve`` on ``port``, ready; stopped when the block ends if
    the test has not stopped it."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(BIN), "serve", "--host", HOST, "--port", str(port)],
            env={**os.environ, "DATABASE_URL": database_url, "SHUTDOWN_DRAIN_SECONDS": "0"},
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _ready(port):
            assert process.poll() is None, f"serve exited with {process.returncode}: see {log}"
            assert time.monotonic() < deadline, f"serve not ready in {START_SECONDS} s"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://{HOST}:{port}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def record(base: str, token: str, microgrid_id: str, value: bool, ref: str) -> None:
    response = httpx.post(
        f"{base}/graphql",
        json={
            "query": """mutation ($i: RecordCapabilityStatusInput!) {
            recordCapabilityStatus(input: $i) { __typename } }""",
            "variables": {
                "i": {
                    "microgridId": microgrid_id,
                    "capability": "DER",
                    "value": value,
                    "observedAt": datetime.now(UTC).isoformat(),
                    "providerEventRef": ref,
                }
            },
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.json()["data"]["recordCapabilityStatus"]["__typename"] == (
        "CapabilityStatusRecorded"
    )


def microgrid_of_demo_depot(base: str, token: str) -> str:
    response = httpx.post(
        f"{base}/graphql",
        json={"query": "{ depots { edges { node { name microgrid { id } } } } }"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    edges = response.json()["data"]["depots"]["edges"]
    return next(e["node"] for e in edges if e["node"]["name"] == "Demo Depot")["microgrid"]["id"]


def der_status(driver) -> str | None:
    boxes = driver.find_elements(By.ID, "cap-DER")
    return boxes[0].get_attribute("data-status") if boxes else None


def live_text(driver) -> str:
    return driver.find_element(By.ID, "live").text


def test_the_card_comes_back_after_a_restart_and_shows_new_ingests_without_reload(
    browser, tmp_path
):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'deploy.db'}"
    lines = cli(database_url, "demo").splitlines()
    token = {ln.split()[0]: ln.split()[-1] for ln in lines if ln.split()[1:2] == ["token:"]}
    port = free_port()
    base = f"http://{HOST}:{port}"
    log = tmp_path / "serve.log"

    with running(database_url, port, log) as first:
        microgrid_id = microgrid_of_demo_depot(base, token["operator"])
        browser.get(f"{base}/healthz")
        browser.execute_script("sessionStorage.clear()")
        browser.get(f"{base}/")
        field = WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "token"))
        field.send_keys(token["operator"], Keys.ENTER)
        WebDriverWait(browser, 10).until(lambda d: live_text(d) == "Live")
        Select(browser.find_element(By.ID, "depot")).select_by_visible_text("Demo Depot")
        WebDriverWait(browser, 10).until(lambda d: live_text(d) == "Live")
        record(base, token["integration"], microgrid_id, True, "deploy-before")
        WebDriverWait(browser, 10).until(lambda d: der_status(d) == "ON")
        # Set on this page only: a reload would lose it.
        browser.execute_script("window.sameDocument = 'yes'")

        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0
        WebDriverWait(browser, 10).until(lambda d: live_text(d) == "Reconnecting…")

    with running(database_url, port, log):
        WebDriverWait(browser, 30).until(lambda d: live_text(d) == "Live")
        assert der_status(browser) == "ON"
        record(base, token["integration"], microgrid_id, False, "deploy-after")
        WebDriverWait(browser, 10).until(lambda d: der_status(d) == "OFF")
        assert browser.execute_script("return window.sameDocument") == "yes"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "console-after-restart.png"))
