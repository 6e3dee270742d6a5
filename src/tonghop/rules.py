"""Compile the rules of `expectations/rules.yaml` and the catalog into SQL for GX to run.

Every compiled rule is one query over a validation frame (`{batch}` is the frame GX hands in)
that returns the failing rows with fixed columns: `unit_code`, `period`, `submission_id`,
`file_name`, `location`, then `v_<code>` for each indicator value involved and the extra
columns its message needs. Identifiers come only from the catalog; values are literals that
the compiler formats from numbers it owns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from tonghop.catalog import FORMS, SECTORS, Catalog, Indicator
from tonghop.formatting import so
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

# Frames the queries run over: tables tonghop.validate builds in the in-memory database
# `frames` (tonghop.db.attach_frames), named in full in the queries.
LONG = "frames.val_values"  # one row per received value of a current submission in scope
WIDE = "frames.val_wide"  # one row per current submission in scope, one column per indicator

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
    # linear rules (stock_flow, policy): `left op right`, each side a list of terms (see Term)
    left: list[str] = []
    op: Literal["=", "<=", "<", ">=", ">"] | None = None
    right: list[str] = []
    params: dict[str, float] = {}
    forms: list[str] | None = None
    sectors: list[str] | None = None


class DerivedSpec(BaseModel):
    id_prefix: str
    severity: Severity
    message: str


class PlausibilitySpec(DerivedSpec):
    threshold: float
    min_history: int
    value_types: list[str]
    min_spread_pct: float = 0.0


class LocalizationSpec(BaseModel):
    max_fields: int = 3
    weights: dict[str, float] = {}


class ConsolidatedRuleSpec(BaseModel):
    """A rule on the consolidated level (compiled by tonghop.consolidated)."""

    id: str
    check: str
    severity: Severity
    message: str


class RuleSet(BaseModel):
    bounds: DerivedSpec
    ratio: DerivedSpec
    plausibility: PlausibilitySpec | None = None
    localization: LocalizationSpec = Field(default_factory=LocalizationSpec)
    rules: list[RuleSpec]
    consolidated: list[ConsolidatedRuleSpec] = []

    @property
    def min_history(self) -> int:
        """How many past periods the plausibility rules need (1 when there are none)."""
        return self.plausibility.min_history if self.plausibility else 1


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
    as JSON with the same keys, in one scan instead of one per rule: at 60,000 units the 52
    bounds rules took 0.72 s as a union and 0.35 s fused, and planning the union of the 39
    plausibility joins took 0.12–0.16 s however few units were in scope (fused ~0.02 s).
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
    raise ValueError(f"unknown fused shape {first.fuse}")


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
        fuse="value",
        prefilter="value is not null",
        condition=f"value is not null and ({' or '.join(conditions)})",
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


# Linear rules: `left op right` over one submission, where a term may read the unit's previous
# period (`prev.code`, frame val_previous) or the sum of its calendar year (`year.code`, frame
# val_year). Stock-flow and policy rules are written this way in rules.yaml; sum and part ≤
# whole rules are turned into the same form so that tonghop.localize can reason over all of
# them with one evaluator, the same one whose SQL GX runs.
Scope = Literal["current", "previous", "year"]
_SCOPE_PREFIX = {"prev": "previous", "year": "year"}
_SCOPE_ALIAS = {"current": "w", "previous": "p", "year": "y"}
_TERM_RE = re.compile(
    r"^(?P<sign>-)?\s*(?:(?P<coef>[0-9.]+|[a-z]\w*)(?P<pct>%)?\s*\*\s*)?"
    r"(?P<ref>(?:(?P<scope>prev|year)\.)?[a-z]\w*|[0-9.]+)$"
)
_EPSILON = 1e-9


@dataclass(frozen=True)
class Term:
    """`coef × value` of one indicator, in the submission (`current`) or beside it."""

    code: str
    coef: float
    scope: Scope = "current"

    @property
    def key(self) -> tuple[str, str]:
        return (self.scope, self.code)

    @property
    def column(self) -> str:
        """The `v_` column that carries the value into the finding."""
        return f"v_{self.code}" if self.scope == "current" else f"v_{self.code}__{self.scope}"


@dataclass(frozen=True)
class LinearRule:
    """`Σ left + left_constant  op  Σ right + right_constant` over one submission.

    Values missing from `required` make the rule not apply, as does `any_of` when none of it has
    a value; every other missing value counts as 0 (an unreported flow is no flow).
    """

    rule_id: str
    kind: str
    severity: str
    left: tuple[Term, ...]
    right: tuple[Term, ...]
    op: str
    tolerance: float
    required: frozenset[tuple[str, str]]
    any_of: frozenset[tuple[str, str]] = frozenset()
    left_constant: float = 0.0
    right_constant: float = 0.0
    forms: tuple[str, ...] | None = None
    sectors: tuple[str, ...] | None = None

    @property
    def terms(self) -> tuple[Term, ...]:
        """Every term as `left − right` (coefficients of the right side negated)."""
        return self.left + tuple(Term(t.code, -t.coef, t.scope) for t in self.right)

    @property
    def codes(self) -> tuple[str, ...]:
        """The submission's own indicators the rule reads, in the rule's order."""
        return tuple(dict.fromkeys(t.code for t in self.terms if t.scope == "current"))

    def applies(self, values: dict[tuple[str, str], float | None]) -> bool:
        if any(values.get(k) is None for k in self.required):
            return False
        return not self.any_of or any(values.get(k) is not None for k in self.any_of)

    def sides(self, values: dict[tuple[str, str], float | None]) -> tuple[float, float]:
        def total(terms: tuple[Term, ...], constant: float) -> float:
            return constant + sum(t.coef * (values.get(t.key) or 0.0) for t in terms)

        return total(self.left, self.left_constant), total(self.right, self.right_constant)

    def holds(self, left: float, right: float) -> bool:
        """Whether `left op right` holds within the rule's rounding tolerance."""
        diff, tol = left - right, self.tolerance
        return {
            "=": abs(diff) <= tol + _EPSILON,
            "<=": diff <= tol + _EPSILON,
            ">=": diff >= -tol - _EPSILON,
            "<": diff < tol - _EPSILON,
            ">": diff > -tol + _EPSILON,
        }[self.op]

    def violation_sql(self, diff: str) -> str:
        tol = _literal(self.tolerance)
        return {
            "=": f"abs({diff}) > {tol} + {_EPSILON}",
            "<=": f"{diff} > {tol} + {_EPSILON}",
            ">=": f"{diff} < -{tol} - {_EPSILON}",
            "<": f"{diff} >= {tol} - {_EPSILON}",
            ">": f"{diff} <= -{tol} + {_EPSILON}",
        }[self.op]


