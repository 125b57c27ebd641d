"""Health and metrics: ``/healthz``, ``/readyz`` and ``/metrics`` (Prometheus text format).

``/readyz`` names each dependency with its state — the store, the broker, Redis, the signing
keys (and how many days their certificates have left) and the axis — and answers 503 when
one the deployment needs is down, so a load balancer stops sending work (Điều 20: outages
are visible). ``/metrics`` exposes counters and gauges read from the store: messages by
direction, deliveries by state, sent and failed, attempts and retries, the queue depth, the
age of the oldest waiting delivery, a histogram of the time from acceptance to the
destination, inbound signature failures and each signing certificate's days to expiry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from adapters.pkcs11 import TokenEcKey, TokenRsaKey, token_status
from adapters.store.schema import deliveries, messages
from adapters.store.store import utc_now
from gateway.outbound.accept import directory_state

__all__ = ["install_health"]

#: Checks reported on /readyz that do not make it answer 503.
ADVISORY = frozenset({"directory"})
#: Upper bounds (seconds) of the delivery latency histogram: a second to a day.
LATENCY_BUCKETS = (1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0)

Check = Callable[[], Awaitable[tuple[bool, str]]]


async def _timed(check: Check) -> tuple[bool, str]:
    try:
        return await asyncio.wait_for(check(), 5)
    except TimeoutError:
        return False, "no answer in 5 s"
    except Exception as exc:  # a probe must report, never raise
        return False, f"{type(exc).__name__}: {exc}"


def install_health(app: web.Application, runtime: Any) -> None:
    """Add /healthz, /readyz and /metrics for ``runtime`` (a ``gateway.runtime.Runtime``)."""

    async def store_check() -> tuple[bool, str]:
        async with runtime.store.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
        return True, runtime.store.engine.dialect.name

    async def broker_check() -> tuple[bool, str]:
        depth = await runtime.broker.depth()
        return True, f"{depth['deliveries']} waiting, {depth['deliveries.dead']} dead-lettered"

    async def redis_check() -> tuple[bool, str]:
        await runtime.redis.ping()
        return True, "ping"

    async def keys_check() -> tuple[bool, str]:
        days = _days_left(runtime)
        if not days:
            return (not runtime.signers.required), "no signing key configured"
        worst = min(days.values())
        tokens = []
        for identity in runtime.signers.identities.values():
            if isinstance(identity.key, TokenRsaKey | TokenEcKey):
                status = await asyncio.to_thread(token_status, identity.key, identity.chain[0])
                if not status.key_found:
                    return False, f"token {status.token!r}: key {status.label!r} does not sign"
                tokens.append(f"token {status.token!r} key {status.label!r} ready")
        on_tokens = f"; {', '.join(tokens)}" if tokens else ""
        return worst > 0, f"{len(days)} keys, the first expires in {worst} days{on_tokens}"

    async def axis_check() -> tuple[bool, str]:
        await runtime.axis.count_received()
        return True, "countReceiveEdoc answered"

    async def directory_check() -> tuple[bool, str]:
        """The agencies directory's age (advisory: a stale one does not stop the service,
        but unknown recipients are no longer refused at acceptance)."""
        count, synced = await directory_state(runtime.store)
        if synced is None:
            return False, "never synchronised with the axis"
        age = (utc_now() - synced).total_seconds()
        limit = 2 * runtime.settings.axis.directory_sync_hours * 3600
        fresh = age <= limit
        return fresh, f"{count} agencies, synchronised {age:.0f} s ago" + (
            "" if fresh else " (stale)"
        )

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        checks: dict[str, Check] = {"store": store_check, "keys": keys_check}
        if runtime.broker is not None:
            checks["broker"] = broker_check
        if runtime.redis is not None:
            checks["redis"] = redis_check
        if runtime.axis is not None:
            checks["axis"] = axis_check
            checks["directory"] = directory_check
        results = dict(
            zip(checks, await asyncio.gather(*(_timed(c) for c in checks.values())), strict=True)
        )
        ready = all(ok for name, (ok, _) in results.items() if name not in ADVISORY)
        body = {
            "status": "ready" if ready else "not ready",
            "checks": {
                name: {
                    "ok": ok,
                    "detail": detail,
                    **({"advisory": True} if name in ADVISORY else {}),
                }
                for name, (ok, detail) in results.items()
            },
        }
        return web.json_response(body, status=200 if ready else 503)

    async def metrics(request: web.Request) -> web.Response:
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

        async with runtime.store.engine.connect() as connection:
            by_direction = (
                await connection.execute(
                    sa.select(
                        messages.c.direction, messages.c.message_type, sa.func.count().label("n")
                    ).group_by(messages.c.direction, messages.c.message_type)
                )
            ).all()
            # One pass over the deliveries for the states, attempts, retries and latency.
            by_state = (
                await connection.execute(
                    sa.select(
                        deliveries.c.state,
                        sa.func.count().label("n"),
                        sa.func.sum(deliveries.c.attempts).label("attempts"),
                        sa.func.sum(
                            sa.case((deliveries.c.attempts > 1, deliveries.c.attempts - 1), else_=0)
                        ).label("retries"),
                        sa.func.count(deliveries.c.send_seconds).label("sent"),
                        sa.func.sum(deliveries.c.send_seconds).label("seconds"),
                        *(
                            sa.func.sum(
                                sa.case((deliveries.c.send_seconds <= bound, 1), else_=0)
                            ).label(f"le{index}")
                            for index, bound in enumerate(LATENCY_BUCKETS)
                        ),
                    ).group_by(deliveries.c.state)
                )
            ).all()
            signature_failures = await connection.scalar(
                sa.select(sa.func.count()).where(messages.c.signature_failed.is_(True))
            )
            oldest = await connection.scalar(
                sa.select(sa.func.min(deliveries.c.created_at)).where(
                    deliveries.c.state.in_(("queued", "retry_wait", "sending"))
                )
            )
        metric(
            "edxml_messages_total",
            "counter",
            "Messages stored, by direction and type.",
            [(f'{{direction="{r.direction}",type="{r.message_type}"}}', r.n) for r in by_direction],
        )
        metric(
            "edxml_deliveries",
            "gauge",
            "Deliveries by state.",
            [(f'{{state="{r.state}"}}', r.n) for r in by_state],
        )
        metric(
            "edxml_delivery_attempts_total",
            "counter",
            "Delivery attempts made.",
            [("", float(sum(int(r.attempts or 0) for r in by_state)))],
        )
        sent_total = sum(int(r.sent or 0) for r in by_state)
        sent_seconds = sum(float(r.seconds or 0) for r in by_state)
        metric(
            "edxml_delivery_retries_total",
            "counter",
            "Attempts after the first (transient failures retried).",
            [("", float(sum(int(r.retries or 0) for r in by_state)))],
        )
        metric(
            "edxml_deliveries_sent_total",
            "counter",
            "Deliveries a destination took.",
            [("", float(sent_total))],
        )
        metric(
            "edxml_deliveries_failed",
            "gauge",
            "Deliveries that gave up (dead-lettered) and wait for an operator.",
            [("", float(sum(r.n for r in by_state if r.state == "failed")))],
        )
        buckets = [
            (f'{{le="{bound:g}"}}', float(sum(int(getattr(r, f"le{i}") or 0) for r in by_state)))
            for i, bound in enumerate(LATENCY_BUCKETS)
        ]
        metric(
            "edxml_delivery_latency_seconds",
            "histogram",
            "From acceptance to the destination taking it.",
            [],
        )
        lines.extend(
            f"edxml_delivery_latency_seconds_bucket{labels} {v:g}" for labels, v in buckets
        )
        lines.append(f'edxml_delivery_latency_seconds_bucket{{le="+Inf"}} {sent_total:g}')
        lines.append(f"edxml_delivery_latency_seconds_sum {sent_seconds:g}")
        lines.append(f"edxml_delivery_latency_seconds_count {sent_total:g}")
        metric(
            "edxml_signature_failures_total",
            "counter",
            "Inbound packages whose signature failed the policy.",
            [("", float(signature_failures or 0))],
        )
        waiting = sum(r.n for r in by_state if r.state in ("queued", "retry_wait", "sending"))
        metric("edxml_queue_depth", "gauge", "Deliveries not yet delivered.", [("", waiting)])
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
            age = (utc_now() - oldest).total_seconds()
        metric(
            "edxml_oldest_waiting_seconds", "gauge", "Age of the oldest undelivered.", [("", age)]
        )
        metric(
            "edxml_certificate_days_to_expiry",
            "gauge",
            "Days left on each signing certificate.",
            [(f'{{agency="{agency}"}}', days) for agency, days in _days_left(runtime).items()],
        )
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


def _days_left(runtime: Any) -> dict[str, int]:
    now = utc_now()
    return {
        agency: (identity.chain[0].not_valid_after_utc - now).days
        for agency, identity in runtime.signers.identities.items()
    }
