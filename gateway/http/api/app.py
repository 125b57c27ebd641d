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

from aiohttp import web

from gateway.http.api.context import (
    CONTEXT,
    MAX_REQUEST_BYTES,
    PREFIX,
    ApiContext,
    authenticate_client,
)
from gateway.http.api.documents import get_document, get_package, list_documents, post_document
from gateway.http.api.hooks import delete_webhook, list_webhook_deliveries, put_webhook
from gateway.http.api.inbox import (
    get_inbox_attachment,
    get_inbox_item,
    list_inbox,
    post_inbox_ack,
    post_inbox_status,
)
from gateway.http.api.operations import (
    post_recall,
    post_replace,
    post_requeue,
    post_requeue_since,
    post_update,
)
from gateway.http.api.problems import problem_middleware

__all__ = ["MAX_REQUEST_BYTES", "PREFIX", "ApiContext", "build_api"]


def build_api(context: ApiContext) -> web.Application:
    """The ``/api/v1`` sub-application (mount it with ``app.add_subapp(PREFIX, ...)``)."""
    api = web.Application(
        client_max_size=MAX_REQUEST_BYTES, middlewares=[problem_middleware, authenticate_client]
    )
    api[CONTEXT] = context
    api.router.add_post("/documents", post_document)
    api.router.add_get("/documents", list_documents)
    api.router.add_get("/documents/{id}", get_document)
    api.router.add_get("/documents/{id}/package", get_package)
    api.router.add_post("/documents/{id}/recall", post_recall)
    api.router.add_post("/documents/{id}/update", post_update)
    api.router.add_post("/documents/{id}/replace", post_replace)
    api.router.add_post("/deliveries/requeue", post_requeue_since)
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
