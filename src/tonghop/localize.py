"""Error localization: which field of a submission is most likely wrong, and a likely digit slip.

Pure Python over one submission's values and the balance rules (sum, part ≤ whole, ratio,
stock-flow); it reads no database and changes no data: it only sets `suspect` and
`suggested_value` on the findings concerned, for a steward to confirm.

- **Fellegi–Holt** (1976), as R's `errorlocate` does: the smallest weighted set of fields whose
  values could be changed so that every broken rule holds without breaking one that held. The
  search is exact: subsets of the fields the rules read, cheapest first, each tested for
  feasibility by Fourier–Motzkin elimination over the linear rules and the fields' bounds
  (whole numbers are enforced on the last field eliminated only: a relaxation, exact for one
  field). A submission has a few dozen fields, so this stays small.
- **Digit slips** (Scholtus 2009; R's `deductive::correct_typos`): for a broken equality, the
  value each of its fields would need for it to hold; when that value is one edit away in the
  decimal digits (one digit wrong, two adjacent digits swapped, one digit dropped or added) and
  makes every broken balance hold without breaking one that held, it is a candidate. Exactly one
  candidate is a suggestion; several are ambiguous and none is suggested.

Failing warnings (stock-flow: flows may be incomplete) are explained only when no error is:
an error's explanation must keep every rule that holds true, but need not repair a warning.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from typing import Protocol

from tonghop.catalog import Catalog
from tonghop.rules import LinearRule, RuleSet, linear_rules, load_rules

BALANCE_KINDS = frozenset({"sum", "part_le_whole", "ratio", "stock_flow"})
_EPSILON = 1e-9

Key = tuple[str, str]  # (scope, code): ("current", "members_total"), ("previous", ...)
Inequality = tuple[dict[str, Fraction], Fraction]  # Σ coef·x ≤ bound over the free fields


class FindingLike(Protocol):
    rule_id: str
    kind: str
    submission_id: str | None
    indicators: list[str]
    suspect: str | None
    suggested_value: float | None


@dataclass
class SubmissionValues:
    """One submission's values (present ones only) and those beside it."""

    current: dict[str, float]
    previous: dict[str, float] = field(default_factory=dict)
    year: dict[str, float] = field(default_factory=dict)
    shown_decimals: dict[str, int] = field(default_factory=dict)  # rates: decimals as written

    def keyed(self) -> dict[Key, float]:
        out: dict[Key, float] = {("current", c): v for c, v in self.current.items()}
        out.update({("previous", c): v for c, v in self.previous.items()})
        out.update({("year", c): v for c, v in self.year.items()})
        return out


@dataclass(frozen=True)
class RatioRule:
    """`rate ≈ 100 × Σ numerator / Σ denominator` within the rounding of the rate as shown."""

    rule_id: str
    severity: str
    rate: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    decimals: int
    kind: str = "ratio"


Check = LinearRule | RatioRule


@dataclass(frozen=True)
class Location:
    """What the search found for one submission."""

    fields: tuple[str, ...]  # the cheapest explanation (best ranked of its weight)
    alternatives: int  # other explanations of the same weight
    suggestion: tuple[str, float] | None  # the one digit slip that explains every broken rule
    explains: tuple[str, ...]  # rule ids of the broken rules it explains


def balance_checks(catalog: Catalog, ruleset: RuleSet | None = None) -> list[Check]:
    """The rules localization reasons over: linear balance rules and every rate's ratio."""
    ruleset = ruleset or load_rules()
    checks: list[Check] = [r for r in linear_rules(catalog, ruleset) if r.kind in BALANCE_KINDS]
    checks += [
        RatioRule(
            f"{ruleset.ratio.id_prefix}_{ind.code}",
            ruleset.ratio.severity,
            ind.code,
            tuple(ind.numerator),
            tuple(ind.denominator),
            ind.decimals,
        )
        for ind in catalog
        if ind.is_rate
    ]
    return checks


def _fields(check: Check) -> frozenset[str]:
    if isinstance(check, RatioRule):
        return frozenset({check.rate, *check.numerator, *check.denominator})
    return frozenset(check.codes)


