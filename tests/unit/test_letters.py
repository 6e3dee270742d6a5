"""Feedback letters (`thu-phan-hoi/`) from a real workspace: who gets one, what it says in both
formats, the committee's header and signature, and letters removed once nothing is left."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from tonghop.db import open_db
from tonghop.letters import write_letters
from tonghop.review import ReviewError, accept
from tonghop.settings import ReportSettings, load_settings

DAY = date(2023, 7, 20)
UNITS = [
    # code, name, valid_from, valid_to
    ("A1", "Đảng bộ Sở Tài chính", date(2010, 1, 1), None),
    ("A2", "Chi bộ Công ty Xây lắp", date(2010, 1, 1), date(2021, 4, 10)),  # left in 2021
    ("A3", "Đảng bộ Sở Y tế", date(2010, 1, 1), None),
    ("A4", "Đảng bộ Sở Nội vụ", date(2010, 1, 1), None),
    ("A5", "Chi bộ Hội Nông dân", date(2010, 1, 1), None),
]
FINDINGS = [
    # key, unit, period, rule, kind, severity, message
    ("f1", "A1", "2023-H1", "members_total_sum", "sum", "error",
     "Tổng số đảng viên (1.250) khác chính thức cộng dự bị (1.150)."),
    ("f2", "A2", "2023-H1", "unit_not_active", "completeness", "error",
     "Đơn vị không còn trực thuộc trong kỳ 2023-H1."),
    ("f3", "A2", "2020-H2", "bounds_members_admitted", "bounds", "warning",
     "Kết nạp đảng viên mới = 40 khác xa các kỳ trước."),
    ("f4", "X9", "2023-H1", "unknown_unit", "unknown_unit", "error",
     "Mã đơn vị 'X9' không có trong danh mục đơn vị."),
    ("f5", "A5", "2023-H1", "tasks_completed_le_assigned", "part_le_whole", "error",
     "Số nhiệm vụ hoàn thành (238) lớn hơn số nhiệm vụ được giao (231)."),
]  # fmt: skip
A3_REASON = "Tệp '2023-H1/A3-hong.xlsx' không phải tệp Excel (.xlsx) hợp lệ (tệp nén bị hỏng)"
OPENING = (
    "Qua kiểm tra số liệu báo cáo kỳ 2023-H1 của đơn vị, Văn phòng đề nghị đơn vị rà soát, sửa "
    "và gửi lại báo cáo với những nội dung sau:"
)


@pytest.fixture
def workspace(tmp_path) -> Path:
    ws = tmp_path / "ws"
    first, later = datetime(2023, 7, 1, 8), datetime(2023, 7, 5, 8)
    with open_db(ws) as con:
        con.executemany(
            "insert into registry_units values (?, ?, 'agency', 'dang_bo', ?, ?)",
            [list(u) for u in UNITS],
        )
        # Files that could not be read: A3's (nothing since), A4's (replaced by a readable
        # file in a later batch) and one whose name names no unit.
        for sha, name, at in (
            ("h3", "2023-H1/A3-hong.xlsx", first),
            ("h4", "2023-H1/A4-sai.csv", first),
            ("h0", "2023-H1/khong-ro.csv", first),
        ):
            reason = A3_REASON if sha == "h3" else "Không đọc được."
            con.execute(
                "insert into received_files values (?, ?, ?, 10, ?, 'rejected', ?, [])",
                [sha, f"archive/{sha}", name, at, reason],
            )
            con.execute("insert into file_sightings values (?, ?, ?, 'b1')", [sha, name, at])
        con.execute(
            "insert into submissions values ('s-A4', 'h4b', 'A4', '2023-H1', 'csv', "
            "'2023-H1/A4.csv', ?, 'b2', 1)",
            [later],
        )
        con.executemany(
            "insert into findings (finding_key, run_id, unit_code, period, rule_id, kind, "
            "severity, message, indicators, observed) "
            "values (?, 'r1', ?, ?, ?, ?, ?, ?, [], '{}')",
            [list(f) for f in FINDINGS],
        )
    return ws


def _docx_lines(path: Path) -> list[str]:
    """Every paragraph of the letter in reading order, the header's and closing's cells too."""
    body = Document(str(path)).element.body
    lines = []
    for p in body.iter(qn("w:p")):
        text = "".join(t.text or "" for t in p.iter(qn("w:t")))
        if text.strip():
            lines.append(text)
    return lines


def _md_lines(text: str) -> list[str]:
    """The Markdown's lines as a reader sees them: no emphasis, no escapes, no heading mark."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"(?<!\\)\*", "", line)
        line = re.sub(r"\\(.)", r"\1", line).strip()
        line = line.removeprefix("# ")
        if line:
            lines.append(line)
    return lines


def _highlighted(path: Path) -> set[str]:
    body = Document(str(path)).element.body
    return {
        "".join(t.text or "" for t in r.iter(qn("w:t")))
        for r in body.iter(qn("w:r"))
        if r.find(f"{qn('w:rPr')}/{qn('w:highlight')}") is not None
    }


