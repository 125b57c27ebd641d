"""The REST API for local QLVB systems, under ``/api/v1`` (``schemas/gateway-api.yaml``).

Documents out: ``POST /documents`` takes a record (the ``edxml build`` format, recipients
as OrganIds) and its files — JSON with ``data_base64`` for small files, or multipart with the
record in part ``record`` and each file in a part of its own, streamed to the blob store —
then builds, signs, checks, stores and queues the package: 202 with the id, the DocumentId
and a status URL. ``Idempotency-Key`` makes a client's retry return the first answer.
Documents in: the inbox of the caller's agencies, their files, acknowledgement, and the
statuses the clerk reports (02-06, 15/16), sent back signed to the original sender.

Every request needs ``Authorization: Bearer <key>`` (``gateway.http.api.clients``); a client acts
only for its agencies (403 otherwise). Errors are problem documents listing each problem.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from aiohttp import web

import edxml
from adapters.blobs import BlobStore
from adapters.store.schema import deliveries, inbox_acks, messages, webhook_deliveries
from adapters.store.store import MessageView, Store, utc_now
from adapters.url_policy import BlockedUrl, UrlPolicy
from edxml.pdf import PdfSignatureError, is_signed, sign_pdf, verify_pdf
from gateway.delivery.routing import RoutingTable
from gateway.http.api.clients import ApiClient, authenticate
from gateway.http.api.problems import ApiProblem, FieldProblem, problem_middleware
from gateway.http.api.submission import parse_body, read_submission
from gateway.http.webhooks import register_webhook
from gateway.inbound.pipeline import InboundPipeline
from gateway.outbound.accept import (
    DEFAULT_MAX_RECIPIENTS,
    AcceptanceError,
    DuplicateDocument,
    StatusOutOfOrder,
)
from gateway.outbound.door import Outbound
from gateway.outbound.operations import recall, replace, update
from gateway.signing import Signers

__all__ = ["MAX_REQUEST_BYTES", "PREFIX", "ApiContext", "build_api"]

PREFIX = "/api/v1"
MAX_REQUEST_BYTES = 120 * 1024 * 1024  # a 50 MB file in base64 JSON, and margin
_VIETNAM = dt.timezone(dt.timedelta(hours=7))
_CLIENT: web.RequestKey[ApiClient] = web.RequestKey("client", ApiClient)


@dataclass
class ApiContext:
    store: Store
    blobs: BlobStore
    routing: RoutingTable
    signers: Signers
    inbound: InboundPipeline
    wake: asyncio.Event | None = None  # tell the outbox relay / workers there is new work
    #: PDFs a QLVB sends: "off"; "present" (each PDF carries a signature); "valid" (each has
    #: a signature that verifies against ``trust``; Nghị định 30 Điều 5: signed by the agency)
    pdf_policy: Literal["off", "present", "valid"] = "off"
    max_recipients: int = DEFAULT_MAX_RECIPIENTS
    #: How long an Idempotency-Key holds (a retry after that is a new request).
    idempotency_seconds: float = 24 * 3600
    #: Where webhooks may point (settings ``webhooks``): by default public HTTPS only.
    webhook_policy: UrlPolicy = field(default_factory=UrlPolicy)
    #: Sign each unsigned attached PDF as the sending agency, with the Phụ lục I stamp
    seal_unsigned_pdfs: bool = False

    @property
    def trust(self) -> edxml.TrustStore | edxml.TrustPolicy | None:
        """The inbound pipeline's trust: one snapshot, replaced whole on a reload."""
        return self.inbound.trust

    @property
    def outbound(self) -> Outbound:
        """The one door every package of this API leaves through (checks, signs, stores)."""
        return Outbound(
            self.store,
            self.blobs,
            self.routing,
            self.signers,
            max_recipients=self.max_recipients,
            wake=self.wake,
        )


