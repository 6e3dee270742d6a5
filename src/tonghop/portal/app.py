"""The portal's web application (Starlette): routes, the workspace read and written in turn.

Pages are rendered on the server from Jinja2 templates (autoescaped: every string from a unit
or a registry is shown, never run) and need no JavaScript. The workspace's DuckDB file is
opened per request and closed before the answer: read with the workspace's lock file shared
(a run writing it is waited for), written with it held alone (`tonghop.locking`), so the
portal never keeps the file from a run.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from tonghop.catalog import load_catalog
from tonghop.db import db_path, open_db
from tonghop.locking import WriterBusy, workspace_turn
from tonghop.portal import access, decisions, views
from tonghop.portal.auth import SignInError, TooManyAttempts, sign_in
from tonghop.portal.store import SESSION_HOURS, PortalStore
from tonghop.portal.uploads import MAX_UPLOAD_BYTES, Intake, UploadRefused
from tonghop.review import STATE_LABELS, AuditError, ReviewError
from tonghop.review_page import number
from tonghop.settings import load_settings
from tonghop.status import WorkspaceBusy, reading

TEMPLATES_DIR = Path(__file__).parent / "templates"
# A page waits this long for a run writing the workspace, then says to come back.
READ_WAIT_SECONDS = 20
WRITE_WAIT_SECONDS = 30
AFTER_UPLOAD_WAIT = 2
MAX_DRAFT_BYTES = 20 * 1024 * 1024  # a Word draft carries its charts
# The upload's POST answers with the findings when they come within this time; otherwise
# with a page that reloads itself until they are there.
UPLOAD_ANSWER_SECONDS = 25
# The whole body of an upload must arrive within this time.
UPLOAD_BODY_SECONDS = 60
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a unit's link never leaves in a Referer header
    "Cache-Control": "no-store",
}
# What an owner may download from the runs' output folder, and how it is served.
DRAFT_FILES = {
    "bao-cao.html": "text/html; charset=utf-8",
    "truy-vet.html": "text/html; charset=utf-8",
    "bao-cao.docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "bao-cao.md": "text/markdown; charset=utf-8",
    "figures.json": "application/json",
    "findings.json": "application/json",
}
CHART_DIR = "bieu-do"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class PortalConfig:
    """What `tonghop serve` was given."""

    workspace: Path
    source: Path | None = None
    out: Path | None = None  # the runs' output folder, where the draft is
    settings: Path | None = None
    prefect_ui: str | None = None


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["so_lieu"] = number
    env.filters["thoi_gian"] = lambda at: at.strftime("%H:%M %d/%m/%Y") if at else ""
    return env


def draft_folder(config: PortalConfig) -> Path | None:
    """The runs' output folder: `--out`, else the folder holding the workspace when a draft is
    there (the layout `tonghop demo` makes: OUT/workspace)."""
    if config.out is not None:
        return config.out
    parent = config.workspace.resolve().parent
    return parent if (parent / "bao-cao.html").is_file() else None


class Portal:
    """The state one running portal shares between requests."""

    def __init__(self, config: PortalConfig) -> None:
        self.config = config
        self.store = PortalStore(config.workspace)
        self.intake = Intake(config.workspace, self.store, config.source)
        self.intake.resume()
        self.env = _environment()
        self.catalog = load_catalog()
        self.settings = load_settings(config.settings)

    # the workspace

    @contextmanager
    def reading(
        self, wait: float = READ_WAIT_SECONDS
    ) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """A read-only connection once no run writes the workspace (waiting at most `wait`
        seconds); None before any run."""
        if not db_path(self.config.workspace).is_file():
            yield None
            return
        with reading(self.config.workspace, lambda line: None, wait) as con:
            yield con

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for a review action, holding the workspace alone."""
        try:
            with (
                workspace_turn(self.config.workspace, lambda line: None, WRITE_WAIT_SECONDS),
                open_db(self.config.workspace) as con,
            ):
                yield con
        except WriterBusy as exc:
            raise WorkspaceBusy(str(exc)) from exc

    # rendering

    def page(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        session = access.session_of(request, self.store)
        html = self.env.get_template(template).render(
            session=session, user=session.user if session else None, **context
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _portal(request: Request) -> Portal:
    return request.app.state.portal


# sign-in


async def home(request: Request) -> Response:
    portal = _portal(request)
    session = access.session_of(request, portal.store)
    if session is None:
        return access.sign_in_redirect("/")
    return RedirectResponse(access.HOME[session.user.role], status_code=303)


async def sign_in_page(request: Request) -> Response:
    return _portal(request).page(
        request, "dang-nhap.html.j2", tiep=request.query_params.get("tiep", ""), error=None
    )


async def sign_in_post(request: Request) -> Response:
    portal = _portal(request)
    form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
    name, password = str(form.get("ten", "")), str(form.get("mat_khau", ""))
    address = request.client.host if request.client else None
    try:
        user = await run_in_threadpool(sign_in, portal.store, name, password, address)
    except SignInError as exc:
        status = 429 if isinstance(exc, TooManyAttempts) else 401
        return portal.page(
            request, "dang-nhap.html.j2", status, tiep=form.get("tiep", ""), error=str(exc)
        )
    token = portal.store.open_session(user)
    target = access.safe_next(str(form.get("tiep", "")), user.role)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        access.SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=SESSION_HOURS * 3600,
    )
    return response


async def sign_out(request: Request) -> Response:
    portal = _portal(request)
    session = access.session_of(request, portal.store)
    if session is not None:
        form = await request.form(max_files=0, max_fields=2, max_part_size=1024)
        access.check_csrf(session, form.get("csrf"))
        portal.store.close_session(request.cookies.get(access.SESSION_COOKIE))
    response = RedirectResponse("/dang-nhap", status_code=303)
    response.delete_cookie(access.SESSION_COOKIE)
    return response


# a unit's link


def _unit_page(
    portal: Portal,
    request: Request,
    token: str,
    status: int = 200,
    wait: float = READ_WAIT_SECONDS,
    **extra: Any,
) -> HTMLResponse:
    link = access.unit_link(portal.store, token)
    found: dict[str, Any] = {
        "unit": {"unit_code": link.unit_code, "name": link.unit_code},
        "findings": [],
        "submissions": [],
        "letter": None,
        "busy": None,
    }
    try:
        with portal.reading(wait) as con:
            if con is None:
                raise HTTPException(503, "Kho dữ liệu chưa có số liệu nào; đề nghị thử lại sau.")
            found["unit"] = views.unit_record(con, link.unit_code)
            if found["unit"] is None:
                raise HTTPException(404, "Đơn vị của đường dẫn này không còn trong danh mục.")
            found["findings"] = views.unit_findings(con, portal.catalog, *link.key)
            found["submissions"] = views.unit_submissions(con, *link.key)
            found["letter"] = views.unit_letter(con, portal.catalog, portal.settings, *link.key)
    except WorkspaceBusy as exc:
        # the upload's own state is in the portal's store: shown, with the page reloading
        found["busy"] = f"Kho dữ liệu đang được cập nhật: {exc}"
    uploads = portal.store.uploads(link.unit_code, link.period)
    pending = bool(uploads) and uploads[0]["state"] in ("queued", "waiting")
    return portal.page(
        request,
        "don-vi.html.j2",
        status,
        token=token,
        link=link,
        errors=sum(f["severity"] == "error" for f in found["findings"]),
        uploads=uploads,
        pending=pending or found["busy"] is not None,
        max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
        **found,
        **extra,
    )


async def unit_page(request: Request) -> Response:
    portal = _portal(request)
    token = request.path_params["token"]
    return await run_in_threadpool(_unit_page, portal, request, token)


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"Tệp lớn quá {limit // (1024 * 1024)} MB.")


