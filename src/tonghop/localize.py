"""Error localization: which field of a submission is most likely wrong, and a likely digit slip.

Pure Python over one submission's values and every rule a field is in (sum, part ≤ whole,
ratio, stock-flow and the linear policy rules; errors and warnings, within the period and
across periods); it reads no database and changes no data: it only sets `suspect`,
`suggested_value` or `candidates` on the balance findings concerned, for a steward to confirm.

- **Fellegi–Holt** (1976), as R's `errorlocate` does: the cheapest weighted sets of fields whose
  values could be changed so that every broken error holds without breaking a rule that held;
  a broken warning left broken costs as much as a field (`warning_weight`), so a wrong total
  that breaks its sum and the stock-flow is blamed on the total, which repairs both. The search
  is exact: subsets of the fields the rules read, cheapest first, each tested for feasibility by
  Fourier–Motzkin elimination over the linear rules and the fields' bounds (whole numbers are
  enforced on the last field eliminated only: a relaxation, exact for one field).
- **Digit slips** (Scholtus 2009; R's `deductive::correct_typos`): for a broken equality, the
  value each of its fields would need for it to hold; when that value is one edit away in the
  decimal digits (one digit wrong, two adjacent digits swapped, one digit dropped or added) and
  makes every rule the explanation repairs hold without breaking one that held, it is a
  candidate. Exactly one candidate is a suggestion; several are ambiguous and none is suggested.

A finding's suspect is the field of its own that every cheapest explanation changes; where the
rules leave a choice, its candidates are the fields of its own that one of them changes.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import combinations
from typing import Protocol

from tonghop.catalog import FORMS, SECTORS, Catalog
from tonghop.rules import LinearRule, RuleSet, linear_rules, load_rules

BALANCE_KINDS = frozenset({"sum", "part_le_whole", "ratio", "stock_flow"})
# The rules localization reasons over: the balance rules and the linear policy rules, whose
# warnings a field's change may repair or break as well.
CHECKED_KINDS = BALANCE_KINDS | {"policy"}
_EPSILON = 1e-9
_SLACK = 1e-7  # Fourier–Motzkin's comparisons in floating point

Key = tuple[str, str]  # (scope, code): ("current", "members_total"), ("previous", ...)
Inequality = tuple[dict[str, float], float]  # Σ coef·x ≤ bound over the free fields


class FindingLike(Protocol):
    rule_id: str
    kind: str
    submission_id: str | None
    indicators: list[str]
    suspect: str | None
    suggested_value: float | None
    candidates: list[str]


@dataclass
class SubmissionValues:
    """One submission's values (present ones only) and those beside it."""

    current: dict[str, float]
    previous: dict[str, float] = field(default_factory=dict)
    year: dict[str, float] = field(default_factory=dict)
    shown_decimals: dict[str, int] = field(default_factory=dict)  # rates: decimals as written
    sector: str | None = None  # the unit's, for the rules restricted to sectors or forms
    form: str | None = None

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

    solutions: tuple[tuple[str, ...], ...]  # every cheapest explanation, fields in catalog order
    suggestion: tuple[str, float] | None  # the one digit slip that explains every broken rule
    explains: tuple[str, ...]  # rule ids of the broken rules every cheapest explanation repairs

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields in every cheapest explanation: the ones the rules determine."""
        return tuple(c for c in self.solutions[0] if all(c in s for s in self.solutions))

    @property
    def candidates(self) -> tuple[str, ...]:
        """Every field of a cheapest explanation, in the order they first appear."""
        return tuple(dict.fromkeys(c for s in self.solutions for c in s))


def balance_checks(catalog: Catalog, ruleset: RuleSet | None = None) -> list[Check]:
    """The rules localization reasons over: linear balance rules and every rate's ratio."""
    ruleset = ruleset or load_rules()
    checks: list[Check] = [r for r in linear_rules(catalog, ruleset) if r.kind in CHECKED_KINDS]
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


