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
OPTIONAL_COLUMNS = ("contact_email",)


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
        )
    if not units:
        raise RegistryError(f"Tệp danh mục '{path}' không có đơn vị nào")
    return list(units.values())


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


def _contacts_table(con: duckdb.DuckDBPyConnection) -> None:
    # Contacts live beside registry_units, whose columns other readers rely on (SPEC §4.1).
    con.execute(
        "create table if not exists unit_contacts "
        "(unit_code varchar primary key, contact_email varchar not null)"
    )


def store_registry(con: duckdb.DuckDBPyConnection, units: list[Unit]) -> bool:
    """Replace the workspace's registry with this one, in one transaction; False when it
    already held exactly this one (nothing is written: every run loads the registry, and
    rewriting every keyed row each time would cost more than comparing them)."""
    _contacts_table(con)
    rows = [[u.unit_code, u.name, u.sector, u.form, u.valid_from, u.valid_to] for u in units]
    contacts = [[u.unit_code, u.contact_email] for u in units if u.contact_email]
    if _holds(con, "registry_units", rows) and _holds(con, "unit_contacts", contacts):
        return False
    with transaction(con):
        con.execute("delete from registry_units")
        # one statement, not executemany's one per unit
        insert_rows(con, "registry_units", rows)
        con.execute("delete from unit_contacts")
        insert_rows(con, "unit_contacts", contacts)
    return True


def registry_signature(con: duckdb.DuckDBPyConnection) -> list:
    """The registry's row count and a sum of its rows' hashes: equal for the same units, in
    whatever order they were stored (for the validation and consolidation fingerprints)."""
    row = con.execute(
        "select count(*), coalesce(sum(hash(unit_code, name, sector, form, valid_from, "
        "valid_to)), 0)::varchar from registry_units"
    ).fetchone()
    return list(row)


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
