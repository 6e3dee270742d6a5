"""The review queue: each finding's state, decided by a steward and kept as an append-only audit.

A finding is `open` until a steward acts on it: `accepted` (the value is right after all),
`corrected` (the steward typed the right value for one indicator, with reason and source),
`rejected` (the unit must resubmit). A resubmission makes the findings of the superseded
submission `moot`. The state of a finding is the latest row of `review_actions` for its key.

`review_actions` and `value_corrections` are only ever appended to: this module has no update
and no delete for them, and each action row carries the hash of the row before it, so
`verify_history` notices a row changed or removed behind tonghop's back.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from tonghop.catalog import Catalog, load_catalog
from tonghop.db import insert_rows, transaction
from tonghop.periods import Period, PeriodError

STATES = ("open", "accepted", "corrected", "rejected", "moot")
ACTION_STATE = {
    "accept": "accepted",
    "correct": "corrected",
    "reject": "rejected",
    "reopen": "open",
    "supersede": "moot",
}
STATE_LABELS = {
    "open": "chưa xử lý",
    "accepted": "đã chấp nhận",
    "corrected": "đã hiệu chỉnh",
    "rejected": "yêu cầu nộp lại",
    "moot": "hết hiệu lực",
}
ACTION_LABELS = {
    "accept": "chấp nhận",
    "correct": "hiệu chỉnh",
    "reject": "yêu cầu nộp lại",
    "reopen": "mở lại",
    "supersede": "hết hiệu lực",
}
SEVERITY_LABELS = {"error": "lỗi", "warning": "cảnh báo"}
SYSTEM_ACTOR = "tonghop"
# An error finding in one of these states no longer keeps its submission out.
RESOLVED = ("accepted", "corrected")
# States carried over as `reopen` when the unit resubmits and the same rule fails again.
CARRIED = ("accepted", "corrected")
# Kinds of findings about the values themselves, which a correction can clear or raise; those
# about the file (a code written twice, text, an unknown code) stay as the file says.
VALUE_KINDS = ("bounds", "sum", "part_le_whole", "ratio", "stock_flow", "plausibility", "policy")

_ACTION_COLUMNS = (
    "seq",
    "action_id",
    "finding_key",
    "unit_code",
    "period",
    "submission_id",
    "rule_id",
    "indicators",
    "action",
    "state",
    "indicator_code",
    "before_value",
    "after_value",
    "note",
    "source",
    "actor",
    "acted_at",
    "prev_hash",
    "row_hash",
)


class ReviewError(ValueError):
    """A review action that cannot be taken; the message is for the steward (Vietnamese)."""


class AuditError(RuntimeError):
    """`review_actions` was changed other than by appending."""


def default_actor() -> str:
    """The OS user, who is the steward at the keyboard."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "không rõ"


@dataclass(frozen=True)
class Decision:
    """One steward's decision on one finding, as the Prefect review form returns it."""

    finding_key: str
    decision: str
    note: str = ""


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [name]
        ).fetchone()[0]
    )


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _latest_sql(con: duckdb.DuckDBPyConnection) -> str:
    if not _has_table(con, "review_actions"):
        return (
            "select null::varchar as finding_key, null::varchar as state, "
            "null::timestamp as acted_at, null::varchar as actor, null::varchar as note "
            "where false"
        )
    return (
        "select finding_key, arg_max(state, seq) as state, max(acted_at) as acted_at, "
        "arg_max(actor, seq) as actor, arg_max(note, seq) as note "
        "from review_actions group by finding_key"
    )


_SNAPSHOT_COLUMNS = (
    "kind", "severity", "message", "observed", "suspect", "suggested_value", "file_name",
    "location",
)  # fmt: skip


