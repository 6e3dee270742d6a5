"""Reading the long CSV of SPEC §4.2 into values grouped by unit and period."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator

from tonghop.collect.values import _UNKNOWN, Groups, value_kinds
from tonghop.intake import decode_text
from tonghop.numbers import is_plain_whole, read_number, thousands
from tonghop.parse import ParsedFile, RawValue, UnreadableFile
from tonghop.settings import IntakeSettings

CSV_COLUMNS = ("unit_code", "period", "indicator_code", "value")
# A unit's file is one row per indicator (about fifty); a file bundling a whole district's units
# stays far below `max_csv_lines` (200,000). Above it a file is refused before it is parsed, so
# that one runaway export cannot hold a run's memory and time.
LIMITS = IntakeSettings()
# The first part of a number cut at an unquoted comma (`1`, `-1.500`), and the parts after it.
_NUMBER_START = re.compile(r"\s*[+-]?\d[\d. ]*")
_DIGITS = re.compile(r"\d[\d. ]*\s*")


def check_csv_rows(name: str, data: bytes, limits: IntakeSettings = LIMITS) -> None:
    """Refuse a CSV with more lines than `limits.max_csv_lines`, counted on its bytes."""
    lines = max(data.count(b"\n"), data.count(b"\r"))
    if lines > limits.max_csv_lines:
        raise UnreadableFile(
            f"Tệp '{name}' có {thousands(lines)} dòng, vượt giới hạn "
            f"{thousands(limits.max_csv_lines)} dòng của một tệp báo cáo (thiết lập "
            f"intake.max_csv_lines = {limits.max_csv_lines}); tệp được lưu nhưng không đọc. Đề "
            "nghị kiểm tra lại tệp xuất ra."
        )


def _csv_rows(
    name: str, data: bytes, limits: IntakeSettings = LIMITS
) -> tuple[Iterator[tuple[int, list[str]]], tuple, list]:
    """The data rows of a long CSV (SPEC §4.2) with their line numbers, padded to the header's
    width; the columns (unit, period, code, value, note or None); warnings so far (the
    encoding, and each short row as the rows are read). Raise UnreadableFile when it is none."""
    if not data.strip():
        raise UnreadableFile(f"Tệp '{name}' rỗng, không có dữ liệu.")
    if data.startswith(b"PK\x03\x04"):
        raise UnreadableFile(
            f"Tệp '{name}' là tệp Excel nhưng mang đuôi .csv; đề nghị gửi lại với đúng đuôi .xlsx."
        )
    check_csv_rows(name, data, limits)
    text, encoding_note = decode_text(data)
    sample = text[:4096]
    delimiter = max((",", ";", "\t"), key=sample.split("\n", 1)[0].count)
    reader = _csv_reader(name, text, delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    _check_header_once(name, header)
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise UnreadableFile(
            f"Tệp '{name}', dòng 1: thiếu cột {', '.join(missing)}; tiêu đề phải là "
            f"'{','.join(CSV_COLUMNS)}' (cột 'note' không bắt buộc)."
        )
    columns = (
        *(header.index(c) for c in CSV_COLUMNS),
        header.index("note") if "note" in header else None,
    )
    warnings = [f"Tệp '{name}': {encoding_note}"] if encoding_note else []
    width = len(header)

    def rows() -> Iterator[tuple[int, list[str]]]:
        # decode_text gave NFC text, and cells cut at ASCII delimiters stay NFC: no per-cell NFC.
        for line_no, row in enumerate(reader, start=2):
            if not "".join(row).strip():
                continue
            if [cell.strip().lower() for cell in row] == header:
                warnings.append(
                    f"Tệp '{name}', dòng {line_no}: dòng tiêu đề lặp lại giữa tệp (có thể do "
                    "ghép nhiều tệp); dòng này được bỏ qua."
                )
                continue
            if len(row) < width:
                warnings.append(
                    f"Tệp '{name}', dòng {line_no}: thiếu ô, dòng được đọc với ô trống."
                )
                row = row + [""] * (width - len(row))
            if len(row) > width or _split_number(row, columns):
                row, warning = _rejoined(row, width, columns, delimiter)
                if warning:
                    warnings.append(f"Tệp '{name}', dòng {line_no}: {warning}")
            yield line_no, row

    return rows(), columns, warnings


def _check_header_once(name: str, header: list[str]) -> None:
    """Refuse a header naming one of the columns read twice: which one holds the values cannot
    be told, and reading the first would silently drop the other."""
    twice = [c for c in (*CSV_COLUMNS, "note") if header.count(c) > 1]
    if twice:
        raise UnreadableFile(
            f"Tệp '{name}', dòng 1: cột {', '.join(twice)} có hơn một lần trong dòng tiêu đề; "
            "không rõ cột nào là số liệu nên tệp được lưu nhưng không đọc. Đề nghị đơn vị để "
            "mỗi cột một lần và gửi lại."
        )


def _rejoined(
    row: list[str], width: int, columns: tuple, delimiter: str
) -> tuple[list[str], str | None]:
    """A row cut back to the header's width, and what was done (Vietnamese; None: nothing
    worth saying).

    An unquoted `1,532` or `491,5` is cut by the csv module into two cells; it is never read as
    its first part. When the value and the digits after it make a number, they are joined
    again and read as any written number (an ambiguous one refused). Else empty cells past
    the last column are dropped; else, when the note is the last column, the note took the
    delimiter and is joined again; else the value is the joined text, which is no number, so
    it becomes a finding rather than a guess.
    """
    value, note = columns[3], columns[4]
    extra = max(len(row) - width, 0)
    digits = row[value + 1 : value + extra + 1] if extra else row[value + 1 : value + 2]
    cells = f"dòng có {len(row)} ô, nhiều hơn {width} cột của tiêu đề" if extra else ""
    if _NUMBER_START.fullmatch(row[value]) and digits and all(map(_DIGITS.fullmatch, digits)):
        joined = delimiter.join([row[value], *digits])
        rejoined = row[:value] + [joined] + row[value + 1 + len(digits) :]
        return rejoined + [""] * (width - len(rejoined)), (
            f"{cells or 'ô ghi chú chỉ có chữ số'}: giá trị '{joined.strip()}' có dấu "
            f"'{delimiter}' mà không nằm trong ngoặc kép nên bị tách thành nhiều ô; các ô được "
            "ghép lại thành một giá trị"
        )
    if not extra:
        return row, None
    if not any(cell.strip() for cell in row[width:]):
        return row[:width], None  # empty cells past the last column: nothing lost
    if note is not None and note == width - 1 and value < note:
        return row[:note] + [delimiter.join(row[note:])], (
            f"{cells}: ghi chú có dấu '{delimiter}' mà không nằm trong ngoặc kép; các ô được "
            "ghép lại thành ghi chú"
        )
    joined = delimiter.join(row[value : value + extra + 1])
    return row[:value] + [joined] + row[value + extra + 1 :], (
        f"{cells}: không rõ ô nào là giá trị, giá trị '{joined.strip()}' không được nhận"
    )


def _split_number(row: list[str], columns: tuple) -> bool:
    """Whether a full row's note holds only the digits after an unquoted comma of its value
    (`...,1,532` where the note column follows the value)."""
    value, note = columns[3], columns[4]
    return (
        note == value + 1
        and bool(_DIGITS.fullmatch(row[note]))
        and bool(_NUMBER_START.fullmatch(row[value]))
    )


def _csv_reader(name: str, text: str, delimiter: str) -> Iterator[list[str]]:
    """The csv module's rows; a row it cannot read (a cell over its size limit) refuses the
    file instead of failing the whole collect."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            detail = (
                f"có ô dài quá {csv.field_size_limit():,} ký tự".replace(",", ".")
                if "field limit" in str(exc)
                else str(exc)
            )
            raise UnreadableFile(
                f"Tệp '{name}', dòng {reader.line_num}: không đọc được dạng CSV ({detail}); "
                "đề nghị gửi lại bảng số liệu dạng dài (unit_code,period,indicator_code,value)."
            ) from exc
        yield row


