"""The reports in a real browser: Debian's Chromium driven by Playwright, from file:// with no
network. Skipped where either is missing (``bash .ci/install-browser.sh`` installs both).

Set ``STEEPEST_REPORT_SCREENSHOT=docs/report-run.png`` to also write the run report's
screenshot there (how docs/report-run.png is made).
"""

import os
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("STEEPEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not Path(CHROMIUM).is_file():
    pytest.skip(f"Chromium not found at {CHROMIUM} (bash .ci/install-browser.sh)",
                allow_module_level=True)
try:
    from playwright import sync_api
except ImportError as e:
    pytest.skip(f"Playwright cannot be imported ({e}; bash .ci/install-browser.sh)",
                allow_module_level=True)

from test_report import build_folders  # noqa: E402  (after the skips: it builds real runs)

from steepest.report import write_report  # noqa: E402

pytestmark = pytest.mark.slow

# What each page must show at least: interactive charts and inline images.
EXPECTED = {"run": (8, 2), "comparison": (4, 0), "surface": (0, 6), "study": (2, 5),
            "lab": (0, 1)}


@pytest.fixture(scope="session")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as e:  # a Chromium that cannot start here is a skip, not a failure
            pytest.skip(f"Chromium at {CHROMIUM} does not start: {str(e).splitlines()[0]}")
        yield b
        b.close()


@pytest.fixture(scope="session")
def report_files(tmp_path_factory):
    folders = build_folders(tmp_path_factory)
    out = tmp_path_factory.mktemp("reports")
    return {kind: write_report(folders[kind], out / f"{kind}.html") for kind in EXPECTED}


class Opened:
    """A report opened in a fresh page, with its requests, console errors and load time."""

    def __init__(self, browser, path: Path):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900},
                                           offline=True, device_scale_factor=1)
        self.page = self.context.new_page()
        self.requests, self.errors = [], []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        start = time.perf_counter()
        self.page.goto(path.as_uri(), wait_until="load")
        self.page.wait_for_selector("html[data-ready]", state="attached", timeout=10_000)
        self.seconds = time.perf_counter() - start

    def close(self):
        self.context.close()


@pytest.fixture
def opened(browser, report_files, request):
    page = Opened(browser, report_files[request.param])
    yield page
    page.close()


def _sizes(page, selector: str) -> list[tuple[float, float]]:
    return page.eval_on_selector_all(selector, "els => els.map(e => { const r = "
                                               "e.getBoundingClientRect(); "
                                               "return [r.width, r.height]; })")


@pytest.mark.parametrize("opened", list(EXPECTED), indirect=True)
def test_report_opens_offline_with_every_figure(opened, report_files, tmp_path, request):
    kind = request.node.callspec.params["opened"]
    page = opened.page
    assert opened.errors == []
    assert opened.requests == [report_files[kind].as_uri()]  # the file, and nothing else
    assert opened.seconds < 2.0
    assert int(page.get_attribute("html", "data-ready")) < 2000  # ms until the charts are drawn
    charts, images = EXPECTED[kind]
    chart_sizes = _sizes(page, "figure.chart .plot svg")
    assert len(chart_sizes) >= charts and all(w > 100 and h > 100 for w, h in chart_sizes)
    assert page.locator("figure.chart").count() == len(chart_sizes)  # every spec was drawn
    image_sizes = _sizes(page, "figure.image img")
    assert len(image_sizes) >= images and all(w > 50 and h > 50 for w, h in image_sizes)
    assert page.eval_on_selector_all(
        "img", "els => els.every(e => e.complete && e.naturalWidth > 0)")
    curves = page.eval_on_selector_all("figure.chart", "els => els.map(e => "
                                       "e.querySelectorAll('[data-series]').length)")
    assert all(n > 0 for n in curves)
    page.screenshot(path=str(tmp_path / f"{kind}.png"), full_page=True)


@pytest.mark.parametrize("opened", ["run", "comparison", "study"], indirect=True)
def test_hover_shows_the_value_and_a_legend_click_hides_a_curve(opened):
    page = opened.page
    fig = page.locator("figure.chart").first
    fig.scroll_into_view_if_needed()
    plot = fig.locator(".plot")
    box = plot.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.45)
    tip = fig.locator(".tip")
    assert tip.is_visible()
    assert any(ch.isdigit() for ch in tip.inner_text())
    before = fig.locator("[data-series]").count()
    key = fig.locator(".legend button").first
    key.click()
    assert key.get_attribute("aria-pressed") == "false"
    assert fig.locator("[data-series]").count() == before - 1
    key.click()
    assert fig.locator("[data-series]").count() == before


@pytest.mark.parametrize("opened", ["run"], indirect=True)
def test_drag_zooms_and_double_click_resets(opened):
    page = opened.page
    fig = page.locator("figure.chart").first
    fig.scroll_into_view_if_needed()
    box = fig.locator(".plot").bounding_box()

    def ticks():
        return fig.locator(".axis text").all_inner_texts()

    full = ticks()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    zoomed = ticks()
    assert zoomed != full
    page.mouse.dblclick(box["x"] + box["width"] / 2, y)
    assert ticks() == full


@pytest.mark.parametrize("opened", ["run"], indirect=True)
def test_run_screenshot(opened, tmp_path):
    """The screenshot of the top of a run report (written to docs/ on request)."""
    page = opened.page
    page.set_viewport_size({"width": 1280, "height": 1450})
    page.evaluate("window.scrollTo(0, 0)")
    fig = page.locator("figure.chart").first
    box = fig.locator(".plot").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.5)
    target = os.environ.get("STEEPEST_REPORT_SCREENSHOT")
    path = Path(target) if target else tmp_path / "report-run.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
