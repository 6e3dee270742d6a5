"""Stock-flow, plausibility and policy rules end to end: real GX on DuckDB, one planted case each.

Every unit submits 2023-H1 (the period before) and 2023-H2 (validated); a few also 2022. The
expected rule ids are written from the fixture's numbers, not read back from the code.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.conftest import fused_and_union_rows
from tonghop.catalog import load_catalog
from tonghop.collect import SourceFile, collect
from tonghop.db import connect
from tonghop.periods import Period
from tonghop.registry import Unit, store_registry
from tonghop.validate import Finding, validate

CATALOG = load_catalog()
PERIOD = "2023-H2"
Values = dict[str, float]


def _stock(total: int, probationary: int, branches: int = 5) -> Values:
    return {
        "branches_total": branches,
        "members_total": total,
        "members_official": total - probationary,
        "members_probationary": probationary,
    }


# unit: (form, {period: values}, expected findings in 2023-H2)
CASES: dict[str, tuple[str, dict[str, Values], set[tuple[str, str]]]] = {
    "SFOK": (
        "dang_bo",
        {"2023-H1": _stock(48, 5), "2023-H2": _stock(50, 5) | {"members_admitted": 2}},
        set(),
    ),
    # 48 + 0 ≠ 50
    "SFBAD": (
        "dang_bo",
        {"2023-H1": _stock(48, 5), "2023-H2": _stock(50, 5)},
        {("members_stock_flow", "stock_flow")},
    ),
    # probationary 9 > 5 + 2 admitted
    "PROBBAD": (
        "dang_bo",
        {"2023-H1": _stock(48, 5), "2023-H2": _stock(50, 9) | {"members_admitted": 2}},
        {("probationary_stock_flow", "stock_flow")},
    ),
    # 6 excellent > 20% of 25 good; 5 is exactly the limit
    "EXCBAD": (
        "dang_bo",
        {
            "2023-H2": _stock(50, 5)
            | {
                "members_rated": 40,
                "members_rated_excellent": 6,
                "members_rated_good": 25,
                "members_rated_complete": 9,
            }
        },
        {("excellent_share_of_good", "policy")},
    ),
    "EXCOK": (
        "dang_bo",
        {
            "2023-H2": _stock(50, 5)
            | {
                "members_rated": 40,
                "members_rated_excellent": 5,
                "members_rated_good": 25,
                "members_rated_complete": 10,
            }
        },
        set(),
    ),
    # one member disciplined in each half of 2023, only one rated "không hoàn thành"
    "INCBAD": (
        "dang_bo",
        {
            "2023-H1": _stock(50, 5) | {"disciplined_members": 1, "discipline_reprimand": 1},
            "2023-H2": _stock(50, 5)
            | {
                "disciplined_members": 1,
                "discipline_reprimand": 1,
                "members_rated": 50,
                "members_rated_good": 49,
                "members_rated_incomplete": 1,
            },
        },
        {("incomplete_ge_disciplined", "policy")},
    ),
    "INCOK": (
        "dang_bo",
        {
            "2023-H1": _stock(50, 5) | {"disciplined_members": 1, "discipline_reprimand": 1},
            "2023-H2": _stock(50, 5)
            | {"members_rated": 50, "members_rated_good": 48, "members_rated_incomplete": 2},
        },
        set(),
    ),
    "CHIBIG": (
        "chi_bo",
        {"2023-H2": _stock(30, 2, branches=0)},
        {("chi_bo_members_below", "policy")},
    ),
    "CHIOK": ("chi_bo", {"2023-H2": _stock(29, 2, branches=0)}, set()),
    "CHIBR": (
        "chi_bo",
        {"2023-H2": _stock(20, 2, branches=2)},
        {("chi_bo_has_no_branches", "policy")},
    ),
    "DBSMALL": ("dang_bo", {"2023-H2": _stock(25, 2)}, {("dang_bo_members_at_least", "policy")}),
    # 7 confirmed > 5 probationary at the start + 1 admitted (2 arrived by transfer)
    "CONFBAD": (
        "dang_bo",
        {
            "2023-H1": _stock(50, 5),
            "2023-H2": _stock(53, 1)
            | {"members_admitted": 1, "members_transferred_in": 2, "members_confirmed": 7},
        },
        {("confirmed_le_probationary", "policy")},
    ),
    # a probationary-only chi bộ cannot have a member dismissed
    "DISMBAD": (
        "chi_bo",
        {
            "2023-H2": _stock(5, 5, branches=0)
            | {"disciplined_members": 1, "discipline_dismissal": 1}
        },
        {("dismissal_expulsion_official_only", "policy")},
    ),
    # admitted 2, 4, 6 before: median 4, MAD 2; 40 is (40 − 4) / (1.4826 × 2) = 12.1 away
    "PLAUS": (
        "dang_bo",
        {
            "2022-H1": _stock(50, 5) | {"members_admitted": 2},
            "2022-H2": _stock(50, 5) | {"members_admitted": 4},
            "2023-H1": _stock(50, 5) | {"members_admitted": 6},
            "2023-H2": _stock(90, 5) | {"members_admitted": 40},
        },
        {("plausibility_members_admitted", "plausibility")},
    ),
    # 7 is (7 − 4) / 2.97 = 1.0 away
    "PLAUSOK": (
        "dang_bo",
        {
            "2022-H1": _stock(50, 5) | {"members_admitted": 2},
            "2022-H2": _stock(50, 5) | {"members_admitted": 4},
            "2023-H1": _stock(50, 5) | {"members_admitted": 6},
            "2023-H2": _stock(57, 5) | {"members_admitted": 7},
        },
        set(),
    ),
    # localization: members_total 152 typed as 125 (no earlier period to compare with)
    "TYPO": (
        "dang_bo",
        {"2023-H2": _stock(152, 12) | {"members_total": 125}},
        {("members_total_sum", "sum")},
    ),
    # localization: members_official changed from 45 to 30; the stocks of 2023-H1 pin the rest
    "CHANGED": (
        "dang_bo",
        {"2023-H1": _stock(50, 5), "2023-H2": _stock(50, 5) | {"members_official": 30}},
        {("members_total_sum", "sum")},
    ),
}


def _csv(unit: str, period: str, values: Values) -> bytes:
    lines = ["unit_code,period,indicator_code,value"]
    lines += [f"{unit},{period},{code},{value:g}" for code, value in values.items()]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kinds")


@pytest.fixture(scope="module")
def findings(workspace: Path) -> list[Finding]:
    units = [
        Unit(code, f"Tổ chức {code}", "agency", form, date(2010, 1, 1), None)
        for code, (form, _, _) in CASES.items()
    ]
    files = [
        SourceFile(f"{period}/{code}.csv", _csv(code, period, values))
        for code, (_, periods, _) in CASES.items()
        for period, values in periods.items()
    ]
    con = connect(workspace)
    try:
        store_registry(con, units)
        assert collect(con, workspace, files, batch_id="b1").rejected == []
    finally:
        con.close()
    return validate(workspace, CATALOG, [Period.parse(PERIOD)], [], "b1", "r1")


def _of(findings: list[Finding], unit: str) -> list[Finding]:
    return [f for f in findings if f.unit_code == unit]


@pytest.mark.parametrize("unit", sorted(CASES))
def test_each_unit_gets_exactly_its_planted_findings(findings: list[Finding], unit: str) -> None:
    got = {(f.rule_id, f.kind) for f in _of(findings, unit)}
    assert got == CASES[unit][2], [f.message for f in _of(findings, unit)]


def test_new_kinds_are_warnings(findings: list[Finding]) -> None:
    new = [f for f in findings if f.kind in ("stock_flow", "plausibility", "policy")]
    assert new and {f.severity for f in new} == {"warning"}


def test_stock_flow_names_the_numbers(findings: list[Finding]) -> None:
    (f,) = _of(findings, "SFBAD")
    assert f.period == PERIOD
    assert f.values["members_total"] == 50
    assert f.values["members_total__previous"] == 48
    assert f.message.startswith(
        "Tổng số đảng viên cuối kỳ (50) khác số đầu kỳ (48, kỳ 2023-H1) + kết nạp ((trống))"
    )
    assert f.message.endswith("= 48.")


def test_excellent_share_message_carries_the_threshold(findings: list[Finding]) -> None:
    (f,) = _of(findings, "EXCBAD")
    assert f.indicators == ["members_rated_excellent", "members_rated_good"]
    assert "(6) vượt 20% số hoàn thành tốt nhiệm vụ (25)" in f.message
    assert "21-HD/BTCTW" in f.message


def test_year_sum_of_discipline(findings: list[Finding]) -> None:
    (f,) = _of(findings, "INCBAD")
    assert f.values["disciplined_members__year"] == 2
    assert "(1) ít hơn số đảng viên bị kỷ luật trong năm (2)" in f.message


def test_plausibility_message(findings: list[Finding]) -> None:
    (f,) = _of(findings, "PLAUS")
    assert f.values == {"members_admitted": 40}
    # 40 / median 4 = 10 times; the past values 2, 4, 6 of 2022-H1 .. 2023-H1
    assert f.message == (
        "Kết nạp đảng viên mới kỳ 2023-H2 (40) gấp khoảng 10 lần mức thường thấy của đơn vị "
        "(khoảng 4 mỗi kỳ, từ 2 đến 6, qua 3 kỳ từ 2022-H1 đến 2023-H1); có lẽ gõ nhầm gấp 10 "
        "lần, số đúng có thể là 4: đề nghị kiểm tra lại."
    )
    # 40 / 10 = 4 lies between half the lowest (1) and twice the highest (12): a digit typed twice
    assert (f.suspect, f.suggested_value) == ("members_admitted", 4)


def test_chi_bo_threshold_message(findings: list[Finding]) -> None:
    (f,) = _of(findings, "CHIBIG")
    assert f.message == (
        "Chi bộ cơ sở có 30 đảng viên, từ 30 đảng viên trở lên thì lập đảng bộ cơ sở "
        "(Điều lệ Đảng)."
    )


def test_digit_slip_is_suggested(findings: list[Finding]) -> None:
    (f,) = _of(findings, "TYPO")
    assert (f.suspect, f.suggested_value) == ("members_total", 152)


def test_changed_field_is_suspected_without_a_suggestion(findings: list[Finding]) -> None:
    (f,) = _of(findings, "CHANGED")
    assert (f.suspect, f.suggested_value) == ("members_official", None)


def test_non_balance_findings_carry_no_suspect(findings: list[Finding]) -> None:
    for f in findings:
        if f.kind not in ("sum", "part_le_whole", "ratio", "stock_flow", "plausibility"):
            assert f.suspect is None and f.suggested_value is None, f.rule_id


def test_plausibility_runs_as_one_scan_and_finds_what_each_rule_finds(
    workspace: Path,
    findings: list[Finding],  # the validation that loaded the workspace
) -> None:
    fused, union = fused_and_union_rows(workspace, "plausibility", [Period.parse(PERIOD)], [], "b1")
    assert fused == union
    assert [rule for rule, _ in fused] == ["plausibility_members_admitted"]


# The frames' plain definitions, from the submitted values: each current value (the latest
# submission of a unit and period) in a long table, pivoted or summed for each frame on its
# own. prepare_frames pivots the current values once and takes shortcuts (no medians for
# histories the rules do not read).
PLAIN_CURRENT = """
    with ranked as (
        select s.submission_id, s.unit_code, s.period, i.kind, i.year, i.idx,
            row_number() over (partition by s.unit_code, s.period order by s.seq desc) as r
        from submissions s join frames.val_period_index i using (period)
    )
    select c.submission_id, c.unit_code, c.period, c.kind, c.year, c.idx, v.indicator_code,
        max(v.value) as value
    from ranked c join submitted_values v using (submission_id)
    where c.r = 1 and v.value is not null
    group by all
