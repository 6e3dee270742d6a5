"""Word the failing rows of the rules as findings a steward reads, in Vietnamese."""

from __future__ import annotations

import math
import re
from typing import Any

from tonghop.catalog import Catalog
from tonghop.formatting import so
from tonghop.rules import CompiledRule
from tonghop.validation.findings import Finding, finding_order

_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")


def _fmt(value: Any, decimals: int) -> str:
    if value is None:
        return "(trống)"
    if isinstance(value, float) and math.isnan(value):
        return "(trống)"
    if isinstance(value, (int, float)):
        shown = decimals if float(value) != int(value) or decimals else 0
        if float(value) != int(value) and not decimals:
            shown = min(6, len(repr(float(value)).split(".")[1]))
        return so(value, shown)
    return str(value)


def word_message(rule: CompiledRule, row: dict[str, Any], catalog: Catalog) -> str:
    """Fill a rule's Vietnamese message from a failing row."""

    def replace(match: re.Match[str]) -> str:
        name, code = match.group(1), match.group(2)
        if code:
            if name == "label":
                return catalog[code].label if code in catalog else code
            if name == "value":
                decimals = catalog[code].decimals if code in catalog else 0
                return _fmt(row.get(f"v_{code}"), decimals)
        if name == "label":
            code = row.get("code") or (rule.indicators[0] if rule.indicators else "")
            return catalog[code].label if code in catalog else str(code)
        if name == "value":
            code = rule.indicators[0]
            return _fmt(row.get(f"v_{code}"), catalog[code].decimals)
        if name in ("reported",):
            return _fmt(row.get(f"v_{rule.indicators[0]}"), 2)
        if name in ("computed",):
            return _fmt(round(row.get("computed") or 0, 4), 4)
        if name in rule.params:
            return str(rule.params[name])
        if name == "file":
            return str(row.get("file") or row.get("file_name") or "")
        value = row.get(name)
        if isinstance(value, float):
            return _fmt(value, 0 if value == int(value) else 4)
        return "" if value is None else str(value)

    return " ".join(_PLACEHOLDER.sub(replace, rule.message).split())


def _times(ratio: float) -> str:
    """A ratio as a person says it: one decimal below 10 (`2,5`), whole numbers above (`18`)."""
    if ratio < 10:
        return so(round(ratio, 1), 1).removesuffix(",0")
    return so(round(ratio))


def _compared(value: float, median: float) -> str:
    """How far a value is from a usual level, as a person says it ("gấp khoảng 9 lần")."""
    if median > 0 and value > median:
        return f"gấp khoảng {_times(value / median)} lần"
    if median > 0 and value > 0:
        return f"chỉ bằng khoảng 1/{_times(median / value)}"
    return "cao hơn hẳn" if value > median else "thấp hơn hẳn"


def usual_level(row: dict[str, Any], code: str, decimals: int) -> dict[str, str]:
    """How a value compares with the unit's own past periods, in words a steward reads: the
    placeholders `compared` ("gấp khoảng 9 lần") and `usual` ("5 mỗi kỳ, …") of a plausibility
    finding, from the row's value and the history columns of its query."""
    value, median = row.get(f"v_{code}"), row.get("median")
    if value is None or median is None:
        return {}
    low, high = row.get("low"), row.get("high")
    usual = f"{_fmt(median, decimals)} mỗi kỳ"
    if low is not None and high is not None and low != high:
        usual = f"khoảng {usual}, từ {_fmt(low, decimals)} đến {_fmt(high, decimals)}"
    first, last = row.get("first_period"), row.get("last_period")
    if first and last:
        usual += f", qua {row.get('history')} kỳ từ {first} đến {last}"
    return {"compared": _compared(value, median), "usual": usual}


