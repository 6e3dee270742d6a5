"""Render the consolidated figures as the report draft: bao-cao.md, bao-cao.html, bao-cao.docx.

Wording lives in `templates/` (md/html Jinja2 templates, the docxtpl Word template and the
shared `outline.yaml`); figures come from the context and pass through the `formatting`
filters. Anything derived from the figures (an increase or a decrease, an average) is
computed here, never in a template.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from docx import Document
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml.ns import qn
from docx.shared import Mm
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from docxtpl import DocxTemplate
from jinja2 import FileSystemLoader, StrictUndefined, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from tonghop import formatting
from tonghop.catalog import SECTOR_LABELS, SECTORS
from tonghop.paths import TEMPLATES_DIR
from tonghop.periods import PeriodError, PeriodRange
from tonghop.settings import ReportSettings

OUTPUT_NAMES = {"md": "bao-cao.md", "html": "bao-cao.html", "docx": "bao-cao.docx"}
DOCX_TEMPLATE = "bao-cao.docx"
OUTLINE_FILE = "outline.yaml"

STOCK_KEYS = ("units", "dang_bo", "chi_bo", "branches", "members")
TERM_KEYS = (
    "members_admitted",
    "members_confirmed",
    "members_struck_off",
    "members_removed",
    "party_badges_awarded",
    "member_cards_issued",
)

# Bracketed text is what the owner must fill or check: "[…]" for a missing figure,
# "[Phần nội dung do cơ quan soạn thảo bổ sung: …]" for narrative, "[Họ và tên người ký]".
_PLACEHOLDER_RE = re.compile(r"\[[^\[\]]*\]")

_FILTERS: dict[str, Callable[..., str]] = {
    "so": formatting.so,
    "so_dem": formatting.so_dem,
    "phan_tram": formatting.phan_tram,
    "ngay": formatting.ngay,
    "chu": formatting.chu,
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
    env.filters.update({name: _marked(func) for name, func in _FILTERS.items()})
    return env


def _docx_environment() -> SandboxedEnvironment:
    # docxtpl renders the document XML as one string: escape like XML, no HTML markup.
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
    env.filters.update(_FILTERS)
    return env


def _find(name: str, dirs: Iterable[Path]) -> Path:
    for folder in dirs:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"không tìm thấy mẫu {name} trong {[str(d) for d in dirs]}")


def load_outline(settings: ReportSettings, template_dirs: Sequence[Path] | None = None) -> dict:
    """The report's headings (`body`, `appendix`) with the term filled in."""
    raw = yaml.safe_load(_find(OUTLINE_FILE, search_path(template_dirs)).read_text("utf-8"))

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


def _stock(values: Mapping[str, Any] | None) -> dict[str, Any]:
    values = dict(values or {})
    out = {key: values.get(key) for key in STOCK_KEYS} | values
    out["sectors"] = {s: None for s in SECTORS} | dict(values.get("sectors") or {})
    return out


def _coverage(values: Mapping[str, Any] | None) -> dict[str, Any]:
    values = dict(values or {})

    def units(key: str) -> list[dict[str, Any]]:
        return [
            {"unit_code": u.get("unit_code"), "name": u.get("name"), "periods": [], "rules": []}
            | dict(u)
            for u in values.get(key) or []
        ]

    return values | {
        "units_expected": values.get("units_expected"),
        "units_included": values.get("units_included"),
        "missing": units("missing"),
        "blocked": units("blocked"),
        "rejected_files": values.get("rejected_files") or 0,
    }


def _change(before: float | None, after: float | None) -> dict[str, Any]:
    """Direction and size of a change, as the sentence says it (tăng / giảm / không đổi)."""
    if before is None or after is None:
        return {"direction": None, "amount": None}
    # Figures may arrive as int, float or Decimal (DuckDB sums): compare them as decimals.
    diff = Decimal(str(after)) - Decimal(str(before))
    if diff == 0:
        return {"direction": "không đổi", "amount": 0}
    return {"direction": "tăng" if diff > 0 else "giảm", "amount": abs(diff)}


def _years(period: Mapping[str, Any]) -> float | None:
    try:
        rng = PeriodRange.parse(f"{period['first']}..{period['last']}")
    except (KeyError, TypeError, PeriodError):
        return None
    return sum(p.months for p in rng.periods) / 12


