"""What every API handler shares: the context, the authenticated client and the agencies it
may act for, the request's paging, and how refusals become problem documents.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

import edxml
from adapters.blobs import BlobStore
from adapters.store.store import MessageView, Store
from adapters.url_policy import UrlPolicy
from gateway.delivery.routing import RoutingTable
from gateway.http.api.clients import ApiClient, authenticate
from gateway.http.api.problems import ApiProblem, FieldProblem
from gateway.http.api.submission import parse_body
from gateway.inbound.pipeline import InboundPipeline
from gateway.outbound.accept import (
    DEFAULT_MAX_RECIPIENTS,
    AcceptanceError,
    DuplicateDocument,
    StatusOutOfOrder,
)
from gateway.outbound.door import Outbound
from gateway.signing import Signers

__all__ = [
    "CLIENT",
    "CONTEXT",
    "MAX_REQUEST_BYTES",
    "PREFIX",
    "ApiContext",
    "accepted_response",
    "authenticate_client",
    "conflict_problem",
    "json_body",
    "message_json",
    "own_message",
    "query_flag",
    "query_limit",
    "query_offset",
    "query_since",
    "record_problem",
    "refusal_problem",
    "require_agency",
]

PREFIX = "/api/v1"
MAX_REQUEST_BYTES = 120 * 1024 * 1024  # a 50 MB file in base64 JSON, and margin
CLIENT: web.RequestKey[ApiClient] = web.RequestKey("client", ApiClient)


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
    #: Submissions built at once (``max_concurrent_submissions``); the others wait, unread.
    submissions: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))

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


CONTEXT: web.AppKey[ApiContext] = web.AppKey("api_context", ApiContext)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def authenticate_client(request: web.Request, handler: Handler) -> web.StreamResponse:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    client = (
        await authenticate(request.app[CONTEXT].store, key.strip())
        if scheme.lower() == "bearer"
        else None
    )
    if client is None:
        raise ApiProblem(401, "a valid API key is required (Authorization: Bearer edk_...)")
    request[CLIENT] = client
    return await handler(request)


def require_agency(client: ApiClient, organ_id: str, field: str) -> None:
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


async def json_body(request: web.Request) -> Any:
    return parse_body(await request.read())


def query_flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes")


def conflict_problem(exc: AcceptanceError, title: str) -> ApiProblem:
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


def record_problem(exc: edxml.EdxmlError) -> ApiProblem:
    field = getattr(exc, "path", None) or "record"
    return ApiProblem(
        422, "the record is not valid", [FieldProblem(str(field), "record", str(exc))]
    )


def message_json(view: MessageView, names: dict[str, str] | None = None) -> dict[str, Any]:
    """A message as the API shows it; ``names``: the agencies' names (code -> name), each
    party then carries its name beside its code."""
    names = names or {}
    return {
        "id": view.id,
        "direction": view.direction,
        "document_id": view.document_id,
        "sender": view.sender,
        "sender_name": names.get(view.sender),
        "code": view.code,
        "subject": view.subject,
        "message_type": view.message_type,
        "status_code": view.status_code,
        "created_at": view.created_at.isoformat(),
        "deliveries": [
            {
                "id": d.id,
                "recipient": d.recipient,
                "recipient_name": names.get(d.recipient),
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


def query_limit(request: web.Request) -> int:
    try:
        value = int(request.query.get("limit", "50"))
    except ValueError:
        raise ApiProblem(
            400, "limit is a number", [FieldProblem("limit", "type", "not a number")]
        ) from None
    if not 1 <= value <= 500:
        raise ApiProblem(400, "limit is 1..500", [FieldProblem("limit", "range", str(value))])
    return value


def query_offset(request: web.Request) -> int:
    try:
        value = int(request.query.get("offset", "0"))
    except ValueError:
        raise ApiProblem(
            400, "offset is a number", [FieldProblem("offset", "type", "not a number")]
        ) from None
    if value < 0:
        raise ApiProblem(400, "offset is 0 or more", [FieldProblem("offset", "range", str(value))])
    return value


def query_since(request: web.Request) -> dt.datetime | None:
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


async def own_message(request: web.Request, *, direction: str) -> MessageView:
    """A document of the client's agencies (404 for anyone else's: do not tell)."""
    context, client = request.app[CONTEXT], request[CLIENT]
    view = await context.store.message(request.match_info["id"])
    if view is None or view.direction != direction:
        raise ApiProblem(404, "no such document")
    owner = view.sender if direction == "out" else await context.store.recipient_of(view.id)
    if not client.may_act_for(owner or ""):
        raise ApiProblem(404, "no such document")
    return view


def accepted_response(
    request: web.Request,
    message_id: str,
    document_id: str,
    *,
    replay: bool = False,
    renamed: list[dict[str, Any]] | None = None,
) -> web.Response:
    """The 202 of an accepted document; ``renamed``: the files given a conforming name."""
    url = f"{PREFIX}/documents/{message_id}"
    body: dict[str, Any] = {
        "id": message_id,
        "document_id": document_id,
        "status_url": url,
        "replayed": replay,
    }
    if renamed:
        body["renamed"] = renamed
    return web.json_response(
        body,
        status=202,
        headers={"Location": url},
    )
