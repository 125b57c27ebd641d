"""The operators' dashboard under ``/dashboard``: server-rendered pages, a little JavaScript.

Vietnamese first (``?lang=en`` switches, remembered in a cookie). Sessions are a random
token in an HttpOnly, SameSite=Strict cookie (only its hash is stored); every form carries
the session's CSRF token and a POST without it is refused (403). A user sees only the
agencies assigned to them; only clerks and admins requeue (the button is absent for a
viewer, and the POST is refused). Live updates come by Server-Sent Events from the state
feed (Redis pub/sub or in-process), so the per-recipient grid changes without a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import hmac
import io
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import sqlalchemy as sa
from aiohttp import web

import edxml
from adapters.blobs import BlobStore
from adapters.redis.feed import LocalFeed, RedisFeed
from adapters.store.schema import (
    api_clients,
    audit_log,
    deliveries,
    delivery_events,
    messages,
    notices,
    users,
)
from adapters.store.store import MessageView, Store, utc_now
from gateway.delivery.routing import RoutingTable
from gateway.delivery.states import DeliveryState
from gateway.http.api.clients import create_client, revoke_client
from gateway.http.dashboard.accounts import (
    Account,
    AccountError,
    audit,
    available_username,
    check_login,
    create_user,
    end_session,
    lock_user,
    propose_username,
    session_user,
    start_session,
)
from gateway.operate.alerts import AlertChange, active_alerts
from gateway.operate.reports import incoming_register, outgoing_register, period_report
from gateway.outbound.accept import AcceptanceError
from gateway.outbound.door import Outbound
from gateway.outbound.operations import recall
from gateway.signing import Signers

__all__ = ["DashboardContext", "build_dashboard"]

COOKIE = "edxml_session"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LOGIN_CSRF = "edxml_login_csrf"
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=jinja2.select_autoescape(["html"]),
)
_VIETNAM = dt.timezone(dt.timedelta(hours=7))


def _local(moment: dt.datetime | None, layout: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Times are stored in UTC and shown in Vietnam time."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(_VIETNAM).strftime(layout)


_TEMPLATES.filters["local"] = _local
#: The interface's words, Vietnamese first (texts.json: one object per language).
_TEXT: dict[str, dict[str, str]] = json.loads(
    Path(__file__).with_name("texts.json").read_text(encoding="utf-8")
)
_MEANING = {
    "01": "Đã đến",
    "02": "Từ chối tiếp nhận",
    "03": "Đã tiếp nhận",
    "04": "Phân công xử lý",
    "05": "Đang xử lý",
    "06": "Hoàn thành",
    "13": "Lấy lại / thu hồi",
    "15": "Đồng ý",
    "16": "Từ chối",
}


@dataclass
class DashboardContext:
    store: Store
    blobs: BlobStore
    feed: LocalFeed | RedisFeed
    secure_cookies: bool = False  # set behind HTTPS
    #: A maintenance or outage notice shown on every page (Điều 20, 21.6)
    notice: str | None = None
    #: The routing table, shown to admins (pattern, destination)
    routes: tuple[tuple[str, str], ...] = ()
    #: Routing for the packages the dashboard sends (recall)
    routing: RoutingTable = field(default_factory=RoutingTable)
    #: The agencies' keys: what the dashboard sends is signed by the outbound door
    signers: Signers = field(default_factory=Signers)


CONTEXT: web.AppKey[DashboardContext] = web.AppKey("dashboard", DashboardContext)
_NOTICE: web.RequestKey[str] = web.RequestKey("notice", str)
_ALERTS: web.RequestKey[list[AlertChange]] = web.RequestKey("alerts", list)
_USER: web.RequestKey[Account | None] = web.RequestKey("user", object)  # type: ignore[arg-type]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _lang(request: web.Request) -> str:
    wanted = request.query.get("lang") or request.cookies.get("lang") or "vi"
    return wanted if wanted in _TEXT else "vi"


def _render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    lang = _lang(request)
    text = _TEXT[lang]
    html = _TEMPLATES.get_template(template).render(
        lang=lang,
        t=lambda key: text.get(key, key),
        user=request.get(_USER),
        status_meaning=lambda code: _MEANING.get(code, ""),
        page_title=values.pop("page_title", ""),
        banner=request.get(_NOTICE),
        alerts=request.get(_ALERTS, []),
        **values,
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    if "lang" in request.query:
        response.set_cookie("lang", lang, path="/dashboard", samesite="Strict", httponly=True)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'self'"
    )
    return response


@web.middleware
async def _session(request: web.Request, handler: Handler) -> web.StreamResponse:
    context = request.app[CONTEXT]
    token = request.cookies.get(COOKIE)
    user = await session_user(context.store, token) if token else None
    request[_USER] = user
    notice = await _active_notice(request)
    if notice:
        request[_NOTICE] = notice
    if request.path.rstrip("/").endswith("/login"):
        return await handler(request)
    if user is not None and request.method == "GET":
        request[_ALERTS] = await active_alerts(context.store)  # Điều 20, 21.6: outages shown
    if user is None:
        if request.method == "GET" and not request.path.endswith("/events"):
            raise web.HTTPFound("/dashboard/login")
        raise web.HTTPUnauthorized(text="log in first")
    if request.method == "POST":
        form = await request.post()
        if not hmac.compare_digest(str(form.get("csrf", "")), user.csrf):
            raise web.HTTPForbidden(text="missing or wrong CSRF token")
    return await handler(request)


def _user(request: web.Request) -> Account:
    user = request.get(_USER)
    assert isinstance(user, Account)  # the session middleware let the request through
    return user


def _like(pattern: str) -> str:
    return pattern.replace("%", r"\%").replace("_", r"\_").replace("*", "%").replace("?", "_")


def _visible(column: Any, user: Account) -> Any:
    return sa.or_(*(column.like(_like(p), escape="\\") for p in user.agencies))


async def login_page(request: web.Request) -> web.StreamResponse:
    csrf = secrets.token_urlsafe(16)
    response = _render(request, "login.html", csrf=csrf, page_title="login")
    response.set_cookie(LOGIN_CSRF, csrf, path="/dashboard", samesite="Strict", httponly=True)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    form = await request.post()
    if not hmac.compare_digest(str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF, "-")):
        raise web.HTTPForbidden(text="missing or wrong CSRF token")
    try:
        account = await check_login(
            context.store, str(form.get("username", "")), str(form.get("password", ""))
        )
    except AccountError as exc:
        csrf = secrets.token_urlsafe(16)
        response = _render(
            request, "login.html", status=401, error=str(exc), csrf=csrf, page_title="login"
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


async def overview(request: web.Request) -> web.StreamResponse:
    store, user = request.app[CONTEXT].store, _user(request)
    today = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
    async with store.engine.connect() as connection:
        states = {
            row.state: row.n
            for row in await connection.execute(
                sa.select(deliveries.c.state, sa.func.count().label("n"))
                .join(messages, messages.c.id == deliveries.c.message_id)
                .where(_visible(messages.c.sender, user))
                .group_by(deliveries.c.state)
            )
        }
        sent_today = await connection.scalar(
            sa.select(sa.func.count())
            .select_from(messages)
            .where(
                messages.c.direction == "out",
                messages.c.created_at >= today,
                _visible(messages.c.sender, user),
            )
        )
        received_today = await connection.scalar(
            sa.select(sa.func.count())
            .select_from(messages)
            .where(
                messages.c.direction == "in",
                messages.c.message_type == "edoc",
                messages.c.created_at >= today,
                _visible(messages.c.recipient, user),
            )
        )
    return _render(
        request,
        "overview.html",
        states=states,
        sent_today=sent_today,
        received_today=received_today,
        destinations=await _destinations(store, user),
        median_to_arrival=await _median_to_arrival(store, user),
        page_title="overview",
    )


async def _destinations(store: Store, user: Account) -> list[dict[str, Any]]:
    """Per destination: waiting, failed, the last success and the last error (Điều 20)."""
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(
                    deliveries.c.route,
                    sa.func.sum(
                        sa.case((deliveries.c.state.in_(("queued", "retry_wait")), 1), else_=0)
                    ).label("waiting"),
                    sa.func.sum(sa.case((deliveries.c.state == "failed", 1), else_=0)).label(
                        "failed"
                    ),
                )
                .join(messages, messages.c.id == deliveries.c.message_id)
                .where(_visible(messages.c.sender, user))
                .group_by(deliveries.c.route)
            )
        ).all()
        found = []
        for row in rows:
            last_sent = await connection.scalar(
                sa.select(sa.func.max(delivery_events.c.at))
                .join(deliveries, deliveries.c.id == delivery_events.c.delivery_id)
                .where(deliveries.c.route == row.route, delivery_events.c.to_state == "sent")
            )
            last_error = (
                await connection.execute(
                    sa.select(delivery_events.c.at, delivery_events.c.detail)
                    .join(deliveries, deliveries.c.id == delivery_events.c.delivery_id)
                    .where(
                        deliveries.c.route == row.route,
                        delivery_events.c.to_state.in_(("retry_wait", "failed")),
                    )
                    .order_by(delivery_events.c.id.desc())
                    .limit(1)
                )
            ).first()
            healthy = last_error is None or (last_sent is not None and last_sent >= last_error.at)
            found.append(
                {
                    "route": row.route,
                    "waiting": int(row.waiting or 0),
                    "failed": int(row.failed or 0),
                    "last_sent": last_sent,
                    "last_error": last_error.detail if last_error else "",
                    "healthy": healthy,
                }
            )
    return found


async def _median_to_arrival(store: Store, user: Account) -> float | None:
    """Median minutes from acceptance to "arrived" (01), over the last 500 deliveries."""
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(messages.c.created_at, sa.func.min(delivery_events.c.at).label("arrived"))
                .join(deliveries, deliveries.c.message_id == messages.c.id)
                .join(delivery_events, delivery_events.c.delivery_id == deliveries.c.id)
                .where(
                    _visible(messages.c.sender, user),
                    delivery_events.c.to_state.in_(("arrived", "accepted", "rejected", "done")),
                )
                .group_by(deliveries.c.id, messages.c.created_at)
                .order_by(messages.c.created_at.desc())
                .limit(500)
            )
        ).all()
    spans = sorted(
        (_aware(row.arrived) - _aware(row.created_at)).total_seconds() / 60 for row in rows
    )
    return spans[len(spans) // 2] if spans else None


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _day(request: web.Request, name: str) -> dt.date | None:
    text = request.query.get(name, "")
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


async def sent(request: web.Request) -> web.StreamResponse:
    store, user = request.app[CONTEXT].store, _user(request)
    q, state, recipient = (request.query.get(k, "").strip() for k in ("q", "state", "recipient"))
    query = (
        sa.select(messages.c.id)
        .where(
            messages.c.direction == "out",
            messages.c.message_type == "edoc",
            _visible(messages.c.sender, user),
        )
        .order_by(messages.c.created_at.desc())
        .limit(50)
    )
    if q:
        pattern = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(sa.or_(messages.c.code.like(pattern), messages.c.subject.like(pattern)))
    if state:
        query = query.where(
            messages.c.id.in_(sa.select(deliveries.c.message_id).where(deliveries.c.state == state))
        )
    if recipient:
        query = query.where(
            messages.c.id.in_(
                sa.select(deliveries.c.message_id).where(deliveries.c.recipient == recipient)
            )
        )
    start, end = _day(request, "from"), _day(request, "to")
    if start is not None:
        query = query.where(messages.c.created_at >= _from_local(f"{start}T00:00"))
    if end is not None:
        query = query.where(
            messages.c.created_at < _from_local(f"{end + dt.timedelta(days=1)}T00:00")
        )
    if request.query.get("urgent"):
        query = query.where(messages.c.priority >= 1)
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    query = query.offset((page - 1) * 50)
    async with store.engine.connect() as connection:
        ids = list((await connection.execute(query)).scalars())
    found = [
        view for view in [await store.message(i, events=False) for i in ids] if view is not None
    ]
    return _render(
        request,
        "sent.html",
        messages=found,
        q=q,
        state=state,
        recipient=recipient,
        start=start or "",
        end=end or "",
        urgent=bool(request.query.get("urgent")),
        page=page,
        more=len(found) == 50,
        all_states=[s.value for s in DeliveryState],
        page_title="sent",
    )


async def received(request: web.Request) -> web.StreamResponse:
    """Inbound documents for the user's agencies: our checks, and what we answered."""
    store, user = request.app[CONTEXT].store, _user(request)
    q, sender = request.query.get("q", "").strip(), request.query.get("sender", "").strip()
    query = (
        sa.select(messages)
        .where(
            messages.c.direction == "in",
            messages.c.message_type == "edoc",
            _visible(messages.c.recipient, user),
        )
        .order_by(messages.c.created_at.desc())
        .limit(50)
    )
    if q:
        pattern = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(sa.or_(messages.c.code.like(pattern), messages.c.subject.like(pattern)))
    if sender:
        query = query.where(messages.c.sender == sender)
    async with store.engine.connect() as connection:
        found = (await connection.execute(query)).all()
        answers: dict[tuple[str, str], list[str]] = {}
        if found:
            answered = await connection.execute(
                sa.select(messages.c.document_id, messages.c.sender, messages.c.status_code).where(
                    messages.c.direction == "out",
                    messages.c.message_type == "status",
                    messages.c.document_id.in_({row.document_id for row in found}),
                )
            )
            for row in answered:
                answers.setdefault((row.document_id, row.sender), []).append(row.status_code)
    rows = []
    for row in found:
        checks = json.loads(row.checks) if row.checks else {}
        rows.append(
            {
                "code": row.code,
                "subject": row.subject,
                "sender": row.sender,
                "recipient": row.recipient,
                "inbound_state": row.inbound_state,
                "reasons": checks.get("reasons") or [],
                "signature": checks.get("signature"),
                "answered": sorted(answers.get((row.document_id, row.recipient or ""), [])),
                "created_at": row.created_at,
            }
        )
    return _render(request, "received.html", rows=rows, q=q, sender=sender, page_title="received")


