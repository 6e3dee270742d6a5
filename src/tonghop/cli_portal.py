"""`tonghop serve`, `tonghop units link`, `tonghop users add`: the portal (SPEC §4.6)."""

from __future__ import annotations

import logging
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import typer

WORKSPACE = typer.Option(..., "--workspace", help="Thư mục làm việc (tệp DuckDB)")
# Units report after their period ends: a link for a period lasts this long after its end.
REPORTING_WINDOW = timedelta(days=60)

units_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Đường dẫn riêng để đơn vị gửi báo cáo."
)
users_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Tài khoản đăng nhập cổng thông tin."
)


def _fail(message: str) -> None:
    typer.secho(f"Lỗi: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def serve(
    workspace: Path = WORKSPACE,
    source: Path | None = typer.Option(
        None, help="Thư mục nguồn mà các lần chạy đọc: tệp gửi qua cổng được ghi vào đó"
    ),
    host: str = typer.Option("127.0.0.1", help="Địa chỉ lắng nghe (0.0.0.0: cả mạng nội bộ)"),
    port: int = typer.Option(8000, help="Cổng"),
    out: Path | None = typer.Option(
        None, help="Thư mục kết quả của các lần chạy (dự thảo); mặc định: thư mục chứa workspace"
    ),
    settings: Path | None = typer.Option(None, help="Tệp YAML thiết lập (hạn nộp, thư)"),
    prefect_ui: str | None = typer.Option(None, help="Địa chỉ giao diện Prefect (trang vận hành)"),
) -> None:
    """Mở cổng thông tin trên trình duyệt (đơn vị, cán bộ kiểm tra, lãnh đạo, vận hành).

    Đơn vị gửi báo cáo qua đường dẫn riêng và xem ngay kết quả kiểm tra; cán bộ xem xét phát
    hiện; lãnh đạo xem dự thảo; người vận hành xem tình hình nộp từng kỳ."""
    import uvicorn

    from tonghop.db import db_path
    from tonghop.portal import access
    from tonghop.portal.app import PortalConfig, create_app
    from tonghop.portal.uploads import warm

    if not db_path(workspace).is_file():
        _fail(f"Không có cơ sở dữ liệu trong '{workspace}': chạy 'tonghop run' trước")
    if source is not None and not source.is_dir():
        _fail(f"Không có thư mục nguồn '{source}'")
    if prefect_ui is None:
        from prefect.settings import PREFECT_UI_URL

        prefect_ui = PREFECT_UI_URL.value()
    app = create_app(PortalConfig(workspace, source, out, settings, prefect_ui))
    logging.getLogger("uvicorn.access").addFilter(access.MaskLinks())
    warm(_say)
    typer.echo(f"Cổng thông tin của {workspace}: http://{host}:{port}/ (Ctrl+C để dừng)")
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_keep_alive=5)


def _say(line: str) -> None:
    typer.echo(line, err=True)


def _default_period(workspace: Path) -> str:
    from tonghop.portal.views import consolidated_range, known_periods
    from tonghop.status import reading

    with reading(workspace, _say) as con:
        found = consolidated_range(con)
        periods = known_periods(con)
    if found is not None:
        return found.last.code
    if periods:
        return periods[-1]
    _fail("Chưa biết kỳ báo cáo: ghi rõ --period")
    raise AssertionError  # unreachable


def link_expiry(period_end: date, today: date, days: int) -> datetime:
    """When a link made today for a period ending `period_end` expires: the end of the period's
    reporting window, or `days` days from today for a period whose window has passed.

    >>> link_expiry(date(2026, 12, 31), date(2026, 12, 7), 30)
    datetime.datetime(2027, 3, 1, 23, 59, 59)
    >>> link_expiry(date(2023, 6, 30), date(2026, 12, 7), 30)
    datetime.datetime(2027, 1, 6, 23, 59, 59)
    """
    last_day = max(period_end + REPORTING_WINDOW, today + timedelta(days=days))
    return datetime.combine(last_day, time(23, 59, 59))


@units_app.command("link")
def link(
    code: str = typer.Argument(..., help="Mã đơn vị"),
    workspace: Path = WORKSPACE,
    base_url: str = typer.Option("http://127.0.0.1:8000", help="Địa chỉ cổng thông tin"),
    period: str | None = typer.Option(None, help="Kỳ báo cáo (mặc định: kỳ cuối đã tổng hợp)"),
    days: int = typer.Option(30, help="Số ngày dùng được khi kỳ đã quá hạn nộp"),
    revoke: bool = typer.Option(False, "--revoke", help="Thu hồi các đường dẫn của đơn vị"),
) -> None:
    """In đường dẫn riêng của một đơn vị (gửi báo cáo, xem kết quả kiểm tra và thư phản hồi)."""
    from tonghop.db import db_path
    from tonghop.periods import Period, PeriodError
    from tonghop.portal.store import PortalStore
    from tonghop.portal.views import unit_record
    from tonghop.status import WorkspaceBusy, reading

    if not db_path(workspace).is_file():
        _fail(f"Không có cơ sở dữ liệu trong '{workspace}': chạy 'tonghop run' trước")
    store = PortalStore(workspace)
    if revoke:
        count = store.revoke_links(code, period)
        typer.echo(f"Đã thu hồi {count} đường dẫn của đơn vị {code}.")
        return
    try:
        with reading(workspace, _say) as con:
            unit = unit_record(con, code)
    except WorkspaceBusy as exc:
        _fail(str(exc))
    if unit is None:
        _fail(f"Đơn vị '{code}' không có trong danh mục đơn vị của thư mục làm việc")
    try:
        the_period = Period.parse(period or _default_period(workspace))
    except PeriodError as exc:
        _fail(str(exc))
    expires = link_expiry(the_period.end, date.today(), days)
    token = store.add_link(code, the_period.code, expires)
    typer.echo(f"{base_url.rstrip('/')}/don-vi/{token}")
    typer.echo(
        f"Đường dẫn của {unit['name']} ({code}), kỳ {the_period.code}, dùng đến "
        f"{expires:%d/%m/%Y}; thu hồi: tonghop units link {code} --workspace {workspace} "
        "--revoke",
        err=True,
    )


@users_app.command("add")
def add_user(
    name: str = typer.Argument(..., help="Tên đăng nhập"),
    role: str = typer.Option(..., help="Vai trò: steward, owner hoặc operator"),
    workspace: Path = WORKSPACE,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Đọc mật khẩu từ đầu vào chuẩn (một dòng)"
    ),
) -> None:
    """Tạo tài khoản (hoặc đặt lại vai trò và mật khẩu của tài khoản đã có)."""
    from tonghop.portal.auth import hash_password
    from tonghop.portal.store import ROLES, PortalStore

    if role not in ROLES:
        _fail(f"Vai trò '{role}' không có; chọn một trong: {', '.join(ROLES)}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Mật khẩu", hide_input=True, confirmation_prompt=True)
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        _fail(str(exc))
    PortalStore(workspace).add_user(name.strip(), role, hashed)
    typer.echo(f"Đã tạo tài khoản {name.strip()} ({role}).")
