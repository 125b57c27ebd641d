"""One document we sent: its page, the per-recipient grid, the package and its files, and
what a clerk does to it (recall, requeue); the live feed of state changes.

Only clerks and admins act (the button is absent for a viewer, and the POST is refused).
Live updates come by Server-Sent Events from the state feed (Redis pub/sub or in-process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import web

import edxml
from gateway.http.dashboard.pages import (
    CONTEXT,
    USER,
    current_user,
    from_local,
    package_file,
    render,
    visible_message,
)
from gateway.operate.requeue import requeue_since
from gateway.outbound.accept import AcceptanceError
from gateway.outbound.operations import recall

#: A comment line on a quiet live feed this often keeps proxies from closing it
KEEP_ALIVE_SECONDS = 15.0

__all__ = [
    "attachment",
    "document",
    "events",
    "grid",
    "package",
    "recall_document",
    "requeue",
    "requeue_many",
    "requeue_since_form",
]


async def document(request: web.Request) -> web.StreamResponse:
    view = await visible_message(request)
    data = await request.app[CONTEXT].blobs.read(view.package_ref)
    package = await asyncio.to_thread(edxml.parse, data)
    files = [(a.content_id, a.name) for a in getattr(package, "attachments", ())]
    return render(request, "document.html", message=view, files=files, page_title=view.code)


async def grid(request: web.Request) -> web.StreamResponse:
    view = await visible_message(request)
    return render(request, "grid.html", message=view)


async def package(request: web.Request) -> web.StreamResponse:
    view = await visible_message(request)
    data = await request.app[CONTEXT].blobs.read(view.package_ref)
    return web.Response(
        body=data,
        content_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{view.id}.edxml"'},
    )


async def attachment(request: web.Request) -> web.StreamResponse:
    return await package_file(request, (await visible_message(request)).package_ref)


async def recall_document(request: web.Request) -> web.StreamResponse:
    context, user = request.app[CONTEXT], current_user(request)
    if not user.may_act:
        raise web.HTTPForbidden(text="a viewer cannot recall")
    view = await visible_message(request)
    form = await request.post()
    reason = str(form.get("reason", "")).strip()
    if not reason:
        raise web.HTTPBadRequest(text="a recall needs its reason")
    try:
        await recall(context.outbound(), view.id, reason=reason)
    except AcceptanceError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    await context.store.audit(user.username, "document.recall", view.id, reason)
    raise web.HTTPSeeOther(f"/dashboard/documents/{view.id}")


async def requeue(request: web.Request) -> web.StreamResponse:
    store, user = request.app[CONTEXT].store, current_user(request)
    if not user.may_act:
        raise web.HTTPForbidden(text="a viewer cannot requeue")
    delivery_id = request.match_info["id"]
    if not await store.visible_deliveries([delivery_id], user.agencies):
        raise web.HTTPNotFound(text="no such delivery")
    corrected = (await request.post()).get("corrected") == "1"
    requeued = await store.requeue(
        delivery_id, source=f"operator:{user.username}", permanent_too=corrected
    )
    outcome = "requeued" if requeued else "not failed, or refused for good"
    await store.audit(
        user.username,
        "delivery.requeue",
        delivery_id,
        f"{outcome}, corrected" if corrected else outcome,
    )
    raise web.HTTPSeeOther(request.headers.get("Referer") or "/dashboard/failures")


async def requeue_many(request: web.Request) -> web.StreamResponse:
    """Bulk requeue from the failures page (the page asks for confirmation first)."""
    store, user = request.app[CONTEXT].store, current_user(request)
    if not user.may_act:
        raise web.HTTPForbidden(text="a viewer cannot requeue")
    form = await request.post()
    wanted = [str(value) for value in form.getall("id", [])]
    allowed = await store.visible_deliveries(wanted, user.agencies)
    done = [d for d in allowed if await store.requeue(d, source=f"operator:{user.username}")]
    await store.audit(user.username, "delivery.requeue", ",".join(done), f"bulk: {len(done)}")
    raise web.HTTPSeeOther("/dashboard/failures")


async def requeue_since_form(request: web.Request) -> web.StreamResponse:
    """After an outage: every failure of the user's documents towards a destination since a
    moment (Vietnam time), back in the queue; refused-for-good ones only when corrected."""
    context, user = request.app[CONTEXT], current_user(request)
    if not user.may_act:
        raise web.HTTPForbidden(text="a viewer cannot requeue")
    form = await request.post()
    try:
        since = from_local(str(form.get("since", "")))
    except ValueError:
        raise web.HTTPBadRequest(text="since is a date and time") from None
    requeued = await requeue_since(
        context.store,
        str(form.get("destination", "")),
        since,
        by=user.username,
        source=f"operator:{user.username}",
        agencies=user.agencies,
        corrected=form.get("corrected") == "1",
        wake=context.wake,
    )
    raise web.HTTPSeeOther(f"/dashboard/failures?requeued={len(requeued)}")


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: each state change of a delivery of the user's agencies (ids only;
    pages refetch). A closed page ends the stream quietly."""
    context, user = request.app[CONTEXT], request.get(USER)
    if user is None:
        raise web.HTTPUnauthorized(text="log in first")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    senders: dict[str, bool] = {}  # delivery -> whether the user sees its document

    async def visible(delivery_id: str) -> bool:
        if delivery_id not in senders:
            if len(senders) > 10_000:
                senders.clear()
            sender = await context.store.sender_of_delivery(delivery_id)
            senders[delivery_id] = sender is not None and user.sees(sender)
        return senders[delivery_id]

    with contextlib.suppress(ConnectionError):
        async with context.feed.subscribe() as changes:
            while request.transport is not None and not request.transport.is_closing():
                try:
                    change = await asyncio.wait_for(changes.get(), KEEP_ALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if not await visible(change.delivery_id):
                    continue
                payload = json.dumps({"delivery_id": change.delivery_id, "state": change.to_state})
                await response.write(f"data: {payload}\n\n".encode())
    return response