async def due(request: web.Request) -> web.StreamResponse:
    """Documents that assign tasks (DueDate) not yet done by a recipient (Điều 14.3b)."""
    store, user = request.app[CONTEXT].store, _user(request)
    today = dt.datetime.now(_VIETNAM).date()
    async with store.engine.connect() as connection:
        found = (
            await connection.execute(
                sa.select(
                    messages.c.id.label("message_id"),
                    messages.c.code,
                    messages.c.subject,
                    messages.c.due_date,
                    deliveries.c.recipient,
                    deliveries.c.state,
                )
                .join(deliveries, deliveries.c.message_id == messages.c.id)
                .where(
                    messages.c.direction == "out",
                    messages.c.due_date.is_not(None),
                    deliveries.c.state.not_in(("done", "recalled", "rejected")),
                    _visible(messages.c.sender, user),
                )
                .order_by(messages.c.due_date, messages.c.code)
                .limit(500)
            )
        ).all()
    rows = [
        {
            **row._asdict(),
            "overdue": row.due_date < today,
            "days_late": (today - row.due_date).days,
        }
        for row in found
    ]
    return _render(request, "due.html", rows=rows, page_title="due")


async def _visible_message(request: web.Request) -> MessageView:
    store, user = request.app[CONTEXT].store, _user(request)
    view = await store.message(request.match_info["id"])
    if view is None or view.direction != "out" or not user.sees(view.sender):
        raise web.HTTPNotFound(text="no such document")
    return view


