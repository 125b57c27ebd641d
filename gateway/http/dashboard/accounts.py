"""Dashboard accounts: names by the rule, scrypt hashes, lockout, roles, sessions, audit.

* Names follow Điều 7 of the provincial regulation: ``<given name><initials of the surname
  and middle names>.<unit abbreviation>``, no diacritics, no spaces — Nguyễn Văn Dũng of Sở
  TT&TT is ``dungnv.stttt``. ``propose_username`` suggests it; ``available_username`` adds a
  number when it is taken (Điều 7.2b: the admin tells them apart).
* Passwords are hashed with scrypt (the standard library's, n=2**14, r=8, p=1, a 16-byte
  salt); the hash string records its parameters.
* Failed logins are counted per account and address, per address, and per account
  (``throttle``): guessing is slowed without letting anyone lock a clerk out from elsewhere.
  A refusal never says whether the account exists; that it is locked is said only to whoever
  gave its right password. An admin's lock (Điều 23.1c: staff who leave) holds until lifted,
  and ends the account's sessions at once.
* Roles: ``viewer`` reads; ``clerk`` also requeues and recalls for its agencies; ``admin``
  also manages users. A user sees only the agencies assigned (OrganId patterns).
* Every operator action is appended to ``audit_log``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Literal

import edxml
from adapters.store.accounts import UserRecord
from adapters.store.store import Store, utc_now
from gateway.http.dashboard.throttle import LoginThrottle

__all__ = [
    "Account",
    "AccountError",
    "audit",
    "available_username",
    "change_password",
    "check_login",
    "create_user",
    "end_session",
    "hash_password",
    "lock_user",
    "propose_username",
    "reset_password",
    "session_user",
    "start_session",
    "verify_password",
]

Role = Literal["viewer", "clerk", "admin"]
#: Failures of one account, from any addresses, before the store locks it for ``LOCKOUT``
MAX_FAILURES = 50
LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD = 10
SESSION_LIFETIME = dt.timedelta(hours=8)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AccountError(Exception):
    """A refused login or account change; the message is safe to show, ``key`` names its
    words in the dashboard's catalogue (None: shown as it is)."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    full_name: str
    unit: str
    role: Role
    agencies: tuple[str, ...]
    csrf: str = ""

    def sees(self, organ_id: str) -> bool:
        return edxml.matches_agency(organ_id, self.agencies)

    @property
    def may_act(self) -> bool:
        return self.role in ("clerk", "admin")


def _ascii(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def propose_username(full_name: str, unit_abbreviation: str) -> str:
    """``dungnv.stttt`` for "Nguyễn Văn Dũng" of "STTTT" / "Sở TT&TT" (Điều 7)."""
    words = [w for w in re.split(r"\s+", _ascii(full_name).strip().lower()) if w]
    if not words:
        raise AccountError("the full name is empty")
    unit = re.sub(r"[^a-z0-9]", "", _ascii(unit_abbreviation).lower())
    if not unit:
        raise AccountError("the unit abbreviation has no letters or digits")
    given, others = words[-1], words[:-1]
    name = re.sub(r"[^a-z0-9]", "", given) + "".join(w[0] for w in others if w[0].isalnum())
    return f"{name}.{unit}"


async def available_username(store: Store, proposed: str) -> tuple[str, bool]:
    """(a free name, whether the proposal clashed): ``dungnv2.stttt`` after ``dungnv.stttt``."""
    base, _, unit = proposed.partition(".")
    taken = await store.usernames_like(base, unit)
    if proposed not in taken:
        return proposed, False
    number = 2
    while f"{base}{number}.{unit}" in taken:
        number += 1
    return f"{base}{number}.{unit}", True


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    encoded = base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()
    return f"scrypt$n={_SCRYPT['n']},r={_SCRYPT['r']},p={_SCRYPT['p']}${encoded}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, params, salt_text, digest_text = stored.split("$")
        values = dict(item.split("=") for item in params.split(","))
        salt, digest = base64.b64decode(salt_text), base64.b64decode(digest_text)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(),
        salt=salt,
        dklen=len(digest),
        n=int(values["n"]),
        r=int(values["r"]),
        p=int(values["p"]),
    )
    return hmac.compare_digest(candidate, digest)


async def audit(
    store: Store,
    username: str | None,
    action: str,
    target: str | None = None,
    detail: str | None = None,
) -> None:
    await store.audit(username, action, target, detail)


