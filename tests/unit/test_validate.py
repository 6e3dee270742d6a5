"""Validate end to end: hand-written submissions, one planted error per kind, real GX on DuckDB.

Every unit below carries exactly the errors its name says; the expected rule ids are written
from the fixture's numbers, not read back from the code.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import catalog_sharing_a_place, fused_and_union_rows
from tonghop.catalog import load_catalog
from tonghop.collect import SourceFile, collect
from tonghop.db import connect
from tonghop.periods import Period
from tonghop.registry import Unit, store_registry
from tonghop.validate import Finding, describe_rule, validate

CATALOG = load_catalog()
PERIOD = "2023-H2"
BASELINE = "2023-H1"
BATCH = "batch-1"

# a clean đảng bộ: every required figure, consistent with itself
BASE = [
    ("branches_total", "5"),
    ("members_total", "50"),
    ("members_official", "45"),
    ("members_probationary", "5"),
]


def _with(*extra: tuple[str, str], drop: str | None = None) -> list[tuple[str, str]]:
    base = [(c, v) for c, v in BASE if c != drop]
    replaced = {c for c, _ in extra}
    return [(c, v) for c, v in base if c not in replaced] + list(extra)


def _csv(unit: str, values: list[tuple[str, str]], period: str = PERIOD) -> bytes:
    lines = ["unit_code,period,indicator_code,value"]
    lines += [f"{unit},{period},{code},{raw}" for code, raw in values]
    return ("\n".join(lines) + "\n").encode()


def _collect_units(workspace: Path, given: dict[str, list[tuple[str, str]]], batch: str) -> None:
    """Register each unit of `given` (an agency's đảng bộ) and collect its CSV of `PERIOD`."""
    con = connect(workspace)
    try:
        store_registry(
            con,
            [
                Unit(code, f"Đảng bộ {code}", "agency", "dang_bo", date(2010, 1, 1), None)
                for code in given
            ],
        )
        files = [SourceFile(f"{code}.csv", _csv(code, values)) for code, values in given.items()]
        assert collect(con, workspace, files, batch_id=batch).rejected == []
    finally:
        con.close()


# Ratings: 3 + 20 of 30 rated good or better = 76.666…%; 5 + 25 of 40 = 75%.
RATED_30 = [
    ("members_rated", "30"),
    ("members_rated_excellent", "3"),
    ("members_rated_good", "20"),
    ("members_rated_complete", "6"),
    ("members_rated_incomplete", "1"),
]
RATED_40 = [
    ("members_rated", "40"),
    ("members_rated_excellent", "5"),
    ("members_rated_good", "25"),
    ("members_rated_complete", "8"),
    ("members_rated_incomplete", "2"),
]

SUBMISSIONS: dict[str, list[tuple[str, str]]] = {
    "CLEAN": _with(
        *RATED_30,
        ("members_rated_good_pct", "76.67"),
        ("members_admitted", "3"),
        ("tasks_assigned", "8"),
        ("tasks_completed", "6"),
        ("tasks_completed_pct", "75"),
        ("culture_registered", "1"),
        ("culture_achieved", "1"),
        ("culture_model", "0"),
        ("org_rating", "4"),
        ("branches_meeting_regularly", "4"),
    ),
    "NEG": _with(("members_admitted", "-1")),
    "FRAC": _with(("members_admitted", "2.5")),
    "PCT": _with(("tasks_completed_pct", "120")),
    "FLAG": _with(("culture_registered", "2")),
    "RATING": _with(("org_rating", "5")),
    "SUM": _with(("members_official", "40")),  # 40 + 5 ≠ 50
    "PLW": _with(("tasks_assigned", "10"), ("tasks_completed", "12")),
    "RATIOBAD": _with(*RATED_40, ("members_rated_good_pct", "75.01")),  # 75 ± 0.005
    "RATIOOK2": _with(*RATED_30, ("members_rated_good_pct", "76.67")),  # 76.667 ± 0.005
    "RATIOOK1": _with(*RATED_30, ("members_rated_good_pct", "76.7")),  # 76.667 ± 0.05
    "RATIOBAD1": _with(*RATED_30, ("members_rated_good_pct", "76.6")),  # off by 0.067 > 0.05
    "INACTIVE": _with(),
    "REQMISS": _with(drop="branches_total"),
    "DUPVAL": _with(("members_admitted", "3"), ("members_admitted", "3")),
    "DUPUNK": _with(("members_secret", "1"), ("members_secret", "1")),  # outside the catalog
    "TYPE": _with(("members_admitted", "12a")),
    "NOTAPPL": _with(("revenue_bn_vnd", "12.5")),
    "XYZ999": _with(),
    "UNKIND": _with(("members_secret", "1")),
}

EXPECTED_RULES: dict[str, set[tuple[str, str, str]]] = {
    "CLEAN": set(),
    "NEG": {("bounds_members_admitted", "bounds", "error")},
    "FRAC": {("bounds_members_admitted", "bounds", "error")},
    "PCT": {("bounds_tasks_completed_pct", "bounds", "error")},
    "FLAG": {("bounds_culture_registered", "bounds", "error")},
    "RATING": {("bounds_org_rating", "bounds", "error")},
    "SUM": {("members_total_sum", "sum", "error")},
    "PLW": {("tasks_completed_le_assigned", "part_le_whole", "error")},
    "RATIOBAD": {("ratio_members_rated_good_pct", "ratio", "error")},
    "RATIOOK2": set(),
    "RATIOOK1": set(),
    "RATIOBAD1": {("ratio_members_rated_good_pct", "ratio", "error")},
    "MISSING": {("submission_missing", "completeness", "error")},
    "INACTIVE": {("unit_not_active", "completeness", "error")},
    "REQMISS": {("required_missing", "completeness", "error")},
    "DUPVAL": {("duplicate_value", "duplicate", "error")},
    "DUPUNK": {
        ("duplicate_value", "duplicate", "error"),
        ("indicator_unknown", "unknown_indicator", "error"),
    },
    "TWOFILES": {("duplicate_submission", "duplicate", "error")},
    "SAMEFILE": {("duplicate_file", "duplicate", "warning")},
    "TYPE": {("value_not_number", "type", "error")},
    "NOTAPPL": {("not_applicable", "completeness", "warning")},
    "XYZ999": {("unit_unknown", "unknown_unit", "error")},
    "UNKIND": {("indicator_unknown", "unknown_indicator", "error")},
    "BADPER": {
        ("period_malformed", "type", "error"),
        ("submission_missing", "completeness", "error"),
    },
}


def _registry() -> list[Unit]:
    registered = [u for u in EXPECTED_RULES if u != "XYZ999"]
    units = [
        Unit(code, f"Đảng bộ {code}", "agency", "dang_bo", date(2010, 1, 1), None)
        for code in registered
        if code != "INACTIVE"
    ]
    # left the bloc at the end of 2022: it must not be expected, nor counted when it submits
    units.append(
        Unit("INACTIVE", "Đảng bộ cũ", "agency", "dang_bo", date(2010, 1, 1), date(2022, 12, 31))
    )
    return units


def _files() -> list[SourceFile]:
    files = [SourceFile(f"{unit}.csv", _csv(unit, values)) for unit, values in SUBMISSIONS.items()]
    two_a = _csv("TWOFILES", _with(("members_admitted", "1")))
    two_b = _csv("TWOFILES", _with(("members_admitted", "2")))
    same = _csv("SAMEFILE", _with())
    files += [
        SourceFile("TWOFILES-a.csv", two_a),
        SourceFile("TWOFILES-b.csv", two_b),
        SourceFile("SAMEFILE.csv", same),
        SourceFile("SAMEFILE-copy.csv", same),
        SourceFile("BADPER.csv", _csv("BADPER", _with(), period="2023-H3")),
    ]
    return files


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Finding]]:
    workspace = tmp_path_factory.mktemp("validate")
    con = connect(workspace)
    try:
        store_registry(con, _registry())
        result = collect(con, workspace, _files(), batch_id=BATCH)
        assert result.rejected == []
    finally:
        con.close()
    findings = validate(
        workspace, CATALOG, [Period.parse(PERIOD)], [Period.parse(BASELINE)], BATCH, "run-1"
    )
    return workspace, findings


