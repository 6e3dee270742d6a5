"""The review page opens in a real headless Chromium and shows every finding; text from the
data is shown, never run (in the browser, in Markdown letters, in a spreadsheet)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH

from tonghop.db import open_db
from tonghop.letters import _blank_letter, _LetterPackage, write_docx, write_letters
from tonghop.review import correct, reject
from tonghop.review_page import write_review_page
from tonghop.settings import ReportSettings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# `.ci/run` installs it (apt-get install -y chromium); in CI a missing browser fails the test.
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Chromium not installed: apt-get install -y chromium",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVIL_NAME = '<img src=x onerror="document.title=\'pwned\'">=HYPERLINK("http://x")'

FINDINGS = [
    # key, unit, rule, kind, severity, message, indicators, values, suspect, suggested
    ("f1", "P1", "members_total_sum", "sum", "error",
     "Tổng số đảng viên (1.250) khác đảng viên chính thức (1.052) cộng dự bị (98) = 1.150.",
     ["members_total", "members_official", "members_probationary"],
     '{"members_total": 1250, "members_official": 1052, "members_probationary": 98}',
     "members_total", 1150.0),
    ("f2", "P1", "bounds_members_admitted", "bounds", "error",
     "Kết nạp đảng viên mới = -3 nằm ngoài miền cho phép.", ["members_admitted"],
     '{"members_admitted": -3}', None, None),
    ("f3", "P2", "tasks_completed_le_assigned", "part_le_whole", "error",
     "Số nhiệm vụ hoàn thành (238) lớn hơn số nhiệm vụ được giao (231).",
     ["tasks_completed", "tasks_assigned"], '{"tasks_completed": 238, "tasks_assigned": 231}',
     None, None),
    ("f4", "P3", "incomplete_ge_disciplined", "policy", "warning",
     "=1+1 Số đảng viên không hoàn thành nhiệm vụ ít hơn số bị kỷ luật.",
     ["members_rated_incomplete"], '{"members_rated_incomplete": 0}', None, None),
]  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, Path]:
    workspace = tmp_path_factory.mktemp("page-ws")
    out = tmp_path_factory.mktemp("page-out")
    with open_db(workspace) as con:
        con.executemany(
            "insert into registry_units values (?, ?, 'agency', 'dang_bo', ?, null)",
            [
                ["P1", "Đảng bộ Sở Tài chính", date(2010, 1, 1)],
                ["P2", EVIL_NAME, date(2010, 1, 1)],
                ["P3", "Chi bộ Hội Nông dân", date(2010, 1, 1)],
            ],
        )
        for unit in ("P1", "P2", "P3"):
            con.execute(
                "insert into submissions values (?, ?, ?, '2024', 'csv', ?, ?, 'b', 1)",
                [f"s-{unit}", f"h-{unit}", unit, f"{unit}.csv", datetime(2024, 7, 1)],
            )
        con.execute(
            "insert into submitted_values values ('s-P1', 'members_admitted', '-3', -3, "
            "'dòng 5', null)"
        )
        con.executemany(
            "insert into findings (finding_key, run_id, unit_code, period, submission_id, "
            "rule_id, kind, severity, message, indicators, observed, suspect, suggested_value, "
            "file_name, location) values (?, 'r1', ?, '2024', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [k, u, f"s-{u}", r, kind, sev, msg, inds, obs, sus, sug, f"{u}.csv", "dòng 5"]
                for k, u, r, kind, sev, msg, inds, obs, sus, sug in FINDINGS
            ],
        )
        correct(con, "f2", 3, "Gõ nhầm dấu trừ", "điện thoại với đơn vị", None, "thu")
        reject(con, "f3", "Đề nghị nộp lại biểu", "thu")
        write_review_page(con, out, "r1")
        write_letters(con, out, ReportSettings(place="Thanh Hóa"), today=date(2024, 7, 10))
    return workspace, out


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(tmp_path))
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@needs_chromium
def test_page_shows_every_finding_in_headless_chromium(page, tmp_path: Path) -> None:
    _, out = page
    url = (out / "kiem-tra.html").resolve().as_uri()
    dom = _chromium(["--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    for key, _unit, rule, *_rest in FINDINGS:
        assert f'id="finding-{key}"' in html and rule in html
    assert "Đảng bộ Sở Tài chính" in html
    assert "Tổng số đảng viên (1.250) khác đảng viên chính thức (1.052)" in html
    assert "giá trị gợi ý: <strong>1.150</strong>" in html  # suspect field and suggestion
    assert 'data-key="f2" data-state="corrected"' in html
    assert 'data-key="f3" data-state="rejected"' in html
    assert "điện thoại với đơn vị" in html
    # The unit's name is shown as text: no image element was created, the title is untouched.
    assert "<img" not in html and "&lt;img src=x" in html
    assert "<title>Kết quả kiểm tra số liệu: lần chạy r1</title>" in html

    shot = tmp_path / "kiem-tra.png"
    result = _chromium([f"--screenshot={shot}", "--window-size=1280,2000", url], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_each_finding_shows_its_own_review_history(page) -> None:
    """The actions on every finding are read in one query: each shows under its own finding."""
    _, out = page
    html = (out / "kiem-tra.html").read_text(encoding="utf-8")
    blocks = {
        part.split('"', 1)[0]: part for part in html.split('id="finding-')[1:]
    }  # each finding's block, up to the next one
    assert "hiệu chỉnh" in blocks["f2"] and "Gõ nhầm dấu trừ" in blocks["f2"]
    assert "(nguồn: điện thoại với đơn vị)" in blocks["f2"]
    assert "yêu cầu nộp lại" in blocks["f3"] and "Đề nghị nộp lại biểu" in blocks["f3"]
    assert "Gõ nhầm dấu trừ" not in blocks["f3"]
    for key in ("f1", "f4"):
        assert 'class="history"' not in blocks[key].split("</section>")[0]


def test_csv_export_neutralises_formulas(page) -> None:
    _, out = page
    with open(out / "kiem-tra.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["Mã phát hiện"] for r in rows) == ["f1", "f2", "f3", "f4"]
    by_key = {r["Mã phát hiện"]: r for r in rows}
    assert by_key["f3"]["Tên đơn vị"] == EVIL_NAME  # starts with "<": read as text anyway
    assert by_key["f4"]["Nội dung"].startswith("'=1+1")
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_letters_for_units_with_open_or_rejected_findings(page) -> None:
    _, out = page
    folder = out / "thu-phan-hoi"
    assert sorted(p.name for p in folder.iterdir()) == [
        "P1.docx", "P1.md", "P2.docx", "P2.md", "P3.docx", "P3.md"
    ]  # fmt: skip
    p1 = (folder / "P1.md").read_text(encoding="utf-8")
    assert "Kính gửi: Đảng bộ Sở Tài chính (mã P1)" in p1
    assert "Thanh Hóa, ngày 10 tháng 7 năm 2024" in p1
    assert "Tổng số đảng viên: 1.250" in p1 and "(có thể là 1.150)" in p1
    assert "P1.csv, dòng 5" in p1
    assert "-3" not in p1  # corrected: nothing for the unit to do
    p2 = (folder / "P2.md").read_text(encoding="utf-8")
    assert "Yêu cầu của Văn phòng: Đề nghị nộp lại biểu." in p2
    assert "\\<img src=x" in p2  # escaped: a Markdown viewer shows it as text
    p3 = (folder / "P3.md").read_text(encoding="utf-8")
    assert "kiểm tra lại" in p3 and "sửa và gửi lại" not in p3
    doc = Document(str(folder / "P1.docx"))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Tổng số đảng viên: 1.250" in text
    fonts = {r.font.name for p in doc.paragraphs for r in p.runs}
    assert fonts == {"Times New Roman"}
    assert doc.styles["Normal"].font.name == "Times New Roman"
    assert round(doc.sections[0].page_width.mm) == 210
    # One Word document is emptied between letters: each holds its own unit's letter only.
    for code, before in (("P2", "P1"), ("P3", "P2")):
        later = Document(str(folder / f"{code}.docx"))
        text = "\n".join(p.text for p in later.paragraphs)
        assert f"(mã {code})" in text and f"(mã {before})" not in text
        assert text.count("Kết quả kiểm tra số liệu báo cáo") == 1
        assert round(later.sections[0].page_width.mm) == 210


def test_each_letter_holds_the_parts_python_docx_would_save(tmp_path: Path) -> None:
    """A letter is saved from a package made once without its body: what each file holds, part
    for part, is what python-docx's own save of the same document gives."""

    def parts(data: bytes) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return {info.filename: z.read(info) for info in z.infolist()}

    settings = ReportSettings()
    letters = _LetterPackage(_blank_letter(settings))
    bodies = set()
    for code, name in (("P1", "Đảng bộ Sở Tài chính"), ("P2", "Chi bộ Trường Tiểu học")):
        unit = {
            "unit_code": code,
            "name": name,
            "periods": ["2024"],
            "must_fix": [],
            "to_check": [],
        }
        path = write_docx(
            {"unit": unit, "today": date(2024, 7, 10)}, settings, tmp_path / code, letters
        )
        whole = io.BytesIO()
        letters.doc.save(whole)
        assert parts(path.read_bytes()) == parts(whole.getvalue())
        text = "\n".join(p.text for p in Document(str(path)).paragraphs)
        assert f"Kính gửi: {name} (mã {code})" in text
        bodies.add(parts(path.read_bytes())["word/document.xml"])
    assert len(bodies) == 2


