"""What every dashboard page shares: its context, the templates and words, rendering with
the security headers, who is logged in, times shown in Vietnam time, downloads.

Vietnamese first (``?lang=en`` switches, remembered in a cookie).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

import edxml
from adapters.blobs import BlobStore
from adapters.redis.feed import LocalFeed, RedisFeed
from adapters.store.store import MessageView, Store
from edxml import VIETNAM
from gateway.config_sections import BackupSettings
from gateway.delivery.routing import RoutingTable
from gateway.http.dashboard.accounts import (
    Account,
)
from gateway.http.dashboard.throttle import LoginThrottle
from gateway.http.dashboard.timeline import event_detail
from gateway.operate.alerts import AlertChange
from gateway.outbound.door import Outbound
from gateway.signing import Signers

__all__ = [
    "ALERTS",
    "CONTEXT",
    "NAMES",
    "NOTICE",
    "USER",
    "XLSX",
    "DashboardContext",
    "Handler",
    "MissingText",
    "admin_user",
    "agency_label",
    "current_user",
    "download",
    "from_local",
    "local_time",
    "package_file",
    "query_day",
    "render",
    "visible_message",
    "word",
    "words",
]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=jinja2.select_autoescape(["html"]),
)


def local_time(moment: dt.datetime | None, layout: str = "%d/%m/%Y %H:%M:%S") -> str:
    """Times are stored in UTC and shown in Vietnam time."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(VIETNAM).strftime(layout)


def day(value: dt.date | None) -> str:
    """A date as Vietnamese write it: dd/mm/yyyy."""
    return value.strftime("%d/%m/%Y") if value else ""


_TEMPLATES.filters["local"] = local_time
_TEMPLATES.filters["day"] = day
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
    #: Tells the outbox relay / workers that what the dashboard sent is waiting
    wake: asyncio.Event | None = None
    #: Failed logins by account and address (this process's)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    #: The daily backups' settings (the overview shows the last verified one)
    backup: BackupSettings | None = None
    #: Probe a destination now (the dispatcher's): (answered, what it said)
    probe: Callable[[str], Awaitable[tuple[bool | None, str]]] | None = None

    def outbound(self) -> Outbound:
        """The one outbound door, for what a clerk sends (recalls, statuses)."""
        return Outbound(self.store, self.blobs, self.routing, self.signers, wake=self.wake)


CONTEXT: web.AppKey[DashboardContext] = web.AppKey("dashboard", DashboardContext)
NOTICE: web.RequestKey[str] = web.RequestKey("notice", str)
ALERTS: web.RequestKey[list[AlertChange]] = web.RequestKey("alerts", list)
#: The agencies' names (code -> name) for this request's pages
NAMES: web.RequestKey[dict[str, str]] = web.RequestKey("names", dict)
USER: web.RequestKey[Account | None] = web.RequestKey("user", object)  # type: ignore[arg-type]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _lang(request: web.Request) -> str:
    wanted = request.query.get("lang") or request.cookies.get("lang") or "vi"
    return wanted if wanted in _TEXT else "vi"


def agency_label(names: dict[str, str], code: str | None) -> Markup:
    """An agency as people know it: its name, with the code beside it (the code alone when
    the directory does not name it)."""
    if not code:
        return Markup("")
    name = names.get(code)
    if name is None:
        return Markup('<span class="code">{}</span>').format(code)
    return Markup('{} <span class="code">{}</span>').format(name, code)


def source_label(text: dict[str, str], source: str) -> str:
    """Who moved a delivery, in the user's words: ``operator:binhtt.vp`` -> "Văn thư
    binhtt.vp", ``status:03`` -> "Nơi nhận báo trạng thái 03"; an unknown source as it is."""
    kind, _, who = source.partition(":")
    words = text.get(f"src_{source}") or text.get(f"src_{kind}")
    if words is None:
        return source
    return f"{words} {who}".strip() if who and f"src_{source}" not in text else words


class MissingText(UserWarning):
    """A page asked for words the catalogue (texts.json) does not have in its language."""


def words(lang: str) -> Callable[[str], str]:
    """The catalogue's words of ``lang``; a key it lacks is shown as it is, with a warning
    (the tests turn it into a failure: every visible text comes from the catalogue)."""
    text = _TEXT[lang]

    def t(key: str) -> str:
        found = text.get(key)
        if found is None:
            warnings.warn(f"no {lang} text for {key!r}", MissingText, stacklevel=2)
            return key
        return found

    return t


def word(text: dict[str, str], prefix: str, value: str | None) -> str:
    """The words for a value of an open family (an audit action, a destination's name): the
    catalogue's when it has them, else the value itself (a destination named in the settings
    is its own name)."""
    return text.get(f"{prefix}{value}", value or "")


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    lang = _lang(request)
    text = _TEXT[lang]
    names = request.get(NAMES, {})
    html = _TEMPLATES.get_template(template).render(
        lang=lang,
        t=words(lang),
        word=lambda prefix, value: word(text, prefix, value),
        agency=lambda code: agency_label(names, code),
        source=lambda value: source_label(text, value),
        event_words=lambda value: event_detail(value, words(lang)),
        agency_names=names,
        user=request.get(USER),
        status_meaning=lambda code: _MEANING.get(code, ""),
        page_title=values.pop("page_title", ""),
        banner=request.get(NOTICE),
        alerts=request.get(ALERTS, []),
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


def current_user(request: web.Request) -> Account:
    user = request.get(USER)
    assert isinstance(user, Account)  # the session middleware let the request through
    return user


def admin_user(request: web.Request) -> Account:
    user = current_user(request)
    if user.role != "admin":
        raise web.HTTPForbidden(text="administrators only")
    return user


def download(data: bytes, filename: str, content_type: str = XLSX) -> web.Response:
    return web.Response(
        body=data,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def package_file(request: web.Request, package_ref: str) -> web.Response:
    """The attached file ``{cid}`` of the package ``package_ref``: downloaded, or shown in
    the browser (``?inline=1``, a PDF); its name made safe, its type never sniffed."""
    data = await request.app[CONTEXT].blobs.read(package_ref)
    package = await asyncio.to_thread(edxml.parse, data)
    for item in getattr(package, "attachments", ()):
        if item.content_id == request.match_info["cid"] and item.data is not None:
            safe = edxml.safe_filename(item.name)
            response = download(item.data, safe, item.media_type)
            if request.query.get("inline") and item.media_type == "application/pdf":
                response.headers["Content-Disposition"] = f'inline; filename="{safe}"'
            response.headers["X-Content-Type-Options"] = "nosniff"
            return response
    raise web.HTTPNotFound(text="no such attachment")


def query_day(request: web.Request, name: str) -> dt.date | None:
    text = request.query.get(name, "")
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def from_local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=VIETNAM).astimezone(dt.UTC)


async def visible_message(request: web.Request) -> MessageView:
    store, user = request.app[CONTEXT].store, current_user(request)
    view = await store.message(request.match_info["id"])
    if view is None or view.direction != "out" or not user.sees(view.sender):
        raise web.HTTPNotFound(text="no such document")
    return view
