"""Contracts of SPEC §4.1–§4.3 that other tools rely on: codes, kinds, CSV columns, marts."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tonghop.catalog import FORMS, SECTORS, load_catalog
from tonghop.collect import CSV_COLUMNS, SourceFile, collect, parse_csv
from tonghop.consolidate import run_models
from tonghop.db import connect
from tonghop.dbt_runner import project_models
from tonghop.paths import SAMPLE_DIR
from tonghop.periods import PeriodRange
from tonghop.registry import OPTIONAL_COLUMNS, REGISTRY_COLUMNS, read_registry, store_registry

CATALOG = load_catalog()

# SPEC §4.3, literally: code -> (time_aggregation, annual)
REQUIRED_CODES: dict[str, tuple[str, bool]] = {
    "branches_total": ("stock", False),
    "members_total": ("stock", False),
    "members_official": ("stock", False),
    "members_probationary": ("stock", False),
    "members_admitted": ("flow", False),
    "members_confirmed": ("flow", False),
    "members_transferred_in": ("flow", False),
    "members_transferred_out": ("flow", False),
    "members_deceased": ("flow", False),
    "members_struck_off": ("flow", False),
    "members_removed": ("flow", False),
    "party_badges_awarded": ("flow", False),
    "member_cards_issued": ("flow", False),
    "candidates_trained": ("flow", False),
    "members_rated": ("stock", True),
    "members_rated_excellent": ("stock", True),
    "members_rated_good": ("stock", True),
    "members_rated_complete": ("stock", True),
    "members_rated_incomplete": ("stock", True),
    "members_rated_good_pct": ("rate", True),
    "org_rating": ("stock", True),
    "branches_meeting_regularly": ("stock", False),
    "branches_meeting_regularly_pct": ("rate", False),
    "secretaries_trained": ("flow", False),
    "culture_registered": ("stock", False),
    "culture_achieved": ("stock", False),
    "culture_model": ("stock", False),
    "tasks_assigned": ("flow", False),
    "tasks_completed": ("flow", False),
    "tasks_completed_pct": ("rate", False),
    "revenue_bn_vnd": ("flow", False),
    "state_budget_paid_bn_vnd": ("flow", False),
    "employees": ("stock", False),
    "avg_income_mn_vnd_month": ("weighted_mean", False),
    "inspected_orgs": ("flow", False),
    "inspected_members": ("flow", False),
    "supervised_orgs": ("flow", False),
    "supervised_members": ("flow", False),
    "disciplined_members": ("flow", False),
    "discipline_reprimand": ("flow", False),
    "discipline_warning": ("flow", False),
    "discipline_dismissal": ("flow", False),
    "discipline_expulsion": ("flow", False),
    "disciplined_orgs": ("flow", False),
    "denunciations_received": ("flow", False),
}


def test_spec_lists_45_codes() -> None:
    assert len(REQUIRED_CODES) == 45


@pytest.mark.parametrize("code", sorted(REQUIRED_CODES))
def test_required_code_is_in_the_catalog_with_its_kind(code: str) -> None:
    assert code in CATALOG, f"{code} missing from catalog/indicators.yaml"
    kind, annual = REQUIRED_CODES[code]
    assert CATALOG[code].time_aggregation == kind
    if annual:
        assert CATALOG[code].annual, f"{code} is reported once a year (SPEC §4.3)"


def test_weighted_mean_and_rates_name_their_parts() -> None:
    assert CATALOG["avg_income_mn_vnd_month"].weight == "employees"
    good = CATALOG["members_rated_good_pct"]
    assert set(good.numerator) == {"members_rated_excellent", "members_rated_good"}
    assert good.denominator == ["members_rated"]
    assert CATALOG["branches_meeting_regularly_pct"].numerator == ["branches_meeting_regularly"]
    assert CATALOG["branches_meeting_regularly_pct"].denominator == ["branches_total"]
    assert CATALOG["tasks_completed_pct"].numerator == ["tasks_completed"]
    assert CATALOG["tasks_completed_pct"].denominator == ["tasks_assigned"]


def test_applicability_as_spec_section_3() -> None:
    for code in ("revenue_bn_vnd", "state_budget_paid_bn_vnd", "employees",
                 "avg_income_mn_vnd_month"):  # fmt: skip
        assert set(CATALOG[code].applies_to.sectors or []) == {"soe", "private"}, code
    for code in ("branches_meeting_regularly", "branches_meeting_regularly_pct"):
        assert CATALOG[code].applies_to.forms == ["dang_bo"], code


def test_value_types_give_the_spec_bounds() -> None:
    assert CATALOG["org_rating"].bounds[:2] == (1, 4)
    for code in ("culture_registered", "culture_achieved", "culture_model"):
        assert CATALOG[code].bounds[:2] == (0, 1)
    for ind in CATALOG:
        if ind.code.endswith("_pct"):
            assert ind.bounds[:2] == (0, 100), ind.code
            assert ind.time_aggregation == "rate", ind.code


def test_registry_columns_and_values_as_spec_4_1() -> None:
    assert REGISTRY_COLUMNS == ("unit_code", "name", "sector", "form", "valid_from", "valid_to")
    assert set(SECTORS) == {"agency", "soe", "private", "industrial_zone"}
    assert set(FORMS) == {"dang_bo", "chi_bo"}
    header = (SAMPLE_DIR / "registry.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.split(",")[: len(REGISTRY_COLUMNS)] == list(REGISTRY_COLUMNS)
    assert set(header.split(",")[len(REGISTRY_COLUMNS) :]) <= set(OPTIONAL_COLUMNS)


def test_submission_columns_as_spec_4_2() -> None:
    assert CSV_COLUMNS == ("unit_code", "period", "indicator_code", "value")
    parsed = parse_csv(
        "x.csv",
        b"\xef\xbb\xbf"
        + "unit_code,period,indicator_code,value,note\nU,2024,members_total,1,ghi chú\n".encode(),
    )
    assert [(v.indicator_code, v.raw, v.note) for v in parsed.values] == [
        ("members_total", "1", "ghi chú")
    ]
    for path in sorted((SAMPLE_DIR / "submissions").glob("*/*.csv"))[:20]:
        header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        assert header[:4] == list(CSV_COLUMNS), path.name


@pytest.fixture(scope="module")
def sample_marts(tmp_path_factory: pytest.TempPathFactory):
    """The sample bloc's CSV submissions of 2022-H2 and 2023-H1, consolidated."""
    workspace: Path = tmp_path_factory.mktemp("contract")
    con = connect(workspace)
    store_registry(con, read_registry(SAMPLE_DIR / "registry.csv"))
    files = [
        SourceFile(f"{p.parent.name}/{p.name}", p.read_bytes())
        for period in ("2022-H2", "2023-H1")
        for p in sorted((SAMPLE_DIR / "submissions" / period).glob("*.csv"))
    ]
    result = collect(con, workspace, files)
    # the sample plants a few unreadable files on purpose; the rest must load
    assert len(result.loaded) + len(result.rejected) == len(files)
    assert len(result.loaded) > 0.9 * len(files)
    run_models(con, CATALOG, PeriodRange.parse("2023-H1"))
    yield con
    con.close()


