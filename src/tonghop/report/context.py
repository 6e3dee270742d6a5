"""What the report's templates see (`build_view`): the run's figure registry
(`tonghop.report.figure_registry`), printed with `{{ fig('id') }}`, the words that go with the
figures (tăng / giảm, vượt / thấp hơn), Phụ lục 1's and 2's rows, and the outline."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tonghop.catalog import FORM_LABELS, SECTOR_LABELS, SECTORS, load_catalog
from tonghop.external import external_specs, load_external
from tonghop.figures import Figures, figure_function
from tonghop.formatting import MarkdownText
from tonghop.report.figure_registry import build_figures, condition_figure_ids, move_id
from tonghop.report.footnotes import footnote_function
from tonghop.report.templates import load_wording
from tonghop.settings import ReportSettings

logger = logging.getLogger(__name__)
PLACEHOLDER_START = "Phần nội dung do cơ quan soạn thảo bổ sung"


def _origin(figures: Figures, figure_id: str) -> str:
    """Who gives a figure: the TCCSĐ, a body of the bloc committee, or an outside document."""
    figure = figures[figure_id]
    if figure.source == "external":
        spec = external_specs().get(figure_id.removeprefix("external."))
        return (
            f"tệp số liệu ngoài, trích văn bản của {spec.origin}" if spec else "tệp số liệu ngoài"
        )
    code = figure_id.split(".", 1)[-1].split("@")[0]
    catalog = load_catalog()
    if code in catalog and catalog[code].source == "committee":
        forms = catalog[code].applies_to.forms or []
        return "báo cáo của " + ", ".join(FORM_LABELS[f] for f in forms)
    if figure.inputs:
        return "; ".join(_origin(figures, i) for i in figure.inputs if figures.value(i) is None)
    return "báo cáo của các TCCSĐ"


def missing_function(figures: Figures) -> Any:
    """`{{ missing_note('id', ...) }}`: the placeholder an owner reads instead of a sentence
    whose figures are not all known, naming each unknown figure and who gives it; a partial
    writes `{% if known(ids) %}sentence{% else %}**{{ missing_note(ids) }}**{% endif %}`."""

    def missing(*ids: str) -> MarkdownText:
        unknown = [i for i in ids if i not in figures or figures.value(i) is None]
        named = "; ".join(
            f"{figures[i].label} ({_origin(figures, i) or 'chưa đủ số liệu'})"
            if i in figures
            else f"{i} (chưa đủ số liệu)"
            for i in unknown
        )
        return MarkdownText(f"[{PLACEHOLDER_START} — chưa có số liệu: {named}]")

    return missing


def cite_function(figures: Figures) -> Any:
    """`{{ cite('id', ...) }}`: the footnote text citing the documents outside figures were
    copied from ("Nguồn: ..."), each document once; empty when none of them is known."""

    def cite(*ids: str) -> str:
        known = [figures[i] for i in ids if figures.value(i) is not None]
        documents = list(dict.fromkeys(f.formula for f in known))
        return f"Nguồn: {'; '.join(documents)}." if documents else ""

    return cite


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


def _direction(figures: Figures) -> str | None:
    """Whether the TCCSĐ rose or fell since the term's start, as the sentence says it."""
    start, cutoff = figures.value("start.units"), figures.value("cutoff.units")
    if start is None or cutoff is None:
        return None
    if cutoff == start:
        return "không đổi"
    return "tăng" if cutoff > start else "giảm"


def _admission(context: Mapping[str, Any], figures: Figures) -> dict[str, Any]:
    """Whether admissions were above or below the resolution's target (the figures themselves
    are in the registry)."""
    target = (context.get("admission") or {}).get("target_per_year")
    average = figures.value("term.members_admitted_per_year")
    word = None
    if average is not None and target:
        word = "vượt" if average >= float(target) else "thấp hơn"
    return {"target_per_year": target, "word": word}


def _condition(cond: Mapping[str, Any]) -> dict[str, Any]:
    """A condition of Phụ lục 1 with the ids of its figures and the words around them."""
    quantity = cond.get("flows") and cond["unit"] != "%"
    return dict(cond) | {
        "figures": condition_figure_ids(cond),
        "suffix": "" if cond["unit"] == "%" else f" {cond['unit']}",
        "term_label": "bình quân mỗi năm cả kỳ" if quantity else "bình quân các năm",
        "revisions": cond.get("revisions") or [],
    }


