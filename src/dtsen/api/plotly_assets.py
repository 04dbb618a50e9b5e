"""The installed plotly package's plotly.js and the stylesheets it would inject: plotly.js skips injecting
a ``<style>`` when the page already holds an element of that id, so the page links the same rules, read
from the bundle, as stylesheets of their own (``style-src 'self'`` blocks injected styles).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path


def plotly_bundle() -> Path:
    from plotly.offline import offline

    return Path(offline.__file__).parent.parent / "package_data" / "plotly.min.js"


@dataclass(frozen=True)
class PlotlyStyle:
    """Rules plotly.js would inject in a ``<style>`` element, and the element (id, class) whose presence
    on the page makes it not do so."""

    element_id: str
    css: str
    element_class: str = ""


# plotly.js's own rules (src/css, built into an object of selector -> declarations, "X" standing for the
# plot and "Y" for the notifier), added one by one unless #plotly.js-style-global.no-inline-styles exists.
_RULES_RE = re.compile(r"""=\{("X,X div":.*?)\}""", re.S)
_PAIR_RE = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'):("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")


# A bundled library's stylesheet, injected at load unless an element of its id exists.
_SHEET_RE = re.compile(
    r"""getElementById\("([0-9a-f]{64})"\)\)\{var (\w+)=document\.createElement\("style"\);"""
    r"""\2\.id="\1",\2\.textContent='((?:[^'\\]|\\.)*)'"""
)


def _js_string(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


@functools.cache
def plotly_styles() -> tuple[PlotlyStyle, ...]:
    """The stylesheets plotly.js of the installed bundle would inject, read from the bundle once per
    process. An empty tuple if its layout is not recognised: the charts are then drawn unstyled (the
    CSP blocks the injection) rather than the page breaking."""
    text = plotly_bundle().read_text(encoding="utf-8")
    styles: list[PlotlyStyle] = []
    rules = _RULES_RE.search(text)
    if rules:
        lines = []
        for selector, declarations in _PAIR_RE.findall(rules.group(1)):
            full = re.sub(r"^,", " ,", _js_string(selector))
            full = full.replace("X", ".js-plotly-plot .plotly").replace("Y", ".plotly-notifier")
            lines.append(f"{full}{{{_js_string(declarations)}}}")
        if lines:
            styles.append(PlotlyStyle("plotly.js-style-global", "\n".join(lines) + "\n", "no-inline-styles"))
    for element_id, _name, css in _SHEET_RE.findall(text):
        styles.append(PlotlyStyle(element_id, _js_string("'" + css + "'") + "\n"))
    return tuple(styles)
