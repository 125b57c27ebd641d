"""The lists a clerk works from: the overview, documents sent and received, what is due,
what failed — each limited to the user's agencies.
"""

from __future__ import annotations

import datetime as dt
import json

from aiohttp import web

from adapters.store.dashboard import SentSearch
from adapters.store.store import utc_now
from edxml import VIETNAM
from gateway.config_sections import BackupSettings
from gateway.delivery.states import DeliveryState
from gateway.http.dashboard.pages import (
    CONTEXT,
    current_user,
    from_local,
    query_day,
    render,
)
from gateway.operate.backup_checks import backup_problem_of, read_status

__all__ = ["due", "failures", "overview", "probe_destination", "received", "sent"]


async def overview(request: web.Request) -> web.StreamResponse:
    store, user = request.app[CONTEXT].store, current_user(request)
    today = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
    states, sent_today, received_today = await store.overview(user.agencies, today)
    return render(
        request,
        "overview.html",
        states=states,
        sent_today=sent_today,
        received_today=received_today,
        destinations=await store.destinations(user.agencies),
        circuits=await store.circuits(),
        probed=request.query.get("probed"),
        median_to_arrival=await store.median_minutes_to_arrival(user.agencies),
        backup=_backup_line(request.app[CONTEXT].backup),
        page_title="overview",
    )


def _backup_line(backup: BackupSettings | None) -> dict[str, object] | None:
    """The last verified backup and what is wrong, for the overview (Điều 18.2)."""
    if backup is None:
        return None
    status = read_status(backup.folder)
    problem = backup_problem_of(status, utc_now())
    return {"at": status.last_good_at, "problem": problem, "restore": status.restore_test}


async def probe_destination(request: web.Request) -> web.StreamResponse:
    """An operator asks a destination now whether it answers (an answer closes its circuit
    and makes its waiting deliveries due at once)."""
    context, user = request.app[CONTEXT], current_user(request)
    if not user.may_act:
        raise web.HTTPForbidden(text="a viewer cannot probe")
    if context.probe is None:
        raise web.HTTPConflict(text="no dispatcher runs in this process")
    route = request.match_info["route"]
    answered, said = await context.probe(route)
    await context.store.audit(user.username, "destination.probe", route, said)
    outcome = {True: "ok", False: "failed", None: "unknown"}[answered]
    raise web.HTTPSeeOther(f"/dashboard/?probed={outcome}#destinations")


async def sent(request: web.Request) -> web.StreamResponse:
    store, user = request.app[CONTEXT].store, current_user(request)
    q, state, recipient = (request.query.get(k, "").strip() for k in ("q", "state", "recipient"))
    start, end = query_day(request, "from"), query_day(request, "to")
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    search = SentSearch(
        text=q,
        state=state,
        recipient=recipient,
        since=None if start is None else from_local(f"{start}T00:00"),
        until=None if end is None else from_local(f"{end + dt.timedelta(days=1)}T00:00"),
        urgent=bool(request.query.get("urgent")),
        page=page,
        named=await store.codes_named(q) if q else (),
        recipients_named=await store.codes_named(recipient) if recipient else (),
    )
    ids = await store.sent_ids(user.agencies, search)
    found = [
        view for view in [await store.message(i, events=False) for i in ids] if view is not None
    ]
    return render(
        request,
        "sent.html",
        messages=found,
        q=q,
        state=state,
        recipient=recipient,
        start=start or "",
        end=end or "",
        urgent=search.urgent,
        page=page,
        more=len(found) == 50,
        all_states=[s.value for s in DeliveryState],
        page_title="sent",
    )


async def received(request: web.Request) -> web.StreamResponse:
    """Inbound documents for the user's agencies: our checks, and what we answered."""
    store, user = request.app[CONTEXT].store, current_user(request)
    q, sender = request.query.get("q", "").strip(), request.query.get("sender", "").strip()
    found, answers = await store.received(
        user.agencies,
        text=q,
        sender=sender,
        named=await store.codes_named(q) if q else (),
        senders_named=await store.codes_named(sender) if sender else (),
    )
    rows = []
    for row in found:
        checks = json.loads(row["checks"]) if row["checks"] else {}
        rows.append(
            {
                "id": row["id"],
                "priority": row["priority"],
                "due_date": row["due_date"],
                "document_type": row["document_type"],
                "incoming_number": row["incoming_number"],
                "code": row["code"],
                "subject": row["subject"],
                "sender": row["sender"],
                "recipient": row["recipient"],
                "inbound_state": row["inbound_state"],
                "reasons": checks.get("reasons") or [],
                "signature": checks.get("signature"),
                "answered": sorted(answers.get((row["document_id"], row["recipient"] or ""), [])),
                "created_at": row["created_at"],
            }
        )
    return render(request, "received.html", rows=rows, q=q, sender=sender, page_title="received")


async def due(request: web.Request) -> web.StreamResponse:
    """Documents that assign tasks (DueDate) not yet done by a recipient (Điều 14.3b)."""
    store, user = request.app[CONTEXT].store, current_user(request)
    today = dt.datetime.now(VIETNAM).date()
    rows = [
        {**row, "overdue": row["due_date"] < today, "days_late": (today - row["due_date"]).days}
        for row in await store.due(user.agencies)
    ]
    owed = [
        {**row, "overdue": row["deadline"] < today, "days_late": (today - row["deadline"]).days}
        for row in await store.due_received(user.agencies)
    ]
    return render(request, "due.html", rows=rows, owed=owed, page_title="due")


async def failures(request: web.Request) -> web.StreamResponse:
    store, user = request.app[CONTEXT].store, current_user(request)
    rows = await store.failures(user.agencies)
    requeued = request.query.get("requeued", "")
    return render(
        request,
        "failures.html",
        failures=rows,
        routes=sorted({route for _, route in request.app[CONTEXT].routes} | {"axis"}),
        requeued=int(requeued) if requeued.isdigit() else None,
        page_title="failures",
    )
