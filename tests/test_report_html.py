"""The report's page: its pieces from hand-made files, then the committed results/quick page
rendered in a real headless Chromium (Debian's chromium + chromium-driver; `.ci/run` installs
them), checked for visible tables, claims and figures and a clean console."""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.report.html import claims_html, markdown_table, page

REPO = Path(__file__).resolve().parents[1]
CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
REQUIRE = "HYPERENS_REQUIRE_BROWSER"  # set by .ci/run, which installs the browser


def test_markdown_table_by_hand():
    text = "intro\n| method | nll |\n| --- | ---: |\n| a_b | **0.1** |\n| c | 0.2 |\nafter"
    assert markdown_table(text) == (
        "<table><tr><th>method</th><th>nll</th></tr>"
        '<tr><td>a_b</td><td class="num"><b>0.1</b></td></tr>'
        '<tr><td>c</td><td class="num">0.2</td></tr></table>'
    )


def test_claims_badges_say_verdict_and_firmness():
    claims = pd.DataFrame([
        {"dataset": "d", "model": "m", "claim": "b", "method": "x", "baseline": "y", "n": 4,
         "mean_diff": -0.01, "se": 0.002, "ci_low": -0.02, "ci_high": -0.001, "wins": 4,
         "verdict": "supported", "stability": 0.95},
        {"dataset": "d", "model": "m", "claim": "c", "method": "x", "baseline": "z", "n": 4,
         "mean_diff": 0.01, "se": 0.01, "ci_low": -0.02, "ci_high": 0.04, "wins": 1,
         "verdict": "not resolved", "stability": 0.5},
    ])  # fmt: skip
    out = claims_html(claims)
    assert out.count("<tr>") == 3
    assert '#1a7f37">supported</span>' in out and "firm 0.95" in out
    assert "not resolved</span>" in out and "fragile 0.50" in out
    assert "-0.0100 ± 0.0020" in out and "[-0.0200, -0.0010]" in out


@pytest.fixture(scope="module")
def quick_page(tmp_path_factory) -> Path:
    """results/quick's page, written beside a copy of its files."""
    out = tmp_path_factory.mktemp("report") / "quick"
    shutil.copytree(REPO / "results" / "quick", out)
    (out / "index.html").write_text(page(out, "hyperens report: quick"))
    return out / "index.html"


def test_page_needs_nothing_but_its_directory(quick_page):
    text = quick_page.read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text
    figures = sorted((quick_page.parent / "figures").glob("*.png"))
    assert figures and all(f'src="figures/{f.name}"' in text for f in figures)
    assert 'href="tables/claims.md"' in text


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM.is_file() and DRIVER.is_file()):
        message = (
            f"no browser here ({CHROMIUM} and {DRIVER}: apt-get install chromium chromium-driver)"
        )
        if os.environ.get(REQUIRE):
            pytest.fail(f"{message}, and ${REQUIRE} asks for one")
        pytest.skip(message)
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1200,1600"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=str(DRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()


def test_page_renders_in_chromium(browser, quick_page):
    from selenium.webdriver.common.by import By

    browser.get(quick_page.as_uri())
    headlines = browser.find_elements(By.CSS_SELECTOR, "h3.headline + table")
    assert len(headlines) == 2  # mnist5k x {lenet, mlp}
    for table in headlines:
        assert table.is_displayed() and table.size["height"] > 100
    claims = browser.find_element(By.ID, "claims")
    assert claims.is_displayed()
    badges = claims.find_elements(By.CSS_SELECTOR, "span.badge")
    assert badges and all(b.is_displayed() for b in badges)
    images = browser.find_elements(By.CSS_SELECTOR, "figure img")
    assert len(images) == len(list((quick_page.parent / "figures").glob("*.png")))
    for img in images:
        browser.execute_script("arguments[0].scrollIntoView()", img)
        assert img.is_displayed()
        assert browser.execute_script("return arguments[0].naturalWidth", img) > 100
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
