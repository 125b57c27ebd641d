"""What the axis and the hubs brought us, by source and remote id (received once)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.schema import (
    inbound_items,
)

__all__ = ["InboundStore"]


class InboundStore(StoreBase):
    async def inbound_seen(self, source: str, remote_id: str) -> bool:
        found = await self._rows(
            sa.select(inbound_items.c.id).where(
                inbound_items.c.source == source, inbound_items.c.remote_id == remote_id
            )
        )
        return bool(found)

    async def record_inbound(
        self,
        source: str,
        remote_id: str,
        *,
        message_type: str,
        outcome: str,
        message_id: str | None = None,
        detail: str | None = None,
    ) -> bool:
        """Remember an inbound item; False if it was already recorded (a redelivery)."""
        try:
            async with self._transaction() as connection:
                await connection.execute(
                    inbound_items.insert().values(
                        id=str(uuid.uuid4()),
                        source=source,
                        remote_id=remote_id,
                        message_type=message_type,
                        message_id=message_id,
                        outcome=outcome,
                        detail=detail,
                        received_at=self._clock(),
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True
