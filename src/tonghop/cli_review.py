"""`tonghop review`: the steward's queue of findings in the terminal, in Vietnamese."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import duckdb
import typer

from tonghop.db import db_path, open_db
from tonghop.review import (
    ACTION_LABELS,
    SEVERITY_LABELS,
    STATE_LABELS,
    STATES,
    AuditError,
    ReviewError,
    accept,
    audit_log,
    correct,
    default_actor,
    find,
    history,
    queue,
    reject,
    rejection_impact,
    verify_history,
)
from tonghop.review_page import finding_view, number
from tonghop.status import WorkspaceBusy, reading

review_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Xem xét các phát hiện khi kiểm tra số liệu: liệt kê, xem, chấp nhận, hiệu chỉnh, "
    "yêu cầu nộp lại, nhật ký xử lý.",
)

WORKSPACE = typer.Option(..., "--workspace", help="Thư mục làm việc (tệp DuckDB)")
ACTOR = typer.Option(None, "--actor", help="Người xử lý (mặc định: tài khoản đang dùng)")


def _fail(message: str) -> None:
    typer.secho(f"Lỗi: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@contextmanager
def _read(workspace: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The workspace read-only once no run writes it (status.reading: waits, saying so)."""
    if not db_path(workspace).is_file():
        _fail(f"Không có cơ sở dữ liệu trong '{workspace}': chạy 'tonghop run' trước")
    try:
        with reading(workspace, lambda line: typer.echo(line, err=True)) as con:
            yield con
    except WorkspaceBusy as exc:
        _fail(str(exc))


def _query(workspace: Path, action, **kwargs):  # noqa: ANN001, ANN202
    """`action(con, **kwargs)` on the workspace opened read-only; its refusal, in Vietnamese."""
    try:
        with _read(workspace) as con:
            return action(con, **kwargs)
    except ReviewError as exc:
        _fail(str(exc))


def _catalog():  # noqa: ANN202
    from tonghop.catalog import load_catalog

    return load_catalog()


@review_app.command("list")
def list_(
    workspace: Path = WORKSPACE,
    period: str | None = typer.Option(None, help="Chỉ kỳ này, ví dụ 2024-H1"),
    unit: str | None = typer.Option(None, help="Chỉ đơn vị này (mã đơn vị)"),
    state: str | None = typer.Option(None, help=f"Chỉ trạng thái: {', '.join(STATES)}"),
) -> None:
    """Liệt kê các phát hiện của lần kiểm tra gần nhất và trạng thái xử lý."""
    rows = _query(workspace, queue, period=period, unit=unit, state=state, include_gone=True)
    if not rows:
        typer.echo("Không có phát hiện nào phù hợp.")
        return
    catalog = _catalog()
    for row in rows:
        f = finding_view(row, catalog)
        typer.echo(
            f"{f['finding_key']}  {f['unit_code'] or '-':<8} {f['period'] or '-':<8} "
            f"{f['severity_label'] or '-':<9} {f['state_label']:<16} {f['message']}"
        )
        if f["gone"]:
            typer.echo(f"{'':22}vì: {f['state_note']}")
    current = [r for r in rows if not r["gone"]]
    errors = sum(r["severity"] == "error" for r in current)
    typer.echo(f"Tổng: {len(current)} phát hiện ({errors} lỗi, {len(current) - errors} cảnh báo).")
    if len(rows) > len(current):
        typer.echo(
            f"Và {len(rows) - len(current)} phát hiện không còn ở lần kiểm tra gần nhất "
            "(đã hiệu chỉnh đạt, hoặc hết hiệu lực vì đơn vị đã nộp lại)."
        )


@review_app.command()
def show(key: str = typer.Argument(..., help="Mã phát hiện (có thể ghi phần đầu)"),
         workspace: Path = WORKSPACE) -> None:  # fmt: skip
    """Xem chi tiết một phát hiện: số liệu, chỉ tiêu nghi sai, lịch sử xử lý."""
    row = _query(workspace, find, key=key)
    steps = _query(workspace, history, key=row["finding_key"])
    f = finding_view(row, _catalog())
    typer.echo(f"Phát hiện {f['finding_key']}: {f['severity_label']}, {f['state_label']}")
    typer.echo(f"  Đơn vị: {f['unit_name'] or ''} ({f['unit_code'] or '-'}), kỳ {f['period']}")
    typer.echo(f"  Quy tắc: {f['rule_id']} ({f['kind']})")
    typer.echo(f"  Nội dung: {f['message']}")
    for n in f["numbers"]:
        typer.echo(f"  {n['label']} ({n['code']}): {n['value']}")
    if f["suspect"]:
        hint = f"; giá trị gợi ý: {f['suggested']}" if f["suggested"] else ""
        typer.echo(f"  Chỉ tiêu nghi sai: {f['suspect_label']} ({f['suspect']}){hint}")
    if f["where"]:
        typer.echo(f"  Tệp, vị trí: {f['where']}")
    if f["gone"]:
        typer.echo(f"  Không còn ở lần kiểm tra gần nhất: {f['state_note']}")
    if not steps:
        typer.echo("  Chưa có xử lý nào.")
    for h in steps:
        typer.echo(f"  {_log_line(h)}")