def _ratio_parts(check: RatioRule, values: dict[Key, float]) -> tuple[float, float, float]:
    num = sum(values.get(("current", c)) or 0.0 for c in check.numerator)
    den = sum(values.get(("current", c)) or 0.0 for c in check.denominator)
    return values[("current", check.rate)], num, den


def _applies(check: Check, values: dict[Key, float], shown: dict[str, int]) -> bool:
    if isinstance(check, RatioRule):
        if ("current", check.rate) not in values:
            return False
        return _ratio_parts(check, values)[2] > 0
    return check.applies(values)  # type: ignore[arg-type]


def _ratio_tolerance(check: RatioRule, shown: dict[str, int]) -> float:
    return 0.5 * 10 ** -shown.get(check.rate, check.decimals)


def _holds(check: Check, values: dict[Key, float], shown: dict[str, int]) -> bool:
    if isinstance(check, RatioRule):
        rate, num, den = _ratio_parts(check, values)
        if den <= 0:
            return True
        return abs(rate - 100.0 * num / den) <= _ratio_tolerance(check, shown) + _EPSILON
    return check.holds(*check.sides(values))  # type: ignore[arg-type]


def _exact(value: float) -> Fraction:
    return Fraction(repr(float(value)))


def _inequalities(
    check: Check, values: dict[Key, float], free: frozenset[str], shown: dict[str, int]
) -> list[Inequality]:
    """The check as `Σ coef·x ≤ bound` over the free fields, the others fixed at their values."""
    if isinstance(check, RatioRule):
        if check.rate in free:
            # the rate is then whatever its parts give; it stays within 0..100 iff num ≤ den
            coefs: dict[str, Fraction] = {}
            bound = Fraction(0)
            for codes, sign in ((check.numerator, 1), (check.denominator, -1)):
                for c in codes:
                    if c in free:
                        coefs[c] = coefs.get(c, Fraction(0)) + sign
                    else:
                        bound -= sign * _exact(values.get(("current", c)) or 0.0)
            return [(coefs, bound)]
        rate = _exact(values[("current", check.rate)])
        tol = _exact(_ratio_tolerance(check, shown))
        # |rate − 100·num/den| ≤ tol with den > 0:  100·num − (rate+tol)·den ≤ 0  and
        # (rate−tol)·den − 100·num ≤ 0
        out = []
        for num_coef, den_coef in ((Fraction(100), -(rate + tol)), (Fraction(-100), rate - tol)):
            coefs, bound = {}, Fraction(0)
            for codes, k in ((check.numerator, num_coef), (check.denominator, den_coef)):
                for c in codes:
                    if c in free:
                        coefs[c] = coefs.get(c, Fraction(0)) + k
                    else:
                        bound -= k * _exact(values.get(("current", c)) or 0.0)
            out.append((coefs, bound))
        return out
    coefs = {}
    constant = _exact(check.left_constant) - _exact(check.right_constant)
    for term in check.terms:
        if term.scope == "current" and term.code in free:
            coefs[term.code] = coefs.get(term.code, Fraction(0)) + _exact(term.coef)
        else:
            constant += _exact(term.coef) * _exact(values.get(term.key) or 0.0)
    tol = _exact(check.tolerance)
    tiny = Fraction(1, 10**9)
    negated = {c: -k for c, k in coefs.items()}
    # diff = Σ coef·x + constant
    return {
        "=": [(coefs, tol - constant), (negated, tol + constant)],
        "<=": [(coefs, tol - constant)],
        "<": [(coefs, tol - constant - tiny)],
        ">=": [(negated, tol + constant)],
        ">": [(negated, tol + constant - tiny)],
    }[check.op]


