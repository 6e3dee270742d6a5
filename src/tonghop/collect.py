"""Collect: list a source, archive every file untouched, parse it, load it into DuckDB."""

from __future__ import annotations

import contextlib
import csv
import errno
import functools
import gc
import hashlib
import io
import itertools
import os
import posixpath
import re
import unicodedata
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import duckdb
import fsspec
import fsspec.implementations.local

from tonghop.db import insert_columns, insert_rows, transaction
from tonghop.intake import check_xlsx, decode_text
from tonghop.numbers import is_plain_whole, read_number
from tonghop.parse import ParsedFile, RawValue, UnreadableFile

CSV_COLUMNS = ("unit_code", "period", "indicator_code", "value")
SUPPORTED_SUFFIXES = {".csv", ".xlsx"}


@dataclass(frozen=True)
class SourceFile:
    """A file seen at the source: its name relative to the source root and its bytes."""

    name: str
    data: bytes
    problem: str | None = None  # set when the file must not be parsed (a link, too large)


@dataclass
class CollectResult:
    """What one collect run did, file by file."""

    batch_id: str
    seen: int = 0
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)


def nfc(text: str) -> str:
    # ASCII is always NFC; skipping it halves parse_csv (a million cells at 6,000 units).
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def parse_number(raw: str) -> float | None:
    """The number a raw value holds, or None when it is not a finite number.

    >>> parse_number("14103"), parse_number("51.23"), parse_number("12a"), parse_number("nan")
    (14103.0, 51.23, None, None)
    """
    return read_number(raw)[0]


MAX_FILE_BYTES = 20 * 1024 * 1024  # a report is kilobytes; 20 MB is not a report


def read_source(source: str, max_bytes: int = MAX_FILE_BYTES) -> list[SourceFile]:
    """Every file below a folder or fsspec URL, sorted by name; hidden files skipped.

    A symbolic link is never followed (it could point anywhere on the machine): the link
    itself is received and rejected. A file over `max_bytes` is received and rejected.
    """
    fs, root = fsspec.core.url_to_fs(source)
    if not fs.exists(root) or not fs.isdir(root):
        raise FileNotFoundError(f"Không đọc được nguồn dữ liệu: '{source}' không phải là thư mục")
    if isinstance(fs, fsspec.implementations.local.LocalFileSystem):
        return _read_local(root, max_bytes)
    root_path = PurePosixPath(root)
    files = []
    for path in sorted(fs.find(root)):
        relative = str(PurePosixPath(path).relative_to(root_path))
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        try:
            with fs.open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            continue  # gone between listing and reading: see _read_local
        files.append(_source_file(relative, data, max_bytes))
    return files


def _read_local(root: str, max_bytes: int) -> list[SourceFile]:
    """`read_source` for a local folder: plain system calls, where fsspec's file objects and
    path objects cost 4.7-6.1 s for the 60,000 files of a national batch (1.3-1.9 s so)."""
    files = []
    for relative, path, is_link in _local_files(root):
        if not is_link:
            try:
                # O_NOFOLLOW: a file made a link since it was listed is refused, not followed
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except FileNotFoundError:
                # Gone between listing and reading (a unit took its file back): not received;
                # the next run picks up whatever is there then.
                continue
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
            else:
                with open(fd, "rb") as handle:
                    files.append(_source_file(relative, handle.read(), max_bytes))
                continue
        files.append(_link_file(relative, path))
    return files


def _link_file(relative: str, path: str) -> SourceFile:
    """A symbolic link, received as what it points to and never followed."""
    target = os.readlink(path)
    return SourceFile(
        relative,
        target.encode(),
        problem=(
            f"Tệp '{relative}' là liên kết tượng trưng tới '{target}': tonghop "
            "không đọc theo liên kết; đề nghị gửi chính tệp báo cáo."
        ),
    )


def _source_file(relative: str, data: bytes, max_bytes: int) -> SourceFile:
    problem = None
    if len(data) > max_bytes:
        problem = (
            f"Tệp '{relative}' dung lượng {len(data):,} byte, vượt giới hạn {max_bytes:,} "
            "byte của một báo cáo; tệp được lưu nhưng không đọc."
        )
    return SourceFile(relative, data, problem=problem)


