"""The trace as HTML: each figure with every unit's contribution, rendered once for both the
HTML draft's appendix "Nguồn gốc số liệu" and the page `truy-vet.html` around it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from tonghop.formatting import PLACEHOLDER, so
from tonghop.report.templates import make_environment

TRACE_PAGE = "truy-vet.html"
TRACE_TEMPLATE = "truy-vet.html.j2"
TRACE_FIGURES_TEMPLATE = "_trace_figures.html.j2"


def trace_html(trace: Mapping[str, Any], env: SandboxedEnvironment) -> Markup:
    """Each figure of a trace with every unit's contribution, as HTML (`_trace_figures.html.j2`).

    The `html` that `tonghop.trace.trace_context` rendered when the trace has it, so that
    bao-cao.html's appendix and truy-vet.html embed one rendering: with every contribution of
    the draft's figures, it is the costliest part of the render.
    """
    if trace.get("html") is not None:
        return Markup(trace["html"])  # rendered by trace_html, autoescaped there
    template = env.get_template(TRACE_FIGURES_TEMPLATE)
    return Markup(template.render(trace=trace, contribution_rows=contribution_rows))


def _escape(value: object) -> str:
    """What markupsafe.escape (Jinja's autoescape) writes, as a plain string."""
    return (
        str(value)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


def contribution_rows(explanation: Mapping[str, Any]) -> Markup:
    """The table rows of an explanation's contributions, one `<tr>` a line, as
    `_trace_figures.html.j2` would write them with `{% for c in e.contributions %}`: unit code,
    name, period, the value as `|so(e.decimals)` gives it in HTML (a placeholder highlighted),
    the file (or the registry) with where the value stood in it, and the file's sha256.

    Written in one pass as plain strings, each distinct value formatted once: a large bloc's
    trace has some 40,000 rows, which Jinja took seconds to write one attribute, filter and
    escaped string at a time."""
    decimals = explanation["decimals"]
    numbers: dict[str, str] = {}
    lines = []
    for c in explanation["contributions"]:
        value = c["value"]
        if value is None:
            shown = f'<span class="placeholder">{_escape(PLACEHOLDER)}</span>'
        else:
            # `so` reads an int or a float as its str(): the same str, the same text
            key = str(value)
            shown = numbers.get(key)
            if shown is None:
                shown = numbers[key] = _escape(so(value, decimals))
        where = _escape(c["file_name"] or "danh mục đơn vị")
        if c["location"]:
            where += f" ({_escape(c['location'])})"
        lines.append(
            f"<tr><td>{_escape(c['unit_code'])}</td><td>{_escape(c['name'])}</td>"
            f'<td>{_escape(c["period"])}</td><td class="num">{shown}</td><td>{where}</td>'
            f"<td><code>{_escape(c['sha256'] or '')}</code></td></tr>\n"
        )
    return Markup("".join(lines))


def write_trace_html(
    trace: Mapping[str, Any], out_dir: Path, template_dirs: Sequence[Path] | None = None
) -> Path:
    """Write `truy-vet.html` around the trace's figures; an office may override its template."""
    env = make_environment(template_dirs)
    trace = dict(trace) | {"html": trace_html(trace, env)}
    html = env.get_template(TRACE_TEMPLATE).render(trace=trace)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / TRACE_PAGE
    path.write_text(html, encoding="utf-8")
    return path
