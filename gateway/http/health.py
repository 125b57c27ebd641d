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
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from adapters.pkcs11 import TokenEcKey, TokenRsaKey, token_status
from adapters.store.store import utc_now
from gateway.http.metrics import LATENCY_BUCKETS, render_metrics
from gateway.operate.backup_checks import backup_problem, read_status
from gateway.outbound.directory import directory_state

__all__ = ["install_health"]

#: Checks reported on /readyz that do not make it answer 503.
ADVISORY = frozenset({"directory", "backup"})

Check = Callable[[], Awaitable[tuple[bool, str]]]


async def _timed(check: Check) -> tuple[bool, str]:
    try:
        return await asyncio.wait_for(check(), 5)
    except TimeoutError:
        return False, "no answer in 5 s"
    except Exception as exc:  # a probe must report, never raise
        return False, f"{type(exc).__name__}: {exc}"


async def _store_check(runtime: Any) -> tuple[bool, str]:
    return True, await runtime.store.ping()


async def _broker_check(runtime: Any) -> tuple[bool, str]:
    depth = await runtime.broker.depth()
    return True, f"{depth['deliveries']} waiting, {depth['deliveries.dead']} dead-lettered"


async def _redis_check(runtime: Any) -> tuple[bool, str]:
    await runtime.redis.ping()
    return True, "ping"


async def _keys_check(runtime: Any) -> tuple[bool, str]:
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


async def _axis_check(runtime: Any) -> tuple[bool, str]:
    await runtime.axis.count_received()
    return True, "countReceiveEdoc answered"


async def _directory_check(runtime: Any) -> tuple[bool, str]:
    """The agencies directory's age (advisory: a stale one does not stop the service,
    but unknown recipients are no longer refused at acceptance)."""
    count, synced = await directory_state(runtime.store)
    if synced is None:
        return False, "never synchronised with the axis"
    age = (utc_now() - synced).total_seconds()
    limit = 2 * runtime.settings.axis.directory_sync_hours * 3600
    fresh = age <= limit
    return fresh, f"{count} agencies, synchronised {age:.0f} s ago" + ("" if fresh else " (stale)")


async def _backup_check(runtime: Any) -> tuple[bool, str]:
    """The last verified backup (advisory: Điều 18.2 wants one daily; a missing one is an
    alert, not a reason to stop serving)."""
    settings = runtime.settings
    status = read_status(settings.backup.folder)
    problem = backup_problem(settings, utc_now())
    last = status.last_good_at.isoformat() if status.last_good_at else "never"
    return problem is None, f"last verified {last}" + (f"; {problem}" if problem else "")


def _readiness_checks(runtime: Any) -> dict[str, Check]:
    """The checks of what this deployment uses (the keys and the store always)."""
    checks: dict[str, Check] = {
        "store": functools.partial(_store_check, runtime),
        "keys": functools.partial(_keys_check, runtime),
    }
    if runtime.broker is not None:
        checks["broker"] = functools.partial(_broker_check, runtime)
    if runtime.redis is not None:
        checks["redis"] = functools.partial(_redis_check, runtime)
    if runtime.axis is not None:
        checks["axis"] = functools.partial(_axis_check, runtime)
        checks["directory"] = functools.partial(_directory_check, runtime)
    if runtime.settings.backup is not None:
        checks["backup"] = functools.partial(_backup_check, runtime)
    return checks


def install_health(app: web.Application, runtime: Any) -> None:
    """Add /healthz, /readyz and /metrics for ``runtime`` (a ``gateway.runtime.Runtime``)."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        checks = _readiness_checks(runtime)
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
        counts = await runtime.store.metric_counts(LATENCY_BUCKETS)
        text = render_metrics(counts, _days_left(runtime), utc_now(), _last_backup(runtime))
        return web.Response(text=text, content_type="text/plain")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


def _last_backup(runtime: Any) -> float | None:
    """When the last verified backup was taken (Unix time), when backups are configured."""
    if runtime.settings.backup is None:
        return None
    last = read_status(runtime.settings.backup.folder).last_good_at
    return last.timestamp() if last else 0.0


def _days_left(runtime: Any) -> dict[str, int]:
    now = utc_now()
    return {
        agency: (identity.chain[0].not_valid_after_utc - now).days
        for agency, identity in runtime.signers.identities.items()
    }