_FIELDS: dict[int, tuple[Check, frozenset[str]]] = {}
_FACTS: dict[int, tuple[Catalog, tuple]] = {}


def _facts(catalog: Catalog) -> tuple[dict[str, int], dict[str, tuple], dict[str, int]]:
    """Each indicator's place in the catalog, bounds and decimals (the catalog looks a code up
    by walking its list)."""
    kept = _FACTS.get(id(catalog))
    if kept is None or kept[0] is not catalog:
        facts = (
            {ind.code: i for i, ind in enumerate(catalog)},
            {ind.code: ind.bounds for ind in catalog},
            {ind.code: ind.decimals for ind in catalog},
        )
        kept = _FACTS[id(catalog)] = (catalog, facts)
    return kept[1]


def _fields(check: Check) -> frozenset[str]:
    """The submission's own fields the check reads (kept by the check's identity: hashing a
    rule hashes every term of it each time)."""
    kept = _FIELDS.get(id(check))
    if kept is not None and kept[0] is check:
        return kept[1]
    if isinstance(check, RatioRule):
        found = frozenset({check.rate, *check.numerator, *check.denominator})
    else:
        found = frozenset(check.codes)
    _FIELDS[id(check)] = (check, found)
    return found


def _ratio_parts(check: RatioRule, values: dict[Key, float]) -> tuple[float, float, float]:
    num = sum(values.get(("current", c)) or 0.0 for c in check.numerator)
    den = sum(values.get(("current", c)) or 0.0 for c in check.denominator)
    return values[("current", check.rate)], num, den


def _applies(check: Check, values: dict[Key, float], unit: SubmissionValues) -> bool:
    if isinstance(check, RatioRule):
        if ("current", check.rate) not in values:
            return False
        return _ratio_parts(check, values)[2] > 0
    if not _within(unit.form, check.forms, FORMS):
        return False
    if not _within(unit.sector, check.sectors, SECTORS):
        return False
    return check.applies(values)  # type: ignore[arg-type]


def _within(value: str | None, allowed: tuple[str, ...] | None, every: tuple[str, ...]) -> bool:
    """Whether a unit's form (or sector) is among a rule's; an unknown one only when the rule
    takes them all."""
    if allowed is None:
        return True
    return value in allowed if value is not None else set(every) <= set(allowed)


def _ratio_tolerance(check: RatioRule, shown: dict[str, int]) -> float:
    return 0.5 * 10 ** -shown.get(check.rate, check.decimals)


def _holds(check: Check, values: dict[Key, float], shown: dict[str, int]) -> bool:
    if isinstance(check, RatioRule):
        rate, num, den = _ratio_parts(check, values)
        if den <= 0:
            return True
        return abs(rate - 100.0 * num / den) <= _ratio_tolerance(check, shown) + _EPSILON
    return check.holds(*check.sides(values))  # type: ignore[arg-type]


def _exact(value: float) -> float:
    return float(value)


