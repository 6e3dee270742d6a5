"""Applicability (SPEC §3): a 0 or blank typed in a row that does not concern the unit is no
finding; a non-zero value there is one warning. Real collect, real GX on DuckDB."""

from __future__ import annotations

from datetime import date

import pytest

from tests.unit.test_validate import BASE, PERIOD
from tonghop.catalog import load_catalog
from tonghop.collect import SourceFile, collect
from tonghop.db import connect
from tonghop.periods import Period
from tonghop.registry import Unit, store_registry
from tonghop.validate import Finding, validate

BATCH = "batch-appl"

# a clean chi bộ cơ sở (no branches, under 30 members) and a clean agency đảng bộ
CHI_BO = [
    ("branches_total", "0"),
    ("members_total", "20"),
    ("members_official", "18"),
    ("members_probationary", "2"),
]
DANG_BO = BASE  # the clean đảng bộ of test_validate
BRANCH_ROWS_ZERO = [("branches_meeting_regularly", "0"), ("branches_meeting_regularly_pct", "")]
ENTERPRISE_ROWS_ZERO = [
    ("revenue_bn_vnd", "0"),
    ("state_budget_paid_bn_vnd", "0.0"),
    ("employees", "0"),
    ("avg_income_mn_vnd_month", ""),
]

UNITS = {
    "CB0": ("chi_bo", "agency", CHI_BO + BRANCH_ROWS_ZERO),
    "AG0": ("dang_bo", "agency", DANG_BO + ENTERPRISE_ROWS_ZERO),
    "CB50": ("chi_bo", "agency", CHI_BO + [("branches_meeting_regularly_pct", "50")]),
    "AG7": (
        "dang_bo",
        "agency",
        DANG_BO + [r for r in ENTERPRISE_ROWS_ZERO if r[0] != "employees"] + [("employees", "7")],
    ),
}


def _csv(unit: str, values: list[tuple[str, str]]) -> bytes:
    lines = ["unit_code,period,indicator_code,value"]
    lines += [f'{unit},{PERIOD},{code},"{raw}"' for code, raw in values]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    workspace = tmp_path_factory.mktemp("applicability")
    con = connect(workspace)
    try:
        store_registry(
            con,
            [
                Unit(code, f"Tổ chức {code}", sector, form, date(2010, 1, 1), None)
                for code, (form, sector, _) in UNITS.items()
            ],
        )
        files = [SourceFile(f"{code}.csv", _csv(code, rows)) for code, (*_, rows) in UNITS.items()]
        assert collect(con, workspace, files, batch_id=BATCH).rejected == []
    finally:
        con.close()
    return validate(workspace, load_catalog(), [Period.parse(PERIOD)], [], BATCH, "run-appl")


@pytest.mark.parametrize("unit", ["CB0", "AG0"])
def test_zero_or_blank_where_the_row_does_not_apply_is_no_finding(
    findings: list[Finding], unit: str
) -> None:
    assert [(f.rule_id, f.message) for f in findings if f.unit_code == unit] == []


@pytest.mark.parametrize(
    ("unit", "code", "shown"),
    [("CB50", "branches_meeting_regularly_pct", "50"), ("AG7", "employees", "7")],
)
def test_non_zero_where_the_row_does_not_apply_is_one_warning(
    findings: list[Finding], unit: str, code: str, shown: str
) -> None:
    got = [f for f in findings if f.unit_code == unit]
    assert [(f.rule_id, f.severity, f.indicators) for f in got] == [
        ("not_applicable", "warning", [code])
    ]
    assert f"giá trị {shown} không được tổng hợp" in got[0].message
