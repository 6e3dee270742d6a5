"""The trace as HTML: each figure with every unit's contribution, rendered once for both the
HTML draft's appendix "Nguồn gốc số liệu" and the page `truy-vet.html` around it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

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
    return Markup(env.get_template(TRACE_FIGURES_TEMPLATE).render(trace=trace))


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
