"""The HTML reports as a reader sees them: headless Chromium at 1,400 x 900 (issue 24, readable reports).

The reports are rendered from the committed data with the project's own commands into a temporary directory
(``wce report compare default`` from ``reports/compare-default.sqlite.xz``, ``wce report speed`` from the committed
CPU and GPU benchmark JSON, ``wce report check`` from ``reports/agreement.json``), opened in Debian's ``chromium``
through ``chromedriver`` (Selenium), and each page must: load with no console error, every image loaded and shown at
(nearly) its natural size (the reports with figures), no element past the right edge of the window (no sideways
scroll), no literal Markdown in its title or text, no ``nan`` / ``inf`` where a number or a dash belongs (not the
agreement matrix, where an infinite error is a measurement), and its answer (the heading with ``id="answer"`` and
what follows it) within the first screen.

No browser installed (``/usr/bin/chromium``, ``chromedriver``, the ``selenium`` package): skipped with the reason,
unless ``WCE_REQUIRE_BROWSER=1`` (``.ci/run`` sets it where Chromium is installed), which makes it a failure.
``WCE_BROWSER_SHOTS=DIR`` keeps a PNG of each report's first screen in DIR.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports"
#: the window a reader opens the reports in
WIDTH, HEIGHT = 1400, 900
#: a figure may be scaled down to this fraction of its natural width at most (legends stay readable)
MIN_SCALE = 0.9
#: Chromium's flags: no sandbox (containers), and no background network traffic (closed networks make it hang)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", f"--window-size={WIDTH},{HEIGHT}"]  # fmt: skip
#: a number the renderer failed to format: nan, inf, -inf, infx (a ratio), Infinity; not "information"
NOT_A_NUMBER = re.compile(r"(?<![\w.])[-+]?(nan|inf|infinity)x?(?![\w])", re.IGNORECASE)

#: what the browser measures on a page
MEASURE = """
const vw = window.innerWidth, vh = window.innerHeight;
const wide = [];
for (const e of document.body.querySelectorAll('*')) {
  const r = e.getBoundingClientRect();
  if (r.width > 0 && r.right > vw + 0.5) wide.push(`${e.tagName} right edge ${Math.round(r.right)} px: `
                                                   + e.textContent.trim().slice(0, 60));
}
const answer = document.getElementById('answer');
const next = answer && answer.nextElementSibling;
return {
  vw, vh, scrollWidth: document.documentElement.scrollWidth, title: document.title,
  h1: (document.querySelector('h1') || {textContent: ''}).textContent, text: document.body.innerText,
  wide: wide.slice(-5),
  answer: answer && {top: answer.getBoundingClientRect().top, next: next && next.getBoundingClientRect().top},
  images: [...document.images].map(i => ({src: i.getAttribute('src'), complete: i.complete,
    natural: i.naturalWidth, shown: i.getBoundingClientRect().width})),
};
"""


def _browser_or_skip() -> tuple[str, str]:
    """The Chromium and chromedriver executables and Selenium, or a skip (a failure with WCE_REQUIRE_BROWSER=1)."""
    chromium = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None)
    driver = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver") if p and Path(p).exists()), None)
    missing = [what for what, found in (("chromium", chromium), ("chromedriver", driver)) if not found]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install 'wce-ref[browser]')")
    if missing:
        reason = (f"no headless browser: {', '.join(missing)} missing (apt-get install chromium chromium-driver; "
                  "WCE_REQUIRE_BROWSER=1 makes this a failure)")  # fmt: skip
        if os.environ.get("WCE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return str(chromium), str(driver)


def _render(out: Path) -> dict[str, Path]:
    """The reports a reader opens, rendered from the committed data by the ``wce`` command line into ``out``."""
    from wce_ref.cli import main

    cpu = [str(REPORTS / "bench-full.json")]
    gpu = sorted(str(p) for p in REPORTS.glob("bench-gpu-*.json"))
    commands = {
        "compare-default": ["report", "compare", "default", "--db", str(REPORTS / "compare-default.sqlite.xz")],
        "speed-cpu": ["report", "speed", *cpu],
        "speed-gpu": ["report", "speed", *gpu],
        "agreement": ["report", "check", str(REPORTS / "agreement.json")],
    }
    pages = {}
    for name, argv in commands.items():
        assert main([*argv, "--out", str(out / name)]) == 0, argv
        pages[name] = out / name / f"{name}.html"
    return pages


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, dict]:
    """Each report's measurements and browser console errors; a PNG of its first screen in WCE_BROWSER_SHOTS."""
    chromium, driver_path = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    rendered = _render(tmp_path_factory.mktemp("reports"))
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='wce-chromium-')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    shots = os.environ.get("WCE_BROWSER_SHOTS")
    measured = {}
    try:  # the viewport itself 1,400 x 900 (the window size includes the browser's frame)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})  # fmt: skip
        for name, path in rendered.items():
            driver.get(path.as_uri())
            driver.execute_script("return document.fonts.ready")
            measured[name] = driver.execute_script(MEASURE)
            measured[name]["errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(Path(shots) / f"{name}.png"))
    finally:
        driver.quit()
    return measured


REPORT_NAMES = ["compare-default", "speed-cpu", "speed-gpu", "agreement"]
#: the reports with figures (the agreement matrix is tables only)
FIGURE_REPORTS = ["compare-default", "speed-cpu", "speed-gpu"]
#: the reports whose numbers are never infinite: the agreement matrix measures errors, and an overflow to inf (its
#: known deviations) is one of them, written as such
FINITE_REPORTS = ["compare-default", "speed-cpu", "speed-gpu"]


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_window_is_the_readers(pages, name):
    page = pages[name]
    assert (page["vw"], page["vh"]) == (WIDTH, HEIGHT)


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_no_console_error(pages, name):
    assert pages[name]["errors"] == []


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_no_sideways_scroll(pages, name):
    page = pages[name]
    assert page["wide"] == [], f"{name}: elements past the {WIDTH} px window"
    assert page["scrollWidth"] <= page["vw"], f"{name}: the page scrolls sideways"


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_no_literal_markdown(pages, name):
    page = pages[name]
    for where, text in (("title", page["title"]), ("heading", page["h1"]), ("text", page["text"])):
        for mark in ("`", "**", "]("):
            assert mark not in text, f"{name}: literal Markdown {mark!r} in the {where}"


@pytest.mark.parametrize("name", FINITE_REPORTS)
def test_no_nan_or_inf(pages, name):
    found = [m.group(0) for m in NOT_A_NUMBER.finditer(pages[name]["text"])]
    assert found == [], f"{name}: unformatted numbers in the page"


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_answer_in_the_first_screen(pages, name):
    answer = pages[name]["answer"]
    assert answer is not None, f"{name}: no answer section (id='answer')"
    assert 0 <= answer["top"] < HEIGHT / 2, f"{name}: the answer starts {answer['top']:.0f} px down"
    assert answer["next"] is not None and answer["next"] < HEIGHT - 100, f"{name}: the answer's content is below"


@pytest.mark.parametrize("name", FIGURE_REPORTS)
def test_images_load_at_a_readable_size(pages, name):
    images = pages[name]["images"]
    assert images, f"{name}: a report without its figures"
    broken = [i["src"] for i in images if not i["complete"] or i["natural"] == 0]
    assert broken == [], f"{name}: images that did not load"
    shrunk = [f"{i['src']}: {i['shown']:.0f} of {i['natural']} px" for i in images
              if i["shown"] < MIN_SCALE * i["natural"]]  # fmt: skip
    assert shrunk == [], f"{name}: figures scaled down past {MIN_SCALE:.0%} (unreadable legends)"
