"""Operator alerts: a failing destination, a growing dead-letter count, an expiring certificate.

Điều 20 and 21.6 want outages known and announced; Điều 14.3a wants no document silently
stuck. Each pass (:func:`evaluate`) reads the conditions from the store and the signing
keys, and reconciles them with the ``alerts`` table: a new condition is *raised*, a dead-letter
count above the one last reported has *grown*, a condition that no longer holds is
*resolved*. Every such change is marked ``pending`` in the same write and stays so until the
e-mail and webhook sinks have taken it (:func:`notify_pending`), so a mail server that is down
delays a warning but does not lose it (it may arrive twice if one of two sinks failed).

The dashboard shows the active alerts on every page whatever the sinks do. Texts are
Vietnamese first, English second; neither carries a secret or a document's contents.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from adapters.store.schema import alerts, deliveries, messages
from adapters.store.store import Store, utc_now
from gateway.config import AlertSettings
from gateway.operate.alert_sinks import AlertSink, EmailSink, WebhookSink, sinks_from_settings
from gateway.operate.alert_texts import RESOLVED, describe
from gateway.signing import Signers

__all__ = [
    "Alert",
    "AlertChange",
    "AlertSink",
    "EmailSink",
    "WebhookSink",
    "active_alerts",
    "conditions",
    "describe",
    "evaluate",
    "notify_pending",
    "run_alerts",
    "sinks_from_settings",
]

log = logging.getLogger(__name__)

Kind = Literal[
    "destination", "dead_letters", "certificate", "unsigned", "backup", "trust_anchor", "crl",
    "poller", "test",
]  # fmt: skip
#: Conditions the store does not hold (the backups' status file): now -> the alerts holding
ExtraConditions = Callable[[dt.datetime], Sequence["Alert"]]


@dataclass(frozen=True)
class Alert:
    """A condition that holds now."""

    key: str
    kind: Kind
    params: Mapping[str, Any]
    value: int | None = None  # dead letters: the count


@dataclass(frozen=True)
class AlertChange:
    """What the sinks are told: an alert raised, grown or resolved."""

    key: str
    kind: Kind
    change: Literal["raised", "grown", "resolved"]
    params: Mapping[str, Any]
    at: dt.datetime

    def text(self, lang: str = "vi") -> str:
        prefix = RESOLVED[lang] if self.change == "resolved" else ""
        return prefix + describe(self.kind, self.params, lang)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "change": self.change,
            "at": self.at.isoformat(),
            "params": dict(self.params),
            "text": self.text("vi"),
            "text_en": self.text("en"),
        }


# -- conditions -----------------------------------------------------------------------------


async def conditions(
    store: Store, signers: Signers, settings: AlertSettings, now: dt.datetime
) -> list[Alert]:
    """Every alert condition holding at ``now``."""
    found: list[Alert] = []
    recent = now - dt.timedelta(hours=1)
    unsigned = sa.select(messages.c.id).where(messages.c.needs_signature.is_(True))
    failing_states = sa.and_(
        sa.or_(
            deliveries.c.state == "retry_wait",
            # a retry under way: it failed before and has not gone through yet
            sa.and_(deliveries.c.state == "sending", deliveries.c.last_error.is_not(None)),
            sa.and_(
                deliveries.c.state == "failed",
                deliveries.c.updated_at >= recent,
                # refused for good (an unknown recipient): that recipient's problem, not
                # the destination's
                ~deliveries.c.permanent,
            ),
        ),
        # waiting for our own signature says nothing about the destination
        deliveries.c.message_id.not_in(unsigned),
    )
    async with store.engine.connect() as connection:
        routes = (
            await connection.execute(
                sa.select(
                    deliveries.c.route,
                    sa.func.count().label("failing"),
                    sa.func.max(deliveries.c.updated_at).label("last_failure"),
                )
                .where(failing_states)
                .group_by(deliveries.c.route)
            )
        ).all()
        for row in routes:
            if row.failing < settings.destination_failures:
                continue
            last_success = await connection.scalar(
                sa.select(sa.func.max(deliveries.c.sent_at)).where(deliveries.c.route == row.route)
            )
            if last_success is not None and _aware(last_success) > _aware(row.last_failure):
                continue  # it works again; the waiting ones will go on their next attempt
            error = await connection.scalar(
                sa.select(deliveries.c.last_error)
                .where(deliveries.c.route == row.route, failing_states)
                .order_by(deliveries.c.updated_at.desc())
                .limit(1)
            )
            found.append(
                Alert(
                    f"destination:{row.route}",
                    "destination",
                    {"route": row.route, "failing": row.failing, "error": _short(error)},
                )
            )
        dead = await connection.scalar(
            sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.state == "failed")
        )
        waiting_signature = (
            await connection.execute(
                sa.select(messages.c.sender, sa.func.count().label("n"))
                .where(messages.c.needs_signature.is_(True))
                .group_by(messages.c.sender)
            )
        ).all()
    if dead:
        found.append(Alert("dead_letters", "dead_letters", {"count": dead}, value=int(dead)))
    found.extend(
        Alert(f"unsigned:{row.sender}", "unsigned", {"agency": row.sender, "count": row.n})
        for row in waiting_signature
    )
    pollers = await store.stalled_family("poller", now, settings.poller_stalled_seconds)
    for name, stalled in pollers.items():
        since = stalled.ok_at.isoformat(timespec="minutes") if stalled.ok_at else "?"
        source = name.partition(":")[2] or "axis"  # "poller" polls the axis
        params = {"route": source, "since": since, "error": stalled.error or "?"}
        found.append(Alert(name, "poller", params))
    for agency, identity in signers.identities.items():
        expires = identity.chain[0].not_valid_after_utc
        days = (expires - now).days
        if days <= settings.certificate_days:
            found.append(
                Alert(
                    f"certificate:{agency}",
                    "certificate",
                    {"agency": agency, "days": days, "expires": expires.date().isoformat()},
                )
            )
    return found


def _short(error: str | None, limit: int = 200) -> str:
    text = (error or "").strip().splitlines()[0] if error and error.strip() else "?"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# -- reconciling with the alerts table --------------------------------------------------------


async def evaluate(
    store: Store,
    signers: Signers,
    settings: AlertSettings,
    now: dt.datetime | None = None,
    *,
    extra: ExtraConditions | None = None,
) -> list[AlertChange]:
    """Raise, grow and resolve alerts to match the conditions now; return what changed."""
    now = now or utc_now()
    found = [*await conditions(store, signers, settings, now), *(extra(now) if extra else ())]
    holding = {alert.key: alert for alert in found}
    changes: list[AlertChange] = []
    async with store.engine.begin() as connection:
        rows = {row.key: row for row in (await connection.execute(sa.select(alerts))).all()}
        for key, alert in holding.items():
            row = rows.get(key)
            active = row is not None and row.resolved_at is None
            params = dict(alert.params)
            what: Literal["raised", "grown"] | None = None if active else "raised"
            values: dict[str, Any] = {"value": alert.value}
            if alert.kind == "dead_letters":
                previous = int(row.value or 0) if active and row is not None else 0
                params["previous"] = previous
                if active and (alert.value or 0) > previous:
                    what = "grown"  # a smaller count is stored too: its next growth is news
            encoded = json.dumps(params, ensure_ascii=False, default=str)
            values["params"] = encoded
            if what is not None:
                values.update(changed_at=now, pending=True)
            if what == "raised":
                values.update(kind=alert.kind, raised_at=now, resolved_at=None)
                if row is None:
                    await connection.execute(alerts.insert().values(key=key, **values))
                else:
                    await connection.execute(
                        alerts.update().where(alerts.c.key == key).values(**values)
                    )
            elif row is not None and (encoded != row.params or alert.value != row.value):
                await connection.execute(
                    alerts.update().where(alerts.c.key == key).values(**values)
                )
            if what is not None:
                changes.append(AlertChange(key, alert.kind, what, json.loads(encoded), now))
        for key, row in rows.items():
            if key in holding or row.resolved_at is not None:
                continue
            await connection.execute(
                alerts.update()
                .where(alerts.c.key == key)
                .values(resolved_at=now, changed_at=now, pending=True)
            )
            changes.append(AlertChange(key, row.kind, "resolved", json.loads(row.params), now))
    for change in changes:
        log.warning("alert %s %s: %s", change.change, change.key, change.text("en"))
    return changes


async def active_alerts(store: Store) -> list[AlertChange]:
    """The alerts in force, oldest first (for the dashboard's banner and the CLI)."""
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(alerts).where(alerts.c.resolved_at.is_(None)).order_by(alerts.c.raised_at)
            )
        ).all()
    return [
        AlertChange(row.key, row.kind, "raised", json.loads(row.params), _aware(row.raised_at))
        for row in rows
    ]