@pytest.fixture(scope="module")
def findings(validated: tuple[Path, list[Finding]]) -> list[Finding]:
    return validated[1]


def _of(findings: list[Finding], unit: str, rule_id: str | None = None) -> list[Finding]:
    return [
        f for f in findings if f.unit_code == unit and (rule_id is None or f.rule_id == rule_id)
    ]


def _one(findings: list[Finding], unit: str, rule_id: str) -> Finding:
    matches = _of(findings, unit, rule_id)
    assert len(matches) == 1, [(f.rule_id, f.message) for f in _of(findings, unit)]
    return matches[0]


@pytest.mark.parametrize("unit", sorted(EXPECTED_RULES))
def test_each_unit_gets_exactly_its_planted_findings(findings: list[Finding], unit: str) -> None:
    got = {(f.rule_id, f.kind, f.severity) for f in _of(findings, unit)}
    assert got == EXPECTED_RULES[unit], [f.message for f in _of(findings, unit)]


def test_no_finding_for_units_outside_the_fixture(findings: list[Finding]) -> None:
    assert {f.unit_code for f in findings} <= set(EXPECTED_RULES)


def test_clean_unit_has_no_error(findings: list[Finding]) -> None:
    assert [f for f in _of(findings, "CLEAN") if f.severity == "error"] == []


