"""The console in a real browser: Debian's headless Chromium driven by Selenium.

One local system (2 web nodes, 1 worker) is shared by the module. The page must load without
console errors, list every node ``/_cluster`` lists, show a node added with its button, show a
typed key's owner as ``GET /items/{key}`` reports it, and show a killed worker dead, then back.
The last test writes the screenshot ``docs/console.png``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import skip_or_fail
from tests.support import ROOT, LocalSystemProcess, wait_until

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = ROOT / "docs" / "console.png"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """2 web nodes and 1 worker, with a light read load so the charts move."""
    process = LocalSystemProcess(tmp_path_factory.mktemp("console-browser"), "--nodes", "2", "--workers", "1")
    try:
        url = process.start()
        assert httpx.put(f"{url}/_cluster/load", json={"rate": 30, "keys": 200}, timeout=30).status_code == 200
        yield url
    finally:
        process.stop()


@pytest.fixture(scope="module")
def browser(system: str) -> Iterator[WebDriver]:
    """Headless Chromium at 1280x800 on the console page (skipped where Chromium is missing, never under CI)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        skip_or_fail(f"{' and '.join(missing)} missing: apt-get install chromium chromium-driver")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser or a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        _viewport(driver, 1280, 800)
        driver.get(f"{system}/_console")
        yield driver
    finally:
        driver.quit()


def _viewport(driver: WebDriver, width: int, height: int) -> None:
    """Size the page itself (a window's size includes the browser's own bars)."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def _errors(driver: WebDriver) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry for entry in entries if entry["level"] == "SEVERE"]


def _text(driver: WebDriver, selector: str) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, selector))


def _shows_node(driver: WebDriver, node_id: str) -> bool:
    from selenium.webdriver.common.by import By

    row = driver.find_elements(By.CSS_SELECTOR, f'#nodes tbody tr[data-id="{node_id}"]')
    legend = driver.find_elements(By.CSS_SELECTOR, f'#ring-legend li[data-node="{node_id}"]')
    arcs = driver.find_elements(By.CSS_SELECTOR, f'#ring-arcs path[data-node="{node_id}"]')
    return bool(row and legend and arcs)


def test_the_page_loads_without_errors_and_shows_every_node(system: str, browser: WebDriver) -> None:
    nodes = [n["id"] for n in httpx.get(f"{system}/_cluster", timeout=30).json()["nodes"]]
    wait_until(lambda: all(_shows_node(browser, n) for n in nodes), timeout=15)
    wait_until(lambda: _text(browser, "#connection").startswith("live"), timeout=10)
    assert _errors(browser) == []


def test_a_node_added_with_the_button_appears_in_the_ring_and_the_list(system: str, browser: WebDriver) -> None:
    from selenium.webdriver.common.by import By

    before = {n["id"] for n in httpx.get(f"{system}/_cluster", timeout=30).json()["nodes"]}
    browser.find_element(By.ID, "add-node").click()
    added = wait_until(
        lambda: {n["id"] for n in httpx.get(f"{system}/_cluster", timeout=30).json()["nodes"]} - before, timeout=20
    )
    (node,) = added
    wait_until(lambda: _shows_node(browser, node), timeout=10)
    wait_until(lambda: f"{node} started" in _text(browser, "#message"), timeout=5)


def test_a_typed_key_shows_the_owner_the_api_reports(system: str, browser: WebDriver) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with httpx.Client(base_url=system, timeout=30) as http:
        assert http.put("/items/browser-key", json={"value": "seen in a browser"}).status_code in (200, 201)
        cluster = http.get("/_cluster").json()["nodes"]
        nodes = {n["member"]: n["id"] for n in cluster}

        def rings_agree() -> bool:  # a node added by an earlier test joins every ring at its next refresh
            try:
                return all(sorted(http.get(f"{n['url']}/ring").json()["members"]) == sorted(nodes) for n in cluster)
            except httpx.HTTPError:  # that node is still starting
                return False

        wait_until(rings_agree, timeout=20)
        owner = nodes[http.get("/items/browser-key").json()["owner"]]
    field = browser.find_element(By.ID, "key")
    field.clear()
    field.send_keys("browser-key", Keys.ENTER)  # the keyboard alone does it
    wait_until(lambda: _text(browser, "#key-answer").startswith("200"), timeout=10)
    assert browser.find_element(By.ID, "key-owner").text == owner
    assert browser.find_element(By.ID, "key-answer").get_attribute("data-owner") == owner
    assert browser.find_elements(By.CSS_SELECTOR, f'#ring-legend li.owner[data-node="{owner}"]')


def test_a_killed_worker_shows_dead_then_restarted(system: str, browser: WebDriver) -> None:
    from selenium.webdriver.common.by import By

    worker = httpx.get(f"{system}/_cluster", timeout=30).json()["workers"][0]
    state = f'#workers tbody tr[data-id="{worker["id"]}"] .worker-state'
    wait_until(lambda: _text(browser, state) == "alive", timeout=10)
    browser.find_element(By.CSS_SELECTOR, f'button[aria-label="kill -9 {worker["id"]}"]').click()
    wait_until(lambda: _text(browser, state).startswith("dead"), timeout=10)
    wait_until(lambda: _text(browser, state) == "alive", timeout=20)
    restarts = _text(browser, f'#workers tbody tr[data-id="{worker["id"]}"] td:nth-child(3)')
    assert restarts == f"{worker['restarts'] + 1} (last: signal 9)"


def test_a_screenshot_for_the_docs(system: str, browser: WebDriver) -> None:
    from PIL import Image
    from selenium.webdriver.common.by import By

    del system
    wait_until(lambda: "—" not in _text(browser, "#nodes tbody td:nth-child(5)"), timeout=15)  # hit rates known
    browser.execute_script("window.scrollTo(0, 0)")
    raw = Path(SCREENSHOT.with_suffix(".raw.png"))
    assert browser.find_element(By.TAG_NAME, "main").is_displayed()
    browser.save_screenshot(str(raw))
    with Image.open(raw) as image:
        image.convert("RGB").quantize(colors=64).save(SCREENSHOT, optimize=True)
    raw.unlink()
    with Image.open(SCREENSHOT) as written:
        assert written.size == (1280, 800)
    assert SCREENSHOT.stat().st_size < 200_000
    assert _errors(browser) == []


def test_the_page_fits_a_narrow_window(browser: WebDriver) -> None:
    _viewport(browser, 420, 900)
    try:
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 420  # no sideways scrolling of the page (wide tables scroll in their own box)
    finally:
        _viewport(browser, 1280, 800)