async def _check_pdfs(context: ApiContext, package: edxml.DocumentPackage) -> list[FieldProblem]:
    if context.pdf_policy == "off":
        return []
    problems = []
    for index, attachment in enumerate(package.attachments):
        if attachment.data is None or not attachment.data.startswith(b"%PDF"):
            continue
        field = f"attachments[{index}]"
        try:
            report = await verify_pdf(
                attachment.data, trust=context.trust, revocation=context.inbound.revocation
            )
        except PdfSignatureError as exc:
            problems.append(FieldProblem(field, "pdf.signature", str(exc)))
            continue
        if not report.signatures:
            problems.append(
                FieldProblem(field, "pdf.signature", f"{attachment.name} is not signed")
            )
        elif context.pdf_policy == "valid" and not any(s.accepted for s in report.signatures):
            problems.append(
                FieldProblem(field, "pdf.signature", f"no signature of {attachment.name} verifies")
            )
    return problems


async def _sealed(context: ApiContext, package: edxml.DocumentPackage) -> edxml.DocumentPackage:
    """Each unsigned PDF signed as the sending agency, with the stamp Phụ lục I gives an
    attached file (its number/notation and the time, 10 pt, top-right of page 1)."""
    identity = context.signers.identities.get(package.sender.organ_id)
    if identity is None:
        return package  # nothing to seal with: the PDF policy and Điều 5.2 decide
    attachments = []
    for index, attachment in enumerate(package.attachments):
        data = attachment.data
        if data is not None and data.startswith(b"%PDF"):
            try:
                if not is_signed(data):
                    data = await sign_pdf(data, identity, number_notation=str(package.code))
            except PdfSignatureError as exc:
                raise ApiProblem(
                    422,
                    "an attached PDF cannot be signed",
                    [FieldProblem(f"attachments[{index}]", "pdf.signature", str(exc))],
                ) from None
        attachments.append(dataclasses.replace(attachment, data=data))
    return dataclasses.replace(package, attachments=tuple(attachments))


CONTEXT: web.AppKey[ApiContext] = web.AppKey("api_context", ApiContext)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _now_vietnam() -> dt.datetime:
    return dt.datetime.now(_VIETNAM).replace(tzinfo=None, microsecond=0)


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    client = (
        await authenticate(request.app[CONTEXT].store, key.strip())
        if scheme.lower() == "bearer"
        else None
    )
    if client is None:
        raise ApiProblem(401, "a valid API key is required (Authorization: Bearer edk_...)")
    request[_CLIENT] = client
    return await handler(request)


def _require(client: ApiClient, organ_id: str, field: str) -> None:
    if not client.may_act_for(organ_id):
        raise ApiProblem(
            403,
            "this client may not act for that agency",
            [
                FieldProblem(
                    field, "auth.agency", f"{organ_id} is not one of this client's agencies"
                )
            ],
        )


# -- reading a document submission ----------------------------------------------------------


async def _json_body(request: web.Request) -> Any:
    return parse_body(await request.read())


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes")


def _conflict(exc: AcceptanceError, title: str) -> ApiProblem:
    """An operation on a document (recall, update, replace) that cannot be done now: 409."""
    problem = refusal_problem(exc, title)
    problem.status = 409
    return problem


def refusal_problem(exc: AcceptanceError, title: str) -> ApiProblem:
    """422 for what is wrong in the package, 409 for what conflicts with the state of things
    (a duplicate document, a status out of order); each problem with its field and rule."""
    problems = [FieldProblem(p.field, p.rule, p.message) for p in exc.problems]
    detail = None
    if isinstance(exc, DuplicateDocument):
        detail = f"duplicate of message {exc.message_id}: {PREFIX}/documents/{exc.message_id}"
    elif isinstance(exc, StatusOutOfOrder):
        detail = f"current status: {exc.current}"
    return ApiProblem(409 if exc.conflict else 422, title, problems, detail)