def _targets(context: Mapping[str, Any]) -> dict[str, Any]:
    targets = dict(context.get("targets") or {})
    assessed = [
        t | {"conditions": [_condition(c) for c in t["conditions"]]}
        for t in targets.get("targets") or []
    ]
    return {
        "targets": assessed,
        "total": targets.get("total"),
        "met": targets.get("met"),
        "not_met": targets.get("not_met") or [],
        "missing": targets.get("missing") or [],
        "not_due": targets.get("not_due") or [],
        "years": targets.get("years") or [],
    }


def _cell_id(column: Mapping[str, Any], sector: str | None) -> str:
    """The figure a column of a sector table prints for a sector (None: the bloc's total)."""
    if "units" in column:
        return f"{column['units']}.{sector or 'units'}"
    if "moves" in column:
        return move_id(column["moves"], sector)
    group = f"@sector:{sector}" if sector else ""
    return f"{column['measure']}.{column['indicator']}{group}"


def _sector_tables(figures: Figures, wording: Mapping[str, Any]) -> list[dict]:
    """Phụ lục 2: each table of `wording.yaml`, a row per sector and the bloc's total; each
    cell's figure id (`ids`) and value (`cells`)."""
    catalog = load_catalog()

    def row(label: str, sector: str | None, columns: list) -> dict[str, Any]:
        ids = [_cell_id(c, sector) for c in columns]
        return {"label": label, "ids": ids, "cells": [figures.value(i) for i in ids]}

    return [
        {
            "title": table["title"],
            "headers": [c.get("label") or catalog[c["indicator"]].label for c in table["columns"]],
            "rows": [row(SECTOR_LABELS[s].capitalize(), s, table["columns"]) for s in SECTORS],
            "total": row("Toàn Đảng bộ", None, table["columns"]),
        }
        for table in wording["sector_tables"]
    ]


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


def _by_sector(figures: Figures) -> dict[str, Any]:
    """The footnotes' breakdowns by sector: TCCSĐ and members at the start and the cut-off,
    as figure ids, and whether any of them is known."""

    def breakdown(pattern: str) -> dict[str, Any]:
        ids = {s: pattern.format(s) for s in SECTORS}
        known = any(figures.value(i) is not None for i in ids.values())
        return {"ids": ids, "known": known}

    return {
        "order": list(SECTORS),
        "units": {m: breakdown(m + ".{}") for m in ("start", "cutoff")},
        "members": {m: breakdown(m + ".members_total@sector:{}") for m in ("start", "cutoff")},
    }


def _trace(trace: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The HTML draft's appendix "Nguồn gốc số liệu": `tonghop.trace.trace_context` output."""
    if not trace:
        return None
    return {
        "figures": list(trace.get("figures") or []),
        "skipped": list(trace.get("skipped") or []),
        "html": trace.get("html"),
    }


def build_view(
    context: Mapping[str, Any],
    settings: ReportSettings,
    outline: Mapping[str, list],
    wording: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What the templates see: the run's figures (`figures`, printed with `fig('id')`), the
    words that go with them, and the outline."""
    wording = wording or load_wording()
    external, external_problems = load_external(settings.external_figures)
    for problem in external_problems:
        logger.warning(problem)
    figures = build_figures(context, wording, external)
    admission = _admission(context, figures)
    return {
        "figures": figures,
        "fig": figure_function(figures, html=False),
        "known": lambda *ids: all(i in figures and figures.value(i) is not None for i in ids),
        "missing_note": missing_function(figures),
        "cite": cite_function(figures),
        "external_problems": external_problems,
        "targets": _targets(context),
        "sector_tables": _sector_tables(figures, wording),
        "chart_data": _chart_data(context, admission),
        "charts": {"members_by_sector": None, "ratings_by_year": None, "admissions_by_year": None},
        "settings": settings.model_dump(),
        "period": dict(context.get("period") or {}),
        "coverage": _coverage(context.get("coverage")),
        "changes": {"units": {"direction": _direction(figures)}},
        "admission": admission,
        "sector_labels": dict(SECTOR_LABELS),
        "by_sector": _by_sector(figures),
        "footnote": footnote_function(None),
        "footnotes": [],
        "trace": _trace(context.get("trace")),
        "outline": outline["body"],
        "appendix": outline["appendix"],
    }