def _local_files(root: str) -> list[tuple[str, str, bool]]:
    """The files below a local folder, hidden ones left out: (path relative to `root`, path,
    whether it is a symbolic link), sorted. Links (to files or folders) are listed, never
    followed."""
    root = root.rstrip("/") or "/"
    cut = len(root) + (0 if root.endswith("/") else 1)
    found, folders = [], [root]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                else:
                    found.append((entry.path[cut:], entry.path, entry.is_symlink()))
    return sorted(found)


@dataclass(frozen=True)
class StagedFile:
    """Bytes written to a temporary file beside their archive name, not yet durable."""

    temporary: str
    target: str


_PLAIN_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


def archive_path(sha256: str, name: str) -> str:
    """Where received bytes are archived, relative to the workspace: their hash, and the
    file's suffix when it is a plain one. Text, not a path object (10 µs each, and collect
    names 60,000 files at a time).

    >>> archive_path("ab12", "Báo cáo.CSV"), archive_path("ab12", "x.c$v")
    ('archive/ab/ab12.csv', 'archive/ab/ab12')
    >>> archive_path("ab12", "dir/.CSV"), archive_path("ab12", "Báo cáo..CSV")
    ('archive/ab/ab12', 'archive/ab/ab12.csv')
    """
    suffix = posixpath.splitext(posixpath.basename(name.rstrip("/")))[1].lower()
    if not _PLAIN_SUFFIX.fullmatch(suffix):
        suffix = ""
    return f"archive/{sha256[:2]}/{sha256}{suffix}"


def stage_file(root: str, relative: str, data: bytes, tag: str) -> StagedFile | None:
    """Write received bytes beside their archive name (`relative` to the workspace `root`);
    `make_durable` puts them in place. None when the archive already holds them.

    Plain strings and system calls: the archive process stages 60,000 files of a big batch.
    The temporary file is named with `tag`, unique to it in its folder, and created read-only,
    as its archive name will be (this process still writes through its descriptor); its folder
    is made only when creating the file finds none."""
    target = f"{root}/{relative}"
    if os.path.exists(target):
        return None
    folder, _, base = target.rpartition("/")
    temporary = f"{folder}/.{base}.{tag}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(temporary, flags, 0o444)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(temporary, flags, 0o444)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        os.unlink(temporary)  # a full disk leaves no half-written file behind
        raise
    os.close(fd)
    return StagedFile(temporary, target)


# fsync one file after another costs a journal commit each (measured here: 0.9-1.8 ms a
# 1.4 KB file); fsyncs issued together from a few threads share commits (0.1-0.4 ms a file).
_FSYNC_THREADS = 8


def make_durable(staged: list[StagedFile]) -> None:
    """fsync every staged file, then give each its archive name, read-only.

    A file gets its archive name only once its bytes are on disk, so a name in the archive
    always holds the whole file; on any failure no temporary file is left behind.
    """
    if not staged:
        return
    try:
        if len(staged) == 1:
            _fsync(staged[0].temporary)
        elif not (len(staged) >= _SYNCFS_MIN_FILES and _syncfs(os.path.dirname(staged[0].target))):
            with ThreadPoolExecutor(min(_FSYNC_THREADS, len(staged))) as pool:
                list(pool.map(_fsync, [s.temporary for s in staged]))
        for s in staged:
            os.replace(s.temporary, s.target)
    except BaseException:
        for s in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(s.temporary)
        raise


# From this many files, one syncfs (Linux) instead of an fsync a file: while DuckDB writes
# beside the archive, each fsync also waits for DuckDB's data (ext4 data=ordered).
_SYNCFS_MIN_FILES = 50


def _syncfs(folder: str) -> bool:
    """Flush the whole file system holding `folder` (Linux syncfs); False where there is none."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return syncfs(fd) == 0
    finally:
        os.close(fd)


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    """The C library's syncfs, looked up once (the symbols this process already loaded)."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # not Linux
        return None


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    RawValue per value first: twice as fast, and CSV is most of what a big bloc sends."""
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
    `str.split` and read by columns: 57,000 files in 3.7 s, not 5.8 s. None for any
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


def parse_file(name: str, data: bytes) -> ParsedFile:
    """Parse a received file by its kind; raise UnreadableFile with the reason otherwise."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".csv":
        return parse_csv(name, data)
    if suffix == ".xlsx":
        from tonghop.forms import read_form

        formulas = check_xlsx(name, data)
        with _as_temporary_file(data, suffix) as path:
            try:
                parsed = read_form(path, formulas)
            except UnreadableFile as exc:
                message = str(exc).replace(str(path), name).replace(path.name, name)
                raise UnreadableFile(message) from exc
        parsed.warnings = [w.replace(path.name, name) for w in parsed.warnings]
        return parsed
    if suffix in (".xlsm", ".xltm"):
        raise UnreadableFile(
            f"Tệp '{name}' là bảng tính có macro ({suffix}); tonghop không nhận tệp có macro, "
            "đề nghị dùng biểu mẫu .xlsx do tonghop tạo."
        )
    if suffix == ".xls":
        raise UnreadableFile(
            f"Tệp '{name}' là định dạng Excel đời cũ (.xls); đề nghị lưu lại dạng .xlsx."
        )
    raise UnreadableFile(
        f"Tệp '{name}' có định dạng không được hỗ trợ ('{suffix or 'không có đuôi'}'); "
        "chỉ nhận tệp .csv (dạng dài) hoặc biểu mẫu .xlsx do tonghop tạo."
    )