def _record_problem(exc: edxml.EdxmlError) -> ApiProblem:
    field = getattr(exc, "path", None) or "record"
    return ApiProblem(
        422, "the record is not valid", [FieldProblem(str(field), "record", str(exc))]
    )


# -- views ---------------------------------------------------------------------------------------


def _message_json(view: MessageView) -> dict[str, Any]:
    return {
        "id": view.id,
        "direction": view.direction,
        "document_id": view.document_id,
        "sender": view.sender,
        "code": view.code,
        "subject": view.subject,
        "message_type": view.message_type,
        "status_code": view.status_code,
        "created_at": view.created_at.isoformat(),
        "deliveries": [
            {
                "id": d.id,
                "recipient": d.recipient,
                "route": d.route,
                "state": d.state,
                "status_code": d.status_code,
                "attempts": d.attempts,
                "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
                "last_error": d.last_error,
                "remote_id": d.remote_id,
                "updated_at": d.updated_at.isoformat(),
                "events": [
                    {
                        "from": e.from_state,
                        "to": e.to_state,
                        "at": e.at.isoformat(),
                        "source": e.source,
                        "detail": e.detail,
                    }
                    for e in d.events
                ],
            }
            for d in view.deliveries
        ],
    }


def _like(pattern: str) -> str:
    return pattern.replace("%", r"\%").replace("_", r"\_").replace("*", "%").replace("?", "_")


def _agency_filter(column: sa.ColumnElement[Any], client: ApiClient) -> sa.ColumnElement[bool]:
    return sa.or_(*(column.like(_like(p), escape="\\") for p in client.agencies))


def _limit(request: web.Request) -> int:
    try:
        value = int(request.query.get("limit", "50"))
    except ValueError:
        raise ApiProblem(
            400, "limit is a number", [FieldProblem("limit", "type", "not a number")]
        ) from None
    if not 1 <= value <= 500:
        raise ApiProblem(400, "limit is 1..500", [FieldProblem("limit", "range", str(value))])
    return value


def _offset(request: web.Request) -> int:
    try:
        value = int(request.query.get("offset", "0"))
    except ValueError:
        raise ApiProblem(
            400, "offset is a number", [FieldProblem("offset", "type", "not a number")]
        ) from None
    if value < 0:
        raise ApiProblem(400, "offset is 0 or more", [FieldProblem("offset", "range", str(value))])
    return value