def test_bounds_negative_count(findings: list[Finding]) -> None:
    f = _one(findings, "NEG", "bounds_members_admitted")
    assert f.indicators == ["members_admitted"]
    assert f.values == {"members_admitted": -1.0}
    assert f.period == PERIOD
    assert f.file == "NEG.csv"
    assert f.location == "dòng 6"  # header, four base rows, then the planted one
    assert f.unit_name == "Đảng bộ NEG"
    assert "Kết nạp đảng viên mới" in f.message
    assert "nằm ngoài miền cho phép: số nguyên ≥ 0" in f.message


def test_bounds_fraction_of_a_count_in_vietnamese_format(findings: list[Finding]) -> None:
    f = _one(findings, "FRAC", "bounds_members_admitted")
    assert f.values == {"members_admitted": 2.5}
    assert "= 2,5 " in f.message


def test_bounds_percentage_above_100(findings: list[Finding]) -> None:
    f = _one(findings, "PCT", "bounds_tasks_completed_pct")
    assert f.values == {"tasks_completed_pct": 120.0}
    assert "Tỷ lệ hoàn thành nhiệm vụ" in f.message
    assert "số từ 0 đến 100" in f.message


def test_bounds_flag_and_rating(findings: list[Finding]) -> None:
    flag = _one(findings, "FLAG", "bounds_culture_registered")
    assert flag.values == {"culture_registered": 2.0}
    assert "0 hoặc 1" in flag.message
    rating = _one(findings, "RATING", "bounds_org_rating")
    assert rating.values == {"org_rating": 5.0}
    assert "số nguyên từ 1 đến 4" in rating.message


def test_sum_names_total_and_parts(findings: list[Finding]) -> None:
    f = _one(findings, "SUM", "members_total_sum")
    assert f.indicators == ["members_total", "members_official", "members_probationary"]
    assert f.values == {
        "members_total": 50.0,
        "members_official": 40.0,
        "members_probationary": 5.0,
    }
    assert f.message == (
        "Tổng số đảng viên (50) khác đảng viên chính thức (40) cộng dự bị (5) = 45."
    )


def test_part_le_whole(findings: list[Finding]) -> None:
    f = _one(findings, "PLW", "tasks_completed_le_assigned")
    assert f.values == {"tasks_completed": 12.0, "tasks_assigned": 10.0}
    assert f.message == "Số nhiệm vụ hoàn thành (12) lớn hơn số nhiệm vụ được giao (10)."


def test_ratio_beyond_two_decimal_rounding(findings: list[Finding]) -> None:
    f = _one(findings, "RATIOBAD", "ratio_members_rated_good_pct")
    assert f.indicators == [
        "members_rated_good_pct",
        "members_rated_excellent",
        "members_rated_good",
        "members_rated",
    ]
    assert f.values["members_rated_good_pct"] == 75.01
    assert f.values["members_rated"] == 40.0
    assert "Tỷ lệ đảng viên hoàn thành tốt nhiệm vụ trở lên báo cáo 75,01%" in f.message
    assert "(30/40)" in f.message
    assert "±0,005" in f.message