def _keep_snapshots(con: duckdb.DuckDBPyConnection, keys: list[str]) -> None:
    """Keep what the findings acted on said (`finding_snapshots`), so that a finding the next
    validation no longer raises (its submission superseded, its value corrected) stays in the
    queue with its words; only ever added to."""
    con.execute(
        "create table if not exists finding_snapshots (finding_key varchar primary key, "
        "kind varchar, severity varchar, message varchar, observed json, suspect varchar, "
        "suggested_value double, file_name varchar, location varchar)"
    )
    con.execute(
        f"insert or ignore into finding_snapshots select finding_key, "
        f"{', '.join(f'any_value({c})' for c in _SNAPSHOT_COLUMNS)} from findings "
        "where finding_key in (select unnest(?::varchar[])) group by finding_key",
        [keys],
    )


def _gone_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Findings a steward or tonghop acted on that the latest validation no longer raises, with
    their last action: shown as `moot` (hết hiệu lực) with why, never as something to act on."""
    if _has_table(con, "finding_snapshots"):
        words = ", ".join(f"s.{c}" for c in _SNAPSHOT_COLUMNS)
        join = "left join finding_snapshots s using (finding_key)"
    else:  # a workspace no decision was written to since snapshots were kept
        words = "null as kind, null as severity, null as message, null::json as observed, "
        words += "null as suspect, null::double as suggested_value, null as file_name, "
        words += "null as location"
        join = ""
    return f"""
        select a.*, {words}
        from (
            select finding_key, any_value(unit_code) as unit_code, any_value(period) as period,
                any_value(submission_id) as submission_id, any_value(rule_id) as rule_id,
                any_value(indicators) as indicators, arg_max(action, seq) as last_action,
                arg_max(note, seq) as last_note, arg_max(state, seq) as last_state
            from review_actions
            where finding_key not in (select finding_key from findings)
            group by finding_key
        ) a {join}
    """


def queue(
    con: duckdb.DuckDBPyConnection,
    period: str | None = None,
    unit: str | None = None,
    state: str | None = None,
    include_gone: bool = False,
) -> list[dict[str, Any]]:
    """The findings of the latest validation with their review state, by unit and period. With
    `include_gone`, then those acted on that it no longer raises (`gone`), with why
    (`state_note`): `accepted` or `corrected` as a steward left them (a correction that made
    the rule pass), else `moot` (superseded by a resubmission), never as something to act on."""
    if state is not None and state not in STATES:
        raise ReviewError(f"Trạng thái '{state}' không có; chọn một trong: {', '.join(STATES)}")
    rows = _rows(
        con.execute(
            f"""
            with latest as ({_latest_sql(con)}),
            gone as ({_gone_sql(con)}),
            listed as (
                select f.finding_key, f.unit_code, f.period, f.submission_id, f.rule_id,
                    f.kind, f.severity, f.message, f.indicators, f.observed, f.suspect,
                    f.suggested_value, f.file_name, f.location,
                    coalesce(l.state, 'open') as state, l.acted_at, l.actor,
                    l.note as state_note, false as gone, null as last_state
                from findings f
                left join latest l using (finding_key)
                union all by name
                select g.finding_key, g.unit_code, g.period, g.submission_id, g.rule_id,
                    g.kind, coalesce(g.severity, '') as severity,
                    coalesce(g.message, 'Quy tắc ' || g.rule_id) as message, g.indicators,
                    g.observed, g.suspect, g.suggested_value, g.file_name, g.location,
                    case when g.last_state in ('accepted', 'corrected') then g.last_state
                        else 'moot' end as state,
                    l.acted_at, l.actor,
                    case when g.last_action = 'supersede' then g.last_note
                        when g.last_state = 'corrected' then 'Đã hiệu chỉnh; kiểm tra lại với '
                            || 'số đã hiệu chỉnh, quy tắc đạt'
                        else 'Lần kiểm tra gần nhất không còn phát hiện này (quy tắc đã thay '
                            || 'đổi, hoặc số liệu đã đạt)'
                    end as state_note, true as gone, g.last_state
                from gone g
                left join latest l using (finding_key)
            )
            select f.*, u.name as unit_name
            from listed f
            left join registry_units u using (unit_code)
            where (?::varchar is null or f.period = ?::varchar)
                and (?::varchar is null or f.unit_code = ?::varchar)
                and (?::varchar is null or f.state = ?::varchar)
                and (? or not f.gone)
            order by f.gone, f.unit_code nulls first, f.period, f.severity, f.rule_id,
                f.finding_key
            """,
            [period, period, unit, unit, state, state, include_gone],
        )
    )
    for row in rows:
        row["values"] = json.loads(row.pop("observed") or "{}")
    return rows


def find(con: duckdb.DuckDBPyConnection, key: str) -> dict[str, Any]:
    """The finding whose key is `key`, or starts with it when that is unambiguous."""
    key = key.strip()
    rows = queue(con, include_gone=True)
    exact = [r for r in rows if r["finding_key"] == key]
    if exact:
        return exact[0]
    matches = [r for r in rows if r["finding_key"].startswith(key)] if key else []
    if not matches:
        raise ReviewError(f"Không tìm thấy phát hiện có mã '{key}' trong lần kiểm tra gần nhất")
    if len({r["finding_key"] for r in matches}) > 1:
        raise ReviewError(f"Mã '{key}' trùng phần đầu của nhiều phát hiện; ghi đủ mã")
    return matches[0]


def audit_log(
    con: duckdb.DuckDBPyConnection,
    unit: str | None = None,
    period: str | None = None,
    key: str | None = None,
) -> list[dict[str, Any]]:
    """Every review action, oldest first: who, when, what, on which finding, why, and for a
    correction the value before and after (optionally of one unit, period or finding)."""
    if not _has_table(con, "review_actions"):
        return []
    return _rows(
        con.execute(
            "select * exclude (prev_hash, row_hash) from review_actions "
            "where (?::varchar is null or unit_code = ?::varchar) "
            "and (?::varchar is null or period = ?::varchar) "
            "and (?::varchar is null or starts_with(finding_key, ?::varchar)) order by seq",
            [unit, unit, period, period, key, key],
        )
    )


def history(con: duckdb.DuckDBPyConnection, key: str) -> list[dict[str, Any]]:
    """Every action taken on one finding, oldest first."""
    return histories(con, [key])[key]


def histories(con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> dict[str, list[dict]]:
    """`history` of each finding, in one query (the review page shows every finding's, and a
    query per finding grows with the findings)."""
    found: dict[str, list[dict]] = {key: [] for key in keys}
    if not found or not _has_table(con, "review_actions"):
        return found
    cursor = con.execute(
        "select * exclude (prev_hash, row_hash) from review_actions "
        "where finding_key in (select unnest(?::varchar[])) order by seq",
        [list(found)],
    )
    for row in _rows(cursor):
        found[row["finding_key"]].append(row)
    return found


def current_value(
    con: duckdb.DuckDBPyConnection, submission_id: str, indicator_code: str
) -> float | None:
    """The value the consolidation uses now: the latest correction, else the submitted one."""
    row = con.execute(
        "select after_value from value_corrections where submission_id = ? "
        "and indicator_code = ? order by seq desc limit 1",
        [submission_id, indicator_code],
    ).fetchone()
    if row:
        return row[0]
    row = con.execute(
        "select value from submitted_values where submission_id = ? and indicator_code = ? "
        "and raw_value <> '' limit 1",
        [submission_id, indicator_code],
    ).fetchone()
    return row[0] if row else None


def _row_hash(prev_hash: str, values: list[Any]) -> str:
    payload = json.dumps(
        [prev_hash, *[v.isoformat() if isinstance(v, datetime) else v for v in values]],
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _append_actions(con: duckdb.DuckDBPyConnection, actions: list[dict[str, Any]]) -> list[dict]:
    """Append actions to the audit, chained to the row before; call inside a transaction."""
    verify_history(con)
    last = con.execute("select seq, row_hash from review_actions order by seq desc limit 1")
    seq, prev_hash = last.fetchone() or (0, "")
    rows, written = [], []
    for action in actions:
        seq += 1
        record = {
            "seq": seq,
            "action_id": action.get("action_id") or uuid.uuid4().hex,
            "finding_key": action["finding_key"],
            "unit_code": action.get("unit_code"),
            "period": action.get("period"),
            "submission_id": action.get("submission_id"),
            "rule_id": action.get("rule_id"),
            "indicators": list(action.get("indicators") or []),
            "action": action["action"],
            "state": ACTION_STATE[action["action"]],
            "indicator_code": action.get("indicator_code"),
            "before_value": action.get("before_value"),
            "after_value": action.get("after_value"),
            "note": action.get("note"),
            "source": action.get("source"),
            "actor": action["actor"],
            "acted_at": action.get("acted_at") or datetime.now(),
        }
        values = [record[c] for c in _ACTION_COLUMNS[:-2]]
        record["prev_hash"] = prev_hash
        record["row_hash"] = prev_hash = _row_hash(prev_hash, values)
        rows.append([record[c] for c in _ACTION_COLUMNS])
        written.append(record)
    insert_rows(con, f"review_actions ({', '.join(_ACTION_COLUMNS)})", rows)
    _keep_snapshots(con, sorted({r["finding_key"] for r in written}))
    return written


def verify_history(con: duckdb.DuckDBPyConnection) -> int:
    """Check that `review_actions` was only appended to; return its number of rows.

    Sequence numbers run 1..n without a gap, every row's hash matches its content and the row
    before it, and every correction matches the action that made it.
    """
    rows = con.execute(
        f"select {', '.join(_ACTION_COLUMNS)} from review_actions order by seq"
    ).fetchall()
    prev_hash = ""
    for expected, row in enumerate(rows, start=1):
        record = dict(zip(_ACTION_COLUMNS, row, strict=True))
        if record["seq"] != expected:
            raise AuditError(f"review_actions: thiếu dòng số {expected} (đã bị xóa)")
        values = [record[c] for c in _ACTION_COLUMNS[:-2]]
        if record["prev_hash"] != prev_hash or record["row_hash"] != _row_hash(prev_hash, values):
            raise AuditError(f"review_actions: dòng số {expected} đã bị sửa")
        prev_hash = record["row_hash"]
    mismatched = con.execute(
        """
        select c.seq from value_corrections c
        left join review_actions a
            on a.action_id = c.action_id and a.action = 'correct'
            and a.submission_id = c.submission_id and a.indicator_code = c.indicator_code
            and a.after_value = c.after_value
        where a.action_id is null
        """
    ).fetchall()
    if mismatched:
        raise AuditError(
            f"value_corrections: dòng {mismatched[0][0]} không khớp với nhật ký xem xét"
        )
    corrections = con.execute(
        "select count(*), coalesce(max(seq), 0) from value_corrections"
    ).fetchone()
    if corrections[0] != corrections[1]:
        raise AuditError("value_corrections: thiếu dòng (đã bị xóa)")
    actions = con.execute("select count(*) from review_actions where action = 'correct'")
    if actions.fetchone()[0] != corrections[0]:
        raise AuditError("value_corrections: số lần hiệu chỉnh không khớp với nhật ký xem xét")
    return len(rows)


def _actionable(con: duckdb.DuckDBPyConnection, key: str) -> dict[str, Any]:
    finding = find(con, key)
    if finding["state"] == "moot":
        raise ReviewError(
            f"Phát hiện {finding['finding_key']} đã hết hiệu lực: "
            f"{finding.get('state_note') or 'đơn vị đã nộp lại báo cáo'}"
        )
    if finding["gone"]:
        raise ReviewError(
            f"Phát hiện {finding['finding_key']} không còn ở lần kiểm tra gần nhất "
            f"({finding['state_note']}): không còn gì để xử lý"
        )
    _check_unit(con, finding)
    return finding


def _check_unit(con: duckdb.DuckDBPyConnection, finding: dict[str, Any]) -> None:
    """Refuse a decision that would change nothing: on a unit the registry does not hold, or
    one not active on the period's last day (its values are never consolidated)."""
    code, period = finding["unit_code"], finding["period"]
    if code is None:
        return  # a finding of the whole bloc (the consolidation's own checks)
    unit = con.execute(
        "select valid_from, valid_to from registry_units where unit_code = ?", [code]
    ).fetchone()
    if unit is None:
        raise ReviewError(
            f"Đơn vị '{code}' không có trong danh mục đơn vị: số liệu của đơn vị không được tổng "
            "hợp dù quyết định thế nào. Nếu đơn vị thuộc khối, bổ sung vào danh mục rồi chạy lại."
        )
    try:
        end = Period.parse(period).end
    except PeriodError:
        raise ReviewError(
            f"Kỳ '{period}' không hợp lệ: báo cáo này không được tổng hợp; đề nghị đơn vị gửi "
            "lại với kỳ đúng"
        ) from None
    valid_from, valid_to = unit
    if valid_from > end or (valid_to is not None and valid_to < end):
        until = f" đến {valid_to:%d/%m/%Y}" if valid_to else ""
        raise ReviewError(
            f"Đơn vị '{code}' không hoạt động trong kỳ {period} (theo danh mục: từ "
            f"{valid_from:%d/%m/%Y}{until}): số liệu kỳ này của đơn vị không được tổng hợp "
            "dù quyết định thế nào"
        )


