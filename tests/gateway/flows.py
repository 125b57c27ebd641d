"""Helpers the delivery and front-door tests share: waiting, numbered documents, a server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

import edxml
from adapters.blobs import BlobStore
from adapters.store.store import NewDelivery, NewMessage, Store
from tests.factories import document, organization

OFFICE = "000.00.01.H42"


async def until(
    condition: Callable[[], Awaitable[bool]], timeout: float = 60, step: float = 0.05
) -> None:
    """Wait for ``condition``; fail the test when it does not come in ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


async def accept_numbered(
    store: Store,
    blobs: BlobStore,
    number: int,
    recipients: tuple[str, ...],
    *,
    priority: int = 0,
    route: Callable[[str], str] = lambda recipient: "axis",
) -> str:
    """Document ``number`` of the Office accepted for ``recipients``: its own number and
    notation (so the axis tells each copy apart) and ``priority``; returns its message id."""
    code = edxml.Code(number=f"{number:02d}", notation="UBND-VP")
    package = document(
        recipients=tuple(organization(r) for r in recipients),
        code=code,
        document_id=f"{OFFICE},2026/11/25,{code}",
        other_info=edxml.OtherInfo(priority=priority, page_amount=1, direction=False),
    )
    data = edxml.build(package)
    message_id, _ = await store.accept(
        NewMessage(
            direction="out",
            document_id=package.document_id or "",
            sender=OFFICE,
            code=str(code),
            subject=package.subject,
            priority=priority,
            package_ref=blobs.put(data),
            package_size=len(data),
        ),
        [NewDelivery(r, route(r)) for r in recipients],
    )
    return message_id


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def hooked_qlvbs(store: Store, **handlers: Handler) -> AsyncIterator[None]:
    """Each handler serves the webhook of an API client of its name (at ``/<name>``)."""
    app = web.Application()
    for name, handler in handlers.items():
        app.router.add_post(f"/{name}", handler)
    async with serving(app) as base:
        for name in handlers:
            await store.add_client(name, name, "0" * 64, ["*.H42"])
            await store.set_webhook(name, f"{base}/{name}", f"secret-{name}")
        yield
