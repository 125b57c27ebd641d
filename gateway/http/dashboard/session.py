"""Logging in and out, and the middleware that guards every page.

Sessions are a random token in an HttpOnly, SameSite=Strict cookie (only its hash is
stored); every form carries the session's CSRF token and a POST without it is refused (403).
The login form has its own CSRF cookie. Alerts and the notice in force are shown on every page.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from gateway.http.dashboard.accounts import (
    AccountError,
    check_login,
    end_session,
    session_user,
    start_session,
)
from gateway.http.dashboard.pages import ALERTS, CONTEXT, NAMES, NOTICE, USER, Handler, render
from gateway.operate.alerts import active_alerts

__all__ = ["active_notice", "login", "login_page", "logout", "session_middleware"]

COOKIE = "edxml_session"
LOGIN_CSRF = "edxml_login_csrf"


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    context = request.app[CONTEXT]
    token = request.cookies.get(COOKIE)
    user = await session_user(context.store, token) if token else None
    request[USER] = user
    notice = await active_notice(request)
    if notice:
        request[NOTICE] = notice
    if request.path.rstrip("/").endswith("/login"):
        return await handler(request)
    if user is not None and request.method == "GET":
        request[ALERTS] = await active_alerts(context.store)  # Điều 20, 21.6: outages shown
        request[NAMES] = await context.store.agency_names()
    if user is None:
        if request.method == "GET" and not request.path.endswith("/events"):
            raise web.HTTPFound("/dashboard/login")
        raise web.HTTPUnauthorized(text="log in first")
    if request.method == "POST":
        form = await request.post()
        if not hmac.compare_digest(str(form.get("csrf", "")), user.csrf):
            raise web.HTTPForbidden(text="missing or wrong CSRF token")
    return await handler(request)


async def active_notice(request: web.Request) -> str | None:
    """The notice in force now (announced by an admin), else the settings' one."""
    context = request.app[CONTEXT]
    return await context.store.notice_in_force() or context.notice


async def login_page(request: web.Request) -> web.StreamResponse:
    csrf = secrets.token_urlsafe(16)
    response = render(request, "login.html", csrf=csrf, page_title="login")
    response.set_cookie(LOGIN_CSRF, csrf, path="/dashboard", samesite="Strict", httponly=True)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    form = await request.post()
    if not hmac.compare_digest(str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF, "-")):
        raise web.HTTPForbidden(text="missing or wrong CSRF token")
    try:
        account = await check_login(
            context.store,
            str(form.get("username", "")),
            str(form.get("password", "")),
            address=request.remote or "",
            throttle=context.throttle,
        )
    except AccountError as exc:
        csrf = secrets.token_urlsafe(16)
        response = render(
            request,
            "login.html",
            status=401,
            error=exc.key or str(exc),
            csrf=csrf,
            page_title="login",
        )
        response.set_cookie(LOGIN_CSRF, csrf, path="/dashboard", samesite="Strict", httponly=True)
        return response
    token, _ = await start_session(context.store, account)
    response = web.HTTPFound("/dashboard/")
    response.set_cookie(
        COOKIE,
        token,
        path="/dashboard",
        samesite="Strict",
        httponly=True,
        secure=context.secure_cookies,
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(COOKIE)
    if token:
        await end_session(request.app[CONTEXT].store, token)
    response = web.HTTPFound("/dashboard/login")
    response.del_cookie(COOKIE, path="/dashboard")
    raise response