def _no_values(name: str) -> UnreadableFile:
    return UnreadableFile(f"Tệp '{name}' không có dòng số liệu nào sau dòng tiêu đề.")


def parse_csv(name: str, data: bytes, limits: IntakeSettings = LIMITS) -> ParsedFile:
    """Read a long CSV (SPEC §4.2): UTF-8 with or without BOM, header row, one value a row."""
    rows, (unit, period, code, value, note), warnings = _csv_rows(name, data, limits)
    values = [
        RawValue(
            row[unit].strip(),
            row[period].strip(),
            row[code].strip(),
            row[value].strip(),
            f"dòng {line_no}",
            (row[note].strip() if note is not None else "") or None,
        )
        for line_no, row in rows
    ]
    if not values:
        raise _no_values(name)
    return ParsedFile(values=values, file_format="csv", warnings=warnings)


def _csv_groups(
    name: str, data: bytes, limits: IntakeSettings = LIMITS
) -> tuple[Groups, list[str]]:
    """`read_values(name, parse_csv(name, data))` and its warnings, without building a
    RawValue per value first: CSV is most of what a big bloc sends."""
    check_csv_rows(name, data, limits)
    plain = _plain_csv_groups(name, data)
    if plain is None:
        plain = _regular_csv_groups(name, data)
    if plain is not None:
        return plain
    rows, (unit, period, code, value, note), warnings = _csv_rows(name, data, limits)
    kinds = value_kinds()
    groups: dict[tuple[str, str], list[list]] = {}
    notes: dict[tuple[str, str], list[str]] = {}
    # A file's rows mostly share one unit and period: the group is looked up again only when
    # the cells change.
    last_cells: tuple[str, str] | None = None
    key: tuple[str, str] = ("", "")
    group: list[list] = []
    for line_no, row in rows:
        cells = (row[unit], row[period])
        if cells != last_cells:
            last_cells = cells
            key = (cells[0].strip(), cells[1].strip())
            group = groups.setdefault(key, [])
        indicator, raw = row[code].strip(), row[value].strip()
        location = _location(line_no)
        if is_plain_whole(raw):  # read_number's first case, without its other work
            number, how = float(raw), None
        else:
            number, how = read_number(raw, *kinds.get(indicator, _UNKNOWN))
            if how:
                notes.setdefault(key, []).append(f"Tệp '{name}', {location}: {how}.")
        text = row[note].strip() if note is not None else ""
        group.append([indicator, raw, number, location, text or None])
    if not groups:
        raise _no_values(name)
    # The warnings in read_values' order: reading the file, then each group's numbers.
    return list(groups.items()), warnings + [w for key in groups for w in notes.get(key, [])]


