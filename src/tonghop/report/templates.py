"""The report's templates: where they are found (an office's folders first), the outline and
wording they share (`outline.yaml`, `wording.yaml`), and the sandboxed Jinja2 environment with
the filters that format figures (`|so`, `|phan_tram`, `|ngay`, ...).

Text from the data is never markup, by default rather than by filter: HTML templates are
autoescaped (so is a template with no name, and a shared `.j2` included from an HTML one), and
every `{{ ... }}` of a Markdown template is escaped for Markdown (`formatting.md_text`) unless
the program wrote it for Markdown (`formatting.MarkdownText`, a figure, a footnote's reference,
a number filter) or the template marks it `|safe`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from jinja2 import BaseLoader, FileSystemLoader, StrictUndefined, pass_context, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from tonghop import formatting
from tonghop.formatting import MarkdownText, md_text
from tonghop.paths import TEMPLATES_DIR
from tonghop.report.phrases import gia_tri, yeu_cau
from tonghop.settings import ReportSettings

OUTLINE_FILE = "outline.yaml"
WORDING_FILE = "wording.yaml"

FILTERS: dict[str, Callable[..., str]] = {
    "so": formatting.so,
    "so_dem": formatting.so_dem,
    "phan_tram": formatting.phan_tram,
    "ngay": formatting.ngay,
    "chu": formatting.chu,
    "gia_tri": gia_tri,
    "yeu_cau": yeu_cau,
}


# Set in the view when a Markdown template is rendered for the HTML draft
# (`tonghop.report.markdown_html`): a placeholder is then written as HTML.
FOR_HTML = "for_html"

# Filters whose text is the data's own (escaped in Markdown like any value); the others write
# numbers and the program's phrases, printed as they are.
_DATA_FILTERS = frozenset({"chu"})


def _marked(func: Callable[..., str], data: bool = False) -> Callable[..., str | Markup]:
    """Wrap a filter so that, in an autoescaped (HTML) template or a Markdown one rendered for
    HTML, a placeholder is highlighted, and in a Markdown one its text is left unescaped unless
    it is the data's."""

    @pass_context
    def wrapper(context: Context, value: Any, *args: Any, **kwargs: Any) -> str | Markup:
        text = func(value, *args, **kwargs)
        if value is None and (context.eval_ctx.autoescape or context.get(FOR_HTML)):
            return Markup('<span class="placeholder">{}</span>').format(text)
        if context.eval_ctx.autoescape:
            return text
        return text if data and value is not None else MarkdownText(text)

    return wrapper


@pass_eval_context
def _finalize(eval_ctx: EvalContext, value: Any) -> Any:
    """Every printed value of a Markdown template escaped, unless written for Markdown."""
    if eval_ctx.autoescape or not isinstance(value, str):
        return value
    if isinstance(value, MarkdownText | Markup):
        return value
    return md_text(value)


# A shared template (`_target_condition.j2`) included from an HTML one is loaded under this
# prefix, so that it is compiled autoescaped there and for Markdown when a .md template includes
# it.
_HTML_INCLUDE = "html:"


def _is_html(name: str | None) -> bool:
    # No name: a template from a string, escaped for HTML unless said otherwise.
    return name is None or name.startswith(_HTML_INCLUDE) or ".html" in name


