"""The HTML of a report: the page around the sections, and the pieces the sections are made of
(tables, summary cards, configuration blocks, inline figures).

Everything a page needs is inside it: the style sheet and the script are inline, figures are
``data:`` URIs, and a Content-Security-Policy forbids the browser to fetch anything else.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from datetime import datetime

from ._assets import SCRIPT, STYLE

# No request of any kind leaves the page: only inline scripts and styles, data: images.
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")


@dataclass
class Section:
    """One ``<section>`` of a report: an anchor id, a heading and its HTML body."""

    id: str
    title: str
    body: str


@dataclass
class Page:
    """What a report holds before it becomes HTML."""

    kind: str  # run, comparison, surface, study, lab
    title: str
    where: str  # the folder, as given
    sections: list[Section] = field(default_factory=list)

    def add(self, id: str, title: str, *parts: str) -> None:
        """Add a section made of ``parts``; an empty section is left out."""
        body = "".join(p for p in parts if p)
        if body:
            self.sections.append(Section(id, title, body))


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def show(value) -> str:
    """A value as table text: floats to 4 significant digits, None as a dash."""
    if value is None:
        return "\u2013"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value) if len(value) <= 12 else f"{len(value)} values"
    if isinstance(value, dict):
        return ", ".join(f"{k}={show(v)}" for k, v in value.items())
    return str(value)


def _cell(value, tag: str = "td") -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    attrs = ""
    if numeric and (not isinstance(value, float) or math.isfinite(value)):
        attrs = f' class="num" data-v="{value!r}"'
    return f"<{tag}{attrs}>{esc(show(value))}</{tag}>"


def table(columns: list[str], rows: list[list], *, sortable: bool = False,
          highlight: int | None = None, scroll: bool = False) -> str:
    """A table with a header; row ``highlight`` (an index into ``rows``) is marked."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    best = ' class="best"'
    body = "".join(f"<tr{best if i == highlight else ''}>" + "".join(_cell(v) for v in row)
                   + "</tr>" for i, row in enumerate(rows))
    cls = ' class="sortable"' if sortable else ""
    out = f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{out}</div>' if scroll else out


def key_values(pairs: dict) -> str:
    """A two-column table of names and values."""
    rows = "".join(f"<tr><th>{esc(k)}</th>{_cell(v)}</tr>" for k, v in pairs.items())
    return f'<table class="kv"><tbody>{rows}</tbody></table>' if rows else ""


def cards(pairs: dict, status: str | None = None) -> str:
    """The headline numbers as cards; a ``status`` card gets a colour class by its value."""
    out = []
    for k, v in pairs.items():
        cls = f" status-{esc(str(v)).replace(' ', '-')}" if k == status else ""
        out.append(f'<div class="card"><div class="k">{esc(k)}</div>'
                   f'<div class="v{cls}">{esc(show(v))}</div></div>')
    return f'<div class="cards">{"".join(out)}</div>' if out else ""


def paragraph(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{esc(text)}</p>' if text else ""


def grid(*items: str, wide: bool = False) -> str:
    items = [i for i in items if i]
    if not items:
        return ""
    return f'<div class="grid{" wide" if wide else ""}">{"".join(items)}</div>'


def flatten(mapping: dict, prefix: str = "") -> dict:
    """A nested mapping as dotted keys (lists stay values)."""
    out = {}
    for k, v in mapping.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_block(config: dict | None, text: str, what: str = "config.yaml") -> str:
    """A configuration as one table per top-level section, and the YAML text below."""
    parts = []
    if isinstance(config, dict):
        loose = {k: v for k, v in config.items() if not isinstance(v, dict)}
        groups = [(k, flatten(v)) for k, v in config.items() if isinstance(v, dict)]
        if loose:
            groups.insert(0, ("", loose))
        parts.append('<div class="config-grid">' + "".join(
            f"<div>{f'<h3>{esc(name)}</h3>' if name else ''}{key_values(values)}</div>"
            for name, values in groups) + "</div>")
    parts.append(f"<details><summary>{esc(what)} as written</summary>"
                 f"<pre>{esc(text.strip())}</pre></details>")
    return "".join(parts)


def png_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image(uri: str, caption: str, max_width: int | None = None) -> str:
    """A figure holding an inline image (``uri`` is a data: URI), at most ``max_width`` CSS
    pixels wide when given."""
    size = f' style="--img-max:{int(max_width)}px"' if max_width else ""
    return (f'<figure class="image"{size}><figcaption>{esc(caption)}</figcaption>'
            f'<img src="{uri}" alt="{esc(caption)}"></figure>')


def figure_image(fig, caption: str, dpi: int = 90, max_width: int | None = None) -> str:
    """A matplotlib figure rendered to an inline PNG (the figure is not kept)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return image(png_uri(buf.getvalue()), caption, max_width)


def render(page: Page, version: str) -> str:
    """The complete, self-contained HTML document."""
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in page.sections)
    body = "".join(f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>'
                   for s in page.sections)
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc(page.title)}</title><link rel="icon" href="data:,">'
        f"<style>{STYLE}</style></head><body>"
        f'<header class="top"><h1><span class="badge">{esc(page.kind)}</span>'
        f'{esc(page.title)}</h1><div class="where">{esc(page.where)}</div></header>'
        f'<nav class="toc">{nav}</nav><main>'
        '<p class="hint">Charts: hover for values, drag or scroll to zoom, double-click to '
        "reset, click a legend entry to hide its curve.</p>"
        f"{body}</main><footer>made by steepest {esc(version)} on {stamp}; "
        "self-contained: it loads nothing from anywhere</footer>"
        f"<script>{SCRIPT}</script></body></html>\n")
