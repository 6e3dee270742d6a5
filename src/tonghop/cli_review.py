"""`tonghop review`: the steward's queue of findings in the terminal, in Vietnamese."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import typer

from tonghop.db import db_path, open_db
from tonghop.review import (
    ACTION_LABELS,
    STATES,
    AuditError,
    ReviewError,
    accept,
    correct,
    default_actor,
    find,
    history,
    queue,
    reject,
)
from tonghop.review_page import finding_view, number
from tonghop.status import WorkspaceBusy, reading

review_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Xem xét các phát hiện khi kiểm tra số liệu: liệt kê, xem, chấp nhận, hiệu chỉnh, "
    "yêu cầu nộp lại.",
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
    try:
        with _read(workspace) as con:
            rows = queue(con, period=period, unit=unit, state=state)
    except ReviewError as exc:
        _fail(str(exc))
    if not rows:
        typer.echo("Không có phát hiện nào phù hợp.")
        return
    catalog = _catalog()
    for row in rows:
        f = finding_view(row, catalog)
        typer.echo(
            f"{f['finding_key']}  {f['unit_code'] or '-':<8} {f['period'] or '-':<8} "
            f"{f['severity_label']:<9} {f['state_label']:<16} {f['message']}"
        )
    errors = sum(r["severity"] == "error" for r in rows)
    typer.echo(f"Tổng: {len(rows)} phát hiện ({errors} lỗi, {len(rows) - errors} cảnh báo).")


@review_app.command()
def show(key: str = typer.Argument(..., help="Mã phát hiện (có thể ghi phần đầu)"),
         workspace: Path = WORKSPACE) -> None:  # fmt: skip
    """Xem chi tiết một phát hiện: số liệu, chỉ tiêu nghi sai, lịch sử xử lý."""
    try:
        with _read(workspace) as con:
            row = find(con, key)
            steps = history(con, row["finding_key"])
    except ReviewError as exc:
        _fail(str(exc))
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
    if not steps:
        typer.echo("  Chưa có xử lý nào.")
    for h in steps:
        change = ""
        if h["action"] == "correct":
            change = (
                f" {h['indicator_code']}: {number(h['before_value'])} → {number(h['after_value'])}"
            )
        source = f" (nguồn: {h['source']})" if h["source"] else ""
        typer.echo(
            f"  {h['acted_at']:%d/%m/%Y %H:%M} {h['actor']}: {ACTION_LABELS[h['action']]}"
            f"{change}. {h['note'] or ''}{source}"
        )


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
    workspace: Path = WORKSPACE,
    actor: str | None = ACTOR,
) -> None:
    """Hiệu chỉnh một chỉ tiêu của báo cáo; bản tổng hợp dùng giá trị đã hiệu chỉnh."""
    record = _write(
        workspace,
        correct,
        key=key,
        value=value,
        reason=reason,
        source=source,
        indicator=indicator,
        actor=actor or default_actor(),
    )
    _done(
        record,
        f"hiệu chỉnh {record['indicator_code']} từ {number(record['before_value'])} thành "
        f"{number(record['after_value'])},",
    )


@review_app.command("reject")
def reject_(
    key: str = typer.Argument(..., help="Mã phát hiện"),
    note: str = typer.Option(..., "--note", help="Đơn vị cần sửa gì"),
    workspace: Path = WORKSPACE,
    actor: str | None = ACTOR,
) -> None:
    """Yêu cầu đơn vị nộp lại: báo cáo bị loại khỏi tổng hợp cho đến khi có bản mới."""
    record = _write(workspace, reject, key=key, note=note, actor=actor or default_actor())
    _done(record, "yêu cầu nộp lại,")
