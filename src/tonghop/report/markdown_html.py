"""The Markdown and HTML writers, both from the Markdown templates.

`write_markdown` renders `base.md.j2`. `render_html` renders the blocks of the same
`base.md.j2` (the scope note, the body, the appendices: every sentence and table) for HTML and
converts them with mistune, then puts them in the page shell `base.html.j2` (style, header,
footnotes, signature, the trace). So a sentence is written once, in its `_<partial>.md.j2`.

Rendered for HTML, the Markdown templates differ only in what the program writes into them:
`fig('id')` writes `<span data-figure="id">`, a filter's placeholder (a missing value) a
highlighted `<span class="placeholder">`, a chart's image its data URI, and a footnote a mark
replaced by its `<sup>` link once converted. Text from the data is escaped for Markdown as in
the `.md` (`formatting.md_text`): no `<`, `&`, `[`, `*` or line start of it survives as
structure, so the raw HTML that mistune passes through is only the program's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mistune
from jinja2 import Template
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from tonghop.figures import figure_function
from tonghop.report.footnotes import FOOTNOTE_MARK_RE, footnote_function
from tonghop.report.templates import FOR_HTML, office_text

MARKDOWN_BASE = "base.md.j2"
HTML_BASE = "base.html.j2"
# The blocks of base.md.j2 that hold the report's own text; base.html.j2 writes the rest.
HTML_BLOCKS = ("coverage", "body", "appendix")


def write_markdown(env: SandboxedEnvironment, view: Mapping[str, Any], path: Path) -> Path:
    """Write the Markdown draft, with runs of blank lines left by the templates closed up.

    Every value is escaped for Markdown by the environment, except the office's settings."""
    view = dict(view) | {"settings": office_text(view["settings"])}
    text = env.get_template(MARKDOWN_BASE).render(view)
    path.write_text(_tidy(text), encoding="utf-8")
    return path


def render_html(env: SandboxedEnvironment, view: Mapping[str, Any]) -> str:
    """The HTML draft: the Markdown templates' blocks converted, in the page shell."""
    parts = html_parts(env, view)
    return env.get_template(HTML_BASE).render(dict(view) | {"parts": parts})


def html_parts(env: SandboxedEnvironment, view: Mapping[str, Any]) -> dict[str, Markup]:
    """The blocks of `base.md.j2` (`HTML_BLOCKS`) rendered for HTML and converted."""
    markdown_view = dict(view) | {
        FOR_HTML: True,
        "fig": figure_function(view["figures"], html=True),
        "footnote": footnote_function(None),
        "charts": {
            key: chart and dict(chart) | {"file": chart["data_uri"]}
            for key, chart in (view.get("charts") or {}).items()
        },
    }
    template = env.get_template(MARKDOWN_BASE)
    references = _footnote_references(env, view.get("footnotes") or [])
    return {
        name: to_html(_render_block(template, name, markdown_view), references)
        for name in HTML_BLOCKS
    }


def _render_block(template: Template, name: str, view: Mapping[str, Any]) -> str:
    context = template.new_context(dict(view))
    return "".join(template.blocks[name](context))


def _footnote_references(
    env: SandboxedEnvironment, footnotes: list[Mapping[str, Any]]
) -> dict[str, Markup]:
    """Each footnote's `<sup>` link, as `footnote_function` writes it in an HTML template."""
    footnote = footnote_function({f["key"]: f["number"] for f in footnotes})
    html = EvalContext(env)
    html.autoescape = True
    return {f["key"]: Markup(footnote(html, f["key"])) for f in footnotes}


def to_html(markdown: str, references: Mapping[str, Markup] | None = None) -> Markup:
    """Markdown written by the templates as the draft's HTML (`_DraftRenderer`); each footnote
    mark replaced by its reference (a footnote without a number is dropped)."""
    html = _MARKDOWN(markdown)
    refs = references or {}
    return Markup(FOOTNOTE_MARK_RE.sub(lambda m: refs.get(m[1], ""), html))


# A placeholder of the templates, "**[Phần nội dung …]**", rendered by mistune.
_PLACEHOLDER = re.compile(r'<span class="placeholder">([^<]*)</span>')
_IMAGE = re.compile(r"<img [^>]*/>")


class _DraftRenderer(mistune.HTMLRenderer):
    """mistune's HTML with the draft's classes (the CSS of `base.html.j2`): a bold bracketed
    text is a placeholder; a quote holding only one is a placeholder paragraph, any other
    quote a note; a paragraph holding only an image a chart; tables are `data` tables with
    right-aligned columns `num`; a level-2 heading a part's title."""

    def strong(self, text: str) -> str:
        if text.startswith("[") and text.endswith("]"):
            return f'<span class="placeholder">{text}</span>'
        return super().strong(text)

    def block_quote(self, text: str) -> str:
        inner = text.strip()
        if inner.startswith("<p>") and inner.endswith("</p>") and inner.count("<p>") == 1:
            body = inner[3:-4]
            if placeholder := _PLACEHOLDER.fullmatch(body):
                return f'<p class="placeholder">{placeholder[1]}</p>\n'
            return f'<p class="note">{body}</p>\n'
        return f'<div class="note">\n{text}</div>\n'

    def paragraph(self, text: str) -> str:
        if _IMAGE.fullmatch(text.strip()):
            return f'<p class="chart">{text}</p>\n'
        return super().paragraph(text)

    def heading(self, text: str, level: int, **attrs: Any) -> str:
        if level == 2:
            return f'<h2 class="part">{text}</h2>\n'
        return super().heading(text, level, **attrs)

    def table(self, text: str) -> str:
        return f'<table class="data">\n{text}</table>\n'

    def table_head(self, text: str) -> str:
        return f"<thead>\n<tr>\n{text}</tr>\n</thead>\n"

    def table_body(self, text: str) -> str:
        return f"<tbody>\n{text}</tbody>\n"

    def table_row(self, text: str) -> str:
        return f"<tr>\n{text}</tr>\n"

    def table_cell(self, text: str, align: str | None = None, head: bool = False) -> str:
        tag = "th" if head else "td"
        css = ' class="num"' if align == "right" and not head else ""
        return f"<{tag}{css}>{text}</{tag}>\n"


_MARKDOWN = mistune.create_markdown(renderer=_DraftRenderer(escape=False), plugins=["table"])


def _tidy(markdown: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", markdown).strip() + "\n"