def _half_unit(catalog: Catalog, code: str) -> float:
    decimals = catalog[code].decimals
    return 0.5 * 10**-decimals if decimals else 0.0


def _parse_side(
    texts: list[str], rule: RuleSpec, catalog: Catalog
) -> tuple[tuple[Term, ...], float]:
    terms: list[Term] = []
    constant = 0.0
    for text in texts:
        m = _TERM_RE.match(text.strip())
        if not m:
            raise ValueError(f"rule {rule.id}: cannot read term {text!r}")
        sign = -1.0 if m["sign"] else 1.0
        coef = _number(m["coef"], rule) if m["coef"] else 1.0
        if m["pct"]:
            coef /= 100
        ref = m["ref"]
        scope: Scope = _SCOPE_PREFIX.get(m["scope"] or "", "current")  # type: ignore[assignment]
        code = ref.split(".", 1)[-1]
        if scope == "current" and code not in catalog:
            constant += sign * coef * _number(ref, rule)
            continue
        if code not in catalog:
            raise ValueError(f"rule {rule.id} names unknown indicator {code}")
        terms.append(Term(code, sign * coef, scope))
    return tuple(terms), constant


def _number(text: str, rule: RuleSpec) -> float:
    if text in rule.params:
        return float(rule.params[text])
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"rule {rule.id}: {text!r} is no indicator, parameter or number") from None


def linear_rule(rule: RuleSpec, catalog: Catalog) -> LinearRule | None:
    """The linear form of a sum, part ≤ whole, stock-flow or policy rule (None for others)."""
    if rule.kind == "sum" and rule.total:
        left = (Term(rule.total, 1.0),)
        right = tuple(Term(c, 1.0) for c in rule.parts)
        return LinearRule(
            rule.id,
            rule.kind,
            rule.severity,
            left,
            right,
            "=",
            _tolerance(catalog, [rule.total, *rule.parts]),
            required=frozenset({left[0].key}),
            any_of=frozenset(t.key for t in right),
        )
    if rule.kind == "part_le_whole" and rule.part and rule.whole:
        left, right = (Term(rule.part, 1.0),), (Term(rule.whole, 1.0),)
        return LinearRule(
            rule.id,
            rule.kind,
            rule.severity,
            left,
            right,
            "<=",
            _tolerance(catalog, [rule.part, rule.whole]),
            required=frozenset({left[0].key, right[0].key}),
        )
    if not (rule.left and rule.op):
        return None
    for value in [*(rule.forms or []), *(rule.sectors or [])]:
        if value not in FORMS + SECTORS:
            raise ValueError(f"rule {rule.id}: unknown form or sector {value!r}")
    left, left_constant = _parse_side(rule.left, rule, catalog)
    right, right_constant = _parse_side(rule.right, rule, catalog)
    terms = left + right
    return LinearRule(
        rule.id,
        rule.kind,
        rule.severity,
        left,
        right,
        rule.op,
        sum(abs(t.coef) * _half_unit(catalog, t.code) for t in terms),
        # stocks must be there for the rule to mean anything; a flow left blank is no flow
        required=frozenset(t.key for t in terms if catalog[t.code].time_aggregation != "flow"),
        any_of=frozenset(t.key for t in terms if t.scope == "current"),
        left_constant=left_constant,
        right_constant=right_constant,
        forms=tuple(rule.forms) if rule.forms else None,
        sectors=tuple(rule.sectors) if rule.sectors else None,
    )


