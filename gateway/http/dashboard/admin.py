"""Reports and registers, and what an administrator manages: users, the audit trail,
notices and API clients.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from aiohttp import web

from edxml import VIETNAM
from gateway.http.api.clients import create_client, revoke_client
from gateway.http.dashboard.accounts import (
    AccountError,
    available_username,
    create_user,
    lock_user,
    propose_username,
)
from gateway.http.dashboard.pages import (
    CONTEXT,
    admin_user,
    current_user,
    download,
    from_local,
    local_time,
    render,
)
from gateway.operate.reports import KINDS, report_file

__all__ = [
    "add_client",
    "add_notice",
    "add_user",
    "admin_page",
    "audit_csv",
    "audit_page",
    "name_agency",
    "reports_download",
    "reports_page",
    "revoke_api_client",
    "set_lock",
    "users_page",
]


async def reports_page(request: web.Request) -> web.StreamResponse:
    today = dt.datetime.now(VIETNAM).date()
    start = today.replace(month=1 if today.month <= 6 else 7, day=1)
    return render(request, "reports.html", start=start, end=today, page_title="reports")


async def reports_download(request: web.Request) -> web.StreamResponse:
    store, user = request.app[CONTEXT].store, current_user(request)
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
    if kind not in KINDS:
        raise web.HTTPBadRequest(text=f"format is one of {', '.join(KINDS)}")
    await store.audit(user.username, "report", kind, f"{start} to {end}, {agency}")
    made = await report_file(store, kind, start, end, agency)
    if made.content_type.startswith("text/html"):
        return web.Response(body=made.data, content_type="text/html", charset="utf-8")
    return download(made.data, made.filename, made.content_type)


async def users_page(request: web.Request, *, message: str = "", error: str = "") -> web.Response:
    admin_user(request)
    listed = await request.app[CONTEXT].store.users()
    status = 400 if error else 200
    return render(
        request,
        "users.html",
        status=status,
        users=listed,
        message=message,
        error=error,
        page_title="users",
    )


async def add_user(request: web.Request) -> web.StreamResponse:
    store, admin = request.app[CONTEXT].store, admin_user(request)
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
    store, admin = request.app[CONTEXT].store, admin_user(request)
    username, action = request.match_info["username"], request.match_info["action"]
    if username == admin.username:
        return await users_page(request, error="an administrator cannot lock their own account")
    await lock_user(store, username, locked=action == "lock", by=admin.username)
    raise web.HTTPSeeOther("/dashboard/users")


async def audit_page(request: web.Request) -> web.StreamResponse:
    admin_user(request)
    entries = await request.app[CONTEXT].store.audit_entries(newest=500)
    return render(request, "audit.html", entries=entries, page_title="audit")


async def audit_csv(request: web.Request) -> web.StreamResponse:
    admin = admin_user(request)
    store = request.app[CONTEXT].store
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("at", "username", "action", "target", "detail"))
    for entry in await store.audit_entries():
        writer.writerow(
            (
                local_time(entry["at"], "%Y-%m-%d %H:%M:%S"),  # sortable, for a spreadsheet
                entry["username"],
                entry["action"],
                entry["target"],
                entry["detail"],
            )
        )
    await store.audit(admin.username, "audit.export")
    return download(out.getvalue().encode("utf-8-sig"), "nhat-ky-thao-tac.csv", "text/csv")


async def admin_page(request: web.Request, *, message: str = "", error: str = "") -> web.Response:
    admin_user(request)
    context = request.app[CONTEXT]
    return render(
        request,
        "admin.html",
        status=400 if error else 200,
        notices=await context.store.notices(),
        clients=await context.store.clients(),
        routes=context.routes,
        directory=await context.store.directory_entries(),
        message=message,
        error=error,
        page_title="admin",
    )


async def name_agency(request: web.Request) -> web.StreamResponse:
    """Give an agency the name shown here (an empty name: back to the directory's)."""
    admin, store = admin_user(request), request.app[CONTEXT].store
    form = await request.post()
    code, name = str(form.get("code", "")).strip(), str(form.get("name", "")).strip()
    if not code:
        raise web.HTTPBadRequest(text="the agency's code is needed")
    await store.name_agency(code, name or None)
    await store.audit(admin.username, "agency.name", code, name or "cleared")
    raise web.HTTPSeeOther("/dashboard/admin#agencies")


async def add_notice(request: web.Request) -> web.StreamResponse:
    admin, store = admin_user(request), request.app[CONTEXT].store
    form = await request.post()
    text = str(form.get("text", "")).strip()
    try:
        # entered in Vietnam time, stored in UTC like every time of the store
        starts = from_local(str(form.get("starts_at", "")))
        ends = from_local(str(form.get("ends_at", "")))
    except ValueError:
        return await admin_page(request, error="from and to are date-times")
    if not text or ends <= starts:
        return await admin_page(
            request, error="a notice needs a text and a period that ends after it starts"
        )
    await store.add_notice(text, starts, ends, admin.username)
    await store.audit(admin.username, "notice.add", text, f"{starts} to {ends}")
    raise web.HTTPSeeOther("/dashboard/admin")


async def add_client(request: web.Request) -> web.StreamResponse:
    admin, store = admin_user(request), request.app[CONTEXT].store
    form = await request.post()
    name = str(form.get("name", "")).strip()
    agencies = [a.strip() for a in str(form.get("agencies", "")).split(",") if a.strip()]
    if not name or not agencies:
        return await admin_page(request, error="a client needs a name and its agencies")
    client, key = await create_client(store, name, agencies)
    await store.audit(admin.username, "client.add", client.id, f"{name}: {', '.join(agencies)}")
    return await admin_page(request, message=f"{client.id}: {key}")


async def revoke_api_client(request: web.Request) -> web.StreamResponse:
    admin, store = admin_user(request), request.app[CONTEXT].store
    client_id = request.match_info["id"]
    if await revoke_client(store, client_id):
        await store.audit(admin.username, "client.revoke", client_id)
    raise web.HTTPSeeOther("/dashboard/admin")