def _since(request: web.Request) -> dt.datetime | None:
    text = request.query.get("since")
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ApiProblem(
            400, "since is an ISO 8601 time", [FieldProblem("since", "type", text)]
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# -- handlers ------------------------------------------------------------------------------------


async def post_document(request: web.Request) -> web.StreamResponse:
    """Build, sign, check, store and queue a document; ``?resend=true`` sends a DocumentId
    again on purpose. An ``Idempotency-Key`` makes the client's retry answer the first 202."""
    context, client = request.app[CONTEXT], request[_CLIENT]
    key = request.headers.get("Idempotency-Key")
    resend = _flag(request, "resend")
    with tempfile.TemporaryDirectory(prefix=".upload-", dir=context.blobs.root) as scratch:
        submission = await read_submission(request, Path(scratch))
        if key:
            request_hash = hashlib.sha256(f"{submission.digest}|{resend}".encode()).hexdigest()
            claimed, message_id = await context.store.claim_request(
                client.id, key, request_hash, ttl_seconds=context.idempotency_seconds
            )
            if claimed == "conflict":
                raise ApiProblem(422, "this Idempotency-Key was used for another request")
            if claimed == "replay":
                if message_id is None:
                    raise ApiProblem(
                        409, "the first request with this Idempotency-Key is still running"
                    )
                view = await context.store.message(message_id, events=False)
                assert view is not None
                return _accepted_response(request, view.id, view.document_id, replay=True)
        try:
            message_id, document_id = await _submit(
                context,
                client,
                submission.record,
                resend=resend,
                idempotency=(client.id, key) if key else None,
            )
        except BaseException:
            if key:
                await context.store.settle_request(client.id, key, None)
            raise
    return _accepted_response(request, message_id, document_id)


async def _submit(
    context: ApiContext,
    client: ApiClient,
    record: dict[str, Any],
    *,
    resend: bool,
    idempotency: tuple[str, str] | None,
) -> tuple[str, str]:
    try:
        package = edxml.from_record(record, now=_now_vietnam())
    except edxml.EdxmlError as exc:
        raise _record_problem(exc) from None
    if not isinstance(package, edxml.DocumentPackage):
        raise ApiProblem(
            422,
            "a document record has no status_code",
            [FieldProblem("status_code", "record", "use /inbox/{id}/status")],
        )
    _require(client, package.sender.organ_id, "sender.organ_id")
    if context.seal_unsigned_pdfs:
        package = await _sealed(context, package)
    pdf_problems = await _check_pdfs(context, package)
    if pdf_problems:
        raise ApiProblem(422, "an attached PDF does not satisfy the signature policy", pdf_problems)
    try:
        data = await asyncio.to_thread(edxml.build, package)
    except edxml.EdxmlError as exc:
        raise _record_problem(exc) from None
    try:
        accepted = await context.outbound.submit(
            data,
            client_id=client.id,
            may_send_as=client.may_act_for,
            resend=resend,
            idempotency=idempotency,
        )
    except AcceptanceError as exc:
        raise refusal_problem(exc, "the document was not accepted") from None
    return accepted.message_id, accepted.document_id


def _accepted_response(
    request: web.Request, message_id: str, document_id: str, *, replay: bool = False
) -> web.Response:
    url = f"{PREFIX}/documents/{message_id}"
    return web.json_response(
        {"id": message_id, "document_id": document_id, "status_url": url, "replayed": replay},
        status=202,
        headers={"Location": url},
    )


async def _own_message(request: web.Request, *, direction: str) -> MessageView:
    context, client = request.app[CONTEXT], request[_CLIENT]
    view = await context.store.message(request.match_info["id"])
    if view is None or view.direction != direction:
        raise ApiProblem(404, "no such document")
    owner = view.sender if direction == "out" else await _recipient_of(context.store, view.id)
    if not client.may_act_for(owner or ""):
        raise ApiProblem(404, "no such document")  # not one of the client's: do not tell
    return view


async def _recipient_of(store: Store, message_id: str) -> str | None:
    async with store.engine.connect() as connection:
        value = await connection.scalar(
            sa.select(messages.c.recipient).where(messages.c.id == message_id)
        )
    return str(value) if value is not None else None


async def get_document(request: web.Request) -> web.StreamResponse:
    return web.json_response(_message_json(await _own_message(request, direction="out")))


async def get_package(request: web.Request) -> web.StreamResponse:
    view = await _own_message(request, direction=request.query.get("direction", "out"))
    data = await asyncio.to_thread(request.app[CONTEXT].blobs.get, view.package_ref)
    return web.Response(
        body=data,
        content_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{view.id}.edxml"'},
    )


async def list_documents(request: web.Request) -> web.StreamResponse:
    context, client = request.app[CONTEXT], request[_CLIENT]
    limit, since = _limit(request), _since(request)
    query = (
        sa.select(messages.c.id)
        .where(
            messages.c.direction == "out",
            messages.c.message_type == "edoc",
            _agency_filter(messages.c.sender, client),
        )
        .order_by(messages.c.created_at.desc(), messages.c.id)
        .limit(limit)
        .offset(_offset(request))
    )
    if since is not None:
        query = query.where(messages.c.created_at >= since)
    if state := request.query.get("state"):
        query = query.where(
            messages.c.id.in_(sa.select(deliveries.c.message_id).where(deliveries.c.state == state))
        )
    if recipient := request.query.get("recipient"):
        query = query.where(
            messages.c.id.in_(
                sa.select(deliveries.c.message_id).where(deliveries.c.recipient == recipient)
            )
        )
    async with context.store.engine.connect() as connection:
        ids = list((await connection.execute(query)).scalars())
    items = []
    for message_id in ids:
        view = await context.store.message(message_id, events=False)
        if view is not None:
            items.append(_message_json(view))
    return web.json_response({"items": items, "count": len(items)})


async def post_recall(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    view = await _own_message(request, direction="out")
    body = await _json_body(request)
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise ApiProblem(
            400, "a recall needs its reason", [FieldProblem("reason", "required", "missing")]
        )
    try:
        sent = await recall(context.outbound, view.id, reason=reason)
    except AcceptanceError as exc:
        raise _conflict(exc, "the recall cannot be sent") from None
    return web.json_response({"sent": [a.message_id for a in sent]}, status=202)


_UPDATABLE = {"subject", "content", "due_date", "to_places", "steering_type"}


async def post_update(request: web.Request) -> web.StreamResponse:
    """Business type 2: the changed fields of the record, and the reason."""
    context = request.app[CONTEXT]
    view = await _own_message(request, direction="out")
    body = await _json_body(request)
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
    data = await asyncio.to_thread(context.blobs.get, view.package_ref)
    original = edxml.to_record(await asyncio.to_thread(edxml.parse, data), include_data=True)
    try:
        changed = edxml.from_record({**original, **changes})
    except edxml.EdxmlError as exc:
        raise _record_problem(exc) from None
    values = {name: getattr(changed, name) for name in changes}
    try:
        accepted = await update(
            context.outbound,
            view.id,
            reason=body["reason"],
            changes=values,
        )
    except AcceptanceError as exc:
        raise _conflict(exc, "the update cannot be sent") from None
    return _accepted_response(request, accepted.message_id, accepted.document_id)


async def post_replace(request: web.Request) -> web.StreamResponse:
    """Business type 3: a new record that replaces the document, and the reason."""
    context, client = request.app[CONTEXT], request[_CLIENT]
    view = await _own_message(request, direction="out")
    body = await _json_body(request)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("reason"), str)
        or not body["reason"].strip()
    ):
        raise ApiProblem(
            400, "a replacement needs its reason", [FieldProblem("reason", "required", "missing")]
        )
    try:
        replacement = edxml.from_record(body.get("record"), now=_now_vietnam())  # type: ignore[arg-type]
    except edxml.EdxmlError as exc:
        raise _record_problem(exc) from None
    if not isinstance(replacement, edxml.DocumentPackage):
        raise ApiProblem(
            422,
            "the replacement is a document record",
            [FieldProblem("record", "record", "status record")],
        )
    _require(client, replacement.sender.organ_id, "record.sender.organ_id")
    try:
        accepted = await replace(
            context.outbound,
            view.id,
            replacement,
            reason=body["reason"],
        )
    except AcceptanceError as exc:
        raise _conflict(exc, "the replacement cannot be sent") from None
    return _accepted_response(request, accepted.message_id, accepted.document_id)