# Columns of the marts that are structure (keys, grouping, counts), not indicators.
STRUCTURAL = {
    "measure", "period", "group_type", "group_value", "indicator_code", "value",
    "units_reporting", "units", "unit_code", "name", "sector", "form", "ordinal",
    "submission_id", "file_name", "status", "error_rules", *SECTORS, *FORMS,
    "corrected", "corrected_indicators", "pending",  # review state (tonghop.review)
}  # fmt: skip


def test_every_mart_column_is_structure_or_a_catalog_indicator(sample_marts) -> None:  # noqa: ANN001
    marts = [m.name for m in project_models() if m.layer == "marts"]
    assert marts
    for mart in marts:
        columns = [d[0] for d in sample_marts.execute(f"select * from {mart} limit 0").description]
        for column in columns:
            assert column in STRUCTURAL or column in CATALOG, (mart, column)


def test_every_indicator_code_in_the_marts_is_in_the_catalog(sample_marts) -> None:  # noqa: ANN001
    codes = {
        r[0]
        for mart in ("rpt_period__indicators", "rpt_term__indicators")
        for r in sample_marts.execute(f"select distinct indicator_code from {mart}").fetchall()
    }
    assert codes
    distributions = {i.code for i in CATALOG if i.unit_aggregation == "distribution"}
    for code in codes:
        base = re.sub(r"__\d+$", "", code)
        assert code in CATALOG or (base in distributions and base != code), code
    # the figures the report's first sentence needs are there
    assert {"members_total", "branches_total"} <= codes
