"""Outside figures (SPEC §3): province statistics a report quotes from another agency's
document, given by the office in a sourced-figures file (`so-lieu-ngoai.yaml`, named by the
settings' `external_figures`), each with its value, the document it was copied from and that
document's date. `catalog/external.yaml` names the figures the draft prints.

A file or entry that cannot be used is reported in Vietnamese naming the file and the entry;
the run goes on with the entries that can, and a figure without a usable entry stays a
placeholder naming what is missing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tonghop.formatting import nfc
from tonghop.paths import CATALOG_DIR

EXTERNAL_CATALOG = "external.yaml"


@dataclass(frozen=True)
class ExternalSpec:
    """A figure the draft quotes from another agency (`catalog/external.yaml`)."""

    id: str
    label: str
    unit: str
    decimals: int
    origin: str  # the agency whose document an office usually copies it from


@dataclass(frozen=True)
class ExternalValue:
    """One entry of the sourced-figures file."""

    id: str
    value: float | int
    source: str
    date: dt.date


@cache
def external_specs() -> dict[str, ExternalSpec]:
    """The outside figures the draft prints, by id."""
    data = yaml.safe_load((CATALOG_DIR / EXTERNAL_CATALOG).read_text(encoding="utf-8"))
    return {
        f["id"]: ExternalSpec(f["id"], f["label"], f["unit"], int(f.get("decimals", 0)), f["from"])
        for f in data["figures"]
    }


def _entry(
    raw: Any, where: str, specs: dict[str, ExternalSpec]
) -> tuple[ExternalValue | None, str | None]:
    """One entry read and checked: the value, or why it cannot be used."""
    if not isinstance(raw, dict):
        return None, f"{where}: cần các khóa id, value, source, date"
    fid = str(raw.get("id") or "").strip()
    if fid not in specs:
        known = ", ".join(specs)
        return None, f"{where}: mã số liệu '{fid}' không có trong danh mục ({known})"
    where = f"{where} ({fid})"
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"{where}: giá trị '{value}' không phải là số (dấu chấm là dấu thập phân)"
    source = nfc(str(raw.get("source") or "")).strip()
    if not source:
        return None, f"{where}: thiếu nguồn (source: tên, số, ký hiệu văn bản trích số liệu)"
    when = raw.get("date")
    if isinstance(when, str):
        try:
            when = dt.date.fromisoformat(when.strip())
        except ValueError:
            when = None
    if not isinstance(when, dt.date):
        return None, f"{where}: ngày văn bản '{raw.get('date')}' không hợp lệ (dạng YYYY-MM-DD)"
    return ExternalValue(fid, value, source, when), None


def load_external(path: Path | None) -> tuple[dict[str, ExternalValue], list[str]]:
    """The usable entries of a sourced-figures file by id, and a message for each problem
    (an absent setting gives neither)."""
    if path is None:
        return {}, []
    name = f"Tệp số liệu ngoài '{path}'"
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError:
        return {}, [f"{name}: không đọc được tệp"]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", dòng {mark.line + 1}" if mark is not None else ""
        return {}, [f"{name}{line}: không đúng cú pháp YAML"]
    entries = data.get("figures") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return {}, [f"{name}: cần danh sách 'figures:' (mỗi mục: id, value, source, date)"]
    specs = external_specs()
    found: dict[str, ExternalValue] = {}
    problems: list[str] = []
    for n, raw in enumerate(entries, start=1):
        entry, problem = _entry(raw, f"{name}, mục {n}", specs)
        if problem:
            problems.append(problem)
        elif entry is not None and entry.id in found:
            problems.append(f"{name}, mục {n} ({entry.id}): trùng với một mục trước, bỏ qua")
        elif entry is not None:
            found[entry.id] = entry
    return found, problems