def test_ratio_one_decimal_beyond_its_rounding(findings: list[Finding]) -> None:
    f = _one(findings, "RATIOBAD1", "ratio_members_rated_good_pct")
    assert "(23/30)" in f.message
    assert "±0,05" in f.message


def test_ratio_consistent_within_rounding_is_not_flagged(findings: list[Finding]) -> None:
    # 100 × 23 / 30 = 76.666…: "76.67" is within ±0.005, "76.7" within ±0.05
    assert abs(76.67 - 100 * 23 / 30) <= 0.005
    assert abs(76.7 - 100 * 23 / 30) <= 0.05
    assert _of(findings, "RATIOOK2") == []
    assert _of(findings, "RATIOOK1") == []


def test_missing_unit(findings: list[Finding]) -> None:
    f = _one(findings, "MISSING", "submission_missing")
    assert f.period == PERIOD
    assert f.submission_id is None
    assert f.message == "Đơn vị chưa nộp báo cáo kỳ 2023-H2."


def test_inactive_unit_submitting(findings: list[Finding]) -> None:
    f = _one(findings, "INACTIVE", "unit_not_active")
    assert f.file == "INACTIVE.csv"
    assert "hiệu lực 01/01/2010 – 31/12/2022" in f.message
    assert "'INACTIVE.csv'" in f.message
    assert "không được tổng hợp" in f.message


def test_required_indicator_missing(findings: list[Finding]) -> None:
    f = _one(findings, "REQMISS", "required_missing")
    assert f.indicators == ["branches_total"]
    assert f.message == "Thiếu chỉ tiêu bắt buộc Số chi bộ trực thuộc (branches_total)."


def test_same_indicator_twice_in_one_file(findings: list[Finding]) -> None:
    f = _one(findings, "DUPVAL", "duplicate_value")
    assert f.indicators == ["members_admitted"]
    assert f.location == "dòng 6, dòng 7"
    assert f.message == (
        "Chỉ tiêu members_admitted được khai 2 lần trong tệp 'DUPVAL.csv' (dòng 6, dòng 7)."
    )


def test_two_files_for_one_unit_and_period_in_one_batch(findings: list[Finding]) -> None:
    f = _one(findings, "TWOFILES", "duplicate_submission")
    assert "2 tệp khác nhau cho cùng kỳ 2023-H2" in f.message
    assert "TWOFILES-a.csv" in f.message and "TWOFILES-b.csv" in f.message


def test_identical_file_under_two_names_is_a_warning(findings: list[Finding]) -> None:
    f = _one(findings, "SAMEFILE", "duplicate_file")
    assert f.severity == "warning"
    assert f.file == "SAMEFILE-copy.csv"
    assert f.message == (
        "Tệp 'SAMEFILE-copy.csv' trùng nội dung với tệp 'SAMEFILE.csv' đã nhận; "
        "không tính lại lần thứ hai."
    )


def test_value_that_is_not_a_number(findings: list[Finding]) -> None:
    f = _one(findings, "TYPE", "value_not_number")
    assert f.indicators == ["members_admitted"]
    assert f.values == {"raw": "12a"}
    assert f.location == "dòng 6"
    assert f.file == "TYPE.csv"
    assert f.message == (
        "Giá trị '12a' của Kết nạp đảng viên mới (members_admitted) tại dòng 6 không phải là số."
    )


def test_indicator_that_does_not_apply_is_a_warning(findings: list[Finding]) -> None:
    f = _one(findings, "NOTAPPL", "not_applicable")
    assert f.indicators == ["revenue_bn_vnd"]
    assert "Doanh thu (revenue_bn_vnd) không áp dụng cho đơn vị này" in f.message
    assert "doanh nghiệp có vốn nhà nước" in f.message
    assert "giá trị 12.5 không được tổng hợp" in f.message


def test_unknown_unit(findings: list[Finding]) -> None:
    f = _one(findings, "XYZ999", "unit_unknown")
    assert f.unit_name is None
    assert f.message == (
        "Mã đơn vị 'XYZ999' trong tệp 'XYZ999.csv' không có trong danh mục đơn vị."
    )


def test_unknown_indicator(findings: list[Finding]) -> None:
    f = _one(findings, "UNKIND", "indicator_unknown")
    assert f.indicators == ["members_secret"]
    assert f.location == "dòng 6"
    assert f.message == (
        "Mã chỉ tiêu 'members_secret' tại dòng 6 của tệp 'UNKIND.csv' "
        "không có trong danh mục chỉ tiêu."
    )


