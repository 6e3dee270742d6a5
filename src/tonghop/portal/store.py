"""The portal's own state: accounts, sessions, units' links, uploads, sign-in attempts.

A SQLite file in the workspace (`portal/portal.sqlite3`), not the workspace's DuckDB file:
DuckDB lets one process write a file, and the runs write the workspace's; the portal writes its
own state at every request (a session, a sign-in attempt) and must not wait for a run to do so.
Tokens (a session's, a unit's link) are kept as their sha256 only: the file alone opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

PORTAL_DIR = "portal"
STORE_NAME = "portal.sqlite3"
ROLES = ("steward", "owner", "operator")
ROLE_LABELS = {
    "steward": "cán bộ kiểm tra số liệu",
    "owner": "người phụ trách báo cáo",
    "operator": "người vận hành",
}

SCHEMA = """
create table if not exists users (
    name          text primary key,
    role          text not null,
    password_hash text not null,
    created_at    text not null
);
create table if not exists sessions (
    token_sha256 text primary key,
    user_name    text not null references users (name),
    csrf         text not null,
    created_at   text not null,
    expires_at   text not null
);
create table if not exists unit_links (
    token_sha256 text primary key,
    unit_code    text not null,
    period       text not null,
    created_at   text not null,
    expires_at   text not null,
    revoked_at   text
);
create table if not exists uploads (
    upload_id   integer primary key autoincrement,
    unit_code   text not null,
    period      text not null,
    file_name   text not null,
    sha256      text not null,
    size_bytes  integer not null,
    received_at text not null,
    state       text not null,          -- queued | waiting | done | refused | failed
    message     text,                   -- what the unit is told (Vietnamese)
    finished_at text
);
create table if not exists sign_in_attempts (
    key text not null,                  -- 'name:<name>' or 'ip:<address>'
    at  text not null
);
create index if not exists sign_in_attempts_key on sign_in_attempts (key, at);
"""

SESSION_HOURS = 8
TOKEN_BYTES = 32  # 256 random bits: a link cannot be guessed


def new_token() -> str:
    """A long random token, safe in a URL."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the store keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _iso(at: datetime) -> str:
    return at.isoformat(sep=" ")


@dataclass(frozen=True)
class User:
    """A signed-in account."""

    name: str
    role: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


@dataclass(frozen=True)
class Session:
    """A signed-in session: its account and the token its forms carry against CSRF."""

    user: User
    csrf: str


@dataclass(frozen=True)
class UnitLink:
    """A unit's private link: for one unit and one period, until it expires or is revoked."""

    unit_code: str
    period: str
    expires_at: datetime
    revoked: bool

    @property
    def key(self) -> tuple[str, str]:
        """(unit, period): what the link opens."""
        return self.unit_code, self.period

    def usable(self, now: datetime | None = None) -> bool:
        return not self.revoked and (now or _now()) < self.expires_at


