"""The owner's page: the draft and its files, the coverage, check-draft on an edited copy."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from tonghop.portal import access, views
from tonghop.portal.core import (
    CHART_DIR,
    DRAFT_FILES,
    MAX_DRAFT_BYTES,
    SECURITY_HEADERS,
    Portal,
    draft_folder,
    portal_of,
    read_upload,
)

# A unit's standings the owner is shown (with any unit whose errors are still open: its figures
# stay out of the draft until a steward decides).
OUT_OF_DRAFT = ("missing", "late", "rejected")


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
        statuses=[s for s in statuses if s.status in OUT_OF_DRAFT or s.open_errors],
        **extra,
    )


async def draft_page(request: Request) -> Response:
    return await run_in_threadpool(_draft_page, portal_of(request), request)


async def draft_file(request: Request) -> Response:
    portal = portal_of(request)
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
    from tonghop.checkdraft import (
        DraftError,
        check_paragraphs,
        read_draft,
        read_figures_file,
        workspace_figures,
    )

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
        # the figures the current draft was written with, else those the workspace gives
        folder = draft_folder(portal.config)
        written = folder / "figures.json" if folder else None
        if written is not None and written.is_file():
            lookup = read_figures_file(written)
        else:
            with portal.reading() as con:
                lookup = (
                    workspace_figures(portal.config.workspace, None, portal.settings)
                    if con is not None
                    else None
                )
    except DraftError as exc:
        return _draft_page(portal, request, 422, check_error=str(exc))
    issues = check_paragraphs(paragraphs, lookup)
    return _draft_page(portal, request, checked=name, issues=issues, with_data=lookup is not None)


async def check_draft(request: Request) -> Response:
    portal = portal_of(request)
    access.require(request, portal.store, "bao-cao")
    name, data, form = await read_upload(request, MAX_DRAFT_BYTES)
    return await run_in_threadpool(_check_draft, portal, request, name, data, form)
