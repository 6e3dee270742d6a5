"""Render the consolidated figures as the report draft: bao-cao.md, bao-cao.html, bao-cao.docx.

Wording lives in `templates/` (md/html Jinja2 templates, the docxtpl Word template and the
shared `outline.yaml`); figures come from the context and pass through the `formatting`
filters. Anything derived from the figures (an increase or a decrease, an average) is
computed here, never in a template.
"""

from __future__ import annotations

import base64
import copy
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from docx import Document
from docx.enum.text import WD_COLOR_INDEX
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import parse_xml
from docx.oxml.ns import qn
from docx.shared import Mm
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from docxtpl import DocxTemplate, InlineImage
from jinja2 import FileSystemLoader, StrictUndefined, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from tonghop import charts, formatting
from tonghop.catalog import SECTOR_LABELS, SECTORS, load_catalog
from tonghop.paths import TEMPLATES_DIR
from tonghop.periods import PeriodError, PeriodRange
from tonghop.settings import ReportSettings

OUTPUT_NAMES = {"md": "bao-cao.md", "html": "bao-cao.html", "docx": "bao-cao.docx"}
DOCX_TEMPLATE = "bao-cao.docx"
OUTLINE_FILE = "outline.yaml"
WORDING_FILE = "wording.yaml"
FOOTNOTES_TEMPLATE = "_footnotes.j2"
TRACE_FIGURES_TEMPLATE = "_trace_figures.html.j2"
CHARTS_DIR = "bieu-do"
CHART_WIDTH_MM = 150

STOCK_KEYS = ("units", "dang_bo", "chi_bo", "branches", "members")

# Bracketed text is what the owner must fill or check: "[…]" for a missing figure,
# "[Phần nội dung do cơ quan soạn thảo bổ sung: …]" for narrative, "[Họ và tên người ký]".
_PLACEHOLDER_RE = re.compile(r"\[[^\[\]]*\]")

# What `{{ footnote('key') }}` leaves in the text until the footnote is numbered (and, in the
# .docx, replaced by a real Word footnote reference).
FOOTNOTE_MARK = "\u27e6fn:{}\u27e7"
_FOOTNOTE_MARK_RE = re.compile("\u27e6fn:(\\w+)\u27e7")
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_FONT = "Times New Roman"
FOOTNOTE_SIZE_PT = 12


def gia_tri(value: Any, unit: str | None = None) -> str:
    """A target's figure with its unit: a percentage, or a count followed by what it counts.

    >>> gia_tri(95.4, "%"), gia_tri(660, "đảng viên"), gia_tri(None, "%")
    ('95,40%', '660 đảng viên', '[…]')
    """
    if value is None:
        return formatting.PLACEHOLDER
    if unit == "%":
        return formatting.phan_tram(value)
    return f"{formatting.so(value)} {unit}" if unit else formatting.so(value)


def yeu_cau(requirement: Mapping[str, Any] | None) -> str:
    """What a target asks, worded: "trên 90%", "ít nhất 75%", "từ 15 - 20%", "100%".

    >>> yeu_cau({"word": "trên", "low": 800, "high": None, "unit": "người"})
    'trên 800 người'
    >>> yeu_cau({"word": "từ", "low": 15, "high": 20, "unit": "%"})
    'từ 15 - 20%'
    """
    if not requirement:
        return formatting.PLACEHOLDER
    unit = requirement["unit"]
    low = formatting.so(requirement["low"], _decimals(requirement["low"]))
    if requirement.get("high") is not None:
        low += " - " + formatting.so(requirement["high"], _decimals(requirement["high"]))
    figure = low + unit if unit == "%" else f"{low} {unit}"
    return f"{requirement['word']} {figure}" if requirement.get("word") else figure


def _decimals(value: Any) -> int:
    text = str(formatting.round_half_up(value, 2)).rstrip("0").rstrip(".")
    return len(text.split(".")[1]) if "." in text else 0


