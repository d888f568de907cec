"""The load page in a real browser against a real server holding the last day
of the simulator's `day-in-the-life` (played with --catch-up through the API):
the rollout flag off and on, the fail-safe and stale spans, the hover read-out,
live extension after ingest, a flag flipped in System Admin, 360 px, the
keyboard, and the chart's data module against hostile LoadCharts. Screenshots
go to artifacts/screenshots/, and to docs/screenshots/ with UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import itertools
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import ARTIFACTS
from tests.browser.live_packets import post_now, readings_at
from tests.browser.test_console import demo_ids, gql, no_console_errors, sign_in

pytestmark = pytest.mark.e2e
FLAG = "new-microgrid-fields-load-chart"
BIN = Path(sys.executable).parent / "microgrid"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LIVE_FIGURES = ARTIFACTS.parent / "load-page-live.txt"
WAIT = 15  # generous: a slow shared machine must not fail a correct page


def screenshot(driver: Any, name: str) -> None:
    """The window, into artifacts/ (and docs/ with UPDATE_SCREENSHOTS=1)."""
    driver.save_screenshot(str(ARTIFACTS / name))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, DOCS / name)


@pytest.fixture
def tall_window(browser: Any) -> Iterator[Any]:
    """Tall enough for the card, the chart and its read-out in one screenshot."""
    browser.set_window_size(1280, 1700)
    try:
        yield browser
    finally:
        browser.set_window_size(1280, 900)


@pytest.fixture(scope="module")
def depot(site: Any) -> dict[str, Any]:
    return demo_ids(site)


@pytest.fixture(scope="module")
def day(site: Any, depot: dict[str, Any]) -> dict[str, datetime]:
    """The last 24 h of `day-in-the-life` into the demo depot, a step every 4 min
    (so 24 h buckets of a 900 px chart all hold a reading); the heartbeat-loss span."""
    subprocess.run(
        [
            *(str(BIN), "sim", "run", "day-in-the-life", "--url", site.url),
            *("--token", site.tokens["admin"], "--depot", "Demo Depot"),
            *("--catch-up", "--every", "240", "--quiet"),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    now = datetime.now(UTC)
    chart = gql(
        site,
        "operator",
        """query ($d: ID!, $f: DateTime!, $t: DateTime!) { loadChart(depotId: $d, from: $f,
        to: $t, maxPoints: 100) { ... on LoadChart { capacitySourceIntervals {
        source from to } } } }""",
        {"d": depot["id"], "f": (now - timedelta(hours=24)).isoformat(), "t": now.isoformat()},
    )["loadChart"]
    spans = [
        (datetime.fromisoformat(i["from"]), datetime.fromisoformat(i["to"] or now.isoformat()))
        for i in chart["capacitySourceIntervals"]
        if i["source"] == "CONTROLLER_FAIL_SAFE"
    ]
    start, end = max(spans, key=lambda span: span[1] - span[0])
    return {"fail_safe_from": start, "fail_safe_to": end}


@pytest.fixture(scope="module")
def controller_id(depot: dict[str, Any]) -> str:
    return str(next(d["id"] for d in depot["devices"] if d["name"] == "BBA microgrid controller"))


def set_flag(site: Any, depot_id: str | None, enabled: bool | None) -> dict[str, Any]:
    variables: dict[str, Any] = {"key": FLAG, "enabled": enabled}
    if depot_id:
        variables["depotId"] = depot_id
    data = gql(
        site,
        "admin",
        """mutation ($i: SetFeatureFlagInput!) { setFeatureFlag(input: $i) {
        __typename ... on FeatureFlag { enabled source } } }""",
        {"i": variables},
    )
    result: dict[str, Any] = data["setFeatureFlag"]
    assert result["__typename"] == "FeatureFlag", result
    return result


def chart_drawn(driver: Any, overlays: bool) -> Any:
    def drawn(d: Any) -> Any:
        box = d.find_element(By.ID, "chart")
        return (
            box.get_attribute("data-series") not in (None, "", "0")
            and box.get_attribute("data-overlays") == str(overlays).lower()
            and box
        )

    return WebDriverWait(driver, WAIT).until(drawn)


def boxes(driver: Any, css: str) -> list[dict[str, Any]]:
    """Where the matching elements are drawn and what they say, read in one script:
    the chart redraws its overlays on every refetch, so element handles go stale."""
    return list(
        driver.execute_script(
            """return [...document.querySelectorAll(arguments[0])].map((e) => {
              const r = e.getBoundingClientRect();
              return { left: r.left, width: r.width, text: e.textContent };
            });""",
            css,
        )
    )


def test_uplot_is_vendored_and_served_with_its_content_types(site: Any) -> None:
    expected = {
        "uPlot.esm.js": ("text/javascript", "application/javascript"),
        "uPlot.min.css": ("text/css",),
        "LICENSE.txt": ("text/plain",),
    }
    for name, types in expected.items():
        response = httpx.get(f"{site.url}/console/vendor/uplot/{name}", timeout=10)
        assert response.status_code == 200, name
        assert response.headers["content-type"].split(";")[0] in types, name
    index = httpx.get(site.url + "/", timeout=10).text
    assert "/console/vendor/uplot/uPlot.min.css" in index
    assert "https://" not in index and "http://" not in index, "no CDN"


def test_flag_off_shows_the_page_as_before_the_rollout(tall_window, site, depot, day) -> None:
    browser = tall_window
    set_flag(site, depot["id"], False)
    sign_in(browser, site, "operator")
    chart_drawn(browser, overlays=False)
    assert not browser.find_element(By.ID, "capabilities").is_displayed()
    assert browser.find_element(By.ID, "power-sources").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#chart .shade") == []
    assert not browser.find_element(By.ID, "chart-bands").is_displayed()
    legend = browser.find_element(By.ID, "chart-legend").text
    assert "BESS load" in legend and "BESS SOC" in legend
    assert "Main switchboard A effective capacity" in legend
    assert "fail-safe capacity applied" not in legend
    screenshot(browser, "load-page-flag-off.png")
    no_console_errors(browser)


def test_flag_on_shows_the_fail_safe_and_stale_spans_and_exact_values(
    tall_window, site, depot, day
) -> None:
    browser = tall_window
    set_flag(site, depot["id"], True)
    sign_in(browser, site, "operator")
    chart_drawn(browser, overlays=True)
    assert browser.find_element(By.ID, "capabilities").is_displayed()

    fail_safe = boxes(browser, '.shade[data-source="CONTROLLER_FAIL_SAFE"]')
    assert fail_safe and max(b["width"] for b in fail_safe) > 5
    stale = boxes(browser, '.band[data-freshness="STALE"]')
    assert stale and max(b["width"] for b in stale) > 2
    assert all("(stale)" in b["text"] for b in stale)
    for status in ("ON", "OFF"):
        bands = boxes(browser, f'.band[data-status="{status}"]')
        assert bands and all(b["text"].startswith(status) for b in bands)
    assert len(boxes(browser, ".band-row")) == 2

    # The heartbeat-loss hour: its middle bucket reads the fail-safe capacity.
    widest = max(fail_safe, key=lambda b: b["width"])
    plot = browser.find_element(By.CSS_SELECTOR, "#chart .u-over")
    middle = boxes(browser, "#chart .u-over")[0]
    ActionChains(browser).move_to_element_with_offset(
        plot,
        round(widest["left"] + widest["width"] / 2 - middle["left"] - middle["width"] / 2),
        0,
    ).perform()
    readout = browser.find_element(By.ID, "chart-readout")
    WebDriverWait(browser, WAIT).until(lambda d: "fail-safe capacity applied" in readout.text)
    lines = readout.text.splitlines()
    assert lines[0].endswith(" UTC") and "\u2013" in lines[0], lines[0]
    effective = next(
        line for line in lines if line.startswith("Main switchboard A effective capacity:")
    )
    assert "last 120,000 W" in effective, effective
    screenshot(browser, "load-page-flag-on.png")
    no_console_errors(browser)


WATCH_NEWEST = """
window.loadPageSeenAt = null;
const target = document.getElementById("chart-latest");
const watcher = new MutationObserver(() => {
  if (target.textContent.includes(arguments[0])) {
    window.loadPageSeenAt = Date.now();
    watcher.disconnect();
  }
});
watcher.observe(target, { childList: true, characterData: true, subtree: true });
"""
"""Notes the moment (browser clock = this machine's) the newest-readings line
shows the expected value: a poll from the test would add up to its interval."""


def _last_band(driver: Any, capability: str) -> str:
    bands = driver.find_elements(
        By.CSS_SELECTOR, f'.band-row[data-capability="{capability}"] .band'
    )
    return str(bands[-1].get_attribute("data-status")) if bands else ""


def test_a_live_point_and_a_band_change_appear_without_reload(
    browser, site, depot, day, controller_id
) -> None:
    set_flag(site, depot["id"], True)
    sign_in(browser, site, "operator")
    browser.find_element(By.CSS_SELECTOR, '#ranges [data-range="3600"]').click()
    WebDriverWait(browser, WAIT).until(
        lambda d: (
            int(d.find_element(By.ID, "chart").get_attribute("data-bucket-seconds") or 0)
            in range(1, 61)
        )
    )
    chart_drawn(browser, overlays=True)
    browser.execute_script("window.name = 'not reloaded'")
    token, url = site.tokens["integration"], site.url
    timings: list[tuple[float, float]] = []
    for n in range(5):
        load = 70_001.0 + n
        der = n % 2 == 0
        expected = f"BESS load {load:,.0f} W"
        browser.execute_script(WATCH_NEWEST, expected)
        sent = time.time()
        post_now(url, token, controller_id, **{**readings_at(0), "load_w": load, "der": der})
        answered = time.time()
        seen = WebDriverWait(browser, WAIT).until(
            lambda d: d.execute_script("return window.loadPageSeenAt")
        )
        timings.append((answered - sent, seen / 1000 - sent))
        status = "ON" if der else "OFF"
        WebDriverWait(browser, WAIT).until(lambda d, s=status: _last_band(d, "DER") == s)
    assert browser.execute_script("return window.name") == "not reloaded"
    shown = [t[1] for t in timings]
    LIVE_FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with LIVE_FIGURES.open("a") as figures:
        figures.write(
            f"{datetime.now(UTC).isoformat()} ingest sent -> point on the page, s "
            f"(ingest answered; on the page): "
            + ", ".join(f"({a:.3f}; {b:.3f})" for a, b in timings)
            + f"; on the page median {statistics.median(shown):.3f}, max {max(shown):.3f}\n"
        )
    no_console_errors(browser)


def test_a_flag_flipped_in_system_admin_is_followed_by_the_open_page(
    browser, site, depot, day, controller_id
) -> None:
    set_flag(site, depot["id"], True)
    sign_in(browser, site, "admin")
    chart_drawn(browser, overlays=True)
    browser.find_element(By.ID, "tab-admin").click()
    row = WebDriverWait(browser, WAIT).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f'[data-flag="{FLAG}"]')
    )
    depot_cell = row.find_element(By.CSS_SELECTOR, "[data-scope=depot]")
    assert "depot setting" in depot_cell.text and depot_cell.text.startswith("On")
    depot_cell.find_element(By.CSS_SELECTOR, "[data-set=false]").click()
    WebDriverWait(browser, WAIT).until(
        lambda d: d.find_element(
            By.CSS_SELECTOR, f'[data-flag="{FLAG}"] [data-scope=depot] [data-role=value]'
        ).text.startswith("Off")
    )
    browser.find_element(By.ID, "tab-card").click()
    chart_drawn(browser, overlays=False)
    assert not browser.find_element(By.ID, "capabilities").is_displayed()

    # Another open page follows on its next refetch, here the one a card update causes.
    set_flag(site, depot["id"], True)
    post_now(site.url, site.tokens["integration"], controller_id, **readings_at(0))
    chart_drawn(browser, overlays=True)
    assert browser.find_element(By.ID, "capabilities").is_displayed()
    no_console_errors(browser)


def test_legible_at_360_pixels(browser, site, depot, day) -> None:
    set_flag(site, depot["id"], True)
    browser.set_window_size(360, 800)
    try:
        sign_in(browser, site, "operator")
        chart = chart_drawn(browser, overlays=True)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 360
        plot = browser.find_element(By.CSS_SELECTOR, "#chart .uplot")
        assert plot.size["width"] <= chart.size["width"]
        legend = browser.find_element(By.ID, "chart-legend")
        assert (
            browser.execute_script("return arguments[0].scrollWidth", legend)
            <= (legend.size["width"])
        )
        assert browser.find_elements(By.CSS_SELECTOR, '.band[data-freshness="STALE"]')
        browser.execute_script(
            "document.getElementById('load-chart').scrollIntoView({block: 'start'})"
        )
        screenshot(browser, "load-page-360.png")
    finally:
        browser.set_window_size(1280, 900)
    no_console_errors(browser)


def test_a_custom_range_in_the_past_is_drawn_and_a_reversed_one_refused(
    browser, site, depot, day
) -> None:
    set_flag(site, depot["id"], True)
    sign_in(browser, site, "operator")
    chart_drawn(browser, overlays=True)
    start, end = day["fail_safe_from"], day["fail_safe_to"]
    for field, at in (("range-from", start), ("range-to", end)):
        browser.execute_script(
            "arguments[0].value = arguments[1]",
            browser.find_element(By.ID, field),
            at.strftime("%Y-%m-%dT%H:%M"),
        )
    browser.find_element(By.ID, "range-apply").click()
    WebDriverWait(browser, WAIT).until(
        lambda d: (
            d.find_element(By.ID, "chart")
            .get_attribute("data-from")
            .startswith(start.strftime("%Y-%m-%dT%H:%M"))
        )
    )
    assert browser.find_elements(By.CSS_SELECTOR, '.shade[data-source="CONTROLLER_FAIL_SAFE"]')
    browser.execute_script(
        "arguments[0].value = arguments[1]",
        browser.find_element(By.ID, "range-to"),
        start.strftime("%Y-%m-%dT%H:%M"),
    )
    browser.find_element(By.ID, "range-apply").click()
    message = browser.find_element(By.ID, "chart-message")
    WebDriverWait(browser, WAIT).until(lambda d: "after its start" in message.text)
    no_console_errors(browser)


def test_the_read_out_steps_through_the_buckets_from_the_keyboard(browser, site, depot, day):
    set_flag(site, depot["id"], True)
    sign_in(browser, site, "operator")
    chart = chart_drawn(browser, overlays=True)
    chart.send_keys(Keys.END)
    readout = browser.find_element(By.ID, "chart-readout")
    WebDriverWait(browser, WAIT).until(lambda d: "UTC" in readout.text)
    last = readout.text.splitlines()[0]
    chart.send_keys(Keys.ARROW_LEFT)
    WebDriverWait(browser, WAIT).until(lambda d: readout.text.splitlines()[0] != last)
    previous = readout.text.splitlines()[0]
    assert previous.split(" \u2013 ")[1] == last.split(" \u2013 ")[0], "adjacent buckets"
    chart.send_keys(Keys.HOME)
    WebDriverWait(browser, WAIT).until(
        lambda d: readout.text.splitlines()[0].startswith(
            d.find_element(By.ID, "chart").get_attribute("data-from")[:10]
        )
    )
    no_console_errors(browser)


# --- the data module (console/static/chart-data.js) against hostile charts -----

KINDS = [
    "POWER_SOURCE_LOAD_W",
    "POWER_SOURCE_SOC_PERCENT",
    "CIRCUIT_AVAILABLE_CAPACITY_W",
    "CIRCUIT_FAIL_SAFE_CAPACITY_W",
    "CIRCUIT_EFFECTIVE_CAPACITY_W",
]
instants = st.integers(min_value=946_684_800, max_value=4_102_444_800).map(
    lambda s: datetime.fromtimestamp(s, UTC).isoformat()
)
dates = st.one_of(
    instants, st.sampled_from(["", "yesterday", "2026-13-45T99:00:00Z", "0", "NaN"]), st.none()
)
values = st.one_of(
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.sampled_from(["12", True, [], {}]),
)
points = st.fixed_dictionaries(
    {"at": dates, "min": values, "avg": values, "max": values, "last": values}
)
series = st.fixed_dictionaries(
    {
        "kind": st.one_of(st.sampled_from(KINDS), st.text(max_size=8)),
        "subjectId": st.sampled_from(["a", "b", "c"]),
        "name": st.text(max_size=20),
        "unit": st.sampled_from(["W", "%", ""]),
        "points": st.lists(points, max_size=40),
    }
)
intervals = st.fixed_dictionaries(
    {
        "capability": st.sampled_from(["X", "Y", ""]),
        "status": st.sampled_from(["ON", "OFF", "UNKNOWN"]),
        "freshness": st.sampled_from(["FRESH", "STALE", "NEVER_REPORTED"]),
        "from": dates,
        "to": dates,
    }
)
sources = st.fixed_dictionaries(
    {
        "circuitId": st.sampled_from(["a", "b", "z"]),
        "source": st.sampled_from(
            ["CONTROLLER_AVAILABLE", "CONTROLLER_FAIL_SAFE", "CONFIGURED_SAFE", "?"]
        ),
        "from": dates,
        "to": dates,
    }
)
charts = st.fixed_dictionaries(
    {
        "from": dates,
        "to": dates,
        "bucketSeconds": st.one_of(st.integers(min_value=-5, max_value=10**6), st.none()),
        "series": st.lists(series, max_size=6),
        "capabilityIntervals": st.lists(intervals, max_size=8),
        "capacitySourceIntervals": st.lists(sources, max_size=8),
    }
)

TO_PLOT_DATA = """
const [chart, done] = arguments;
import("/console/chart-data.js").then((m) => {
  try { done({ ok: true, data: m.toPlotData(chart) }); }
  catch (error) { done({ ok: false, error: String(error) }); }
}, (error) => done({ ok: false, error: String(error) }));
"""


def _seconds(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


@pytest.fixture(scope="module")
def module_page(browser: Any, site: Any) -> Iterator[Any]:
    browser.get(site.url + "/healthz")
    browser.set_script_timeout(10)
    yield browser


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chart=charts)
def test_the_chart_data_keeps_gaps_and_invents_no_value(module_page: Any, chart: Any) -> None:
    result = module_page.execute_async_script(TO_PLOT_DATA, chart)
    assert result["ok"], result
    data = result["data"]
    x = data["x"]
    assert all(isinstance(t, int | float) and math.isfinite(t) for t in x)
    assert all(a < b for a, b in itertools.pairwise(x)), "strictly increasing"
    for plotted in data["series"]:
        assert len(plotted["values"]) == len(plotted["points"]) == len(x)
        source = next(
            s for s in chart["series"] if f"{s['kind']}:{s['subjectId']}" == plotted["key"]
        )
        field = "last" if plotted["kind"].startswith("CIRCUIT_") else "avg"
        for at, value in zip(x, plotted["values"], strict=True):
            if value is None:
                continue
            assert isinstance(value, int | float) and math.isfinite(value)
            sent = [
                p[field]
                for s in chart["series"]
                if f"{s['kind']}:{s['subjectId']}" == plotted["key"]
                for p in s["points"]
                if _seconds(p["at"]) == at
            ]
            assert value in sent, (at, value, source)
    start, end = _seconds(chart["from"]), _seconds(chart["to"])
    for band in data["bands"]:
        for span in band["spans"]:
            assert start is not None and end is not None
            assert start <= span["from"] < span["to"] <= end
    for span in data["shading"]:
        assert span["source"] in ("CONTROLLER_FAIL_SAFE", "CONFIGURED_SAFE")
        assert start is not None and end is not None
        assert start <= span["from"] < span["to"] <= end