def _inequalities(
    check: Check, values: dict[Key, float], free: frozenset[str], shown: dict[str, int]
) -> list[Inequality]:
    """The check as `Σ coef·x ≤ bound` over the free fields, the others fixed at their values."""
    if isinstance(check, RatioRule):
        if check.rate in free:
            # the rate is then whatever its parts give; it stays within 0..100 iff num ≤ den
            coefs: dict[str, float] = {}
            bound = 0.0
            for codes, sign in ((check.numerator, 1), (check.denominator, -1)):
                for c in codes:
                    if c in free:
                        coefs[c] = coefs.get(c, 0.0) + sign
                    else:
                        bound -= sign * _exact(values.get(("current", c)) or 0.0)
            return [(coefs, bound)]
        rate = _exact(values[("current", check.rate)])
        tol = _exact(_ratio_tolerance(check, shown))
        # |rate − 100·num/den| ≤ tol with den > 0:  100·num − (rate+tol)·den ≤ 0  and
        # (rate−tol)·den − 100·num ≤ 0
        out = []
        for num_coef, den_coef in ((100.0, -(rate + tol)), (-100.0, rate - tol)):
            coefs, bound = {}, 0.0
            for codes, k in ((check.numerator, num_coef), (check.denominator, den_coef)):
                for c in codes:
                    if c in free:
                        coefs[c] = coefs.get(c, 0.0) + k
                    else:
                        bound -= k * _exact(values.get(("current", c)) or 0.0)
            out.append((coefs, bound))
        return out
    coefs = {}
    constant = _exact(check.left_constant) - _exact(check.right_constant)
    for term in check.terms:
        if term.scope == "current" and term.code in free:
            coefs[term.code] = coefs.get(term.code, 0.0) + _exact(term.coef)
        else:
            constant += _exact(term.coef) * _exact(values.get(term.key) or 0.0)
    tol = _exact(check.tolerance)
    tiny = _EPSILON
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
    """Fourier–Motzkin: is there a point satisfying every inequality (within `_SLACK`)?

    In floating point: the rules' coefficients are small and their values at most a few
    million, so a slack far below any rule's tolerance keeps rounding from deciding.
    """
    rows = [({c: k for c, k in coefs.items() if abs(k) > _SLACK}, b) for coefs, b in inequalities]
    for var in order[:-1]:
        pos = [r for r in rows if r[0].get(var, 0.0) > 0]
        neg = [r for r in rows if r[0].get(var, 0.0) < 0]
        rows = [r for r in rows if var not in r[0]]
        for pc, pb in pos:
            for nc, nb in neg:
                a, b = pc[var], -nc[var]
                coefs = {}
                for c in pc.keys() | nc.keys():
                    if c != var:
                        k = pc.get(c, 0.0) / a + nc.get(c, 0.0) / b
                        if abs(k) > _SLACK:
                            coefs[c] = k
                rows.append((coefs, pb / a + nb / b))
        if any(not coefs and bound < -_SLACK for coefs, bound in rows):
            return False
    last = order[-1]
    low, high = None, None
    for coefs, bound in rows:
        k = coefs.get(last, 0.0)
        if not k:
            if bound < -_SLACK:
                return False
        elif k > 0:
            high = bound / k if high is None else min(high, bound / k)
        else:
            low = bound / k if low is None else max(low, bound / k)
    if low is not None and high is not None and low > high + _SLACK:
        return False
    if last in whole and low is not None and high is not None:
        return math.ceil(low - _SLACK) <= math.floor(high + _SLACK)
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
) -> Iterator[tuple[float, tuple[str, ...] | None]]:
    """The subsets of up to `max_fields` candidates that touch every target check, with their
    summed weight, lightest first; of equal weight, fewer fields first, then in `combinations`
    order.

    Subsets of k fields are listed only once the lightest k fields could weigh no more than
    the next subset: a submission one field explains never lists the pairs and triples
    (thousands of them, which listing would make most of localization's time). Before listing
    them with nothing else left, `(the least they can weigh, None)` comes first, so a caller
    that has its answer stops there.

    >>> from types import SimpleNamespace
    >>> check, fields = SimpleNamespace(rule_id="t"), {"t": frozenset("ab")}
    >>> [s for _, s in _lightest_first(["a", "b", "c"], [check], fields, {"a": 3}, 2) if s]
    [('b',), ('b', 'c'), ('a',), ('a', 'b'), ('a', 'c')]
    """
    of = {c: weights.get(c, 1.0) for c in candidates}

    def weight(subset: tuple[str, ...]) -> float:
        return sum(of[c] for c in subset)

    # one bit per target check: a subset must cover them all
    bits = {
        c: sum(1 << i for i, check in enumerate(target) if c in fields_of[check.rule_id])
        for c in candidates
    }
    every = (1 << len(target)) - 1
    lightest = sorted(of.values())
    queue: deque[tuple[str, ...]] = deque()
    listed = 0
    while True:
        while listed < min(max_fields, len(candidates)) and (
            not queue or sum(lightest[: listed + 1]) <= weight(queue[0])
        ):
            if not queue:
                yield sum(lightest[: listed + 1]), None
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