def _base(finding: dict[str, Any], action: str, actor: str) -> dict[str, Any]:
    return {
        "finding_key": finding["finding_key"],
        "unit_code": finding["unit_code"],
        "period": finding["period"],
        "submission_id": finding["submission_id"],
        "rule_id": finding["rule_id"],
        "indicators": finding["indicators"],
        "action": action,
        "actor": actor or default_actor(),
    }


def _required(text: str | None, what: str) -> str:
    if text is None or not text.strip():
        raise ReviewError(f"Cần ghi {what}")
    return text.strip()


def accept(
    con: duckdb.DuckDBPyConnection, key: str, note: str, actor: str | None = None
) -> dict[str, Any]:
    """Accept a finding: the values are right after all; an accepted error stops blocking."""
    with transaction(con):
        finding = _actionable(con, key)
        action = _base(finding, "accept", actor or default_actor())
        action["note"] = _required(note, "ghi chú (vì sao số liệu vẫn đúng)")
        return _append_actions(con, [action])[0]


def reject(
    con: duckdb.DuckDBPyConnection, key: str, note: str, actor: str | None = None
) -> dict[str, Any]:
    """Reject a finding's submission: the unit must resubmit, and its whole report for the
    period stays out of the consolidation until it does, whatever the finding's severity
    (`rejection_impact` says what that removes from the totals; the command asks first)."""
    with transaction(con):
        finding = _actionable(con, key)
        if not finding["submission_id"]:
            raise ReviewError("Phát hiện này không gắn với bản báo cáo nào để yêu cầu nộp lại")
        action = _base(finding, "reject", actor or default_actor())
        action["note"] = _required(note, "ghi chú (đơn vị cần sửa gì)")
        return _append_actions(con, [action])[0]


