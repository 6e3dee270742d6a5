"""`tonghop rebuild`: make the workspace's database again from its archive."""

from __future__ import annotations

from pathlib import Path

import typer


def _fail(message: str) -> None:
    typer.secho(f"Lỗi: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def rebuild_command(
    workspace: Path = typer.Option(..., "--workspace", help="Thư mục làm việc cần dựng lại"),
    registry: Path = typer.Option(..., "--registry", help="Tệp CSV danh mục đơn vị (SPEC §4.1)"),
) -> None:
    """Dựng lại tệp dữ liệu từ kho lưu trữ: mọi tệp đã nhận, theo thứ tự nhận.

    Tệp dữ liệu cũ được giữ lại dưới tên khác, không bị xóa.
    """
    import duckdb

    from tonghop.rebuild import rebuild
    from tonghop.registry import RegistryError

    if not (workspace / "archive").is_dir():
        _fail(
            f"thư mục làm việc '{workspace}' không có kho lưu trữ (archive/): không có gì để "
            "dựng lại."
        )
    try:
        done = rebuild(workspace, registry)
    except RegistryError as exc:
        _fail(str(exc))
    except duckdb.IOException as exc:  # another process has the file open: not damaged
        _fail(f"Thư mục làm việc '{workspace}' đang được một tiến trình khác dùng ({exc}).")
    if done.old:
        typer.echo(f"Tệp dữ liệu cũ được giữ lại: {done.old}")
    origin = (
        "tệp dữ liệu cũ" if done.order_from == "database" else "kho lưu trữ (tên tệp gốc không còn)"
    )
    typer.echo(
        f"Đã nạp lại {done.files} tệp trong {done.batches} lần nhận, theo thứ tự lấy từ {origin}."
    )
    if done.unreadable:
        typer.secho(
            f"{len(done.unreadable)} tệp không còn trong kho lưu trữ: "
            + ", ".join(done.unreadable),
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=1)
