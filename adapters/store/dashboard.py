"""What the dashboard reads: counts, lists and searches, each limited to the agencies a user
may see (OrganId patterns such as ``*.H42``, matched in SQL), plus notices and the lists an
administrator manages. Rows come back as plain dicts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.folding import folded_pattern
from adapters.store.patterns import matches_any
from adapters.store.records import as_utc, utc_now
from adapters.store.schema import (
    api_clients,
    audit_log,
    deliveries,
    delivery_events,
    messages,
    notices,
    users,
)

__all__ = ["DashboardReads", "SentSearch"]

PAGE = 50


def _contains(text: str) -> str:
    return f"%{text.replace('%', '').replace('_', '')}%"


class SentSearch:
    """The filters of the sent list (every one optional)."""

    def __init__(
        self,
        *,
        text: str = "",
        state: str = "",
        recipient: str = "",
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        urgent: bool = False,
        page: int = 1,
        named: Sequence[str] = (),
        recipients_named: Sequence[str] = (),
    ) -> None:
        """``named``: the agencies whose name matches ``text``; ``recipients_named``: those
        whose name matches ``recipient`` (``DirectoryStore.codes_named``)."""
        self.text, self.state, self.recipient = text, state, recipient
        self.since, self.until, self.urgent, self.page = since, until, urgent, max(1, page)
        self.named, self.recipients_named = tuple(named), tuple(recipients_named)


def _text_matches(text: str, *by_name: Any) -> Any:
    """The message's number/notation, subject, DocumentId or an agency's code contains
    ``text`` (with or without diacritics, any case), or one of ``by_name`` holds (an agency
    of the message is one whose name contains it)."""
    return sa.or_(messages.c.search_text.like(folded_pattern(text), escape="\\"), *by_name)


def _sent_to_any(codes: Sequence[str]) -> Any:
    return messages.c.id.in_(
        sa.select(deliveries.c.message_id).where(deliveries.c.recipient.in_(codes))
    )


def _sent_to(recipient: str, named: Sequence[str]) -> Any:
    """Messages with a recipient whose code contains ``recipient`` or whose name matches."""
    return messages.c.id.in_(
        sa.select(deliveries.c.message_id).where(
            sa.or_(
                deliveries.c.recipient.like(_contains(recipient)), deliveries.c.recipient.in_(named)
            )
        )
    )


class DashboardReads(StoreBase):
    async def _all(self, query: Any) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            return [row._asdict() for row in (await connection.execute(query)).all()]

    async def overview(
        self, agencies: Sequence[str], since: dt.datetime
    ) -> tuple[dict[str, int], int, int]:
        """(deliveries by state, documents sent since, documents received since)."""
        async with self.engine.connect() as connection:
            states = {
                str(row.state): int(row.n)
                for row in await connection.execute(
                    sa.select(deliveries.c.state, sa.func.count().label("n"))
                    .join(messages, messages.c.id == deliveries.c.message_id)
                    .where(matches_any(messages.c.sender, agencies))
                    .group_by(deliveries.c.state)
                )
            }
            sent = await connection.scalar(
                sa.select(sa.func.count())
                .select_from(messages)
                .where(
                    messages.c.direction == "out",
                    messages.c.created_at >= since,
                    matches_any(messages.c.sender, agencies),
                )
            )
            received = await connection.scalar(
                sa.select(sa.func.count())
                .select_from(messages)
                .where(
                    messages.c.direction == "in",
                    messages.c.message_type == "edoc",
                    messages.c.created_at >= since,
                    matches_any(messages.c.recipient, agencies),
                )
            )
        return states, int(sent or 0), int(received or 0)

    async def destinations(self, agencies: Sequence[str]) -> list[dict[str, Any]]:
        """Per destination: waiting, failed, the last success and the last error of its own
        (Điều 20): a delivery refused for good is the recipient's problem, not the health of
        the destination, and does not mark it failing."""
        async with self.engine.connect() as connection:
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
                    .where(matches_any(messages.c.sender, agencies))
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
                            # the destination's own trouble: one recipient's mistake (refused
                            # for good) says nothing of the destination's health
                            sa.or_(
                                delivery_events.c.to_state == "retry_wait",
                                sa.and_(
                                    delivery_events.c.to_state == "failed",
                                    ~deliveries.c.permanent,
                                ),
                            ),
                        )
                        .order_by(delivery_events.c.id.desc())
                        .limit(1)
                    )
                ).first()
                healthy = last_error is None or (
                    last_sent is not None and last_sent >= last_error.at
                )
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

    async def median_minutes_to_arrival(self, agencies: Sequence[str]) -> float | None:
        """Median minutes from acceptance to "arrived" (01), over the last 500 deliveries."""
        rows = await self._all(
            sa.select(messages.c.created_at, sa.func.min(delivery_events.c.at).label("arrived"))
            .join(deliveries, deliveries.c.message_id == messages.c.id)
            .join(delivery_events, delivery_events.c.delivery_id == deliveries.c.id)
            .where(
                matches_any(messages.c.sender, agencies),
                delivery_events.c.to_state.in_(("arrived", "accepted", "rejected", "done")),
            )
            .group_by(deliveries.c.id, messages.c.created_at)
            .order_by(messages.c.created_at.desc())
            .limit(500)
        )
        spans = sorted(
            (
                (as_utc(r["arrived"]) or r["arrived"])
                - (as_utc(r["created_at"]) or r["created_at"])
            ).total_seconds()
            / 60
            for r in rows
        )
        return spans[len(spans) // 2] if spans else None

    async def sent_ids(self, agencies: Sequence[str], search: SentSearch) -> list[str]:
        """One page (50) of documents we sent, newest first."""
        query = (
            sa.select(messages.c.id)
            .where(
                messages.c.direction == "out",
                messages.c.message_type == "edoc",
                matches_any(messages.c.sender, agencies),
            )
            .order_by(messages.c.created_at.desc())
            .limit(PAGE)
            .offset((search.page - 1) * PAGE)
        )
        if search.text:
            by_name = [_sent_to_any(search.named)] if search.named else []
            query = query.where(_text_matches(search.text, *by_name))
        if search.state:
            query = query.where(
                messages.c.id.in_(
                    sa.select(deliveries.c.message_id).where(deliveries.c.state == search.state)
                )
            )
        if search.recipient:
            query = query.where(_sent_to(search.recipient, search.recipients_named))
        if search.since is not None:
            query = query.where(messages.c.created_at >= search.since)
        if search.until is not None:
            query = query.where(messages.c.created_at < search.until)
        if search.urgent:
            query = query.where(messages.c.priority >= 1)
        return [str(row["id"]) for row in await self._all(query)]

    async def received(
        self,
        agencies: Sequence[str],
        *,
        text: str = "",
        sender: str = "",
        named: Sequence[str] = (),
        senders_named: Sequence[str] = (),
    ) -> tuple[list[dict[str, Any]], dict[tuple[str, str], list[str]]]:
        """Received documents (newest 50) and, by (document, our agency), the statuses we
        answered them with. ``named``/``senders_named``: the agencies whose name matches
        ``text``/``sender``."""
        query = (
            sa.select(messages)
            .where(
                messages.c.direction == "in",
                messages.c.message_type == "edoc",
                matches_any(messages.c.recipient, agencies),
            )
            .order_by(messages.c.created_at.desc())
            .limit(PAGE)
        )
        if text:
            by_name = [messages.c.sender.in_(named)] if named else []
            query = query.where(_text_matches(text, *by_name))
        if sender:
            query = query.where(
                sa.or_(
                    messages.c.sender.like(_contains(sender)), messages.c.sender.in_(senders_named)
                )
            )
        found = await self._all(query)
        answers: dict[tuple[str, str], list[str]] = {}
        if found:
            answered = await self._all(
                sa.select(messages.c.document_id, messages.c.sender, messages.c.status_code).where(
                    messages.c.direction == "out",
                    messages.c.message_type == "status",
                    messages.c.document_id.in_({row["document_id"] for row in found}),
                )
            )
            for row in answered:
                answers.setdefault((row["document_id"], row["sender"]), []).append(
                    row["status_code"]
                )
        return found, answers

    async def due(self, agencies: Sequence[str]) -> list[dict[str, Any]]:
        """Recipients not done yet with a document that set a due date (Điều 14.3b)."""
        return await self._all(
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
                matches_any(messages.c.sender, agencies),
            )
            .order_by(messages.c.due_date, messages.c.code)
            .limit(500)
        )

    async def failures(self, agencies: Sequence[str]) -> list[dict[str, Any]]:
        return await self._all(
            sa.select(
                deliveries.c.id.label("delivery_id"),
                deliveries.c.recipient,
                deliveries.c.attempts,
                deliveries.c.last_error,
                deliveries.c.permanent,
                deliveries.c.route,
                messages.c.id.label("message_id"),
                messages.c.code,
            )
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.state == "failed", matches_any(messages.c.sender, agencies))
            .order_by(deliveries.c.updated_at.desc())
            .limit(200)
        )

    async def visible_deliveries(
        self, delivery_ids: Sequence[str], agencies: Sequence[str]
    ) -> list[str]:
        """Those of ``delivery_ids`` whose document a user of ``agencies`` sent."""
        rows = await self._all(
            sa.select(deliveries.c.id)
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(
                deliveries.c.id.in_(list(delivery_ids)), matches_any(messages.c.sender, agencies)
            )
        )
        return [str(row["id"]) for row in rows]

    # -- administration ---------------------------------------------------------------------

    async def users(self) -> list[dict[str, Any]]:
        rows = await self._all(sa.select(users).order_by(users.c.username))
        return [{**row, "agencies": json.loads(row["agencies"])} for row in rows]

    async def audit_entries(self, *, newest: int | None = None) -> list[dict[str, Any]]:
        """The audit trail: the ``newest`` entries newest first, or all of it in order."""
        if newest is None:
            return await self._all(sa.select(audit_log).order_by(audit_log.c.id))
        return await self._all(sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(newest))

    async def notice_in_force(self) -> str | None:
        now = utc_now()
        async with self.engine.connect() as connection:
            text = await connection.scalar(
                sa.select(notices.c.text)
                .where(notices.c.starts_at <= now, notices.c.ends_at > now)
                .order_by(notices.c.id.desc())
                .limit(1)
            )
        return str(text) if text else None

    async def notices(self) -> list[dict[str, Any]]:
        return await self._all(sa.select(notices).order_by(notices.c.starts_at.desc()).limit(20))

    async def add_notice(
        self, text: str, starts_at: dt.datetime, ends_at: dt.datetime, by: str
    ) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                notices.insert().values(
                    text=text,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    created_by=by,
                    created_at=utc_now(),
                )
            )

    async def clients(self) -> list[dict[str, Any]]:
        rows = await self._all(sa.select(api_clients).order_by(api_clients.c.created_at))
        return [{**row, "agencies": json.loads(row["agencies"])} for row in rows]
