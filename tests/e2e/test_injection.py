"""Unit names and notes are data, never code: template syntax, HTML and spreadsheet formulas
sent as names appear literally in every output and are never evaluated."""

from __future__ import annotations

import csv
import json
import re

import docx
import openpyxl
import pytest

from tonghop import pipeline
from tonghop.catalog import load_catalog
from tonghop.formatting import docx_text
from tonghop.forms import write_form
from tonghop.periods import PeriodRange
from tonghop.report.draft import render_report
from tonghop.settings import load_settings
from tonghop.trace import write_trace_page

from .markup import docx_structure, html_structure, md_plain, md_structure

NAMES = {
    "J1": "{{ 7*7 }}",
    "J2": "{% include '/etc/passwd' %}",
    "H1": "<script>alert('x')</script>",
    "F1": '=HYPERLINK("http://127.0.0.1/","bấm")',
    "F2": "+1+1",
    "F3": "@SUM(A1:A2)",
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("injection")
    _write_registry(root, {"OK1": "Chi bộ bình thường"} | NAMES)
    source = root / "src"
    source.mkdir()
    (source / "OK1.csv").write_text(
        "unit_code,period,indicator_code,value,note\n"
        "OK1,2023,members_total,12,{{ 7*7 }}\nOK1,2023,members_official,12,\n"
        "OK1,2023,members_probationary,0,\nOK1,2023,branches_total,0,\n",
        encoding="utf-8",
    )
    _, out = _collect_to_draft(root, trace=False)
    return root, out


def _write_registry(root, names: dict[str, str]) -> None:
    with open(root / "registry.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unit_code", "name", "sector", "form", "valid_from", "valid_to"])
        for code, name in names.items():
            writer.writerow([code, name, "agency", "chi_bo", "2015-01-01", ""])


def _collect_to_draft(root, trace: bool):
    """`root/src` collected, validated and consolidated with `root/registry.csv`, to a draft
    (with its trace appendix when `trace`) in `root/out`; the workspace and the output folder."""
    from tonghop.db import open_db
    from tonghop.trace import trace_context

    workspace, out = root / "ws", root / "out"
    period = PeriodRange.parse("2023")
    pipeline.load_registry(workspace, root / "registry.csv")
    collected = pipeline.collect_files(workspace, pipeline.read_source(str(root / "src")))
    findings = pipeline.validate_scope(workspace, load_catalog(), period, collected.batch_id, "x")
    context = pipeline.consolidate(workspace, load_catalog(), period)
    pipeline.write_findings(out, findings, collected.rejected)
    if trace:
        with open_db(workspace) as con:
            context["trace"] = trace_context(con, context)
    render_report(context, load_settings(None), out)
    if trace:
        write_trace_page(None, context, out)
    return workspace, out


def test_names_appear_literally_in_the_markdown_and_docx(outputs):
    _, out = outputs
    markdown = md_plain((out / "bao-cao.md").read_text(encoding="utf-8"))
    body = "\n".join(p.text for p in docx.Document(str(out / "bao-cao.docx")).paragraphs)
    for name in NAMES.values():
        assert name in markdown, name
        assert name in body, name
    assert "49" not in markdown.replace("14.103", "")  # {{ 7*7 }} was never evaluated
    assert "root:" not in markdown and "root:" not in body  # nothing was included


