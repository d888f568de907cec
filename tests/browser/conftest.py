"""A real `microgrid serve` and Debian's Chromium driven by Selenium.

`make test` installs chromium and chromium-driver when it can (root with
apt-get); without them these tests skip, or fail under REQUIRE_SERVICES=1."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import cli, serve
from tests.support import services

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@dataclass
class Site:
    url: str
    database_url: str
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('console') / 'c.db'}"
    cli(database_url, "demo")
    tokens = {
        role: cli(database_url, "tokens", "create", "--role", role).strip().splitlines()[-1]
        for role in ("admin", "operator", "integration")
    }
    with serve(database_url) as server:
        yield Site(server.url.removesuffix("/graphql"), database_url, tokens)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        services.unavailable(
            "Debian chromium and chromium-driver",
            FileNotFoundError("run `make test` as root to install them"),
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-sync",
        "--disable-component-update",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
