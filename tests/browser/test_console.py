"""The operator console in a real browser against a real server. Its capability
boxes and choices follow the schema's CapabilityType, one per type in its order."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from graphql_documents.sdl import enum_values
from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e
CAPABILITY_TYPES = enum_values("CapabilityType")


def gql(site, role, query, variables=None):
    response = httpx.post(
        site.url + "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {site.tokens[role]}"},
        timeout=10,
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def demo_ids(site):
    data = gql(
        site,
        "admin",
        """{ depots { edges { node { id name
        microgrid { id controllerBindings(includeDisabled: true) { id deviceId } }
        devices { id name } } } } }""",
    )
    depot = next(e["node"] for e in data["depots"]["edges"] if e["node"]["name"] == "Demo Depot")
    return depot


def fresh_page(driver, site):
    """The console, signed out. Storage is cleared from a page without the app,
    so no sign-in still in flight can store the token again."""
    driver.get(site.url + "/healthz")
    driver.execute_script("sessionStorage.clear()")
    driver.get(site.url + "/")


SIGN_IN_SECONDS = 20
"""How long signing in may take: on a loaded 2-core machine (a full suite beside
other work) the first subscription once took longer than 5 s."""


def sign_in(driver, site, role):
    fresh_page(driver, site)
    field = WebDriverWait(driver, SIGN_IN_SECONDS).until(lambda d: d.find_element(By.ID, "token"))
    field.send_keys(site.tokens[role], Keys.ENTER)
    WebDriverWait(driver, SIGN_IN_SECONDS).until(
        lambda d: d.find_element(By.ID, "live").text == "Live"
    )


def capability(driver, name):
    return driver.find_element(By.ID, f"cap-{name}")


def no_console_errors(driver):
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def record(site, microgrid_id, value, ref, capability_name="DER"):
    return gql(
        site,
        "integration",
        """mutation ($i: RecordCapabilityStatusInput!) {
        recordCapabilityStatus(input: $i) { __typename } }""",
        {
            "i": {
                "microgridId": microgrid_id,
                "capability": capability_name,
                "value": value,
                "observedAt": datetime.now(UTC).isoformat(),
                "providerEventRef": ref,
            }
        },
    )


def test_a_bad_token_is_refused_and_operators_see_no_admin_tab(browser, site):
    fresh_page(browser, site)
    browser.find_element(By.ID, "token").send_keys("mgs_wrong", Keys.ENTER)
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "sign-in-error").text)
    assert "unknown, revoked or expired" in browser.find_element(By.ID, "sign-in-error").text
    browser.get_log("browser")  # the refused request's 401 is logged by Chromium itself
    sign_in(browser, site, "operator")
    assert not browser.find_element(By.ID, "tab-admin").is_displayed()
    no_console_errors(browser)


def test_the_card_shows_a_posted_status_within_two_seconds_without_reload(browser, site):
    depot = demo_ids(site)
    sign_in(browser, site, "operator")
    Select(browser.find_element(By.ID, "depot")).select_by_visible_text("Demo Depot")
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "live").text == "Live")

    record(site, depot["microgrid"]["id"], True, f"browser-{time.time()}")

    WebDriverWait(browser, 2).until(
        lambda d: capability(d, "DER").get_attribute("data-status") == "ON"
    )
    boxes = browser.find_elements(By.CSS_SELECTOR, "#capabilities .capability")
    assert [b.get_attribute("id") for b in boxes] == [f"cap-{c}" for c in CAPABILITY_TYPES]
    der = capability(browser, "DER")
    assert der.get_attribute("data-freshness") == "FRESH"
    assert "Fresh" in der.find_element(By.CSS_SELECTOR, "[data-role=marker]").text
    ago = der.find_element(By.CSS_SELECTOR, "[data-observed]")
    WebDriverWait(browser, 3).until(lambda d: "updated" in ago.text)
    assert ago.get_attribute("title").startswith("Observed ")
    ago.click()
    assert "stale after" in der.find_element(By.CSS_SELECTOR, ".observed").text
    browser.save_screenshot(str(ARTIFACTS / "card-fresh.png"))
    no_console_errors(browser)


def test_the_stale_marker_appears_when_the_clock_passes_stale_at(browser, site):
    depot = demo_ids(site)
    binding = depot["microgrid"]["controllerBindings"][0]["id"]
    gql(
        site,
        "admin",
        """mutation ($i: UpdateControllerBindingInput!) {
        updateControllerBinding(input: $i) { __typename } }""",
        {"i": {"id": binding, "staleAfterSeconds": 2}},
    )
    sign_in(browser, site, "operator")
    record(site, depot["microgrid"]["id"], False, f"stale-{time.time()}")
    WebDriverWait(browser, 2).until(
        lambda d: capability(d, "DER").get_attribute("data-status") == "OFF"
    )
    WebDriverWait(browser, 8).until(
        lambda d: capability(d, "DER").get_attribute("data-freshness") == "STALE"
    )
    marker = capability(browser, "DER").find_element(By.CSS_SELECTOR, "[data-role=marker]")
    assert "Stale" in marker.text
    browser.save_screenshot(str(ARTIFACTS / "card-stale.png"))
    gql(
        site,
        "admin",
        """mutation ($i: UpdateControllerBindingInput!) {
        updateControllerBinding(input: $i) { __typename } }""",
        {"i": {"id": binding, "staleAfterSeconds": 300}},
    )
    no_console_errors(browser)


def test_resync_repairs_a_drift_made_out_of_band(browser, site):
    path = site.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE circuits SET name = 'Main switchboard A (renamed in SQL)' "
            "WHERE name = 'Main switchboard A'"
        )
    sign_in(browser, site, "admin")
    browser.find_element(By.ID, "tab-admin").click()
    drift = WebDriverWait(browser, 5).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "[data-role=drift]")
    )
    assert drift.text.startswith("Out of sync") and "1 to rename" in drift.text
    browser.find_element(By.ID, "resync").click()
    plan = WebDriverWait(browser, 5).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "[data-role=plan]")
    )
    assert plan.text.startswith("Plan (dry run)")
    browser.save_screenshot(str(ARTIFACTS / "admin-resync-plan.png"))
    browser.find_element(By.ID, "resync-apply").click()
    result = WebDriverWait(browser, 5).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "[data-role=resync-result]")
    )
    assert result.text.startswith("Resynced")
    assert browser.find_element(By.CSS_SELECTOR, "[data-role=drift]").text == "In sync"
    tree = browser.find_element(By.CSS_SELECTOR, "[role=tree]").text
    assert "Main switchboard A (renamed in SQL)" in tree and "Charger bank 1" in tree
    browser.save_screenshot(str(ARTIFACTS / "admin-microgrid.png"))
    no_console_errors(browser)


def test_a_binding_is_created_rejected_with_a_field_error_then_fixed(browser, site):
    depot = demo_ids(site)
    meter = gql(
        site,
        "admin",
        """mutation ($d: ID!) { createDevice(input: {depotId: $d,
        name: "Revenue meter"}) { ... on Device { id } } }""",
        {"d": depot["id"]},
    )
    sign_in(browser, site, "admin")
    browser.find_element(By.ID, "tab-admin").click()
    WebDriverWait(browser, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-binding]"))
    choices = browser.find_elements(By.CSS_SELECTOR, "input[name=capability]")
    assert [c.get_attribute("value") for c in choices] == list(CAPABILITY_TYPES)
    Select(browser.find_element(By.ID, "binding-device")).select_by_visible_text("Revenue meter")
    stale = browser.find_element(By.ID, "binding-stale")
    stale.clear()
    stale.send_keys("0")
    browser.find_element(By.ID, "binding-save").click()
    capability_error = browser.find_element(
        By.CSS_SELECTOR, '.error[data-for="input.capabilities"]'
    )
    WebDriverWait(browser, 5).until(lambda d: capability_error.text)
    stale_error = browser.find_element(
        By.CSS_SELECTOR, '.error[data-for="input.staleAfterSeconds"]'
    )
    assert "at least one capability" in capability_error.text
    assert "between 1 and" in stale_error.text
    browser.save_screenshot(str(ARTIFACTS / "config-field-errors.png"))

    browser.find_element(By.CSS_SELECTOR, "input[name=capability][value=PEAK_SHAVING]").click()
    stale.clear()
    stale.send_keys("30")
    browser.find_element(By.ID, "binding-save").click()
    conflict = WebDriverWait(browser, 5).until(
        lambda d: d.find_element(By.ID, "binding-form-error")
    )
    WebDriverWait(browser, 5).until(lambda d: "already owned" in conflict.text)

    controller = depot["microgrid"]["controllerBindings"][0]["id"]
    row = browser.find_element(By.CSS_SELECTOR, f'[data-binding="{controller}"]')
    row.find_element(By.XPATH, ".//button[text()='Edit']").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=capability][value=PEAK_SHAVING]").click()
    browser.find_element(By.ID, "binding-save").click()
    WebDriverWait(browser, 5).until(
        lambda d: (
            "PEAK_SHAVING"
            not in d.find_element(By.CSS_SELECTOR, f'[data-binding="{controller}"]').text
        )
    )

    Select(browser.find_element(By.ID, "binding-device")).select_by_visible_text("Revenue meter")
    browser.find_element(By.CSS_SELECTOR, "input[name=capability][value=PEAK_SHAVING]").click()
    stale = browser.find_element(By.ID, "binding-stale")
    stale.clear()
    stale.send_keys("30")
    browser.find_element(By.ID, "binding-save").click()
    WebDriverWait(browser, 5).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-binding]")) == 2
    )
    assert meter["createDevice"]["id"]
    browser.save_screenshot(str(ARTIFACTS / "controller-configuration.png"))
    no_console_errors(browser)


def test_legible_at_360_pixels(browser, site):
    browser.set_window_size(360, 800)
    try:
        sign_in(browser, site, "admin")
        WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "card").is_displayed())
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 360, "no horizontal scrolling on a phone"
        browser.save_screenshot(str(ARTIFACTS / "card-360px.png"))
        browser.find_element(By.ID, "tab-admin").click()
        WebDriverWait(browser, 5).until(
            lambda d: d.find_element(By.CSS_SELECTOR, "[data-role=drift]")
        )
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 360
    finally:
        browser.set_window_size(1280, 900)
    no_console_errors(browser)


def test_keyboard_only_sign_in_and_tab_switch(browser, site):
    fresh_page(browser, site)
    WebDriverWait(browser, 3).until(
        lambda d: d.switch_to.active_element.get_attribute("id") == "token",
        "the token field has focus",
    )
    browser.switch_to.active_element.send_keys(site.tokens["admin"], Keys.ENTER)
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "live").text == "Live")
    admin_tab = browser.find_element(By.ID, "tab-admin")
    admin_tab.send_keys(Keys.ENTER)
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "view-admin").is_displayed())
    no_console_errors(browser)