def _connected_to(subset: tuple[str, ...], rules_of: dict[str, int], target_bits: int) -> bool:
    """Whether every field of `subset` reaches a broken rule (`target_bits`) through rules the
    subset's fields share: one that does not touches only rules that hold and could be left as
    it is, so the subset is never the cheapest.

    >>> _connected_to(("a", "b"), {"a": 0b01, "b": 0b10}, 0b01)
    False
    >>> _connected_to(("a", "b"), {"a": 0b01, "b": 0b11}, 0b01)
    True
    """
    reached = [c for c in subset if rules_of[c] & target_bits]
    rest = [c for c in subset if not rules_of[c] & target_bits]
    while rest:
        mask = 0
        for c in reached:
            mask |= rules_of[c]
        joined = [c for c in rest if rules_of[c] & mask]
        if not joined:
            return False
        reached += joined
        rest = [c for c in rest if c not in joined]
    return True


def locate(
    values: SubmissionValues,
    checks: list[Check],
    catalog: Catalog,
    weights: dict[str, float] | None = None,
    max_fields: int = 3,
    warning_weight: float = 1.0,
) -> Location | None:
    """Explain the broken rules of one submission (None when none is broken).

    Every explanation repairs the broken errors and keeps every rule that holds; a broken
    warning it leaves broken costs `warning_weight`, as a field costs its weight. The cheapest
    explanations are all kept; a unique digit slip singles out the one it belongs to.
    """
    weights = weights or {}
    vals = values.keyed()
    shown = values.shown_decimals
    applicable = [c for c in checks if _applies(c, vals, values)]
    broken = [c for c in applicable if not _holds(c, vals, shown)]
    if not broken:
        return None
    errors = [c for c in broken if c.severity == "error"]
    warnings = [c for c in broken if c.severity != "error"]
    holding = [c for c in applicable if not any(c is b for b in broken)]
    order, bounds_of, _decimals = _facts(catalog)
    candidates = sorted(
        {f for c in applicable for f in _fields(c) if f in values.current},
        key=lambda c: order.get(c, len(order)),
    )
    bounds = {c: bounds_of[c] for c in candidates if c in bounds_of}
    every = errors + warnings + holding
    rules_of = dict.fromkeys(candidates, 0)
    for i, check in enumerate(every):
        for c in _fields(check):
            if c in rules_of:
                rules_of[c] |= 1 << i
    cover = errors or warnings
    broken_bits = (1 << len(broken)) - 1  # errors and warnings come first in `every`

    def feasible(subset: tuple[str, ...], forced: list[Check]) -> bool:
        free = frozenset(subset)
        rows: list[Inequality] = []
        for check in forced:
            if _fields(check) & free:
                rows += _inequalities(check, vals, free, shown)
        for code in subset:
            low, high, _whole = bounds.get(code, (0, None, False))
            rows.append(({code: -1.0}, -_exact(low)))
            if high is not None:
                rows.append(({code: 1.0}, _exact(high)))
        whole = {c for c in subset if bounds.get(c, (0, None, False))[2]}
        return _feasible(rows, list(subset), whole)

    def repair(subset: tuple[str, ...], weight: float, best: float | None) -> tuple | None:
        """The most broken warnings `subset` can repair with the errors (None: not the errors)."""
        free = frozenset(subset)
        touched = [w for w in warnings if _fields(w) & free]
        kept = [c for c in holding if _fields(c) & free]
        sizes = range(len(touched), -1, -1) if errors else [len(warnings)]
        for size in sizes:
            left = len(warnings) - size
            if best is not None and weight + warning_weight * left > best + _EPSILON:
                return None
            for repaired in combinations(touched, size):
                if feasible(subset, [*errors, *repaired, *kept]):
                    return weight + warning_weight * left, repaired
        return None

    found: list[tuple[float, tuple[str, ...], tuple[Check, ...]]] = []
    best: float | None = None
    for weight, subset in _lightest_first(
        candidates, cover, {c.rule_id: _fields(c) for c in every}, weights, max_fields
    ):
        if best is not None and weight > best + _EPSILON:
            break
        if subset is None:
            continue
        if len(subset) > 1 and not _connected_to(subset, rules_of, broken_bits):
            continue
        result = repair(subset, weight, best)
        if result is None:
            continue
        score, repaired = result
        if best is None or score < best - _EPSILON:
            best, found = score, []
        found.append((score, subset, repaired))
    found = [f for f in found if f[0] <= (best or 0) + _EPSILON]
    if not found:
        return None
    explained = [*errors, *(w for w in warnings if all(w in f[2] for f in found))]
    slips = _digit_slips(values, explained, [*explained, *holding], catalog)
    suggestion = slips[0] if len(slips) == 1 else None
    solutions = [f[1] for f in found]
    if suggestion and len(solutions) > 1:
        # a digit slip that explains the same rules tells the equally cheap explanations apart
        with_slip = [s for s in solutions if suggestion[0] in s]
        solutions = with_slip if len(with_slip) == 1 else solutions
    if suggestion and not any(suggestion[0] in s for s in solutions):
        suggestion = None
    return Location(
        tuple(solutions),
        suggestion if len(solutions) == 1 else None,
        tuple(c.rule_id for c in explained),
    )


