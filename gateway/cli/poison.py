"""``edxml-gateway poison list|drain``: the RabbitMQ poison queue, looked at and emptied.

Messages land there when they are not work items at all (a foreign publisher, a corrupt
body). The store is the truth, so none of them is a document: draining them loses nothing,
and the sweeper republishes whatever real work the broker never confirmed. Both are audited.
"""

from __future__ import annotations

import argparse

from adapters.store.store import Store
from gateway.config import GatewaySettings
from gateway.runtime import Runtime

__all__ = ["run_poison"]


async def run_poison(settings: GatewaySettings, arguments: argparse.Namespace) -> int:
    if settings.broker_url is None:
        print("poison: the embedded queue has no poison queue (only RabbitMQ has one)")
        return 2
    async with Runtime(settings) as runtime:
        assert runtime.broker is not None
        store: Store = runtime.store
        if arguments.poison_command == "drain":
            drained = await runtime.broker.drain_poison()
            await store.audit("cli", "poison.drain", None, str(drained))
            print(f"poison: {drained} messages removed")
            return 0
        found = await runtime.broker.poison(arguments.limit)
        await store.audit("cli", "poison.list", None, str(len(found)))
        for message in found:
            when = message.timestamp.isoformat() if message.timestamp else "-"
            print(f"{message.message_id or '-'}  {when}  {message.head!r}")
        print(f"poison: {len(found)} shown")
        return 0
