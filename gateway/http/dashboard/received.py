"""One received document: its page (what it is, who sent it, how urgent, by when, what our
checks found, its files to read or download) and what a clerk does with it.

The actions follow the incoming-document procedure (Nghị định 30/2020 Điều 20–24;
Quyết định 28/2018 Điều 9): register it (vào sổ: the next incoming number, status 03),
refuse it with a reason (02), assign it to someone by a date (04), report it in hand (05)
or done (06), and agree to or refuse a recall or change request (15/16). Each sends its
status through the one outbound door (signed, and refused if it would go backwards), is
written to the audit trail, and the sender sees it as its delivery's next state.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NoReturn

from aiohttp import web

import edxml
from adapters.store.store import Store
from edxml import VIETNAM
from gateway.delivery.states import reported_status_may_follow
from gateway.http.dashboard.pages import (
    CONTEXT,
    current_user,
    package_file,
    render,
)
from gateway.inbound.answers import report_status
from gateway.outbound.accept import AcceptanceError

__all__ = ["act_on_received", "received_attachment", "received_document"]

#: The change requests a clerk answers with 15 or 16 (a recall, an update, a replacement)
_CHANGE_TYPES = frozenset({1, 2, 3})


@dataclass(frozen=True, slots=True)
class _Action:
    code: str
    needs: str | None = None  # the form field the action cannot go without


_ERRORS = frozenset({"missing_reason", "missing_assignee", "out_of_order", "bad_date"})
_ACTIONS = {
    "register": _Action("03"),
    "refuse": _Action("02", needs="reason"),
    "assign": _Action("04", needs="assignee"),
    "processing": _Action("05"),
    "done": _Action("06"),
    "agree": _Action("15"),
    "decline": _Action("16", needs="reason"),
}


async def _visible_received(request: web.Request) -> dict[str, Any]:
    store, user = request.app[CONTEXT].store, current_user(request)
    row = await store.inbound_message(request.match_info["id"])
    if row is None or row["message_type"] != "edoc" or not user.sees(row["recipient"] or ""):
        raise web.HTTPNotFound(text="no such document")
    return row


async def _package(request: web.Request, row: dict[str, Any]) -> edxml.DocumentPackage:
    data = await request.app[CONTEXT].blobs.read(row["package_ref"])
    package = await asyncio.to_thread(edxml.parse, data)
    assert isinstance(package, edxml.DocumentPackage)
    return package


def _change_request(row: dict[str, Any], checks: dict[str, Any]) -> str | None:
    """What the sender asks of this document: a recall (13), or the update, replacement or
    recall its business type says; None when it asks nothing."""
    if "recall" in checks:
        return "recall"
    return {1: "revoke", 2: "update", 3: "replace"}.get(int(row["business_type"] or 0))


async def received_document(request: web.Request) -> web.StreamResponse:
    store = request.app[CONTEXT].store
    row = await _visible_received(request)
    package = await _package(request, row)
    checks = json.loads(row["checks"]) if row["checks"] else {}
    answers = await store.answers_to(row["document_id"], row["recipient"] or "")
    answered = {answer["status_code"] for answer in answers}
    change = _change_request(row, checks)
    files = [
        {"cid": a.content_id, "name": a.name, "pdf": a.media_type == "application/pdf"}
        for a in package.attachments
        if a.data is not None
    ]
    return render(
        request,
        "received_document.html",
        row=row,
        package=package,
        checks=checks,
        answers=answers,
        change=change,
        change_answered=bool(answered & {"15", "16"}),
        may_report=lambda code: reported_status_may_follow(row["reported_status"], code),
        files=files,
        today=dt.datetime.now(VIETNAM).date(),
        signature_verdict=signature_verdict,
        error=_known(request.query.get("error"), _ERRORS),
        done=_known(request.query.get("done"), {a.code for a in _ACTIONS.values()}),
        page_title=row["code"],
    )


def _known(value: str | None, allowed: Collection[str]) -> str | None:
    return value if value in allowed else None


def signature_verdict(checks: dict[str, Any]) -> list[str]:
    """What the package signature check found, as the words' keys a clerk reads (the
    technical findings are shown apart)."""
    signature = checks.get("signature")
    if not signature:
        return []
    if not signature.get("present"):
        return ["sig_bad_absent"]
    if not signature.get("valid"):
        return ["sig_bad_altered"]
    verdict = ["sig_ok" if signature.get("accepted") else "sig_bad_untrusted"]
    if signature.get("signer_bound") is False:
        verdict.append("sig_bad_not_sender")
    if signature.get("hub_trace_removed"):
        verdict.append("sig_relayed")
    return verdict


async def received_attachment(request: web.Request) -> web.StreamResponse:
    """A file of the document: shown in the browser (``?inline=1``, a PDF) or downloaded."""
    row = await _visible_received(request)
    return await package_file(request, row["package_ref"])


async def act_on_received(request: web.Request) -> web.StreamResponse:
    context, user = request.app[CONTEXT], current_user(request)
    if not user.may_act:
        raise web.HTTPForbidden(text="a viewer cannot act on a document")
    row = await _visible_received(request)
    form = await request.post()
    action = _ACTIONS.get(str(form.get("action", "")))
    if action is None:
        raise web.HTTPBadRequest(text="unknown action")
    fields = {name: str(form.get(name, "")).strip() for name in ("reason", "assignee", "due")}
    if action.needs and not fields[action.needs]:
        _refused(request, f"missing_{action.needs}")
    if not reported_status_may_follow(row["reported_status"], action.code):
        _refused(request, "out_of_order")
    try:
        description, staff = await _prepare(context.store, row, action.code, fields)
    except ValueError:
        _refused(request, "bad_date")
    try:
        await report_status(
            context.outbound(),
            context.blobs,
            row,
            action.code,
            description=description,
            staff=staff,
        )
    except AcceptanceError as exc:
        await context.store.audit(user.username, "received.refused", row["id"], str(exc))
        raise web.HTTPConflict(text=str(exc)) from None
    await context.store.audit(
        user.username, f"received.{action.code}", row["id"], description or None
    )
    raise web.HTTPSeeOther(f"/dashboard/received/{row['id']}?done={action.code}")


async def _prepare(
    store: Store, row: dict[str, Any], code: str, fields: dict[str, str]
) -> tuple[str | None, edxml.StaffInfo | None]:
    """What the status says, and the register or assignment it records first."""
    if code == "03":
        year = dt.datetime.now(VIETNAM).year
        number = await store.register_incoming(row["id"], year)
        return f"Đã vào sổ văn bản đến, số đến {number}/{year}", None
    if code == "04":
        due = dt.date.fromisoformat(fields["due"]) if fields["due"] else None
        await store.assign_received(row["id"], fields["assignee"], due)
        deadline = f", hạn xử lý {due:%d/%m/%Y}" if due else ""
        return f"Giao {fields['assignee']} xử lý{deadline}", edxml.StaffInfo(
            staff=fields["assignee"]
        )
    default = {"05": "Đang xử lý", "06": "Đã xử lý xong", "15": "Đồng ý"}.get(code)
    return fields["reason"] or default, None


def _refused(request: web.Request, reason: str) -> NoReturn:
    """Back to the page with what is wrong, nothing sent."""
    raise web.HTTPSeeOther(f"/dashboard/received/{request.match_info['id']}?error={reason}")