def _feasible(inequalities: list[Inequality], order: list[str], whole: set[str]) -> bool:
    """Fourier–Motzkin: is there a point satisfying every inequality?"""
    rows = [({c: k for c, k in coefs.items() if k}, bound) for coefs, bound in inequalities]
    for var in order[:-1]:
        pos = [r for r in rows if r[0].get(var, 0) > 0]
        neg = [r for r in rows if r[0].get(var, 0) < 0]
        rows = [r for r in rows if not r[0].get(var)]
        for pc, pb in pos:
            for nc, nb in neg:
                a, b = pc[var], -nc[var]
                coefs = {}
                for c in set(pc) | set(nc):
                    if c != var:
                        k = pc.get(c, Fraction(0)) / a + nc.get(c, Fraction(0)) / b
                        if k:
                            coefs[c] = k
                rows.append((coefs, pb / a + nb / b))
        if any(not coefs and bound < 0 for coefs, bound in rows):
            return False
    last = order[-1]
    low, high = None, None
    for coefs, bound in rows:
        k = coefs.get(last, Fraction(0))
        if not k:
            if bound < 0:
                return False
        elif k > 0:
            high = bound / k if high is None else min(high, bound / k)
        else:
            low = bound / k if low is None else max(low, bound / k)
    if low is not None and high is not None and low > high:
        return False
    if last in whole and low is not None and high is not None:
        return math.ceil(low) <= math.floor(high)
    return True


def _digits(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}".replace(".", "")


def one_edit(a: str, b: str) -> bool:
    """Whether `b` is `a` with one digit wrong, two adjacent digits swapped, dropped or added.

    >>> one_edit("125", "152"), one_edit("117", "1117"), one_edit("40", "45"), one_edit("50", "45")
    (True, True, True, False)
    """
    if a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i = diff[0]
        return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    if len(long_) - len(short) != 1:
        return False
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _lightest_first(
    candidates: list[str],
    target: list[Check],
    fields_of: dict[str, frozenset[str]],
    weights: dict[str, float],
    max_fields: int,
) -> Iterator[tuple[float, tuple[str, ...]]]:
    """The subsets of up to `max_fields` candidates that touch every target check, with their
    summed weight, lightest first; of equal weight, fewer fields first, then in `combinations`
    order.

    Subsets of k fields are listed only once the lightest k fields could weigh no more than
    the next subset: a submission one field explains never lists the pairs and triples
    (thousands of them, which listing would make most of localization's time).

    >>> from types import SimpleNamespace
    >>> check, fields = SimpleNamespace(rule_id="t"), {"t": frozenset("ab")}
    >>> [s for _, s in _lightest_first(["a", "b", "c"], [check], fields, {"a": 3}, 2)]
    [('b',), ('b', 'c'), ('a',), ('a', 'b'), ('a', 'c')]
    """

    def weight(subset: tuple[str, ...]) -> float:
        return sum(weights.get(c, 1.0) for c in subset)

    # one bit per target check: a subset must cover them all
    bits = {
        c: sum(1 << i for i, check in enumerate(target) if c in fields_of[check.rule_id])
        for c in candidates
    }
    every = (1 << len(target)) - 1
    lightest = sorted(weights.get(c, 1.0) for c in candidates)
    queue: deque[tuple[str, ...]] = deque()
    listed = 0
    while True:
        while listed < min(max_fields, len(candidates)) and (
            not queue or sum(lightest[: listed + 1]) <= weight(queue[0])
        ):
            listed += 1
            covering = []
            for subset in combinations(candidates, listed):
                covered = 0
                for c in subset:
                    covered |= bits[c]
                if covered == every:
                    covering.append(subset)
            queue = deque(sorted([*queue, *covering], key=weight))  # stable: fewer fields first
        if not queue:
            return
        subset = queue.popleft()
        yield weight(subset), subset