def _plain_csv_groups(name: str, data: bytes) -> tuple[Groups, list[str]] | None:
    """`_csv_groups` of the CSV most units send: ASCII, no quotes, lines ended by a line feed
    or a carriage return and a line feed, every row full and of one unit and period. Cut with
    `str.split` and read by columns, cheaper than the csv module. None for any
    other file, which the csv module reads."""
    if (
        not data.isascii()
        or b'"' in data
        or data.startswith(b"PK\x03\x04")
        or len(data) > csv.field_size_limit()
    ):
        return None
    text = data.decode("ascii")
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return None  # a carriage return alone ends a row for the csv module
    # A row's last cell keeps the carriage return before its line feed: every cell read is
    # stripped, and a row of nothing else is no row of the header's width.
    lines = text.split("\n")
    delimiter = max((",", ";", "\t"), key=lines[0][:4096].count)
    header = [h.strip().lower() for h in lines[0].split(delimiter)]
    if any(c not in header for c in CSV_COLUMNS) or len(set(header)) != len(header):
        return None
    if lines[-1] == "":
        lines.pop()
    rows = [line.split(delimiter) for line in itertools.islice(lines, 1, None)]
    if not rows or set(map(len, rows)) != {len(header)}:
        return None  # a short, long or blank row: the csv module's path says so
    columns = list(zip(*rows, strict=True))
    units, periods = set(columns[header.index("unit_code")]), set(columns[header.index("period")])
    if len(units) != 1 or len(periods) != 1:
        return None
    key = (units.pop().strip(), periods.pop().strip())
    if not any(key):
        return None  # a row might be blank
    codes = list(map(str.strip, columns[header.index("indicator_code")]))
    raws = list(map(str.strip, columns[header.index("value")]))
    if "note" in header:
        notes = [cell.strip() or None for cell in columns[header.index("note")]]
        if header.index("note") == header.index("value") + 1 and any(
            note and note.isdigit() for note in notes
        ):
            return None  # a value cut at an unquoted comma, maybe: the csv module's path
    else:
        notes = [None] * len(rows)
    _location(len(rows) + 1)
    locations = _LOCATIONS[2 : len(rows) + 2]
    # Digits read as they are (`is_plain_whole`; the text is ASCII); the rest by read_number.
    numbers: list = [float(raw) if raw.isdigit() and len(raw) < 16 else raw for raw in raws]
    warnings = []
    kinds = value_kinds()
    for i in [i for i, number in enumerate(numbers) if number.__class__ is str]:
        numbers[i], how = read_number(raws[i], *kinds.get(codes[i], _UNKNOWN))
        if how:
            warnings.append(f"Tệp '{name}', {locations[i]}: {how}.")
    return [
        (key, list(map(list, zip(codes, raws, numbers, locations, notes, strict=True))))
    ], warnings


