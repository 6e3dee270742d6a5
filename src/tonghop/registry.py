"""The unit registry (SPEC §4.1): every TCCSĐ with its sector, form and validity dates."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from tonghop.catalog import REGISTRY_FORMS, REGISTRY_SECTORS, SECTORS
from tonghop.collect import nfc
from tonghop.db import insert_rows, transaction

REGISTRY_COLUMNS = ("unit_code", "name", "sector", "form", "valid_from", "valid_to")
# Optional columns: a registry without them loads as before (SPEC §4.1).
OPTIONAL_COLUMNS = ("contact_email", "predecessors", "end_reason")
# Why a unit left the bloc's registry (SPEC §4.1 `end_reason`), as a steward reads it.
END_REASONS = {
    "merged": "sáp nhập",
    "split": "chia tách",
    "transferred_out": "chuyển khỏi Khối",
    "dissolved": "giải thể",
}


class RegistryError(ValueError):
    """A registry that cannot be used; the message is Vietnamese and names the line."""


@dataclass(frozen=True)
class Unit:
    unit_code: str
    name: str
    sector: str
    form: str
    valid_from: date
    valid_to: date | None
    contact_email: str | None = None
    # the units whose organisations and members this one took over (SPEC §4.1), and why this
    # one ended
    predecessors: tuple[str, ...] = ()
    end_reason: str | None = None

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or self.valid_to >= day)


def _date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise RegistryError(f"{where}: ngày '{text}' không đúng dạng YYYY-MM-DD") from exc


def read_registry(path: Path) -> list[Unit]:
    """Read and check a registry CSV; raise RegistryError naming the file and line."""
    text = _read(path).decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in REGISTRY_COLUMNS if c not in header]
    if missing:
        raise RegistryError(f"Tệp danh mục '{path}', dòng 1: thiếu cột {', '.join(missing)}")
    at = {c: header.index(c) for c in REGISTRY_COLUMNS + OPTIONAL_COLUMNS if c in header}
    units: dict[str, Unit] = {}
    lines: dict[str, str] = {}
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"Tệp danh mục '{path}', dòng {line_no}"
        cell = {c: nfc(row[i]).strip() if i < len(row) else "" for c, i in at.items()}
        if not cell["unit_code"]:
            raise RegistryError(f"{where}: thiếu mã đơn vị")
        if cell["sector"] not in REGISTRY_SECTORS:
            raise RegistryError(
                f"{where}: khối '{cell['sector']}' không hợp lệ ({', '.join(REGISTRY_SECTORS)})"
            )
        if cell["form"] not in REGISTRY_FORMS:
            raise RegistryError(
                f"{where}: loại hình '{cell['form']}' không hợp lệ ({', '.join(REGISTRY_FORMS)})"
            )
        if cell["unit_code"] in units:
            raise RegistryError(f"{where}: mã đơn vị '{cell['unit_code']}' bị trùng")
        units[cell["unit_code"]] = Unit(
            unit_code=cell["unit_code"],
            name=cell["name"],
            sector=cell["sector"],
            form=cell["form"],
            valid_from=_date(cell["valid_from"], where),
            valid_to=_date(cell["valid_to"], where) if cell["valid_to"] else None,
            contact_email=cell.get("contact_email") or None,
            predecessors=tuple(
                p for p in (part.strip() for part in cell.get("predecessors", "").split(";")) if p
            ),
            end_reason=_end_reason(cell.get("end_reason", ""), cell["valid_to"], where),
        )
        lines[cell["unit_code"]] = where
    if not units:
        raise RegistryError(f"Tệp danh mục '{path}' không có đơn vị nào")
    _check_history(units, lines)
    return list(units.values())


def _end_reason(text: str, valid_to: str, where: str) -> str | None:
    if not text:
        return None
    if text not in END_REASONS:
        raise RegistryError(
            f"{where}: lý do kết thúc '{text}' không hợp lệ ({', '.join(END_REASONS)})"
        )
    if not valid_to:
        raise RegistryError(f"{where}: có lý do kết thúc '{text}' nhưng không có ngày kết thúc")
    return text


def _check_history(units: dict[str, Unit], lines: dict[str, str]) -> None:
    """Each predecessor is a unit of the registry that ended before its successor took it
    over, and not the successor itself."""
    for unit in units.values():
        for code in unit.predecessors:
            where = lines[unit.unit_code]
            before = units.get(code)
            if before is None:
                raise RegistryError(f"{where}: đơn vị tiền thân '{code}' không có trong danh mục")
            if code == unit.unit_code:
                raise RegistryError(f"{where}: đơn vị không thể là tiền thân của chính nó")
            if before.valid_to is None:
                raise RegistryError(
                    f"{where}: đơn vị tiền thân '{code}' chưa có ngày kết thúc (valid_to)"
                )


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise RegistryError(f"Không tìm thấy tệp danh mục đơn vị '{path}'")
    return path.read_bytes()


def registry_key(path: Path) -> str:
    """What the registry at `path` is, as `load_registry_file` compares it: its bytes and the
    code that reads and checks them (a change to the checks reads every file again).
    RegistryError when there is no such file."""
    return hashlib.sha256(_read(path) + _reader_version().encode()).hexdigest()


@functools.cache
def _reader_version() -> str:
    source = (
        Path(__file__).read_bytes() + repr((SECTORS, REGISTRY_SECTORS, REGISTRY_FORMS)).encode()
    )
    return hashlib.sha256(source).hexdigest()


def load_registry_file(con: duckdb.DuckDBPyConnection, path: Path, key: str | None = None) -> int:
    """Store the registry CSV at `path` (`read_registry`, `store_registry`); its number of units.

    Every run loads the registry. When this very file (`registry_key`, or `key` when the caller
    has it) was the last one stored, and the workspace's registry is still what was stored
    then, nothing is read or compared again (reading and comparing grow with the units).
    """
    key = key or registry_key(path)
    last = con.execute("select key, signature, units from registry_loaded").fetchone()
    if last and last[0] == key and last[1] == _stored_signature(con):
        return last[2]
    units = read_registry(path)
    store_registry(con, units)
    with transaction(con):
        con.execute("delete from registry_loaded")
        con.execute(
            "insert into registry_loaded values (?, ?, ?)",
            [key, _stored_signature(con), len(units)],
        )
    return len(units)


def _stored_signature(con: duckdb.DuckDBPyConnection) -> str:
    """`registry_signature` of the stored units, and the same of their contacts."""
    _contacts_table(con)
    contacts = con.execute(
        "select count(*), coalesce(sum(hash(unit_code, contact_email)), 0)::varchar "
        "from unit_contacts"
    ).fetchone()
    return json.dumps([registry_signature(con), list(contacts)])


def _history_rows(units: list[Unit]) -> tuple[list[list], list[list]]:
    predecessors = [[u.unit_code, p] for u in units for p in u.predecessors]
    reasons = [[u.unit_code, u.end_reason] for u in units if u.end_reason]
    return predecessors, reasons


def _contacts_table(con: duckdb.DuckDBPyConnection) -> None:
    # Contacts live beside registry_units, whose columns other readers rely on (SPEC §4.1).
    con.execute(
        "create table if not exists unit_contacts "
        "(unit_code varchar primary key, contact_email varchar not null)"
    )
    history_tables(con)


def history_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The registry's history beside `registry_units` (SPEC §4.1's optional columns): which
    units each took over (`unit_predecessors`) and why a unit ended (`unit_end_reasons`); empty
    for a registry without the columns."""
    con.execute(
        "create table if not exists unit_predecessors "
        "(unit_code varchar not null, predecessor varchar not null)"
    )
    con.execute(
        "create table if not exists unit_end_reasons "
        "(unit_code varchar primary key, end_reason varchar not null)"
    )


