"""Passwords: every user changes their own (the current one first); an administrator resets
a user's who forgot it. Both are audited and end the account's other sessions."""

from __future__ import annotations

from aiohttp import web

from gateway.http.dashboard.accounts import AccountError, change_password, reset_password
from gateway.http.dashboard.pages import CONTEXT, admin_user, current_user, render
from gateway.http.dashboard.session import COOKIE

__all__ = ["password_page", "post_password", "post_reset_password"]


async def password_page(request: web.Request) -> web.StreamResponse:
    return render(request, "password.html", page_title="password")


async def post_password(request: web.Request) -> web.StreamResponse:
    context, user = request.app[CONTEXT], current_user(request)
    form = await request.post()
    current, new = str(form.get("current", "")), str(form.get("new", ""))
    if new != str(form.get("again", "")):
        return render(request, "password.html", status=400, error="password_mismatch")
    try:
        await change_password(
            context.store, user, current, new, session_token=request.cookies.get(COOKIE, "")
        )
    except AccountError as exc:
        return render(request, "password.html", status=400, error=exc.key or str(exc))
    return render(request, "password.html", done=True, page_title="password")


async def post_reset_password(request: web.Request) -> web.StreamResponse:
    context, admin = request.app[CONTEXT], admin_user(request)
    username = request.match_info["username"]
    form = await request.post()
    try:
        await reset_password(context.store, username, str(form.get("new", "")), by=admin.username)
    except AccountError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    raise web.HTTPSeeOther("/dashboard/users?reset=" + username)
