"""The analyst dashboard (/staf/analisis) in real Chromium, on SQLite and PostgreSQL, as a national analyst
(analis_bps) and as the city's dinsos: every Plotly chart is drawn (an ``svg.main-svg`` inside each chart
container, no drawing error), with no console error and no Content-Security-Policy violation (the page
sends ``script-src 'self'; style-src 'self'``), the page fits a phone, and a CSV download link delivers
the table, scoped like the page. The analyst's page is checked again at phone width (the same session,
resized: one plotly.js load, not two). Screenshots: docs/screenshots/analisis-*.png with
DTSEN_UPDATE_SCREENSHOTS=1 (SQLite run only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_kit import LiveServer, assert_accessible_basics, assert_fits_width
from sharing_world import AGENCY_KAB, PHONE, csv_rows, download, serving_city_files, signed_in

# Every CSP violation the page meets, recorded before any of its scripts run.
CSP_PROBE = """window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(event.violatedDirective + " " + (event.blockedURI || "inline") + " " + event.sourceFile);
});"""
CHARTS = """() => [...document.querySelectorAll("[data-plotly]")].map((element) => ({
  drawn: !!element.querySelector("svg.main-svg"),
  error: element.getAttribute("data-plotly-error"),
  width: element.getBoundingClientRect().width,
}))"""
ALL_DRAWN = """() => {
  const charts = [...document.querySelectorAll("[data-plotly]")];
  return charts.length > 0
    && charts.every((el) => el.querySelector("svg.main-svg") || el.hasAttribute("data-plotly-error"));
}"""


@pytest.fixture(scope="module")
def city(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving_city_files(live_server, tmp_path_factory.mktemp("analisis")) as live:
        yield live


def watch(page: Any) -> list[str]:
    """Console errors and uncaught exceptions of ``page`` from now on, and CSP violations (window.__csp)."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.context.add_init_script(CSP_PROBE)
    return problems


def check_drawn(page: Any, problems: list[str]) -> None:
    """Every chart drawn by plotly.js (after waiting for it), no drawing error, no console error, no CSP
    violation, nothing wider than the screen, the accessibility basics."""
    page.wait_for_function(ALL_DRAWN)
    charts = page.evaluate(CHARTS)
    assert len(charts) >= 6
    assert [chart["error"] for chart in charts if chart["error"]] == []
    assert all(chart["drawn"] for chart in charts), charts
    assert page.evaluate("window.__csp") == []
    assert problems == []
    assert_fits_width(page)
    assert_accessible_basics(page)


@pytest.mark.parametrize(
    ("role", "regions", "name"),
    [("analis_bps", (), "analisis-nasional"), ("dinsos", (AGENCY_KAB,), "analisis-dinsos")],
)
def test_charts_render_under_the_csp_and_download_as_csv(
    city: LiveServer,
    browser: Any,
    shoot: Callable[[Any, str], Path],
    role: str,
    regions: tuple[str, ...],
    name: str,
) -> None:
    with signed_in(browser, city, role, regions) as page:
        problems = watch(page)
        answer = page.goto("/staf/analisis")
        assert answer is not None
        assert answer.status == 200
        assert page.get_by_role("heading", level=1).inner_text() == "Dasbor analisis"
        check_drawn(page, problems)
        shoot(page, name)

        link = page.get_by_role("link", name="Unduh CSV (desil)")
        assert link.get_attribute("href") == "/staf/analisis/desil.csv"
        filename, content = download(page, link)
        assert filename.startswith("dtsen-desil-")
        assert filename.endswith(".csv")
        header, rows = csv_rows(content)
        assert "keluarga" in header
        assert rows
        codes = {value for row in rows for key, value in row.items() if key.startswith("kode_")}
        if regions:  # the dinsos sees its city only, by kecamatan
            assert "kode_kec" in header
            assert all(code.startswith(AGENCY_KAB) for code in codes), codes
        else:
            assert "kode_kab" in header
            assert any(not code.startswith(AGENCY_KAB) for code in codes)  # other regions too

        if regions:
            return  # one phone view is enough: the dinsos page is the national one, scoped
        # the same officer on a phone-sized screen: the charts redrawn to its width
        page.set_viewport_size(PHONE)
        page.reload()
        check_drawn(page, problems)
        shoot(page, name)
