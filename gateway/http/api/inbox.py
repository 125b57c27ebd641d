"""Documents in: the inbox of the client's agencies, an item with its record and files, the
acknowledgement, and the statuses the clerk reports (sent back signed to the sender).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from aiohttp import web

import edxml
from adapters.store.api_reads import Page
from gateway.http.api.context import (
    CLIENT,
    CONTEXT,
    PREFIX,
    json_body,
    query_limit,
    query_offset,
    query_since,
    refusal_problem,
)
from gateway.http.api.problems import ApiProblem, FieldProblem
from gateway.inbound.answers import REPORTABLE, report_status
from gateway.outbound.accept import AcceptanceError

__all__ = [
    "get_inbox_attachment",
    "get_inbox_item",
    "list_inbox",
    "post_inbox_ack",
    "post_inbox_status",
]


async def list_inbox(request: web.Request) -> web.StreamResponse:
    context, client = request.app[CONTEXT], request[CLIENT]
    page = Page(query_limit(request), query_offset(request), query_since(request))
    rows = await context.store.inbox(
        client.agencies,
        client.id,
        page,
        unacknowledged=request.query.get("unacknowledged") in ("1", "true"),
    )
    return web.json_response({"items": [_inbox_json(row) for row in rows], "count": len(rows)})


def _inbox_json(row: dict[str, Any]) -> dict[str, Any]:
    created = row["created_at"]
    created = created if created.tzinfo else created.replace(tzinfo=dt.UTC)
    return {
        "id": row["id"],
        "document_id": row["document_id"],
        "sender": row["sender"],
        "recipient": row["recipient"],
        "code": row["code"],
        "subject": row["subject"],
        "priority": row["priority"],
        "due_date": row["due_date"].isoformat() if row["due_date"] else None,
        "state": row["inbound_state"],
        # an update (2), replacement (3) or recall (1) names the document it is about
        "business_type": row["business_type"],
        "original_id": row["original_id"],
        "reported_status": row["reported_status"],
        "checks": json.loads(row["checks"]) if row["checks"] else None,
        "received_at": created.isoformat(),
        "acknowledged": row["acked_at"] is not None,
    }


async def _inbox_row(request: web.Request) -> dict[str, Any]:
    context, client = request.app[CONTEXT], request[CLIENT]
    row = await context.store.inbound_message(request.match_info["id"])
    if row is None or not client.may_act_for(row["recipient"] or ""):
        raise ApiProblem(404, "no such inbound document")
    return row


async def get_inbox_item(request: web.Request) -> web.StreamResponse:
    row = await _inbox_row(request)
    data = await request.app[CONTEXT].blobs.read(row["package_ref"])
    package = await asyncio.to_thread(edxml.parse, data)
    return web.json_response({**_inbox_json(row), "record": edxml.to_record(package)})


async def get_inbox_attachment(request: web.Request) -> web.StreamResponse:
    row = await _inbox_row(request)
    data = await request.app[CONTEXT].blobs.read(row["package_ref"])
    package = await asyncio.to_thread(edxml.parse, data)
    wanted = request.match_info["content_id"]
    for attachment in getattr(package, "attachments", ()):
        if attachment.content_id == wanted and attachment.data is not None:
            safe = edxml.safe_filename(attachment.name)
            return web.Response(
                body=attachment.data,
                content_type=attachment.media_type,
                headers={"Content-Disposition": f'attachment; filename="{safe}"'},
            )
    raise ApiProblem(404, "no such attachment")


async def post_inbox_ack(request: web.Request) -> web.StreamResponse:
    row = await _inbox_row(request)
    context, client = request.app[CONTEXT], request[CLIENT]
    await context.store.acknowledge(row["id"], client.id)
    return web.json_response({"id": row["id"], "acknowledged": True})


async def post_inbox_status(request: web.Request) -> web.StreamResponse:
    row = await _inbox_row(request)
    context = request.app[CONTEXT]
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiProblem(
            400, "the body is a JSON object", [FieldProblem("body", "type", "not an object")]
        )
    code = body.get("status_code")
    if code not in REPORTABLE:
        raise ApiProblem(
            422,
            "status_code is one of 02, 03, 04, 05, 06, 15, 16",
            [FieldProblem("status_code", "spec 2.1", repr(code))],
        )
    staff = body.get("staff") or {}
    if not isinstance(staff, dict) or not all(isinstance(v, str) for v in staff.values()):
        raise ApiProblem(
            400, "staff is an object of strings", [FieldProblem("staff", "type", "invalid")]
        )
    try:
        staff_info = edxml.StaffInfo(**staff) if staff else None
    except TypeError as exc:
        raise ApiProblem(
            400, "unknown staff field", [FieldProblem("staff", "record", str(exc))]
        ) from None
    try:
        accepted = await report_status(
            context.outbound,
            context.blobs,
            row,
            code,
            description=str(body.get("description") or "") or None,
            staff=staff_info,
        )
    except AcceptanceError as exc:
        raise refusal_problem(exc, "the status was not accepted") from None
    return web.json_response(
        {"id": accepted.message_id, "status_url": f"{PREFIX}/documents/{accepted.message_id}"},
        status=202,
    )