class _Loader(BaseLoader):
    """The template folders, with `html:` names read from the same files."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.files = FileSystemLoader([str(p) for p in folders])

    def get_source(self, environment: Any, template: str) -> Any:
        return self.files.get_source(environment, template.removeprefix(_HTML_INCLUDE))

    def list_templates(self) -> list[str]:
        return self.files.list_templates()


# In a Markdown template, a block tag that ends a line of text (a sentence ending in
# `{% endif %}`): its newline is the paragraph's and is kept (`_keep_sentence_breaks`).
_TAG_OR_NEWLINE = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}|\n", re.DOTALL)


def _keep_sentence_breaks(source: str) -> str:
    """`trim_blocks` for the lines that hold only tags, not for a line of text.

    Jinja's `trim_blocks` drops the newline after every block tag, so a sentence line ending
    in `{% endif %}` would run into the next paragraph. Here such a tag (one that ends a line
    holding text or a `{{ … }}`) is written `{% … +%}`, which keeps the newline: a line of
    tags alone (`{% if … %}`, `{% endfor %}`) still leaves nothing. A tag's explicit `-%}` or
    `+%}` is left as written."""
    parts: list[str] = []
    last, text_on_line = 0, False
    for match in _TAG_OR_NEWLINE.finditer(source):
        token = match[0]
        if source[last : match.start()].strip():
            text_on_line = True
        parts.append(source[last : match.start()])
        if token == "\n":
            text_on_line = False
        elif token.startswith("{{"):
            text_on_line = True
        elif (
            token.startswith("{%")
            and text_on_line
            and token[-3] not in "+-"
            and source.startswith("\n", match.end())
        ):
            token = token[:-2] + "+%}"
        parts.append(token)
        last = match.end()
    parts.append(source[last:])
    return "".join(parts)


class ReportEnvironment(SandboxedEnvironment):
    """The sandboxed environment of the md/html templates (see the module's docstring)."""

    def preprocess(self, source: str, name: str | None = None, filename: str | None = None) -> str:
        """A Markdown template's sentence lines keep their newline (`_keep_sentence_breaks`);
        HTML templates are left to `trim_blocks` (their newlines are not paragraphs)."""
        source = super().preprocess(source, name, filename)
        return source if _is_html(name) else _keep_sentence_breaks(source)

    def join_path(self, template: str, parent: str) -> str:
        if _is_html(parent) and not _is_html(template) and ".md" not in template:
            return _HTML_INCLUDE + template
        return template


def search_path(template_dirs: Sequence[Path] | None = None) -> list[Path]:
    """Template folders, most specific first: an office's own, then the bundled ones."""
    return [Path(d) for d in (template_dirs or [])] + [TEMPLATES_DIR]


def make_environment(template_dirs: Sequence[Path] | None = None) -> SandboxedEnvironment:
    """The sandboxed Jinja2 environment of the md/html templates: HTML autoescaped, Markdown
    escaped by `_finalize`.

    One environment per set of folders and the files in them, kept for the process: its
    templates are compiled once (a draft's, the trace page's and the review page's renders,
    a resubmission's render again), a changed file is compiled again (Jinja's `auto_reload`),
    and a file added to a folder (an office's new override) gives a new environment."""
    folders = tuple(str(p) for p in search_path(template_dirs))
    return _environment(folders, _listing(folders))


def _listing(folders: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The files of each folder, its subfolders' too (`review/`)."""
    return tuple(
        tuple(sorted(os.path.join(root, name) for root, _, names in os.walk(f) for name in names))
        for f in folders
    )


@functools.lru_cache(maxsize=16)
def _environment(
    folders: tuple[str, ...], listing: tuple[tuple[str, ...], ...]
) -> SandboxedEnvironment:
    del listing  # only the cache's key
    env = ReportEnvironment(
        loader=_Loader([Path(f) for f in folders]),
        undefined=StrictUndefined,
        autoescape=_is_html,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        {name: _marked(func, name in _DATA_FILTERS) for name, func in FILTERS.items()}
    )
    return env


def find_template(name: str, dirs: Iterable[Path]) -> Path:
    """The first folder's file of that name (an office's override before the bundled one)."""
    for folder in dirs:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"không tìm thấy mẫu {name} trong {[str(d) for d in dirs]}")


def load_outline(settings: ReportSettings, template_dirs: Sequence[Path] | None = None) -> dict:
    """The report's headings (`body`, `appendix`) with the term filled in."""
    path = find_template(OUTLINE_FILE, search_path(template_dirs))
    raw = yaml.safe_load(path.read_text("utf-8"))

    def fill(node: dict) -> dict:
        return {
            "level": node["level"],
            "label": node.get("label"),
            "title": _term(node.get("title"), settings),
            "heading": _term(node.get("heading"), settings),
            "partial": node.get("partial"),
            "placeholder": node.get("placeholder"),
        }

    return {part: [fill(n) for n in raw.get(part) or []] for part in ("body", "appendix")}


def _term(text: str | None, settings: ReportSettings) -> str | None:
    # The office's own outline: its Markdown ("1." before a heading) is meant.
    return None if text is None else MarkdownText(text.replace("{term}", settings.term))


def office_text(settings: dict[str, Any]) -> dict[str, Any]:
    """The office's settings (`settings.model_dump()`) for a Markdown template: written by the
    office, not by a unit, so printed as they are ("[Họ và tên người ký]" stays a placeholder)."""

    def trusted(value: Any) -> Any:
        if isinstance(value, str):
            return MarkdownText(value)
        if isinstance(value, list):
            return [trusted(v) for v in value]
        return value

    return {key: trusted(value) for key, value in settings.items()}


def load_wording(template_dirs: Sequence[Path] | None = None) -> dict[str, Any]:
    """How computed figures are worded (`wording.yaml`): rounding phrases, charts, tables."""
    path = find_template(WORDING_FILE, search_path(template_dirs))
    return yaml.safe_load(path.read_text("utf-8"))
