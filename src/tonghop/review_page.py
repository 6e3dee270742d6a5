"""The steward's page of a run: `kiem-tra.html` (findings grouped by unit) and `kiem-tra.csv`.

Everything shown comes from the data and is only ever displayed: the HTML goes through the
sandboxed, autoescaping environment of `tonghop.report.templates`, and every CSV cell that a
spreadsheet would read as a formula is neutralised (`formatting.csv_cell`).

Both are written only when what they show changed (`page_key`: the rows they are made of, not
the run's id and time, kept in the page's `<head>`): a run with nothing new, or a page of
thousands of findings, is not rendered again for nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb

from tonghop.catalog import Catalog, load_catalog
from tonghop.formatting import csv_cell, so
from tonghop.paths import source_hash
from tonghop.report.templates import make_environment, search_path
from tonghop.review import (
    ACTION_LABELS,
    SEVERITY_LABELS,
    STATE_LABELS,
    histories,
    queue,
)
from tonghop.validation.places import Sources, places_and_notes

PAGE_NAME = "kiem-tra.html"
CSV_NAME = "kiem-tra.csv"
TEMPLATE = "review/kiem-tra.html.j2"


def number(value: Any) -> str:
    """A value as a steward reads it: Vietnamese digits, decimals only where there are some.

    >>> number(1234), number(51.225), number(None), number("12a")
    ('1.234', '51,225', '(trống)', '12a')
    """
    if value is None:
        return "(trống)"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return _number(float(value))


@lru_cache(maxsize=65536)
def _number(value: float) -> str:
    # cached: the page and the letters write the same few numbers many times over
    if value == int(value):
        return so(value)
    return so(value, min(4, len(repr(value).split(".")[1])))


def _label(catalog: Catalog, code: str | None) -> str:
    if code is None:
        return ""
    if code == "raw":
        return "Giá trị đã ghi (không phải số)"
    return _labels(catalog).get(code, code)


_LABELS: dict[int, tuple[Catalog, dict[str, str]]] = {}


def _labels(catalog: Catalog) -> dict[str, str]:
    """The catalog's labels by code, made once per catalog (looking a code up in the catalog
    reads its indicators one by one, for every number of every finding)."""
    kept = _LABELS.get(id(catalog))
    if kept is None or kept[0] is not catalog:
        _LABELS.clear()
        kept = _LABELS[id(catalog)] = (catalog, {i.code: i.label for i in catalog})
    return kept[1]


def _named_values(row: dict[str, Any]) -> dict[str, Any]:
    """The finding's values by indicator code. A value that is not a number comes from
    validation as `raw` (the text as typed): it is the finding's indicator's, shown in quotes.

    >>> _named_values({"values": {"raw": "1,5"}, "indicators": ["members_admitted"]})
    {'members_admitted': '“1,5”'}
    """
    values = dict(row.get("values") or {})
    if "raw" in values:
        raw = values.pop("raw")
        codes = [c for c in row.get("indicators") or [] if c not in values]
        values[codes[0] if len(codes) == 1 else "raw"] = f"“{raw}”"
    return values


def finding_view(
    row: dict[str, Any], catalog: Catalog, sources: Sources | None = None
) -> dict[str, Any]:
    """One finding as the page and the letters show it: labels, formatted numbers, state; with
    `sources` (tonghop.validation.places.value_sources), where each value stood in the file and
    the unit's note beside it."""
    values = _named_values(row)
    places, notes = places_and_notes(
        sources or {},
        row.get("submission_id"),
        list(dict.fromkeys([*(row.get("indicators") or []), *values])),
    )
    where = row.get("location") or ", ".join(
        f"{place} ({_label(catalog, code)})" for code, place in places.items()
    )
    return row | {
        "severity_label": SEVERITY_LABELS.get(row["severity"], row["severity"]),
        "state_label": STATE_LABELS[row["state"]],
        "numbers": [
            {
                "code": code,
                "label": _label(catalog, code),
                "value": number(value),
                "place": places.get(code, ""),
                "note": notes.get(code, ""),
            }
            for code, value in values.items()
        ],
        "places": places,
        "notes": notes,
        "suspect_label": _label(catalog, row.get("suspect")),
        "suggested": None if row.get("suggested_value") is None else number(row["suggested_value"]),
        "where": ", ".join(p for p in (row.get("file_name"), where) if p),
    }


