"""What each page of the portal shows, read from the workspace (functions of a connection).

Findings are worded, placed and formatted exactly as on the steward's page and in the letters
(`tonghop.review_page.finding_view`, `tonghop.validation.places`); the letter is the one
`tonghop.letters` writes; a unit's standing is `tonghop.status`'s.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import duckdb

from tonghop.catalog import Catalog
from tonghop.letters import compose_letter, letter_units, registry_units, unreadable_files
from tonghop.periods import Period, PeriodError, PeriodRange
from tonghop.review import ACTION_LABELS, STATE_LABELS, find, histories, queue
from tonghop.review_page import finding_view, number
from tonghop.settings import ReportSettings
from tonghop.validation.places import value_sources


def unit_record(con: duckdb.DuckDBPyConnection, unit_code: str) -> dict[str, Any] | None:
    """The registry's row of a unit (code, name, sector, form), if it is there."""
    row = con.execute(
        "select unit_code, name, sector, form from registry_units where unit_code = ?",
        [unit_code],
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("unit_code", "name", "sector", "form"), row, strict=True))


def findings_view(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Queue rows as the pages show them: labels, numbers, where each value stood, notes."""
    sources = value_sources(con, (r["submission_id"] for r in rows))
    return [finding_view(r, catalog, sources) for r in rows]


def unit_findings(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, unit_code: str, period: str
) -> list[dict[str, Any]]:
    """The unit's findings for the period (of its current submission), as the unit reads them."""
    rows = [r for r in queue(con, period=period, unit=unit_code) if r["state"] != "moot"]
    return findings_view(con, catalog, rows)


def unit_submissions(
    con: duckdb.DuckDBPyConnection, unit_code: str, period: str
) -> list[dict[str, Any]]:
    """The unit's submissions for the period, newest first, the current one marked."""
    rows = con.execute(
        "select original_name, received_at, file_format, seq, "
        "(select count(*) from submitted_values v where v.submission_id = s.submission_id "
        "and v.raw_value <> '') from submissions s where unit_code = ? and period = ? "
        "order by seq desc",
        [unit_code, period],
    ).fetchall()
    return [
        {
            "file": name,
            "received_at": at,
            "format": fmt,
            "values": values,
            "current": i == 0,
        }
        for i, (name, at, fmt, _seq, values) in enumerate(rows)
    ]


def current_values(
    con: duckdb.DuckDBPyConnection, unit_code: str, period: str, catalog: Catalog
) -> dict[str, float]:
    """The numbers of the unit's current submission for the period, by catalog code (to pre-fill
    its form)."""
    rows = con.execute(
        "with cur as (select arg_max(submission_id, seq) as sid from submissions "
        "where unit_code = ? and period = ?) "
        "select indicator_code, value from submitted_values, cur "
        "where submission_id = cur.sid and value is not null",
        [unit_code, period],
    ).fetchall()
    return {code: value for code, value in rows if code in catalog}


def unit_letter(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    settings: ReportSettings,
    unit_code: str,
    period: str,
) -> Any:
    """The letter the unit would get now for the period (tonghop.letters), or None."""
    units = registry_units(con)
    rows = queue(con, period=period, unit=unit_code)
    unreadable = [
        u
        for u in unreadable_files(con, units)
        if u["unit_code"] == unit_code and u["period"] in (period, None)
    ]
    found = letter_units(rows, catalog, units, unreadable)
    return compose_letter(found[0], settings, date.today()) if found else None


def steward_queue(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    unit: str | None,
    rule: str | None,
    state: str | None,
    period: str | None,
) -> dict[str, Any]:
    """The steward's queue with its filters and the choices each filter offers."""
    every = queue(con)
    rows = queue(con, period=period, unit=unit, state=state)
    rows = [r for r in rows if rule is None or r["rule_id"] == rule]
    totals = {s: 0 for s in STATE_LABELS}
    for r in every:
        totals[r["state"]] += 1
    return {
        "findings": findings_view(con, catalog, rows),
        "units": sorted({(r["unit_code"], r["unit_name"] or "") for r in every if r["unit_code"]}),
        "rules": sorted({r["rule_id"] for r in every}),
        "periods": sorted({r["period"] for r in every if r["period"]}),
        "states": STATE_LABELS,
        "totals": totals,
    }


def finding_detail(con: duckdb.DuckDBPyConnection, catalog: Catalog, key: str) -> dict[str, Any]:
    """One finding with its values, places, the unit's notes and its history (ReviewError when
    there is no such finding)."""
    (row,) = findings_view(con, catalog, [find(con, key)])
    row["history"] = [
        h
        | {
            "action_label": ACTION_LABELS[h["action"]],
            "before": "" if h["before_value"] is None else number(h["before_value"]),
            "after": "" if h["after_value"] is None else number(h["after_value"]),
        }
        for h in histories(con, [row["finding_key"]])[row["finding_key"]]
    ]
    return row


def current_value_text(con: duckdb.DuckDBPyConnection, submission_id: str, code: str) -> str:
    """The value the consolidation uses now for one indicator of a submission, as printed."""
    from tonghop.review import current_value

    return number(current_value(con, submission_id, code))


def consolidated_range(con: duckdb.DuckDBPyConnection) -> PeriodRange | None:
    """The range the last run consolidated (`run_periods`), if any run did."""
    if not _has_table(con, "run_periods"):
        return None
    first, last = con.execute(
        "select min_by(period, ordinal), max_by(period, ordinal) from run_periods "
        "where role = 'range'"
    ).fetchone()
    return PeriodRange(Period.parse(first), Period.parse(last)) if first else None


def known_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The periods units submitted for, and those of the last run's range, in order."""
    codes = {p for (p,) in con.execute("select distinct period from submissions").fetchall()}
    found = consolidated_range(con)
    if found is not None:
        codes |= {p.code for p in found.periods}
    periods = []
    for code in codes:
        try:
            periods.append(Period.parse(code))
        except PeriodError:
            continue  # a malformed period is a finding, not a period to choose
    return [p.code for p in sorted(periods)]


def rejected_files(con: duckdb.DuckDBPyConnection, limit: int = 100) -> list[dict[str, Any]]:
    """The files received that could not be read or were held, newest first."""
    rows = con.execute(
        "select original_name, received_at, reason, sha256 from received_files "
        "where status = 'rejected' order by received_at desc limit ?",
        [limit],
    ).fetchall()
    return [
        {"file": name, "received_at": at, "reason": reason, "sha256": sha256}
        for name, at, reason, sha256 in rows
    ]


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [name]
        ).fetchone()[0]
    )


# A figure of the HTML draft (`tonghop.report`: `<span data-figure="id">text</span>`) and the
# place of its trace in the same page (the appendix's `id="nguon-<id>"`).
_FIGURE_SPAN = re.compile(r'<span data-figure="([^"<>&]+)">([^<]*)</span>')
_TRACE_ANCHOR = re.compile(r'id="nguon-([^"<>&]+)"')


def link_figures(html: str) -> str:
    """The draft with each figure that has a trace in it made a link to that trace (a click
    shows where the figure comes from; no script needed), `data-figure` kept.

    >>> html = '<span data-figure="a">12</span> <span data-figure="c">3</span> <li id="nguon-a">'
    >>> link_figures(html).split(" <li")[0]
    '<a class="so-lieu" href="#nguon-a" data-figure="a">12</a> <span data-figure="c">3</span>'
    """
    traced = set(_TRACE_ANCHOR.findall(html))

    def link(match: re.Match[str]) -> str:
        figure, text = match.groups()
        if figure not in traced:
            return match.group()
        return f'<a class="so-lieu" href="#nguon-{figure}" data-figure="{figure}">{text}</a>'

    return _FIGURE_SPAN.sub(link, html)
