"""Linear rules: `left op right` over one submission, as data and as SQL.

A term may read the unit's previous period (`prev.code`, frame val_previous) or the sum of its
calendar year (`year.code`, frame val_year). Stock-flow and policy rules are written this way
in rules.yaml; sum and part ≤ whole rules are turned into the same form so that
tonghop.localize can reason over all of them with one evaluator, the same one whose SQL GX runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tonghop.catalog import FORMS, SECTORS, Catalog
from tonghop.rules.compiled import literal, rounding_tolerance
from tonghop.rules.spec import RuleSet, RuleSpec, load_rules

Scope = Literal["current", "previous", "year"]
_SCOPE_PREFIX = {"prev": "previous", "year": "year"}
SCOPE_ALIAS = {"current": "w", "previous": "p", "year": "y"}
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
        tol = literal(self.tolerance)
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


def scope_of(
    catalog: Catalog, codes: list[str]
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The forms and sectors every indicator of `codes` applies to (None: any).

    >>> from tonghop.catalog import load_catalog
    >>> scope_of(load_catalog(), ["branches_meeting_regularly", "branches_total"])
    (('dang_bo',), None)
    """
    forms: set[str] | None = None
    sectors: set[str] | None = None
    for code in codes:
        scope = catalog[code].applies_to
        if scope.forms is not None:
            forms = set(scope.forms) if forms is None else forms & set(scope.forms)
        if scope.sectors is not None:
            sectors = set(scope.sectors) if sectors is None else sectors & set(scope.sectors)
    order = {v: i for i, v in enumerate(FORMS + SECTORS)}
    return (
        None if forms is None else tuple(sorted(forms, key=order.get)),
        None if sectors is None else tuple(sorted(sectors, key=order.get)),
    )


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
            rounding_tolerance(catalog, [rule.total, *rule.parts]),
            required=frozenset({left[0].key}),
            any_of=frozenset(t.key for t in right),
            forms=scope_of(catalog, [rule.total, *rule.parts])[0],
            sectors=scope_of(catalog, [rule.total, *rule.parts])[1],
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
            rounding_tolerance(catalog, [rule.part, rule.whole]),
            required=frozenset({left[0].key, right[0].key}),
            forms=scope_of(catalog, [rule.part, rule.whole])[0],
            sectors=scope_of(catalog, [rule.part, rule.whole])[1],
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
