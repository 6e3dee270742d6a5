"""The review queue on fixture rows in a real DuckDB workspace.

Period 2024 (baseline 2023, no data). Every figure below is worked out by hand from FIXTURE:

    unit  sector   members_total  admitted  finding (severity)
    A1    agency   100            5         none
    A2    agency    25            2         members_total_sum (error): 20 + 3 != 25
    A3    soe       18            40        admitted_le_total (error); the unit said 4 by phone
    A4    private   12            1         members_rated_note (warning)
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tonghop.catalog import load_catalog
from tonghop.consolidate import run_models
from tonghop.db import open_db
from tonghop.paths import SQL_DIR
from tonghop.periods import PeriodRange
from tonghop.review import (
    AuditError,
    ReviewError,
    accept,
    correct,
    history,
    queue,
    reject,
    sync_resubmissions,
    verify_history,
)

CATALOG = load_catalog()
RANGE = PeriodRange.parse("2024")

UNITS = [("A1", "agency", "dang_bo"), ("A2", "agency", "chi_bo"), ("A3", "soe", "chi_bo"),
         ("A4", "private", "chi_bo")]  # fmt: skip
FIXTURE = {
    "A1-1": ("A1", 1, {"members_total": 100, "members_official": 90,
                       "members_probationary": 10, "members_admitted": 5}),
    "A2-1": ("A2", 2, {"members_total": 25, "members_official": 20,
                       "members_probationary": 3, "members_admitted": 2}),
    "A3-1": ("A3", 3, {"members_total": 18, "members_official": 16,
                       "members_probationary": 2, "members_admitted": 40}),
    "A4-1": ("A4", 4, {"members_total": 12, "members_official": 12,
                       "members_probationary": 0, "members_admitted": 1}),
}  # fmt: skip
SUM = ("members_total_sum", "sum", "error",
       ["members_total", "members_official", "members_probationary"])  # fmt: skip
FINDINGS = {
    "kA2": ("A2-1", "A2", *SUM),
    "kA3": ("A3-1", "A3", "admitted_le_total", "part_le_whole", "error",
            ["members_admitted", "members_total"]),
    "kA4": ("A4-1", "A4", "members_rated_note", "policy", "warning", ["members_total"]),
}  # fmt: skip


def _submit(con, sid: str, unit: str, seq: int, values: dict[str, float]) -> None:  # noqa: ANN001
    con.execute(
        "insert into submissions values (?, ?, ?, '2024', 'csv', ?, ?, 'b1', ?)",
        [sid, f"sha-{sid}", unit, f"{sid}.csv", datetime(2024, 7, 1), seq],
    )
    con.executemany(
        "insert into submitted_values values (?, ?, ?, ?, ?, null)",
        [[sid, code, repr(v), v, f"dòng {i}"] for i, (code, v) in enumerate(values.items(), 2)],
    )


def _findings(con, findings: dict) -> None:  # noqa: ANN001
    """Stand in for a validation: replace the findings table."""
    con.execute("delete from findings")
    con.executemany(
        "insert into findings (finding_key, run_id, unit_code, period, submission_id, rule_id, "
        "kind, severity, message, indicators, observed, file_name, location) "
        "values (?, 'r', ?, '2024', ?, ?, ?, ?, ?, ?, ?, ?, 'dòng 2')",
        [
            [key, unit, sid, rule, kind, sev, f"Quy tắc {rule} không đạt", inds,
             '{"members_total": 25}', f"{sid}.csv"]
            for key, (sid, unit, rule, kind, sev, inds) in findings.items()
        ],
    )  # fmt: skip


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    with open_db(tmp_path) as con:
        con.executemany(
            "insert into registry_units values (?, ?, ?, ?, ?, null)",
            [[c, f"Chi bộ {c}", s, f, date(2010, 1, 1)] for c, s, f in UNITS],
        )
        for sid, (unit, seq, values) in FIXTURE.items():
            _submit(con, sid, unit, seq, values)
        _findings(con, FINDINGS)
    return tmp_path


def _figures(workspace: Path) -> tuple[float, float, dict[str, tuple]]:
    """Members at the cut-off, admissions over the term, and coverage by unit."""
    with open_db(workspace) as con:
        run_models(con, CATALOG, RANGE)
        term = dict(
            con.execute(
                "select indicator_code, value from rpt_term__indicators where group_type = "
                "'bloc' and measure in ('cutoff', 'term') and indicator_code in "
                "('members_total', 'members_admitted')"
            ).fetchall()
        )
        coverage = {
            r[0]: r[1:]
            for r in con.execute(
                "select unit_code, status, corrected, corrected_indicators, pending "
                "from rpt_coverage__units"
            ).fetchall()
        }
    return term["members_total"], term["members_admitted"], coverage


def test_without_review_errors_block_and_warnings_pass(workspace: Path) -> None:
    members, admitted, coverage = _figures(workspace)
    assert (members, admitted) == (100 + 12, 5 + 1)  # A1 and A4
    assert coverage["A2"] == ("blocked", False, [], False)
    assert coverage["A4"] == ("included", False, [], False)


def test_accept_correct_reject_change_the_next_consolidation(workspace: Path) -> None:
    with open_db(workspace) as con:
        accept(con, "kA2", "Đơn vị có 2 đảng viên chuyển đến chưa nhập", actor="thu")
    members, admitted, coverage = _figures(workspace)
    assert (members, admitted) == (112 + 25, 6 + 2)
    assert coverage["A2"][0] == "included"

    with open_db(workspace) as con:
        record = correct(
            con, "kA3", 4, "Gõ nhầm 40", "điện thoại với đơn vị", "members_admitted", "thu"
        )
    assert (record["before_value"], record["after_value"]) == (40, 4)
    members, admitted, coverage = _figures(workspace)
    assert (members, admitted) == (137 + 18, 8 + 4)  # A3's 4, not its 40
    assert coverage["A3"] == ("included", True, ["members_admitted"], False)

    with open_db(workspace) as con:
        reject(con, "kA4", "Số đảng viên không khớp danh sách", actor="thu")
    members, admitted, coverage = _figures(workspace)
    assert (members, admitted) == (155 - 12, 12 - 1)  # the warning's submission leaves too
    assert coverage["A4"][0] == "blocked"

    with open_db(workspace) as con:
        states = {r["finding_key"]: r["state"] for r in queue(con)}
        assert states == {"kA2": "accepted", "kA3": "corrected", "kA4": "rejected"}
        steps = con.execute(
            "select seq, finding_key, action, state, indicator_code, before_value, "
            "after_value, actor from review_actions order by seq"
        ).fetchall()
        assert steps == [
            (1, "kA2", "accept", "accepted", None, None, None, "thu"),
            (2, "kA3", "correct", "corrected", "members_admitted", 40.0, 4.0, "thu"),
            (3, "kA4", "reject", "rejected", None, None, None, "thu"),
        ]
        assert verify_history(con) == 3


def test_a_second_correction_applies_and_both_are_kept(workspace: Path) -> None:
    with open_db(workspace) as con:
        correct(con, "kA3", 4, "Gõ nhầm", "điện thoại", "members_admitted", "thu")
        second = correct(con, "kA3", 3, "Đơn vị gửi công văn", "công văn số 12", None, "lan")
        assert second["indicator_code"] == "members_admitted"  # the one corrected before
        assert second["before_value"] == 4
        assert con.execute("select count(*) from value_corrections").fetchone()[0] == 2
    _members, admitted, _ = _figures(workspace)
    assert admitted == 5 + 1 + 3


def test_resubmission_makes_old_findings_moot_and_reopens_accepted_rules(
    workspace: Path,
) -> None:
    with open_db(workspace) as con:
        accept(con, "kA2", "Đã xác minh", actor="thu")
        reject(con, "kA4", "Nộp lại", actor="thu")
        # A2 resubmits, still unbalanced; A4 resubmits clean.
        a2 = {"members_total": 26, "members_official": 20, "members_probationary": 3}
        a4 = {"members_total": 13, "members_official": 13, "members_probationary": 0}
        _submit(con, "A2-2", "A2", 5, a2 | {"members_admitted": 3})
        _submit(con, "A4-2", "A4", 6, a4 | {"members_admitted": 2})
        before = sync_resubmissions(con)  # before validation: the old findings are still there
        assert {(a["finding_key"], a["action"]) for a in before} == {
            ("kA2", "supersede"),
            ("kA4", "supersede"),
        }
        _findings(con, {"kA2b": ("A2-2", "A2", *SUM), "kA3": FINDINGS["kA3"]})
        after = sync_resubmissions(con)
        assert [(a["finding_key"], a["action"], a["actor"]) for a in after] == [
            ("kA2b", "reopen", "tonghop")
        ]
        assert "kA2" in after[0]["note"]
        assert sync_resubmissions(con) == []  # idempotent
        assert [h["action"] for h in history(con, "kA2")] == ["accept", "supersede"]
        assert [h["action"] for h in history(con, "kA4")] == ["reject", "supersede"]
        listed = {r["finding_key"]: (r["state"], r["gone"]) for r in queue(con, include_gone=True)}
        assert listed == {
            "kA2b": ("open", False),
            "kA3": ("open", False),
            "kA2": ("moot", True),  # superseded: listed with why, never to act on
            "kA4": ("moot", True),
        }
        assert {r["finding_key"] for r in queue(con)} == {"kA2b", "kA3"}  # the current ones
        moot = {r["finding_key"]: r for r in queue(con, state="moot", include_gone=True)}
        assert set(moot) == {"kA2", "kA4"}
        assert "A4-2.csv" in moot["kA4"]["state_note"]  # the file that superseded it
        assert moot["kA4"]["message"] == "Quy tắc members_rated_note không đạt"  # its words kept
        with pytest.raises(ReviewError, match="hết hiệu lực"):
            accept(con, "kA2", "muộn", actor="thu")
        verify_history(con)
    members, admitted, coverage = _figures(workspace)
    assert (members, admitted) == (100 + 13, 5 + 2)  # A2 reopened and blocked, A4's new file
    assert coverage["A2"][0] == "blocked"


def test_correct_needs_an_indicator_when_the_finding_has_several(workspace: Path) -> None:
    with open_db(workspace) as con, pytest.raises(ReviewError, match="--indicator"):
        correct(con, "kA2", 23, "x", "y", None, "thu")


def test_actions_need_a_note_and_an_existing_finding(workspace: Path) -> None:
    with open_db(workspace) as con:
        with pytest.raises(ReviewError, match="ghi chú"):
            accept(con, "kA2", "  ", actor="thu")
        with pytest.raises(ReviewError, match="Không tìm thấy"):
            reject(con, "zzz", "x", actor="thu")
        assert con.execute("select count(*) from review_actions").fetchone()[0] == 0


@pytest.mark.parametrize(
    "tamper",
    [
        "update review_actions set note = 'khác' where seq = 1",
        "delete from review_actions where seq = 1",
        "update value_corrections set after_value = 400",
        "delete from value_corrections",
    ],
)
def test_changing_history_behind_tonghops_back_is_detected(workspace: Path, tamper: str) -> None:
    with open_db(workspace) as con:
        accept(con, "kA2", "Đã xác minh", actor="thu")
        correct(con, "kA3", 4, "Gõ nhầm", "điện thoại", "members_admitted", "thu")
        con.execute(tamper)
        with pytest.raises(AuditError):
            verify_history(con)
        with pytest.raises(AuditError):  # and nothing more is appended to a tampered log
            reject(con, "kA4", "x", actor="thu")


def test_no_code_updates_or_deletes_the_audit_tables() -> None:
    pattern = re.compile(
        r"\b(update|delete\s+from|truncate|drop\s+table|create\s+or\s+replace\s+table|"
        r"insert\s+or\s+replace\s+into)\s+(review_actions|value_corrections)\b",
        re.IGNORECASE,
    )
    offenders = [
        str(path)
        for folder in ("src", "flows", "sql")
        for path in (SQL_DIR.parent / folder).rglob("*")
        if path.suffix in (".py", ".sql") and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_cli_speaks_vietnamese(workspace: Path) -> None:
    from tonghop.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["review", "list", "--workspace", str(workspace)])
    assert listed.exit_code == 0, listed.output
    assert (
        "chưa xử lý" in listed.output and "Tổng: 3 phát hiện (2 lỗi, 1 cảnh báo)" in listed.output
    )

    done = runner.invoke(
        app,
        ["review", "correct", "kA3", "--value", "4", "--reason", "Gõ nhầm", "--source",
         "điện thoại với đơn vị", "--indicator", "members_admitted", "--workspace",
         str(workspace), "--actor", "thu"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "hiệu chỉnh members_admitted từ 40 thành 4" in done.output

    shown = runner.invoke(app, ["review", "show", "kA3", "--workspace", str(workspace)])
    assert shown.exit_code == 0, shown.output
    assert "đã hiệu chỉnh" in shown.output
    assert "thu: hiệu chỉnh (đã hiệu chỉnh) phát hiện kA3" in shown.output
    assert "members_admitted: 40 → 4. Lý do: Gõ nhầm. Nguồn: điện thoại" in shown.output

    only = runner.invoke(
        app, ["review", "list", "--workspace", str(workspace), "--state", "corrected"]
    )
    assert "kA3" in only.output and "kA2" not in only.output

    missing = runner.invoke(
        app, ["review", "accept", "nope", "--note", "x", "--workspace", str(workspace)]
    )
    assert missing.exit_code == 2
    assert "Lỗi: Không tìm thấy phát hiện có mã 'nope'" in missing.output


def test_a_correction_is_checked_against_its_indicator_and_the_rules_before_it_is_stored(
    workspace: Path,
) -> None:
    with open_db(workspace) as con:
        with pytest.raises(ReviewError, match=r"là số nguyên .*: 12,5 không hợp lệ"):
            correct(con, "kA3", 12.5, "Gõ nhầm", "điện thoại", "members_admitted", "thu")
        with pytest.raises(ReviewError, match="phải ≥ 0: -1 nằm ngoài giới hạn"):
            correct(con, "kA3", -1, "Gõ nhầm", "điện thoại", "members_admitted", "thu")
        # 24 leaves A2's sum unbalanced (20 + 3 = 23): refused, the rule's own words given
        with pytest.raises(ReviewError, match=r"vẫn còn lỗi: Tổng số đảng viên \(24\)"):
            correct(con, "kA2", 24, "Gõ nhầm", "điện thoại", "members_total", "thu")
        assert con.execute("select count(*) from review_actions").fetchone()[0] == 0
        forced = correct(
            con, "kA2", 24, "Sẽ sửa tiếp số dự bị", "điện thoại", "members_total", "thu",
            force=True,
        )  # fmt: skip
        assert [s for s, *_ in forced["preview"].remaining] == ["error"]

        # The next validation reads the corrected value (24) and still raises the sum rule
        # under the same key: the correction did not fix it, so the finding is open again.
        con.execute(
            'update findings set observed = \'{"members_total": 24, "members_official": 20,'
            " \"members_probationary\": 3}' where finding_key = 'kA2'"
        )
        reopened = sync_resubmissions(con)
        assert [(a["finding_key"], a["action"]) for a in reopened] == [("kA2", "reopen")]
        assert "24 quy tắc vẫn không đạt" in reopened[0]["note"]
        assert sync_resubmissions(con) == []  # idempotent

        fixed = correct(con, "kA2", 23, "Đơn vị xác nhận", "công văn", "members_total", "thu")
        assert fixed["preview"].errors == []
        assert any("Tổng số đảng viên (24)" in m for _, m, _ in fixed["preview"].cleared)
        verify_history(con)


def test_reject_says_it_takes_the_whole_submission_out_and_by_how_much(workspace: Path) -> None:
    from tonghop.review import rejection_impact

    _figures(workspace)  # A1 and A4 included (A2, A3 blocked by their errors)
    with open_db(workspace) as con:
        warning = rejection_impact(con, "kA4")  # A4's warning: its submission is included
        error = rejection_impact(con, "kA2")
        assert con.execute("select count(*) from review_actions").fetchone()[0] == 0
    assert warning.included is True
    changes = {code: (before, after) for code, _, before, after in warning.changes}
    assert changes["members_total"] == (100 + 12, 100)
    assert changes["members_admitted"] == (5 + 1, 5)
    assert error.included is False and error.changes == []


def test_review_log_prints_the_audit_without_duckdb(workspace: Path) -> None:
    from tonghop.cli import app

    with open_db(workspace) as con:
        correct(con, "kA3", 4, "Gõ nhầm 40", "điện thoại với đơn vị", "members_admitted", "thu")
        accept(con, "kA2", "Đơn vị có 2 đảng viên chuyển đến", actor="lan")
    logged = CliRunner().invoke(app, ["review", "log", "--workspace", str(workspace)])
    assert logged.exit_code == 0, logged.output
    lines = logged.output.splitlines()
    assert re.match(
        r"\s+1\. \d\d/\d\d/\d{4} \d\d:\d\d thu: hiệu chỉnh \(đã hiệu chỉnh\) phát hiện kA3, "
        r"đơn vị A3, kỳ 2024, quy tắc admitted_le_total\. members_admitted: 40 → 4\. "
        r"Lý do: Gõ nhầm 40\. Nguồn: điện thoại với đơn vị\.",
        lines[0],
    )
    assert "lan: chấp nhận (đã chấp nhận) phát hiện kA2" in lines[1]
    assert lines[-1] == "Nhật ký nguyên vẹn (2 dòng, chưa bị sửa hay xóa)."
