"""`cityq serve` in a real browser: Debian's headless Chromium driven by Selenium through the
system chromedriver (nothing is downloaded). It loads the home page, runs a query through its
form, opens the image grid and moves the threshold slider.

Screenshots go to a temporary folder; with CITYQ_SCREENSHOTS=1 they replace docs/img/serve-*.png
(and CITYQ_SCREENSHOT_STORE=DIR takes them of another store, e.g. the demo's).
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the 'test' extra)")
pytest.importorskip("starlette", reason="cityq serve needs the 'serve' extra")


@pytest.fixture(scope="module")
def site(served, tmp_path_factory):
    """(base URL, where screenshots go): the suite's server, or one on CITYQ_SCREENSHOT_STORE."""
    keep = os.environ.get("CITYQ_SCREENSHOTS") == "1"
    shots = DOCS_IMG if keep else tmp_path_factory.mktemp("shots")
    other = os.environ.get("CITYQ_SCREENSHOT_STORE")
    if not other:
        yield served.url, shots
        return
    from conftest import start_server

    process, url = start_server(other, tmp_path_factory.mktemp("other") / "server.log")
    yield url, shots
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "1")  # Selenium Manager must not fetch a driver
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def _no_js_errors(driver):
    assert driver.execute_script("return window.cityqErrors") == []


def _tiles_loaded(driver):
    return driver.execute_script(
        "const t = Array.from(document.querySelectorAll('img.tile'));"
        "return t.length > 0 && t.every((i) => i.complete && i.naturalWidth > 0);")


def _shot(driver, folder: Path, name: str, height: int | None = None) -> None:
    """The page from the top, `height` px (default: all of it, at most 1800) of it."""
    import base64

    full = driver.execute_script("return document.documentElement.scrollHeight")
    clip = {"x": 0, "y": 0, "width": 1280, "height": min(height or full, full, 1800), "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "clip": clip,
                                                             "captureBeyondViewport": True})
    (folder / f"serve-{name}.png").write_bytes(base64.b64decode(shot["data"]))


def test_home_query_form_and_image_grid_in_chromium(browser, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, shots = site
    # Home: what the store holds and the findings.
    browser.get(url + "/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "What this store holds"
    # The tiny store has 4 test images per city, below top objects' support of 5: a note says so
    # instead of a table; the architecture-vs-seed finding has rows.
    assert "minimum support" in browser.find_element(By.ID, "top-objects-note").text
    assert browser.find_elements(By.CSS_SELECTOR, "#ar tbody tr")
    _no_js_errors(browser)
    _shot(browser, shots, "home")

    # A query through its form: set k and min_support, run; the URL holds it, the chart draws, the table sorts.
    browser.get(url + "/queries/top_objects")
    for name, value in (("k", "2"), ("min_support", "1")):  # a tiny store: 4 images per city
        field = browser.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    browser.find_element(By.ID, "run").click()
    _wait(browser, lambda d: "k=2" in d.current_url)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(browser.current_url).query)
    assert query == {"k": ["2"], "min_support": ["1"]}  # empty fields stay out of the URL
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart svg, #chart canvas"))
    ranks = [int(td.text) for td in browser.find_elements(By.CSS_SELECTOR, "#rows tbody td:nth-child(4)")]
    assert ranks and set(ranks) == {1, 2}
    header = browser.find_element(By.CSS_SELECTOR, "#rows thead th:nth-child(7)")  # lift
    header.click()
    header.click()  # descending
    assert header.text.startswith("lift")
    lifts = [float(td.get_attribute("data-value")) for td in
             browser.find_elements(By.CSS_SELECTOR, "#rows tbody td:nth-child(7)")]
    assert lifts == sorted(lifts, reverse=True)
    _no_js_errors(browser)
    _shot(browser, shots, "query")

    # The image grid: move the threshold slider; the tiles are redrawn at the new threshold.
    browser.get(url + "/images")
    _wait(browser, _tiles_loaded)
    slider = browser.find_element(By.ID, "threshold-slider")
    before = browser.find_element(By.ID, "threshold-value").text
    first_tile = browser.find_element(By.CSS_SELECTOR, "img.tile").get_attribute("src")
    slider.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    after = browser.find_element(By.ID, "threshold-value").text
    assert float(after) > float(before)
    _wait(browser, lambda d: f"t={after}" in d.find_element(By.CSS_SELECTOR, "img.tile").get_attribute("src"))
    assert browser.find_element(By.CSS_SELECTOR, "img.tile").get_attribute("src") != first_tile
    _wait(browser, _tiles_loaded)
    assert f"threshold={after}" in browser.current_url
    _no_js_errors(browser)
    browser.execute_script("document.activeElement.blur()")
    _shot(browser, shots, "images", 1000)

    # Side by side: every ingested model on the same images, the segmentation beside them.
    models = [b.get_attribute("value") for b in browser.find_elements(By.CSS_SELECTOR, "input[name=model]")]
    browser.get(url + "/images?" + urllib.parse.urlencode({"model": models[:3], "threshold": after}, doseq=True))
    _wait(browser, _tiles_loaded)
    columns = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "table.side-by-side th")]
    assert columns[0] == "image" and columns[1].startswith("segmentation") and columns[2:] == models[:3]
    _no_js_errors(browser)
    _shot(browser, shots, "side-by-side", 1000)