async def document(request: web.Request) -> web.StreamResponse:
    view = await _visible_message(request)
    data = await asyncio.to_thread(request.app[CONTEXT].blobs.get, view.package_ref)
    package = await asyncio.to_thread(edxml.parse, data)
    files = [(a.content_id, a.name) for a in getattr(package, "attachments", ())]
    return _render(request, "document.html", message=view, files=files, page_title=view.code)


async def grid(request: web.Request) -> web.StreamResponse:
    view = await _visible_message(request)
    return _render(request, "grid.html", message=view)


async def package(request: web.Request) -> web.StreamResponse:
    view = await _visible_message(request)
    data = await asyncio.to_thread(request.app[CONTEXT].blobs.get, view.package_ref)
    return web.Response(
        body=data,
        content_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{view.id}.edxml"'},
    )


async def attachment(request: web.Request) -> web.StreamResponse:
    view = await _visible_message(request)
    data = await asyncio.to_thread(request.app[CONTEXT].blobs.get, view.package_ref)
    package = await asyncio.to_thread(edxml.parse, data)
    for item in getattr(package, "attachments", ()):
        if item.content_id == request.match_info["cid"] and item.data is not None:
            return _download(item.data, edxml.safe_filename(item.name), item.media_type)
    raise web.HTTPNotFound(text="no such attachment")


