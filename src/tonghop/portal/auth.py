"""Accounts: passwords hashed with Argon2id (argon2-cffi), sign-in rate-limited, CSRF tokens.

A wrong password for a name, or from one address, MAX_FAILURES times within FAILURE_WINDOW
locks that name or address out until the window has passed: guessing a password at the
portal's pace takes longer than the passwords last.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tonghop.portal.store import PortalStore, User

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 10

_hasher = PasswordHasher()


class SignInError(ValueError):
    """A sign-in refused; the message is for the person signing in (Vietnamese)."""


class TooManyAttempts(SignInError):
    """Too many failed sign-ins for a name or an address."""


def hash_password(password: str) -> str:
    """An Argon2id hash of the password; refused when too short to be worth hashing."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự")
    return _hasher.hash(password)


def _keys(name: str, address: str | None) -> list[str]:
    keys = [f"name:{name.strip().casefold()}"]
    if address:
        keys.append(f"ip:{address}")
    return keys


def sign_in(store: PortalStore, name: str, password: str, address: str | None) -> User:
    """The account when the password is right; SignInError (or TooManyAttempts) otherwise.

    The same message for an unknown name and a wrong password, so a name cannot be probed."""
    keys = _keys(name, address)
    if store.failed_attempts(keys, datetime.now() - FAILURE_WINDOW) >= MAX_FAILURES:
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        raise TooManyAttempts(f"Đăng nhập sai quá {MAX_FAILURES} lần; thử lại sau {minutes} phút.")
    found = store.user_hash(name.strip())
    if found is None:
        _hasher.hash(password)  # the same time as a wrong password: no name is told apart
        store.record_failure(keys)
        raise SignInError("Tên đăng nhập hoặc mật khẩu không đúng.")
    user, stored = found
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError) as exc:
        store.record_failure(keys)
        raise SignInError("Tên đăng nhập hoặc mật khẩu không đúng.") from exc
    if _hasher.check_needs_rehash(stored):
        store.set_password_hash(user.name, _hasher.hash(password))
    store.clear_failures(keys[:1])
    return user


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a form's CSRF token is the session's (compared in constant time)."""
    return bool(given) and hmac.compare_digest(expected, given)