def _write(workspace: Path, action, **kwargs) -> dict:  # noqa: ANN001
    if not db_path(workspace).is_file():
        _fail(f"Không có cơ sở dữ liệu trong '{workspace}': chạy 'tonghop run' trước")
    try:
        with open_db(workspace) as con:
            return action(con, **kwargs)
    except (ReviewError, AuditError) as exc:
        _fail(str(exc))
    raise AssertionError  # unreachable: _fail exits


def _done(record: dict, what: str) -> None:
    typer.echo(
        f"Đã ghi: {what} phát hiện {record['finding_key']} ({record['unit_code']}, kỳ "
        f"{record['period']}), người xử lý {record['actor']}."
    )
    typer.echo("Kết quả có hiệu lực từ lần chạy 'tonghop run' tiếp theo.")


@review_app.command("accept")
def accept_(
    key: str = typer.Argument(..., help="Mã phát hiện"),
    note: str = typer.Option(..., "--note", help="Vì sao số liệu vẫn đúng"),
    workspace: Path = WORKSPACE,
    actor: str | None = ACTOR,
) -> None:
    """Chấp nhận: số liệu đúng; lỗi đã chấp nhận không còn loại báo cáo khỏi tổng hợp."""
    record = _write(workspace, accept, key=key, note=note, actor=actor or default_actor())
    _done(record, "chấp nhận")


@review_app.command("correct")
def correct_(
    key: str = typer.Argument(..., help="Mã phát hiện"),
    value: float = typer.Option(..., "--value", help="Giá trị đúng"),
    reason: str = typer.Option(..., "--reason", help="Lý do hiệu chỉnh"),
    source: str = typer.Option(..., "--source", help="Nguồn, ví dụ: điện thoại với đơn vị"),
    indicator: str | None = typer.Option(
        None, "--indicator", help="Mã chỉ tiêu cần sửa (mặc định: chỉ tiêu nghi sai)"
    ),
    force: bool = typer.Option(
        False, "--force", help="Vẫn ghi khi báo cáo sau hiệu chỉnh còn lỗi (sẽ sửa tiếp)"
    ),
    workspace: Path = WORKSPACE,
    actor: str | None = ACTOR,
) -> None:
    """Hiệu chỉnh một chỉ tiêu: kiểm tra giá trị và các quy tắc trước khi ghi; bản tổng hợp
    dùng giá trị đã hiệu chỉnh."""
    record = _write(
        workspace,
        correct,
        key=key,
        value=value,
        reason=reason,
        source=source,
        indicator=indicator,
        actor=actor or default_actor(),
        catalog=_catalog(),
        force=force,
    )
    _done(
        record,
        f"hiệu chỉnh {record['indicator_code']} từ {number(record['before_value'])} thành "
        f"{number(record['after_value'])} (số trong tệp vẫn giữ nguyên),",
    )
    _show_preview(record["preview"])


def _show_preview(preview) -> None:  # noqa: ANN001 - tonghop.review_check.Preview
    """The rules' verdict on the unit's values with the correction, in the steward's words."""
    sections = (
        ("Hết phát hiện sau hiệu chỉnh:", preview.cleared),
        ("Vẫn còn:", preview.remaining),
        ("Phát sinh do hiệu chỉnh:", preview.raised),
    )
    for title, findings in sections:
        if findings:
            typer.echo(title)
            for severity, message, _ in findings:
                typer.echo(f"  - {SEVERITY_LABELS.get(severity, severity)}: {message}")
    if not (preview.remaining or preview.raised):
        typer.echo("Với giá trị này, báo cáo của đơn vị đạt mọi quy tắc về số liệu.")


