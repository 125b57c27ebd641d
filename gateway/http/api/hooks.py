"""The client's webhook: registering its URL (checked against the settings' policy), removing
it, and the log of what was sent to it.
"""

from __future__ import annotations

from aiohttp import web

from adapters.url_policy import BlockedUrl
from gateway.http.api.context import (
    CLIENT,
    CONTEXT,
    json_body,
    query_limit,
)
from gateway.http.api.problems import ApiProblem, FieldProblem
from gateway.http.webhooks import register_webhook

__all__ = ["delete_webhook", "list_webhook_deliveries", "put_webhook"]


async def put_webhook(request: web.Request) -> web.StreamResponse:
    context, client = request.app[CONTEXT], request[CLIENT]
    body = await json_body(request)
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
    await register_webhook(context.store, request[CLIENT], None, context.webhook_policy)
    return web.json_response({"url": None})


async def list_webhook_deliveries(request: web.Request) -> web.StreamResponse:
    context, client = request.app[CONTEXT], request[CLIENT]
    rows = await context.store.webhook_log(client.id, query_limit(request))
    items = [
        {
            "id": row["id"],
            "event": row["event"],
            "state": row["state"],
            "attempts": row["attempts"],
            "last_error": row["last_error"],
            "created_at": str(row["created_at"]),
            "sent_at": str(row["sent_at"]) if row["sent_at"] else None,
            "payload": row["payload"],
        }
        for row in rows
    ]
    return web.json_response({"items": items, "count": len(items)})
