"""Compile the rules of `expectations/rules.yaml` and the catalog into queries for GX to run.

Bounds, ratio and plausibility rules are derived from the catalog, one per indicator; sum,
part ≤ whole, stock-flow and policy rules come from rules.yaml (the last two through their
linear form, tonghop.rules.linear); presence, identity and form rules are fixed queries
(tonghop.rules.checks).
"""

from __future__ import annotations

from tonghop.catalog import Catalog, Indicator
from tonghop.formatting import so
from tonghop.rules.checks import CHECK_QUERIES, KIND_QUERIES
from tonghop.rules.compiled import KEYS, LONG, WIDE, CompiledRule, literal, q, rounding_tolerance
from tonghop.rules.linear import SCOPE_ALIAS, Term, linear_rule, scope_of
from tonghop.rules.spec import (
    DerivedSpec,
    MagnitudeSpec,
    PeersSpec,
    PlausibilitySpec,
    RuleSet,
    RuleSpec,
    load_rules,
)


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
    conditions = [f"value < {literal(low)}"]
    if high is not None:
        conditions.append(f"value > {literal(high)}")
    if whole:
        conditions.append("value <> floor(value)")
    query = (
        f"select {KEYS}, location, value as {q('v_' + ind.code)} from {{batch}} "
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
        f"select {KEYS}, null as location, {columns}, "
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


def _applicable(catalog: Catalog, codes: list[str]) -> str:
    """The SQL test that every indicator of `codes` applies to the unit (its sector and form,
    the catalog's `applies_to`): a value where one does not is not consolidated, and the
    completeness rule `not_applicable` is what says so, not a balance rule (a chi bộ cơ sở that
    writes 1 for its own regular meetings beside no branches)."""
    forms, sectors = scope_of(catalog, codes)
    tests = [f"form in ({', '.join(repr(f) for f in forms)})"] if forms is not None else []
    if sectors is not None:
        tests.append(f"sector in ({', '.join(repr(s) for s in sectors)})")
    return " and ".join(tests) or "true"


def _sum(rule: RuleSpec, catalog: Catalog) -> CompiledRule:
    assert rule.total
    parts_sum = " + ".join(f"coalesce({q(c)}, 0)" for c in rule.parts)
    any_part = " or ".join(f"{q(c)} is not null" for c in rule.parts)
    involved = [rule.total, *rule.parts]
    columns = ", ".join(f"{q(c)} as {q('v_' + c)}" for c in involved)
    tolerance = rounding_tolerance(catalog, involved)
    query = (
        f"select {KEYS}, null as location, {columns}, {parts_sum} as parts_sum from {{batch}} "
        f"where {q(rule.total)} is not null and ({any_part}) "
        f"and {_applicable(catalog, involved)} "
        f"and abs({q(rule.total)} - ({parts_sum})) > {literal(tolerance)} + 1e-9"
    )
    return CompiledRule(
        rule.id, rule.kind, rule.severity, WIDE, query, rule.message, tuple(involved)
    )


def _part_le_whole(rule: RuleSpec, catalog: Catalog) -> CompiledRule:
    assert rule.part and rule.whole
    part, whole = q(rule.part), q(rule.whole)
    tolerance = rounding_tolerance(catalog, [rule.part, rule.whole])
    query = (
        f"select {KEYS}, null as location, {part} as {q('v_' + rule.part)}, "
        f"{whole} as {q('v_' + rule.whole)} from {{batch}} "
        f"where {part} is not null and {whole} is not null "
        f"and {_applicable(catalog, [rule.part, rule.whole])} "
        f"and {part} > {whole} + {literal(tolerance)} + 1e-9"
    )
    return CompiledRule(
        rule.id, rule.kind, rule.severity, WIDE, query, rule.message, (rule.part, rule.whole)
    )


def _linear(rule: RuleSpec, catalog: Catalog) -> CompiledRule:
    linear = linear_rule(rule, catalog)
    assert linear is not None

    def ref(term: Term) -> str:
        column = f"{SCOPE_ALIAS[term.scope]}.{q(term.code)}"
        return column if term.key in linear.required else f"coalesce({column}, 0)"

    def side(terms: tuple[Term, ...], constant: float) -> str:
        return " + ".join([literal(constant), *(f"{literal(t.coef)} * {ref(t)}" for t in terms)])

    left = side(linear.left, linear.left_constant)
    right = side(linear.right, linear.right_constant)
    seen: dict[str, Term] = {t.column: t for t in linear.terms}
    columns = [f"{SCOPE_ALIAS[t.scope]}.{q(t.code)} as {q(c)}" for c, t in seen.items()]
    columns += [
        f"{SCOPE_ALIAS[t.scope]}.{q(t.code)} as {q(t.scope + '_' + t.code)}"
        for t in seen.values()
        if t.scope != "current"
    ]
    conditions = [f"{SCOPE_ALIAS[s]}.{q(c)} is not null" for s, c in sorted(linear.required)]
    if linear.any_of:
        present = (f"{SCOPE_ALIAS[s]}.{q(c)} is not null" for s, c in sorted(linear.any_of))
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


# The columns of the unit's history a plausibility finding is worded from
# (tonghop.validation.messages.usual_level), and the power-of-ten slip that would bring the
# value back into the unit's range (halved lowest to doubled highest), if any.
HISTORY_COLUMNS = ("median", "low", "high", "first_period", "last_period", "history")


def _slip(value: str, slips: list[int]) -> str:
    whens = " ".join(
        f"when h.low > 0 and {value} / {k} between h.low / 2 and h.high * 2 then {value} / {k}"
        for k in slips
    )
    return f"case {whens} end"


def _history_rule(
    ind: Indicator, rule_id: str, spec: DerivedSpec, test: str, ruleset: RuleSet
) -> CompiledRule:
    """A rule on a value against the unit's own past periods (`frames.val_history`); every such
    rule shares one shape (its `extra`, `prefilter`), so they all run as one scan."""
    slips = ruleset.magnitude.slips if ruleset.magnitude else [1000, 10]
    column = f"w.{q(ind.code)}"
    condition = test.format(value=column)
    columns = ", ".join(f"h.{name} as {name}" for name in HISTORY_COLUMNS)
    query = (
        f"{_beside_value(ind, f'{columns}, {_slip(column, slips)} as slip')} "
        "join frames.val_history h on h.submission_id = w.submission_id "
        f"and h.indicator_code = '{ind.code}' where {condition}"
    )
    return _level_rule(
        ind,
        rule_id,
        spec,
        query,
        fuse="history",
        condition=condition,
        prefilter=f"h.history >= {int(ruleset.min_history)}",
        extra=(
            ", ".join(f"'{name}', h.{name}" for name in HISTORY_COLUMNS)
            + f", 'slip', {_slip('{value}', slips)}"
        ),
    )


def _beside_value(ind: Indicator, columns: str) -> str:
    """The head of a rule's query on one value of the wide frame and what it is compared with:
    the keys, the value as `v_<code>`, `columns`, from the wide frame `w` (joins follow)."""
    return (
        "with w as (select * from {batch}) "
        "select w.unit_code, w.period, w.submission_id, w.file_name, null as location, "
        f"w.{q(ind.code)} as {q('v_' + ind.code)}, {columns} from w"
    )


def _level_rule(
    ind: Indicator, rule_id: str, spec: DerivedSpec, query: str, **shape: str
) -> CompiledRule:
    """A plausibility rule on one indicator: its value against a usual level, fused by `shape`
    (`fuse`, `condition`, `extra`, `prefilter`) with the others of its kind."""
    return CompiledRule(
        rule_id=rule_id,
        kind="plausibility",
        severity=spec.severity,
        frame=WIDE,
        query=query,
        message=spec.message,
        indicators=(ind.code,),
        **shape,
    )


def _plausibility(ind: Indicator, spec: PlausibilitySpec, ruleset: RuleSet) -> CompiledRule:
    # robust z-score: distance from the unit's own median in units of its scaled MAD (1.4826
    # makes the MAD estimate a standard deviation for normal data), as in Hampel's filter; a
    # floor on the spread keeps a steady stock (MAD of a unit or two) from flagging growth
    spread = f"greatest(1.4826 * h.mad, {literal(spec.min_spread_pct / 100)} * abs(h.median))"
    # small counts swing widely (1, 3, 8 confirmed in three half-years): a value within the
    # unit's own widened range is ordinary however far from the median
    factor = literal(spec.range_factor)
    test = (
        f"{{value}} is not null and h.history >= {int(spec.min_history)} and h.mad > 0 "
        f"and abs({{value}} - h.median) / {spread} > {literal(spec.threshold)} "
        f"and ({{value}} > {factor} * h.high or {{value}} * {factor} < h.low)"
    )
    return _history_rule(ind, f"{spec.id_prefix}_{ind.code}", spec, test, ruleset)


def _magnitude(ind: Indicator, spec: MagnitudeSpec, ruleset: RuleSet) -> CompiledRule:
    # against the range of the unit's earlier values, all positive: a ratio, not a spread,
    # which one or two earlier periods can give
    factor = literal(spec.factor)
    test = (
        f"{{value}} is not null and h.history >= {int(spec.min_history)} and h.low > 0 "
        f"and ({{value}} > {factor} * h.high or {{value}} * {factor} < h.low)"
    )
    return _history_rule(ind, f"{spec.id_prefix}_{ind.code}", spec, test, ruleset)


# The peers' level as a finding is worded from it (messages.peer_level), scaled to the unit:
# counts are compared per member (a unit four times the size admits about four times as many),
# so the level is the peers' rate times the unit's members; amounts and sizes as they are.
PEER_SCALE = 'case when p.per_member then nullif(w."members_total", 0) else 1 end'
PEER_COLUMNS = {
    "median": f"p.median * {PEER_SCALE}",
    "low": f"p.low * {PEER_SCALE}",
    "high": f"p.high * {PEER_SCALE}",
    "peers": "p.peers",
    "members": 'case when p.per_member then w."members_total" end',
}


def _peers(ind: Indicator, spec: PeersSpec, ruleset: RuleSet) -> CompiledRule:
    """A value against the units of its sector and form that period (`frames.val_peers`),
    for a unit with less history than its own-history rule needs: above `factor` × the peers'
    upper quartile (counts per member, scaled to the unit). Only above: a small count is often
    0. One shape for every indicator, so they all run as one scan."""
    own = ruleset.magnitude if ruleset.magnitude and ruleset.magnitude.covers(ind) else None
    own = own or ruleset.plausibility
    needs = int(own.min_history) if own else 1
    column = f"w.{q(ind.code)}"
    factor = literal(spec.factor)
    high = PEER_COLUMNS["high"]
    # at least `factor` × 1: a rare event (a member disciplined) is no outlier among units
    # whose upper quartile is a fraction of one
    condition = (
        f"{{value}} is not null and coalesce(h.history, 0) < {needs} and p.high > 0 "
        f"and {{value}} > {factor} * greatest({high}, 1)"
    )
    low = PEER_COLUMNS["low"]
    slip = " ".join(
        f"when {{value}} / {k} between {low} / 2 and {high} * 2 then {{value}} / {k}"
        for k in spec.slips
    )
    test = condition.format(value=column)
    columns = ", ".join(f"{sql} as {name}" for name, sql in PEER_COLUMNS.items())
    query = (
        f"{_beside_value(ind, f'{columns}, case {slip.format(value=column)} end as slip')} "
        "join frames.val_peers p on p.period = w.period and p.sector = w.sector "
        f"and p.form = w.form and p.indicator_code = '{ind.code}' "
        "left join frames.val_history h on h.submission_id = w.submission_id "
        f"and h.indicator_code = '{ind.code}' where {test}"
    )
    return _level_rule(
        ind,
        f"{spec.id_prefix}_{ind.code}",
        spec,
        query,
        fuse="peers",
        condition=test,
        extra=", ".join(f"'{name}', {sql}" for name, sql in PEER_COLUMNS.items())
        + f", 'slip', case {slip} end",
    )


def compile_rules(catalog: Catalog, ruleset: RuleSet | None = None) -> list[CompiledRule]:
    """Every rule of the rule set and the catalog, as queries over the validation frames."""
    ruleset = ruleset or load_rules()
    compiled = [_bounds(ind, ruleset.bounds) for ind in catalog]
    compiled += [_ratio(ind, catalog, ruleset.ratio) for ind in catalog if ind.is_rate]
    sizes = ruleset.magnitude
    if ruleset.plausibility:
        spec = ruleset.plausibility
        compiled += [
            _plausibility(i, spec, ruleset)
            for i in catalog
            if i.value_type in spec.value_types
            and not (sizes and sizes.covers(i))
            and i.code not in spec.skip
        ]
    if sizes:
        compiled += [_magnitude(i, sizes, ruleset) for i in catalog if sizes.covers(i)]
    if ruleset.peers:
        compiled += [_peers(i, ruleset.peers, ruleset) for i in catalog if ruleset.peers.covers(i)]
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
        elif rule.check in CHECK_QUERIES or rule.kind in KIND_QUERIES:
            frame, query = CHECK_QUERIES.get(
                rule.check or "", KIND_QUERIES.get(rule.kind, ("", ""))
            )
            compiled.append(
                CompiledRule(rule.id, rule.kind, rule.severity, frame, query, rule.message, ())
            )
        else:
            raise ValueError(f"rule {rule.id}: no compiler for kind {rule.kind} / {rule.check}")
    return compiled