class PortalStore:
    """The SQLite file of a workspace's portal; one connection per call, safe across threads."""

    def __init__(self, workspace: Path) -> None:
        self.folder = workspace / PORTAL_DIR
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / STORE_NAME
        with self._connect() as con:
            con.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            with con:  # a transaction: committed at the end, rolled back on an error
                yield con
        finally:
            con.close()

    # accounts

    def add_user(self, name: str, role: str, password_hash: str) -> None:
        """Create an account, or give an existing one a new role and password."""
        if role not in ROLES:
            raise ValueError(f"Vai trò '{role}' không có; chọn một trong: {', '.join(ROLES)}")
        with self._connect() as con:
            con.execute(
                "insert into users values (?, ?, ?, ?) on conflict (name) do update set "
                "role = excluded.role, password_hash = excluded.password_hash",
                [name, role, password_hash, _iso(_now())],
            )

    def user_hash(self, name: str) -> tuple[User, str] | None:
        """An account and its password hash, if the name exists."""
        with self._connect() as con:
            row = con.execute(
                "select name, role, password_hash from users where name = ?", [name]
            ).fetchone()
        return (User(row[0], row[1]), row[2]) if row else None

    def set_password_hash(self, name: str, password_hash: str) -> None:
        with self._connect() as con:
            con.execute("update users set password_hash = ? where name = ?", [password_hash, name])

    # sessions

    def open_session(self, user: User) -> str:
        """A new session for the account; its token, for the cookie."""
        token = new_token()
        now = _now()
        with self._connect() as con:
            con.execute("delete from sessions where expires_at < ?", [_iso(now)])
            con.execute(
                "insert into sessions values (?, ?, ?, ?, ?)",
                [
                    token_hash(token),
                    user.name,
                    new_token(),
                    _iso(now),
                    _iso(now + timedelta(hours=SESSION_HOURS)),
                ],
            )
        return token

    def session(self, token: str | None) -> Session | None:
        """The live session of a cookie's token, if any."""
        if not token:
            return None
        with self._connect() as con:
            row = con.execute(
                "select u.name, u.role, s.csrf from sessions s join users u on u.name = "
                "s.user_name where s.token_sha256 = ? and s.expires_at > ?",
                [token_hash(token), _iso(_now())],
            ).fetchone()
        return Session(User(row[0], row[1]), row[2]) if row else None

    def close_session(self, token: str | None) -> None:
        if token:
            with self._connect() as con:
                con.execute("delete from sessions where token_sha256 = ?", [token_hash(token)])

    # sign-in attempts (rate limit)

    def failed_attempts(self, keys: list[str], since: datetime) -> int:
        """The most failed sign-ins since `since` for any of the keys (a name, an address)."""
        with self._connect() as con:
            counts = [
                con.execute(
                    "select count(*) from sign_in_attempts where key = ? and at >= ?",
                    [key, _iso(since)],
                ).fetchone()[0]
                for key in keys
            ]
        return max(counts, default=0)

    def record_failure(self, keys: list[str]) -> None:
        now = _iso(_now())
        with self._connect() as con:
            con.executemany("insert into sign_in_attempts values (?, ?)", [[k, now] for k in keys])

    def clear_failures(self, keys: list[str]) -> None:
        with self._connect() as con:
            con.executemany("delete from sign_in_attempts where key = ?", [[k] for k in keys])

    # units' links

    def add_link(self, unit_code: str, period: str, expires_at: datetime) -> str:
        """A new link for the unit and period; its token (the only time it is seen)."""
        token = new_token()
        with self._connect() as con:
            con.execute(
                "insert into unit_links values (?, ?, ?, ?, ?, null)",
                [token_hash(token), unit_code, period, _iso(_now()), _iso(expires_at)],
            )
        return token

    def link(self, token: str) -> UnitLink | None:
        """The link of a token, usable or not; None for a token never given."""
        with self._connect() as con:
            row = con.execute(
                "select unit_code, period, expires_at, revoked_at from unit_links "
                "where token_sha256 = ?",
                [token_hash(token)],
            ).fetchone()
        if row is None:
            return None
        return UnitLink(row[0], row[1], datetime.fromisoformat(row[2]), row[3] is not None)

    def revoke_links(self, unit_code: str, period: str | None = None) -> int:
        """Revoke the unit's live links (of one period, or all); how many were revoked."""
        with self._connect() as con:
            cursor = con.execute(
                "update unit_links set revoked_at = ? where unit_code = ? and revoked_at is null "
                "and (? is null or period = ?)",
                [_iso(_now()), unit_code, period, period],
            )
            return cursor.rowcount

    # uploads

    def add_upload(
        self, unit_code: str, period: str, file_name: str, sha256: str, size: int, state: str
    ) -> int:
        with self._connect() as con:
            cursor = con.execute(
                "insert into uploads (unit_code, period, file_name, sha256, size_bytes, "
                "received_at, state) values (?, ?, ?, ?, ?, ?, ?)",
                [unit_code, period, file_name, sha256, size, _iso(_now()), state],
            )
            return int(cursor.lastrowid)

    def set_upload(self, upload_id: int, state: str, message: str | None = None) -> None:
        finished = None if state in ("queued", "waiting") else _iso(_now())
        with self._connect() as con:
            con.execute(
                "update uploads set state = ?, message = coalesce(?, message), finished_at = ? "
                "where upload_id = ?",
                [state, message, finished, upload_id],
            )

    def uploads(self, unit_code: str, period: str | None = None, limit: int = 20) -> list[dict]:
        """The unit's uploads through the portal, newest first."""
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            rows = con.execute(
                "select * from uploads where unit_code = ? and (? is null or period = ?) "
                "order by upload_id desc limit ?",
                [unit_code, period, period, limit],
            ).fetchall()
        return [dict(r) for r in rows]

    def unfinished_uploads(self) -> list[dict]:
        """Uploads a stopped portal left queued or waiting, oldest first."""
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            rows = con.execute(
                "select * from uploads where state in ('queued', 'waiting') order by upload_id"
            ).fetchall()
        return [dict(r) for r in rows]

    def upload(self, upload_id: int) -> dict | None:
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            row = con.execute("select * from uploads where upload_id = ?", [upload_id]).fetchone()
        return dict(row) if row else None