@dataclass
class Impact:
    """What rejecting a submission removes from its period's totals of the bloc, as the latest
    consolidation holds them: `included` (None: not consolidated yet), and per indicator
    `(code, aggregation, before, after)`."""

    finding: dict[str, Any]
    included: bool | None
    changes: list[tuple[str, str, float | None, float | None]]


# Each aggregation's bloc total of a period, with and without one submission (`$sid`), from the
# rows the marts aggregate; `$period` and `$sid` bound. Distributions (a count per level) are
# shown as the unit's level, not as a total.
_IMPACT_SQL = {
    "sum": """
        select v.indicator_code, 'sum', sum(v.value),
            coalesce(sum(v.value) filter (where v.submission_id <> $sid), 0)
        from int_values_accepted v join catalog_indicators c on c.code = v.indicator_code
        where v.period = $period and c.unit_aggregation = 'sum' {mine} group by all""",
    "count_true": """
        select v.indicator_code, 'count_true', count(*) filter (where v.value = 1),
            count(*) filter (where v.value = 1 and v.submission_id <> $sid)
        from int_values_accepted v join catalog_indicators c on c.code = v.indicator_code
        where v.period = $period and c.unit_aggregation = 'count_true' {mine} group by all""",
    "recompute": """
        select v.indicator_code, 'recompute',
            100.0 * sum(v.numerator) / nullif(sum(v.denominator), 0),
            100.0 * sum(v.numerator) filter (where v.submission_id <> $sid)
                / nullif(sum(v.denominator) filter (where v.submission_id <> $sid), 0)
        from int_unit_rate_parts v where v.period = $period {mine} group by all""",
    "weighted_mean": """
        select v.indicator_code, 'weighted_mean', sum(v.value * w.value) / nullif(sum(w.value), 0),
            sum(v.value * w.value) filter (where v.submission_id <> $sid)
                / nullif(sum(w.value) filter (where v.submission_id <> $sid), 0)
        from int_values_accepted v
        join catalog_indicators c on c.code = v.indicator_code
        join int_values_accepted w on w.submission_id = v.submission_id
            and w.indicator_code = c.weight
        where v.period = $period and c.unit_aggregation = 'weighted_mean' {mine} group by all""",
}
_MINE = {
    "recompute": "and v.indicator_code in (select indicator_code from int_unit_rate_parts "
    "where submission_id = $sid)",
}


