"""The steward's pages: the review queue, a finding, a decision seen before it is written."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tonghop.portal import access, decisions, views
from tonghop.portal.core import Portal, portal_of
from tonghop.review import STATE_LABELS, AuditError, ReviewError


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
    return await run_in_threadpool(_queue_page, portal_of(request), request)


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
        _finding_page, portal_of(request), request, request.path_params["key"]
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
    access.require(request, portal_of(request).store, "kiem-tra")  # before reading the body
    return await request.form(max_files=0, max_fields=10, max_part_size=4096)


async def review_preview(request: Request) -> Response:
    form = await _review_form(request)
    return await run_in_threadpool(
        _review, portal_of(request), request, request.path_params["key"], form, False
    )


async def review_apply(request: Request) -> Response:
    form = await _review_form(request)
    return await run_in_threadpool(
        _review, portal_of(request), request, request.path_params["key"], form, True
    )