async def post_requeue(request: web.Request) -> web.StreamResponse:
    context, client = request.app[CONTEXT], request[_CLIENT]
    delivery_id = request.match_info["id"]
    async with context.store.engine.connect() as connection:
        row = (
            await connection.execute(
                sa.select(messages.c.sender)
                .join(deliveries, deliveries.c.message_id == messages.c.id)
                .where(deliveries.c.id == delivery_id)
            )
        ).first()
    if row is None or not client.may_act_for(row.sender):
        raise ApiProblem(404, "no such delivery")
    if not await context.store.requeue(delivery_id, source=f"api:{client.id}"):
        raise ApiProblem(409, "only a failed delivery can be requeued")
    if context.wake is not None:
        context.wake.set()
    return web.json_response({"id": delivery_id, "state": "queued"}, status=202)


# -- inbox ---------------------------------------------------------------------------------------


async def list_inbox(request: web.Request) -> web.StreamResponse:
    context, client = request.app[CONTEXT], request[_CLIENT]
    limit, since = _limit(request), _since(request)
    query = (
        sa.select(messages, inbox_acks.c.acked_at)
        .select_from(
            messages.outerjoin(
                inbox_acks,
                sa.and_(
                    inbox_acks.c.message_id == messages.c.id, inbox_acks.c.client_id == client.id
                ),
            )
        )
        .where(
            messages.c.direction == "in",
            messages.c.message_type == "edoc",
            _agency_filter(messages.c.recipient, client),
        )
        .order_by(messages.c.priority.desc(), messages.c.created_at, messages.c.id)
        .limit(limit)
        .offset(_offset(request))
    )
    if since is not None:
        query = query.where(messages.c.created_at >= since)
    if request.query.get("unacknowledged") in ("1", "true"):
        query = query.where(inbox_acks.c.acked_at.is_(None))
    async with context.store.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return web.json_response({"items": [_inbox_json(row) for row in rows], "count": len(rows)})