async def notify_pending(store: Store, sinks: Sequence[AlertSink]) -> int:
    """Tell the sinks every pending change; clear ``pending`` only when all of them took it.
    Returns how many changes were delivered."""
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(alerts).where(alerts.c.pending.is_(True)).order_by(alerts.c.changed_at)
            )
        ).all()
    if not rows:
        return 0
    changes = [
        AlertChange(
            row.key,
            row.kind,
            "resolved"
            if row.resolved_at is not None
            else ("raised" if row.changed_at == row.raised_at else "grown"),
            json.loads(row.params),
            _aware(row.changed_at),
        )
        for row in rows
    ]
    delivered = True
    for sink in sinks:
        try:
            await sink.send(changes)
        except Exception as exc:  # a sink's failure must not stop the others
            delivered = False
            log.warning("alert %s not delivered: %s: %s", sink.name, type(exc).__name__, exc)
    if not delivered:
        return 0
    async with store.engine.begin() as connection:
        for row in rows:
            await connection.execute(
                alerts.update()
                .where(alerts.c.key == row.key, alerts.c.changed_at == row.changed_at)
                .values(pending=False)
            )
    return len(changes)


async def run_alerts(
    store: Store,
    signers: Signers,
    settings: AlertSettings,
    sinks: Sequence[AlertSink],
    *,
    stop: asyncio.Event,
    extra: ExtraConditions | None = None,
) -> None:
    """Evaluate and notify every ``settings.interval_seconds`` until ``stop``."""
    while not stop.is_set():
        try:
            await evaluate(store, signers, settings, extra=extra)
            await notify_pending(store, sinks)
        except Exception:  # the next pass tries again; the store keeps what is pending
            log.exception("alert pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.interval_seconds)