"""
PLAIN_FRAMES = {
    "val_wide": """
        select s.*, {max_columns}, {decimal_columns}
        from frames.val_submissions s left join submitted_values v using (submission_id)
        group by all
    """,
    "val_previous": """
        select w.submission_id, any_value(c.submission_id) as previous_submission_id,
            any_value(c.period) as previous_period, {current_columns}
        from frames.val_submissions w
        join frames.val_period_index i using (period)
        join current c on c.unit_code = w.unit_code and c.kind = i.kind and c.idx = i.idx - 1
        group by w.submission_id
    """,
    "val_year": """
        select w.submission_id, {flow_columns}
        from frames.val_submissions w
        join frames.val_period_index i using (period)
        join current c on c.unit_code = w.unit_code and c.kind = i.kind and c.year = i.year
        group by w.submission_id
    """,
    "val_history": """
        with past as (
            select w.submission_id, c.indicator_code, c.value, c.period, c.idx
            from frames.val_submissions w
            join frames.val_period_index i using (period)
            join current c on c.unit_code = w.unit_code and c.kind = i.kind and c.idx < i.idx
        ),
        centre as (
            select submission_id, indicator_code, count(*) as history, median(value) as median,
                min(value) as low, max(value) as high, min(idx) as first_idx, max(idx) as last_idx
            from past group by all
        )
        select * exclude (first_idx, last_idx) from (
            select c.submission_id, c.indicator_code, c.history, c.median, c.low, c.high,
                any_value(p.period) filter (where p.idx = c.first_idx) as first_period,
                any_value(p.period) filter (where p.idx = c.last_idx) as last_period,
                median(abs(p.value - c.median)) as mad, c.first_idx, c.last_idx
            from centre c join past p using (submission_id, indicator_code)
            group by all
        )
        where history >= {min_history}
    """,
}


@pytest.mark.parametrize("before_in_scope", [True, False])
@pytest.mark.parametrize("min_history", [1, 3])
def test_frames_equal_their_plain_definitions(
    workspace: Path,
    findings: list[Finding],  # the validation that loaded the workspace
    tmp_path: Path,
    before_in_scope: bool,
    min_history: int,
) -> None:
    import shutil

    from tonghop.rules import q
    from tonghop.validate import prepare_frames

    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    # a period before with no number at all (no row in val_previous), one whose only number
    # is of an indicator the catalog does not know (a row, every column empty), and a
    # malformed period
    text_only = "unit_code,period,indicator_code,value\nTEXT,2023-H1,members_total,năm mươi\n"
    unknown_only = "unit_code,period,indicator_code,value\nUNK,2023-H1,not_in_catalog,7\n"
    odd = "unit_code,period,indicator_code,value\nTEXT,2023-X9,members_total,5\n"
    # a code written twice with two values in each period (the frames keep the larger), one
    # of them beside a code the catalog does not know
    twice_before = (
        "unit_code,period,indicator_code,value\nTWICE,2023-H1,members_total,40\n"
        "TWICE,2023-H1,branches_total,4\nTWICE,2023-H1,members_total,45\n"
    )
    twice = _csv("TWICE", PERIOD, _stock(50, 5)) + (
        b"TWICE,2023-H2,members_admitted,3\nTWICE,2023-H2,not_in_catalog,1\n"
        b"TWICE,2023-H2,members_admitted,5\n"
    )
    con = connect(copy)
    try:
        collect(
            con,
            copy,
            [
                SourceFile("2023-H1/TEXT.csv", text_only.encode()),
                SourceFile("2023-H2/TEXT.csv", _csv("TEXT", PERIOD, _stock(50, 5))),
                SourceFile("2023-H1/UNK.csv", unknown_only.encode()),
                SourceFile("2023-H2/UNK.csv", _csv("UNK", PERIOD, _stock(40, 4))),
                SourceFile("odd/TEXT.csv", odd.encode()),
                SourceFile("2023-H1/TWICE.csv", twice_before.encode()),
                SourceFile("2023-H2/TWICE.csv", twice),
            ],
            batch_id="b2",
        )
        before = [Period.parse("2023-H1")] if before_in_scope else []
        prepare_frames(con, CATALOG, [Period.parse(PERIOD)], before, "b2", None, min_history)
        columns = {
            "max_columns": ", ".join(
                f"max(v.value) filter (where v.indicator_code = '{i.code}') as {q(i.code)}"
                for i in CATALOG
            ),
            "current_columns": ", ".join(
                f"max(c.value) filter (where c.indicator_code = '{i.code}') as {q(i.code)}"
                for i in CATALOG
            ),
            "flow_columns": ", ".join(
                f"sum(c.value) filter (where c.indicator_code = '{i.code}') as {q(i.code)}"
                for i in CATALOG
                if i.time_aggregation == "flow"
            ),
            "decimal_columns": ", ".join(
                f"max(length(split_part(v.raw_value, '.', 2))) filter "
                f"(where v.indicator_code = '{i.code}' and v.value is not null) "
                f"as {q(i.code + '__decimals')}"
                for i in CATALOG
                if i.is_rate
            ),
            "min_history": min_history,
        }
        con.execute(f"create temp table current as {PLAIN_CURRENT}")
        plain = {
            f: con.execute(sql.format(**columns)).fetchall() for f, sql in PLAIN_FRAMES.items()
        }
        got = {f: con.execute(f"select * from frames.{f}").fetchall() for f in PLAIN_FRAMES}
        twice = con.execute(
            "select w.members_admitted, p.members_total from frames.val_wide w "
            "join frames.val_previous p using (submission_id) where w.unit_code = 'TWICE'"
        ).fetchall()
    finally:
        con.close()
    for frame in PLAIN_FRAMES:
        assert sorted(got[frame], key=str) == sorted(plain[frame], key=str), frame
    assert any(row[3] == "2023-X9" for row in got["val_wide"])  # the malformed period
    # a row for each 2023-H2 whose unit sent a 2023-H1 with numbers (UNK's and TWICE's, not
    # TEXT's), and, with 2023-H1 in scope, for the two 2023-H1s with a 2022-H2 before them
    # (PLAUS, PLAUSOK)
    pairs = sum(1 for _, periods, _ in CASES.values() if {"2023-H1", PERIOD} <= set(periods))
    assert len(got["val_previous"]) == pairs + 2 + (2 if before_in_scope else 0)
    assert twice == [(5, 45)]  # the larger of each code written twice
    empty = [row for row in got["val_previous"] if all(v is None for v in row[3:])]
    assert [row[2] for row in empty] == ["2023-H1"]  # UNK's: no catalog indicator
    # 2023-H2 looks back 1 period, or 3 (PLAUS, PLAUSOK); their 2023-H1 looks back 2
    lengths = {1, 2, 3} if before_in_scope else {1, 3}
    assert {row[2] for row in got["val_history"]} == {n for n in lengths if n >= min_history}
