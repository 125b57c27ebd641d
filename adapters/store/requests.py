"""Idempotency keys: a client's retried request is answered with the first one's result."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.records import (
    as_utc,
)
from adapters.store.schema import (
    idempotency_keys,
)
from adapters.store.sqlite_driver import on_the_event_loop

__all__ = ["RequestStore"]


class RequestStore(StoreBase):
    @on_the_event_loop
    async def claim_request(
        self,
        client_id: str,
        key: str,
        request_hash: str,
        *,
        ttl_seconds: float = 24 * 3600,
        running_seconds: float = 120.0,
    ) -> tuple[str, str | None]:
        """Register ``key`` for this request: ("new", None) the first time; ("replay",
        message id) for the same request again, or ("replay", None) while the first one is
        still running; ("conflict", None) when the key was used for a different request.

        A key holds for ``ttl_seconds``, then may be used afresh. A key whose request was
        claimed more than ``running_seconds`` ago and stored nothing died with its process
        (the message id is written in the transaction that stores the message): it is free
        again, so a crash never leaves a key answering "still running" for ever.
        """
        now = self._clock()
        fresh = {
            "client_id": client_id,
            "key": key,
            "request_hash": request_hash,
            "created_at": now,
            "expires_at": now + dt.timedelta(seconds=ttl_seconds),
        }
        where = sa.and_(idempotency_keys.c.client_id == client_id, idempotency_keys.c.key == key)
        for _ in range(3):  # the row may change between our insert and our read
            try:
                async with self._transaction() as connection:
                    await connection.execute(
                        idempotency_keys.delete().where(idempotency_keys.c.expires_at <= now)
                    )
                    await connection.execute(idempotency_keys.insert().values(**fresh))
                return "new", None
            except sa.exc.IntegrityError:
                pass
            rows = await self._rows(sa.select(idempotency_keys).where(where))
            if not rows:
                continue
            row = rows[0]
            if row.request_hash != request_hash:
                return "conflict", None
            if row.message_id is not None:
                return "replay", row.message_id
            started = as_utc(row.created_at) or now
            if (now - started).total_seconds() < running_seconds:
                return "replay", None
            async with self._transaction() as connection:  # take over a dead request's key
                moved = await connection.execute(
                    idempotency_keys.update()
                    .where(where, idempotency_keys.c.message_id.is_(None))
                    .where(idempotency_keys.c.created_at == row.created_at)
                    .values(created_at=now, expires_at=fresh["expires_at"])
                )
            if moved.rowcount == 1:
                return "new", None
        return "replay", None

    @on_the_event_loop
    async def settle_request(self, client_id: str, key: str, message_id: str | None) -> None:
        """Record the outcome of a claimed key; ``None`` forgets it (the request failed)."""
        async with self._transaction() as connection:
            where = sa.and_(
                idempotency_keys.c.client_id == client_id, idempotency_keys.c.key == key
            )
            if message_id is None:
                await connection.execute(
                    idempotency_keys.delete().where(where, idempotency_keys.c.message_id.is_(None))
                )
            else:
                await connection.execute(
                    idempotency_keys.update().where(where).values(message_id=message_id)
                )
