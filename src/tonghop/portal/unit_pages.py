"""A unit's pages, opened by its private link: its findings, form, letter and uploads."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from tonghop.portal import access, views
from tonghop.portal.core import (
    AFTER_UPLOAD_WAIT,
    READ_WAIT_SECONDS,
    SECURITY_HEADERS,
    UPLOAD_ANSWER_SECONDS,
    XLSX,
    Portal,
    portal_of,
    read_upload,
)
from tonghop.portal.uploads import MAX_UPLOAD_BYTES, UploadRefused
from tonghop.status import WorkspaceBusy


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
    portal = portal_of(request)
    token = request.path_params["token"]
    return await run_in_threadpool(_unit_page, portal, request, token)


async def unit_upload(request: Request) -> Response:
    portal = portal_of(request)
    token = request.path_params["token"]
    link = access.unit_link(portal.store, token)
    name, data, _ = await read_upload(request)
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
    return await run_in_threadpool(_form_file, portal_of(request), request.path_params["token"])
