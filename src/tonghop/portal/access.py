"""Who may see what: the signed-in account's role on every page, the unit's link on its own.

Without a session every page but a unit's link redirects to the sign-in page (a form's POST
answers 401); a session of another role gets 403; a form posted without the session's CSRF
token gets 403. A unit's link opens only its own unit and period, until it expires or is
revoked (404 for a token never given, 410 for one no longer usable).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from tonghop.portal.auth import csrf_matches
from tonghop.portal.store import PortalStore, Session, UnitLink

SESSION_COOKIE = "tonghop_phien"
# Which roles open each area of the portal.
AREAS = {
    "kiem-tra": ("steward",),
    "bao-cao": ("owner",),
    "van-hanh": ("operator",),
}
HOME = {"steward": "/kiem-tra", "owner": "/bao-cao", "operator": "/van-hanh"}


class SignInNeeded(Exception):
    """No live session: GET goes to the sign-in page, anything else answers 401."""

    def __init__(self, path: str) -> None:
        self.path = path


def session_of(request: Request, store: PortalStore) -> Session | None:
    return store.session(request.cookies.get(SESSION_COOKIE))


def require(request: Request, store: PortalStore, area: str) -> Session:
    """The session, when its role opens the area; SignInNeeded or 403 otherwise."""
    session = session_of(request, store)
    if session is None:
        raise SignInNeeded(request.url.path)
    if session.user.role not in AREAS[area]:
        raise HTTPException(403, "Tài khoản của bạn không có quyền xem trang này.")
    return session


def check_csrf(session: Session, given: str | None) -> None:
    if not csrf_matches(session.csrf, given):
        raise HTTPException(403, "Biểu mẫu đã cũ hoặc không hợp lệ; tải lại trang rồi thử lại.")


def unit_link(store: PortalStore, token: str) -> UnitLink:
    """The unit's link of a token, when it is still usable."""
    link = store.link(token)
    if link is None:
        raise HTTPException(404, "Đường dẫn không đúng.")
    if not link.usable():
        raise HTTPException(
            410, "Đường dẫn này đã hết hạn hoặc đã bị thu hồi; đề nghị liên hệ Văn phòng."
        )
    return link


def sign_in_redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"/dang-nhap?tiep={quote(path)}", status_code=303)


def safe_next(path: str | None, role: str) -> str:
    """Where to go after signing in: a local path of the portal, else the role's home."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return HOME[role]


_LINK_PATH = re.compile(r"(/don-vi/)[^/?\s]+")


def mask_link(path: str) -> str:
    """A path with a unit's token hidden, for logs: a link is a password.

    >>> mask_link("/don-vi/AbC-123_x/bieu-mau.xlsx"), mask_link("/kiem-tra")
    ('/don-vi/…/bieu-mau.xlsx', '/kiem-tra')
    """
    return _LINK_PATH.sub(r"\1…", path)


class MaskLinks(logging.Filter):
    """Hide units' tokens in uvicorn's access log (its record's third argument is the path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], mask_link(args[2]), *args[3:])
        return True
