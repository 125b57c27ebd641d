"""Outgoing documents for the store's tests: ``count`` of them, one delivery each to the
national axis, accepted as the API accepts them."""

from __future__ import annotations

import asyncio

from adapters.store.store import NewDelivery, NewMessage, Store

__all__ = ["OFFICE", "accept_outgoing"]

OFFICE = "000.00.01.H42"
VPCP = "000.00.00.G22"


async def accept_outgoing(
    store: Store, count: int, *, client_id: str | None = None, at_once: int = 1
) -> list[str]:
    """The deliveries of ``count`` documents, in the order of their numbers; ``at_once``
    acceptances run side by side (a backlog fills faster)."""
    taking = asyncio.Semaphore(at_once)

    async def accept(number: int) -> list[str]:
        async with taking:
            _, delivery_ids = await store.accept(
                NewMessage(
                    direction="out",
                    document_id=f"{OFFICE},2026/11/25,{number}/UBND-VP",
                    sender=OFFICE,
                    code=f"{number}/UBND-VP",
                    package_ref="ab" * 32,
                    package_size=10,
                    client_id=client_id,
                ),
                [NewDelivery(VPCP, "axis")],
            )
        return delivery_ids

    accepted = await asyncio.gather(*(accept(number) for number in range(count)))
    return [delivery for ids in accepted for delivery in ids]