def linear_rules(catalog: Catalog, ruleset: RuleSet | None = None) -> list[LinearRule]:
    """Every rule of the rule set that has a linear form."""
    ruleset = ruleset or load_rules()
    return [lr for r in ruleset.rules if (lr := linear_rule(r, catalog)) is not None]


def _linear(rule: RuleSpec, catalog: Catalog) -> CompiledRule:
    linear = linear_rule(rule, catalog)
    assert linear is not None

    def ref(term: Term) -> str:
        column = f"{_SCOPE_ALIAS[term.scope]}.{q(term.code)}"
        return column if term.key in linear.required else f"coalesce({column}, 0)"

    def side(terms: tuple[Term, ...], constant: float) -> str:
        return " + ".join([_literal(constant), *(f"{_literal(t.coef)} * {ref(t)}" for t in terms)])

    left = side(linear.left, linear.left_constant)
    right = side(linear.right, linear.right_constant)
    seen: dict[str, Term] = {t.column: t for t in linear.terms}
    columns = [f"{_SCOPE_ALIAS[t.scope]}.{q(t.code)} as {q(c)}" for c, t in seen.items()]
    columns += [
        f"{_SCOPE_ALIAS[t.scope]}.{q(t.code)} as {q(t.scope + '_' + t.code)}"
        for t in seen.values()
        if t.scope != "current"
    ]
    conditions = [f"{_SCOPE_ALIAS[s]}.{q(c)} is not null" for s, c in sorted(linear.required)]
    if linear.any_of:
        present = (f"{_SCOPE_ALIAS[s]}.{q(c)} is not null" for s, c in sorted(linear.any_of))
        conditions.append(f"({' or '.join(present)})")
    if linear.forms:
        conditions.append(f"w.form in ({', '.join(repr(f) for f in linear.forms)})")
    if linear.sectors:
        conditions.append(f"w.sector in ({', '.join(repr(s) for s in linear.sectors)})")
    conditions.append(linear.violation_sql(f"(({left}) - ({right}))"))
    query = (
        "with w as (select * from {batch}) "
        f"select w.unit_code, w.period, w.submission_id, w.file_name, null as location, "
        f"{', '.join(columns)}, {left} as {q('left')}, {right} as {q('right')}, "
        "p.previous_period as previous_period from w "
        "left join frames.val_previous p on p.submission_id = w.submission_id "
        "left join frames.val_year y on y.submission_id = w.submission_id "
        f"where {' and '.join(conditions)}"
    )
    params = {name: so(value, 2).removesuffix(",00") for name, value in rule.params.items()}
    return CompiledRule(
        rule.id, rule.kind, rule.severity, WIDE, query, rule.message, linear.codes, params
    )


def _plausibility(ind: Indicator, spec: PlausibilitySpec) -> CompiledRule:
    def score(value: str) -> str:
        # robust z-score: distance from the unit's own median in units of its scaled MAD
        # (1.4826 makes the MAD estimate a standard deviation for normal data), as in Hampel's
        # filter; a floor on the spread keeps a steady stock (MAD of a unit or two) from
        # flagging growth
        spread = f"greatest(1.4826 * h.mad, {_literal(spec.min_spread_pct / 100)} * abs(h.median))"
        return f"abs({value} - h.median) / {spread}"

    enough = f"h.history >= {int(spec.min_history)} and h.mad > 0"

    def test(value: str) -> str:
        return f"{value} is not null and {enough} and {score(value)} > {_literal(spec.threshold)}"

    median = "replace(replace(printf('%.1f', h.median), '.0', ''), '.', ',')"
    column = f"w.{q(ind.code)}"
    query = (
        "with w as (select * from {batch}) "
        f"select w.unit_code, w.period, w.submission_id, w.file_name, null as location, "
        f"{column} as {q('v_' + ind.code)}, {median} as median, "
        f"h.history as history, replace(printf('%.1f', {score(column)}), '.', ',') as score "
        "from w join frames.val_history h on h.submission_id = w.submission_id "
        f"and h.indicator_code = '{ind.code}' where {test(column)}"
    )
    return CompiledRule(
        rule_id=f"{spec.id_prefix}_{ind.code}",
        kind="plausibility",
        severity=spec.severity,
        frame=WIDE,
        query=query,
        message=spec.message,
        indicators=(ind.code,),
        params={"threshold": so(spec.threshold, 1).removesuffix(",0")},
        fuse="history",
        condition=test(column),
        prefilter=enough,
        extra=(
            f"'median', {median}, 'history', h.history, "
            f"'score', replace(printf('%.1f', {score('{value}')}), '.', ',')"
        ),
    )