def _memory_tmp() -> str | None:
    """A folder in memory for the temporary copies, when the machine has one (Linux)."""
    folder = "/dev/shm"
    return folder if os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK) else None


# Creating and removing a temporary file on disk costs ~2 ms a form (measured on ext4 here);
# in memory it costs ~0.05 ms.
_MEMORY_TMP = _memory_tmp()


class _as_temporary_file:
    """python-calamine reads paths; hand it the received bytes in a private temporary file."""

    def __init__(self, data: bytes, suffix: str) -> None:
        self.data, self.suffix = data, suffix

    def __enter__(self) -> Path:
        try:
            self.path = self._write(_MEMORY_TMP)
        except OSError:  # a small /dev/shm (containers give 64 MB) that is full
            self.path = self._write(None)
        return self.path

    def _write(self, folder: str | None) -> Path:
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=self.suffix, delete=False, dir=folder) as handle:
            path = Path(handle.name)
            try:
                handle.write(self.data)
                handle.flush()
            except OSError:
                path.unlink(missing_ok=True)
                raise
        return path

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class _Rows:
    """Rows of whole files waiting to be written together."""

    files: list[list] = field(default_factory=list)
    sightings: list[list] = field(default_factory=list)
    submissions: list[list] = field(default_factory=list)
    # by column (VALUE_COLUMNS), as they go into DuckDB: 2.4 million values at 60,000 units
    values: list[list] = field(default_factory=lambda: [[] for _ in VALUE_COLUMNS])


# (unit_code, period) -> [indicator_code, raw, number, location, note] rows, in file order
Groups = list[tuple[tuple[str, str], list[list]]]


def read_values(name: str, parsed: ParsedFile) -> Groups:
    """A parsed file's values grouped by unit and period, each read as a number.

    How a number was read, where that needs saying, is added to `parsed.warnings`.
    """
    types = _value_types()
    groups: dict[tuple[str, str], list[list]] = {}
    for r in parsed.values:
        groups.setdefault((r.unit_code, r.period), []).append(r)
    out: Groups = []
    for key, rows in groups.items():
        read = []
        for r in rows:
            number, how = read_number(r.raw, types.get(r.indicator_code))
            if how:
                parsed.warnings.append(f"Tệp '{name}', {r.location}: {how}.")
            read.append([r.indicator_code, r.raw, number, r.location, r.note])
        out.append((key, read))
    return out


def _rows_of(
    sha256: str,
    name: str,
    file_format: str,
    groups: Groups,
    received_at: datetime,
    batch_id: str,
    seq: int,
    values: list[list],
) -> list[list]:
    """The submissions rows of one file's groups; their values are added to `values`, one list
    per column (VALUE_COLUMNS)."""
    submissions = []
    ids, *cells = values
    for offset, ((unit_code, period), rows) in enumerate(groups):
        submission_id = hashlib.sha256(f"{sha256}|{unit_code}|{period}".encode()).hexdigest()[:32]
        submissions.append(
            [
                submission_id,
                sha256,
                unit_code,
                period,
                file_format,
                name,
                received_at,
                batch_id,
                seq + offset,
            ]
        )
        ids += [submission_id] * len(rows)
        for column, column_cells in zip(cells, zip(*rows, strict=True), strict=True):
            column += column_cells
    return submissions


_TYPES: dict[int, dict[str, str]] = {}


