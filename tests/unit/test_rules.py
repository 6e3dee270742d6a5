"""Compiled rules: every query runs, every indicator is covered, only catalog codes named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tonghop.catalog import load_catalog
from tonghop.db import connect
from tonghop.periods import Period
from tonghop.rules import LONG, WIDE, RuleSet, compile_rules, load_rules
from tonghop.validate import prepare_frames

CATALOG = load_catalog()
RULESET = load_rules()
COMPILED = compile_rules(CATALOG, RULESET)
FIXED_COLUMNS = ["unit_code", "period", "submission_id", "file_name"]
KINDS = {
    "bounds", "sum", "part_le_whole", "ratio", "stock_flow", "completeness", "duplicate",
    "type", "unknown_unit", "unknown_indicator", "plausibility", "policy",
}  # fmt: skip


@pytest.fixture(scope="module")
def empty_frames(tmp_path_factory: pytest.TempPathFactory):
    workspace: Path = tmp_path_factory.mktemp("rules")
    con = connect(workspace)
    prepare_frames(con, CATALOG, [Period.parse("2023-H1")], [Period.parse("2022-H2")], "b")
    yield con
    con.close()


@pytest.mark.parametrize("rule", COMPILED, ids=lambda r: r.rule_id)
def test_every_rule_runs_on_empty_frames(empty_frames, rule) -> None:
    assert rule.frame in (LONG, WIDE)
    cursor = empty_frames.execute(rule.query.replace("{batch}", rule.frame))
    columns = [d[0] for d in cursor.description]
    assert cursor.fetchall() == []
    assert columns[:4] == FIXED_COLUMNS
    assert "location" in columns or "locations" in columns
    for code in rule.indicators:
        assert f"v_{code}" in columns, (rule.rule_id, code)


def test_rule_ids_are_unique_and_kinds_known() -> None:
    ids = [r.rule_id for r in COMPILED]
    assert len(ids) == len(set(ids))
    assert {r.kind for r in COMPILED} <= KINDS
    assert {r.severity for r in COMPILED} <= {"error", "warning"}


def test_every_indicator_has_a_bounds_rule() -> None:
    bounds = {r.rule_id: r for r in COMPILED if r.kind == "bounds"}
    for ind in CATALOG:
        rule = bounds.get(f"bounds_{ind.code}")
        assert rule is not None, ind.code
        assert rule.indicators == (ind.code,)


def test_every_rate_has_a_ratio_rule_with_its_parts() -> None:
    ratios = {r.rule_id: r for r in COMPILED if r.kind == "ratio"}
    rates = [ind for ind in CATALOG if ind.time_aggregation == "rate"]
    assert rates
    for ind in rates:
        rule = ratios[f"ratio_{ind.code}"]
        assert rule.indicators == (ind.code, *ind.numerator, *ind.denominator)


def test_rules_yaml_names_only_catalog_indicators() -> None:
    for rule in RULESET.rules:
        named = [c for c in [rule.total, *rule.parts, rule.part, rule.whole] if c]
        assert set(named) <= set(CATALOG.codes), rule.id
        for code in re.findall(r"\{(?:label|value):(\w+)\}", rule.message):
            assert code in CATALOG, (rule.id, code)


def test_spec_rules_are_present() -> None:
    by_id = {r.id: r for r in RULESET.rules}
    assert by_id["members_total_sum"].parts == ["members_official", "members_probationary"]
    assert by_id["members_rated_sum"].parts == [
        "members_rated_excellent",
        "members_rated_good",
        "members_rated_complete",
        "members_rated_incomplete",
    ]
    assert by_id["disciplined_members_sum"].parts == [
        "discipline_reprimand",
        "discipline_warning",
        "discipline_dismissal",
        "discipline_expulsion",
    ]
    pairs = {(r.part, r.whole) for r in RULESET.rules if r.kind == "part_le_whole"}
    assert {
        ("members_rated", "members_total"),
        ("branches_meeting_regularly", "branches_total"),
        ("tasks_completed", "tasks_assigned"),
        ("culture_model", "culture_achieved"),
        ("culture_achieved", "culture_registered"),
    } <= pairs


def test_a_rule_naming_an_unknown_indicator_is_refused() -> None:
    bad = RuleSet.model_validate(
        {
            "bounds": RULESET.bounds.model_dump(),
            "ratio": RULESET.ratio.model_dump(),
            "rules": [
                {
                    "id": "oops",
                    "kind": "sum",
                    "severity": "error",
                    "message": "x",
                    "total": "members_total",
                    "parts": ["members_official", "members_ghost"],
                }
            ],
        }
    )
    with pytest.raises(ValueError, match="rule oops names unknown indicator members_ghost"):
        compile_rules(CATALOG, bad)


def test_messages_are_vietnamese() -> None:
    vietnamese = re.compile(r"[ăâđêôơưàáảãạèéẻẽẹìíỉĩịòóỏõọùúủũụỳýỷỹỵ]", re.IGNORECASE)
    for rule in COMPILED:
        assert vietnamese.search(rule.message), rule.rule_id