def peer_level(row: dict[str, Any], code: str, decimals: int) -> dict[str, str]:
    """How a value compares with the units of its sector and form that period, in words:
    `compared` and `usual` ("khoảng 120, một nửa số đơn vị từ 60 đến 200, ở 25 đơn vị cùng
    kỳ") of a peers finding, from its query's columns (median, quartiles, how many; a count
    per member scaled to the unit's members, shown to one decimal below 10)."""
    value, median = row.get(f"v_{code}"), row.get("median")
    if value is None or median is None:
        return {}

    def level(x: float) -> str:
        if not row.get("members"):
            return _fmt(x, decimals)
        return so(round(x, 1), 1).removesuffix(",0") if x < 10 else so(round(x))

    usual = f"khoảng {level(median)}"
    low, high = row.get("low"), row.get("high")
    if low is not None and high is not None and low != high:
        usual += f", một nửa số đơn vị từ {level(low)} đến {level(high)}"
    usual += f", ở {row.get('peers')} đơn vị cùng kỳ"
    if row.get("members"):
        usual += f", tính theo số đảng viên của đơn vị ({_fmt(row['members'], 0)})"
    return {"compared": _compared(value, median), "usual": usual}


def likely_slip(row: dict[str, Any], code: str, decimals: int) -> tuple[float | None, str]:
    """The value a power-of-ten slip would have been (the query's `slip`), where it can be
    written with the indicator's decimals, and the words that name it (`slip`)."""
    value, slip = row.get(f"v_{code}"), row.get("slip")
    if value is None or slip is None or not slip:
        return None, ""
    if abs(round(slip, decimals) - slip) > 1e-9:
        return None, ""
    times = round(value / slip)
    why = (
        "có lẽ mất dấu phẩy thập phân"
        if times == 10 and decimals
        else f"có lẽ gõ nhầm gấp {so(times)} lần"
    )
    return round(
        slip, decimals
    ), f"; {why}, số đúng có thể là {_fmt(round(slip, decimals), decimals)}"


def build_findings(
    rules: list[CompiledRule],
    failing: dict[str, list[dict]],
    catalog: Catalog,
    unit_names: dict[str, str],
) -> list[Finding]:
    """One finding per failing row, worded for a steward."""
    findings = []
    by_id = {r.rule_id: r for r in rules}
    for rule_id, rows in failing.items():
        rule = by_id[rule_id]
        for row in rows:
            suggested = None
            if rule.kind == "plausibility":
                code = rule.indicators[0]
                decimals = catalog[code].decimals
                suggested, slip = likely_slip(row, code, decimals)
                level = peer_level if "peers" in row else usual_level
                row = row | level(row, code, decimals) | {"slip": slip}
            values = {k[2:]: row[k] for k in row if k.startswith("v_")}
            indicators = list(rule.indicators) or ([row["code"]] if row.get("code") else [])
            findings.append(
                Finding(
                    unit_code=row.get("unit_code"),
                    period=row.get("period"),
                    rule_id=rule.rule_id,
                    kind=rule.kind,
                    severity=rule.severity,
                    message=word_message(rule, row, catalog),
                    indicators=indicators,
                    values=values or {k: row[k] for k in ("raw",) if row.get(k) is not None},
                    submission_id=row.get("submission_id"),
                    file=row.get("file") or row.get("file_name"),
                    location=row.get("location") or row.get("locations"),
                    suspect=indicators[0] if suggested is not None else None,
                    suggested_value=suggested,
                    unit_name=unit_names.get(row.get("unit_code") or ""),
                )
            )
    findings.sort(key=finding_order)
    return findings


def describe_rule(rule: CompiledRule, catalog: Catalog | None = None) -> str:
    """A rule's statement for the Data Docs: its id, then its message with what a failing row
    alone can fill shown as `…` (indicators named by their labels when `catalog` is given)."""

    def label(code: str) -> str:
        return catalog[code].label if catalog is not None and code in catalog else code

    def replace(match: re.Match[str]) -> str:
        name, code = match.group(1), match.group(2)
        if name == "label" and (code or rule.indicators):
            return label(code or rule.indicators[0])
        if name in rule.params:
            return str(rule.params[name])
        return "…"

    return f"{rule.rule_id}: " + " ".join(_PLACEHOLDER.sub(replace, rule.message).split())
