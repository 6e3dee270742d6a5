"""Reading the long CSV of SPEC §4.2 into values grouped by unit and period."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator

from tonghop.collect.values import Groups, _value_types
from tonghop.intake import decode_text
from tonghop.numbers import is_plain_whole, read_number
from tonghop.parse import ParsedFile, RawValue, UnreadableFile

CSV_COLUMNS = ("unit_code", "period", "indicator_code", "value")


def _csv_rows(name: str, data: bytes) -> tuple[Iterator[tuple[int, list[str]]], tuple, list]:
    """The data rows of a long CSV (SPEC §4.2) with their line numbers, padded to the header's
    width; the columns (unit, period, code, value, note or None); warnings so far (the
    encoding, and each short row as the rows are read). Raise UnreadableFile when it is none."""
    if not data.strip():
        raise UnreadableFile(f"Tệp '{name}' rỗng, không có dữ liệu.")
    if data.startswith(b"PK\x03\x04"):
        raise UnreadableFile(
            f"Tệp '{name}' là tệp Excel nhưng mang đuôi .csv; đề nghị gửi lại với đúng đuôi .xlsx."
        )
    text, encoding_note = decode_text(data)
    sample = text[:4096]
    delimiter = max((",", ";", "\t"), key=sample.split("\n", 1)[0].count)
    reader = _csv_reader(name, text, delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
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
            if len(row) < width:
                warnings.append(
                    f"Tệp '{name}', dòng {line_no}: thiếu ô, dòng được đọc với ô trống."
                )
                row = row + [""] * (width - len(row))
            yield line_no, row

    return rows(), columns, warnings


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


def parse_csv(name: str, data: bytes) -> ParsedFile:
    """Read a long CSV (SPEC §4.2): UTF-8 with or without BOM, header row, one value a row."""
    rows, (unit, period, code, value, note), warnings = _csv_rows(name, data)
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


def _csv_groups(name: str, data: bytes) -> tuple[Groups, list[str]]:
    """`read_values(name, parse_csv(name, data))` and its warnings, without building a
    RawValue per value first: CSV is most of what a big bloc sends."""
    plain = _plain_csv_groups(name, data)
    if plain is not None:
        return plain
    rows, (unit, period, code, value, note), warnings = _csv_rows(name, data)
    types = _value_types()
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
            number, how = read_number(raw, types.get(indicator))
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
    if any(c not in header for c in CSV_COLUMNS):
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
    else:
        notes = [None] * len(rows)
    _location(len(rows) + 1)
    locations = _LOCATIONS[2 : len(rows) + 2]
    # Digits read as they are (`is_plain_whole`; the text is ASCII); the rest by read_number.
    numbers: list = [float(raw) if raw.isdigit() and len(raw) < 16 else raw for raw in raws]
    warnings = []
    for i in [i for i, number in enumerate(numbers) if number.__class__ is str]:
        numbers[i], how = read_number(raws[i], _value_types().get(codes[i]))
        if how:
            warnings.append(f"Tệp '{name}', {locations[i]}: {how}.")
    return [
        (key, list(map(list, zip(codes, raws, numbers, locations, notes, strict=True))))
    ], warnings


_LOCATIONS: list[str] = []


def _location(line_no: int) -> str:
    """ "dòng N", one string for each line number (a form has a few hundred lines at most).

    >>> _location(12)
    'dòng 12'
    """
    if line_no >= len(_LOCATIONS):
        _LOCATIONS.extend(f"dòng {n}" for n in range(len(_LOCATIONS), line_no + 1))
    return _LOCATIONS[line_no]
