"""People and systems: dashboard users and their sessions, API clients, and the audit trail.

The rules (names by Điều 7, hashing, lockout, roles) are the gateway's; this module only
reads and writes their rows. Secrets are never stored: a password's scrypt hash, a session
token's and an API key's SHA-256.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.records import as_utc, utc_now
from adapters.store.schema import api_clients, audit_log, sessions, users
from adapters.store.sqlite_driver import on_the_event_loop

__all__ = ["AccountStore", "ClientRecord", "UserRecord"]


@dataclass(frozen=True, slots=True)
class UserRecord:
    username: str
    full_name: str
    unit: str
    role: str
    agencies: tuple[str, ...]
    password_hash: str
    failed_logins: int
    locked_until: dt.datetime | None
    locked: bool


@dataclass(frozen=True, slots=True)
class ClientRecord:
    id: str
    name: str
    key_hash: str
    agencies: tuple[str, ...]
    webhook_url: str | None
    revoked: bool


def _user(row: sa.Row[object]) -> UserRecord:
    values = row._mapping
    return UserRecord(
        username=values["username"],
        full_name=values["full_name"],
        unit=values["unit"],
        role=values["role"],
        agencies=tuple(json.loads(values["agencies"])),
        password_hash=values["password_hash"],
        failed_logins=int(values["failed_logins"]),
        locked_until=as_utc(values["locked_until"]),
        locked=bool(values["locked"]),
    )


class AccountStore(StoreBase):
    async def audit(
        self,
        username: str | None,
        action: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one line to the audit trail (who did what to what, and the outcome)."""
        async with self.engine.begin() as connection:
            await connection.execute(
                audit_log.insert().values(
                    at=utc_now(), username=username, action=action, target=target, detail=detail
                )
            )

    # -- users ------------------------------------------------------------------------------

    async def usernames_like(self, base: str, unit: str) -> set[str]:
        """The names ``<base>…\u200b.<unit>`` already taken."""
        async with self.engine.connect() as connection:
            found = await connection.execute(
                sa.select(users.c.username).where(users.c.username.like(f"{base}%.{unit}"))
            )
            return set(found.scalars())

    async def add_user(
        self,
        *,
        username: str,
        full_name: str,
        unit: str,
        role: str,
        agencies: list[str],
        password_hash: str,
    ) -> bool:
        """False when the name is taken."""
        try:
            async with self.engine.begin() as connection:
                await connection.execute(
                    users.insert().values(
                        username=username,
                        full_name=full_name,
                        unit=unit,
                        role=role,
                        agencies=json.dumps(agencies),
                        password_hash=password_hash,
                        created_at=utc_now(),
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    async def set_user_locked(self, username: str, *, locked: bool) -> bool:
        """Lock (ending its sessions at once) or unlock an account; False if there is none."""
        async with self.engine.begin() as connection:
            changed = await connection.execute(
                users.update()
                .where(users.c.username == username)
                .values(locked=locked, failed_logins=0, locked_until=None)
            )
            if locked:
                await connection.execute(sessions.delete().where(sessions.c.username == username))
        return bool(changed.rowcount)

    async def set_password_hash(
        self, username: str, password_hash: str, *, keep_session: str | None = None
    ) -> bool:
        """A new password; every session of the account ends but ``keep_session`` (the
        one changing it). False if there is no such account."""
        async with self.engine.begin() as connection:
            changed = await connection.execute(
                users.update()
                .where(users.c.username == username)
                .values(password_hash=password_hash, failed_logins=0, locked_until=None)
            )
            ended = sessions.delete().where(sessions.c.username == username)
            if keep_session is not None:
                ended = ended.where(sessions.c.id_hash != keep_session)
            await connection.execute(ended)
        return bool(changed.rowcount)

    async def user(self, username: str) -> UserRecord | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(users).where(users.c.username == username))
            ).first()
        return None if row is None else _user(row)

    async def set_login_failures(
        self, username: str, failures: int, locked_until: dt.datetime | None = None
    ) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                users.update()
                .where(users.c.username == username)
                .values(failed_logins=failures, locked_until=locked_until)
            )

    # -- sessions ---------------------------------------------------------------------------

    async def add_session(
        self, id_hash: str, username: str, csrf: str, expires_at: dt.datetime
    ) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                sessions.insert().values(
                    id_hash=id_hash,
                    username=username,
                    csrf=csrf,
                    created_at=utc_now(),
                    expires_at=expires_at,
                )
            )

    async def session(self, id_hash: str) -> tuple[UserRecord, str, dt.datetime] | None:
        """(the account, its CSRF token, when the session expires)."""
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(users, sessions.c.csrf, sessions.c.expires_at)
                    .join(sessions, sessions.c.username == users.c.username)
                    .where(sessions.c.id_hash == id_hash)
                )
            ).first()
        if row is None:
            return None
        return _user(row), str(row.csrf), as_utc(row.expires_at) or row.expires_at

    async def end_session(self, id_hash: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(sessions.delete().where(sessions.c.id_hash == id_hash))

    # -- API clients ------------------------------------------------------------------------

    async def add_client(
        self, client_id: str, name: str, key_hash: str, agencies: list[str]
    ) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                api_clients.insert().values(
                    id=client_id,
                    name=name,
                    key_hash=key_hash,
                    agencies=json.dumps(agencies),
                    created_at=utc_now(),
                )
            )

    @on_the_event_loop
    async def client(self, client_id: str) -> ClientRecord | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(api_clients).where(api_clients.c.id == client_id)
                )
            ).first()
        if row is None:
            return None
        return ClientRecord(
            id=row.id,
            name=row.name,
            key_hash=row.key_hash,
            agencies=tuple(json.loads(row.agencies)),
            webhook_url=row.webhook_url,
            revoked=row.revoked_at is not None,
        )

    async def revoke_client(self, client_id: str) -> bool:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                api_clients.update()
                .where(api_clients.c.id == client_id, api_clients.c.revoked_at.is_(None))
                .values(revoked_at=utc_now())
            )
        self.forget_hooked_clients()  # a revoked client's webhook stops at once here
        return result.rowcount == 1