def _inbox_json(row: Any) -> dict[str, Any]:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
    return {
        "id": row.id,
        "document_id": row.document_id,
        "sender": row.sender,
        "recipient": row.recipient,
        "code": row.code,
        "subject": row.subject,
        "priority": row.priority,
        "due_date": row.due_date.isoformat() if row.due_date else None,
        "state": row.inbound_state,
        # an update (2), replacement (3) or recall (1) names the document it is about
        "business_type": row.business_type,
        "original_id": row.original_id,
        "reported_status": row.reported_status,
        "checks": json.loads(row.checks) if row.checks else None,
        "received_at": created.isoformat(),
        "acknowledged": row.acked_at is not None,
    }


async def _inbox_row(request: web.Request) -> Any:
    context, client = request.app[CONTEXT], request[_CLIENT]
    async with context.store.engine.connect() as connection:
        row = (
            await connection.execute(
                sa.select(messages, sa.literal(None).label("acked_at")).where(
                    messages.c.id == request.match_info["id"], messages.c.direction == "in"
                )
            )
        ).first()
    if row is None or not client.may_act_for(row.recipient or ""):
        raise ApiProblem(404, "no such inbound document")
    return row


async def get_inbox_item(request: web.Request) -> web.StreamResponse:
    row = await _inbox_row(request)
    data = await asyncio.to_thread(request.app[CONTEXT].blobs.get, row.package_ref)
    package = await asyncio.to_thread(edxml.parse, data)
    return web.json_response({**_inbox_json(row), "record": edxml.to_record(package)})


async def get_inbox_attachment(request: web.Request) -> web.StreamResponse:
    row = await _inbox_row(request)
    data = await asyncio.to_thread(request.app[CONTEXT].blobs.get, row.package_ref)
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
    context, client = request.app[CONTEXT], request[_CLIENT]
    try:
        async with context.store.engine.begin() as connection:
            await connection.execute(
                inbox_acks.insert().values(
                    message_id=row.id, client_id=client.id, acked_at=utc_now()
                )
            )
    except sa.exc.IntegrityError:
        pass  # acknowledged before: fine
    return web.json_response({"id": row.id, "acknowledged": True})


_REPORTABLE = {"02", "03", "04", "05", "06", "15", "16"}


