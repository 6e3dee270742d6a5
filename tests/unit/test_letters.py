"""Feedback letters (`thu-phan-hoi/`) and the steward's page (`kiem-tra`) from a real workspace:
who gets a letter, what it says in both formats, the committee's header and signature, letters
removed once nothing is left, and a letter or the page written again only when what it shows
changed."""

from __future__ import annotations

import csv
import os
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from tonghop.db import open_db
from tonghop.letters import write_letters
from tonghop.review import ReviewError, accept
from tonghop.review_page import write_review_page
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


# A time no run writes at: a file still carrying it was not written again.
LONG_AGO = 946_684_800 * 10**9  # 2000-01-01


def _stamp(folder: Path) -> None:
    for path in folder.iterdir():
        os.utime(path, ns=(LONG_AGO, LONG_AGO))


def _touched(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.stat().st_mtime_ns != LONG_AGO)


def test_only_the_letter_of_a_unit_whose_findings_changed_is_written_again(
    workspace, tmp_path
) -> None:
    folder = tmp_path / "thu-phan-hoi"
    with open_db(workspace) as con:
        write_letters(con, tmp_path, ReportSettings(), today=DAY)
        _stamp(folder)
        write_letters(con, tmp_path, ReportSettings(), today=DAY)
        assert _touched(folder) == []  # nothing changed: no letter composed nor written

        # a warning of A5 raised, then accepted by a steward: A5's letter each time, alone
        con.execute(
            "insert into findings (finding_key, run_id, unit_code, period, rule_id, kind, "
            "severity, message, indicators, observed) values ('f7', 'r2', 'A5', '2023-H1', "
            "'bounds_members_admitted', 'bounds', 'warning', 'Kết nạp 40 khác xa.', [], '{}')"
        )
        write_letters(con, tmp_path, ReportSettings(), today=DAY)
        assert _touched(folder) == ["A5.docx", "A5.md"]
        assert "Kết nạp 40 khác xa." in (folder / "A5.md").read_text("utf-8")
        _stamp(folder)
        accept(con, "f7", "Đơn vị kết nạp theo đợt", "thu")
        write_letters(con, tmp_path, ReportSettings(), today=DAY)
        assert _touched(folder) == ["A5.docx", "A5.md"]
        assert "Kết nạp 40 khác xa." not in (folder / "A5.md").read_text("utf-8")

        # a new finding of A3, as the validation of a resubmission writes it
        _stamp(folder)
        con.execute(
            "insert into findings (finding_key, run_id, unit_code, period, rule_id, kind, "
            "severity, message, indicators, observed) values ('f6', 'r2', 'A3', '2023-H1', "
            "'members_total_sum', 'sum', 'error', 'Tổng số đảng viên (99) khác (98).', [], '{}')"
        )
        write_letters(con, tmp_path, ReportSettings(), today=DAY)
        assert _touched(folder) == ["A3.docx", "A3.md"]
        assert any(
            "Tổng số đảng viên (99) khác (98)." in x for x in _docx_lines(folder / "A3.docx")
        )

        # what every letter is made of (the settings, the date): every letter again
        _stamp(folder)
        write_letters(con, tmp_path, ReportSettings(), today=date(2023, 7, 21))
        assert _touched(folder) == [
            f"{c}.{e}" for c in ("A1", "A2", "A3", "A5") for e in ("docx", "md")
        ]
        # a letter lost from the folder is written again, alone
        _stamp(folder)
        (folder / "A1.docx").unlink()
        write_letters(con, tmp_path, ReportSettings(), today=date(2023, 7, 21))
        assert _touched(folder) == ["A1.docx", "A1.md"]


def test_a_units_text_is_in_its_word_letter_as_typed(workspace, tmp_path) -> None:
    """Markup, tabs, line breaks, edge spaces and control characters in a unit's text: the
    Word letter holds it as text (control characters as spaces), in a package Word reads."""
    message = ' Tổng <b>số</b> & "đảng viên"\t(14.103)\nkhông khớp\x07 '
    with open_db(workspace) as con:
        con.execute("update findings set message = ? where finding_key = 'f1'", [message])
        write_letters(con, tmp_path, ReportSettings(), today=DAY)
    path = tmp_path / "thu-phan-hoi" / "A1.docx"
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
    texts = [p.text for p in Document(str(path)).paragraphs]
    said = ' Tổng <b>số</b> & "đảng viên"\t(14.103)\nkhông khớp  '
    assert any(said in text for text in texts), texts
    md = (tmp_path / "thu-phan-hoi" / "A1.md").read_text("utf-8")
    assert "\\<b\\>số\\</b\\>" in md


def test_kiem_tra_is_written_again_only_when_what_it_shows_changed(workspace, tmp_path) -> None:
    out = tmp_path / "out"
    with open_db(workspace) as con:
        paths = write_review_page(con, out, "r1")
        first = paths["review_page"].read_text("utf-8")
        assert "lần chạy r1" in first and 'data-key="f1" data-state="open"' in first
        _stamp(out)
        write_review_page(con, out, "r2")  # another run, nothing new
        assert _touched(out) == []
        assert paths["review_page"].read_text("utf-8") == first  # as run r1 wrote it

        accept(con, "f1", "Đơn vị xác nhận số liệu đúng", "thu")
        write_review_page(con, out, "r3")
        assert _touched(out) == ["kiem-tra.csv", "kiem-tra.html"]
        page = paths["review_page"].read_text("utf-8")
        assert "lần chạy r3" in page and 'data-key="f1" data-state="accepted"' in page
        assert "Đơn vị xác nhận số liệu đúng" in page
        with open(paths["review_csv"], encoding="utf-8-sig", newline="") as handle:
            rows = {row["Mã phát hiện"]: row for row in csv.DictReader(handle)}
        assert rows["f1"]["Ghi chú xử lý"] == "Đơn vị xác nhận số liệu đúng"

        # the Data Docs the page links to appear: written again, with the link
        _stamp(out)
        (out / "data-docs").mkdir()
        (out / "data-docs" / "index.html").write_text("<html></html>", encoding="utf-8")
        write_review_page(con, out, "r4")
        assert "kiem-tra.html" in _touched(out)
        assert 'href="data-docs/index.html"' in paths["review_page"].read_text("utf-8")

        # the CSV lost: both written again
        paths["review_csv"].unlink()
        write_review_page(con, out, "r5")
        assert paths["review_csv"].is_file()
        assert "lần chạy r5" in paths["review_page"].read_text("utf-8")
