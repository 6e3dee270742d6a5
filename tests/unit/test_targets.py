"""The targets' assessment: đạt, vượt, chưa đạt, chưa đủ số liệu, part years, deadlines."""

from __future__ import annotations

import pytest

from tonghop.catalog import load_catalog
from tonghop.targets import (
    EXCEEDED,
    MET,
    MISSING,
    NOT_DUE,
    NOT_MET,
    PARTIAL_YEAR,
    Condition,
    TargetSet,
    YearFigures,
    assess,
    assess_condition,
    evaluate,
    load_targets,
)

CATALOG = load_catalog()


def year(y: int, months: int = 12, closed: bool = True, **values: float) -> YearFigures:
    return YearFigures(y, months, closed, values=dict(values), units={k: 10 for k in values})


def cond(**kwargs) -> Condition:
    base = {"id": "c", "label": "x", "unit": "%", "comparator": ">=", "threshold": 100}
    return Condition.model_validate(base | kwargs)


def test_bundled_targets_are_the_ten_of_the_resolution():
    targets = load_targets()
    assert [t.number for t in targets.targets] == list(range(1, 11))
    assert targets.targets[8].text == "100% chi bộ sinh hoạt đúng quy định."


def test_target_8_holds_the_resolution_s_values_and_the_mid_term_revision():
    targets = load_targets()
    eight = targets.targets[7]
    assert eight.text == (
        "Bồi dưỡng trên 600 đối tượng kết nạp Đảng; kết nạp trên 300 đảng viên (mỗi năm)."
    )
    assert "trên 800" in eight.revised_text and "trên 600 đảng viên" in eight.revised_text
    admitted = targets.condition(targets.admission_target)
    assert admitted.threshold == 300  # "so với Nghị quyết Đại hội" compares with this one
    [revision] = admitted.revisions
    assert revision.threshold == 600 and "21-NQ/TW" in revision.source
    [candidates] = targets.condition("candidates").revisions
    assert (targets.condition("candidates").threshold, candidates.threshold) == (600, 800)


def test_a_revision_is_shown_beside_the_resolution_s_threshold():
    c = cond(
        expr="members_admitted",
        comparator=">",
        threshold=300,
        unit="người",
        exceedable=True,
        revisions=[{"threshold": 700, "source": "điều chỉnh"}],
    )
    result = assess_condition(c, [year(2021, members_admitted=660)], CATALOG)
    assert result["term"]["status"] == EXCEEDED
    [revision] = result["revisions"]
    assert (revision["status"], revision["source"]) == (NOT_MET, "điều chỉnh")
    assert revision["requirement"]["low"] == 700


def test_met_and_not_met_per_year_and_for_the_term():
    c = cond(expr="100 * branches_meeting_regularly / branches_total")
    years = [
        year(2021, branches_meeting_regularly=10, branches_total=10),
        year(2022, branches_meeting_regularly=9, branches_total=10),
    ]
    result = assess_condition(c, years, CATALOG)
    assert [(r["value"], r["status"]) for r in result["years"]] == [(100, MET), (90, NOT_MET)]
    # the term pools the years' parts (19/20), it never averages the rates
    assert result["term"] == {"value": 95.0, "status": NOT_MET, "year": None}


def test_a_quantity_above_its_floor_is_exceeded_and_the_term_is_a_yearly_average():
    c = cond(expr="members_admitted", comparator=">", threshold=600, unit="người", exceedable=True)
    years = [
        year(2020, months=6, members_admitted=380),
        year(2021, members_admitted=660),
        year(2022, members_admitted=670),
    ]
    result = assess_condition(c, years, CATALOG)
    assert [r["status"] for r in result["years"]] == [PARTIAL_YEAR, EXCEEDED, EXCEEDED]
    # a yearly average over the whole range, part years included: 1.710 in 2,5 years
    assert result["term"]["value"] == (380 + 660 + 670) / 2.5
    assert result["term"]["status"] == EXCEEDED


