"""Operations on a document already sent: recall (13), update (2), replace (3), and requeue
a failed delivery.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

import edxml
from gateway.http.api.context import (
    CLIENT,
    CONTEXT,
    accepted_response,
    conflict_problem,
    json_body,
    own_message,
    query_flag,
    record_problem,
    require_agency,
)
from gateway.http.api.problems import ApiProblem, FieldProblem
from gateway.operate.requeue import requeue_since, since_time
from gateway.outbound.accept import (
    AcceptanceError,
)
from gateway.outbound.operations import recall, replace, update

__all__ = ["post_recall", "post_replace", "post_requeue", "post_update"]


async def post_recall(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    view = await own_message(request, direction="out")
    body = await json_body(request)
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise ApiProblem(
            400, "a recall needs its reason", [FieldProblem("reason", "required", "missing")]
        )
    try:
        sent = await recall(context.outbound, view.id, reason=reason)
    except AcceptanceError as exc:
        raise conflict_problem(exc, "the recall cannot be sent") from None
    return web.json_response({"sent": [a.message_id for a in sent]}, status=202)


_UPDATABLE = {"subject", "content", "due_date", "to_places", "steering_type"}


async def post_update(request: web.Request) -> web.StreamResponse:
    """Business type 2: the changed fields of the record, and the reason."""
    context = request.app[CONTEXT]
    view = await own_message(request, direction="out")
    body = await json_body(request)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("reason"), str)
        or not body["reason"].strip()
    ):
        raise ApiProblem(
            400, "an update needs its reason", [FieldProblem("reason", "required", "missing")]
        )
    changes = body.get("changes")
    if not isinstance(changes, dict) or not changes or not set(changes) <= _UPDATABLE:
        allowed = ", ".join(sorted(_UPDATABLE))
        raise ApiProblem(
            422,
            "changes name fields that can be updated",
            [FieldProblem("changes", "update.fields", f"one or more of {allowed}")],
        )
    data = await context.blobs.read(view.package_ref)
    original = edxml.to_record(await asyncio.to_thread(edxml.parse, data), include_data=True)
    try:
        changed = edxml.from_record({**original, **changes})
    except edxml.EdxmlError as exc:
        raise record_problem(exc) from None
    values = {name: getattr(changed, name) for name in changes}
    try:
        accepted = await update(
            context.outbound,
            view.id,
            reason=body["reason"],
            changes=values,
        )
    except AcceptanceError as exc:
        raise conflict_problem(exc, "the update cannot be sent") from None
    return accepted_response(request, accepted.message_id, accepted.document_id)


async def post_replace(request: web.Request) -> web.StreamResponse:
    """Business type 3: a new record that replaces the document, and the reason."""
    context, client = request.app[CONTEXT], request[CLIENT]
    view = await own_message(request, direction="out")
    body = await json_body(request)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("reason"), str)
        or not body["reason"].strip()
    ):
        raise ApiProblem(
            400, "a replacement needs its reason", [FieldProblem("reason", "required", "missing")]
        )
    try:
        replacement = edxml.from_record(body.get("record"), now=edxml.vietnam_now())  # type: ignore[arg-type]
    except edxml.EdxmlError as exc:
        raise record_problem(exc) from None
    if not isinstance(replacement, edxml.DocumentPackage):
        raise ApiProblem(
            422,
            "the replacement is a document record",
            [FieldProblem("record", "record", "status record")],
        )
    require_agency(client, replacement.sender.organ_id, "record.sender.organ_id")
    try:
        accepted = await replace(
            context.outbound,
            view.id,
            replacement,
            reason=body["reason"],
        )
    except AcceptanceError as exc:
        raise conflict_problem(exc, "the replacement cannot be sent") from None
    return accepted_response(request, accepted.message_id, accepted.document_id)


async def post_requeue_since(request: web.Request) -> web.StreamResponse:
    """``{"destination": "axis", "since": "2026-12-01T08:00:00+07:00", "corrected": false}``:
    every failure of the client's documents towards the destination since then, requeued."""
    context, client = request.app[CONTEXT], request[CLIENT]
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("destination"), str):
        raise ApiProblem(
            400, "name the destination", [FieldProblem("destination", "required", "missing")]
        )
    try:
        since = since_time(str(body.get("since", "")))
    except ValueError:
        raise ApiProblem(
            400,
            "since is a time (ISO 8601)",
            [FieldProblem("since", "format", repr(body.get("since")))],
        ) from None
    requeued = await requeue_since(
        context.store,
        body["destination"],
        since,
        by=f"api:{client.id}",
        source=f"api:{client.id}",
        agencies=client.agencies,
        corrected=body.get("corrected") is True,
        wake=context.wake,
    )
    return web.json_response({"requeued": requeued, "count": len(requeued)}, status=202)


async def post_requeue(request: web.Request) -> web.StreamResponse:
    context, client = request.app[CONTEXT], request[CLIENT]
    delivery_id = request.match_info["id"]
    sender = await context.store.sender_of_delivery(delivery_id)
    if sender is None or not client.may_act_for(sender):
        raise ApiProblem(404, "no such delivery")
    corrected = query_flag(request, "corrected")
    if not await context.store.requeue(
        delivery_id, source=f"api:{client.id}", permanent_too=corrected
    ):
        await context.store.audit(f"api:{client.id}", "delivery.requeue", delivery_id, "refused")
        raise ApiProblem(
            409,
            "only a failed delivery can be requeued; one the destination refused for good "
            "(an unknown recipient, an invalid package) only once the cause is corrected, "
            "with ?corrected=true",
        )
    await context.store.audit(
        f"api:{client.id}", "delivery.requeue", delivery_id, "corrected" if corrected else None
    )
    if context.wake is not None:
        context.wake.set()
    return web.json_response({"id": delivery_id, "state": "queued"}, status=202)