def test_malformed_period(findings: list[Finding]) -> None:
    f = _one(findings, "BADPER", "period_malformed")
    assert f.period == "2023-H3"
    assert "Kỳ báo cáo '2023-H3' trong tệp 'BADPER.csv' không hợp lệ" in f.message


def test_every_message_is_filled_in(findings: list[Finding]) -> None:
    for f in findings:
        assert "{" not in f.message and "}" not in f.message, f.message
        assert f.message.strip() == f.message and f.message


def test_findings_table_holds_them(validated: tuple[Path, list[Finding]]) -> None:
    workspace, findings = validated
    con = connect(workspace)
    try:
        rows = con.execute(
            "select finding_key, run_id, unit_code, period, rule_id, kind, severity, message, "
            "indicators, observed, file_name, location from findings"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == len(findings)
    assert {r[1] for r in rows} == {"run-1"}
    by_key = {r[0]: r for r in rows}
    assert set(by_key) == {f.finding_key for f in findings}
    stored = {(r[2], r[4], r[5], r[6]) for r in rows}
    expected = {
        (unit, rule_id, kind, severity)
        for unit, rules in EXPECTED_RULES.items()
        for rule_id, kind, severity in rules
    }
    assert stored == expected
    sum_row = next(r for r in rows if r[2] == "SUM")
    assert sum_row[8] == ["members_total", "members_official", "members_probationary"]
    assert json.loads(sum_row[9]) == {
        "members_total": 50.0,
        "members_official": 40.0,
        "members_probationary": 5.0,
    }
    type_row = next(r for r in rows if r[2] == "TYPE")
    assert (type_row[10], type_row[11]) == ("TYPE.csv", "dòng 6")


def test_rerun_replaces_findings_of_the_period(validated: tuple[Path, list[Finding]]) -> None:
    workspace, first = validated
    again = validate(
        workspace, CATALOG, [Period.parse(PERIOD)], [Period.parse(BASELINE)], BATCH, "run-2"
    )
    assert sorted(f.finding_key for f in again) == sorted(f.finding_key for f in first)
    con = connect(workspace)
    try:
        runs = con.execute("select run_id, count(*) from findings group by run_id").fetchall()
    finally:
        con.close()
    assert runs == [("run-2", len(first))]


def test_a_resubmission_supersedes_the_erroneous_file(tmp_path: Path) -> None:
    wrong = _csv("A", _with(("members_official", "40")))
    fixed = _csv("A", _with())
    con = connect(tmp_path)
    try:
        store_registry(
            con,
            [
                Unit("A", "Đảng bộ A", "agency", "dang_bo", date(2010, 1, 1), None),
                Unit("B", "Đảng bộ B", "agency", "dang_bo", date(2010, 1, 1), None),
            ],
        )
        collect(con, tmp_path, [SourceFile("A.csv", wrong)], batch_id="b1")
    finally:
        con.close()
    first = validate(tmp_path, CATALOG, [Period.parse(PERIOD)], [], "b1", "r1")
    assert sorted((f.unit_code, f.rule_id) for f in first) == [
        ("A", "members_total_sum"),
        ("B", "submission_missing"),
    ]

    con = connect(tmp_path)
    try:
        collect(con, tmp_path, [SourceFile("A-sua.csv", fixed)], batch_id="b2")
    finally:
        con.close()
    second = validate(tmp_path, CATALOG, [Period.parse(PERIOD)], [], "b2", "r2")
    # the corrected version supersedes the first; two files in two batches are no duplicate
    assert [(f.unit_code, f.rule_id) for f in second] == [("B", "submission_missing")]
    con = connect(tmp_path)
    try:
        assert con.execute("select unit_code, run_id from findings").fetchall() == [("B", "r2")]
        assert con.execute("select count(*) from submissions").fetchone()[0] == 2
    finally:
        con.close()


def test_a_clean_run_clears_the_previous_findings(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        store_registry(con, [Unit("A", "Đảng bộ A", "agency", "dang_bo", date(2010, 1, 1), None)])
        collect(
            con,
            tmp_path,
            [SourceFile("A.csv", _csv("A", _with(("members_official", "40"))))],
            batch_id="b1",
        )
    finally:
        con.close()
    first = validate(tmp_path, CATALOG, [Period.parse(PERIOD)], [], "b1", "r1")
    assert [f.rule_id for f in first] == ["members_total_sum"]
    con = connect(tmp_path)
    try:
        collect(con, tmp_path, [SourceFile("A-sua.csv", _csv("A", _with()))], batch_id="b2")
    finally:
        con.close()
    assert validate(tmp_path, CATALOG, [Period.parse(PERIOD)], [], "b2", "r2") == []
    con = connect(tmp_path)
    try:
        assert con.execute("select count(*) from findings").fetchone()[0] == 0
    finally:
        con.close()


def test_failures_beyond_gx_row_limit_are_all_reported(tmp_path: Path) -> None:
    # GX's own expectation keeps 200 rows; all 250 unknown codes must come out
    unknown = [(f"ghost_{i:03d}", "1") for i in range(250)]
    con = connect(tmp_path)
    try:
        store_registry(con, [Unit("A", "Đảng bộ A", "agency", "dang_bo", date(2010, 1, 1), None)])
        collect(con, tmp_path, [SourceFile("A.csv", _csv("A", _with(*unknown)))], batch_id="b1")
    finally:
        con.close()
    found = validate(tmp_path, CATALOG, [Period.parse(PERIOD)], [], "b1", "r1")
    assert len(found) == 250
    assert {f.rule_id for f in found} == {"indicator_unknown"}
    assert sorted(f.indicators[0] for f in found) == [code for code, _ in unknown]
    # header + four required rows, then the unknown codes from line 6
    assert {f.location for f in found} == {f"dòng {n}" for n in range(6, 256)}


def test_bounds_run_as_one_scan_and_find_what_each_rule_finds(validated, tmp_path) -> None:  # noqa: ANN001
    workspace = tmp_path / "ws"
    shutil.copytree(validated[0], workspace)  # other tests validate the fixture's again
    periods = [Period.parse(PERIOD)], [Period.parse(BASELINE)]
    fused, union = fused_and_union_rows(workspace, "bounds", *periods, BATCH)
    assert fused == union
    assert {rule for rule, _ in fused} >= {"bounds_members_admitted", "bounds_tasks_completed_pct"}


def test_frames_stay_out_of_the_workspace_file(validated, tmp_path) -> None:  # noqa: ANN001
    workspace = tmp_path / "ws"
    shutil.copytree(validated[0], workspace)
    # a connection held open in the process all along (the frames must not outlive validate
    # because the DuckDB instance does)
    con = connect(workspace)
    try:
        con.execute("create table val_values as select 1 as x")  # as versions before left it
        periods = [Period.parse(PERIOD)], [Period.parse(BASELINE)]
        found = validate(workspace, CATALOG, *periods, BATCH, "r", incremental=False)
        assert sorted(f.finding_key for f in found) == sorted(f.finding_key for f in validated[1])
        databases = {
            d for (d,) in con.execute("select database_name from duckdb_databases()").fetchall()
        }
        tables = {t for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()}
    finally:
        con.close()
    assert "frames" not in databases
    assert not {t for t in tables if t.startswith("val_")}


def test_required_indicator_given_as_text_is_present_and_given_empty_is_missing(
    tmp_path: Path,
) -> None:
    # a text that is no number gives the indicator (a type finding says what is wrong with
    # it); an empty cell does not
    given = {
        "NUMBER": _with(),
        "TEXT": _with(("branches_total", "năm")),
        "EMPTY": _with(("branches_total", "")),
        "ABSENT": _with(drop="branches_total"),
    }
    _collect_units(tmp_path, given, "b")
    found = validate(tmp_path, CATALOG, [Period.parse(PERIOD)], [], "b", "r")
    missing = {(f.unit_code, f.indicators[0]) for f in found if f.rule_id == "required_missing"}
    assert missing == {("EMPTY", "branches_total"), ("ABSENT", "branches_total")}
    assert {f.unit_code for f in found if f.rule_id == "value_not_number"} == {"TEXT"}


def test_a_code_twice_is_found_when_codes_share_a_place_in_the_mask(tmp_path: Path) -> None:
    """duplicate_value groups by code only the submissions with more values than distinct
    places of their codes in a 127-bit mask of the catalog. With more than 127 indicators two
    codes 127 places apart share one: a file with both is no duplicate, one with a code twice
    is."""
    catalog, first, shared = catalog_sharing_a_place()
    files = {
        "BOTH": _with((first, "1"), (shared, "2")),
        "TWICE": _with((first, "1"), (shared, "2"), (shared, "2")),
    }
    _collect_units(tmp_path, files, BATCH)
    findings = validate(tmp_path, catalog, [Period.parse(PERIOD)], [], BATCH, "run-1")
    twice = [(f.unit_code, f.indicators, f.location) for f in findings if f.kind == "duplicate"]
    assert twice == [("TWICE", [shared], "dòng 7, dòng 8")]


def test_data_docs_show_each_rule_with_its_own_result(validated, tmp_path) -> None:  # noqa: ANN001
    """Each compiled rule is one expectation of its frame's suite, failing as its findings do,
    described by its id and its Vietnamese message."""
    import html
    import re

    from tonghop.rules import compile_rules

    workspace = tmp_path / "ws"
    shutil.copytree(validated[0], workspace)
    docs = tmp_path / "docs"
    periods = [Period.parse(PERIOD)], [Period.parse(BASELINE)]
    found = validate(workspace, CATALOG, *periods, BATCH, "r", docs, incremental=False)
    failed = {f.rule_id for f in found}
    rules = compile_rules(CATALOG)

    def text(path: Path) -> str:
        page = re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))
        return re.sub(r"\s+", " ", html.unescape(page))

    for frame in ("val_values", "val_wide"):
        of_frame = [r for r in rules if r.frame == f"frames.{frame}"]
        (page,) = (docs / "validations" / f"tonghop_{frame}").rglob("*.html")
        result = text(page)
        evaluated = re.search(r"Evaluated Expectations (\d+)", result)
        unsuccessful = re.search(r"Unsuccessful Expectations (\d+)", result)
        assert evaluated and int(evaluated.group(1)) == len(of_frame)
        assert unsuccessful
        assert int(unsuccessful.group(1)) == len(failed & {r.rule_id for r in of_frame})
        suite = text(docs / "expectations" / f"tonghop_{frame}.html")
        for rule in of_frame:
            statement = " ".join(describe_rule(rule, CATALOG).split())
            assert statement in result and statement in suite, statement
    bounds = next(r for r in rules if r.kind == "bounds" and r.indicators == ("members_total",))
    assert describe_rule(bounds, CATALOG) == (
        f"{bounds.rule_id}: {CATALOG['members_total'].label} = … nằm ngoài miền cho phép: "
        f"{bounds.params['allowed']}."
    )


