"""Completeness and timeliness of one period: per unit, submitted on time or late, missing,
rejected, open findings (`tonghop status`, the collect flow's table artifact, `remind`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from tonghop.locking import READ_WAIT_SECONDS, WriterBusy, lock_error_message, reader_slot
from tonghop.periods import Period

STATUS_LABELS = {
    "on_time": "đã nộp đúng hạn",
    "late": "đã nộp muộn",
    "submitted": "đã nộp",  # no due date in the settings
    "missing": "chưa nộp",
    "rejected": "bị trả lại, chờ nộp lại",
}


@dataclass(frozen=True)
class UnitStatus:
    """One active unit's standing for one period."""

    unit_code: str
    name: str
    status: str  # a key of STATUS_LABELS
    first_received: dt.datetime | None
    last_received: dt.datetime | None
    submissions: int
    open_findings: int
    open_errors: int

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]

    def to_json(self) -> dict:
        return asdict(self) | {"label": self.label}


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [name]
        ).fetchone()[0]
    )


def unit_status(
    con: duckdb.DuckDBPyConnection, period: str, due: dt.date | None
) -> list[UnitStatus]:
    """Every unit active at the period's end, by unit code, with its standing for the period.

    A unit is on time when its first submission for the period arrived on or before the due
    date; rejected when a steward rejected its current submission (it must resubmit).
    """
    the_period = Period.parse(period)
    latest = (
        "select finding_key, arg_max(state, seq) as state from review_actions group by all"
        if _has_table(con, "review_actions")
        else "select null::varchar as finding_key, null::varchar as state where false"
    )
    rows = con.execute(
        f"""
        with units as (
            select unit_code, name from registry_units
            where valid_from <= $end and (valid_to is null or valid_to >= $end)
        ),
        subs as (
            select unit_code, count(*) as n, min(received_at) as first_received,
                max(received_at) as last_received, arg_max(submission_id, seq) as current_id
            from submissions where period = $period group by unit_code
        ),
        latest as ({latest}),
        reviewed as (
            select f.unit_code, f.submission_id, f.severity,
                coalesce(l.state, 'open') as state
            from findings f left join latest l using (finding_key)
            where f.period = $period
        ),
        final as (
            select u.unit_code, u.name, s.n, s.first_received, s.last_received,
                coalesce(bool_or(r.state = 'rejected' and r.submission_id = s.current_id), false)
                    as rejected,
                count(r.unit_code) filter (where r.state = 'open') as open_findings,
                count(r.unit_code) filter (where r.state = 'open' and r.severity = 'error')
                    as open_errors
            from units u
            left join subs s using (unit_code)
            left join reviewed r on r.unit_code = u.unit_code
            group by all
        )
        select * from final order by unit_code
        """,
        {"end": the_period.end, "period": the_period.code},
    ).fetchall()
    result = []
    for code, name, n, first, last, rejected, open_findings, open_errors in rows:
        if not n:
            status = "missing"
        elif rejected:
            status = "rejected"
        elif due is None:
            status = "submitted"
        else:
            status = "on_time" if first.date() <= due else "late"
        result.append(
            UnitStatus(code, name, status, first, last, n or 0, open_findings, open_errors)
        )
    return result


def status_table(statuses: list[UnitStatus]) -> list[dict[str, str | int]]:
    """The statuses as rows of a Prefect table artifact (Vietnamese headers)."""
    return [
        {
            "mã đơn vị": s.unit_code,
            "tên đơn vị": s.name,
            "tình trạng": s.label,
            "nộp lần đầu": s.first_received.strftime("%d/%m/%Y %H:%M") if s.first_received else "",
            "số lần nộp": s.submissions,
            "lỗi chưa xử lý": s.open_errors,
            "phát hiện chưa xử lý": s.open_findings,
        }
        for s in statuses
    ]


def summary_lines(statuses: list[UnitStatus], period: str, due: dt.date | None) -> list[str]:
    """A few Vietnamese lines: how many units stand where, then the units that need a call."""
    counts = {key: sum(s.status == key for s in statuses) for key in STATUS_LABELS}
    due_text = due.strftime("%d/%m/%Y") if due else "chưa đặt"
    lines = [f"Kỳ {period} (hạn nộp: {due_text}): {len(statuses)} TCCSĐ phải nộp"]
    lines += [f"  {STATUS_LABELS[k]}: {n}" for k, n in counts.items() if n]
    return lines


class WorkspaceBusy(RuntimeError):
    """The workspace could not be read; the message says why and what to do, in Vietnamese."""


@contextmanager
def reading(
    workspace: Path, say: Callable[[str], None], timeout_seconds: float = READ_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the workspace once no run writes it (waiting at most
    `timeout_seconds`, with a line through `say`); the next run waits until the `with` block
    ends."""
    from tonghop.db import connect

    try:
        with reader_slot(workspace, say, timeout_seconds):
            try:
                con = connect(workspace, read_only=True)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                raise WorkspaceBusy(lock_error_message(workspace)) from exc
            try:
                yield con
            finally:
                con.close()
    except WriterBusy as exc:
        raise WorkspaceBusy(str(exc)) from exc