def test_a_letters_paragraphs_are_what_python_docx_writes_for_each(tmp_path: Path) -> None:
    """Each kind of paragraph is built once and copied: the body is, byte for byte, the one
    python-docx gives when every paragraph is added and styled on its own (tabs, line breaks
    and edge spaces in the text included)."""
    settings = ReportSettings()
    letters, expected = _LetterPackage(_blank_letter(settings)), _blank_letter(settings)
    paragraphs = [
        ("Đảng ủy Khối", True, False, True),
        ("Thanh Hóa, ngày 10 tháng 7 năm 2024", False, True, True),
        ("1. Tổng số đảng viên\t(14.103)\nkhông khớp ", False, False, False),
        (" Nơi nhận: như trên.", False, True, False),
        ("Đảng ủy Khối lần hai", True, False, True),
        ("", False, False, False),
        ("2. Số liệu thứ hai", False, False, False),
    ]
    for text, bold, italic, center in paragraphs:
        letters.add_paragraph(text, bold, italic, center)
        p = expected.add_paragraph()
        run = p.add_run(text)
        run.bold, run.italic = bold, italic
        run.font.name = "Times New Roman"
        if center:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    assert letters.doc.part.blob == expected.part.blob
    letters.save(tmp_path / "letter.docx")
    saved = Document(str(tmp_path / "letter.docx")).paragraphs
    assert [p.text for p in saved] == [text for text, *_ in paragraphs]
    assert [(p.runs[0].bold, p.runs[0].italic) for p in saved] == [
        (bold, italic) for _, bold, italic, _ in paragraphs
    ]