def test_letters_go_to_registry_units_active_in_the_period_and_to_unreadable_files(
    workspace, tmp_path
) -> None:
    with open_db(workspace) as con:
        write_letters(con, tmp_path, ReportSettings(), today=DAY)
    folder = tmp_path / "thu-phan-hoi"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{code}.{ext}" for code in ("A1", "A2", "A3", "A5") for ext in ("docx", "md")
    ]
    a2 = (folder / "A2.md").read_text("utf-8")
    assert "40 khác xa" in a2 and "2023-H1" not in a2  # 2020-H2 only: it left in 2021
    a3 = (folder / "A3.md").read_text("utf-8")
    unescaped = re.sub(r"\\(.)", r"\1", a3)
    assert f"1. Kỳ 2023-H1: {A3_REASON}. Tệp này không đọc được; đề nghị" in unescaped


def test_md_and_docx_say_the_same_paragraphs(workspace, tmp_path) -> None:
    with open_db(workspace) as con:
        write_letters(con, tmp_path, ReportSettings(), today=DAY)
    folder = tmp_path / "thu-phan-hoi"
    for code in ("A1", "A2", "A3", "A5"):
        md = _md_lines((folder / f"{code}.md").read_text("utf-8"))
        assert _docx_lines(folder / f"{code}.docx") == md, code
    assert OPENING in _docx_lines(folder / "A1.docx")


def test_the_committees_header_and_signature_block(workspace, tmp_path) -> None:
    with open_db(workspace) as con:
        write_letters(con, tmp_path / "bare", ReportSettings(), today=DAY)
        sample = load_settings(Path(__file__).parents[2] / "data" / "sample" / "bao-cao.yaml")
        write_letters(con, tmp_path / "set", sample, today=DAY)
    bare = tmp_path / "bare" / "thu-phan-hoi" / "A1.docx"
    lines = _docx_lines(bare)
    assert lines[:6] == [
        "[Tên cấp ủy cấp trên]",
        "[Tên cơ quan ban hành]",
        "*",
        "Số [số]-TB/[ký hiệu]",
        "ĐẢNG CỘNG SẢN VIỆT NAM",
        "[Địa danh], ngày 20 tháng 7 năm 2023",
    ]
    assert lines[-6:] == [
        "Nơi nhận:",
        "- Như trên,",
        "- Lưu VT.",
        "[T/L hoặc K/T]",
        "[Chức vụ người ký]",
        "[Họ và tên người ký]",
    ]
    assert {
        "[Tên cấp ủy cấp trên]",
        "[Tên cơ quan ban hành]",
        "[số]",
        "[ký hiệu]",
        "[Địa danh]",
        "[Họ và tên người ký]",
    } <= _highlighted(bare)
    signed = _docx_lines(tmp_path / "set" / "thu-phan-hoi" / "A1.docx")
    assert signed[:2] == ["ĐẢNG BỘ TỈNH THANH HÓA", "ĐẢNG ỦY KHỐI CƠ QUAN VÀ DOANH NGHIỆP TỈNH"]
    assert "Thanh Hóa, ngày 20 tháng 7 năm 2023" in signed
    assert signed[-3:] == ["T/L BAN THƯỜNG VỤ", "CHÁNH VĂN PHÒNG", "[Họ và tên người ký]"]
    assert "Nơi nhận:" in signed and "- Lưu Văn phòng Đảng ủy Khối." in signed


def test_a_letter_with_nothing_left_to_fix_is_removed(workspace, tmp_path) -> None:
    folder = tmp_path / "thu-phan-hoi"
    (tmp_path / "thu-phan-hoi").mkdir()
    own = folder / "ghi-chu.md"  # a file of the steward's own stays
    own.write_text("ghi chú", encoding="utf-8")
    with open_db(workspace) as con:
        write_letters(con, tmp_path, ReportSettings(), today=DAY)
        assert (folder / "A5.md").exists() and (folder / "A5.docx").exists()
        accept(con, "f5", "Số liệu đúng: nhiệm vụ phát sinh", "thu")
        write_letters(con, tmp_path, ReportSettings(), today=DAY)
    assert not (folder / "A5.md").exists() and not (folder / "A5.docx").exists()
    assert (folder / "A1.md").exists() and own.exists()


def test_no_letter_for_a_warning_a_steward_accepted_and_no_decision_on_a_departed_unit(
    workspace, tmp_path
) -> None:
    folder = tmp_path / "thu-phan-hoi"
    with open_db(workspace) as con:
        accept(con, "f3", "Đơn vị kết nạp theo đợt, số liệu đúng", "thu")  # A2's only warning
        with pytest.raises(ReviewError, match="không hoạt động trong kỳ 2023-H1"):
            accept(con, "f2", "x", "thu")  # A2 left in 2021: a decision would change nothing
        with pytest.raises(ReviewError, match="không có trong danh mục đơn vị"):
            accept(con, "f4", "x", "thu")
        write_letters(con, tmp_path, ReportSettings(), today=DAY)
        assert con.execute("select count(*) from review_actions").fetchone()[0] == 1
    assert sorted(p.stem for p in folder.glob("*.md")) == ["A1", "A3", "A5"]