def _admission(context: Mapping[str, Any], admitted: float | None) -> dict[str, Any]:
    """Admissions against the resolution's yearly target, when the context gives the target."""
    target = (context.get("admission") or {}).get("target_per_year")
    years = _years(context.get("period") or {})
    average = float(admitted) / years if admitted is not None and years else None
    if average is not None and target:
        gap = formatting.ty_le(average - float(target), target)
    else:
        gap = None
    word = None if gap is None else ("vượt" if gap >= 0 else "thấp hơn")
    return {
        "target_per_year": target,
        "avg_per_year": average,
        "pct": None if gap is None else abs(gap),
        "word": word,
    }


def build_view(
    context: Mapping[str, Any], settings: ReportSettings, outline: Mapping[str, list]
) -> dict[str, Any]:
    """What the templates see: the context with every expected key present, and derived values."""
    start = _stock(context.get("start"))
    cutoff = _stock(context.get("cutoff"))
    term = {key: None for key in TERM_KEYS} | dict(context.get("term") or {})
    return {
        "settings": settings.model_dump(),
        "period": dict(context.get("period") or {}),
        "start": start,
        "cutoff": cutoff,
        "term": term,
        "coverage": _coverage(context.get("coverage")),
        "changes": {"units": _change(start["units"], cutoff["units"])},
        "admission": _admission(context, term["members_admitted"]),
        "sector_labels": dict(SECTOR_LABELS),
        "outline": outline["body"],
        "appendix": outline["appendix"],
    }


def render_report(
    context: Mapping[str, Any],
    settings: ReportSettings,
    out_dir: Path,
    template_dirs: Sequence[Path] | None = None,
) -> dict[str, Path]:
    """Write the draft as Markdown, HTML and Word into `out_dir`; returns the paths by format.

    `template_dirs` are searched before the bundled templates, so an office can override any
    template (or `outline.yaml`, or `bao-cao.docx`) without forking.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    view = build_view(context, settings, load_outline(settings, template_dirs))
    env = make_environment(template_dirs)
    paths = {fmt: out_dir / name for fmt, name in OUTPUT_NAMES.items()}
    for fmt in ("md", "html"):
        text = env.get_template(f"base.{fmt}.j2").render(view)
        paths[fmt].write_text(_tidy(text) if fmt == "md" else text, encoding="utf-8")
    render_docx(view, settings, _find(DOCX_TEMPLATE, search_path(template_dirs)), paths["docx"])
    return paths


def _tidy(markdown: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", markdown).strip() + "\n"


def render_docx(
    view: Mapping[str, Any], settings: ReportSettings, template: Path, out_path: Path
) -> Path:
    """Fill the Word template, then apply the page margins and highlight the placeholders."""
    doc = DocxTemplate(str(template))
    doc.render(dict(view), jinja_env=_docx_environment(), autoescape=True)
    doc.save(str(out_path))
    final = Document(str(out_path))
    margins = settings.margins_mm
    for section in final.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(margins.top), Mm(margins.bottom)
        section.left_margin, section.right_margin = Mm(margins.left), Mm(margins.right)
    for p in list(final.element.body.iter(qn("w:p"))):
        paragraph = Paragraph(p, final)
        for run in list(paragraph.runs):
            _highlight_placeholders(run, paragraph)
    final.save(str(out_path))
    return out_path


def _highlight_placeholders(run: Run, paragraph: Paragraph) -> None:
    """Split a run around bracketed placeholders and highlight those pieces yellow."""
    text = run.text
    if not _PLACEHOLDER_RE.search(text):
        return
    pieces: list[tuple[str, bool]] = []
    last = 0
    for match in _PLACEHOLDER_RE.finditer(text):
        pieces.append((text[last : match.start()], False))
        pieces.append((match.group(), True))
        last = match.end()
    pieces.append((text[last:], False))
    anchor = run._r
    for piece, marked in pieces:
        if not piece:
            continue
        element = copy.deepcopy(run._r)
        anchor.addnext(element)
        anchor = element
        new_run = Run(element, paragraph)
        new_run.text = piece
        if marked:
            new_run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    run._r.getparent().remove(run._r)