async def create_user(
    store: Store,
    *,
    username: str,
    full_name: str,
    unit: str,
    role: Role,
    agencies: list[str],
    password: str,
    by: str | None = None,
) -> None:
    if role not in ("viewer", "clerk", "admin"):
        raise AccountError(f"role is viewer, clerk or admin, not {role!r}")
    if not re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+", username):
        raise AccountError(
            "account names are <name><initials>.<unit>: lower-case letters and digits (Điều 7)"
        )
    if len(password) < MIN_PASSWORD:
        raise AccountError("a password has at least 10 characters")
    added = await store.add_user(
        username=username,
        full_name=full_name,
        unit=unit,
        role=role,
        agencies=agencies,
        password_hash=hash_password(password),
    )
    if not added:
        raise AccountError(f"{username} exists already (Điều 7.2b: tell them apart)")
    await audit(store, by, "user.add", username, f"{role} for {', '.join(agencies)}")


async def lock_user(
    store: Store, username: str, *, locked: bool = True, by: str | None = None
) -> bool:
    changed = await store.set_user_locked(username, locked=locked)
    if changed:
        await audit(store, by, "user.lock" if locked else "user.unlock", username)
    return changed


def _account(user: UserRecord, csrf: str = "") -> Account:
    role: Role = user.role if user.role in ("viewer", "clerk", "admin") else "viewer"  # type: ignore[assignment]
    return Account(user.username, user.full_name, user.unit, role, user.agencies, csrf)


async def check_login(
    store: Store, username: str, password: str, *, address: str = "", throttle: LoginThrottle
) -> Account:
    """The account if ``password`` is right and it may log in from ``address``; otherwise
    AccountError, whose ``key`` names the words to show (the same for an unknown account as
    for a wrong password)."""
    now = store.now()
    waits = throttle.blocked(username, address)
    if waits is not None:
        await audit(store, username, "login.throttled", detail=f"{waits} {address}")
        raise AccountError("too many failed logins; try again later", key="login_too_many")
    user = await store.user(username)
    right = verify_password(password, user.password_hash) if user else _same_work(password)
    if user is None or not right:
        throttle.failed(username, address)
        if user is not None:
            failures = user.failed_logins + 1
            locked_until = now + LOCKOUT if failures >= MAX_FAILURES else user.locked_until
            await store.set_login_failures(username, failures % MAX_FAILURES, locked_until)
        await audit(store, username, "login.failed", detail=address or None)
        raise AccountError("wrong account name or password", key="login_wrong")
    if user.locked:
        await audit(store, username, "login.refused", detail="account locked")
        raise AccountError("this account is locked; ask an administrator", key="login_locked")
    if user.locked_until is not None and user.locked_until > now:
        raise AccountError("too many failed logins; try again later", key="login_too_many")
    throttle.succeeded(username, address)
    await store.set_login_failures(username, 0)
    await audit(store, username, "login", detail=address or None)
    return _account(user)


def _same_work(password: str) -> bool:
    """As much work as checking a real account's password: no timing oracle."""
    hash_password(password)
    return False


async def change_password(
    store: Store, account: Account, current: str, new: str, *, session_token: str
) -> None:
    """The user's own change: the current password first; the other sessions end."""
    user = await store.user(account.username)
    if user is None or not verify_password(current, user.password_hash):
        await audit(store, account.username, "password.change", detail="wrong current password")
        raise AccountError("the current password is wrong", key="password_wrong")
    if len(new) < MIN_PASSWORD:
        raise AccountError("a password has at least 10 characters", key="password_short")
    await store.set_password_hash(
        account.username, hash_password(new), keep_session=_token_hash(session_token)
    )
    await audit(store, account.username, "password.change")


async def reset_password(store: Store, username: str, new: str, *, by: str) -> None:
    """An administrator's reset (a user who forgot it): every session of the account ends."""
    if len(new) < MIN_PASSWORD:
        raise AccountError("a password has at least 10 characters", key="password_short")
    if not await store.set_password_hash(username, hash_password(new)):
        raise AccountError(f"no account {username}")
    await audit(store, by, "password.reset", username)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(store: Store, account: Account) -> tuple[str, str]:
    """(cookie token, CSRF token) of a new session; only the token's hash is stored."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await store.add_session(
        _token_hash(token), account.username, csrf, utc_now() + SESSION_LIFETIME
    )
    return token, csrf


async def session_user(store: Store, token: str) -> Account | None:
    """The account of a live session (not expired, account not locked)."""
    found = await store.session(_token_hash(token))
    if found is None:
        return None
    user, csrf, expires = found
    if user.locked or expires < utc_now():
        return None
    return _account(user, csrf)


async def end_session(store: Store, token: str) -> None:
    await store.end_session(_token_hash(token))
