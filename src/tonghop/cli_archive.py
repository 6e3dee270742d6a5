"""`tonghop archive`: get a received file by its sha256, verify the archive, pack loose files."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import typer

from tonghop.collect.archive import pack_loose, read_archived, verify_archive
from tonghop.db import db_path, open_db

archive_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Kho lưu trữ các tệp đã nhận: lấy lại một tệp theo sha256, kiểm tra toàn bộ, đóng gói.",
)

WORKSPACE = typer.Option(..., "--workspace", help="Thư mục làm việc (tệp DuckDB và kho lưu trữ)")

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _fail(message: str) -> None:
    typer.secho(f"Lỗi: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@archive_app.command("get")
def get(
    sha256: str = typer.Argument(..., help="sha256 của tệp đã nhận"),
    workspace: Path = WORKSPACE,
) -> None:
    """Ghi nguyên vẹn từng byte của tệp đã nhận ra đầu ra chuẩn (ví dụ: `> tep.csv`)."""
    sha256 = sha256.strip().lower()
    if not _SHA256.fullmatch(sha256):
        _fail(f"'{sha256}' không phải một sha256 (64 chữ số hệ mười sáu)")
    data = read_archived(workspace, sha256)
    if data is None:
        _fail(f"Kho lưu trữ ở {workspace} không có tệp nào có sha256 {sha256}")
    if hashlib.sha256(data).hexdigest() != sha256:
        _fail(f"Tệp có sha256 {sha256} trong kho lưu trữ đã bị thay đổi; không ghi ra")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@archive_app.command("verify")
def verify(workspace: Path = WORKSPACE) -> None:
    """Băm lại mọi tệp đã nhận; liệt kê tệp bị mất hoặc bị thay đổi (mã lỗi 1 nếu có)."""
    if not db_path(workspace).exists():
        _fail(f"Không có thư mục làm việc ở {workspace}")
    with open_db(workspace, read_only=True) as con:
        received = con.execute(
            "select sha256, original_name from received_files order by received_at, sha256"
        ).fetchall()
    problems = verify_archive(workspace, [sha256 for sha256, _ in received])
    words = {"missing": "bị mất", "altered": "bị thay đổi"}
    for sha256, name in received:
        if sha256 in problems:
            typer.secho(f"{words[problems[sha256]]}: {sha256}  {name}", fg=typer.colors.RED)
    typer.echo(
        f"Đã kiểm tra {len(received)} tệp đã nhận: {len(received) - len(problems)} nguyên vẹn, "
        f"{len(problems)} bị mất hoặc bị thay đổi."
    )
    if problems:
        raise typer.Exit(code=1)


@archive_app.command("pack")
def pack(workspace: Path = WORKSPACE) -> None:
    """Chuyển các tệp lưu rời (kho lưu trữ cũ) vào các gói; mỗi tệp chỉ xóa sau khi gói đã ghi."""
    if not db_path(workspace).exists():
        _fail(f"Không có thư mục làm việc ở {workspace}")
    # Holding the database open for writing keeps a run from writing the archive meanwhile.
    with open_db(workspace):
        moved, altered = pack_loose(workspace)
    typer.echo(f"Đã chuyển {moved} tệp lưu rời vào các gói.")
    for path in altered:
        typer.secho(
            f"Giữ nguyên (nội dung không khớp sha256 trong tên, cần kiểm tra): {path}",
            fg=typer.colors.RED,
        )
    if altered:
        raise typer.Exit(code=1)
