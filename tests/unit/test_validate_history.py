"""Findings against the unit's own history, worded for a steward, with the unit's note and the
place of each value: a merger explained in a note, a size typed 1000× too large, an amount that
lost its decimal comma. Real collect, real GX on DuckDB; expected figures worked out by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tonghop.catalog import load_catalog
from tonghop.collect import SourceFile, collect
from tonghop.db import connect
from tonghop.periods import Period
from tonghop.registry import Unit, store_registry
from tonghop.review_page import page_view
from tonghop.validate import Finding, validate

PERIODS = ["2022-H1", "2022-H2", "2023-H1", "2023-H2"]
MERGER_NOTE = "Gồm 42 đảng viên của Chi bộ Công ty Vận tải sáp nhập ngày 01/07/2023"


def _members(total: int) -> list[tuple[str, str, str]]:
    return [
        ("branches_total", "5", ""),
        ("members_total", str(total), ""),
        ("members_official", str(total - 5), ""),
        ("members_probationary", "5", ""),
    ]


# MERGE: 2, 3, 4 members transferred in (totals 50 → 53 → 57), then 45 with a merger (102)
MERGE = {
    "2022-H1": _members(50) + [("members_transferred_in", "2", "")],
    "2022-H2": _members(53) + [("members_transferred_in", "3", "")],
    "2023-H1": _members(57) + [("members_transferred_in", "4", "")],
    "2023-H2": _members(102) + [("members_transferred_in", "45", MERGER_NOTE)],
}
# SIZE: two earlier half-years, then employees 1000× and revenue without its decimal comma
SIZE = {
    "2022-H2": _members(50) + [("employees", "550", ""), ("revenue_bn_vnd", "850.5", "")],
    "2023-H1": _members(50) + [("employees", "560", ""), ("revenue_bn_vnd", "900", "")],
    "2023-H2": _members(50) + [("employees", "553000", ""), ("revenue_bn_vnd", "9063", "")],
}
# STEADY: the same history, then ordinary values: nothing to say
STEADY = {
    **{p: rows for p, rows in SIZE.items() if p != "2023-H2"},
    "2023-H2": _members(50) + [("employees", "553", ""), ("revenue_bn_vnd", "906.3", "")],
}
# SMALL: 2, 3, 8 admitted (median 3, MAD 1), then 12: (12 − 3) / 1.4826 ≈ 6.1 > 5, yet within
# twice its highest (16): a small count's ordinary swing, no finding
SMALL = {
    "2022-H1": _members(50) + [("members_admitted", "2", "")],
    "2022-H2": _members(53) + [("members_admitted", "3", "")],
    "2023-H1": _members(61) + [("members_admitted", "8", "")],
    "2023-H2": _members(73) + [("members_admitted", "12", "")],
}
# ABSORB took OLD over on 16/07/2023 (the registry's predecessors, OLD's end_reason merged):
# 57 + OLD's 42 + 3 transferred in = 102 in 2023-H2, the merged members among no flow
OLD = {
    "2022-H1": _members(40),
    "2022-H2": _members(41) + [("members_transferred_in", "1", "")],
    "2023-H1": _members(42) + [("members_transferred_in", "1", "")],
}
ABSORB = {**{p: rows for p, rows in MERGE.items() if p != "2023-H2"}}
ABSORB["2023-H2"] = _members(102) + [("members_transferred_in", "3", "")]
# NEWBIE: a unit with no history, employees typed 1000× among ten units of its sector and form
PEERS = {
    f"PEER{i}": {"2023-H2": _members(50) + [("employees", str(500 + 10 * i), "")]}
    for i in range(10)
}
NEWBIE = {"2023-H2": _members(50) + [("employees", "612000", "")]}
UNITS = {
    "MERGE": MERGE, "SIZE": SIZE, "STEADY": STEADY, "SMALL": SMALL, "OLD": OLD,
    "ABSORB": ABSORB, "NEWBIE": NEWBIE, **PEERS,
}  # fmt: skip


def _unit(code: str) -> Unit:
    if code == "OLD":
        return Unit(code, "Đảng bộ OLD", "soe", "dang_bo", date(2010, 1, 1), date(2023, 7, 15),
                    end_reason="merged")  # fmt: skip
    since = date(2023, 7, 1) if code in PEERS or code == "NEWBIE" else date(2010, 1, 1)
    before = ("OLD",) if code == "ABSORB" else ()
    return Unit(code, f"Đảng bộ {code}", "soe", "dang_bo", since, None, predecessors=before)


def _csv(unit: str, period: str, rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["unit_code,period,indicator_code,value,note"]
    lines += [f"{unit},{period},{code},{raw},{note}" for code, raw, note in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Finding]]:
    workspace = tmp_path_factory.mktemp("history")
    con = connect(workspace)
    try:
        store_registry(con, [_unit(c) for c in UNITS])
        for i, period in enumerate(PERIODS):
            files = [
                SourceFile(f"{unit}-{period}.csv", _csv(unit, period, by_period[period]))
                for unit, by_period in UNITS.items()
                if period in by_period
            ]
            assert collect(con, workspace, files, batch_id=f"b{i}").rejected == []
    finally:
        con.close()
    periods = [Period.parse(p) for p in PERIODS]
    findings = validate(workspace, load_catalog(), periods[-1:], periods[:-1], "b3", "run-h")
    return workspace, findings


@pytest.fixture(scope="module")
def findings(validated: tuple[Path, list[Finding]]) -> list[Finding]:
    return validated[1]


def _of(findings: list[Finding], unit: str) -> list[Finding]:
    return [f for f in findings if f.unit_code == unit]


def test_merger_is_worded_plainly_with_the_units_note(findings: list[Finding]) -> None:
    (f,) = _of(findings, "MERGE")
    assert (f.rule_id, f.severity, f.period) == (
        "plausibility_members_transferred_in",
        "warning",
        "2023-H2",
    )
    # 45 against 2, 3, 4 (median 3): 15 times; 4.5 is no whole count, so no slip is named
    assert f.message == (
        "Đảng viên chuyển đến kỳ 2023-H2 (45) gấp khoảng 15 lần mức thường thấy của đơn vị "
        "(khoảng 3 mỗi kỳ, từ 2 đến 4, qua 3 kỳ từ 2022-H1 đến 2023-H1): đề nghị kiểm tra lại."
    )
    assert (f.suspect, f.suggested_value) == (None, None)
    assert f.notes == {"members_transferred_in": MERGER_NOTE}
    assert f.places == {"members_transferred_in": "dòng 6"}  # header, four rows, then it


def test_size_typed_in_the_wrong_unit_names_the_slip(findings: list[Finding]) -> None:
    (f,) = [f for f in _of(findings, "SIZE") if f.indicators == ["employees"]]
    assert (f.kind, f.severity) == ("plausibility", "warning")
    # 553000 / 1000 = 553 lies between 550 / 2 and 560 × 2; 553000 / 555 ≈ 996
    assert (f.suspect, f.suggested_value) == ("employees", 553)
    assert "(553.000) gấp khoảng 996 lần" in f.message
    assert "có lẽ gõ nhầm gấp 1.000 lần, số đúng có thể là 553:" in f.message
    assert f.places == {"employees": "dòng 6"}


def test_lost_decimal_comma_names_the_slip(findings: list[Finding]) -> None:
    (f,) = [f for f in _of(findings, "SIZE") if f.indicators == ["revenue_bn_vnd"]]
    # 9063 / 10 = 906.3 lies between 850.5 / 2 and 900 × 2 (9063 / 1000 does not)
    assert (f.suspect, f.suggested_value) == ("revenue_bn_vnd", 906.3)
    assert "có lẽ mất dấu phẩy thập phân, số đúng có thể là 906,3:" in f.message
    assert f.places == {"revenue_bn_vnd": "dòng 7"}


def test_ordinary_values_after_a_short_history_raise_nothing(findings: list[Finding]) -> None:
    assert _of(findings, "STEADY") == []
    assert _of(findings, "SMALL") == []
    assert {f.unit_code for f in findings} == {"MERGE", "SIZE", "NEWBIE"}
    assert len(_of(findings, "SIZE")) == 2


def test_a_merger_in_the_registry_keeps_the_stocks_in_balance(findings: list[Finding]) -> None:
    # without OLD's 42 members, 57 + 3 ≠ 102 would be a stock-flow warning
    assert _of(findings, "ABSORB") == []
    assert _of(findings, "OLD") == []


def test_a_unit_with_no_history_is_compared_with_its_peers(findings: list[Finding]) -> None:
    (f,) = _of(findings, "NEWBIE")
    assert (f.rule_id, f.severity) == ("plausibility_peers_employees", "warning")
    # 13 soe đảng bộ report employees that half-year: PEER0..9 500..590, STEADY 553, SIZE
    # 553000 and NEWBIE 612000. Sorted, the median is the 7th (553), the quartiles the 4th
    # (530) and the 10th (580): two wrong values among them move nothing. 612000 / 553 ≈ 1107;
    # 612 lies between 530 / 2 and 580 × 2. SIZE has a history of its own: its own rule.
    assert f.message == (
        "Người lao động kỳ 2023-H2 (612.000) gấp khoảng 1.107 lần mức thường thấy của các đơn "
        "vị cùng khối, cùng loại hình (khoảng 553, một nửa số đơn vị từ 530 đến 580, ở 13 đơn "
        "vị cùng kỳ); có lẽ gõ nhầm gấp 1.000 lần, số đúng có thể là 612: đề nghị kiểm tra lại."
    )
    assert (f.suspect, f.suggested_value) == ("employees", 612)


def test_review_page_shows_the_note_and_the_place(
    validated: tuple[Path, list[Finding]],
) -> None:
    con = connect(validated[0])
    try:
        view = page_view(con, load_catalog(), "run-h")
    finally:
        con.close()
    (unit,) = [u for u in view["units"] if u["unit_code"] == "MERGE"]
    (finding,) = unit["findings"]
    assert finding["numbers"] == [
        {
            "code": "members_transferred_in",
            "label": "Đảng viên chuyển đến",
            "value": "45",
            "place": "dòng 6",
            "note": MERGER_NOTE,
        }
    ]
    assert finding["where"] == "MERGE-2023-H2.csv, dòng 6 (Đảng viên chuyển đến)"
