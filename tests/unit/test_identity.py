"""What a file says about itself, believed within reason (tonghop.collect.identity)."""

from __future__ import annotations

from pathlib import Path

from tonghop.collect import SourceFile, collect
from tonghop.db import connect

HEADER = "unit_code,period,indicator_code,value\n"
CODES = ("members_total", "members_official", "members_probationary", "members_admitted")


def _csv(unit: str, period: str, values: dict[str, int]) -> bytes:
    return (HEADER + "".join(f"{unit},{period},{k},{v}\n" for k, v in values.items())).encode()


FULL = dict(zip(CODES, (40, 37, 3, 2), strict=True))


def _current(con) -> dict[tuple[str, str], float]:
    """(unit, indicator) -> the value of the unit's latest submission, read from the tables."""
    rows = con.execute(
        "select s.unit_code, v.indicator_code, v.value from submitted_values v "
        "join submissions s using (submission_id) where s.seq = (select max(seq) from "
        "submissions t where t.unit_code = s.unit_code and t.period = s.period)"
    ).fetchall()
    return {(u, c): v for u, c, v in rows}


def test_a_file_named_for_one_unit_with_another_units_rows_is_held(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        collect(
            con, tmp_path, [SourceFile("2023-H1/TCCS001.csv", _csv("TCCS001", "2023-H1", FULL))]
        )
        other = _csv("TCCS001", "2023-H1", FULL | {"members_total": 99})
        result = collect(con, tmp_path, [SourceFile("2023-H1/TCCS002.csv", other)])
        assert result.loaded == []
        (held,) = result.held
        assert held["reason"].startswith("Tạm giữ để xem xét")
        assert "đơn vị TCCS002" in held["reason"] and "đơn vị TCCS001" in held["reason"]
        assert _current(con)[("TCCS001", "members_total")] == 40
    finally:
        con.close()


def test_a_file_in_another_periods_folder_is_held(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        result = collect(
            con, tmp_path, [SourceFile("2023-H2/TCCS001.csv", _csv("TCCS001", "2023-H1", FULL))]
        )
        (held,) = result.held
        assert "kỳ 2023-H2" in held["reason"] and "kỳ 2023-H1" in held["reason"]
        assert con.execute("select count(*) from submissions").fetchone()[0] == 0
    finally:
        con.close()


def test_a_file_whose_name_says_nothing_is_believed(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        result = collect(con, tmp_path, [SourceFile("bao-cao.csv", _csv("TCCS001", "2023", FULL))])
        assert result.loaded == ["bao-cao.csv"]
        # a year's folder agrees with its halves
        half = _csv("TCCS002", "2023-H1", FULL)
        assert collect(con, tmp_path, [SourceFile("2023/x.csv", half)]).loaded == ["2023/x.csv"]
    finally:
        con.close()


def test_a_short_correction_is_held_and_every_value_stays(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        collect(con, tmp_path, [SourceFile("a.csv", _csv("TCCS001", "2023", FULL))])
        short = _csv("TCCS001", "2023", {"members_total": 41, "members_official": 38})
        result = collect(con, tmp_path, [SourceFile("a-sua.csv", short)])
        (held,) = result.held
        assert "2 chỉ tiêu" in held["reason"] and "4 chỉ tiêu" in held["reason"]
        assert _current(con) == {("TCCS001", k): float(v) for k, v in FULL.items()}
    finally:
        con.close()


def test_a_resubmission_missing_a_value_replaces_with_a_warning(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        collect(con, tmp_path, [SourceFile("a.csv", _csv("TCCS001", "2023", FULL))])
        three = {k: v for k, v in FULL.items() if k != "members_admitted"}
        result = collect(con, tmp_path, [SourceFile("a-lan2.csv", _csv("TCCS001", "2023", three))])
        assert result.loaded == ["a-lan2.csv"]
        (warnings,) = con.execute(
            "select warnings from received_files where original_name = 'a-lan2.csv'"
        ).fetchone()
        assert any("1 chỉ tiêu không còn số liệu: members_admitted." in w for w in warnings)
    finally:
        con.close()


OLD = _csv("TCCS001", "2023", FULL)


def _superseded(tmp_path: Path):  # noqa: ANN202 - a DuckDB connection
    """A workspace where TCCS001.csv was received (batch b1), then replaced (batch b2)."""
    con = connect(tmp_path)
    collect(con, tmp_path, [SourceFile("TCCS001.csv", OLD)], batch_id="b1")
    new = _csv("TCCS001", "2023", FULL | {"members_total": 41})
    collect(con, tmp_path, [SourceFile("TCCS001.csv", new)], batch_id="b2")
    return con


def test_an_old_file_put_back_is_a_notice_and_the_newer_stays(tmp_path: Path) -> None:
    old = OLD
    con = _superseded(tmp_path)
    try:
        counts = con.execute("select count(*) from submitted_values").fetchone()[0]
        again = collect(con, tmp_path, [SourceFile("TCCS001.csv", old)], batch_id="b3")
        assert again.loaded == [] and again.skipped == ["TCCS001.csv"]
        (notice,) = again.notices
        assert "đã được thay bằng tệp 'TCCS001.csv'" in notice["reason"]
        assert "tệp cũ không được dùng lại" in notice["reason"]
        assert con.execute("select count(*) from submitted_values").fetchone()[0] == counts
        assert _current(con)[("TCCS001", "members_total")] == 41
        from tonghop.pipeline import rejected_files

        assert [r["reason"] for r in rejected_files(con, "b3")] == [notice["reason"]]
        # seen again in the next batch: it stayed, it was not put back again
        assert collect(con, tmp_path, [SourceFile("TCCS001.csv", old)], batch_id="b4").notices == []
    finally:
        con.close()


def test_holds_and_old_files_are_findings_until_a_newer_file_answers_them(tmp_path: Path) -> None:
    from tonghop.periods import Period
    from tonghop.validation.held import held_findings, standing_units

    con = _superseded(tmp_path)
    try:
        collect(
            con,
            tmp_path,
            [
                SourceFile("TCCS001.csv", OLD),  # put back
                SourceFile("TCCS001-sua.csv", _csv("TCCS001", "2023", {"members_total": 42})),
                SourceFile("2023/TCCS001-ban-sao.csv", _csv("TCCS002", "2023", FULL)),
            ],
            batch_id="b3",
        )
        found = held_findings(con, [Period.parse("2023")], unit_names={"TCCS002": "Chi bộ 2"})
        by_rule = {(f.rule_id, f.unit_code): f for f in found}
        assert sorted(by_rule) == [
            ("file_held_identity", "TCCS001"),  # the unit its name names, known: told too
            ("file_held_identity", "TCCS002"),  # the unit whose values it holds
            ("file_held_partial", "TCCS001"),
            ("file_restored_old", "TCCS001"),
        ]
        assert all(f.severity == "warning" and f.message for f in found)
        identity = by_rule[("file_held_identity", "TCCS002")]
        assert identity.unit_name == "Chi bộ 2"
        assert identity.file == "2023/TCCS001-ban-sao.csv" and identity.location == "dòng 2"
        assert "ghi đơn vị TCCS001" in identity.message and "của đơn vị TCCS002" in identity.message
        assert by_rule[("file_held_identity", "TCCS001")].location is None
        partial = by_rule[("file_held_partial", "TCCS001")]
        assert partial.file == "TCCS001-sua.csv" and "chỉ có 1 chỉ tiêu" in partial.message
        assert "đã được thay bằng tệp" in by_rule[("file_restored_old", "TCCS001")].message
        assert len({f.finding_key for f in found}) == 4
        assert standing_units(con) == ["TCCS001", "TCCS002"]
        assert held_findings(con, [Period.parse("2022")]) == []  # out of scope
        only = held_findings(con, [Period.parse("2023")], ["TCCS002"])
        assert [f.finding_key for f in only] == [identity.finding_key]
        # a full, newer file of the unit answers its hold and its old file
        newer = _csv("TCCS001", "2023", FULL | {"members_total": 43})
        collect(con, tmp_path, [SourceFile("TCCS001-lan3.csv", newer)], batch_id="b4")
        assert [f.rule_id for f in held_findings(con, [Period.parse("2023")])] == [
            "file_held_identity"
        ]
    finally:
        con.close()