def _value_types() -> dict[str, str]:
    from tonghop.catalog import load_catalog

    # Looked up once per catalog, not once per value: 2.4 million values at 60,000 units.
    catalog = load_catalog()
    if id(catalog) not in _TYPES:
        _TYPES.clear()
        _TYPES[id(catalog)] = {ind.code: ind.value_type for ind in catalog}
    return _TYPES[id(catalog)]


def _value_type(code: str) -> str | None:
    return _value_types().get(code)


# A new file to parse (name, bytes, why it must not be parsed) and what parsing it gave:
# ("rejected", reason) or ("loaded", file_format, groups, warnings). Plain tuples of str,
# bytes and lists: they cross to worker processes and other machines as they are.
Received = tuple[str, bytes, str | None]
Outcome = tuple
# Parses chunks of new files elsewhere (a Prefect task runner, tonghop.runners): takes the
# chunks in order, yields each chunk's outcomes (`read_chunk`) in the same order.
ParseChunks = Callable[[Iterator[list[Received]]], Iterator[list[Outcome]]]


def _read_file(item: Received) -> Outcome:
    """Parse one received file: ("rejected", reason) or ("loaded", format, groups, warnings)."""
    name, data, problem = item
    try:
        if problem:
            raise UnreadableFile(problem)
        if _is_csv(name):
            return ("loaded", "csv", *_csv_groups(name, data))
        parsed = parse_file(name, data)
    except UnreadableFile as exc:
        return ("rejected", str(exc))
    groups = read_values(name, parsed)
    return ("loaded", parsed.file_format, groups, parsed.warnings)


def read_chunk(items: list[Received]) -> list[Outcome]:
    """Parse a chunk of new files, one outcome per file: a pure function of their bytes."""
    return [_read_file(item) for item in items]


# Files archived and parsed together; also one parse task's share.
CHUNK_FILES = 500
# Chunks are written together, in one transaction, once they hold this many values (and at the
# end): from a row group's worth (122,880 rows) DuckDB writes appended rows straight into the
# file, not into its log first to copy them again when it checkpoints. At 60,000 units (20,000
# values a chunk) writing took 5.1-6.0 s instead of 8.3-8.5 s of the collect process's time.
WRITE_MIN_VALUES = 150_000

VALUE_COLUMNS = ("submission_id", "indicator_code", "raw_value", "value", "location", "note")


def _write(con: duckdb.DuckDBPyConnection, rows: _Rows) -> None:
    with transaction(con):
        insert_rows(con, "received_files", rows.files)
        insert_rows(con, "submissions", rows.submissions)
        insert_columns(con, "submitted_values", rows.values)
        insert_rows(con, "file_sightings", rows.sightings)


def collect(
    con: duckdb.DuckDBPyConnection,
    workspace: Path,
    files: list[SourceFile],
    batch_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_files: int = CHUNK_FILES,
    parse: ParseChunks | None = None,
    parse_forms: bool = False,
) -> CollectResult:
    """Archive, parse and load every new file; a file already received (same sha256) is skipped.

    Every new file is archived: before it is parsed, or for a big batch by a process of its
    own while this one parses (`_archiver`). Its rows are written together with its
    `received_files` row, in one transaction for whole chunks of files (`WRITE_MIN_VALUES`),
    and only once those chunks' archived bytes are on disk: a crash leaves every file wholly
    loaded or not at all, and a rerun completes the job without counting twice. By default
    files are parsed here, one chunk at a time; with `parse`, the chunks of new files are
    parsed by it instead (on a task runner's workers); archiving, `seq` and every write still
    happen here, in file order, so the rows are the same whoever parsed them. The forms
    (every new file but CSV) are read by the archiver, after archiving them
    (`archive_and_read`), unless `parse_forms` says they are parsed with the CSVs (a cluster
    with cores to spare).
    """
    with _gc_paused(), _checkpoints_deferred(con):
        return _collect(con, workspace, files, batch_id, progress, chunk_files, parse, parse_forms)


# How much DuckDB may write to its log (WAL) during collect before it checkpoints.
COLLECT_CHECKPOINT_THRESHOLD = "1GB"


