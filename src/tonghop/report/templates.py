"""The report's templates: where they are found (an office's folders first), the outline and
wording they share (`outline.yaml`, `wording.yaml`), and the sandboxed Jinja2 environment with
the filters that format figures (`|so`, `|phan_tram`, `|ngay`, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from jinja2 import FileSystemLoader, StrictUndefined, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from tonghop import formatting
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


def _marked(func: Callable[..., str]) -> Callable[..., str | Markup]:
    """Wrap a filter so that, in an autoescaped (HTML) template, a placeholder is highlighted."""

    @pass_eval_context
    def wrapper(eval_ctx: EvalContext, value: Any, *args: Any, **kwargs: Any) -> str | Markup:
        text = func(value, *args, **kwargs)
        if eval_ctx.autoescape and value is None:
            return Markup('<span class="placeholder">{}</span>').format(text)
        return text

    return wrapper


def search_path(template_dirs: Sequence[Path] | None = None) -> list[Path]:
    """Template folders, most specific first: an office's own, then the bundled ones."""
    return [Path(d) for d in (template_dirs or [])] + [TEMPLATES_DIR]


def make_environment(template_dirs: Sequence[Path] | None = None) -> SandboxedEnvironment:
    """The sandboxed Jinja2 environment of the md/html templates; autoescapes `.html*` only."""
    env = SandboxedEnvironment(
        loader=FileSystemLoader([str(p) for p in search_path(template_dirs)]),
        undefined=StrictUndefined,
        autoescape=lambda name: name is not None and ".html" in name,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update({name: _marked(func) for name, func in FILTERS.items()})
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
    return None if text is None else text.replace("{term}", settings.term)


def load_wording(template_dirs: Sequence[Path] | None = None) -> dict[str, Any]:
    """How computed figures are worded (`wording.yaml`): rounding phrases, charts, tables."""
    path = find_template(WORDING_FILE, search_path(template_dirs))
    return yaml.safe_load(path.read_text("utf-8"))
