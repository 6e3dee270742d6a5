"""The portal's web application (Starlette): its routes, sign-in and the error pages.

Pages are rendered on the server from Jinja2 templates (autoescaped: every string from a unit
or a registry is shown, never run) and need no JavaScript; each area's pages are a module:
`unit_pages`, `steward_pages`, `owner_pages`, `operator_pages`, on what `core` shares. The
workspace's DuckDB file is opened per request and closed before the answer: read with the
workspace's lock file shared (a run writing it is waited for), written with it held alone
(`tonghop.locking`), so the portal never keeps the file from a run.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tonghop.portal import access, operator_pages, owner_pages, steward_pages, unit_pages
from tonghop.portal.auth import SignInError, TooManyAttempts, sign_in
from tonghop.portal.core import Portal, PortalConfig, portal_of
from tonghop.portal.store import SESSION_HOURS
from tonghop.status import WorkspaceBusy

__all__ = ["PortalConfig", "create_app"]


async def home(request: Request) -> Response:
    portal = portal_of(request)
    session = access.session_of(request, portal.store)
    if session is None:
        return access.sign_in_redirect("/")
    return RedirectResponse(access.HOME[session.user.role], status_code=303)


async def sign_in_page(request: Request) -> Response:
    return portal_of(request).page(
        request, "dang-nhap.html.j2", tiep=request.query_params.get("tiep", ""), error=None
    )


async def sign_in_post(request: Request) -> Response:
    portal = portal_of(request)
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
    portal = portal_of(request)
    session = access.session_of(request, portal.store)
    if session is not None:
        form = await request.form(max_files=0, max_fields=2, max_part_size=1024)
        access.check_csrf(session, form.get("csrf"))
        portal.store.close_session(request.cookies.get(access.SESSION_COOKIE))
    response = RedirectResponse("/dang-nhap", status_code=303)
    response.delete_cookie(access.SESSION_COOKIE)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return portal_of(request).page(
        request, "loi.html.j2", exc.status_code, message=exc.detail, retry=False
    )


async def _sign_in_needed(request: Request, exc: Exception) -> Response:
    if request.method == "GET":
        return access.sign_in_redirect(str(request.url.path))
    return portal_of(request).page(
        request, "loi.html.j2", 401, message="Cần đăng nhập để làm việc này.", retry=False
    )


async def _busy(request: Request, exc: Exception) -> Response:
    response = portal_of(request).page(
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
        Route("/don-vi/{token}", unit_pages.unit_page, methods=["GET"]),
        Route("/don-vi/{token}", unit_pages.unit_upload, methods=["POST"]),
        Route("/don-vi/{token}/bieu-mau.xlsx", unit_pages.unit_form, methods=["GET"]),
        Route("/kiem-tra", steward_pages.queue_page, methods=["GET"]),
        Route("/kiem-tra/{key}", steward_pages.finding_page, methods=["GET"]),
        Route("/kiem-tra/{key}/xem-truoc", steward_pages.review_preview, methods=["POST"]),
        Route("/kiem-tra/{key}/ap-dung", steward_pages.review_apply, methods=["POST"]),
        Route("/bao-cao", owner_pages.draft_page, methods=["GET"]),
        Route("/bao-cao/tep/{name:path}", owner_pages.draft_file, methods=["GET"]),
        Route("/bao-cao/kiem-tra-du-thao", owner_pages.check_draft, methods=["POST"]),
        Route("/van-hanh", operator_pages.status_page, methods=["GET"]),
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
