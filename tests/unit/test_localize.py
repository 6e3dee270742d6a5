"""Error localization on hand-made submissions: no database, the rules of expectations/."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import combinations
from types import SimpleNamespace

import pytest

from tonghop.catalog import load_catalog
from tonghop.localize import (
    Location,
    SubmissionValues,
    _lightest_first,
    apply_localization,
    balance_checks,
    locate,
    one_edit,
)

CATALOG = load_catalog()
CHECKS = balance_checks(CATALOG)


def _locate(current: dict[str, float], previous: dict[str, float] | None = None) -> Location:
    location = locate(SubmissionValues(current, previous or {}), CHECKS, CATALOG)
    assert location is not None
    return location


def test_nothing_broken_nothing_located() -> None:
    values = SubmissionValues(
        {"members_total": 50, "members_official": 45, "members_probationary": 5}
    )
    assert locate(values, CHECKS, CATALOG) is None


def test_changed_official_is_the_suspect_when_other_rules_pin_the_rest() -> None:
    # 2023-H1: 50 = 45 + 5; now official typed 30. Changing the total would break the stock-flow
    # equation, raising probationary to 20 the probationary bound (5 + 0 admitted): only the
    # official count can be wrong. 30 is no digit slip of 45: no suggestion.
    location = _locate(
        {"members_total": 50, "members_official": 30, "members_probationary": 5},
        {"members_total": 50, "members_official": 45, "members_probationary": 5},
    )
    assert location.solutions == (("members_official",),)
    assert location.suggestion is None


def test_transposed_digits_are_suggested() -> None:
    location = _locate({"members_total": 125, "members_official": 140, "members_probationary": 12})
    assert location.fields == ("members_total",)
    assert location.suggestion == ("members_total", 152)


def test_dropped_digit_is_suggested() -> None:
    location = _locate({"members_total": 117, "members_official": 1050, "members_probationary": 67})
    assert location.suggestion == ("members_total", 1117)


def test_wrong_digit_in_a_part_is_suggested() -> None:
    location = _locate({"members_total": 50, "members_official": 40, "members_probationary": 5})
    assert location.fields == ("members_official",)
    assert location.suggestion == ("members_official", 45)


def test_ambiguous_slips_give_candidates_but_no_suspect() -> None:
    # 51 vs 50 + 0: the total (50), the official count (51) and probationary (1) are each one
    # digit away; nothing tells them apart
    location = _locate({"members_total": 51, "members_official": 50, "members_probationary": 0})
    assert location.fields == ()
    assert location.candidates == ("members_total", "members_official", "members_probationary")
    assert location.suggestion is None


def test_a_wrong_total_breaks_its_sum_and_the_stock_flow_and_is_the_suspect() -> None:
    # 2023-H2: 150 + 2 admitted = 152 = 140 + 12, typed 162. Official 150 would repair the sum
    # (140 → 150 is one digit, a slip) but leave the stock-flow broken; the total repairs both.
    location = _locate(
        {"members_total": 162, "members_official": 140, "members_probationary": 12,
         "members_admitted": 2},
        {"members_total": 150, "members_official": 140, "members_probationary": 10},
    )  # fmt: skip
    assert location.solutions == (("members_total",),)
    assert location.explains == ("members_total_sum", "members_stock_flow")
    assert location.suggestion == ("members_total", 152)


def test_equally_cheap_explanations_leave_the_field_open() -> None:
    # 40 ≠ 30 + 5 and 38 + 0 ≠ 40. The total (35) or official (35) repairs the sum and leaves
    # the stock-flow broken; official 35 with 2 admitted repairs both: each costs 2.
    location = _locate(
        {"members_total": 40, "members_official": 30, "members_probationary": 5,
         "members_admitted": 0},
        {"members_total": 38, "members_official": 33, "members_probationary": 5},
    )  # fmt: skip
    assert location.explains == ("members_total_sum",)
    assert location.fields == ()
    assert set(location.candidates) == {"members_total", "members_official", "members_admitted"}


def test_slip_must_repair_every_broken_balance() -> None:
    # rated 40 = 5 + 25 + 8 + 2, but members_total 35 < rated and 35 ≠ 30 + 5 holds: the total
    # is fine for its sum; rated 40 → 30 would need two digits; no single slip repairs both
    location = _locate(
        {
            "members_total": 35,
            "members_official": 30,
            "members_probationary": 5,
            "members_rated": 40,
            "members_rated_excellent": 5,
            "members_rated_good": 25,
            "members_rated_complete": 3,
            "members_rated_incomplete": 2,
        }
    )
    assert location.explains == ("members_rated_sum", "rated_le_members")
    assert location.fields == ("members_rated",)
    assert location.suggestion is None


def test_ratio_rate_is_suspected_when_its_parts_agree() -> None:
    # 30 of 40 rated good or better is 75%; 57 is typed; the counts satisfy their own sum
    location = _locate(
        {
            "members_total": 50,
            "members_official": 45,
            "members_probationary": 5,
            "members_rated": 40,
            "members_rated_excellent": 5,
            "members_rated_good": 25,
            "members_rated_complete": 8,
            "members_rated_incomplete": 2,
            "members_rated_good_pct": 57,
        }
    )
    assert location.explains == ("ratio_members_rated_good_pct",)
    assert location.fields == ("members_rated_good_pct",)


def test_stock_flow_warning_alone_is_localized() -> None:
    # 48 + nothing ≠ 50: with no flow reported, the total must change, and with it one part
    location = _locate(
        {"members_total": 50, "members_official": 45, "members_probationary": 5},
        {"members_total": 48, "members_official": 43, "members_probationary": 5},
    )
    assert location.explains == ("members_stock_flow",)
    # the total with either part: the total is determined, the part is not
    assert location.solutions == (
        ("members_total", "members_official"),
        ("members_total", "members_probationary"),
    )
    assert location.fields == ("members_total",)


@dataclass
class _Finding:
    rule_id: str
    kind: str
    submission_id: str | None
    indicators: list[str]
    suspect: str | None = None
    suggested_value: float | None = None


def test_apply_sets_suspect_and_suggestion_on_the_findings_it_explains() -> None:
    sum_finding = _Finding(
        "members_total_sum",
        "sum",
        "s1",
        ["members_total", "members_official", "members_probationary"],
    )
    other = _Finding("bounds_members_admitted", "bounds", "s1", ["members_admitted"])
    values = {
        "s1": SubmissionValues(
            {"members_total": 125, "members_official": 140, "members_probationary": 12}
        )
    }
    apply_localization([sum_finding, other], values, CHECKS, CATALOG)
    assert (sum_finding.suspect, sum_finding.suggested_value) == ("members_total", 152)
    assert (other.suspect, other.suggested_value) == (None, None)


@pytest.mark.parametrize(
    ("typed", "meant", "slip"),
    [
        ("125", "152", True),  # adjacent transposition
        ("117", "1117", True),  # digit dropped
        ("1117", "117", True),  # digit added
        ("40", "45", True),  # one wrong digit
        ("152", "215", False),  # not adjacent
        ("50", "45", False),  # two digits
        ("12", "12", False),
    ],
)
def test_one_edit(typed: str, meant: str, slip: bool) -> None:
    assert one_edit(typed, meant) is slip


def test_subsets_come_lightest_first_as_a_full_sort_lists_them() -> None:
    """The lazy listing (`_lightest_first`) against its plain definition: every covering
    subset of up to 3 fields, sorted by weight (stable), on 300 random cases."""
    rng = random.Random(20261127)
    for _ in range(300):
        candidates = [f"f{i}" for i in range(rng.randint(1, 8))]
        checks = [SimpleNamespace(rule_id=f"r{i}") for i in range(rng.randint(1, 3))]
        fields_of = {
            c.rule_id: frozenset(rng.sample(candidates, rng.randint(1, len(candidates))))
            for c in checks
        }
        weights = {f: rng.choice([0.5, 1.0, 1.0, 2.0, 3.0]) for f in candidates}
        plain = sorted(
            (
                s
                for k in range(1, 4)
                for s in combinations(candidates, k)
                if all(fields_of[c.rule_id] & set(s) for c in checks)
            ),
            key=lambda s: sum(weights[f] for f in s),
        )
        listed = [
            (w, s) for w, s in _lightest_first(candidates, checks, fields_of, weights, 3) if s
        ]
        assert [subset for _, subset in listed] == plain
        assert [w for w, _ in listed] == [sum(weights[f] for f in s) for s in plain]
