"""Compile the rules of `expectations/rules.yaml` and the catalog into SQL for GX to run.

Every compiled rule is one query over a validation frame (`{batch}` is the frame GX hands in)
that returns the failing rows with fixed columns: `unit_code`, `period`, `submission_id`,
`file_name`, `location`, then `v_<code>` for each indicator value involved and the extra
columns its message needs. Identifiers come only from the catalog; values are literals that
the compiler formats from numbers it owns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from tonghop.catalog import Catalog, Indicator
from tonghop.paths import EXPECTATIONS_DIR

Kind = Literal[
    "bounds",
    "sum",
    "part_le_whole",
    "ratio",
    "stock_flow",
    "completeness",
    "duplicate",
    "type",
    "unknown_unit",
    "unknown_indicator",
    "plausibility",
    "policy",
]
Severity = Literal["error", "warning"]

# Frames the queries run over (tables built by tonghop.validate).
LONG = "val_values"  # one row per received value of a current submission in scope
WIDE = "val_wide"  # one row per current submission in scope, one column per indicator

_KEYS = "unit_code, period, submission_id, file_name"


class RuleSpec(BaseModel):
    id: str
    kind: Kind
    severity: Severity
    message: str
    check: str | None = None
    total: str | None = None
    parts: list[str] = []
    part: str | None = None
    whole: str | None = None


class DerivedSpec(BaseModel):
    id_prefix: str
    severity: Severity
    message: str


class RuleSet(BaseModel):
    bounds: DerivedSpec
    ratio: DerivedSpec
    rules: list[RuleSpec]


@dataclass(frozen=True)
class CompiledRule:
    """One rule ready to run: the frame it reads, its query and how to word a failure."""

    rule_id: str
    kind: str
    severity: str
    frame: str
    query: str
    message: str
    indicators: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)


def load_rules(path: Path | None = None) -> RuleSet:
    """Read `expectations/rules.yaml`."""
    if path is None:
        return _default_rules()
    return RuleSet.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@cache
def _default_rules() -> RuleSet:
    return load_rules(EXPECTATIONS_DIR / "rules.yaml")


def q(code: str) -> str:
    """Quote a catalog code as a column identifier (codes are checked snake_case)."""
    return f'"{code}"'


def _literal(value: float) -> str:
    return repr(float(value))


def allowed_text(ind: Indicator) -> str:
    low, high, whole = ind.bounds
    if ind.value_type == "flag":
        return "0 hoặc 1"
    kind = "số nguyên" if whole else "số"
    if high is None:
        return f"{kind} ≥ {low:g}"
    return f"{kind} từ {low:g} đến {high:g}"


def _bounds(ind: Indicator, spec: DerivedSpec) -> CompiledRule:
    low, high, whole = ind.bounds
    conditions = [f"value < {_literal(low)}"]
    if high is not None:
        conditions.append(f"value > {_literal(high)}")
    if whole:
        conditions.append("value <> floor(value)")
    query = (
        f"select {_KEYS}, location, value as {q('v_' + ind.code)} from {{batch}} "
        f"where indicator_code = '{ind.code}' and value is not null "
        f"and ({' or '.join(conditions)})"
    )
    return CompiledRule(
        rule_id=f"{spec.id_prefix}_{ind.code}",
        kind="bounds",
        severity=spec.severity,
        frame=LONG,
        query=query,
        message=spec.message,
        indicators=(ind.code,),
        params={"allowed": allowed_text(ind)},
    )


def _tolerance(catalog: Catalog, codes: list[str]) -> float:
    """Half a unit of the last shown decimal, per term: how far rounded figures may drift."""
    return sum(0.5 * 10 ** -catalog[c].decimals if catalog[c].decimals else 0 for c in codes)


def _ratio(ind: Indicator, catalog: Catalog, spec: DerivedSpec) -> CompiledRule:
    num = " + ".join(f"coalesce({q(c)}, 0)" for c in ind.numerator)
    den = " + ".join(f"coalesce({q(c)}, 0)" for c in ind.denominator)
    shown = q(f"{ind.code}__decimals")
    # A reported percentage with d decimals stands for an interval of ±0.5·10^-d (XBRL
    # Calculations 1.1 treats rounding the same way); the counts themselves are exact.
    tolerance = f"(0.5 * pow(10, -coalesce({shown}, {ind.decimals})))"
    involved = [ind.code, *ind.numerator, *ind.denominator]
    columns = ", ".join(f"{q(c)} as {q('v_' + c)}" for c in involved)
    query = (
        f"select {_KEYS}, null as location, {columns}, "
        f"100.0 * ({num}) / ({den}) as computed, ({num}) as numerator, ({den}) as denominator, "
        f"{tolerance} as tolerance from {{batch}} "
        f"where {q(ind.code)} is not null and ({den}) > 0 "
        f"and abs({q(ind.code)} - 100.0 * ({num}) / ({den})) > {tolerance} + 1e-9"
    )
    return CompiledRule(
        rule_id=f"{spec.id_prefix}_{ind.code}",
        kind="ratio",
        severity=spec.severity,
        frame=WIDE,
        query=query,
        message=spec.message,
        indicators=tuple(involved),
    )


def _sum(rule: RuleSpec, catalog: Catalog) -> CompiledRule:
    assert rule.total
    parts_sum = " + ".join(f"coalesce({q(c)}, 0)" for c in rule.parts)
    any_part = " or ".join(f"{q(c)} is not null" for c in rule.parts)
    involved = [rule.total, *rule.parts]
    columns = ", ".join(f"{q(c)} as {q('v_' + c)}" for c in involved)
    tolerance = _tolerance(catalog, involved)
    query = (
        f"select {_KEYS}, null as location, {columns}, {parts_sum} as parts_sum from {{batch}} "
        f"where {q(rule.total)} is not null and ({any_part}) "
        f"and abs({q(rule.total)} - ({parts_sum})) > {_literal(tolerance)} + 1e-9"
    )
    return CompiledRule(
        rule.id, rule.kind, rule.severity, WIDE, query, rule.message, tuple(involved)
    )


def _part_le_whole(rule: RuleSpec, catalog: Catalog) -> CompiledRule:
    assert rule.part and rule.whole
    part, whole = q(rule.part), q(rule.whole)
    tolerance = _tolerance(catalog, [rule.part, rule.whole])
    query = (
        f"select {_KEYS}, null as location, {part} as {q('v_' + rule.part)}, "
        f"{whole} as {q('v_' + rule.whole)} from {{batch}} "
        f"where {part} is not null and {whole} is not null "
        f"and {part} > {whole} + {_literal(tolerance)} + 1e-9"
    )
    return CompiledRule(
        rule.id, rule.kind, rule.severity, WIDE, query, rule.message, (rule.part, rule.whole)
    )


# Rules about presence, identity and form: their queries read the long frame or the
# tables that tonghop.validate builds beside it (val_expected, val_sightings).
_CHECK_QUERIES: dict[str, tuple[str, str]] = {
    "unit_submitted": (
        WIDE,
        "with w as (select * from {batch}) "
        "select e.unit_code, e.period, null as submission_id, null as file_name, "
        "null as location from val_expected e where not exists (select 1 from w "
        "where w.unit_code = e.unit_code and w.period = e.period)",
    ),
    "unit_active": (
        WIDE,
        f"select {_KEYS}, null as location, strftime(valid_from, '%d/%m/%Y') as valid_from, "
        "coalesce(strftime(valid_to, '%d/%m/%Y'), 'nay') as valid_to from {batch} "
        "where known_unit and period_ok and not active",
    ),
    "required_present": (
        WIDE,
        "with w as (select * from {batch}) "
        "select w.unit_code, w.period, w.submission_id, w.file_name, null as location, "
        "c.code as code from w join catalog_indicators c on c.required "
        "and (c.sectors is null or list_contains(c.sectors, w.sector)) "
        "and (c.forms is null or list_contains(c.forms, w.form)) "
        "and (not c.annual or w.closes_year) "
        "where w.known_unit and w.active and not exists (select 1 from val_values v "
        "where v.submission_id = w.submission_id and v.indicator_code = c.code "
        "and v.raw_value <> '')",
    ),
    "applicable": (
        LONG,
        "with v as (select * from {batch}) "
        f"select v.{_KEYS.replace(', ', ', v.')}, v.location, v.indicator_code as code, "
        "v.raw_value as raw, c.applies as applies from v "
        "join catalog_indicators c on c.code = v.indicator_code "
        "where v.known_unit and v.raw_value <> '' and not ("
        "(c.sectors is null or list_contains(c.sectors, v.sector)) "
        "and (c.forms is null or list_contains(c.forms, v.form)))",
    ),
    "value_in_submission": (
        LONG,
        f"select {_KEYS}, string_agg(location, ', ' order by location) as locations, "
        "indicator_code as code, count(*) as count from {batch} where raw_value <> '' "
        f"group by {_KEYS}, indicator_code having count(*) > 1",
    ),
    "submission_in_batch": (
        WIDE,
        f"select {_KEYS}, null as location, batch_files as files, batch_file_count as count "
        "from {batch} where batch_file_count > 1",
    ),
    "identical_file": (
        WIDE,
        "with w as (select * from {batch}) "
        f"select w.{_KEYS.replace(', ', ', w.')}, null as location, s.source_name as file, "
        "w.file_name as first_file from w join val_sightings s "
        "on s.sha256 = w.sha256 and s.source_name <> w.file_name",
    ),
    "numeric": (
        LONG,
        f"select {_KEYS}, location, indicator_code as code, raw_value as raw from {{batch}} "
        "where value is null and raw_value <> '' and known_indicator",
    ),
    "period_format": (
        WIDE,
        f"select {_KEYS}, null as location from {{batch}} where not period_ok",
    ),
}

_KIND_QUERIES: dict[str, tuple[str, str]] = {
    "unknown_unit": (WIDE, f"select {_KEYS}, null as location from {{batch}} where not known_unit"),
    "unknown_indicator": (
        LONG,
        f"select {_KEYS}, location, indicator_code as code from {{batch}} "
        "where not known_indicator",
    ),
}


def compile_rules(catalog: Catalog, ruleset: RuleSet | None = None) -> list[CompiledRule]:
    """Every rule of the rule set and the catalog, as queries over the validation frames."""
    ruleset = ruleset or load_rules()
    compiled = [_bounds(ind, ruleset.bounds) for ind in catalog]
    compiled += [_ratio(ind, catalog, ruleset.ratio) for ind in catalog if ind.is_rate]
    for rule in ruleset.rules:
        for code in [rule.total, *rule.parts, rule.part, rule.whole]:
            if code is not None and code not in catalog:
                raise ValueError(f"rule {rule.id} names unknown indicator {code}")
        if rule.kind == "sum":
            compiled.append(_sum(rule, catalog))
        elif rule.kind == "part_le_whole":
            compiled.append(_part_le_whole(rule, catalog))
        elif rule.check in _CHECK_QUERIES or rule.kind in _KIND_QUERIES:
            frame, query = _CHECK_QUERIES.get(
                rule.check or "", _KIND_QUERIES.get(rule.kind, ("", ""))
            )
            compiled.append(
                CompiledRule(rule.id, rule.kind, rule.severity, frame, query, rule.message, ())
            )
        else:
            raise ValueError(f"rule {rule.id}: no compiler for kind {rule.kind} / {rule.check}")
    return compiled
