"""The unit registry (SPEC §4.1): every TCCSĐ with its sector, form and validity dates."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from tonghop.catalog import REGISTRY_FORMS, SECTORS
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
    if not path.is_file():
        raise RegistryError(f"Không tìm thấy tệp danh mục đơn vị '{path}'")
    text = path.read_bytes().decode("utf-8-sig")
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
        if cell["sector"] not in SECTORS:
            raise RegistryError(
                f"{where}: khối '{cell['sector']}' không hợp lệ ({', '.join(SECTORS)})"
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


def store_registry(con: duckdb.DuckDBPyConnection, units: list[Unit]) -> bool:
    """Replace the workspace's registry with this one, in one transaction; False when it
    already held exactly this one (nothing is written: every run loads the registry, and
    rewriting 60,000 keyed rows took 3 s)."""
    # Contacts live beside registry_units, whose columns other readers rely on (SPEC §4.1).
    con.execute(
        "create table if not exists unit_contacts "
        "(unit_code varchar primary key, contact_email varchar not null)"
    )
    rows = [[u.unit_code, u.name, u.sector, u.form, u.valid_from, u.valid_to] for u in units]
    contacts = [[u.unit_code, u.contact_email] for u in units if u.contact_email]
    if _holds(con, "registry_units", rows) and _holds(con, "unit_contacts", contacts):
        return False
    with transaction(con):
        con.execute("delete from registry_units")
        # one statement, not executemany's one per unit (1 s at 1,000 units, measured)
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