def test_each_rule_s_own_query_returns_its_rows_of_its_group(validated, tmp_path) -> None:  # noqa: ANN001
    """The query a rule's expectation carries in the Data Docs (`group_query` of the rule
    alone) returns the rows its group's query returns naming it, for every rule of the fused
    groups and of one union group, on frames holding failures."""
    import json

    from tonghop.db import open_db
    from tonghop.rules import compile_rules, group_query, load_rules
    from tonghop.validate import group_rules, prepare_frames

    workspace = tmp_path / "ws"
    shutil.copytree(validated[0], workspace)
    ruleset = load_rules()
    groups = group_rules(compile_rules(CATALOG, ruleset))
    checked = [g for g in groups if g.rules[0].fuse] + [
        next(g for g in groups if not g.rules[0].fuse and len(g.rules) > 1)
    ]

    def rows(con, query: str, frame: str) -> list:  # noqa: ANN001
        found = con.execute(query.replace("{batch}", frame)).fetchall()
        return sorted((r, json.dumps(json.loads(row), sort_keys=True)) for r, row in found)

    with open_db(workspace) as con:
        periods = [Period.parse(PERIOD)], [Period.parse(BASELINE)]
        prepare_frames(con, CATALOG, *periods, BATCH, min_history=ruleset.min_history)
        failing = 0
        for group in checked:
            of_group = rows(con, group.query, group.frame)
            for rule in group.rules:
                own = rows(con, group_query((rule,)), group.frame)
                assert own == [row for row in of_group if row[0] == rule.rule_id], rule.rule_id
            failing += len(of_group)
    assert failing > 0