async def recall_document(request: web.Request) -> web.StreamResponse:
    context, user = request.app[CONTEXT], _user(request)
    if not user.may_act:
        raise web.HTTPForbidden(text="a viewer cannot recall")
    view = await _visible_message(request)
    form = await request.post()
    reason = str(form.get("reason", "")).strip()
    if not reason:
        raise web.HTTPBadRequest(text="a recall needs its reason")
    try:
        outbound = Outbound(context.store, context.blobs, context.routing, context.signers)
        await recall(outbound, view.id, reason=reason)
    except AcceptanceError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    await audit(context.store, user.username, "document.recall", view.id, reason)
    raise web.HTTPSeeOther(f"/dashboard/documents/{view.id}")


async def failures(request: web.Request) -> web.StreamResponse:
    store, user = request.app[CONTEXT].store, _user(request)
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(
                    deliveries.c.id.label("delivery_id"),
                    deliveries.c.recipient,
                    deliveries.c.attempts,
                    deliveries.c.last_error,
                    messages.c.id.label("message_id"),
                    messages.c.code,
                )
                .join(messages, messages.c.id == deliveries.c.message_id)
                .where(deliveries.c.state == "failed", _visible(messages.c.sender, user))
                .order_by(deliveries.c.updated_at.desc())
                .limit(200)
            )
        ).all()
    return _render(request, "failures.html", failures=rows, page_title="failures")