def test_html_escapes_every_name(outputs):
    _, out = outputs
    html = (out / "bao-cao.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(" in html
    assert "{{ 7*7 }}" in html


def test_findings_carry_names_as_plain_text(outputs):
    _, out = outputs
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    names = {f["unit_name"] for f in findings if f["unit_code"] in NAMES}
    assert names == set(NAMES.values())


def test_generated_forms_never_hold_a_formula(tmp_path):
    catalog = load_catalog()
    for code, name in NAMES.items():
        path = tmp_path / f"{code}.xlsx"
        write_form(
            path,
            {"unit_code": code, "name": name, "sector": "agency", "form": "chi_bo"},
            "2023",
            catalog,
        )
        sheet = openpyxl.load_workbook(path)["BaoCao"]
        cells = [c for row in sheet.iter_rows() for c in row if c.value == name]
        assert cells, name
        assert all(c.data_type == "s" for c in cells), name  # text, not a formula


def test_nothing_is_written_outside_the_workspace_and_output(outputs):
    root, _ = outputs
    written = {p.relative_to(root).parts[0] for p in root.rglob("*") if p.is_file()}
    assert written <= {"registry.csv", "src", "ws", "out"}
    archive = [p for p in (root / "ws" / "archive").rglob("*") if p.is_file()]
    assert archive and all(p.stat().st_mode & 0o222 == 0 for p in archive)  # write-once


# Text that Markdown, HTML or Word would read as structure, as the names of units that did not
# report (the draft's coverage note lists them), of a unit that reported (the trace page) and of
# one whose file, raw value and note are hostile too (the review page, kiem-tra.csv, its letter).
MARKUP = {
    "X01": "<img src=x onerror=alert(1)>",
    "X02": "![x](http://127.0.0.1/theo-doi.png)",
    "X03": "[bấm](javascript:alert(1))",
    "X04": "## Tiêu đề giả",
    "X05": "Chi bộ[^1] có chú thích",
    "X06": "Chi bộ \u27e6fn:cutoff_units\u27e7 giả",
    "X07": "1. Danh sách giả",
    "X08": "| ô | bảng |",
    "X09": "**đậm** _nghiêng_ `mã` ~~gạch~~",
    "X10": "<https://127.0.0.1/>",
    "X11": "> trích dẫn",
    "X12": "Dòng một\n# Dòng hai",
    "X13": "[tham chiếu]: http://127.0.0.1/",
    "X14": "\\[thoát\\] \\",
    "X15": "- mục <b>giả</b> &amp; &#60;i&#62;",
    "OK2": "# ![ảnh](http://127.0.0.1/a.png) <a href=javascript:1>x</a>",
    "S01": '=HYPERLINK("http://127.0.0.1/","bấm") [^2] <i>x</i>',
}
HOSTILE_FILE = "S01 [bấm](javascript:alert(1)) <img src=x onerror=1>.csv"
# A file named for X01 that holds OK2's values: held for review, its name in the finding.
HELD_FILE = "X01 ## <img src=x onerror=1> [bấm](javascript:alert(1)).csv"
HOSTILE_VALUE = "<b>12</b>[^1]"
HOSTILE_NOTE = "![x](http://127.0.0.1/n.png) <img src=x onerror=1>"
CONTROL = "Chi bộ\aĐoạn mới\fTrang mới\tcột\vdòng"
CLEAN = {code: f"Chi bộ số {i}" for i, code in enumerate(MARKUP, start=1)}
# Units the draft names: those that did not report or whose report is held (OK2 is counted).
LAYOUT = ("paragraphs", "page_breaks")  # of docx_structure: the rest is footnotes, links, ...
IN_DRAFT = {code: name for code, name in MARKUP.items() if code != "OK2"}
ROWS = ("members_total", "members_official", "members_probationary", "branches_total")


def _submission(code: str, total: str, note: str) -> str:
    values = {"members_total": total, "members_official": "12"}
    lines = ["unit_code,period,indicator_code,value,note"]
    for indicator in ROWS:
        lines.append(
            ",".join(
                _quoted(v) for v in (code, "2023", indicator, values.get(indicator, "0"), note)
            )
        )
    return "\n".join(lines) + "\n"


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _whole_run(root, names: dict[str, str], hostile: bool):
    """A run from a registry with these names to every output: draft, trace, review, letters."""
    root.mkdir()
    _write_registry(root, names)
    source = root / "src"
    source.mkdir()
    note = HOSTILE_NOTE if hostile else "ghi chú"
    (source / "OK2.csv").write_text(_submission("OK2", "12", note), encoding="utf-8")
    (source / (HOSTILE_FILE if hostile else "S01.csv")).write_text(
        _submission("S01", HOSTILE_VALUE if hostile else "mười hai", note), encoding="utf-8"
    )
    (source / (HELD_FILE if hostile else "X01 ban sao.csv")).write_text(
        _submission("OK2", "13", note), encoding="utf-8"
    )
    workspace, out = _collect_to_draft(root, trace=True)
    pipeline.write_review_outputs(workspace, out, "x", load_settings(None))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("markup")
    return _whole_run(root / "clean", CLEAN, False), _whole_run(root / "hostile", MARKUP, True)


def _shown(text: str) -> str:
    return " ".join(text.split())


def _as_markdown_shows(name: str) -> str:
    # A backslash before punctuation is read as Markdown's own escape (so that escaping twice
    # changes nothing): the punctuation shows, never structure, and that backslash does not.
    return _shown(re.sub(r"\\(?=[!-/:-@\[-`{-~])", "", name))


def test_markdown_draft_has_the_clean_runs_structure_and_shows_every_name(runs):
    clean, hostile = ((out / "bao-cao.md").read_text(encoding="utf-8") for out in runs)
    assert md_structure(hostile) == md_structure(clean)
    shown = _shown(md_plain(hostile))
    for name in IN_DRAFT.values():
        assert _as_markdown_shows(name) in shown, name


@pytest.mark.parametrize("page", ["bao-cao.html", "truy-vet.html", "kiem-tra.html"])
def test_html_pages_have_the_clean_runs_elements_and_show_every_name(runs, page):
    (tags, attributes, _), (hostile_tags, hostile_attributes, text) = (
        html_structure((out / page).read_text(encoding="utf-8")) for out in runs
    )
    assert hostile_tags == tags
    assert sorted(name for _, name, _ in hostile_attributes) == sorted(
        name for _, name, _ in attributes
    )
    assert not [a for a in hostile_attributes if "javascript" in a[2] or "127.0.0.1" in a[2]]
    shown = _shown(text)
    # The trace names the units that contributed; the draft and the review page the others.
    names = [MARKUP["OK2"]] if page == "truy-vet.html" else IN_DRAFT.values()
    for name in names:
        assert _shown(name) in shown, name


def test_word_draft_has_the_clean_runs_footnotes_and_shows_every_name(runs):
    clean, hostile = (out / "bao-cao.docx" for out in runs)
    assert _apart(docx_structure(hostile))[0] == _apart(docx_structure(clean))[0]
    body = _shown(" ".join(p.text for p in docx.Document(str(hostile)).paragraphs))
    for name in IN_DRAFT.values():
        assert _shown(docx_text(name)) in body, name


def test_control_characters_in_a_name_stop_nothing_and_make_no_paragraph(runs, tmp_path):
    clean, _ = runs
    out = _whole_run(tmp_path / "control", CLEAN | {"C01": CONTROL}, False)
    assert (
        _apart(docx_structure(out / "bao-cao.docx"))[1]
        == _apart(docx_structure(clean / "bao-cao.docx"))[1]
    )
    assert (out / "thu-phan-hoi" / "C01.docx").is_file()


def _apart(structure: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """A Word file's structure: what is not layout, and its layout (paragraphs, pages)."""
    return (
        {k: v for k, v in structure.items() if k not in LAYOUT},
        {k: structure[k] for k in LAYOUT},
    )


def test_letters_have_the_clean_runs_structure_and_show_the_raw_value(runs):
    clean, hostile = (out / "thu-phan-hoi" for out in runs)
    assert sorted(p.name for p in hostile.iterdir()) == sorted(p.name for p in clean.iterdir())
    letter = (hostile / "S01.md").read_text(encoding="utf-8")
    assert md_structure(letter) == md_structure((clean / "S01.md").read_text(encoding="utf-8"))
    shown = _shown(md_plain(letter))
    assert _shown(MARKUP["S01"]) in shown
    assert HOSTILE_VALUE in shown
    assert docx_structure(hostile / "S01.docx") == docx_structure(clean / "S01.docx")
    words = " ".join(p.text for p in docx.Document(str(hostile / "S01.docx")).paragraphs)
    assert MARKUP["S01"] in words and HOSTILE_VALUE in words


def test_review_csv_never_starts_a_cell_with_a_formula(runs):
    _, hostile = runs
    with open(hostile / "kiem-tra.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'" + MARKUP["S01"] in cells


def test_json_outputs_carry_the_text_as_it_was_sent(runs):
    _, hostile = runs
    findings = json.loads((hostile / "findings.json").read_text(encoding="utf-8"))
    assert {f["unit_name"] for f in findings if f["unit_code"] == "S01"} == {MARKUP["S01"]}
    assert any(HOSTILE_VALUE in json.dumps(f, ensure_ascii=False) for f in findings)
    # held: told to the unit whose values the file holds and to the unit its name names
    held = {f["unit_code"]: f for f in findings if f["rule_id"] == "file_held_identity"}
    assert set(held) == {"OK2", "X01"}
    assert all(f["file"] == HELD_FILE and HELD_FILE in f["message"] for f in held.values())
    json.loads((hostile / "rejected.json").read_text(encoding="utf-8"))
