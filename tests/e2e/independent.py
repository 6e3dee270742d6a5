"""Read submissions the plain way (csv module, openpyxl) to check tonghop's figures against.

Deliberately shares no code with tonghop's collector: it is the independent computation.
"""

from __future__ import annotations

import csv
import unicodedata
from collections import defaultdict
from datetime import date
from pathlib import Path

import openpyxl


def read_registry(path: Path) -> dict[str, dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return {row["unit_code"]: row for row in csv.DictReader(handle)}


def active(unit: dict, day: date) -> bool:
    start = date.fromisoformat(unit["valid_from"])
    end = date.fromisoformat(unit["valid_to"]) if unit["valid_to"] else None
    return start <= day and (end is None or end >= day)


def _values_csv(path: Path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            yield row["unit_code"], row["period"], row["indicator_code"], row["value"]


def _values_xlsx(path: Path):
    sheet = openpyxl.load_workbook(path, read_only=True, data_only=True)["BaoCao"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    unit = period = None
    header_at = None
    for i, row in enumerate(rows):
        cells = [unicodedata.normalize("NFC", str(c)).strip() if c is not None else "" for c in row]
        for j, cell in enumerate(cells):
            if cell.startswith("Mã đơn vị"):
                unit = next(str(c) for c in row[j + 1 :] if c not in (None, ""))
            if cell.startswith("Kỳ báo cáo"):
                period = next(str(c) for c in row[j + 1 :] if c not in (None, ""))
        if "Mã chỉ tiêu" in cells and "Giá trị" in cells:
            header_at = i
            code_col, value_col = cells.index("Mã chỉ tiêu"), cells.index("Giá trị")
            break
    assert header_at is not None and unit and period, path
    for row in rows[header_at + 1 :]:
        if row[code_col] and row[value_col] not in (None, ""):
            yield unit, period, str(row[code_col]), str(row[value_col])


def read_values(folder: Path) -> dict[tuple[str, str], dict[str, float]]:
    """{(unit, period): {indicator: value}} for every readable file below `folder`."""
    out: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".csv":
            rows = _values_csv(path)
        elif path.suffix == ".xlsx":
            try:
                rows = list(_values_xlsx(path))
            except Exception:  # noqa: BLE001 - a deliberately corrupt file
                continue
        else:
            continue
        try:
            for unit, period, code, value in rows:
                out[(unit, period)][code] = float(value)
        except (KeyError, ValueError):
            continue
    return out