def history_sources(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """What to read the registry's history from: its tables, or empty relations of their
    columns in a workspace that has stored no registry since they exist (a reader's
    connection may not create them)."""
    present = {
        row[0]
        for row in con.execute(
            "select table_name from duckdb_tables() "
            "where database_name = current_database() and schema_name = 'main'"
        ).fetchall()
    }
    empty = {
        "unit_predecessors": "(select ''::varchar as unit_code, ''::varchar as predecessor "
        "where false)",
        "unit_end_reasons": "(select ''::varchar as unit_code, ''::varchar as end_reason "
        "where false)",
    }
    return {table: table if table in present else sql for table, sql in empty.items()}


def store_registry(con: duckdb.DuckDBPyConnection, units: list[Unit]) -> bool:
    """Replace the workspace's registry with this one, in one transaction; False when it
    already held exactly this one (nothing is written: every run loads the registry, and
    rewriting every keyed row each time would cost more than comparing them)."""
    _contacts_table(con)
    rows = [[u.unit_code, u.name, u.sector, u.form, u.valid_from, u.valid_to] for u in units]
    contacts = [[u.unit_code, u.contact_email] for u in units if u.contact_email]
    predecessors, reasons = _history_rows(units)
    tables = {
        "registry_units": rows,
        "unit_contacts": contacts,
        "unit_predecessors": predecessors,
        "unit_end_reasons": reasons,
    }
    if all(_holds(con, table, held) for table, held in tables.items()):
        return False
    with transaction(con):
        for table, held in tables.items():
            con.execute(f"delete from {table}")
            # one statement, not executemany's one per unit
            insert_rows(con, table, held)
    return True


def registry_signature(con: duckdb.DuckDBPyConnection) -> list:
    """The registry's row count and a sum of its rows' hashes: equal for the same units, in
    whatever order they were stored (for the validation and consolidation fingerprints)."""
    row = con.execute(
        "select count(*), coalesce(sum(hash(unit_code, name, sector, form, valid_from, "
        "valid_to)), 0)::varchar from registry_units"
    ).fetchone()
    tables = history_sources(con)
    (history,) = con.execute(
        "select coalesce(sum(h), 0)::varchar from ("
        f"select hash(unit_code, predecessor) as h from {tables['unit_predecessors']} "
        f"union all select hash(unit_code, end_reason) from {tables['unit_end_reasons']})"
    ).fetchone()
    # a registry without history signs as it did before the history was kept
    return list(row) if history == "0" else [*row, history]


def _holds(con: duckdb.DuckDBPyConnection, table: str, rows: list[list]) -> bool:
    """Whether `table` holds exactly these rows (as a multiset)."""
    con.execute(f"create or replace temp table _tonghop_new as select * from {table} limit 0")
    try:
        insert_rows(con, "_tonghop_new", rows)
        (differ,) = con.execute(
            f"select count(*) from ((select * from _tonghop_new except all select * from {table})"
            f" union all (select * from {table} except all select * from _tonghop_new))"
        ).fetchone()
    finally:
        con.execute("drop table if exists _tonghop_new")
    return differ == 0