def rejection_impact(con: duckdb.DuckDBPyConnection, key: str) -> Impact:
    """What `reject` on this finding would remove from the totals, before it is done."""
    finding = _actionable(con, key)
    sid = finding["submission_id"]
    if not sid:
        raise ReviewError("Phát hiện này không gắn với bản báo cáo nào để yêu cầu nộp lại")
    if not _has_table(con, "int_unit_rate_parts"):
        return Impact(finding, None, [])
    included = con.execute(
        "select count(*) > 0 from int_values_accepted where submission_id = ?", [sid]
    ).fetchone()[0]
    if not included:
        return Impact(finding, False, [])
    mine = (
        "and v.indicator_code in (select indicator_code from int_values_accepted "
        "where submission_id = $sid)"
    )
    sql = " union all ".join(
        query.format(mine=_MINE.get(kind, mine)) for kind, query in _IMPACT_SQL.items()
    )
    rows = con.execute(
        f"select * from ({sql}) order by 1", {"sid": sid, "period": finding["period"]}
    ).fetchall()
    return Impact(finding, True, [tuple(row) for row in rows])


def correct(
    con: duckdb.DuckDBPyConnection,
    key: str,
    value: float,
    reason: str,
    source: str,
    indicator: str | None = None,
    actor: str | None = None,
    catalog: Catalog | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Correct one indicator of the finding's submission; the consolidation uses the new value.

    The value must fit its indicator (tonghop.review_check.check_value), and the unit's values
    with it go through the validation's rules first: the record's `preview` holds the findings
    it would raise, leave and clear. A correction that would raise an error, or leave one on
    the indicator it corrects, is refused unless `force` (the steward has seen them, e.g. the
    first of two corrections to one sum).
    """
    from tonghop.review_check import check_value, preview_correction

    catalog = catalog or load_catalog()
    _required(reason, "lý do hiệu chỉnh")
    _required(source, "nguồn của số liệu đúng (ví dụ: điện thoại với đơn vị)")
    finding = _actionable(con, key)
    if not finding["submission_id"]:
        raise ReviewError("Phát hiện này không gắn với bản báo cáo nào để hiệu chỉnh")
    code = _corrected_indicator(con, finding, indicator)
    if code not in catalog:
        raise ReviewError(f"Chỉ tiêu '{code}' không có trong danh mục chỉ tiêu")
    check_value(catalog[code], value)
    preview = preview_correction(con, finding["submission_id"], code, float(value), catalog)
    if preview.errors and not force:
        raise ReviewError(
            f"Sau khi sửa {catalog[code].label} thành {_number(value)}, báo cáo vẫn còn lỗi: "
            + "; ".join(m.rstrip(".") for m in preview.errors)
            + ". Chưa ghi hiệu chỉnh; nếu vẫn muốn ghi (ví dụ sẽ sửa tiếp chỉ tiêu khác), "
            "thêm --force"
        )
    with transaction(con):
        finding = _actionable(con, key)
        action = _base(finding, "correct", actor or default_actor())
        action |= {
            "indicator_code": code,
            "before_value": current_value(con, finding["submission_id"], code),
            "after_value": float(value),
            "note": reason.strip(),
            "source": source.strip(),
        }
        written = _append_actions(con, [action])[0]
        seq = con.execute("select coalesce(max(seq), 0) + 1 from value_corrections").fetchone()
        con.execute(
            "insert into value_corrections (seq, action_id, submission_id, indicator_code, "
            "before_value, after_value, reason, source, actor, acted_at) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                seq[0],
                written["action_id"],
                written["submission_id"],
                code,
                written["before_value"],
                written["after_value"],
                written["note"],
                written["source"],
                written["actor"],
                written["acted_at"],
            ],
        )
        return written | {"preview": preview}


def _number(value: Any) -> str:
    from tonghop.review_page import number

    return number(value)


def _corrected_indicator(
    con: duckdb.DuckDBPyConnection, finding: dict[str, Any], indicator: str | None
) -> str:
    """The indicator a correction changes: the one named, else the finding's suspect, else the
    one corrected last time on this finding, else the finding's only indicator."""
    earlier = [h["indicator_code"] for h in history(con, finding["finding_key"])]
    code = indicator or finding["suspect"] or next(filter(None, reversed(earlier)), None)
    if code is None and len(finding["indicators"]) == 1:
        code = finding["indicators"][0]
    if code is None:
        raise ReviewError(
            "Phát hiện liên quan nhiều chỉ tiêu: ghi rõ chỉ tiêu cần sửa bằng --indicator "
            f"(một trong: {', '.join(finding['indicators'])})"
        )
    return code


def sync_resubmissions(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Record what resubmissions did to the queue, as actions by `tonghop`.

    Findings of a superseded submission become moot. A finding of the new submission for the
    same rule and indicators as one a steward accepted or corrected on the old submission is
    reopened: the earlier decision was about other figures. Run it before validation (while
    `findings` still holds the old submission's findings) and after; it is idempotent.
    """
    with transaction(con):
        stale = _rows(
            con.execute(
                f"""
                with latest as ({_latest_sql(con)}),
                newer as (
                    select s.submission_id, n.original_name as newer_file
                    from submissions s
                    join submissions n
                        on n.unit_code = s.unit_code and n.period = s.period and n.seq > s.seq
                    qualify row_number() over (partition by s.submission_id order by n.seq desc)
                        = 1
                ),
                known as (
                    select finding_key, unit_code, period, submission_id, rule_id, indicators
                    from findings
                    union
                    select finding_key, any_value(unit_code), any_value(period),
                        any_value(submission_id), any_value(rule_id), any_value(indicators)
                    from review_actions group by finding_key
                )
                select k.*, n.newer_file
                from known k
                join newer n using (submission_id)
                left join latest l using (finding_key)
                where coalesce(l.state, 'open') <> 'moot'
                order by k.finding_key
                """
            )
        )
        actions = [
            _base(row, "supersede", SYSTEM_ACTOR)
            | {"note": f"Đơn vị đã nộp lại (tệp {row['newer_file']}); bản cũ không còn dùng"}
            for row in {r["finding_key"]: r for r in stale}.values()
        ]
        reopen = _rows(
            con.execute(
                """
                with decided as (
                    select finding_key, unit_code, period, submission_id, rule_id, indicators,
                        arg_max(state, seq) as state
                    from review_actions
                    where action <> 'supersede'
                    group by all
                ),
                untouched as (
                    select f.* from findings f
                    where f.finding_key not in (select finding_key from review_actions)
                )
                select u.finding_key, u.unit_code, u.period, u.submission_id, u.rule_id,
                    u.indicators, any_value(d.finding_key) as earlier_key,
                    any_value(d.state) as earlier_state
                from untouched u
                join decided d
                    on d.unit_code = u.unit_code and d.period = u.period
                    and d.rule_id = u.rule_id and d.indicators = u.indicators
                    and d.submission_id <> u.submission_id
                join submissions old on old.submission_id = d.submission_id
                join submissions new on new.submission_id = u.submission_id
                where d.state in (select unnest(?::varchar[])) and new.seq > old.seq
                group by all
                order by u.finding_key
                """,
                [list(CARRIED)],
            )
        )
        actions += [
            _base(row, "reopen", SYSTEM_ACTOR)
            | {
                "note": f"Đơn vị đã nộp lại nhưng quy tắc vẫn không đạt; phát hiện cũ "
                f"{row['earlier_key']} ({STATE_LABELS[row['earlier_state']]}) cần xem lại"
            }
            for row in reopen
        ]
        actions += [
            _base(row, "reopen", SYSTEM_ACTOR)
            | {
                "note": f"Kiểm tra lại sau hiệu chỉnh: với {row['indicator_code']} = "
                f"{_number(row['after_value'])} quy tắc vẫn không đạt; cần xem lại"
            }
            for row in _corrections_failing(con)
        ]
        if not actions:
            return []
        return _append_actions(con, actions)


def _corrections_failing(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Findings last `corrected` that the validation raised again on the corrected value (its
    frames read the corrections, tonghop.review_check): the correction did not fix them."""
    return _rows(
        con.execute(
            """
            with latest as (
                select finding_key, arg_max(action, seq) as action,
                    arg_max(indicator_code, seq) as indicator_code,
                    arg_max(before_value, seq) as before_value,
                    arg_max(after_value, seq) as after_value
                from review_actions group by finding_key
            )
            select f.finding_key, f.unit_code, f.period, f.submission_id, f.rule_id,
                f.indicators, l.indicator_code, l.after_value
            from findings f join latest l using (finding_key)
            where l.action = 'correct' and f.kind in (select unnest(?::varchar[]))
                and l.before_value is distinct from l.after_value
                and try_cast(json_extract_string(f.observed, '$.' || l.indicator_code)
                    as double) = l.after_value
            order by f.finding_key
            """,
            [list(VALUE_KINDS)],
        )
    )


def apply_decisions(
    con: duckdb.DuckDBPyConnection, decisions: Iterable[Decision], actor: str
) -> list[dict[str, Any]]:
    """Apply the accept/reject decisions a steward gave in Prefect's review form."""
    done = []
    for item in decisions:
        if item.decision == "accept":
            done.append(accept(con, item.finding_key, item.note or "Chấp nhận khi xem xét", actor))
        elif item.decision == "reject":
            done.append(reject(con, item.finding_key, item.note or "Đề nghị nộp lại", actor))
    return done


def set_pending(con: duckdb.DuckDBPyConnection, findings: Iterable[dict[str, Any]]) -> int:
    """Mark the submissions of these findings pending review (a derived table, per run)."""
    rows = [[f["submission_id"], f["finding_key"]] for f in findings if f.get("submission_id")]
    with transaction(con):
        con.execute(
            "create or replace table review_pending as select * from review_pending limit 0"
        )
        insert_rows(con, "review_pending", rows)
    return len(rows)


def open_errors(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Error findings still open: those that keep a submission out of the consolidation."""
    return [r for r in queue(con, state="open") if r["severity"] == "error"]
