"""The bad-input corpus: files as a hundred offices with old software send them.

`build(folder)` writes a registry, a source folder of bad files beside clean ones, and returns
each case with the outcome it must give. `python tests/data/bad/make_corpus.py DIR` writes it
to DIR to look at. Files that can be made are made here (a zip bomb, XXE, legacy encodings)
rather than committed; pipes, sockets and devices are made by `build` itself, in its folder.

Over 500 lines: the corpus is one list of cases, each made beside the outcome it must give.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import stat
import sys
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook

from tonghop.catalog import load_catalog
from tonghop.forms import write_form
from tonghop.intake import _TCVN3

PERIOD = "2023"
# Units of state enterprises, whose forms carry amounts in tỷ đồng (decimals allowed).
SOE_UNITS = {"B50", "B51", "B52", "B53", "B58", "C01", "C02", "C04"}
# The units of the fresh set (`_fresh_habits`), written after the rest were passing.
FRESH_UNITS = [f"C{i:02d}" for i in range(1, 31)]
HEADER = ["unit_code", "period", "indicator_code", "value", "note"]
NOTE = "Đã sáp nhập chi bộ Hòa Bình"


@dataclass
class Case:
    """One bad input and what tonghop must say about it."""

    name: str
    files: list[str]
    rejected: str | None = None  # a substring of the rejection reason
    finding: tuple[str, str] | None = None  # (rule_id, unit_code)
    warning: str | None = None  # a substring of a file-reading warning finding
    counted: str | None = None  # the unit whose data must still be consolidated
    # indicator -> the number the clerk meant, as stored (None: refused, never guessed)
    stored: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Corpus:
    registry: Path
    source: Path
    cases: list[Case]
    clean_members: dict[str, int] = field(default_factory=dict)  # unit -> members_total


def clean_values(i: int) -> dict[str, float]:
    """A consistent set of values for unit number i (a đảng bộ cơ sở of the agency sector)."""
    members = 40 + i
    probationary = 2 + i % 3
    rated = members - 1
    excellent = 5
    incomplete = 1
    complete = 3
    good = rated - excellent - complete - incomplete
    return {
        "branches_total": 3,
        "branches_meeting_regularly": 3,
        "members_total": members,
        "members_official": members - probationary,
        "members_probationary": probationary,
        "members_admitted": 2,
        "members_rated": rated,
        "members_rated_excellent": excellent,
        "members_rated_good": good,
        "members_rated_complete": complete,
        "members_rated_incomplete": incomplete,
        "tasks_assigned": 100,
        "tasks_completed": 98,
    }


def _rows(unit: str, values: dict, period: str = PERIOD, note: str = "") -> list[list]:
    return [[unit, period, k, v, note] for k, v in values.items()]


def _write_csv(
    path: Path,
    rows: list[list],
    delimiter: str = ",",
    encoding: str = "utf-8",
    newline: str = "\n",
    header: list[str] = HEADER,
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))


def _cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese software wrote it: shaped vowels precomposed, tones combining."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = []
    for ch in unicodedata.normalize("NFC", text):
        parts = unicodedata.normalize("NFD", ch)
        shaped = unicodedata.normalize("NFC", "".join(p for p in parts if p not in tones))
        out.append(shaped + "".join(p for p in parts if p in tones))
    return "".join(out).encode("cp1258")


def _tcvn3(text: str) -> bytes:
    back = {u: t for t, u in _TCVN3.items()}
    return "".join(back.get(ch, ch) for ch in unicodedata.normalize("NFC", text)).encode("latin-1")


# The note below as VNI-Windows writes it: plain vowels followed by mark bytes ("a" + "ù" for
# "á", "a" + "ä" for "ậ"), "Ñ" for "Đ".
_VNI_NOTE = "Ñaõ saùp nhaäp chi boä Hoøa Bình".encode("latin-1")


def _vni(text: str) -> bytes:
    return (
        text.encode("latin-1", errors="replace").replace(b"?", b"")
        if NOTE not in text
        else (text.replace(NOTE, "\x00").encode("latin-1").replace(b"\x00", _VNI_NOTE))
    )


def _form(path: Path, unit: str, values: dict, catalog) -> None:
    write_form(
        path,
        {"unit_code": unit, "name": f"Đảng bộ thử {unit}", "sector": "agency", "form": "dang_bo"},
        PERIOD,
        catalog,
        values,
    )


def _cell_of(path: Path, code: str) -> str:
    sheet = load_workbook(path)["BaoCao"]
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value == code:
                return f"E{cell.row}"
    raise KeyError(code)


def _rewrite_xlsx(path: Path, edit) -> None:  # noqa: ANN001 - edit(name, bytes) -> bytes
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in parts:
            target.writestr(info.filename, edit(info.filename, data))


def build(folder: Path) -> Corpus:
    """Write the corpus below `folder` and return its cases."""
    catalog = load_catalog()
    source = folder / "src"
    source.mkdir(parents=True)
    units = [f"B{i:02d}" for i in range(1, 71)] + FRESH_UNITS
    registry = folder / "registry.csv"
    with open(registry, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unit_code", "name", "sector", "form", "valid_from", "valid_to"])
        for u in units:
            valid_to = "2021-12-31" if u == "B41" else ""
            sector = "soe" if u in SOE_UNITS else "agency"
            writer.writerow([u, f"Đảng bộ thử {u}", sector, "dang_bo", "2015-01-01", valid_to])
    cases: list[Case] = []
    counted: dict[str, int] = {}

    def good(unit: str, **overrides) -> dict:
        values = clean_values(int(unit[1:])) | overrides
        return values

    def add(case: Case) -> None:
        """Record a case; a counted unit is counted with its clean members."""
        cases.append(case)
        if case.counted:
            counted[case.counted] = int(good(case.counted)["members_total"])

    def csv_case(  # noqa: PLR0913 - one keyword per outcome of a case
        name,
        unit,
        values,
        rejected=None,
        finding=None,
        warning=None,
        count=False,
        stored=None,
        members=None,
        **kw,
    ) -> None:
        _write_csv(source / name, _rows(unit, values), **kw)
        case = Case(name, [name], rejected, finding, warning, unit if count else None)
        cases.append(case)
        case.stored = stored or {}
        if count:
            counted[unit] = members or int(values["members_total"])

    # Good files delivered alongside the bad ones.
    for unit in ("B01", "B02", "B03", "B04", "B05"):
        csv_case(f"{unit}.csv", unit, good(unit), count=True)

    (source / "empty.csv").write_bytes(b"")
    cases.append(Case("empty", ["empty.csv"], rejected="rỗng"))
    (source / "blank.csv").write_bytes(b"\n  \n\n")
    cases.append(Case("blank", ["blank.csv"], rejected="rỗng"))
    (source / "header-only.csv").write_text(",".join(HEADER) + "\n", encoding="utf-8")
    cases.append(Case("header only", ["header-only.csv"], rejected="không có dòng số liệu"))
    (source / "B06.txt").write_text("unit_code,period\nB06,2023\n", encoding="utf-8")
    cases.append(Case("wrong extension", ["B06.txt"], rejected="không được hỗ trợ"))
    _form(folder / "tmp.xlsx", "B07", good("B07"), catalog)
    (source / "B07.csv").write_bytes((folder / "tmp.xlsx").read_bytes())
    cases.append(Case("excel named .csv", ["B07.csv"], rejected="mang đuôi .csv"))
    (source / "corrupt.xlsx").write_bytes(os.urandom(4096))
    cases.append(Case("corrupt zip", ["corrupt.xlsx"], rejected="không phải tệp Excel"))
    (source / "truncated.xlsx").write_bytes((folder / "tmp.xlsx").read_bytes()[:3000])
    cases.append(Case("truncated xlsx", ["truncated.xlsx"], rejected="không phải tệp Excel"))

    bomb = source / "bomb.xlsx"
    _form(bomb, "B08", good("B08"), catalog)
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"<sst>" + b" " * 60_000_000 + b"</sst>")
    cases.append(Case("zip bomb", ["bomb.xlsx"], rejected="bom nén"))

    xxe = source / "xxe.xlsx"
    _form(xxe, "B09", good("B09"), catalog)
    entity = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    _rewrite_xlsx(
        xxe, lambda n, d: entity + d.split(b"?>", 1)[-1] if n == "xl/worksheets/sheet1.xml" else d
    )
    cases.append(Case("XXE", ["xxe.xlsx"], rejected="XXE"))

    _form(source / "B10.xlsm", "B10", good("B10"), catalog)
    cases.append(Case("macro-enabled .xlsm", ["B10.xlsm"], rejected="macro"))
    vba = source / "B11.xlsx"
    _form(vba, "B11", good("B11"), catalog)
    with zipfile.ZipFile(vba, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\x00" * 512)
    cases.append(Case("VBA inside .xlsx", ["B11.xlsx"], rejected="macro"))
    (source / "B12.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2048))
    cases.append(Case("password-protected", ["B12.xlsx"], rejected="mật khẩu"))
    (source / "B13.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2048))
    cases.append(Case("old .xls", ["B13.xls"], rejected=".xls"))

    renamed = source / "B14.xlsx"
    _form(renamed, "B14", good("B14"), catalog)
    workbook = load_workbook(renamed)
    workbook["BaoCao"].title = "Sheet1"
    workbook.save(renamed)
    cases.append(Case("renamed sheet", ["B14.xlsx"], warning="đổi tên", counted="B14"))
    counted["B14"] = int(good("B14")["members_total"])

    reordered = source / "B15.xlsx"
    _form(reordered, "B15", good("B15"), catalog)
    workbook = load_workbook(reordered)
    sheet = workbook["BaoCao"]
    first = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 2).value == "Mã chỉ tiêu")
    for r in range(first, sheet.max_row + 1):  # swap the Giá trị and Ghi chú columns
        value, note = sheet.cell(r, 5), sheet.cell(r, 6)
        value.value, note.value = note.value, value.value
    workbook.save(reordered)
    cases.append(Case("reordered columns", ["B15.xlsx"], counted="B15"))
    counted["B15"] = int(good("B15")["members_total"])

    for unit, formula in (("B16", "=1+1"), ("B17", '=HYPERLINK("http://127.0.0.1/x","5")')):
        path = source / f"{unit}.xlsx"
        _form(path, unit, good(unit), catalog)
        workbook = load_workbook(path)
        workbook["BaoCao"][_cell_of(path, "members_admitted")] = formula
        workbook.save(path)
        cases.append(
            Case(
                f"formula {formula}",
                [path.name],
                finding=("value_not_number", unit),
                warning="công thức",
            )
        )

    csv_case(
        "B18.csv", "B18", good("B18", members_admitted="12a"), finding=("value_not_number", "B18")
    )
    csv_case(
        "B19.csv", "B19", good("B19", members_admitted="mười"), finding=("value_not_number", "B19")
    )

    text_cell = source / "B20.xlsx"
    values = good(
        "B20",
        members_total=1117,
        members_official=1100,
        members_probationary=17,
        members_rated=1000,
        members_rated_good=991,
    )
    _form(text_cell, "B20", values, catalog)
    workbook = load_workbook(text_cell)
    cell = workbook["BaoCao"][_cell_of(text_cell, "members_total")]
    cell.value, cell.data_type = "1.117", "s"
    workbook.save(text_cell)
    cases.append(Case("'1.117' in a text cell", ["B20.xlsx"], counted="B20"))
    counted["B20"] = 1117

    values = good("B21")
    pct = round(
        100
        * (values["members_rated_excellent"] + values["members_rated_good"])
        / values["members_rated"],
        2,
    )
    csv_case(
        "B21.csv",
        "B21",
        good("B21", members_rated_good_pct=f"{pct:.2f}".replace(".", ",")),
        count=True,
    )
    # a count is whole: "1,500" can only be one thousand five hundred
    csv_case(
        "B22.csv",
        "B22",
        good("B22", members_admitted="1,500"),
        warning="được đọc là 1500",
        count=True,
        stored={"members_admitted": 1500.0},
    )
    csv_case(
        "B23.csv",
        "B23",
        good("B23", members_admitted="1.5"),
        finding=("bounds_members_admitted", "B23"),
    )
    csv_case(
        "B24.csv",
        "B24",
        good("B24", members_admitted=-3),
        finding=("bounds_members_admitted", "B24"),
    )
    csv_case(
        "B25.csv",
        "B25",
        good("B25", members_admitted=2.5),
        finding=("bounds_members_admitted", "B25"),
    )
    csv_case(
        "B26.csv", "B26", good("B26", members_admitted="NaN"), finding=("value_not_number", "B26")
    )
    csv_case(
        "B27.csv", "B27", good("B27", members_admitted="inf"), finding=("value_not_number", "B27")
    )
    csv_case(
        "B28.csv",
        "B28",
        good("B28", members_admitted="1e308"),
        finding=("value_not_number", "B28"),
        warning="quá lớn",
    )

    dated = source / "B29.xlsx"
    _form(dated, "B29", good("B29"), catalog)
    workbook = load_workbook(dated)
    import datetime as dt

    workbook["BaoCao"][_cell_of(dated, "members_admitted")] = dt.datetime(2023, 1, 5)
    workbook.save(dated)
    cases.append(Case("date in a number cell", ["B29.xlsx"], finding=("value_not_number", "B29")))

    csv_case("B30.csv", "B30", good("B30"), delimiter=";", count=True)
    _write_csv(source / "B31.csv", _rows("B31", good("B31")), encoding="utf-8-sig")
    cases.append(Case("UTF-8 with BOM", ["B31.csv"], counted="B31"))
    counted["B31"] = int(good("B31")["members_total"])
    csv_case("B32.csv", "B32", good("B32"), newline="\r\n", count=True)

    note = NOTE
    for unit, encode, label in (
        ("B33", _cp1258, "Windows-1258"),
        ("B34", _tcvn3, "TCVN3"),
        ("B35", _vni, "VNI"),
    ):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(_rows(unit, good(unit), note=note))
        (source / f"{unit}.csv").write_bytes(encode(buffer.getvalue()))
        cases.append(Case(f"legacy encoding {label}", [f"{unit}.csv"], warning=label, counted=unit))
        counted[unit] = int(good(unit)["members_total"])
    _write_csv(
        source / "B36.csv", _rows("B36", good("B36"), note=unicodedata.normalize("NFD", note))
    )
    cases.append(Case("NFD-decomposed text", ["B36.csv"], counted="B36"))
    counted["B36"] = int(good("B36")["members_total"])

    csv_case("ZZ99.csv", "ZZ99", good("B37"), finding=("unit_unknown", "ZZ99"))
    _write_csv(
        source / "B38.csv", _rows("B38", good("B38")) + [["B38", PERIOD, "members_totl", 5, ""]]
    )
    cases.append(Case("unknown indicator", ["B38.csv"], finding=("indicator_unknown", "B38")))
    for unit, period in (("B39", "2023/H1"), ("B40", "H1-2023")):
        _write_csv(source / f"{unit}.csv", _rows(unit, good(unit), period=period))
        cases.append(
            Case(f"malformed period {period}", [f"{unit}.csv"], finding=("period_malformed", unit))
        )
    csv_case("B41.csv", "B41", good("B41"), finding=("unit_not_active", "B41"))
    csv_case("B42.csv", "B42", good("B42"), count=True)
    (source / "B42-ban-sao.csv").write_bytes((source / "B42.csv").read_bytes())
    cases.append(
        Case("the same file twice", ["B42-ban-sao.csv"], finding=("duplicate_file", "B42"))
    )
    _write_csv(source / "B43a.csv", _rows("B43", good("B43")))
    _write_csv(source / "B43b.csv", _rows("B43", good("B43", members_admitted=3)))
    cases.append(
        Case(
            "two submissions in one batch",
            ["B43a.csv", "B43b.csv"],
            finding=("duplicate_submission", "B43"),
        )
    )
    _write_csv(
        source / "B44.csv", _rows("B44", good("B44")) + [["B44", PERIOD, "members_admitted", 9, ""]]
    )
    cases.append(
        Case("an indicator twice in one file", ["B44.csv"], finding=("duplicate_value", "B44"))
    )
    (source / "B45-lien-ket.csv").symlink_to("/etc/passwd")
    cases.append(Case("symbolic link", ["B45-lien-ket.csv"], rejected="liên kết tượng trưng"))
    (source / "B46.csv").write_bytes(
        b"unit_code,period,indicator_code,value\n" + b"B46,2023,members_total,1\n" * 60_000
    )
    cases.append(Case("larger than the limit", ["B46.csv"], rejected="vượt giới hạn"))
    _write_csv(
        source / "B47.csv",
        _rows("B47", good("B47")),
        delimiter=";",
        header=["ma_don_vi", "ky", "chi_tieu", "gia_tri", "ghi_chu"],
    )
    cases.append(Case("renamed CSV columns", ["B47.csv"], rejected="thiếu cột"))
    csv_case(
        "B48.csv",
        "B48",
        good("B48", members_total=55, members_official=40, members_probationary=5),
        finding=("members_total_sum", "B48"),
    )
    _clerks_numbers(source, catalog, add, csv_case, good)
    _files_that_stop_runs(source, catalog, add, good)
    _files_that_say_who_they_are(source, catalog, add, good)
    _fresh_habits(source, catalog, add, csv_case, good)
    (folder / "tmp.xlsx").unlink()
    return Corpus(registry, source, cases, counted)


def _clerks_numbers(source: Path, catalog, add, csv_case, good) -> None:  # noqa: ANN001
    """Numbers as Vietnamese clerks write them, in CSV and in Excel cells (issue 28, 1)."""
    # A count written with thousands dots, in every cell of the sums: 1049 members.
    members, probationary = 1049, 2 + 49 % 3
    rated = members - 1
    dotted = {
        "members_total": "1.049",
        "members_official": f"1.{members - probationary - 1000:03d}",
        "members_rated": f"1.{rated - 1000:03d}",
        "members_rated_good": f"1.{rated - 5 - 3 - 1 - 1000:03d}",
    }
    csv_case(
        "B49.csv",
        "B49",
        good("B49", **dotted),
        count=True,
        stored={"members_total": 1049.0, "members_official": 1046.0},
        members=members,
    )

    # An amount allows decimals: "1.976" is 1976 or 1,976, never guessed; the rest stays in.
    csv_case(
        "B50.csv",
        "B50",
        good("B50", revenue_bn_vnd="1.976"),
        finding=("value_not_number", "B50"),
        warning="không rõ là 1976",
        stored={"revenue_bn_vnd": None, "members_total": 90.0},
    )
    spelled = {
        "revenue_bn_vnd": "1.500.050,30",
        "state_budget_paid_bn_vnd": "122.235,8",
        "avg_income_mn_vnd_month": "491,5",
        "employees": "1 000",
    }
    csv_case(
        "B51.csv",
        "B51",
        good("B51", **spelled),
        count=True,
        stored={
            "revenue_bn_vnd": 1500050.30,
            "state_budget_paid_bn_vnd": 122235.8,
            "avg_income_mn_vnd_month": 491.5,
            "employees": 1000.0,
        },
    )
    # Unquoted commas: the csv module cuts each value in two cells.
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([HEADER, *_rows("B52", good("B52"))])
    text = buffer.getvalue() + "B52,2023,revenue_bn_vnd,1,532,\nB52,2023,employees,1,532,\n"
    (source / "B52.csv").write_text(text, encoding="utf-8")
    add(
        Case(
            "unquoted '1,532'",
            ["B52.csv"],
            finding=("value_not_number", "B52"),
            warning="bị tách thành nhiều ô",
            stored={"revenue_bn_vnd": None, "employees": 1532.0, "members_total": 92.0},
        )
    )
    csv_case(
        "B53.csv",
        "B53",
        good("B53", revenue_bn_vnd="1,500.5"),
        warning="cách viết tiếng Anh",
        count=True,
        stored={"revenue_bn_vnd": 1500.5},
    )

    for unit, error in (("B54", "#REF!"), ("B55", "#DIV/0!")):
        path = source / f"{unit}.xlsx"
        _form(path, unit, good(unit), catalog)
        workbook = load_workbook(path)
        workbook["BaoCao"][_cell_of(path, "members_admitted")] = error  # an error cell
        workbook.save(path)
        add(
            Case(
                f"Excel error {error}",
                [path.name],
                finding=("value_not_number", unit),
                warning=f"lỗi Excel '{error}'",
                stored={"members_admitted": None, "members_total": 40.0 + int(unit[1:])},
            )
        )

    # The sheet copied and the copy filled: both filled is refused, a blank original is not.
    stale = source / "B56.xlsx"
    _form(stale, "B56", good("B56", members_total=10, members_official=8), catalog)
    workbook = load_workbook(stale)
    copy = workbook.copy_worksheet(workbook["BaoCao"])
    copy.title = "BaoCao (2)"
    copy[_cell_of(stale, "members_total")] = 96
    workbook.save(stale)
    add(Case("two filled copies of the sheet", ["B56.xlsx"], rejected="'BaoCao (2)'"))
    fresh = source / "B57.xlsx"
    _form(fresh, "B57", {}, catalog)
    workbook = load_workbook(fresh)
    copy = workbook.copy_worksheet(workbook["BaoCao"])
    copy.title = "BaoCao (2)"
    for code, value in good("B57").items():
        copy[_cell_of(fresh, code)] = value
    workbook.save(fresh)
    add(
        Case("the copy filled, the original blank", ["B57.xlsx"], warning="'BaoCao'", counted="B57")
    )

    # A number cell keeps its number; a text cell is read as written.
    typed = source / "B58.xlsx"
    _form(typed, "B58", good("B58", revenue_bn_vnd=1.976), catalog)
    workbook = load_workbook(typed)
    workbook["BaoCao"][_cell_of(typed, "state_budget_paid_bn_vnd")] = "1.976"
    workbook.save(typed)
    add(
        Case(
            "1.976 as a number and as text",
            ["B58.xlsx"],
            warning="không rõ là 1976",
            stored={"revenue_bn_vnd": 1.976, "state_budget_paid_bn_vnd": None},
        )
    )
    text_count = source / "B59.xlsx"
    _form(text_count, "B59", good("B59"), catalog)
    workbook = load_workbook(text_count)
    workbook["BaoCao"][_cell_of(text_count, "members_admitted")].value = "2.000"
    workbook.save(text_count)
    add(
        Case(
            "'2.000' in a text cell",
            ["B59.xlsx"],
            stored={"members_admitted": 2000.0},
            counted="B59",
        )
    )


def write_deep(root: Path, folders: list[str], name: str, data: bytes) -> str:
    """Write `data` as `name` below nested `folders` of `root`, each made relative to the one
    before (a path past PATH_MAX cannot be made in one call); its path relative to `root`."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for folder in folders:
            os.mkdir(folder, dir_fd=fd)
            inner = os.open(folder, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        with open(os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as handle:
            handle.write(data)
    finally:
        os.close(fd)
    return "/".join([*folders, name])


def _lie_about_sizes(path: Path, padding: bytes) -> None:
    """Pad the form's sheet with `padding`, then declare its inflated size 1,000 bytes in
    both zip headers: a bomb that the central directory does not show."""
    import struct

    sheet = "xl/worksheets/sheet1.xml"
    _rewrite_xlsx(path, lambda n, d: d + padding if n == sheet else d)
    data = bytearray(path.read_bytes())
    for signature, size_at, name_len_at, name_at in (
        (b"PK\x01\x02", 24, 28, 46),
        (b"PK\x03\x04", 22, 26, 30),
    ):
        at = data.find(signature)
        while at != -1:
            (length,) = struct.unpack("<H", data[at + name_len_at : at + name_len_at + 2])
            if data[at + name_at : at + name_at + length] == sheet.encode():
                data[at + size_at : at + size_at + 4] = struct.pack("<I", 1000)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def _files_that_stop_runs(source: Path, catalog, add, good) -> None:  # noqa: ANN001
    """Files a shared folder really holds that once stopped or hung a run (issue 28, 3).

    Pipes, sockets and devices are made here, at build time in the test's own folder."""
    far = source / "B60.xlsx"
    _form(far, "B60", good("B60"), catalog)
    workbook = load_workbook(far)
    workbook["BaoCao"]["XFD1048576"] = "x"  # the reader would lay out 17 billion cells
    workbook.save(far)
    add(Case("far-cell bomb", ["B60.xlsx"], rejected="bom ô xa"))

    lying = source / "B64.xlsx"
    _form(lying, "B64", good("B64"), catalog)
    _lie_about_sizes(lying, b"<!--" + b" " * 30_000_000 + b"-->")
    add(Case("zip bomb under a false size", ["B64.xlsx"], rejected="khai sai kích thước"))

    name = os.fsencode(source) + b"/B61-\xff\xfe.csv"
    with open(name, "wb") as handle:
        handle.write(b"unit_code,period,indicator_code,value\nB61,2023,members_total,1\n")
    add(Case("name not UTF-8", ["B61-\\xff\\xfe.csv"], rejected="UTF-8"))

    os.mkfifo(source / "ong-dan.csv")
    add(Case("named pipe", ["ong-dan.csv"], rejected="ống dẫn có tên"))
    here = os.getcwd()
    os.chdir(source)  # a socket's path is limited to about 100 bytes: bind it by its name
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind("o-cam.csv")
    finally:
        os.chdir(here)
    add(Case("socket", ["o-cam.csv"], rejected="socket"))
    try:
        os.mknod(source / "thiet-bi.csv", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pass  # only root makes devices; the other cases still run
    else:
        add(Case("character device", ["thiet-bi.csv"], rejected="thiết bị"))

    (source / "vong-lap.csv").symlink_to("vong-lap.csv")
    add(Case("symbolic link loop", ["vong-lap.csv"], rejected="liên kết tượng trưng"))

    # A good file below folders deeper than PATH_MAX: read, not lost.
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([HEADER, *_rows("B62", good("B62"))])
    parts = [f"{i:02d}-" + "thu-muc-long-nhau-" * 11 for i in range(24)]
    deep_name = write_deep(source, parts, "B62.csv", buffer.getvalue().encode())
    assert len(os.fsencode(source)) + len(deep_name) > 4096
    add(Case("path longer than PATH_MAX", [deep_name], counted="B62"))

    with open(source / "B63-trieu-dong.csv", "wb") as handle:
        handle.write(b"unit_code,period,indicator_code,value\n")
        handle.write(b"B63,2023,members_total,1\n" * 1_000_000)
    add(Case("a million rows", ["B63-trieu-dong.csv"], rejected="vượt giới hạn"))


def _files_that_say_who_they_are(source: Path, catalog, add, good) -> None:  # noqa: ANN001
    """Files whose name and content disagree, and a short correction (issue 28, 2): held for
    review, the units' own values kept; a file whose name says nothing is believed."""
    _write_csv(source / "B65-a.csv", _rows("B65", good("B65")))
    few = {k: good("B65")[k] for k in ("members_total", "members_official", "members_admitted")}
    _write_csv(source / "B65-b-sua-loi.csv", _rows("B65", few | {"members_total": 500}))
    add(
        Case(
            "a short correction after the full file",
            ["B65-b-sua-loi.csv"],
            rejected="không quá một nửa 13 chỉ tiêu",
            finding=("file_held_partial", "B65"),
            counted="B65",
        )
    )
    # B05 (a good file, sorted before) must keep its numbers
    _write_csv(source / "B66.csv", _rows("B05", good("B05", members_total=999)))
    add(
        Case(
            "another unit's code",
            ["B66.csv"],
            rejected="ghi đơn vị B66",
            finding=("file_held_identity", "B05"),
        )
    )
    _write_csv(source / "B67-2022.csv", _rows("B67", good("B67")))
    add(
        Case(
            "another period than the name's",
            ["B67-2022.csv"],
            rejected="ghi kỳ 2022",
            finding=("file_held_identity", "B67"),
        )
    )
    _form(source / "B68.xlsx", "B69", good("B69"), catalog)
    add(
        Case(
            "a form made for another unit",
            ["B68.xlsx"],
            rejected="đơn vị B69",
            finding=("file_held_identity", "B69"),
        )
    )
    _write_csv(source / "bao-cao-nam.csv", _rows("B70", good("B70")))
    add(Case("a name that says nothing", ["bao-cao-nam.csv"], counted="B70"))


def _fresh_habits(source: Path, catalog, add, csv_case, good) -> None:  # noqa: ANN001, PLR0915
    """The acceptance set of issue 28: habits the cases above were not written from (other
    spaces, units after numbers, apostrophes, other widths and encodings, files joined or
    renamed, odd names), each with what it must give."""
    nbsp, narrow = "\u00a0", "\u202f"
    csv_case(
        "C01.csv",
        "C01",
        good(
            "C01",
            employees=f"1{nbsp}250",
            revenue_bn_vnd="1.000,5",
            state_budget_paid_bn_vnd="1,000.5",
            avg_income_mn_vnd_month=f"12{narrow}500,25",
        ),
        count=True,
        stored={
            "employees": 1250.0,
            "revenue_bn_vnd": 1000.5,
            "state_budget_paid_bn_vnd": 1000.5,
            "avg_income_mn_vnd_month": 12500.25,
        },
    )
    csv_case(
        "C02.csv",
        "C02",
        good("C02", revenue_bn_vnd="12.345.678", employees=f"1{narrow}500"),
        count=True,
        stored={"revenue_bn_vnd": 12345678.0, "employees": 1500.0},
    )
    csv_case(
        "C03.csv",
        "C03",
        good("C03", members_total="43 người", members_admitted="2 đảng viên"),
        warning="đơn vị 'người' được bỏ",
        count=True,
        members=43,
        stored={"members_total": 43.0, "members_admitted": 2.0},
    )
    csv_case(
        "C04.csv",
        "C04",
        good("C04", revenue_bn_vnd="1.976 đ"),
        finding=("value_not_number", "C04"),
        warning="có chữ 'đ' sau số",
        stored={"revenue_bn_vnd": None, "members_total": 44.0},
    )
    csv_case(
        "C05.csv",
        "C05",
        good("C05", members_admitted="'2", tasks_assigned="\u2019100"),
        warning="dấu nháy đơn",
        count=True,
        stored={"members_admitted": 2.0, "tasks_assigned": 100.0},
    )
    apostrophes = source / "C06.xlsx"
    _form(apostrophes, "C06", good("C06"), catalog)
    workbook = load_workbook(apostrophes)
    sheet = workbook["BaoCao"]
    total = sheet[_cell_of(apostrophes, "members_total")]
    total.value, total.data_type, total.quotePrefix = "46", "s", True  # typed as '46
    sheet[_cell_of(apostrophes, "members_admitted")].value = "'2"  # the apostrophe kept as text
    sheet[_cell_of(apostrophes, "tasks_assigned")].value = f"1{nbsp}00"  # a stray space
    workbook.save(apostrophes)
    add(
        Case(
            "Excel numbers stored as text, apostrophes",
            ["C06.xlsx"],
            finding=("value_not_number", "C06"),
            stored={"members_total": 46.0, "members_admitted": 2.0, "tasks_assigned": None},
        )
    )
    csv_case(
        "C07.csv",
        "C07",
        good("C07", members_admitted="05/01/2023"),
        finding=("value_not_number", "C07"),
        stored={"members_admitted": None, "members_total": 47.0},
    )
    csv_case(
        "C08.csv",
        "C08",
        good("C08", members_admitted="-0", members_deceased="−0"),
        count=True,
        stored={"members_admitted": 0.0, "members_deceased": 0.0},
    )
    csv_case(
        "C09.csv",
        "C09",
        good("C09", members_total="\uff14\uff19", tasks_assigned="\uff11\uff10\uff10"),
        warning="toàn chiều rộng",
        count=True,
        stored={"members_total": 49.0, "tasks_assigned": 100.0},
    )
    cp1258 = _text_csv(_rows("C10", good("C10"), note="Sáp nhập 1.049 đảng viên"))
    (source / "C10.csv").write_bytes(_cp1258(cp1258.replace("\n", "\r\n")))
    add(Case("Windows-1258, CRLF", ["C10.csv"], warning="Windows-1258", counted="C10"))
    tabbed = _text_csv(_rows("C11", good("C11"), note=NOTE), delimiter="\t")
    (source / "C11.csv").write_bytes(tabbed.replace("\n", "\r\n").encode("utf-16"))
    add(
        Case(
            "UTF-16 with BOM, tabs (Excel Unicode Text)",
            ["C11.csv"],
            warning="UTF-16",
            counted="C11",
        )
    )
    (source / "C12.csv").write_bytes(_text_csv(_rows("C12", good("C12"))).encode("utf-16-le"))
    add(Case("UTF-16 without BOM", ["C12.csv"], warning="UTF-16", counted="C12"))
    (source / "C13.csv").write_bytes(
        _text_csv(_rows("C13", good("C13"))).replace("\n", "\r").encode()
    )
    add(Case("CR line ends (old Mac)", ["C13.csv"], counted="C13"))
    rows = _rows("C14", good("C14"))
    joined = _text_csv(rows[:6]) + "\ufeff" + _text_csv(rows[6:])  # two files joined
    (source / "C14.csv").write_bytes(("\ufeff" + joined).replace("\n", "\r\n").encode())
    add(Case("a BOM and a header in the middle", ["C14.csv"], warning="BOM", counted="C14"))
    _write_csv(
        source / "C15.csv",
        [[*row[:4], 0] for row in _rows("C15", good("C15"))],
        header=["unit_code", "period", "indicator_code", "value", "value"],
    )
    add(Case("duplicate header columns", ["C15.csv"], rejected="có hơn một lần"))
    _write_csv(
        source / "C16.csv",
        _rows("C16", good("C16")) + [["C16", PERIOD, "members_admitted", 2, "nhập lại"]],
    )
    add(Case("an indicator twice, same value", ["C16.csv"], finding=("duplicate_value", "C16")))
    (source / "C17.xlsx").write_text(_text_csv(_rows("C17", good("C17"))), encoding="utf-8")
    add(Case("a CSV renamed .xlsx", ["C17.xlsx"], rejected="mang đuôi .xlsx"))
    (source / "C18.xls").write_text(_text_csv(_rows("C18", good("C18"))), encoding="utf-8")
    add(Case("a CSV renamed .xls", ["C18.xls"], rejected=".xls"))
    (source / "C19.ods").write_bytes(_ods())
    add(Case("a LibreOffice .ods", ["C19.ods"], rejected="LibreOffice"))
    (source / "C20a.csv").symlink_to("C20b.csv")
    (source / "C20b.csv").symlink_to("C20a.csv")
    add(Case("a loop of two links", ["C20a.csv", "C20b.csv"], rejected="liên kết tượng trưng"))
    (source / "C21.xlsx").write_bytes(b"")
    add(Case("a zero-byte .xlsx", ["C21.xlsx"], rejected="rỗng"))
    _write_csv(source / "C22..ban-sao.csv", _rows("C22", good("C22")))
    add(Case("'..' in a name", ["C22..ban-sao.csv"], counted="C22"))
    name = "C23\nbao-cao.csv"
    _write_csv(source / name, _rows("C23", good("C23", members_admitted="1 000")))
    add(
        Case(
            "a newline in a name",
            [name],
            counted="C23",
            stored={"members_admitted": 1000.0},
        )
    )
    name = "C24-<img src=x onerror=alert(1)>.csv"
    _write_csv(source / name, _rows("C24", good("C24", members_admitted="'2")))
    add(Case("markup in a name", [name], warning="<img src=x onerror=alert(1)>", counted="C24"))
    with zipfile.ZipFile(source / "C25.xlsx", "w") as archive:  # an .xlsx that is an .ods
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    add(Case("an .ods renamed .xlsx", ["C25.xlsx"], rejected="LibreOffice"))


def _text_csv(rows: list[list], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue()


def _ods() -> bytes:
    """A minimal LibreOffice spreadsheet (a zip whose first part names its type)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr(
            "content.xml",
            '<?xml version="1.0"?><office:document-content xmlns:office='
            '"urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>',
        )
    return buffer.getvalue()


if __name__ == "__main__":
    corpus = build(Path(sys.argv[1]))
    print(f"{len(corpus.cases)} trường hợp trong {corpus.source}")