def _digit_slips(
    values: SubmissionValues, target: list[Check], active: list[Check], catalog: Catalog
) -> list[tuple[str, float]]:
    """Every (field, value) one digit edit away that makes all of `active` hold."""
    _order, bounds_of, decimals_of = _facts(catalog)
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
            if not all(code in _fields(c) for c in target):
                continue  # one field's slip cannot repair a rule it is not in
            decimals = decimals_of.get(code, 0)
            now = values.current[code]
            wanted = round(now - diff / term.coef, decimals)
            low, high, _whole = bounds_of.get(code, (0, None, False))
            if wanted == now or wanted < low or (high is not None and wanted > high) or now < 0:
                continue
            if not one_edit(_digits(now, decimals), _digits(wanted, decimals)):
                continue
            changed = dict(vals)
            changed[("current", code)] = wanted
            if all(_holds(c, changed, shown) for c in active if code in _fields(c)):
                found[(code, wanted)] = None
    return list(found)


def apply_localization(
    findings: Iterable[FindingLike],
    values: dict[str, SubmissionValues],
    checks: list[Check],
    catalog: Catalog,
    weights: dict[str, float] | None = None,
    max_fields: int = 3,
    warning_weight: float = 1.0,
) -> None:
    """Set `suspect` and `suggested_value` on the balance findings of each submission where the
    rules determine the field, `candidates` where they leave a choice."""
    by_submission: dict[str, list[FindingLike]] = {}
    for finding in findings:
        if finding.kind in BALANCE_KINDS and finding.submission_id in values:
            by_submission.setdefault(finding.submission_id, []).append(finding)  # type: ignore[arg-type]
    for submission_id, concerned in by_submission.items():
        location = locate(
            values[submission_id], checks, catalog, weights, max_fields, warning_weight
        )
        if location is None:
            continue
        for finding in concerned:
            if finding.rule_id not in location.explains:
                continue
            determined = [c for c in location.fields if c in finding.indicators]
            if len(determined) != 1:
                finding.candidates = [c for c in location.candidates if c in finding.indicators]
                continue
            finding.suspect = determined[0]
            if location.suggestion and location.suggestion[0] == finding.suspect:
                finding.suggested_value = location.suggestion[1]