def group_by_unit(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings grouped by unit (findings of no unit first), in the queue's order."""
    units: dict[str, dict[str, Any]] = {}
    for row in rows:
        code = row.get("unit_code") or ""
        unit = units.setdefault(
            code,
            {
                "unit_code": code or None,
                "name": row.get("unit_name") or (code or "Toàn khối"),
                "findings": [],
                "counts": {},
            },
        )
        unit["findings"].append(row)
        unit["counts"][row["state"]] = unit["counts"].get(row["state"], 0) + 1
    return list(units.values())


def page_view(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    run_id: str,
    inputs: PageInputs | None = None,
) -> dict[str, Any]:
    """What the review page shows: every finding of the latest validation, by unit (from
    `inputs`, read with `page_inputs` when not given)."""
    found, sources, actions = inputs or page_inputs(con)
    rows = [finding_view(r, catalog, sources) for r in found]
    for row in rows:
        row["history"] = [
            h
            | {
                "action_label": ACTION_LABELS[h["action"]],
                "before": "" if h["before_value"] is None else number(h["before_value"]),
                "after": "" if h["after_value"] is None else number(h["after_value"]),
            }
            for h in actions[row["finding_key"]]
        ]
    totals = {state: 0 for state in STATE_LABELS}
    for row in rows:
        totals[row["state"]] += 1
    return {
        "run_id": run_id,
        "generated_at": datetime.now().strftime("%d/%m/%Y %H:%M"),
        "units": group_by_unit(rows),
        # the latest validation's findings; those no longer raised are shown, not counted
        "total": sum(not r["gone"] for r in rows),
        "errors": sum(r["severity"] == "error" and not r["gone"] for r in rows),
        "totals": totals,
        "state_labels": STATE_LABELS,
    }


# The rows the page is made of: the queue with those no longer raised, the places and notes
# of their values, and their review histories.
PageInputs = tuple[list[dict[str, Any]], Sources, dict[str, list[dict]]]


def page_inputs(con: duckdb.DuckDBPyConnection) -> PageInputs:
    """What `page_view` reads from the workspace, as read (nothing worded yet)."""
    found = queue(con, include_gone=True)
    return found, named_sources(con, found), histories(con, [r["finding_key"] for r in found])


def named_sources(con: duckdb.DuckDBPyConnection, found: Sequence[dict[str, Any]]) -> Sources:
    """`tonghop.validation.places.value_sources` of the values the findings name (all that
    `finding_view` looks up), not of every value of every submission with a finding: a
    national page's findings name a few thousand values of hundreds of thousands."""
    named = sorted(
        {
            (r["submission_id"], code)
            for r in found
            if r.get("submission_id")
            for code in [*(r.get("indicators") or []), *(r.get("values") or {})]
        }
    )
    if not named:
        return {}
    rows = con.execute(
        """
        select v.submission_id, v.indicator_code,
            string_agg(v.location, ', ' order by v.location) as places,
            string_agg(nullif(trim(v.note), ''), '; ') as notes
        from submitted_values v
        join (select unnest(?::varchar[]) as submission_id, unnest(?::varchar[]) as code) n
            on v.submission_id = n.submission_id and v.indicator_code = n.code
        group by all
        """,
        [[sid for sid, _ in named], [code for _, code in named]],
    ).fetchall()
    return {(sid, code): (places, notes) for sid, code, places, notes in rows}


# The page's key, in the page itself (its first lines: the template's <head>), so the page is
# its own record.
_KEY_FOUND = re.compile(r'<meta name="tonghop-inputs" content="([0-9a-f]{64})">')


def page_key(
    inputs: PageInputs,
    catalog: Catalog,
    out: Path,
    template_dirs: Sequence[Path] | None = None,
) -> str:
    """The key of what the page and its CSV show: the rows they are made of (`page_inputs`),
    the Data Docs links present, the catalog, the template and the code that words the rows.
    Not the run id and the time, which alone would rewrite a page of thousands of findings
    on every run with nothing new."""
    from tonghop import formatting

    found, sources, actions = inputs
    basis = [
        [source_hash(m) for m in (__file__, formatting.__file__)],
        hashlib.sha256(_template_path(template_dirs).read_bytes()).hexdigest(),
        catalog.model_dump_json(),
        [href for href, _ in DATA_DOCS_LINKS if (out / href).is_file()],
    ]
    digest = hashlib.sha256()
    for part in (basis, found, sorted(sources.items()), actions):
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _template_path(template_dirs: Sequence[Path] | None) -> Path:
    """The page's template as `make_environment(template_dirs)` finds it (the first folder
    that has it)."""
    folders = search_path(template_dirs)
    return next((d / TEMPLATE for d in folders if (d / TEMPLATE).is_file()), folders[-1] / TEMPLATE)


def _written_key(path: Path) -> str | None:
    """The key a page written earlier carries, if it is there."""
    try:
        with open(path, encoding="utf-8") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    found = _KEY_FOUND.search(head)
    return found.group(1) if found else None


def write_review_page(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    run_id: str,
    catalog: Catalog | None = None,
    template_dirs: Sequence[Path] | None = None,
    inputs: PageInputs | None = None,
) -> dict[str, Path]:
    """Write `kiem-tra.html` and `kiem-tra.csv` into `out`, unless they already show what
    they would show now (`page_key`, kept in the page): then they stay as the run that last
    changed them wrote them, its run id and time included. `inputs`: `page_inputs`, when the
    caller has read them already (its rows not `gone` are the letters' queue)."""
    out.mkdir(parents=True, exist_ok=True)
    catalog = catalog or load_catalog()
    paths = {"review_page": out / PAGE_NAME, "review_csv": out / CSV_NAME}
    inputs = inputs or page_inputs(con)
    key = page_key(inputs, catalog, out, template_dirs)
    if _written_key(paths["review_page"]) == key and paths["review_csv"].is_file():
        return paths
    view = page_view(con, catalog, run_id, inputs) | {"inputs_key": key}
    html = make_environment(template_dirs).get_template(TEMPLATE).render(view)
    paths["review_page"].write_text(link_data_docs(html, out), encoding="utf-8")
    write_review_csv(paths["review_csv"], [f for u in view["units"] for f in u["findings"]])
    return paths


# GX Data Docs written by the run beside the page (tonghop.pipeline.DATA_DOCS_DIR and
# CONSOLIDATED_DOCS_DIR), linked under the page's title when they exist.
DATA_DOCS_LINKS = (
    ("data-docs/index.html", "các đơn vị"),
    ("data-docs/consolidated/index.html", "số liệu tổng hợp"),
)


def link_data_docs(html: str, out: Path) -> str:
    """The page with a line linking the run's Great Expectations Data Docs, if there are any.

    Inserted after the first heading (or the body's start), so the template stays as it is.
    """
    links = [
        f'<a href="{href}">{text}</a>' for href, text in DATA_DOCS_LINKS if (out / href).is_file()
    ]
    if not links:
        return html
    line = (
        '<p class="data-docs">Kết quả từng bộ quy tắc (Great Expectations Data Docs): '
        + ", ".join(links)
        + ".</p>"
    )
    for anchor in ("</h1>", "<body>"):
        at = html.find(anchor)
        if at >= 0:
            at += len(anchor)
            return html[:at] + "\n" + line + html[at:]
    return html


CSV_COLUMNS = (
    ("finding_key", "Mã phát hiện"),
    ("unit_code", "Mã đơn vị"),
    ("unit_name", "Tên đơn vị"),
    ("period", "Kỳ"),
    ("rule_id", "Quy tắc"),
    ("severity_label", "Mức độ"),
    ("message", "Nội dung"),
    ("suspect_label", "Chỉ tiêu nghi sai"),
    ("suggested", "Giá trị gợi ý"),
    ("where", "Tệp, vị trí"),
    ("state_label", "Trạng thái"),
    ("state_note", "Ghi chú xử lý"),
)


def write_review_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """The queue as a CSV for a spreadsheet (UTF-8 with BOM, which Excel needs to read it)."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([title for _, title in CSV_COLUMNS])
        for row in rows:
            writer.writerow([csv_cell(row.get(key) or "") for key, _ in CSV_COLUMNS])
    return path