_FILTERS: dict[str, Callable[..., str]] = {
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
            {
                "unit_code": u.get("unit_code"),
                "name": u.get("name"),
                "periods": [],
                "rules": [],
                "indicators": [],
            }
            | dict(u)
            for u in values.get(key) or []
        ]

    return values | {
        "units_expected": values.get("units_expected"),
        "units_included": values.get("units_included"),
        "missing": units("missing"),
        "blocked": units("blocked"),
        "corrected": units("corrected"),
        "pending": units("pending"),
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


def load_wording(template_dirs: Sequence[Path] | None = None) -> dict[str, Any]:
    """How computed figures are worded (`wording.yaml`): rounding phrases, charts, tables."""
    return yaml.safe_load(_find(WORDING_FILE, search_path(template_dirs)).read_text("utf-8"))


def over_phrase(rate: float | None, ladder: Sequence[float]) -> str | None:
    """ "trên T%" with T the largest step of the ladder below the rate; 100% when all.

    >>> over_phrase(85.23, [50, 60, 70, 80, 90, 95]), over_phrase(97.6, [80, 90, 95])
    ('trên 80%', 'trên 95%')
    >>> over_phrase(100, [90]), over_phrase(40, [50]), over_phrase(None, [50])
    ('100%', '40,00%', None)
    """
    if rate is None:
        return None
    if rate >= 100:
        return formatting.phan_tram(100, 0)
    below = [step for step in ladder if step < rate]
    if not below:
        return formatting.phan_tram(rate)
    return "trên " + formatting.phan_tram(max(below), 0)


def band_phrase(rates: Sequence[float | None], step: float) -> str | None:
    """The span of yearly rates between multiples of `step`: "15 - 20%".

    >>> band_phrase([15.5, 15.52, 17.1], 5), band_phrase([20.0], 5), band_phrase([None], 5)
    ('15 - 20%', '20 - 25%', None)
    """
    known = [r for r in rates if r is not None]
    if not known or len(known) < len(rates):
        return None
    low = math.floor(min(known) / step) * step
    high = max(math.ceil(max(known) / step) * step, low + step)
    return f"{formatting.so(low)} - {formatting.phan_tram(high, 0)}"


def approx_phrase(value: float | None, divisor: float, step: float) -> str | None:
    """A figure rounded for prose: "gần 16" (15.946 / 1000), "gần 9,5", "trên 9", "9,5".

    >>> approx_phrase(15946, 1000, 1), approx_phrase(9.44, 1, 0.5), approx_phrase(9.1, 1, 0.5)
    ('gần 16', 'gần 9,5', 'trên 9')
    >>> approx_phrase(9.5, 1, 0.5), approx_phrase(None, 1, 1)
    ('9,5', None)
    """
    if value is None:
        return None
    exact = formatting.round_half_up(value, 6) / formatting.round_half_up(divisor, 6)
    step_d = formatting.round_half_up(step, 6)
    rounded = formatting.round_half_up(exact / step_d) * step_d
    decimals = 0 if rounded == rounded.to_integral_value() else _decimals(step)
    figure = formatting.so(rounded, decimals)
    if rounded > exact:
        return "gần " + figure
    if rounded < exact:
        return "trên " + figure
    return figure


def _pct(part: Any, whole: Any) -> float | None:
    return formatting.ty_le(part, whole)


def _sum(values: Sequence[Any]) -> float | None:
    return None if not values or any(v is None for v in values) else sum(values)


def _ratings(years: Sequence[Mapping[str, Any]], wording: Mapping[str, Any]) -> dict[str, Any]:
    """Section 4.4's yearly averages: ratios of the closed years' sums, never means of rates."""
    closed = [y for y in years if y.get("closed")]
    values = [dict(y.get("values") or {}) for y in closed]

    def total(code: str) -> float | None:
        return _sum([v.get(code) for v in values])

    def org(bucket: int, v: Mapping[str, Any]) -> float:
        return v.get(f"org_rating__{bucket}") or 0

    orgs_rated = _sum([sum(org(k, v) for k in (1, 2, 3, 4)) or None for v in values])
    orgs_good = _sum([org(3, v) + org(4, v) for v in values])
    excellent, good = total("members_rated_excellent"), total("members_rated_good")
    members_good = None if excellent is None or good is None else excellent + good
    excellent_by_year = [
        _pct(v.get("members_rated_excellent"), v.get("members_rated")) for v in values
    ]
    ladder, step = wording["over_ladder"], wording["band_step"]
    return {
        "years": [y["year"] for y in closed],
        "orgs_good_pct": _pct(orgs_good, orgs_rated),
        "orgs_good_phrase": over_phrase(_pct(orgs_good, orgs_rated), ladder),
        "members_good_pct": _pct(members_good, total("members_rated")),
        "members_good_phrase": over_phrase(_pct(members_good, total("members_rated")), ladder),
        "members_excellent_phrase": band_phrase(excellent_by_year, step) if values else None,
    }


def _sections(
    context: Mapping[str, Any],
    start: Mapping[str, Any],
    cutoff: Mapping[str, Any],
    term: Mapping[str, Any],
    wording: Mapping[str, Any],
) -> dict[str, Any]:
    """The figures of sections 1.1, 1.4, 3.2, 3.3 with their percentages and phrases."""
    stocks = dict(cutoff.get("indicators") or {})
    sectors = dict(context.get("sectors") or {})
    agency_term = dict((sectors.get("agency") or {}).get("term") or {})
    approx = wording["approximate"]
    employees, income = stocks.get("employees"), stocks.get("avg_income_mn_vnd_month")
    meeting_pct = stocks.get("branches_meeting_regularly_pct")
    culture = {k: stocks.get(f"culture_{k}") for k in ("registered", "achieved", "model")}
    return {
        "agencies": {
            "tasks_assigned": agency_term.get("tasks_assigned"),
            "tasks_completed": agency_term.get("tasks_completed"),
            "tasks_completed_pct": _pct(
                agency_term.get("tasks_completed"), agency_term.get("tasks_assigned")
            ),
        },
        "enterprises": {
            "revenue": term.get("revenue_bn_vnd"),
            "budget": term.get("state_budget_paid_bn_vnd"),
            "employees": employees,
            "employees_phrase": approx_phrase(employees, **approx["employees"]),
            "income": income,
            "income_phrase": approx_phrase(income, **approx["avg_income_mn_vnd_month"]),
        },
        "branches": {
            "meeting_pct": meeting_pct,
            "meeting_phrase": over_phrase(meeting_pct, wording["over_ladder"]),
            "secretaries_trained": term.get("secretaries_trained"),
            "secretaries": cutoff.get("branches"),
        },
        "culture": culture
        | {
            "units": cutoff.get("units"),
            "achieved_pct": _pct(culture["achieved"], cutoff.get("units")),
            "model_pct": _pct(culture["model"], cutoff.get("units")),
        },
        "ratings": _ratings(context.get("years") or [], wording),
    }


def _targets(context: Mapping[str, Any]) -> dict[str, Any]:
    targets = dict(context.get("targets") or {})
    return {
        "targets": targets.get("targets") or [],
        "total": targets.get("total"),
        "met": targets.get("met"),
        "not_met": targets.get("not_met") or [],
        "missing": targets.get("missing") or [],
        "not_due": targets.get("not_due") or [],
        "years": targets.get("years") or [],
    }


def _sector_tables(context: Mapping[str, Any], wording: Mapping[str, Any]) -> list[dict]:
    """Phụ lục 2: each table of `wording.yaml`, a row per sector and the bloc's total."""
    catalog = load_catalog()
    sectors = dict(context.get("sectors") or {})
    bloc = {
        "start": dict((context.get("start") or {}).get("indicators") or {}),
        "cutoff": dict((context.get("cutoff") or {}).get("indicators") or {}),
        "term": dict(context.get("term") or {}),
    }
    totals = {m: (context.get(m) or {}).get("units") for m in ("start", "cutoff")}

    def cell(column: Mapping[str, Any], figures: Mapping[str, Any], units: Mapping) -> Any:
        if "units" in column:
            return units.get(column["units"])
        return (figures.get(column["measure"]) or {}).get(column["indicator"])

    tables = []
    for table in wording["sector_tables"]:
        columns = table["columns"]
        rows = [
            {
                "label": SECTOR_LABELS[s].capitalize(),
                "cells": [
                    cell(c, sectors.get(s) or {}, (sectors.get(s) or {}).get("units") or {})
                    for c in columns
                ],
            }
            for s in SECTORS
        ]
        total = {"label": "Toàn Đảng bộ", "cells": [cell(c, bloc, totals) for c in columns]}
        tables.append(
            {
                "title": table["title"],
                "headers": [c.get("label") or catalog[c["indicator"]].label for c in columns],
                "rows": rows,
                "total": total,
            }
        )
    return tables


def _chart_data(context: Mapping[str, Any], admission: Mapping[str, Any]) -> dict[str, Any]:
    sectors = dict(context.get("sectors") or {})
    years = list(context.get("years") or [])
    parts = ("members_rated_excellent", "members_rated_good", "members_rated_complete")
    rated = [
        {"year": y["year"], "members_rated": v.get("members_rated")}
        | {c: v.get(c) or 0 for c in (*parts, "members_rated_incomplete")}
        for y in years
        if y.get("closed") and (v := y.get("values") or {}).get("members_rated")
    ]
    admitted = [
        {"year": y["year"], "months": y["months"], "admitted": v["members_admitted"]}
        for y in years
        if (v := y.get("values") or {}).get("members_admitted") is not None
    ]

    def members(measure: str) -> dict[str, Any]:
        return {
            s: ((sectors.get(s) or {}).get(measure) or {}).get("members_total") for s in SECTORS
        }

    by_sector = {"start": members("start"), "cutoff": members("cutoff")}
    has_sectors = any(v is not None for m in by_sector.values() for v in m.values())
    return {
        "members_by_sector": by_sector if has_sectors else None,
        "ratings_by_year": rated or None,
        "admissions_by_year": {"years": admitted, "target": admission["target_per_year"]}
        if admitted
        else None,
    }


def make_charts(view: Mapping[str, Any], wording: Mapping[str, Any], out_dir: Path) -> dict:
    """Draw the charts the data allow into `out_dir/bieu-do/`; None for a chart without data."""
    data, words = view["chart_data"], wording["charts"]
    folder = out_dir / CHARTS_DIR
    drawn: dict[str, Path | None] = {key: None for key in data}
    if data["members_by_sector"]:
        drawn["members_by_sector"] = charts.members_by_sector(
            data["members_by_sector"]["start"],
            data["members_by_sector"]["cutoff"],
            words["members_by_sector"],
            folder / "dang-vien-theo-khoi.png",
        )
    if data["ratings_by_year"]:
        drawn["ratings_by_year"] = charts.ratings_by_year(
            data["ratings_by_year"], words["ratings_by_year"], folder / "xep-loai-dang-vien.png"
        )
    if data["admissions_by_year"]:
        drawn["admissions_by_year"] = charts.admissions_by_year(
            data["admissions_by_year"]["years"],
            data["admissions_by_year"]["target"],
            words["admissions_by_year"],
            folder / "ket-nap-dang-vien.png",
        )
    return {
        key: None
        if path is None
        else {
            "title": words[key]["title"],
            "file": f"{CHARTS_DIR}/{path.name}",
            "path": str(path),
            "data_uri": "data:image/png;base64,"
            + base64.b64encode(path.read_bytes()).decode("ascii"),
        }
        for key, path in drawn.items()
    }


def _by_sector(
    context: Mapping[str, Any], start: Mapping[str, Any], cutoff: Mapping[str, Any]
) -> dict[str, Any]:
    """TCCSĐ and members of each sector at the start and the cut-off (the footnotes' figures)."""
    sectors = dict(context.get("sectors") or {})

    def members(measure: str) -> dict[str, Any]:
        return {
            s: ((sectors.get(s) or {}).get(measure) or {}).get("members_total") for s in SECTORS
        }

    return {
        "order": list(SECTORS),
        "units": {"start": dict(start["sectors"]), "cutoff": dict(cutoff["sectors"])},
        "members": {"start": members("start"), "cutoff": members("cutoff")},
    }


def _trace(trace: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The HTML draft's appendix "Nguồn gốc số liệu": `tonghop.explain.trace_context` output."""
    if not trace:
        return None
    return {
        "figures": list(trace.get("figures") or []),
        "skipped": list(trace.get("skipped") or []),
        "html": trace.get("html"),
    }


def trace_html(trace: Mapping[str, Any], env: SandboxedEnvironment) -> Markup:
    """Each figure of a trace with every unit's contribution, as HTML (`_trace_figures.html.j2`).

    The `html` that `tonghop.explain.trace_context` rendered when the trace has it, so that
    bao-cao.html's appendix and truy-vet.html embed one rendering: on the sample bloc's 27,101
    contributions a rendering takes 1.2 s and 7 MB (measured).
    """
    if trace.get("html") is not None:
        return Markup(trace["html"])  # rendered by trace_html, autoescaped there
    return Markup(env.get_template(TRACE_FIGURES_TEMPLATE).render(trace=trace))


def footnote_function(numbers: Mapping[str, int] | None) -> Callable[..., str | Markup]:
    """`{{ footnote('key') }}` for the templates: a mark until numbered, then the reference.

    Numbered, it is `[^n]` in Markdown and a `<sup>` link in HTML; unnumbered (the first pass
    and the .docx) it is a mark that `number_footnotes` / `render_docx` find and replace.
    """

    @pass_eval_context
    def footnote(eval_ctx: EvalContext, key: str) -> str | Markup:
        if numbers is None:
            return FOOTNOTE_MARK.format(key)
        if key not in numbers:  # its macro rendered nothing: no figure to give
            return ""
        n = numbers[key]
        if eval_ctx.autoescape:
            return Markup(
                '<sup class="footnote-ref" id="tham-chieu-{0}">'
                '<a href="#chu-thich-{0}">{0}</a></sup>'
            ).format(n)
        return f"[^{n}]"

    return footnote


def number_footnotes(env: SandboxedEnvironment, view: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The footnotes the draft references, numbered in reading order, with their text.

    The Markdown draft is rendered once with marks to find the order; each text is the macro
    of the same name in `_footnotes.j2`, rendered with the draft's figures.
    """
    probe = env.get_template("base.md.j2").render(
        dict(view) | {"footnote": footnote_function(None)}
    )
    keys = list(dict.fromkeys(_FOOTNOTE_MARK_RE.findall(probe)))
    if not keys:
        return []
    module = env.get_template(FOOTNOTES_TEMPLATE).make_module(dict(view))
    notes: list[dict[str, Any]] = []
    for key in keys:
        macro = getattr(module, key, None)
        if macro is None:
            raise ValueError(f"không có chú thích '{key}' trong {FOOTNOTES_TEMPLATE}")
        text = " ".join(str(macro()).split())
        if text:
            notes.append({"key": key, "number": len(notes) + 1, "text": text})
    return notes


def build_view(
    context: Mapping[str, Any],
    settings: ReportSettings,
    outline: Mapping[str, list],
    wording: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What the templates see: the context with every expected key present, and derived values."""
    wording = wording or load_wording()
    start = _stock(context.get("start"))
    cutoff = _stock(context.get("cutoff"))
    # Every flow of the catalog may be named by a template: absent ones render as placeholders.
    flows = {ind.code: None for ind in load_catalog() if ind.time_aggregation == "flow"}
    term = flows | dict(context.get("term") or {})
    admission = _admission(context, term["members_admitted"])
    return _sections(context, start, cutoff, term, wording) | {
        "targets": _targets(context),
        "sector_tables": _sector_tables(context, wording),
        "chart_data": _chart_data(context, admission),
        "charts": {"members_by_sector": None, "ratings_by_year": None, "admissions_by_year": None},
        "settings": settings.model_dump(),
        "period": dict(context.get("period") or {}),
        "start": start,
        "cutoff": cutoff,
        "term": term,
        "coverage": _coverage(context.get("coverage")),
        "changes": {"units": _change(start["units"], cutoff["units"])},
        "admission": admission,
        "sector_labels": dict(SECTOR_LABELS),
        "by_sector": _by_sector(context, start, cutoff),
        "footnote": footnote_function(None),
        "footnotes": [],
        "trace": _trace(context.get("trace")),
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
    wording = load_wording(template_dirs)
    view = build_view(context, settings, load_outline(settings, template_dirs), wording)
    view["charts"] = make_charts(view, wording, out_dir)
    env = make_environment(template_dirs)
    view["footnotes"] = number_footnotes(env, view)
    view["footnote"] = footnote_function({f["key"]: f["number"] for f in view["footnotes"]})
    if view["trace"]:
        view["trace"]["html"] = trace_html(view["trace"], env)
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
    images = {
        key: chart | {"image": InlineImage(doc, chart["path"], width=Mm(CHART_WIDTH_MM))}
        for key, chart in (view.get("charts") or {}).items()
        if chart
    }
    charts_view = dict(view.get("charts") or {}) | images
    docx_view = dict(view) | {"charts": charts_view, "footnote": footnote_function(None)}
    doc.render(docx_view, jinja_env=_docx_environment(), autoescape=True)
    doc.save(str(out_path))
    final = Document(str(out_path))
    margins = settings.margins_mm
    for section in final.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(margins.top), Mm(margins.bottom)
        section.left_margin, section.right_margin = Mm(margins.left), Mm(margins.right)
    texts = {f["key"]: f["text"] for f in view.get("footnotes") or []}
    notes: list[str] = []
    for p in list(final.element.body.iter(qn("w:p"))):
        paragraph = Paragraph(p, final)
        for run in list(paragraph.runs):
            _footnote_references(run, texts, notes)
        for run in list(paragraph.runs):
            _highlight_placeholders(run, paragraph)
    if notes:
        _add_footnotes_part(final, notes)
    final.save(str(out_path))
    return out_path


def _footnote_references(run: Run, texts: Mapping[str, str], notes: list[str]) -> None:
    """Replace each footnote mark in a run by a Word footnote reference; collect the texts."""
    text = run.text
    if not _FOOTNOTE_MARK_RE.search(text):
        return
    # A footnote without any figure (see number_footnotes) leaves no mark and no split.
    text = _FOOTNOTE_MARK_RE.sub(lambda m: m.group() if m.group(1) in texts else "", text)
    if not _FOOTNOTE_MARK_RE.search(text):
        run.text = text
        return
    size = run.font.size.pt if run.font.size else 14
    anchor = run._r
    last = 0
    pieces: list[tuple[str, str | None]] = []
    for match in _FOOTNOTE_MARK_RE.finditer(text):
        pieces.append((text[last : match.start()], None))
        pieces.append(("", match.group(1)))
        last = match.end()
    pieces.append((text[last:], None))
    for piece, key in pieces:
        if key is None:
            if not piece:
                continue
            element = copy.deepcopy(run._r)
            Run(element, run._parent).text = piece
        else:
            notes.append(texts[key])
            element = parse_xml(
                f'<w:r xmlns:w="{_W}"><w:rPr>{_fonts_xml()}'
                f'<w:sz w:val="{round(size * 2)}"/><w:szCs w:val="{round(size * 2)}"/>'
                f'<w:vertAlign w:val="superscript"/></w:rPr>'
                f'<w:footnoteReference w:id="{len(notes)}"/></w:r>'
            )
        anchor.addnext(element)
        anchor = element
    run._r.getparent().remove(run._r)


def _fonts_xml() -> str:
    slots = " ".join(f'w:{slot}="{_FONT}"' for slot in ("ascii", "hAnsi", "eastAsia", "cs"))
    return f"<w:rFonts {slots}/>"


def _add_footnotes_part(document: Any, notes: Sequence[str]) -> None:
    """Add `word/footnotes.xml` (separators + one footnote per text, id 1..n, 12 pt)."""
    size = FOOTNOTE_SIZE_PT * 2
    rpr = f'{_fonts_xml()}<w:sz w:val="{size}"/><w:szCs w:val="{size}"/>'
    spacing = '<w:pPr><w:spacing w:after="0" w:line="240" w:lineRule="auto"/></w:pPr>'
    body = [
        f'<w:footnote w:type="separator" w:id="-1"><w:p>{spacing}'
        "<w:r><w:separator/></w:r></w:p></w:footnote>",
        f'<w:footnote w:type="continuationSeparator" w:id="0"><w:p>{spacing}'
        "<w:r><w:continuationSeparator/></w:r></w:p></w:footnote>",
    ]
    for number, text in enumerate(notes, start=1):
        body.append(
            f'<w:footnote w:id="{number}"><w:p><w:pPr><w:spacing w:after="0"/>'
            '<w:jc w:val="both"/></w:pPr>'
            f'<w:r><w:rPr>{rpr}<w:vertAlign w:val="superscript"/></w:rPr><w:footnoteRef/></w:r>'
            f'<w:r><w:rPr>{rpr}</w:rPr><w:t xml:space="preserve"> {escape(text)}</w:t></w:r>'
            "</w:p></w:footnote>"
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:footnotes xmlns:w="{_W}">{"".join(body)}</w:footnotes>'
    )
    doc_part = document.part
    for rel in list(doc_part.rels.values()):
        if rel.reltype == RT.FOOTNOTES:  # a template restyled in Word may carry its own part
            doc_part.drop_rel(rel.rId)
    part = Part(
        PackURI("/word/footnotes.xml"), CT.WML_FOOTNOTES, xml.encode("utf-8"), doc_part.package
    )
    doc_part.relate_to(part, RT.FOOTNOTES)


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