def _regular_csv_groups(name: str, data: bytes) -> tuple[Groups, list[str]] | None:
    """`_csv_groups` of a CSV the csv module cuts into full rows of one unit and period, none
    of which its row-by-row reading would change (`_csv_rows`: no blank, short, long or header
    row, no value cut at an unquoted comma): a byte-order mark, quotes, Vietnamese notes, any
    line ends. The same text, delimiter and cells as `_csv_rows`, read by columns. None for
    any other file, which `_csv_rows` reads row by row."""
    if not data.strip() or data.startswith(b"PK\x03\x04"):
        return None
    text, encoding_note = decode_text(data)
    delimiter = max((",", ";", "\t"), key=text[:4096].split("\n", 1)[0].count)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        return None  # `_csv_reader` says which line
    if len(rows) < 2:
        return None
    header = [h.strip().lower() for h in rows[0]]
    width = len(header)
    if any(c not in header for c in CSV_COLUMNS) or len(set(header)) != width:
        return None
    if set(map(len, rows)) != {width}:
        return None  # a short, long or blank row: `_csv_rows` says so
    columns = list(zip(*rows, strict=True))
    unit, period = header.index("unit_code"), header.index("period")
    code, value = header.index("indicator_code"), header.index("value")
    units, periods = set(columns[unit][1:]), set(columns[period][1:])
    if len(units) != 1 or len(periods) != 1:
        return None
    unit_cell, period_cell = units.pop(), periods.pop()
    key = (unit_cell.strip(), period_cell.strip())
    if not any(key):
        return None  # a row might be blank
    if unit_cell.strip().lower() == header[unit] and period_cell.strip().lower() == header[period]:
        return None  # a row might be the header again
    raws = columns[value][1:]
    if "note" in header:
        note = header.index("note")
        if note == value + 1 and any(
            _DIGITS.fullmatch(cell) and _NUMBER_START.fullmatch(raw)
            for raw, cell in zip(raws, columns[note][1:], strict=True)
        ):
            return None  # a value cut at an unquoted comma: `_rejoined` says so
        notes = [cell.strip() or None for cell in columns[note][1:]]
    else:
        notes = [None] * len(raws)
    codes = list(map(str.strip, columns[code][1:]))
    raws = list(map(str.strip, raws))
    _location(len(rows))
    locations = _LOCATIONS[2 : len(rows) + 1]
    numbers, hows = read_numbers(codes, raws)
    warnings = [f"Tệp '{name}': {encoding_note}"] if encoding_note else []
    warnings += [f"Tệp '{name}', {locations[i]}: {how}." for i, how in hows]
    return [
        (key, list(map(list, zip(codes, raws, numbers, locations, notes, strict=True))))
    ], warnings


def read_numbers(codes: list[str], raws: list[str]) -> tuple[list, list[tuple[int, str]]]:
    """The number of each raw value (`read_number` with its indicator's kind; digits read as
    they are, `is_plain_whole`), and the notes on how, each with its value's position."""
    # `is_plain_whole`, written out: it is asked of every value
    numbers: list = [
        float(raw) if raw.isdigit() and raw.isascii() and len(raw) < 16 else None for raw in raws
    ]
    hows = []
    if None in numbers:
        kinds = value_kinds()
        for i, number in enumerate(numbers):
            if number is None:
                numbers[i], how = read_number(raws[i], *kinds.get(codes[i], _UNKNOWN))
                if how:
                    hows.append((i, how))
    return numbers, hows


_LOCATIONS: list[str] = []


def _location(line_no: int) -> str:
    """ "dòng N", one string for each line number (a form has a few hundred lines at most).

    >>> _location(12)
    'dòng 12'
    """
    if line_no >= len(_LOCATIONS):
        _LOCATIONS.extend(f"dòng {n}" for n in range(len(_LOCATIONS), line_no + 1))
    return _LOCATIONS[line_no]