async def requeue(request: web.Request) -> web.StreamResponse:
    store, user = request.app[CONTEXT].store, _user(request)
    if not user.may_act:
        raise web.HTTPForbidden(text="a viewer cannot requeue")
    delivery_id = request.match_info["id"]
    async with store.engine.connect() as connection:
        sender = await connection.scalar(
            sa.select(messages.c.sender)
            .join(deliveries, deliveries.c.message_id == messages.c.id)
            .where(deliveries.c.id == delivery_id)
        )
    if sender is None or not user.sees(sender):
        raise web.HTTPNotFound(text="no such delivery")
    requeued = await store.requeue(delivery_id, source=f"operator:{user.username}")
    await audit(
        store,
        user.username,
        "delivery.requeue",
        delivery_id,
        "requeued" if requeued else "not failed",
    )
    raise web.HTTPSeeOther(request.headers.get("Referer") or "/dashboard/failures")


async def requeue_many(request: web.Request) -> web.StreamResponse:
    """Bulk requeue from the failures page (the page asks for confirmation first)."""
    store, user = request.app[CONTEXT].store, _user(request)
    if not user.may_act:
        raise web.HTTPForbidden(text="a viewer cannot requeue")
    form = await request.post()
    wanted = [str(value) for value in form.getall("id", [])]
    async with store.engine.connect() as connection:
        allowed = list(
            (
                await connection.execute(
                    sa.select(deliveries.c.id)
                    .join(messages, messages.c.id == deliveries.c.message_id)
                    .where(deliveries.c.id.in_(wanted), _visible(messages.c.sender, user))
                )
            ).scalars()
        )
    done = [d for d in allowed if await store.requeue(d, source=f"operator:{user.username}")]
    await audit(store, user.username, "delivery.requeue", ",".join(done), f"bulk: {len(done)}")
    raise web.HTTPSeeOther("/dashboard/failures")


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: each state change of a delivery (ids only; pages refetch)."""
    context, user = request.app[CONTEXT], request.get(_USER)
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
    async with context.feed.subscribe() as changes:
        while True:
            try:
                change = await asyncio.wait_for(changes.get(), 15)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            payload = json.dumps({"delivery_id": change.delivery_id, "state": change.to_state})
            with contextlib.suppress(ConnectionResetError):
                await response.write(f"data: {payload}\n\n".encode())
            if request.transport is None or request.transport.is_closing():
                break
    return response


async def reports_page(request: web.Request) -> web.StreamResponse:
    today = dt.datetime.now(_VIETNAM).date()
    start = today.replace(month=1 if today.month <= 6 else 7, day=1)
    return _render(request, "reports.html", start=start, end=today, page_title="reports")


async def reports_download(request: web.Request) -> web.StreamResponse:
    store, user = request.app[CONTEXT].store, _user(request)
    try:
        start = dt.date.fromisoformat(request.query.get("from", ""))
        end = dt.date.fromisoformat(request.query.get("to", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="from and to are dates (YYYY-MM-DD)") from None
    agency, kind = request.query.get("agency", ""), request.query.get("format", "xlsx")
    if agency not in user.agencies or end < start:
        raise web.HTTPBadRequest(
            text="choose one of your agencies and a period that ends after it starts"
        )
    await audit(store, user.username, "report", kind, f"{start} to {end}, {agency}")
    name = f"bao-cao-{start}-{end}"
    if kind == "register-out":
        return _download(
            await outgoing_register(store, start, end, agency), f"so-van-ban-di-{start}-{end}.xlsx"
        )
    if kind == "register-in":
        return _download(
            await incoming_register(store, start, end, agency), f"so-van-ban-den-{start}-{end}.xlsx"
        )
    found = await period_report(store, start, end, agency)
    if kind == "csv":
        return _download(found.csv().encode("utf-8-sig"), f"{name}.csv", "text/csv")
    if kind == "html":
        return web.Response(text=found.html(), content_type="text/html")
    return _download(found.xlsx(), f"{name}.xlsx")


def _download(data: bytes, filename: str, content_type: str = _XLSX) -> web.Response:
    return web.Response(
        body=data,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _admin(request: web.Request) -> Account:
    user = _user(request)
    if user.role != "admin":
        raise web.HTTPForbidden(text="administrators only")
    return user


async def users_page(request: web.Request, *, message: str = "", error: str = "") -> web.Response:
    _admin(request)
    async with request.app[CONTEXT].store.engine.connect() as connection:
        rows = (await connection.execute(sa.select(users).order_by(users.c.username))).all()
    listed = [{**row._asdict(), "agencies": json.loads(row.agencies)} for row in rows]
    status = 400 if error else 200
    return _render(
        request,
        "users.html",
        status=status,
        users=listed,
        message=message,
        error=error,
        page_title="users",
    )


async def add_user(request: web.Request) -> web.StreamResponse:
    store, admin = request.app[CONTEXT].store, _admin(request)
    form = await request.post()
    full_name, unit = str(form.get("full_name", "")), str(form.get("unit", ""))
    agencies = [a.strip() for a in str(form.get("agencies", "")).split(",") if a.strip()]
    try:
        proposed = propose_username(full_name, unit)
        username, clashed = await available_username(store, proposed)
        await create_user(
            store,
            username=username,
            full_name=full_name,
            unit=unit,
            role=str(form.get("role", "viewer")),  # type: ignore[arg-type]
            agencies=agencies,
            password=str(form.get("password", "")),
            by=admin.username,
        )
    except AccountError as exc:
        return await users_page(request, error=str(exc))
    note = f" ({proposed} đã có: Điều 7.2b)" if clashed else ""
    return await users_page(request, message=f"{username}{note}")


async def set_lock(request: web.Request) -> web.StreamResponse:
    store, admin = request.app[CONTEXT].store, _admin(request)
    username, action = request.match_info["username"], request.match_info["action"]
    if username == admin.username:
        return await users_page(request, error="an administrator cannot lock their own account")
    await lock_user(store, username, locked=action == "lock", by=admin.username)
    raise web.HTTPSeeOther("/dashboard/users")


async def audit_page(request: web.Request) -> web.StreamResponse:
    _admin(request)
    async with request.app[CONTEXT].store.engine.connect() as connection:
        entries = (
            await connection.execute(
                sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(500)
            )
        ).all()
    return _render(request, "audit.html", entries=entries, page_title="audit")


async def audit_csv(request: web.Request) -> web.StreamResponse:
    admin = _admin(request)
    store = request.app[CONTEXT].store
    async with store.engine.connect() as connection:
        entries = (await connection.execute(sa.select(audit_log).order_by(audit_log.c.id))).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("at", "username", "action", "target", "detail"))
    for entry in entries:
        writer.writerow(
            (_local(entry.at), entry.username, entry.action, entry.target, entry.detail)
        )
    await audit(store, admin.username, "audit.export")
    return _download(out.getvalue().encode("utf-8-sig"), "nhat-ky-thao-tac.csv", "text/csv")


async def _active_notice(request: web.Request) -> str | None:
    """The notice in force now (announced by an admin), else the settings' one."""
    context = request.app[CONTEXT]
    now = utc_now()
    async with context.store.engine.connect() as connection:
        text = await connection.scalar(
            sa.select(notices.c.text)
            .where(notices.c.starts_at <= now, notices.c.ends_at > now)
            .order_by(notices.c.id.desc())
            .limit(1)
        )
    return str(text) if text else context.notice