def locate(
    values: SubmissionValues,
    checks: list[Check],
    catalog: Catalog,
    weights: dict[str, float] | None = None,
    max_fields: int = 3,
) -> Location | None:
    """Explain the broken balance rules of one submission (None when none is broken)."""
    weights = weights or {}
    vals = values.keyed()
    shown = values.shown_decimals
    applicable = [c for c in checks if _applies(c, vals, shown)]
    broken = [c for c in applicable if not _holds(c, vals, shown)]
    if not broken:
        return None
    errors = [c for c in broken if c.severity == "error"]
    target = errors or broken
    active = target + [c for c in applicable if c not in broken]
    fields_of = {c.rule_id: _fields(c) for c in active}
    order = {code: i for i, code in enumerate(catalog.codes)}
    candidates = sorted(
        {f for c in active for f in fields_of[c.rule_id] if f in values.current},
        key=lambda c: order.get(c, len(order)),
    )
    bounds = {c: catalog[c].bounds for c in candidates if c in catalog}
    totals = {
        c.left[0].code for c in active if isinstance(c, LinearRule) and c.kind == "sum" and c.left
    }
    suggestions = _digit_slips(values, target, active, catalog)
    slip_fields = {code for code, _ in suggestions}

    def feasible(subset: tuple[str, ...]) -> bool:
        free = frozenset(subset)
        rows: list[Inequality] = []
        for check in active:
            if fields_of[check.rule_id] & free:
                rows += _inequalities(check, vals, free, shown)
        for code in subset:
            low, high, _whole = bounds.get(code, (0, None, False))
            rows.append(({code: Fraction(-1)}, -_exact(low)))
            if high is not None:
                rows.append(({code: Fraction(1)}, _exact(high)))
        whole = {c for c in subset if bounds.get(c, (0, None, False))[2]}
        return _feasible(rows, list(subset), whole)

    best: list[tuple[str, ...]] = []
    lightest = 0.0
    for weight, subset in _lightest_first(candidates, target, fields_of, weights, max_fields):
        if best and weight > lightest + _EPSILON:
            break
        if feasible(subset):
            lightest = lightest if best else weight
            best.append(subset)
    if not best:
        return None
    best.sort(
        key=lambda s: (
            0 if set(s) & slip_fields else 1,
            # SPEC §1: hand-typed totals are what fail to match their parts
            -len(set(s) & totals),
            [order.get(c, len(order)) for c in s],
        )
    )
    chosen = best[0]
    suggestion = suggestions[0] if len(suggestions) == 1 else None
    if suggestion and suggestion[0] not in chosen:
        suggestion = None
    return Location(chosen, len(best) - 1, suggestion, tuple(c.rule_id for c in target))


def _digit_slips(
    values: SubmissionValues, target: list[Check], active: list[Check], catalog: Catalog
) -> list[tuple[str, float]]:
    """Every (field, value) one digit edit away that makes all of `active` hold."""
    vals = values.keyed()
    shown = values.shown_decimals
    found: dict[tuple[str, float], None] = {}
    for check in target:
        if not isinstance(check, LinearRule) or check.op != "=":
            continue
        left, right = check.sides(vals)
        diff = left - right
        for term in check.terms:
            code = term.code
            if term.scope != "current" or code not in values.current or not term.coef:
                continue
            decimals = catalog[code].decimals if code in catalog else 0
            now = values.current[code]
            wanted = round(now - diff / term.coef, decimals)
            low, high, _whole = catalog[code].bounds if code in catalog else (0, None, False)
            if wanted == now or wanted < low or (high is not None and wanted > high) or now < 0:
                continue
            if not one_edit(_digits(now, decimals), _digits(wanted, decimals)):
                continue
            changed = dict(vals)
            changed[("current", code)] = wanted
            if all(_holds(c, changed, shown) for c in active):
                found[(code, wanted)] = None
    return list(found)


def apply_localization(
    findings: Iterable[FindingLike],
    values: dict[str, SubmissionValues],
    checks: list[Check],
    catalog: Catalog,
    weights: dict[str, float] | None = None,
    max_fields: int = 3,
) -> None:
    """Set `suspect` and `suggested_value` on the balance findings of each submission."""
    by_submission: dict[str, list[FindingLike]] = {}
    for finding in findings:
        if finding.kind in BALANCE_KINDS and finding.submission_id in values:
            by_submission.setdefault(finding.submission_id, []).append(finding)  # type: ignore[arg-type]
    for submission_id, concerned in by_submission.items():
        location = locate(values[submission_id], checks, catalog, weights, max_fields)
        if location is None:
            continue
        for finding in concerned:
            if finding.rule_id not in location.explains:
                continue
            suspect = next((c for c in location.fields if c in finding.indicators), None)
            if suspect is None:
                continue
            finding.suspect = suspect
            if location.suggestion and location.suggestion[0] == suspect:
                finding.suggested_value = location.suggestion[1]