# Rules about presence, identity and form: their queries read the long frame or the
# tables that tonghop.validate builds beside it (val_expected, val_sightings).
_CHECK_QUERIES: dict[str, tuple[str, str]] = {
    "unit_submitted": (
        WIDE,
        "with w as (select * from {batch}) "
        "select e.unit_code, e.period, null as submission_id, null as file_name, "
        "null as location from frames.val_expected e where not exists (select 1 from w "
        "where w.unit_code = e.unit_code and w.period = e.period)",
    ),
    "unit_active": (
        WIDE,
        f"select {_KEYS}, null as location, strftime(valid_from, '%d/%m/%Y') as valid_from, "
        "coalesce(strftime(valid_to, '%d/%m/%Y'), 'nay') as valid_to from {batch} "
        "where known_unit and period_ok and not active",
    ),
    # A required value is looked up among the received values of the required codes alone:
    # the anti-join builds on those few codes' rows (60,000 units: 0.19 s, against 1.58 s
    # through the long frame's view and 0.58 s over every value).
    "required_present": (
        WIDE,
        "with w as (select * from {batch}) "
        "select w.unit_code, w.period, w.submission_id, w.file_name, null as location, "
        "c.code as code from w join catalog_indicators c on c.required "
        "and (c.sectors is null or list_contains(c.sectors, w.sector)) "
        "and (c.forms is null or list_contains(c.forms, w.form)) "
        "and (not c.annual or w.closes_year) "
        "where w.known_unit and w.active and not exists (select 1 from submitted_values v "
        "where v.submission_id = w.submission_id and v.indicator_code = c.code "
        "and v.raw_value <> '' "
        "and v.indicator_code in (select code from catalog_indicators where required))",
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
    # The values written twice are found by their key alone, then described: grouping every
    # value by the file's name and aggregating its locations took 3.1 s at 60,000 units, by
    # submission and code 0.7 s. Only the submissions that may hold a code twice are grouped
    # so: those with more values than distinct bits of their codes (`catalog_indicators.place`,
    # tonghop.validate.MASK_PLACES; a code outside the catalog has none, two codes sharing a
    # bit only make more submissions grouped, never one missed), found in ~0.05 s.
    "value_in_submission": (
        LONG,
        f"select {_KEYS}, string_agg(location, ', ' order by location) as locations, "
        "indicator_code as code, count(*) as count from {batch} "
        "semi join (select submission_id, indicator_code from {batch} where raw_value <> '' "
        "and submission_id in (select v.submission_id from submitted_values v "
        "left join catalog_indicators c on c.code = v.indicator_code "
        "where v.raw_value <> '' "
        "and v.submission_id in (select submission_id from frames.val_submissions) "
        "group by v.submission_id "
        "having count(*) > coalesce(bit_count(bit_or(1::hugeint << c.place::hugeint)), 0)) "
        "group by all having count(*) > 1) as twice using (submission_id, indicator_code) "
        f"where raw_value <> '' group by {_KEYS}, indicator_code",
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
        "w.file_name as first_file from w join frames.val_sightings s "
        "on s.sha256 = w.sha256 and s.source_name <> w.file_name",
    ),
    "numeric": (
        LONG,
        f"select {_KEYS}, location, indicator_code as code, raw_value as raw from {{batch}} "
        "where value is null and raw_value <> '' and known_indicator",
    ),
    "file_warnings": (
        WIDE,
        "with w as (select * from {batch}) "
        f"select w.{_KEYS.replace(', ', ', w.')}, null as location, "
        "unnest(f.warnings) as warning from w join received_files f on f.sha256 = w.sha256 "
        "where len(coalesce(f.warnings, [])) > 0",
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
    if ruleset.plausibility:
        spec = ruleset.plausibility
        compiled += [_plausibility(i, spec) for i in catalog if i.value_type in spec.value_types]
    for rule in ruleset.rules:
        for code in [rule.total, *rule.parts, rule.part, rule.whole]:
            if code is not None and code not in catalog:
                raise ValueError(f"rule {rule.id} names unknown indicator {code}")
        if rule.left and rule.op:
            compiled.append(_linear(rule, catalog))
        elif rule.kind == "sum":
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