async def _read_upload(request: Request, limit: int = MAX_UPLOAD_BYTES) -> tuple[str, bytes, Any]:
    """The uploaded file's name, bytes and the form it came in: the body bounded in size
    (Content-Length, required; `limit` for the file) and in time (UPLOAD_BODY_SECONDS)."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(411, "Cần gửi tệp kèm độ dài (Content-Length).")
    if int(length) > limit + 64 * 1024:
        raise _too_large(limit)
    try:
        form = await asyncio.wait_for(
            request.form(max_files=1, max_fields=5, max_part_size=4096), UPLOAD_BODY_SECONDS
        )
    except TimeoutError as exc:
        raise HTTPException(408, "Gửi tệp quá lâu; đề nghị gửi lại.") from exc
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise HTTPException(400, "Chưa chọn tệp để gửi (trường 'file').")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    return upload.filename, data, form


async def unit_upload(request: Request) -> Response:
    portal = _portal(request)
    token = request.path_params["token"]
    link = access.unit_link(portal.store, token)
    name, data, _ = await _read_upload(request)
    try:
        job = await run_in_threadpool(portal.intake.submit, link.unit_code, link.period, name, data)
    except UploadRefused as exc:
        return await run_in_threadpool(_unit_page, portal, request, token, 422, refused=str(exc))
    await run_in_threadpool(portal.intake.wait, job, UPLOAD_ANSWER_SECONDS)
    # the upload waited already: the page does not wait long again for a run writing
    return await run_in_threadpool(_unit_page, portal, request, token, 200, AFTER_UPLOAD_WAIT)


def _form_file(portal: Portal, token: str) -> Response:
    from tonghop.forms import write_form

    link = access.unit_link(portal.store, token)
    with portal.reading() as con:
        unit = views.unit_record(con, link.unit_code) if con is not None else None
        if unit is None:
            raise HTTPException(404, "Đơn vị của đường dẫn này không còn trong danh mục.")
        values = views.current_values(con, link.unit_code, link.period, portal.catalog)
    name = f"{link.unit_code}-{link.period}.xlsx"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        write_form(path, unit, link.period, portal.catalog, values)
        data = path.read_bytes()
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"', **SECURITY_HEADERS},
    )


async def unit_form(request: Request) -> Response:
    return await run_in_threadpool(_form_file, _portal(request), request.path_params["token"])


# the steward's queue


def _filters(request: Request) -> dict[str, str | None]:
    params = request.query_params
    return {k: (params.get(k) or None) for k in ("don_vi", "quy_tac", "trang_thai", "ky")}


def _queue_page(portal: Portal, request: Request) -> Response:
    access.require(request, portal.store, "kiem-tra")
    chosen = _filters(request)
    state = chosen["trang_thai"] if chosen["trang_thai"] in STATE_LABELS else None
    with portal.reading() as con:
        view = (
            views.steward_queue(
                con, portal.catalog, chosen["don_vi"], chosen["quy_tac"], state, chosen["ky"]
            )
            if con is not None
            else None
        )
    return portal.page(request, "kiem-tra.html.j2", view=view, chosen=chosen)


async def queue_page(request: Request) -> Response:
    return await run_in_threadpool(_queue_page, _portal(request), request)


def _finding_page(portal: Portal, request: Request, key: str, **extra: Any) -> Response:
    access.require(request, portal.store, "kiem-tra")
    with portal.reading() as con:
        if con is None:
            raise HTTPException(404, "Chưa có phát hiện nào.")
        try:
            finding = views.finding_detail(con, portal.catalog, key)
        except ReviewError as exc:
            raise HTTPException(404, str(exc)) from exc
    return portal.page(request, "phat-hien.html.j2", extra.pop("status", 200), f=finding, **extra)


async def finding_page(request: Request) -> Response:
    return await run_in_threadpool(
        _finding_page, _portal(request), request, request.path_params["key"]
    )


def _review(portal: Portal, request: Request, key: str, form: Any, apply: bool) -> Response:
    session = access.require(request, portal.store, "kiem-tra")
    access.check_csrf(session, form.get("csrf"))
    from tonghop.review import accept, correct, reject

    try:
        with portal.reading() as con:
            finding = views.finding_detail(con, portal.catalog, key)
            decision = decisions.read_decision(form, finding)
            effect = decisions.effect(con, finding, decision)
        if not apply:
            return portal.page(
                request, "xac-nhan.html.j2", f=finding, decision=decision, effect=effect
            )
        actor = f"{session.user.name} (cổng thông tin)"
        with portal.writing() as con:
            if decision["action"] == "accept":
                accept(con, finding["finding_key"], decision["note"], actor)
            elif decision["action"] == "reject":
                reject(con, finding["finding_key"], decision["note"], actor)
            else:
                correct(
                    con,
                    finding["finding_key"],
                    decision["value"],
                    decision["note"],
                    decision["source"],
                    decision["indicator"],
                    actor,
                )
    except (ReviewError, AuditError) as exc:
        return _finding_page(portal, request, key, status=422, error=str(exc))
    return _finding_page(portal, request, key, done=effect)


async def _review_form(request: Request) -> Any:
    access.require(request, _portal(request).store, "kiem-tra")  # before reading the body
    return await request.form(max_files=0, max_fields=10, max_part_size=4096)


async def review_preview(request: Request) -> Response:
    form = await _review_form(request)
    return await run_in_threadpool(
        _review, _portal(request), request, request.path_params["key"], form, False
    )


async def review_apply(request: Request) -> Response:
    form = await _review_form(request)
    return await run_in_threadpool(
        _review, _portal(request), request, request.path_params["key"], form, True
    )


# the owner's draft


def _draft_page(portal: Portal, request: Request, status: int = 200, **extra: Any) -> Response:
    from tonghop.pipeline import review_coverage
    from tonghop.status import unit_status

    access.require(request, portal.store, "bao-cao")
    folder = draft_folder(portal.config)
    files = [n for n in DRAFT_FILES if folder is not None and (folder / n).is_file()]
    coverage, statuses, period_range = None, [], None
    with portal.reading() as con:
        if con is not None:
            period_range = views.consolidated_range(con)
        if period_range is not None:
            coverage = review_coverage(con, period_range)
            last = period_range.last.code
            statuses = unit_status(con, last, portal.settings.schedule.due(last))
    return portal.page(
        request,
        "bao-cao.html.j2",
        status,
        files=files,
        folder=folder,
        coverage=coverage,
        period_range=period_range,
        statuses=[s for s in statuses if s.status in ("missing", "late", "rejected")],
        **extra,
    )


async def draft_page(request: Request) -> Response:
    return await run_in_threadpool(_draft_page, _portal(request), request)


async def draft_file(request: Request) -> Response:
    portal = _portal(request)
    access.require(request, portal.store, "bao-cao")
    folder = draft_folder(portal.config)
    name = request.path_params["name"]
    parts = PurePosixPath(name).parts
    allowed = name in DRAFT_FILES or (
        len(parts) == 2 and parts[0] == CHART_DIR and parts[1].endswith(".png")
    )
    if folder is None or not allowed or ".." in parts:
        raise HTTPException(404, "Không có tệp này.")
    path = folder / name
    if not path.is_file():
        raise HTTPException(404, "Không có tệp này.")
    media = DRAFT_FILES.get(name, "image/png")
    headers = dict(SECURITY_HEADERS)
    if name == "bao-cao.html":
        html = await run_in_threadpool(path.read_text, "utf-8")
        return HTMLResponse(views.link_figures(html), headers=headers)
    if name.endswith((".docx", ".md", ".json")):
        headers["Content-Disposition"] = f'attachment; filename="{PurePosixPath(name).name}"'
    return FileResponse(path, media_type=media, headers=headers)


def _check_draft(portal: Portal, request: Request, name: str, data: bytes, form: Any) -> Response:
    from tonghop.checkdraft import DraftError, check_paragraphs, read_draft, workspace_lookup

    session = access.require(request, portal.store, "bao-cao")
    access.check_csrf(session, form.get("csrf"))
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in (".docx", ".md", ".txt", ".html"):
        return _draft_page(
            portal, request, 422, check_error="Chỉ nhận dự thảo .docx, .md, .txt hoặc .html."
        )
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"du-thao{suffix}"
            path.write_bytes(data)
            paragraphs = read_draft(path)
        with portal.reading() as con:
            lookup = workspace_lookup(portal.config.workspace) if con is not None else None
    except DraftError as exc:
        return _draft_page(portal, request, 422, check_error=str(exc))
    issues = check_paragraphs(paragraphs, lookup)
    return _draft_page(portal, request, checked=name, issues=issues, with_data=lookup is not None)


async def check_draft(request: Request) -> Response:
    portal = _portal(request)
    access.require(request, portal.store, "bao-cao")
    name, data, form = await _read_upload(request, MAX_DRAFT_BYTES)
    return await run_in_threadpool(_check_draft, portal, request, name, data, form)


# the operator's status


def _status_page(portal: Portal, request: Request) -> Response:
    from tonghop.periods import Period, PeriodError
    from tonghop.status import STATUS_LABELS, unit_status

    access.require(request, portal.store, "van-hanh")
    statuses, rejected, period, periods = [], [], request.query_params.get("ky"), []
    with portal.reading() as con:
        if con is not None:
            periods = views.known_periods(con)
            period = period or (periods[-1] if periods else None)
            try:
                code = Period.parse(period).code if period else None
            except PeriodError as exc:
                raise HTTPException(400, str(exc)) from exc
            if code:
                statuses = unit_status(con, code, portal.settings.schedule.due(code))
            rejected = views.rejected_files(con)
    counts = {k: sum(s.status == k for s in statuses) for k in STATUS_LABELS}
    return portal.page(
        request,
        "van-hanh.html.j2",
        period=period,
        periods=periods,
        statuses=statuses,
        counts=counts,
        labels=STATUS_LABELS,
        rejected=rejected,
        due=portal.settings.schedule.due(period) if period else None,
        prefect_ui=portal.config.prefect_ui,
    )


async def status_page(request: Request) -> Response:
    return await run_in_threadpool(_status_page, _portal(request), request)


# errors


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _portal(request).page(
        request, "loi.html.j2", exc.status_code, message=exc.detail, retry=False
    )


async def _sign_in_needed(request: Request, exc: Exception) -> Response:
    if request.method == "GET":
        return access.sign_in_redirect(str(request.url.path))
    return _portal(request).page(
        request, "loi.html.j2", 401, message="Cần đăng nhập để làm việc này.", retry=False
    )


async def _busy(request: Request, exc: Exception) -> Response:
    response = _portal(request).page(
        request,
        "loi.html.j2",
        503,
        message=f"Kho dữ liệu đang được cập nhật: {exc}. Trang sẽ tự tải lại.",
        retry=True,
    )
    response.headers["Retry-After"] = "5"
    return response


def create_app(config: PortalConfig) -> Starlette:
    """The portal for one workspace (`tonghop serve`)."""
    routes = [
        Route("/", home),
        Route("/dang-nhap", sign_in_page, methods=["GET"]),
        Route("/dang-nhap", sign_in_post, methods=["POST"]),
        Route("/dang-xuat", sign_out, methods=["POST"]),
        Route("/don-vi/{token}", unit_page, methods=["GET"]),
        Route("/don-vi/{token}", unit_upload, methods=["POST"]),
        Route("/don-vi/{token}/bieu-mau.xlsx", unit_form, methods=["GET"]),
        Route("/kiem-tra", queue_page, methods=["GET"]),
        Route("/kiem-tra/{key}", finding_page, methods=["GET"]),
        Route("/kiem-tra/{key}/xem-truoc", review_preview, methods=["POST"]),
        Route("/kiem-tra/{key}/ap-dung", review_apply, methods=["POST"]),
        Route("/bao-cao", draft_page, methods=["GET"]),
        Route("/bao-cao/tep/{name:path}", draft_file, methods=["GET"]),
        Route("/bao-cao/kiem-tra-du-thao", check_draft, methods=["POST"]),
        Route("/van-hanh", status_page, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: _http_error,
            access.SignInNeeded: _sign_in_needed,
            WorkspaceBusy: _busy,
        },
    )
    app.state.portal = Portal(config)
    return app