async def admin_page(request: web.Request, *, message: str = "", error: str = "") -> web.Response:
    _admin(request)
    context = request.app[CONTEXT]
    async with context.store.engine.connect() as connection:
        listed = (
            await connection.execute(
                sa.select(notices).order_by(notices.c.starts_at.desc()).limit(20)
            )
        ).all()
        client_rows = (
            await connection.execute(sa.select(api_clients).order_by(api_clients.c.created_at))
        ).all()
    clients = [{**row._asdict(), "agencies": json.loads(row.agencies)} for row in client_rows]
    return _render(
        request,
        "admin.html",
        status=400 if error else 200,
        notices=listed,
        clients=clients,
        routes=context.routes,
        message=message,
        error=error,
        page_title="admin",
    )


async def add_notice(request: web.Request) -> web.StreamResponse:
    admin, store = _admin(request), request.app[CONTEXT].store
    form = await request.post()
    text = str(form.get("text", "")).strip()
    try:
        # entered in Vietnam time, stored in UTC like every time of the store
        starts = _from_local(str(form.get("starts_at", "")))
        ends = _from_local(str(form.get("ends_at", "")))
    except ValueError:
        return await admin_page(request, error="from and to are date-times")
    if not text or ends <= starts:
        return await admin_page(
            request, error="a notice needs a text and a period that ends after it starts"
        )
    async with store.engine.begin() as connection:
        await connection.execute(
            notices.insert().values(
                text=text,
                starts_at=starts,
                ends_at=ends,
                created_by=admin.username,
                created_at=utc_now(),
            )
        )
    await audit(store, admin.username, "notice.add", text, f"{starts} to {ends}")
    raise web.HTTPSeeOther("/dashboard/admin")


