"""The operators' dashboard under ``/dashboard``: server-rendered pages, a little JavaScript.

The pages live by job: ``session`` (login and the guard of every page), ``lists`` (overview,
sent, received, due, failures), ``documents`` (one document and what a clerk does to it),
``admin`` (reports, users, audit trail, notices, API clients); ``pages`` is what they share.
"""

from __future__ import annotations

from aiohttp import web

from gateway.http.dashboard.admin import (
    add_client,
    add_notice,
    add_user,
    admin_page,
    audit_csv,
    audit_page,
    name_agency,
    reports_download,
    reports_page,
    revoke_api_client,
    set_lock,
    users_page,
)
from gateway.http.dashboard.documents import (
    attachment,
    document,
    events,
    grid,
    package,
    recall_document,
    requeue,
    requeue_many,
    requeue_since_form,
)
from gateway.http.dashboard.errors import error_pages
from gateway.http.dashboard.lists import (
    due,
    failures,
    overview,
    probe_destination,
    received,
    sent,
)
from gateway.http.dashboard.pages import CONTEXT, DashboardContext
from gateway.http.dashboard.passwords import password_page, post_password, post_reset_password
from gateway.http.dashboard.received import (
    act_on_received,
    received_attachment,
    received_document,
)
from gateway.http.dashboard.session import login, login_page, logout, session_middleware

__all__ = ["DashboardContext", "build_dashboard"]


def build_dashboard(context: DashboardContext) -> web.Application:
    """The ``/dashboard`` sub-application."""
    app = web.Application(middlewares=[error_pages, session_middleware])
    app[CONTEXT] = context
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", overview)
    app.router.add_get("/sent", sent)
    app.router.add_get("/received", received)
    app.router.add_get("/received/{id}", received_document)
    app.router.add_get("/received/{id}/attachments/{cid}", received_attachment)
    app.router.add_post("/received/{id}/act", act_on_received)
    app.router.add_get("/due", due)
    app.router.add_get("/documents/{id}", document)
    app.router.add_get("/documents/{id}/grid", grid)
    app.router.add_get("/documents/{id}/package", package)
    app.router.add_get("/documents/{id}/attachments/{cid}", attachment)
    app.router.add_post("/documents/{id}/recall", recall_document)
    app.router.add_get("/failures", failures)
    app.router.add_post("/deliveries/requeue", requeue_many)
    app.router.add_post("/deliveries/requeue-since", requeue_since_form)
    app.router.add_post("/deliveries/{id}/requeue", requeue)
    app.router.add_get("/events", events)
    app.router.add_post("/destinations/{route}/probe", probe_destination)
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/download", reports_download)
    app.router.add_get("/users", users_page)
    app.router.add_post("/users", add_user)
    app.router.add_post("/users/{username}/{action:lock|unlock}", set_lock)
    app.router.add_post("/users/{username}/password", post_reset_password)
    app.router.add_get("/password", password_page)
    app.router.add_post("/password", post_password)
    app.router.add_get("/audit", audit_page)
    app.router.add_get("/admin", admin_page)
    app.router.add_post("/admin/notices", add_notice)
    app.router.add_post("/admin/clients", add_client)
    app.router.add_post("/admin/agencies", name_agency)
    app.router.add_post("/admin/clients/{id}/revoke", revoke_api_client)
    app.router.add_get("/audit.csv", audit_csv)
    return app