async def post_inbox_status(request: web.Request) -> web.StreamResponse:
    row = await _inbox_row(request)
    context = request.app[CONTEXT]
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise ApiProblem(
            400, "the body is a JSON object", [FieldProblem("body", "type", "not an object")]
        )
    code = body.get("status_code")
    if code not in _REPORTABLE:
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
    data = await asyncio.to_thread(context.blobs.get, row.package_ref)
    document = await asyncio.to_thread(edxml.parse, data)
    assert isinstance(document, edxml.DocumentPackage)
    status = edxml.StatusPackage(
        sender=dataclasses.replace(
            next(
                (o for o in document.recipients if o.organ_id == row.recipient),
                edxml.Organization(organ_id=row.recipient),
            )
        ),
        response_for=edxml.ResponseFor(
            organ_id=document.sender.organ_id,
            code=str(document.code),
            promulgation_date=document.promulgation.date,
            document_id=row.document_id,
        ),
        status_code=code,
        description=str(body.get("description") or "") or None,
        staff=staff_info,
        timestamp=_now_vietnam(),
    )
    try:
        accepted = await context.outbound.submit(edxml.build(status))
    except AcceptanceError as exc:
        raise refusal_problem(exc, "the status was not accepted") from None
    return web.json_response(
        {"id": accepted.message_id, "status_url": f"{PREFIX}/documents/{accepted.message_id}"},
        status=202,
    )


async def put_webhook(request: web.Request) -> web.StreamResponse:
    context, client = request.app[CONTEXT], request[_CLIENT]
    body = await _json_body(request)
    url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise ApiProblem(
            400, "url is an http(s) URL", [FieldProblem("url", "format", repr(url)[:100])]
        )
    try:
        secret = await register_webhook(context.store, client, url, context.webhook_policy)
    except BlockedUrl as exc:
        raise ApiProblem(
            422,
            "the settings do not allow webhooks to that URL",
            [FieldProblem("url", "webhooks.allowed", str(exc))],
        ) from None
    return web.json_response(
        {
            "url": url,
            "secret": secret,
            "signature_header": "X-Edxml-Signature",
            "timestamp_header": "X-Edxml-Timestamp",
            "signed": "<X-Edxml-Timestamp>.<body>",
        }
    )


async def delete_webhook(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    await register_webhook(context.store, request[_CLIENT], None, context.webhook_policy)
    return web.json_response({"url": None})


async def list_webhook_deliveries(request: web.Request) -> web.StreamResponse:
    context, client = request.app[CONTEXT], request[_CLIENT]
    async with context.store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(webhook_deliveries)
                .where(webhook_deliveries.c.client_id == client.id)
                .order_by(webhook_deliveries.c.created_at.desc())
                .limit(_limit(request))
            )
        ).all()
    items = [
        {
            "id": row.id,
            "event": row.event,
            "state": row.state,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "created_at": str(row.created_at),
            "sent_at": str(row.sent_at) if row.sent_at else None,
            "payload": json.loads(row.payload),
        }
        for row in rows
    ]
    return web.json_response({"items": items, "count": len(items)})


def build_api(context: ApiContext) -> web.Application:
    """The ``/api/v1`` sub-application (mount it with ``app.add_subapp(PREFIX, ...)``)."""
    api = web.Application(
        client_max_size=MAX_REQUEST_BYTES, middlewares=[problem_middleware, _authenticate]
    )
    api[CONTEXT] = context
    api.router.add_post("/documents", post_document)
    api.router.add_get("/documents", list_documents)
    api.router.add_get("/documents/{id}", get_document)
    api.router.add_get("/documents/{id}/package", get_package)
    api.router.add_post("/documents/{id}/recall", post_recall)
    api.router.add_post("/documents/{id}/update", post_update)
    api.router.add_post("/documents/{id}/replace", post_replace)
    api.router.add_post("/deliveries/{id}/requeue", post_requeue)
    api.router.add_get("/inbox", list_inbox)
    api.router.add_get("/inbox/{id}", get_inbox_item)
    api.router.add_get("/inbox/{id}/attachments/{content_id}", get_inbox_attachment)
    api.router.add_post("/inbox/{id}/ack", post_inbox_ack)
    api.router.add_post("/inbox/{id}/status", post_inbox_status)
    api.router.add_put("/webhook", put_webhook)
    api.router.add_delete("/webhook", delete_webhook)
    api.router.add_get("/webhook/deliveries", list_webhook_deliveries)
    return api
