"""What the report's templates see (`build_view`): the draft context with every expected key
present, and the figures derived from it (a percentage, tăng / giảm, an average, a rounding
phrase), computed here, never in a template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from tonghop import formatting
from tonghop.catalog import SECTOR_LABELS, SECTORS, load_catalog
from tonghop.periods import PeriodError, PeriodRange
from tonghop.report.footnotes import footnote_function
from tonghop.report.phrases import approx_phrase, band_phrase, over_phrase
from tonghop.report.templates import load_wording
from tonghop.settings import ReportSettings

STOCK_KEYS = ("units", "dang_bo", "chi_bo", "branches", "members")


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
