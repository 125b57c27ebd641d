"""Refusals as pages in the user's language: a 403, 404, 400 or 409 of the dashboard is a
page with the catalogue's words for it and a way back, not a bare line of English."""

from __future__ import annotations

from aiohttp import web

from gateway.http.dashboard.pages import Handler, render

__all__ = ["error_pages"]

_KNOWN = frozenset({400, 401, 403, 404, 405, 409, 413})


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status not in _KNOWN or request.path.endswith("/events"):
            raise
        return render(
            request,
            "error.html",
            status=exc.status,
            code=exc.status,
            detail=exc.text if exc.text and not exc.text.startswith(str(exc.status)) else "",
            page_title=str(exc.status),
        )
