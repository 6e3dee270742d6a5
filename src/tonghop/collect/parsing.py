"""Parsing one received file by its kind, as a pure function of its bytes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from tonghop.collect.csv_long import _csv_groups, parse_csv
from tonghop.collect.values import read_values
from tonghop.intake import check_xlsx, decode_text
from tonghop.parse import ParsedFile, UnreadableFile
from tonghop.settings import IntakeSettings

LIMITS = IntakeSettings()


def parse_file(name: str, data: bytes, limits: IntakeSettings = LIMITS) -> ParsedFile:
    """Parse a received file by its kind; raise UnreadableFile with the reason otherwise."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".csv":
        return parse_csv(name, data, limits)
    if not data.strip():
        raise UnreadableFile(f"Tệp '{name}' rỗng (0 byte), không có dữ liệu.")
    if suffix == ".xlsx":
        from tonghop.forms import read_form

        _check_not_text(name, data)
        cells = check_xlsx(name, data, limits)
        with _as_temporary_file(data, suffix) as path:
            try:
                parsed = read_form(path, cells.formulas, cells.errors)
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
    if suffix in (".ods", ".fods"):
        raise UnreadableFile(
            f"Tệp '{name}' là bảng tính LibreOffice/OpenOffice ({suffix}); tonghop chỉ đọc biểu "
            "mẫu .xlsx do tonghop tạo: đề nghị mở biểu mẫu .xlsx, điền và lưu lại đúng dạng "
            ".xlsx (Lưu thành > Excel 2007-365)."
        )
    raise UnreadableFile(
        f"Tệp '{name}' có định dạng không được hỗ trợ ('{suffix or 'không có đuôi'}'); "
        "chỉ nhận tệp .csv (dạng dài) hoặc biểu mẫu .xlsx do tonghop tạo."
    )


def _check_not_text(name: str, data: bytes) -> None:
    """Refuse a long CSV given the .xlsx suffix (renamed, not converted), saying so."""
    if data.startswith(b"PK") or data.startswith(b"\xd0\xcf\x11\xe0"):
        return
    head, _ = decode_text(data[:4096])
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in head)
    if "unit_code" in head.lower() or (head and printable >= 0.95 * len(head)):
        raise UnreadableFile(
            f"Tệp '{name}' là tệp văn bản (CSV) nhưng mang đuôi .xlsx (đổi tên, không chuyển "
            "dạng); đề nghị gửi lại với đúng đuôi .csv, hoặc dùng biểu mẫu .xlsx do tonghop tạo."
        )


def _memory_tmp() -> str | None:
    """A folder in memory for the temporary copies, when the machine has one (Linux)."""
    folder = "/dev/shm"
    return folder if os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK) else None


# Creating and removing a temporary file in memory costs far less than on disk.
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


# A new file to parse (name, bytes, why it must not be parsed, and optionally the limits it is
# parsed within, `IntakeSettings`: the defaults without) and what parsing it gave:
# ("rejected", reason) or ("loaded", file_format, groups, warnings). Plain tuples of str,
# bytes and lists: they cross to worker processes and other machines as they are.
Received = tuple[str, bytes, str | None] | tuple[str, bytes, str | None, IntakeSettings]
Outcome = tuple
# Parses chunks of new files elsewhere (a Prefect task runner, tonghop.runners): takes the
# chunks in order, yields each chunk's outcomes (`read_chunk`) in the same order.
ParseChunks = Callable[[Iterator[list[Received]]], Iterator[list[Outcome]]]


def _read_file(item: Received) -> Outcome:
    """Parse one received file: ("rejected", reason) or ("loaded", format, groups, warnings)."""
    name, data, problem, *within = item
    limits = within[0] if within else LIMITS
    try:
        if problem:
            raise UnreadableFile(problem)
        if _is_csv(name):
            return ("loaded", "csv", *_csv_groups(name, data, limits))
        parsed = parse_file(name, data, limits)
        groups = read_values(name, parsed)
    except UnreadableFile as exc:
        return ("rejected", str(exc))
    except Exception as exc:  # noqa: BLE001 - one file's surprise must not stop the run
        return ("rejected", _unexpected(name, exc))
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":  # a Rust reader's panic (pyo3)
            raise
        return ("rejected", _unexpected(name, exc))
    return ("loaded", parsed.file_format, groups, parsed.warnings)


def _unexpected(name: str, exc: BaseException) -> str:
    """The reason for a file no check foresaw: said, with the error, for the operator."""
    return (
        f"Tệp '{name}' gây lỗi không lường trước khi đọc ({type(exc).__name__}: {exc}); tệp "
        "được lưu nhưng không đọc. Đề nghị báo cho người vận hành tonghop."
    )


def read_chunk(items: list[Received]) -> list[Outcome]:
    """Parse a chunk of new files, one outcome per file: a pure function of their bytes."""
    return [_read_file(item) for item in items]


def _is_csv(name: str) -> bool:
    """Whether a name's suffix is `.csv` (PurePosixPath's, cheaper: asked of every file).

    >>> _is_csv("2024/a.CSV"), _is_csv(".csv"), _is_csv("a/.csv"), _is_csv("a.csv.xlsx")
    (True, False, False, False)
    """
    if name.endswith(("/", "/.")):
        return PurePosixPath(name).suffix.lower() == ".csv"
    base = name.rpartition("/")[2]
    return len(base) > 4 and base[-4:].lower() == ".csv"
