"""The report draft from a draft context: bao-cao.md, bao-cao.html and bao-cao.docx.

Wording lives in `templates/`: the Markdown templates (`base.md.j2`, a `_<partial>.md.j2` per
section, named in `outline.yaml`), from which the HTML draft is converted and the docxtpl Word
template generated; figures come from the view (`tonghop.report.context`) and pass through
the `formatting` filters. This module only puts the steps in order: the view, the charts, the
footnotes' numbers, then each writer.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from tonghop.figures import FIGURES_JSON, figure_function, placements, write_figures_json
from tonghop.report.charts import make_charts
from tonghop.report.context import build_view
from tonghop.report.footnotes import footnote_function, number_footnotes
from tonghop.report.markdown_html import render_html, write_markdown
from tonghop.report.templates import (
    find_template,
    load_outline,
    load_wording,
    make_environment,
    search_path,
)
from tonghop.report.trace_page import trace_html
from tonghop.report.word import DOCX_TEMPLATE, render_docx
from tonghop.settings import ReportSettings

# Where the trace's HTML goes in the HTML draft until written (`_draft_html`): no template or
# value writes it (a per-process token, like the footnotes' marks).
_TRACE_MARK = f"\u27e6trace{secrets.token_hex(6)}\u27e7"

OUTPUT_NAMES = {"md": "bao-cao.md", "html": "bao-cao.html", "docx": "bao-cao.docx"}


def render_report(
    context: Mapping[str, Any],
    settings: ReportSettings,
    out_dir: Path,
    template_dirs: Sequence[Path] | None = None,
) -> dict[str, Path]:
    """Write the draft as Markdown, HTML and Word into `out_dir`, and `figures.json` (every
    figure of the draft with where it is printed); returns the paths by format (`figures`).

    `template_dirs` are searched before the bundled templates, so an office can override any
    template (or `outline.yaml`, or `bao-cao.docx`) without forking.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env, view = _prepare(context, settings, template_dirs, out_dir)
    paths = {fmt: out_dir / name for fmt, name in OUTPUT_NAMES.items()}
    write_markdown(env, view, paths["md"])
    html, trace = _draft_html(env, view)
    paths["html"].write_text(html.replace(_TRACE_MARK, trace), encoding="utf-8")
    template = find_template(DOCX_TEMPLATE, search_path(template_dirs))
    render_docx(view, settings, template, paths["docx"])
    html = html.replace(_TRACE_MARK, "")
    paths["figures"] = write_figures_json(view["figures"], html, out_dir / FIGURES_JSON)
    return paths


def figure_entries(
    context: Mapping[str, Any],
    settings: ReportSettings | None = None,
    template_dirs: Sequence[Path] | None = None,
) -> list[dict[str, Any]]:
    """The entries `figures.json` would list for a context (each figure with the sentences
    the draft prints it in), without writing the draft: what `check-draft` compares with."""
    env, view = _prepare(context, settings or ReportSettings(), template_dirs, None)
    found = placements(_draft_html(env, view)[0].replace(_TRACE_MARK, ""))
    return [f.as_dict() | {"appears_in": found.get(f.id, [])} for f in view["figures"].values()]


def _prepare(
    context: Mapping[str, Any],
    settings: ReportSettings,
    template_dirs: Sequence[Path] | None,
    out_dir: Path | None,
) -> tuple[SandboxedEnvironment, dict[str, Any]]:
    """The environment and the view: figures, charts (drawn into `out_dir` when given) and
    the footnotes' numbers."""
    wording = load_wording(template_dirs)
    view = build_view(context, settings, load_outline(settings, template_dirs), wording)
    env = make_environment(template_dirs)
    if out_dir is not None:
        view["charts"] = make_charts(view, wording, out_dir, env)
    view["footnotes"] = number_footnotes(env, view, figure_function(view["figures"], html=True))
    view["footnote"] = footnote_function({f["key"]: f["number"] for f in view["footnotes"]})
    return env, view


def _draft_html(env: SandboxedEnvironment, view: Mapping[str, Any]) -> tuple[str, str]:
    """The HTML draft with a mark where the trace's appendix goes, and the trace's HTML.

    The trace (every unit's contribution to every figure) is most of the page's bytes and
    prints no figure: the figures' placements are read from the page without it, and the
    page is written with it put in place of the mark (`render_report`; an office's page
    without the appendix has no mark)."""
    trace = ""
    if view["trace"]:
        trace = str(trace_html(view["trace"], env))
        view = dict(view) | {"trace": dict(view["trace"]) | {"html": Markup(_TRACE_MARK)}}
    footnotes = [f | {"text": f["html"]} for f in view["footnotes"]]
    return render_html(env, dict(view) | {"footnotes": footnotes}), trace
