"""The report draft from a draft context: bao-cao.md, bao-cao.html and bao-cao.docx.

Wording lives in `templates/`: the Markdown templates (`base.md.j2`, a `_<partial>.md.j2` per
section, named in `outline.yaml`), from which the HTML draft is converted and the docxtpl Word
template generated; figures come from the view (`tonghop.report.context`) and pass through
the `formatting` filters. This module only puts the steps in order: the view, the charts, the
footnotes' numbers, then each writer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

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
    if view["trace"]:
        view["trace"]["html"] = trace_html(view["trace"], env)
    paths = {fmt: out_dir / name for fmt, name in OUTPUT_NAMES.items()}
    write_markdown(env, view, paths["md"])
    paths["html"].write_text(render_html(env, _html_view(view)), encoding="utf-8")
    template = find_template(DOCX_TEMPLATE, search_path(template_dirs))
    render_docx(view, settings, template, paths["docx"])
    paths["figures"] = write_figures_json(
        view["figures"], paths["html"].read_text("utf-8"), out_dir / FIGURES_JSON
    )
    return paths


def figure_entries(
    context: Mapping[str, Any],
    settings: ReportSettings | None = None,
    template_dirs: Sequence[Path] | None = None,
) -> list[dict[str, Any]]:
    """The entries `figures.json` would list for a context (each figure with the sentences
    the draft prints it in), without writing the draft: what `check-draft` compares with."""
    env, view = _prepare(context, settings or ReportSettings(), template_dirs, None)
    found = placements(render_html(env, _html_view(view)))
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


def _html_view(view: Mapping[str, Any]) -> dict[str, Any]:
    return dict(view) | {"footnotes": [f | {"text": f["html"]} for f in view["footnotes"]]}
