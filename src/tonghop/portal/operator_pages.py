"""The operator's page: each unit's standing for a period, the files not read."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tonghop.portal import access, views
from tonghop.portal.core import Portal, portal_of


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
    return await run_in_threadpool(_status_page, portal_of(request), request)
