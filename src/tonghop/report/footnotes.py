"""The draft's footnotes: what `{{ footnote('key') }}` leaves in a template's text, and their
numbering in reading order with their texts (the macros of `_footnotes.j2`)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from tonghop.formatting import MarkdownText

FOOTNOTES_TEMPLATE = "_footnotes.j2"

# What `{{ footnote('key') }}` leaves in the text until the footnote is numbered (and, in the
# .docx, replaced by a real Word footnote reference). The token drawn per process keeps a name
# or note that spells a mark from becoming a footnote: the data cannot know it.
_TOKEN = secrets.token_hex(6)
FOOTNOTE_MARK = "\u27e6fn" + _TOKEN + ":{}\u27e7"
FOOTNOTE_MARK_RE = re.compile("\u27e6fn" + _TOKEN + ":(\\w+)\u27e7")


def footnote_function(numbers: Mapping[str, int] | None) -> Callable[..., str | Markup]:
    """`{{ footnote('key') }}` for the templates: a mark until numbered, then the reference.

    Numbered, it is `[^n]` in Markdown and a `<sup>` link in HTML; unnumbered (the first pass
    and the .docx) it is a mark that `number_footnotes` / `render_docx` find and replace.
    """

    @pass_eval_context
    def footnote(eval_ctx: EvalContext, key: str) -> str | Markup:
        if numbers is None:
            return MarkdownText(FOOTNOTE_MARK.format(key))
        if key not in numbers:  # its macro rendered nothing: no figure to give
            return ""
        n = numbers[key]
        if eval_ctx.autoescape:
            return Markup(
                '<sup class="footnote-ref" id="tham-chieu-{0}">'
                '<a href="#chu-thich-{0}">{0}</a></sup>'
            ).format(n)
        return MarkdownText(f"[^{n}]")

    return footnote


def number_footnotes(
    env: SandboxedEnvironment, view: Mapping[str, Any], html_fig: Callable[..., Any] | None = None
) -> list[dict[str, Any]]:
    """The footnotes the draft references, numbered in reading order, with their text.

    The Markdown draft is rendered once with marks to find the order; each text is the macro
    of the same name in `_footnotes.j2`, rendered with the draft's figures: `text` as plain
    text (.md, .docx) and, with `html_fig` (`fig` of the HTML draft), `html` autoescaped with
    each figure in its `data-figure` element.
    """
    probe = env.get_template("base.md.j2").render(
        dict(view) | {"footnote": footnote_function(None)}
    )
    keys = list(dict.fromkeys(FOOTNOTE_MARK_RE.findall(probe)))
    if not keys:
        return []
    module = env.get_template(FOOTNOTES_TEMPLATE).make_module(dict(view))
    html_module = None
    if html_fig is not None:
        html_env = env.overlay(autoescape=True)
        html_module = html_env.get_template(FOOTNOTES_TEMPLATE).make_module(
            dict(view) | {"fig": html_fig}
        )
    notes: list[dict[str, Any]] = []
    for key in keys:
        macro = getattr(module, key, None)
        if macro is None:
            raise ValueError(f"không có chú thích '{key}' trong {FOOTNOTES_TEMPLATE}")
        text = " ".join(str(macro()).split())
        if text:
            # written by the macros for Markdown, their values escaped there already
            note = {"key": key, "number": len(notes) + 1, "text": MarkdownText(text)}
            if html_module is not None:
                note["html"] = Markup(" ".join(getattr(html_module, key)().split()))
            notes.append(note)
    return notes
