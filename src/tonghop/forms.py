"""The Excel form a unit fills in (SPEC §2, §4.2): written with openpyxl, read with calamine.

The form is generated from the catalog: one row per indicator, input validation by value type.
It is read back by its labels, not by fixed coordinates, so a form whose rows were moved by a
user (or an older layout) still reads.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import MultiCellRange
from openpyxl.worksheet.datavalidation import DataValidation
from python_calamine import CalamineWorkbook

from tonghop.catalog import FORM_LABELS, SECTOR_LABELS, Catalog
from tonghop.formatting import FORMULA_STARTS
from tonghop.parse import ParsedFile, RawValue, UnreadableFile

FORM_VERSION = "1"
SHEET = "BaoCao"
META_SHEET = "_tonghop"
TITLE = "BIỂU MẪU BÁO CÁO SỐ LIỆU TỔ CHỨC CƠ SỞ ĐẢNG"
NOT_APPLICABLE = "Không áp dụng"

LABEL_UNIT_CODE = "Mã đơn vị"
LABEL_UNIT_NAME = "Tên đơn vị"
LABEL_PERIOD = "Kỳ báo cáo"
LABEL_SECTOR = "Lĩnh vực"
LABEL_FORM = "Loại hình tổ chức"
COLUMNS = ("STT", "Mã chỉ tiêu", "Chỉ tiêu", "Đơn vị tính", "Giá trị", "Ghi chú")
COLUMN_WIDTHS = (6, 30, 60, 22, 14, 30)

_HEADER_ROW = 9
# How to write numbers, above the table: tonghop reads `1.000` in a count as a thousand but
# refuses it in an amount (a thousand, or one?); a clerk told so writes it plainly.
INSTRUCTIONS = (
    "Cách ghi số: không dùng dấu phân cách hàng nghìn (ghi 1000, không ghi 1.000 hay 1,000); "
    "phần thập phân ngăn cách bằng dấu phẩy (491,5). Nhập số trực tiếp, không dùng công thức; "
    "ô báo lỗi (#REF!, #DIV/0!...) không được nhận. Chỉ điền vào trang này, không sao chép "
    "trang."
)

# Excel data validation per value type: (type, operator, formula1, formula2, message).
_VALIDATION: dict[str, tuple[str, str, str, str | None, str]] = {
    "count": (
        "whole",
        "greaterThanOrEqual",
        "0",
        None,
        "Nhập số nguyên không âm (0, 1, 2, ...), không dùng dấu phân cách hàng nghìn.",
    ),
    "flag": ("whole", "between", "0", "1", "Nhập 1 (có) hoặc 0 (không)."),
    "percent": (
        "decimal",
        "between",
        "0",
        "100",
        "Nhập tỷ lệ phần trăm từ 0 đến 100; phần thập phân ngăn cách bằng dấu phẩy (96,5).",
    ),
    "amount": (
        "decimal",
        "greaterThanOrEqual",
        "0",
        None,
        "Nhập số không âm, không dùng dấu phân cách hàng nghìn; phần thập phân ngăn cách bằng "
        "dấu phẩy (491,5).",
    ),
    "rating": (
        "whole",
        "between",
        "1",
        "4",
        "Nhập mức xếp loại: 4 xuất sắc, 3 tốt, 2 hoàn thành, 1 không hoàn thành.",
    ),
}

_GREY = PatternFill("solid", fgColor="D9D9D9")
_HEAD_FILL = PatternFill("solid", fgColor="BDD7EE")
_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_UNLOCKED = Protection(locked=False)


def _put(cell: Cell, value: object) -> Cell:
    """Write a value; text that a spreadsheet would run as a formula is kept as plain text.

    The cell is stored as a string with Excel's quote-prefix style (what typing a leading `'`
    does), so the text itself is unchanged when read back.
    """
    cell.value = value
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def _number_format(decimals: int) -> str:
    return "0" if decimals == 0 else "0." + "0" * decimals


def _named_style(wb: Workbook, role: str, applies: bool, decimals: int) -> str:
    """The workbook's named style for a table cell, registered on first use.

    One named style per kind of cell instead of per-cell fonts, fills and protections: openpyxl
    hashes every style object it is given, most of the time to write a form.
    """
    name = f"tonghop_{role}_{'ap_dung' if applies else 'khong_ap_dung'}"
    if role == "value":
        name += f"_{decimals}"
    if name not in wb.named_styles:
        style = NamedStyle(name=name, border=_BORDER)
        if not applies:
            style.fill = _GREY
        elif role == "value":
            style.fill = _INPUT_FILL
        if role in ("value", "note"):
            style.protection = _UNLOCKED
        if role == "value":
            style.number_format = _number_format(decimals)
        wb.add_named_style(style)
    return name


def write_form(
    path: Path,
    unit: dict,
    period: str,
    catalog: Catalog,
    values: dict[str, float | int | str] | None = None,
) -> None:
    """Write the form of one unit (keys unit_code, name, sector, form) and period to `path`."""
    values = values or {}
    unknown = set(values) - set(catalog.codes)
    if unknown:
        raise KeyError(f"indicator codes not in the catalog: {sorted(unknown)}")

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    for i, width in enumerate(COLUMN_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width

    _put(ws.cell(1, 1), TITLE).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    ws.cell(1, 1).alignment = Alignment(horizontal="center")

    header_fields = (
        (LABEL_UNIT_CODE, unit["unit_code"]),
        (LABEL_UNIT_NAME, unit["name"]),
        (LABEL_PERIOD, period),
        (LABEL_SECTOR, SECTOR_LABELS.get(unit["sector"], unit["sector"])),
        (LABEL_FORM, FORM_LABELS.get(unit["form"], unit["form"])),
    )
    for row, (label, value) in enumerate(header_fields, start=3):
        _put(ws.cell(row, 2), f"{label}:").font = Font(bold=True)
        _put(ws.cell(row, 3), value)

    note = _put(ws.cell(_HEADER_ROW - 1, 1), INSTRUCTIONS)
    note.font = Font(italic=True)
    note.alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(
        start_row=_HEADER_ROW - 1, start_column=1, end_row=_HEADER_ROW - 1, end_column=len(COLUMNS)
    )
    ws.row_dimensions[_HEADER_ROW - 1].height = 48

    for col, title in enumerate(COLUMNS, start=1):
        cell = _put(ws.cell(_HEADER_ROW, col), title)
        cell.font = Font(bold=True)
        cell.fill = _HEAD_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)

    value_cells: dict[str, list[str]] = defaultdict(list)
    for n, ind in enumerate(catalog, start=1):
        row = _HEADER_ROW + n
        applies = ind.applies(unit["sector"], unit["form"])
        shown = (n, ind.code, ind.label, ind.unit, values.get(ind.code), None)
        if not applies:
            shown = (*shown[:5], NOT_APPLICABLE)
        for col, value in enumerate(shown, start=1):
            role = "value" if col == 5 else "note" if col == 6 else "text"
            cell = ws.cell(row, col)
            cell.style = _named_style(wb, role, applies, ind.decimals)
            _put(cell, value)
        value_cells[ind.value_type].append(f"E{row}")

    for value_type, coordinates in value_cells.items():
        kind, operator, f1, f2, message = _VALIDATION[value_type]
        dv = DataValidation(
            type=kind,
            operator=operator,
            formula1=f1,
            formula2=f2,
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="Giá trị không hợp lệ",
            error=message,
            showInputMessage=True,
            promptTitle="Nhập số liệu",
            prompt=message,
            sqref=MultiCellRange(" ".join(coordinates)),
        )
        ws.add_data_validation(dv)

    ws.freeze_panes = ws.cell(_HEADER_ROW + 1, 1)
    ws.protection.sheet = True

    meta = wb.create_sheet(META_SHEET)
    for row, (key, value) in enumerate(
        (("form_version", FORM_VERSION), ("unit_code", unit["unit_code"]), ("period", period)),
        start=1,
    ):
        _put(meta.cell(row, 1), key)
        _put(meta.cell(row, 2), value)
    meta.sheet_state = "hidden"
    meta.protection.sheet = True

    wb.save(path)


def _norm(text: object) -> str:
    """A label as compared: NFC, case-folded, without surrounding blanks and a trailing colon."""
    return unicodedata.normalize("NFC", str(text)).casefold().strip().rstrip(":").strip()


def _cell_text(value: object) -> str:
    """A calamine cell value as text: whole floats without `.0`, other numbers in shortest form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, int):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _at(row: list[object], col: int | None) -> str:
    """The text of column `col` of a row, "" when the row is shorter or there is no column."""
    return _cell_text(row[col]) if col is not None and col < len(row) else ""


def _labelled(rows: list[list[object]], label: str, before: int) -> str | None:
    """The first non-empty cell right of the cell labelled `label`, above row `before`."""
    wanted = _norm(label)
    for row in rows[:before]:
        for col, cell in enumerate(row):
            if _norm(cell) == wanted:
                for right in row[col + 1 :]:
                    text = _cell_text(right).strip()
                    if text:
                        return text
                return None
    return None


def read_form(
    path: Path,
    formula_cells: frozenset[str] | set[str] = frozenset(),
    error_cells: dict[str, str] | None = None,
) -> ParsedFile:
    """Read the values of one filled form; raise `UnreadableFile` when it is not such a form.

    `formula_cells` (e.g. {"E14"}, found by `tonghop.intake.check_xlsx`) hold formulas: a
    computed value is not a reported figure, so those cells are read as "(công thức)".
    `error_cells` (e.g. {"E14": "#REF!"}) hold Excel errors, which calamine reads as blanks:
    they are read as the error's text, so the value is a finding, not a silent gap.
    A cell Excel stores as a number keeps that number (`RawValue.number`): `1.976` typed in a
    number cell is one point nine seven six, never to be read again as text.

    Several sheets may carry the form (a clerk copied `BaoCao` to `BaoCao (2)` and filled the
    copy): the one sheet holding values is read, with a warning naming the others; when more
    than one holds values, no one can tell which is the report and the file is refused,
    naming them.
    """
    name = Path(path).name
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises several unrelated types for a broken file
        raise UnreadableFile(
            f"Tệp '{name}' không phải tệp Excel (.xlsx) hợp lệ, không đọc được: {exc}"
        ) from exc
    # The form's own sheet first; a sheet renamed by the unit is found by its table header.
    candidates = [SHEET] if SHEET in workbook.sheet_names else []
    candidates += [n for n in workbook.sheet_names if n not in (SHEET, META_SHEET)]
    tables = [t for t in (_table(workbook, sheet) for sheet in candidates) if t is not None]
    if not tables:
        raise UnreadableFile(
            f"Tệp '{name}': không tìm thấy bảng số liệu của biểu mẫu (dòng tiêu đề có cột "
            f"'{COLUMNS[1]}' và '{COLUMNS[4]}') ở trang nào "
            f"(các trang có: {', '.join(workbook.sheet_names)})"
        )
    warnings: list[str] = []
    filled = [t for t in tables if t.filled] or tables[:1]
    if len(filled) > 1:
        sheets = ", ".join(f"'{t.sheet}'" for t in filled)
        raise UnreadableFile(
            f"Tệp '{name}' có {len(filled)} trang cùng mang biểu mẫu và cùng có số liệu "
            f"({sheets}): không rõ trang nào là báo cáo (có thể một trang là bản sao cũ); tệp "
            "không được nhận, đề nghị đơn vị xóa trang thừa và gửi lại."
        )
    table = filled[0]
    rows, header, sheet = table.rows, table.header, table.sheet
    code_col, value_col, note_col = table.code_col, table.value_col, table.note_col
    blank = [t.sheet for t in tables if t is not table]
    if blank:
        warnings.append(
            f"Tệp '{name}': số liệu được đọc từ trang '{sheet}'; "
            + ", ".join(f"'{s}'" for s in blank)
            + " cũng mang biểu mẫu nhưng không có số liệu, không được đọc."
        )
    if sheet != SHEET and SHEET not in blank:
        warnings.append(
            f"Tệp '{name}': trang tính '{SHEET}' đã bị đổi tên thành '{sheet}'; số liệu được "
            "đọc từ trang này."
        )

    unit_code = _labelled(rows, LABEL_UNIT_CODE, header)
    period = _labelled(rows, LABEL_PERIOD, header)
    for label, found in ((LABEL_UNIT_CODE, unit_code), (LABEL_PERIOD, period)):
        if not found:
            raise UnreadableFile(
                f"Tệp '{name}', trang '{SHEET}': thiếu ô '{label}' hoặc ô này để trống"
            )

    errors = error_cells or {}
    values: list[RawValue] = []
    letter = get_column_letter(value_col + 1)  # each value's place: `BaoCao!E14`
    for r in range(header + 1, len(rows)):
        row = rows[r]
        raw, code = _at(row, value_col), _at(row, code_col).strip()
        cell = row[value_col] if value_col < len(row) else None
        number = _typed_number(cell)
        ref = f"{letter}{r + 1}"
        where = f"{sheet}!{ref}"
        if ref in formula_cells:
            warnings.append(
                f"Tệp '{name}', ô {where}: ô chứa công thức, giá trị không "
                "được nhận; đề nghị nhập trực tiếp số liệu."
            )
            raw, number = "(công thức)", None
        elif ref in errors and not raw.strip():
            warnings.append(
                f"Tệp '{name}', ô {where}: ô báo lỗi Excel '{errors[ref]}', giá trị không được "
                "nhận; đề nghị nhập trực tiếp số liệu."
            )
            raw = errors[ref]
        if not raw.strip():
            continue
        if not code:
            warnings.append(f"Tệp '{name}': ô {where} có giá trị nhưng thiếu mã chỉ tiêu, bỏ qua")
            continue
        note = _at(row, note_col).strip()
        values.append(
            RawValue(
                unit_code=unit_code,
                period=period,
                indicator_code=code,
                raw=raw,
                location=where,
                note=note if note and note != NOT_APPLICABLE else None,
                number=number,
            )
        )
    warnings.extend(_check_meta(workbook, name, unit_code, period))
    return ParsedFile(values=values, file_format="xlsx", warnings=warnings)


@dataclass
class _Table:
    """A sheet carrying the form's table: its rows, header row, columns; whether it has values."""

    sheet: str
    rows: list[list[object]]
    header: int
    code_col: int
    value_col: int
    note_col: int | None
    filled: bool


def _table(workbook: CalamineWorkbook, sheet: str) -> _Table | None:
    """The form's table on `sheet`, found by its header row; None when the sheet has none."""
    code_key, value_key, note_key = _norm(COLUMNS[1]), _norm(COLUMNS[4]), _norm(COLUMNS[5])
    rows = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    for r, row in enumerate(rows):
        normed = [_norm(c) for c in row]
        if code_key in normed and value_key in normed:
            value_col = normed.index(value_key)
            filled = any(_at(row, value_col).strip() for row in rows[r + 1 :])
            note_col = normed.index(note_key) if note_key in normed else None
            return _Table(sheet, rows, r, normed.index(code_key), value_col, note_col, filled)
    return None


def _typed_number(cell: object) -> float | None:
    """The number of a cell Excel stores as a number (not text, not a date, not a boolean)."""
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return float(cell)
    return None


def _check_meta(workbook: CalamineWorkbook, name: str, unit_code: str, period: str) -> list[str]:
    """Warn when the visible header disagrees with what the form was generated for."""
    if META_SHEET not in workbook.sheet_names:
        return []
    meta = {
        _cell_text(row[0]): _cell_text(row[1]).strip()
        for row in workbook.get_sheet_by_name(META_SHEET).to_python(skip_empty_area=False)
        if len(row) >= 2
    }
    return [
        f"Tệp '{name}': {label} ghi '{shown}' nhưng biểu mẫu được tạo cho '{meta[key]}'"
        for key, label, shown in (
            ("unit_code", LABEL_UNIT_CODE, unit_code),
            ("period", LABEL_PERIOD, period),
        )
        if meta.get(key) and meta[key] != shown
    ]