@contextlib.contextmanager
def _checkpoints_deferred(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let DuckDB checkpoint after collect rather than every 16 MB of its log during it.

    Each commit is still durable in the log. At DuckDB's default, a big batch checkpointed
    every few chunks, rewriting the tables and their keys each time and competing with the
    archive for the disk (60,000 units: writing 10.5-11.5 s, 7.0-8.0 s deferred, plus one
    checkpoint of 1.3-1.5 s when the connection closes). Until then the rows loaded stay in
    memory too; the threshold bounds that.
    """
    (before,) = con.execute("select current_setting('checkpoint_threshold')").fetchone()
    con.execute(f"set checkpoint_threshold = '{COLLECT_CHECKPOINT_THRESHOLD}'")
    try:
        yield
    finally:
        # a connection broken by the failure being raised must not hide it
        with contextlib.suppress(duckdb.Error):
            con.execute(f"set checkpoint_threshold = '{before}'")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector, as it was before afterwards.

    Collect makes millions of small lists (values) that live until their chunk is written;
    the collector scanning them again and again cost 10 % of collect at 60,000 units. They
    hold no cycles, so nothing waits on the collector meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _collect(
    con: duckdb.DuckDBPyConnection,
    workspace: Path,
    files: list[SourceFile],
    batch_id: str | None,
    progress: Callable[[int, int], None] | None,
    chunk_files: int,
    parse: ParseChunks | None,
    parse_forms: bool,
) -> CollectResult:
    result = CollectResult(batch_id=batch_id or uuid.uuid4().hex[:12])
    known = dict(con.execute("select sha256, status from received_files").fetchall())
    reasons = dict(
        con.execute(
            "select sha256, [reason, archive_path] from received_files where status = 'rejected'"
        ).fetchall()
    )
    seq = con.execute("select coalesce(max(seq), 0) + 1 from submissions").fetchone()[0]
    pending = _Rows()
    windows = [files[start : start + chunk_files] for start in range(0, len(files), chunk_files)]
    window_hashes = [[hashlib.sha256(f.data).hexdigest() for f in w] for w in windows]
    window_new = _first_sightings(window_hashes, known)
    # Each window's new files: those parsed here or by `parse`, and the forms the archiver reads.
    split = [_split(w, new, parse_forms) for w, new in zip(windows, window_new, strict=True)]
    chunks = ([_received(w[i]) for i in here] for w, (here, _) in zip(windows, split, strict=True))
    # Lazy: the default parser reads a window only when the loop asks for its outcomes.
    outcomes = parse(chunks) if parse is not None else map(read_chunk, chunks)
    done = 0
    archiver = _archiver(sum(len(new) for new in window_new))
    jobs = (
        _archive_job(archiver, workspace, w, hashes, new, forms)
        for w, hashes, new, (_, forms) in zip(
            windows, window_hashes, window_new, split, strict=True
        )
    )
    ahead = deque(itertools.islice(jobs, ARCHIVE_AHEAD))
    archiving: list[Future] = []
    try:
        for window, hashes, new, (here, forms) in zip(
            windows, window_hashes, window_new, split, strict=True
        ):
            job = ahead.popleft()
            ahead.extend(itertools.islice(jobs, 1))
            archiving.append(job)
            archived = {hashes[i]: archive_path(hashes[i], window[i].name) for i in new}
            read = dict(zip(here, next(outcomes), strict=True))
            if forms:
                read.update(zip(forms, job.result(), strict=True))
            for i, (source_file, sha256) in enumerate(zip(window, hashes, strict=True)):
                result.seen += 1
                now = datetime.now()
                pending.sightings.append([sha256, source_file.name, now, result.batch_id])
                if i not in read:
                    result.skipped.append(source_file.name)
                else:
                    warnings: list[str] = []
                    outcome = read[i]
                    if outcome[0] == "rejected":
                        status, reason = "rejected", outcome[1]
                        reasons[sha256] = [reason, archived[sha256]]
                    else:
                        status, reason = "loaded", None
                        _, file_format, groups, warnings = outcome
                        subs = _rows_of(
                            sha256,
                            source_file.name,
                            file_format,
                            groups,
                            now,
                            result.batch_id,
                            seq,
                            pending.values,
                        )
                        seq += len(subs)
                        pending.submissions += subs
                        result.loaded.append(source_file.name)
                    pending.files.append(
                        [
                            sha256,
                            archived[sha256],
                            source_file.name,
                            len(source_file.data),
                            now,
                            status,
                            reason,
                            warnings,
                        ]
                    )
                    known[sha256] = status
                if known[sha256] == "rejected":
                    reason, archived_as = reasons[sha256]
                    result.rejected.append(
                        {
                            "file": source_file.name,
                            "archived_as": archived_as,
                            "sha256": sha256,
                            "reason": reason,
                        }
                    )
                done += 1
                if progress:
                    progress(done, len(files))
            if len(pending.values[0]) >= WRITE_MIN_VALUES:
                _wait(archiving)
                archiving = []
                _write(con, pending)
                pending = _Rows()
        _wait(archiving)
        _write(con, pending)
    except BaseException:
        # What was received is kept even when loading fails (the rerun loads it): the archive
        # finishes the files it was given.
        for future in [*archiving, *ahead]:
            with contextlib.suppress(Exception):
                future.result()
        raise
    finally:
        archiver.shutdown()
    return result


# From this many new files the archive is written by a process of its own (`_archiver`).
ARCHIVE_PROCESS_MIN_FILES = 2000


def _archiver(new_files: int) -> Executor:
    """Who writes the archive: a process of its own for a big batch, else this thread.

    A process writes the archive while this one parses and writes rows: it waits on the disk,
    this one on the processor (at 60,000 units, collect 81-87 s -> 31-40 s). Not a thread: it
    would wait for the interpreter lock after every system call, while parsing holds it. A
    chunk's rows are still written only once its files are durable in the archive.
    """
    if new_files < ARCHIVE_PROCESS_MIN_FILES:
        return _InThisThread()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method))


class _InThisThread(Executor):
    """Runs what it is given at once, in the caller's thread (a done Future)."""

    def submit(self, fn: Callable, /, *args: object, **kwargs: object) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # handed to whoever waits, as a pool would; an interrupt is not
            future.set_exception(exc)
        return future


# Chunks given to the archiver before the loop reaches them, so that it is never idle.
ARCHIVE_AHEAD = 3


def _is_csv(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() == ".csv"


def _received(file: SourceFile) -> Received:
    return (file.name, file.data, file.problem)


def _split(window: list[SourceFile], new: list[int], parse_forms: bool) -> tuple[list, list]:
    """The positions of a window's new files parsed by collect (or `parse`): the CSVs, or
    every one with `parse_forms`; and those the archiver reads: the forms."""
    here, forms = [], []
    for i in new:
        (here if parse_forms or _is_csv(window[i].name) else forms).append(i)
    return here, forms


def _archive_job(
    archiver: Executor,
    workspace: Path,
    window: list[SourceFile],
    hashes: list[str],
    new: list[int],
    forms: list[int],
) -> Future:
    """Give a window's new files to the archiver, and its `forms` to read as well: the
    future's result is their outcomes, in order, once every new file is archived."""
    received = [(hashes[i], window[i].name, window[i].data) for i in new]
    return archiver.submit(
        archive_and_read, workspace, received, [_received(window[i]) for i in forms]
    )


def archive_and_read(
    workspace: Path, received: list[tuple[str, str, bytes]], items: list[Received]
) -> list[Outcome]:
    """Archive received files (`archive_files`), then parse `items` (`read_chunk`).

    The archive process of a big batch reads its forms: a form costs ~15 times a CSV to parse
    (2.6 against 0.17 ms), and that process has a core of its own. At 60,000 units (3,000
    forms) the two processes are then about as busy, and collect took 21.3 s instead of 29.5 s
    (medians of 4)."""
    archive_files(workspace, received)
    return read_chunk(items)


def archive_files(workspace: Path, received: list[tuple[str, str, bytes]]) -> None:
    """Archive received (sha256, name, bytes) together: staged, then made durable at once."""
    staged: list[StagedFile] = []
    root, tag = os.fspath(workspace), uuid.uuid4().hex
    try:
        for n, (sha256, name, data) in enumerate(received):
            file = stage_file(root, archive_path(sha256, name), data, f"{tag}.{n}")
            if file:
                staged.append(file)
    except BaseException:
        with contextlib.suppress(OSError):
            make_durable(staged)
        raise
    make_durable(staged)


def _wait(futures: list[Future]) -> None:
    for future in futures:
        future.result()


def _first_sightings(window_hashes: list[list[str]], known: dict[str, str]) -> list[list[int]]:
    """For each window, the positions of the files to parse: first sightings of a new hash.

    >>> _first_sightings([["a", "b", "a"], ["b", "c"]], {"a": "loaded"})
    [[1], [1]]
    """
    seen = set(known)
    out = []
    for hashes in window_hashes:
        new = []
        for i, sha256 in enumerate(hashes):
            if sha256 not in seen:
                seen.add(sha256)
                new.append(i)
        out.append(new)
    return out
