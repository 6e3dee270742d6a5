"""The `tonghop` command: demo, run, forms."""

from __future__ import annotations

import atexit
import sys
import threading
import time
from pathlib import Path

import typer

from tonghop.prefect_env import apply_embedded_defaults, private_prefect_home

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="tonghop: tổng hợp báo cáo của các tổ chức cơ sở đảng thành dự thảo báo cáo.",
)

SAMPLE_PERIOD = "2020-H2..2023-H1"


def _fail(message: str) -> None:
    typer.secho(f"Lỗi: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _warm_imports() -> None:
    # Great Expectations takes ~4.6 s to import (measured); do it while Prefect's server starts.
    import great_expectations  # noqa: F401


def _start_embedded_api():  # noqa: ANN202 - (server, thread) or None
    """Without PREFECT_API_URL, start Prefect's temporary API now, in the background.

    Prefect would start the same server on the flow's first call and wait for it (~7 s);
    started here, its boot (another process) overlaps this process's imports. Measured on the
    demo: 8.5 s from launch to the server's start when the imports contended with Prefect's
    own startup for the GIL.
    """
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return None
    from tonghop.prefect_env import bound_api_server

    server = bound_api_server()  # stops with this process, even killed
    thread = threading.Thread(target=server.start, kwargs={"timeout": 120}, daemon=True)
    thread.start()
    # Registered before Prefect's own exit handlers (its log worker drains to the API at
    # exit), so the server stops last: exit handlers run in reverse order of registration.
    atexit.register(server.stop)
    return server, thread


def _run_flow(run, params, embedded):  # noqa: ANN001, ANN202
    """Run the flow against the embedded API when one was started (it stops at exit)."""
    if embedded is None:
        return run(params)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server, thread = embedded
    thread.join()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        return run(params)


def _check_workspace_free(workspace: Path) -> None:
    """Refuse to start while another process writes the workspace (DuckDB: one writer)."""
    import duckdb

    from tonghop.db import DamagedDatabase, connect
    from tonghop.locking import WriterBusy, lock_error_message, workspace_turn

    try:
        with workspace_turn(workspace, lambda line: typer.echo(line, err=True)):
            connect(workspace).close()
    except (WriterBusy, DamagedDatabase) as exc:
        _fail(str(exc))
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        _fail(lock_error_message(workspace))


def _check_inputs(source: str, registry: Path, period: str, workspace: Path) -> None:
    """Refuse, with a Vietnamese message and no traceback, what cannot run at all."""
    import fsspec

    from tonghop.periods import PeriodError, PeriodRange
    from tonghop.registry import RegistryError, read_registry

    try:
        PeriodRange.parse(period)
    except PeriodError as exc:
        _fail(str(exc))
    try:
        read_registry(registry)
    except (RegistryError, UnicodeDecodeError) as exc:
        _fail(str(exc))
    _check_workspace_free(workspace)
    try:
        fs, root = fsspec.core.url_to_fs(source)
        if not fs.isdir(root):
            _fail(f"Không đọc được nguồn dữ liệu '{source}': không có thư mục này")
    except (OSError, ValueError, ImportError) as exc:
        _fail(f"Không đọc được nguồn dữ liệu '{source}': {exc}")


def _run(
    source: str, registry: Path, period: str, workspace: Path, out: Path, settings: Path | None
) -> None:
    _check_inputs(source, registry, period, workspace)
    apply_embedded_defaults()
    started = time.monotonic()
    from tonghop.flows.run import RunParameters, run

    embedded = _start_embedded_api()
    if embedded is not None:
        _warm_imports()  # overlaps the server's start, which runs in its own process
    # Against a running server, validate imports GX while DuckDB builds its frames.

    params = RunParameters(
        source=source,
        registry=registry,
        period=period,
        workspace=workspace,
        out=out,
        settings=settings,
        show_progress=sys.stderr.isatty(),
    )
    try:
        summary = _run_flow(run, params, embedded)
    except Exception as exc:  # the flow has logged the details; tell the operator what to do
        typer.secho(
            f"Lỗi: quy trình dừng giữa chừng ({type(exc).__name__}: {exc}). Các tệp đã nhận "
            "được giữ nguyên trong kho lưu và không tệp nào bị nạp dở; chạy lại đúng lệnh này "
            "để hoàn tất. / The run stopped; nothing received was lost: rerun the same command.",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=1) from exc
    elapsed = time.monotonic() - started
    typer.echo("")
    typer.echo(f"Xong sau {elapsed:.1f} giây. Kết quả trong {out}/:")
    typer.echo(
        f"  tệp nhận: {summary.files_seen} (mới {summary.files_loaded}, đã có "
        f"{summary.files_skipped}, không đọc được {summary.files_rejected})"
    )
    typer.echo(f"  kiểm tra: {summary.findings_error} lỗi, {summary.findings_warning} cảnh báo")
    typer.echo(f"  tổng hợp: {summary.units_included}/{summary.units_expected} TCCSĐ kỳ cuối")
    for name in ("bao-cao.md", "bao-cao.html", "bao-cao.docx", "findings.json", "rejected.json"):
        typer.echo(f"  {out / name}")
    typer.echo(f"  {out / 'data-docs' / 'index.html'} (Great Expectations Data Docs)")


@app.command()
def run(
    source: str = typer.Option(..., help="Thư mục hoặc URL (fsspec) chứa các tệp báo cáo"),
    registry: Path = typer.Option(..., help="Tệp CSV danh mục đơn vị"),
    period: str = typer.Option(..., help="Kỳ (2024) hoặc khoảng kỳ (2020-H2..2023-H1)"),
    workspace: Path = typer.Option(..., help="Thư mục làm việc (DuckDB, kho tệp đã nhận)"),
    out: Path = typer.Option(..., help="Thư mục kết quả"),
    settings: Path | None = typer.Option(None, help="Tệp YAML thiết lập văn bản"),
) -> None:
    """Nhận, kiểm tra, tổng hợp và soạn dự thảo báo cáo cho một kỳ hoặc khoảng kỳ."""
    _run(source, registry, period, workspace, out, settings)


@app.command()
def demo(
    out: Path = typer.Option(Path("tonghop-demo"), help="Thư mục kết quả"),
) -> None:
    """Chạy toàn bộ quy trình trên khối mẫu kèm theo (121 TCCSĐ), không cần máy chủ."""
    from tonghop.paths import SAMPLE_DIR

    private_prefect_home()  # never the operator's server nor database

    _run(
        str(SAMPLE_DIR / "submissions"),
        SAMPLE_DIR / "registry.csv",
        SAMPLE_PERIOD,
        out / "workspace",
        out,
        SAMPLE_DIR / "bao-cao.yaml",  # the sample's header, marked as a sample in the file
    )


@app.command()
def forms(
    period: str = typer.Option(..., help="Kỳ báo cáo, ví dụ 2023-H1"),
    out: Path = typer.Option(..., help="Thư mục ghi biểu mẫu"),
    registry: Path | None = typer.Option(None, help="Tệp CSV danh mục đơn vị (mặc định: khối mẫu)"),
) -> None:
    """Tạo biểu mẫu Excel cho mỗi đơn vị đang hoạt động trong kỳ."""
    from tonghop.catalog import load_catalog
    from tonghop.forms import write_form
    from tonghop.paths import SAMPLE_DIR
    from tonghop.periods import Period, PeriodError
    from tonghop.registry import RegistryError, read_registry

    try:
        the_period = Period.parse(period)
        units = read_registry(registry or SAMPLE_DIR / "registry.csv")
    except (PeriodError, RegistryError) as exc:
        _fail(str(exc))
    catalog = load_catalog()
    out.mkdir(parents=True, exist_ok=True)
    active = [u for u in units if u.active_on(the_period.end)]
    for unit in active:
        write_form(
            out / f"{unit.unit_code}-{the_period.code}.xlsx",
            {
                "unit_code": unit.unit_code,
                "name": unit.name,
                "sector": unit.sector,
                "form": unit.form,
            },
            the_period.code,
            catalog,
        )
    typer.echo(f"Đã tạo {len(active)} biểu mẫu kỳ {the_period.code} trong {out}/")


from tonghop.cli_review import review_app  # noqa: E402

app.add_typer(review_app, name="review")

from tonghop.cli_archive import archive_app  # noqa: E402

app.add_typer(archive_app, name="archive")

from tonghop.cli_rebuild import rebuild_command  # noqa: E402

app.command("rebuild")(rebuild_command)

from tonghop.cli_portal import serve, units_app, users_app  # noqa: E402

app.command("serve")(serve)
app.add_typer(units_app, name="units")
app.add_typer(users_app, name="users")


@app.command("check-draft")
def check_draft(
    file: Path = typer.Argument(..., help="Dự thảo đã chỉnh sửa (.docx, .md, .txt, .html)"),
    workspace: Path | None = typer.Option(None, help="Thư mục làm việc để đối chiếu số liệu"),
    period: str | None = typer.Option(None, help="Kỳ của số liệu (kiểm tra khớp với workspace)"),
    figures: Path | None = typer.Option(
        None, help="figures.json của lần chạy đã viết dự thảo (thay cho --workspace)"
    ),
    settings: Path | None = typer.Option(
        None, help="Tệp YAML thiết lập văn bản (số liệu ngoài: external_figures), cùng --workspace"
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Ghi kết quả ra tệp JSON"),
) -> None:
    """Tìm số liệu tự mâu thuẫn trong dự thảo (tổng, tỷ lệ) và số liệu lệch với dữ liệu."""
    import json

    from tonghop.checkdraft import (
        DraftError,
        read_draft,
        read_figures_file,
        summary,
        workspace_figures,
    )
    from tonghop.checkdraft import check_paragraphs as run_checks
    from tonghop.settings import SettingsError, load_settings

    if period and not workspace:
        _fail("--period cần đi cùng --workspace")
    try:
        paragraphs = read_draft(file)
        registry = read_figures_file(figures) if figures else None
        if workspace and registry is None:
            registry = workspace_figures(workspace, period, load_settings(settings))
    except (DraftError, SettingsError) as exc:
        _fail(str(exc))
    issues = run_checks(paragraphs, registry)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(
            json.dumps([i.to_json() for i in issues], ensure_ascii=False, indent=2),
            encoding="utf-8",
        )
    typer.echo(summary(issues, file, with_data=registry is not None))


@app.command()
def explain(
    figure: str = typer.Argument(..., help="Mã số liệu, ví dụ cutoff.members_total"),
    workspace: Path = typer.Option(..., help="Thư mục làm việc (DuckDB)"),
    period: str | None = typer.Option(None, help="Kỳ của số liệu (kiểm tra khớp với workspace)"),
) -> None:
    """Cho biết một số liệu của dự thảo lấy từ mô hình nào và từng đơn vị đóng góp bao nhiêu."""
    from tonghop.checkdraft import DraftError, check_workspace
    from tonghop.db import connect
    from tonghop.explain import contribution_line
    from tonghop.explain import explain as explain_figure
    from tonghop.figure_ids import ExplainError
    from tonghop.formatting import so

    try:
        check_workspace(workspace, period)  # the workspace holds marts of that period
    except DraftError as exc:
        _fail(str(exc))
    con = connect(workspace, read_only=True)
    try:
        result = explain_figure(con, figure)
    except ExplainError as exc:
        _fail(str(exc))
    finally:
        con.close()
    d = result.decimals
    typer.echo(f"{result.figure} — {result.label}: {so(result.value, d)}")
    typer.echo(f"Mô hình: {result.model}, cột {result.column} ({result.filters})")
    typer.echo(f"Cách tính: {result.method}")
    typer.echo("mã đơn vị\ttên đơn vị\tkỳ\tgiá trị\ttệp\tvị trí\tsha256")
    for c in result.contributions:
        typer.echo(contribution_line(c, d))
    verdict = "bằng số liệu của dự thảo" if result.matches else "KHÔNG bằng số liệu của dự thảo"
    typer.echo(f"Tổng {len(result.contributions)} dòng: {so(result.total, d)} ({verdict})")


@app.command()
def status(
    workspace: Path = typer.Option(..., help="Thư mục làm việc (DuckDB)"),
    period: str = typer.Option(
        ..., help="Kỳ báo cáo, ví dụ 2023-H1; current, previous: theo hôm nay và schedule.cadence"
    ),
    settings: Path | None = typer.Option(None, help="Tệp YAML thiết lập (hạn nộp: schedule)"),
) -> None:
    """Tình hình nộp báo cáo của từng đơn vị trong kỳ: đúng hạn, muộn, chưa nộp, bị trả lại."""
    import datetime as dt

    from tonghop.db import db_path
    from tonghop.periods import Period, PeriodError
    from tonghop.settings import SettingsError, load_settings
    from tonghop.status import WorkspaceBusy, reading, summary_lines, unit_status

    try:
        schedule = load_settings(settings).schedule
        code = Period.parse(schedule.resolve(period, dt.date.today())).code
    except (PeriodError, SettingsError) as exc:
        _fail(str(exc))
    if not db_path(workspace).is_file():
        _fail(f"Thư mục làm việc '{workspace}' chưa có dữ liệu (chưa chạy lần nào)")
    due = schedule.due(code)
    try:
        with reading(workspace, lambda line: typer.echo(line, err=True)) as con:
            statuses = unit_status(con, code, due)
    except WorkspaceBusy as exc:
        _fail(str(exc))
    for line in summary_lines(statuses, code, due):
        typer.echo(line)
    typer.echo("mã đơn vị\ttên đơn vị\ttình trạng\tnộp lần đầu\tphát hiện chưa xử lý (lỗi)")
    for s in statuses:
        first = s.first_received.strftime("%d/%m/%Y %H:%M") if s.first_received else ""
        typer.echo(
            f"{s.unit_code}\t{s.name}\t{s.label}\t{first}\t{s.open_findings} ({s.open_errors})"
        )


if __name__ == "__main__":
    app()
