"""Collect: list a source, archive every file untouched, parse it, load it into DuckDB."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import duckdb
import fsspec
import fsspec.implementations.local

from tonghop.db import insert_rows, transaction
from tonghop.intake import check_xlsx, decode_text
from tonghop.numbers import read_number
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
    return unicodedata.normalize("NFC", text)


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
    root_path = PurePosixPath(root)
    local = isinstance(fs, fsspec.implementations.local.LocalFileSystem)
    paths = _local_files(root) if local else sorted(fs.find(root))
    files = []
    for path in paths:
        relative = PurePosixPath(path).relative_to(root_path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if local and os.path.islink(path):
            target = os.readlink(path)
            files.append(
                SourceFile(
                    str(relative),
                    target.encode(),
                    problem=(
                        f"Tệp '{relative}' là liên kết tượng trưng tới '{target}': tonghop "
                        "không đọc theo liên kết; đề nghị gửi chính tệp báo cáo."
                    ),
                )
            )
            continue
        try:
            with fs.open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            # Gone between listing and reading (a unit took its file back): not received;
            # the next run picks up whatever is there then.
            continue
        problem = None
        if len(data) > max_bytes:
            problem = (
                f"Tệp '{relative}' dung lượng {len(data):,} byte, vượt giới hạn {max_bytes:,} "
                "byte của một báo cáo; tệp được lưu nhưng không đọc."
            )
        files.append(SourceFile(str(relative), data, problem=problem))
    return files


def _local_files(root: str) -> list[str]:
    """Files below a local folder, sorted; links (to files or folders) listed, never followed."""
    out = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        dirs[:] = [d for d in dirs if d not in links]
        out += [os.path.join(folder, n) for n in [*names, *links]]
    return sorted(out)


def archive_file(workspace: Path, sha256: str, name: str, data: bytes) -> Path:
    """Store received bytes untouched under their hash; an archived file is never rewritten."""
    suffix = PurePosixPath(name).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
        suffix = ""
    target = workspace / "archive" / sha256[:2] / f"{sha256}{suffix}"
    if target.exists():
        return target.relative_to(workspace)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o444)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        raise
    return target.relative_to(workspace)


def parse_csv(name: str, data: bytes) -> ParsedFile:
    """Read a long CSV (SPEC §4.2): UTF-8 with or without BOM, header row, one value a row."""
    if not data.strip():
        raise UnreadableFile(f"Tệp '{name}' rỗng, không có dữ liệu.")
    if data.startswith(b"PK\x03\x04"):
        raise UnreadableFile(
            f"Tệp '{name}' là tệp Excel nhưng mang đuôi .csv; đề nghị gửi lại với đúng đuôi .xlsx."
        )
    text, encoding_note = decode_text(data)
    sample = text[:4096]
    delimiter = max((",", ";", "\t"), key=sample.split("\n", 1)[0].count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [nfc(h).strip().lower() for h in next(reader, [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise UnreadableFile(
            f"Tệp '{name}', dòng 1: thiếu cột {', '.join(missing)}; tiêu đề phải là "
            f"'{','.join(CSV_COLUMNS)}' (cột 'note' không bắt buộc)."
        )
    index = {c: header.index(c) for c in (*CSV_COLUMNS, "note") if c in header}
    values = []
    warnings = [f"Tệp '{name}': {encoding_note}"] if encoding_note else []
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            warnings.append(f"Tệp '{name}', dòng {line_no}: thiếu ô, dòng được đọc với ô trống.")
            row = row + [""] * (len(header) - len(row))
        note = nfc(row[index["note"]]).strip() if "note" in index else ""
        values.append(
            RawValue(
                unit_code=nfc(row[index["unit_code"]]).strip(),
                period=nfc(row[index["period"]]).strip(),
                indicator_code=nfc(row[index["indicator_code"]]).strip(),
                raw=nfc(row[index["value"]]).strip(),
                location=f"dòng {line_no}",
                note=note or None,
            )
        )
    if not values:
        raise UnreadableFile(f"Tệp '{name}' không có dòng số liệu nào sau dòng tiêu đề.")
    return ParsedFile(values=values, file_format="csv", warnings=warnings)


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


class _as_temporary_file:
    """python-calamine reads paths; hand it the received bytes in a private temporary file."""

    def __init__(self, data: bytes, suffix: str) -> None:
        self.data, self.suffix = data, suffix

    def __enter__(self) -> Path:
        import tempfile

        handle = tempfile.NamedTemporaryFile(suffix=self.suffix, delete=False)
        with handle:
            handle.write(self.data)
        self.path = Path(handle.name)
        return self.path

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class _Rows:
    """Rows of whole files waiting to be written together."""

    files: list[list] = field(default_factory=list)
    sightings: list[list] = field(default_factory=list)
    submissions: list[list] = field(default_factory=list)
    values: list[list] = field(default_factory=list)


def submission_rows(
    sha256: str, name: str, parsed: ParsedFile, received_at: datetime, batch_id: str, seq: int
) -> tuple[list[list], list[list]]:
    """The submissions and values rows of one parsed file.

    A file may hold several units or periods: each (unit, period) is one submission, and
    submissions get increasing `seq` in the order they arrived.
    """
    groups: dict[tuple[str, str], list[RawValue]] = {}
    for value in parsed.values:
        groups.setdefault((value.unit_code, value.period), []).append(value)
    submissions, values = [], []
    for offset, ((unit_code, period), rows) in enumerate(groups.items()):
        submission_id = hashlib.sha256(f"{sha256}|{unit_code}|{period}".encode()).hexdigest()[:32]
        submissions.append(
            [
                submission_id,
                sha256,
                unit_code,
                period,
                parsed.file_format,
                name,
                received_at,
                batch_id,
                seq + offset,
            ]
        )
        for r in rows:
            number, how = read_number(r.raw, _value_type(r.indicator_code))
            if how:
                parsed.warnings.append(f"Tệp '{name}', {r.location}: {how}.")
            values.append([submission_id, r.indicator_code, r.raw, number, r.location, r.note])
    return submissions, values


def _value_type(code: str) -> str | None:
    from tonghop.catalog import load_catalog

    catalog = load_catalog()
    return catalog[code].value_type if code in catalog else None


def _write(con: duckdb.DuckDBPyConnection, rows: _Rows) -> None:
    with transaction(con):
        insert_rows(con, "received_files", rows.files)
        insert_rows(con, "submissions", rows.submissions)
        insert_rows(con, "submitted_values", rows.values)
        insert_rows(con, "file_sightings", rows.sightings)


def collect(
    con: duckdb.DuckDBPyConnection,
    workspace: Path,
    files: list[SourceFile],
    batch_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_files: int = 500,
) -> CollectResult:
    """Archive, parse and load every new file; a file already received (same sha256) is skipped.

    Every file is archived before anything else. Its rows are written together with its
    `received_files` row, in one transaction for a chunk of whole files: a crash leaves every
    file wholly loaded or not at all, and a rerun completes the job without counting twice.
    """
    result = CollectResult(batch_id=batch_id or uuid.uuid4().hex[:12])
    known = dict(con.execute("select sha256, status from received_files").fetchall())
    reasons = dict(
        con.execute(
            "select sha256, [reason, archive_path] from received_files where status = 'rejected'"
        ).fetchall()
    )
    seq = con.execute("select coalesce(max(seq), 0) + 1 from submissions").fetchone()[0]
    pending = _Rows()
    for done, source_file in enumerate(files, start=1):
        result.seen += 1
        sha256 = hashlib.sha256(source_file.data).hexdigest()
        now = datetime.now()
        pending.sightings.append([sha256, source_file.name, now, result.batch_id])
        if sha256 in known:
            result.skipped.append(source_file.name)
        else:
            archived = archive_file(workspace, sha256, source_file.name, source_file.data)
            warnings: list[str] = []
            try:
                if source_file.problem:
                    raise UnreadableFile(source_file.problem)
                parsed = parse_file(source_file.name, source_file.data)
            except UnreadableFile as exc:
                status, reason = "rejected", str(exc)
                reasons[sha256] = [reason, archived.as_posix()]
            else:
                status, reason = "loaded", None
                subs, values = submission_rows(
                    sha256, source_file.name, parsed, now, result.batch_id, seq
                )
                seq += len(subs)
                warnings = parsed.warnings
                pending.submissions += subs
                pending.values += values
                result.loaded.append(source_file.name)
            pending.files.append(
                [
                    sha256,
                    archived.as_posix(),
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
        if len(pending.files) >= chunk_files:
            _write(con, pending)
            pending = _Rows()
        if progress:
            progress(done, len(files))
    _write(con, pending)
    return result