def test_letters_are_written_again_only_when_they_change(page, tmp_path: Path) -> None:
    workspace, _ = page
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    out = tmp_path / "out"
    day = date(2024, 7, 10)

    def written(paths: list[Path]) -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in paths}

    with open_db(copy) as con:
        first = written(write_letters(con, out, ReportSettings(), today=day))
        # P1 (two errors, one corrected), P2 (rejected), P3 (a warning): a .md and a .docx each
        assert sorted(first) == [f"P{i}.{s}" for i in (1, 2, 3) for s in ("docx", "md")]
        assert written(write_letters(con, out, ReportSettings(), today=day)) == first

        reject(con, "f1", "Đề nghị ghi lại tổng số", "thu")  # P1's letter changes, no other
        second = written(write_letters(con, out, ReportSettings(), today=day))
        changed = {name for name in first if second[name] != first[name]}
        assert changed == {"P1.md", "P1.docx"}
        text = " ".join(p.text for p in Document(str(out / "thu-phan-hoi" / "P1.docx")).paragraphs)
        assert "Yêu cầu của Văn phòng: Đề nghị ghi lại tổng số." in text

        (out / "thu-phan-hoi" / "P3.docx").unlink()  # a letter gone is written again
        third = written(write_letters(con, out, ReportSettings(), today=day))
        assert {name for name in third if third[name] != second.get(name)} == {"P3.md", "P3.docx"}

        # Settings and the date are in every letter: all of them are written again
        wider = ReportSettings(margins_mm={"top": 20, "bottom": 20, "left": 35, "right": 15})
        fourth = written(write_letters(con, out, wider, today=day))
        assert all(fourth[name] != third[name] for name in fourth)
        fifth = written(write_letters(con, out, wider, today=date(2024, 7, 11)))
        assert all(fifth[name] != fourth[name] for name in fifth)