def _from_local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=_VIETNAM).astimezone(dt.UTC)


async def add_client(request: web.Request) -> web.StreamResponse:
    admin, store = _admin(request), request.app[CONTEXT].store
    form = await request.post()
    name = str(form.get("name", "")).strip()
    agencies = [a.strip() for a in str(form.get("agencies", "")).split(",") if a.strip()]
    if not name or not agencies:
        return await admin_page(request, error="a client needs a name and its agencies")
    client, key = await create_client(store, name, agencies)
    await audit(store, admin.username, "client.add", client.id, f"{name}: {', '.join(agencies)}")
    return await admin_page(request, message=f"{client.id}: {key}")


async def revoke_api_client(request: web.Request) -> web.StreamResponse:
    admin, store = _admin(request), request.app[CONTEXT].store
    client_id = request.match_info["id"]
    if await revoke_client(store, client_id):
        await audit(store, admin.username, "client.revoke", client_id)
    raise web.HTTPSeeOther("/dashboard/admin")


def build_dashboard(context: DashboardContext) -> web.Application:
    """The ``/dashboard`` sub-application."""
    app = web.Application(middlewares=[_session])
    app[CONTEXT] = context
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", overview)
    app.router.add_get("/sent", sent)
    app.router.add_get("/received", received)
    app.router.add_get("/due", due)
    app.router.add_get("/documents/{id}", document)
    app.router.add_get("/documents/{id}/grid", grid)
    app.router.add_get("/documents/{id}/package", package)
    app.router.add_get("/documents/{id}/attachments/{cid}", attachment)
    app.router.add_post("/documents/{id}/recall", recall_document)
    app.router.add_get("/failures", failures)
    app.router.add_post("/deliveries/requeue", requeue_many)
    app.router.add_post("/deliveries/{id}/requeue", requeue)
    app.router.add_get("/events", events)
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/download", reports_download)
    app.router.add_get("/users", users_page)
    app.router.add_post("/users", add_user)
    app.router.add_post("/users/{username}/{action:lock|unlock}", set_lock)
    app.router.add_get("/audit", audit_page)
    app.router.add_get("/admin", admin_page)
    app.router.add_post("/admin/notices", add_notice)
    app.router.add_post("/admin/clients", add_client)
    app.router.add_post("/admin/clients/{id}/revoke", revoke_api_client)
    app.router.add_get("/audit.csv", audit_csv)
    return app
