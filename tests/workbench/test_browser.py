"""The workbench in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium with no download of its own) against a real
``sdhealth serve`` on a free loopback port, on the NHS model.

Set ``SDHEALTH_SCREENSHOTS`` to a folder to keep the screenshots (docs/workbench.md shows
those of docs/img).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sdhealth as sd

MODELS = Path(__file__).parents[2] / "models"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
TARGET = "Target occupancy for elective scheduling"
LIST = "RTT waiting list"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - selenium is a test dependency
    webdriver = None

pytestmark = pytest.mark.skipif(
    webdriver is None or CHROMIUM is None or DRIVER is None,
    reason="no Chromium here: install Debian's chromium and chromium-driver (.ci/run does)",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    shutil.copy(MODELS / "nhs_england.yaml", folder / "nhs_england.yaml")
    shutil.copytree(MODELS / "nhs_england", folder / "nhs_england")
    process = subprocess.Popen(
        [sys.executable, "-m", "sdhealth", "serve", str(folder / "nhs_england.yaml"),
         "--port", "0", "--save-to", str(folder / "saved")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    line = process.stdout.readline()
    assert "http://127.0.0.1:" in line, line + process.stderr.read()
    yield line.split()[-1], folder
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    yield driver
    driver.quit()


def _wait(browser, condition, seconds=30):
    return WebDriverWait(browser, seconds).until(lambda b: condition(b))


def _plotted(browser, chart: str = "chart") -> list[dict]:
    return browser.execute_script(
        f"const c = document.getElementById('{chart}');"
        "return (c.data || []).map(t => ({name: t.name, y: Array.from(t.y)}));"
    )


def _screenshot(browser, name: str) -> None:
    folder = os.environ.get("SDHEALTH_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(folder) / name))


def test_a_modeller_moves_a_slider_compares_scenarios_saves_and_meets_an_error(served, browser):
    url, folder = served
    browser.get(url)
    _wait(browser, lambda b: b.find_element(By.ID, "status").text == "ready" or _plotted(b))
    # pick the waiting list by searching its name
    search = browser.find_element(By.ID, "search")
    search.send_keys("waiting list")
    tick = _wait(
        browser, lambda b: b.find_element(By.CSS_SELECTOR, f"#variables input[value='{LIST}']")
    )
    if not tick.is_selected():  # the first stocks are plotted when the page opens
        tick.click()
    _wait(browser, lambda b: any(t["name"] == LIST for t in _plotted(b)))
    # move the slider of the elective scheduling target down by five steps
    slider = browser.find_element(By.CSS_SELECTOR, f"input[type=range][data-name='{TARGET}']")
    for _ in range(5):
        slider.send_keys(Keys.ARROW_LEFT)
    value = float(slider.get_attribute("value"))
    assert value < 0.92
    expected = sd.load(folder / "nhs_england.yaml").run(params={TARGET: value})[LIST]
    base = sd.load(folder / "nhs_england.yaml").run()[LIST]

    def shows_the_run(b):
        traces = {t["name"]: t["y"] for t in _plotted(b)}
        return LIST in traces and np.allclose(traces[LIST], expected, rtol=1e-9)

    _wait(browser, shows_the_run)
    traces = {t["name"]: t["y"] for t in _plotted(browser)}
    np.testing.assert_allclose(traces[f"{LIST} (base)"], base, rtol=1e-9)
    assert not np.allclose(expected, base)  # the slider changed what is drawn
    _screenshot(browser, "workbench-slider.png")
    # compare two scenarios on one chart
    for name in ("base", "P2 Ten per cent bed cut"):
        browser.find_element(By.CSS_SELECTOR, f"#scenarios input[value='{name}']").click()
    browser.find_element(By.ID, "compare").click()
    _wait(browser, lambda b: len(_plotted(b, "compare-chart")) >= 2)
    compared = _plotted(browser, "compare-chart")
    assert compared[0]["y"] != compared[1]["y"]
    browser.execute_script("document.getElementById('compare-chart').scrollIntoView()")
    _screenshot(browser, "workbench-scenarios.png")
    # save the settings as a scenario
    browser.find_element(By.ID, "save-name").send_keys("Lower elective target")
    browser.find_element(By.ID, "save").click()
    saved = folder / "saved" / "Lower_elective_target.yaml"
    _wait(browser, lambda b: saved.exists())
    assert f"{TARGET}" in saved.read_text(encoding="utf-8")
    _wait(
        browser,
        lambda b: b.find_elements(
            By.CSS_SELECTOR, "#scenarios input[value='Lower elective target']"
        ),
    )
    # a value that is not a number is refused in the page, with a message
    box = browser.find_element(By.CSS_SELECTOR, f"input[type=number][data-name='{TARGET}']")
    box.clear()
    box.send_keys("-")
    box.send_keys(Keys.TAB)
    message = _wait(browser, lambda b: b.find_element(By.ID, "message"))
    _wait(browser, lambda b: "is not a number" in message.text)
    assert "Traceback" not in browser.page_source
