"""Retention (Điều 16, 18.1): the packages older than the period, and letting one go while
the message's record stays."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.schema import messages

__all__ = ["RetentionStore"]


class RetentionStore(StoreBase):
    async def packages_before(self, cutoff: dt.datetime, removed: str) -> list[dict[str, Any]]:
        """Messages created before ``cutoff`` whose package is still kept, oldest first."""
        rows = await self._rows(
            sa.select(messages)
            .where(messages.c.created_at < cutoff, messages.c.package_ref != removed)
            .order_by(messages.c.created_at)
        )
        return [row._asdict() for row in rows]

    async def forget_package(self, message_id: str, package_ref: str, removed: str) -> bool:
        """Mark the message's package ``removed``; whether another message still uses it."""
        async with self.engine.begin() as connection:
            await connection.execute(
                messages.update().where(messages.c.id == message_id).values(package_ref=removed)
            )
            still_used = await connection.scalar(
                sa.select(sa.func.count())
                .select_from(messages)
                .where(messages.c.package_ref == package_ref)
            )
        return bool(still_used)
