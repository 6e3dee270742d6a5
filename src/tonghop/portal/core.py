"""What the portal's pages share: its configuration, the state of one running portal (the
workspace read and written in turn, the templates), and a bounded upload."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from tonghop.catalog import load_catalog
from tonghop.db import db_path, open_db
from tonghop.locking import WriterBusy, workspace_turn
from tonghop.portal import access
from tonghop.portal.store import PortalStore
from tonghop.portal.uploads import MAX_UPLOAD_BYTES, Intake
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


def portal_of(request: Request) -> Portal:
    return request.app.state.portal


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"Tệp lớn quá {limit // (1024 * 1024)} MB.")


async def read_upload(request: Request, limit: int = MAX_UPLOAD_BYTES) -> tuple[str, bytes, Any]:
    """The uploaded file's name, bytes and the form it came in: the body bounded in size
    (Content-Length, required; `limit` for the file) and in time (UPLOAD_BODY_SECONDS)."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(411, "Cần gửi tệp kèm độ dài (Content-Length).")
    if int(length) > limit + 64 * 1024:
        raise too_large(limit)
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
        raise too_large(limit)
    return upload.filename, data, form