def test_missing_data_says_so_instead_of_guessing():
    c = cond(expr="100 * mass_orgs_rated_strong / mass_orgs_total")
    result = assess_condition(c, [year(2021, mass_orgs_total=4)], CATALOG)
    assert result["years"][0]["status"] == MISSING
    assert result["term"]["status"] == MISSING
    assert evaluate("1 / 0", lambda f, n: None) is None


def test_a_failed_year_outweighs_a_missing_one():
    c = cond(expr="100 * mass_orgs_rated_strong / mass_orgs_total")
    years = [year(2021, mass_orgs_total=4), year(2022, mass_orgs_total=4, mass_orgs_rated_strong=3)]
    assert assess_condition(c, years, CATALOG)["term"]["status"] == NOT_MET


def test_a_rating_bucket_nobody_got_counts_zero_only_when_the_rating_was_reported():
    c = cond(expr="100 * org_rating__4 / (org_rating__3 + org_rating__4)", threshold=20)
    reported = year(2021, org_rating__3=10)
    silent = year(2022)
    assert evaluate(c.expr, reported.lookup) == 0
    assert evaluate(c.expr, silent.lookup) is None


def test_a_deadline_after_the_range_is_not_due_and_shows_progress():
    c = cond(expr="100 * culture_achieved / units(culture_achieved)", threshold=70)
    c = Condition.model_validate(c.model_dump() | {"scope": {"by_year": 2025}})
    result = assess_condition(c, [year(2022, culture_achieved=5)], CATALOG)
    assert result["years"][0]["status"] == NOT_DUE
    assert result["term"] == {"value": 50.0, "status": NOT_DUE, "year": 2022}


def test_a_target_counts_when_every_due_condition_holds():
    targets = TargetSet.model_validate(
        {
            "admission_target": "a",
            "targets": [
                {
                    "number": 1,
                    "text": "t1",
                    "conditions": [
                        {"id": "a", "label": "a", "expr": "members_admitted", "comparator": ">",
                         "threshold": 600, "unit": "người", "exceedable": True},
                        {"id": "b", "label": "b",
                         "expr": "100 * culture_model / units(culture_model)",
                         "comparator": ">=", "threshold": 20, "unit": "%",
                         "scope": {"by_year": 2025}},
                    ],
                },
                {
                    "number": 2,
                    "text": "t2",
                    "conditions": [
                        {"id": "c", "label": "c", "expr": "candidates_trained", "comparator": ">",
                         "threshold": 800, "unit": "người"},
                    ],
                },
            ],
        }
    )  # fmt: skip
    result = assess(targets, [year(2021, members_admitted=700, culture_model=1)], CATALOG)
    assert [t["status"] for t in result["targets"]] == [EXCEEDED, MISSING]
    assert (result["met"], result["missing"], result["not_met"]) == (1, [2], [])
    # met on what is due, and saying the rest is not due yet
    assert result["targets"][0]["status_vi"] == "vượt phần đã đến hạn; phần còn lại chưa đến hạn"
    assert result["targets"][0]["conditions"][1]["term"]["status"] == NOT_DUE


@pytest.mark.parametrize(
    "expr",
    ["__import__('os')", "a.b", "a ** 2", "units(a, b)", "'x'", "members_total[0]"],
)
def test_expressions_are_arithmetic_only(expr):
    with pytest.raises(ValueError):
        cond(expr=expr)


def test_rates_must_be_written_as_their_parts():
    bad = {"admission_target": "r", "targets": [{"number": 1, "text": "t", "conditions": [
        {"id": "r", "label": "r", "expr": "branches_meeting_regularly_pct",
         "comparator": ">=", "threshold": 100, "unit": "%"}]}]}  # fmt: skip
    with pytest.raises(ValueError, match="as its parts"):
        TargetSet.model_validate(bad).check_against(CATALOG)