@review_app.command("reject")
def reject_(
    key: str = typer.Argument(..., help="Mã phát hiện"),
    note: str = typer.Option(..., "--note", help="Đơn vị cần sửa gì"),
    yes: bool = typer.Option(False, "--yes", help="Không hỏi lại (dùng trong script)"),
    workspace: Path = WORKSPACE,
    actor: str | None = ACTOR,
) -> None:
    """Yêu cầu đơn vị nộp lại: cả bản báo cáo của kỳ bị loại khỏi tổng hợp cho đến khi có bản
    mới; cho xem số tổng hợp thay đổi thế nào và hỏi trước khi ghi."""
    impact = _query(workspace, rejection_impact, key=key)
    _show_impact(impact)
    if not yes and not _confirmed("Ghi yêu cầu nộp lại?"):
        typer.echo("Chưa ghi gì.")
        raise typer.Exit(code=1)
    record = _write(workspace, reject, key=key, note=note, actor=actor or default_actor())
    _done(record, "yêu cầu nộp lại,")


def _confirmed(question: str) -> bool:
    """The steward's yes; no answer (input closed, Ctrl-C) is a no."""
    try:
        return typer.confirm(question, default=False)
    except click.exceptions.Abort:
        typer.echo("")
        return False


def _show_impact(impact) -> None:  # noqa: ANN001 - tonghop.review.Impact
    """What rejecting the submission removes from its period's totals of the bloc."""
    f = impact.finding
    typer.echo(
        f"Yêu cầu nộp lại áp dụng cho cả bản báo cáo kỳ {f['period']} của đơn vị "
        f"{f['unit_code']} (tệp {f['file_name'] or '-'}), không chỉ cho phát hiện này: bản báo "
        "cáo bị loại khỏi tổng hợp cho đến khi đơn vị nộp lại."
    )
    if f["severity"] == "warning":
        typer.echo(
            "Đây là cảnh báo: nếu chỉ một số sai, có thể dùng 'tonghop review correct' để sửa "
            "số đó mà không loại cả báo cáo."
        )
    if impact.included is None:
        typer.echo("Chưa có lần tổng hợp nào: chưa tính được số tổng hợp thay đổi.")
        return
    if not impact.included:
        typer.echo(
            "Bản báo cáo này hiện chưa được tổng hợp (còn lỗi chưa xử lý): số tổng hợp không "
            "đổi; sau khi ghi, bản báo cáo vẫn bị loại kể cả khi các lỗi được chấp nhận."
        )
        return
    catalog = _catalog()
    typer.echo(f"Số tổng hợp của khối kỳ {f['period']} sẽ thay đổi (trước → sau):")
    for code, _, before, after in impact.changes:
        label = catalog[code].label if code in catalog else code
        if before != after:
            typer.echo(f"  {label} ({code}): {number(before)} → {number(after)}")


@review_app.command("log")
def log_(
    workspace: Path = WORKSPACE,
    unit: str | None = typer.Option(None, help="Chỉ đơn vị này (mã đơn vị)"),
    period: str | None = typer.Option(None, help="Chỉ kỳ này"),
    key: str | None = typer.Option(None, "--key", help="Chỉ phát hiện này (mã hoặc phần đầu)"),
) -> None:
    """Nhật ký xử lý: ai, lúc nào, làm gì, vì sao, sửa từ số nào thành số nào."""
    with _read(workspace) as con:
        rows = audit_log(con, unit=unit, period=period, key=key)
        try:
            intact = f"Nhật ký nguyên vẹn ({verify_history(con)} dòng, chưa bị sửa hay xóa)."
        except AuditError as exc:
            intact = f"CẢNH BÁO: {exc}"
    if not rows:
        typer.echo("Chưa có xử lý nào phù hợp.")
    for h in rows:
        typer.echo(_log_line(h))
    typer.echo(intact)


def _log_line(h: dict) -> str:
    change = ""
    if h["action"] == "correct":
        before, after = number(h["before_value"]), number(h["after_value"])
        change = f" {h['indicator_code']}: {before} → {after}."
    source = f" Nguồn: {h['source']}." if h["source"] else ""
    return (
        f"{h['seq']:>4}. {h['acted_at']:%d/%m/%Y %H:%M} {h['actor']}: "
        f"{ACTION_LABELS[h['action']]} ({STATE_LABELS[h['state']]}) phát hiện "
        f"{h['finding_key']}, đơn vị {h['unit_code'] or '-'}, kỳ {h['period'] or '-'}, quy tắc "
        f"{h['rule_id']}.{change} Lý do: {h['note'] or '(không ghi)'}.{source}"
    )
