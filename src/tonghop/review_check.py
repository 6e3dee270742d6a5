"""What a steward's correction would do, checked before it is stored.

A corrected value must fit its indicator (a whole number for a head count, within the
indicator's bounds), and the unit's values with it are run through the validation's own rules
(the compiled queries `tonghop.validation` hands GX, over the same frames built for the unit
alone): the findings it would raise, and those it would clear, are shown to the steward before
anything is written. The frames read the submitted values with every stored correction applied
(`corrected_values_sql`), so each validation after a correction checks it again.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import duckdb

from tonghop.catalog import Catalog, Indicator
from tonghop.review import VALUE_KINDS, ReviewError
from tonghop.review_page import number


def corrected_values_sql(with_corrections: bool) -> str:
    """`submitted_values` as the consolidation reads them: the latest stored correction of a
    (submission, indicator), else a proposed one (`frames.val_proposed`), in place of what the
    file said; a correction of a value the file lacked adds it. Without corrections, the table
    as it is."""
    if not with_corrections:
        return "select * from submitted_values"
    return """
        with corrections as (
            select submission_id, indicator_code, arg_max(value, rank) as value
            from (
                select submission_id, indicator_code, after_value as value, seq as rank
                from value_corrections
                union all
                select submission_id, indicator_code, value, 9223372036854775807 as rank
                from frames.val_proposed
            )
            group by all
        ),
        shown as (
            select *, regexp_replace(cast(value as varchar), '\\.0$', '') as raw
            from corrections
        )
        select coalesce(v.submission_id, c.submission_id) as submission_id,
            coalesce(v.indicator_code, c.indicator_code) as indicator_code,
            coalesce(c.raw, v.raw_value) as raw_value,
            coalesce(c.value, v.value) as value,
            coalesce(v.location, '') as location,
            v.note
        from submitted_values v
        full join shown c
            on c.submission_id = v.submission_id and c.indicator_code = v.indicator_code
    """


def check_value(indicator: Indicator, value: float) -> None:
    """Refuse a value its indicator cannot take, with the reason in Vietnamese.

    >>> from tonghop.catalog import load_catalog
    >>> check_value(load_catalog()["members_admitted"], 12.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tonghop.review.ReviewError: Kết nạp đảng viên mới là số nguyên ...: 12,5 không hợp lệ
    """
    if value is None or not math.isfinite(float(value)):
        raise ReviewError("Giá trị hiệu chỉnh phải là một số")
    low, high, whole = indicator.bounds
    if whole and float(value) != int(value):
        raise ReviewError(
            f"{indicator.label} là số nguyên (đếm {indicator.unit}): {number(value)} không hợp lệ"
        )
    if not whole and round(float(value), indicator.decimals) != float(value):
        raise ReviewError(
            f"{indicator.label} ghi tối đa {indicator.decimals} chữ số thập phân: "
            f"{number(value)} không hợp lệ"
        )
    if value < low or (high is not None and value > high):
        allowed = f"từ {number(low)} đến {number(high)}" if high is not None else f"≥ {number(low)}"
        raise ReviewError(
            f"{indicator.label} phải {allowed}: {number(value)} nằm ngoài giới hạn cho phép"
        )


@dataclass
class Preview:
    """The findings of the unit's submission with the correction of `code` (`raised`: new
    ones; `remaining`: those it leaves; `cleared`: those it removes), each `(severity,
    message, indicators)`."""

    code: str
    raised: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    remaining: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    cleared: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """The errors the correction is answerable for: those it raises, and those it leaves
        on the indicator it corrects (an error elsewhere in the report is not its doing)."""
        left = [f for f in self.remaining if self.code in f[2]]
        return [message for severity, message, _ in [*self.raised, *left] if severity == "error"]


def preview_correction(
    con: duckdb.DuckDBPyConnection,
    submission_id: str,
    code: str,
    value: float,
    catalog: Catalog,
) -> Preview:
    """The validation's value rules on the submission with and without the correction."""
    unit, period = con.execute(
        "select unit_code, period from submissions where submission_id = ?", [submission_id]
    ).fetchone()
    before = _findings(con, catalog, unit, period, submission_id, [])
    after = _findings(con, catalog, unit, period, submission_id, [(submission_id, code, value)])
    return Preview(
        code=code,
        raised=[after[k] for k in after if k not in before],
        remaining=[after[k] for k in after if k in before],
        cleared=[before[k] for k in before if k not in after],
    )


def _findings(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    unit: str,
    period: str,
    submission_id: str,
    proposed: list[tuple[str, str, float]],
) -> dict[tuple, tuple[str, str, tuple[str, ...]]]:
    """The value findings of one submission, by rule and indicators, as validation words them."""
    from tonghop.db import detach_frames
    from tonghop.periods import Period, PeriodError
    from tonghop.rules import compile_rules, load_rules
    from tonghop.validate import build_findings, group_rules, prepare_frames

    ruleset = load_rules()
    rules = [r for r in compile_rules(catalog, ruleset) if r.kind in VALUE_KINDS]
    try:
        periods = [Period.parse(period)]
    except PeriodError:
        return {}
    try:
        prepare_frames(con, catalog, periods, [], None, [unit], ruleset.min_history, proposed)
        failing: dict[str, list[dict]] = {}
        for group in group_rules(rules):
            # the query GX runs on the group's frame (`{batch}`), run here on DuckDB directly
            for rule_id, row in con.execute(group.query.replace("{batch}", group.frame)).fetchall():
                failed = json.loads(row)
                if failed.get("submission_id") == submission_id:
                    failing.setdefault(rule_id, []).append(failed)
    finally:
        detach_frames(con)
    findings = build_findings(rules, failing, catalog, {})
    return {
        (f.rule_id, tuple(f.indicators), f.location): (f.severity, f.message, tuple(f.indicators))
        for f in findings
    }
