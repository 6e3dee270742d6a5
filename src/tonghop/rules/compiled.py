"""A compiled rule: one query over a validation frame, and the SQL helpers its compilers share.

Every compiled rule's query (`{batch}` is the frame GX hands in) returns the failing rows with
fixed columns: `unit_code`, `period`, `submission_id`, `file_name`, `location`, then `v_<code>`
for each indicator value involved and the extra columns its message needs. Identifiers come
only from the catalog; values are literals the compiler formats from numbers it owns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tonghop.catalog import Catalog

# Frames the queries run over: tables tonghop.validation.frames builds in the in-memory database
# `frames` (tonghop.db.attach_frames), named in full in the queries.
LONG = "frames.val_values"  # one row per received value of a current submission in scope
WIDE = "frames.val_wide"  # one row per current submission in scope, one column per indicator

KEYS = "unit_code, period, submission_id, file_name"


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
    # Rules of one kind that differ only in their indicator run as one scan of their frame
    # (`fused_query`): `fuse` names the shape, `condition` is the rule's test on that shape's
    # row; `extra` (the JSON pairs it adds to a failing row) and `prefilter` (a part of every
    # condition, which DuckDB can push down to the scan) are the same for the whole group.
    fuse: str | None = None
    condition: str | None = None
    extra: str | None = None
    prefilter: str = "true"


def fused_query(rules: tuple[CompiledRule, ...]) -> str | None:
    """One query for rules that share a shape (`CompiledRule.fuse`), or None.

    It returns what the union of the rules' own queries returns, `rule_id` and the failing row
    as JSON with the same keys, in one scan instead of one per rule; and the plan of one
    fused join is far smaller than that of a union of one join per rule, which costs its
    planning however few units are in scope.
    """
    first = rules[0]
    if first.fuse is None or len({(r.fuse, r.frame, r.extra, r.prefilter) for r in rules}) != 1:
        return None
    codes = [r.indicators[0] for r in rules]
    listed = ", ".join(f"'{c}'" for c in codes)
    pairs = list(zip(codes, rules, strict=True))

    def by_indicator(column: str, then: str) -> str:
        """`case column when 'code' then … end`: `then` formatted with the rule and its
        indicator's quoted column name."""
        whens = " ".join(f"when '{c}' then {then.format(rule=r, column=q(c))}" for c, r in pairs)
        return f"case {column} {whens} end"

    rule_id = "'{rule.rule_id}'"
    if first.fuse == "value":  # the long frame: one row per value
        return (
            "with v as (select * from {batch}) "
            f"select {by_indicator('indicator_code', rule_id)} as rule_id, "
            "json_object('unit_code', unit_code, 'period', period, "
            "'submission_id', submission_id, 'file_name', file_name, "
            "'location', location, 'v_' || indicator_code, value)::varchar as failing_row "
            f"from v where indicator_code in ({listed}) and {first.prefilter} "
            f"and {by_indicator('indicator_code', '({rule.condition})')}"
        )
    if first.fuse == "history":  # the wide frame's row beside each indicator's history
        value = by_indicator("h.indicator_code", "w.{column}")
        return (
            "with w as (select * from {batch}) "
            f"select {by_indicator('h.indicator_code', rule_id)} as rule_id, "
            "json_object('unit_code', w.unit_code, 'period', w.period, "
            "'submission_id', w.submission_id, 'file_name', w.file_name, 'location', null, "
            f"'v_' || h.indicator_code, {value}, {first.extra.format(value=value)})"
            "::varchar as failing_row "
            "from frames.val_history h join w on w.submission_id = h.submission_id "
            f"where h.indicator_code in ({listed}) and {first.prefilter} "
            f"and {by_indicator('h.indicator_code', '({rule.condition})')}"
        )
    if first.fuse == "peers":  # the wide frame's row beside its sector's and form's level
        value = by_indicator("p.indicator_code", "w.{column}")
        return (
            "with w as (select * from {batch}) "
            f"select {by_indicator('p.indicator_code', rule_id)} as rule_id, "
            "json_object('unit_code', w.unit_code, 'period', w.period, "
            "'submission_id', w.submission_id, 'file_name', w.file_name, 'location', null, "
            f"'v_' || p.indicator_code, {value}, {first.extra.format(value=value)})"
            "::varchar as failing_row "
            "from w join frames.val_peers p on p.period = w.period and p.sector = w.sector "
            "and p.form = w.form "
            "left join frames.val_history h on h.submission_id = w.submission_id "
            "and h.indicator_code = p.indicator_code "
            f"where p.indicator_code in ({listed}) and {first.prefilter} "
            f"and {by_indicator('p.indicator_code', '({rule.condition})')}"
        )
    raise ValueError(f"unknown fused shape {first.fuse}")


def group_query(rules: tuple[CompiledRule, ...]) -> str:
    """The query returning the failing rows of `rules` of one frame and kind, each as
    `rule_id` and `failing_row` (the rule's own row as JSON): one scan when they share a
    shape (`fused_query`), else the union of their own queries."""
    fused = fused_query(rules)
    if fused is not None:
        return fused
    return "\nunion all\n".join(
        f"select '{r.rule_id}' as rule_id, to_json(failing)::varchar as failing_row "
        f"from ({r.query}) failing"
        for r in rules
    )


def q(code: str) -> str:
    """Quote a catalog code as a column identifier (codes are checked snake_case)."""
    return f'"{code}"'


def literal(value: float) -> str:
    return repr(float(value))


def rounding_tolerance(catalog: Catalog, codes: list[str]) -> float:
    """Half a unit of the last shown decimal, per term: how far rounded figures may drift."""
    return sum(0.5 * 10 ** -catalog[c].decimals if catalog[c].decimals else 0 for c in codes)
