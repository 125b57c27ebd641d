"""Sending the logged webhook events to each QLVB: signed, retried, each client on its own.

Each client's due events go out on a few lanes at once (``requests_per_client``): a QLVB a
network away answers a request in tens of milliseconds, and one request at a time would
fall behind a busy day's state changes. The events of one delivery (or one inbound
document) stay in a lane together, in the order they happened, so a QLVB never hears
``sent`` before ``sending`` of the same delivery in one pass.

A client's batch is a task of its own: a QLVB that is slow or silent holds its own events,
never another client's next batch. When the QLVB is unavailable (no connection, a timeout,
429, 502, 503, 504), its events not yet started in that batch are not sent: each is recorded
as a failed attempt with that error and waits for its own retry. A QLVB that is down costs a
few requests per round of retries, not one timeout per event, and its events fail at the end
of the schedule as they would have one by one. An answer that refuses one event (any other
4xx or 5xx) holds back only that event.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Coroutine, Iterator
from typing import Any

import aiohttp
import orjson
from yarl import URL

from adapters.signed_posts import signed_headers
from adapters.store.store import Store, StoreError, WebhookAttempt, utc_now
from adapters.url_policy import BlockedUrl, GuardedResolver, UrlPolicy
from adapters.waiting import until_any

__all__ = ["DELAYS", "REQUESTS_PER_CLIENT", "run_webhooks"]

log = logging.getLogger(__name__)

#: Waits before the 2nd … 6th attempt; after the 6th the event is ``failed``.
DELAYS = (10.0, 60.0, 300.0, 1800.0, 7200.0)
#: Redirects followed for one webhook delivery, each target checked against the policy.
MAX_REDIRECTS = 3
#: Requests in flight to one QLVB at once.
REQUESTS_PER_CLIENT = 4
#: Answers that say the QLVB is unavailable, not that it refuses the event.
UNAVAILABLE = frozenset({429, 502, 503, 504})


async def _post(
    http: aiohttp.ClientSession, policy: UrlPolicy, url: str, body: bytes, headers: dict[str, str]
) -> tuple[str | None, bool]:
    """POST the body, following redirects each checked against the policy; the error, if
    any, and whether the answer says the QLVB is unavailable."""
    for _ in range(MAX_REDIRECTS + 1):
        target = policy.check_url(url)
        async with http.post(target, data=body, headers=headers, allow_redirects=False) as answer:
            if answer.status in (301, 302, 303, 307, 308) and "Location" in answer.headers:
                url = str(target.join(URL(answer.headers["Location"])))
                continue
            if not 200 <= answer.status < 300:
                return f"HTTP {answer.status}", answer.status in UNAVAILABLE
            return None, False
    return f"more than {MAX_REDIRECTS} redirects", False


def _outcome(row: dict[str, Any], error: str | None) -> WebhookAttempt:
    """An attempt at ``row`` that ended with ``error`` (None: sent), on the schedule."""
    attempts = row["attempts"] + 1
    if error is None:
        return WebhookAttempt(row["id"], attempts, None, "sent", None)
    if attempts > len(DELAYS):
        return WebhookAttempt(row["id"], attempts, error, "failed", None)
    next_at = utc_now() + dt.timedelta(seconds=DELAYS[attempts - 1])
    return WebhookAttempt(row["id"], attempts, error, "pending", next_at)


async def _attempt(
    http: aiohttp.ClientSession, policy: UrlPolicy, row: dict[str, Any]
) -> tuple[WebhookAttempt, bool]:
    """Send one logged event; how it went, for the log, and whether the QLVB is unavailable."""
    body = row["payload"].encode()
    error, unavailable = None, False
    if not row["webhook_url"] or not row["webhook_secret"]:
        error = "the client removed its webhook"
    else:
        headers = signed_headers(row["webhook_secret"], body, row["event"])
        headers["X-Edxml-Delivery"] = row["id"]
        try:
            error, unavailable = await _post(http, policy, row["webhook_url"], body, headers)
        except BlockedUrl as exc:
            error = f"refused by the settings: {exc}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error, unavailable = f"{type(exc).__name__}: {exc}", True
    return _outcome(row, error), unavailable


def _in_order(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The rows as chains that must go in order, each chain in the order of the rows: the
    state changes of one delivery, the events of one inbound document."""
    chains: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        payload = orjson.loads(row["payload"])
        key = payload.get("delivery") or payload.get("id") or row["id"]
        chains.setdefault(str(key), []).append(row)
    return list(chains.values())


async def _send_client(
    store: Store,
    http: aiohttp.ClientSession,
    policy: UrlPolicy,
    rows: list[dict[str, Any]],
    lanes: int,
    stop: asyncio.Event,
) -> None:
    """One client's batch on ``lanes`` lanes, each taking the next chain whole. Once the QLVB
    is found unavailable no new event starts: the rest fail with that error. ``stop`` cuts
    the batch short (what was not answered stays due). Recorded in one transaction."""
    done: list[WebhookAttempt] = []
    unavailable: list[str] = []
    chains: Iterator[list[dict[str, Any]]] = iter(_in_order(rows))

    async def lane() -> None:
        for chain in chains:
            for row in chain:
                if unavailable:
                    return
                attempt, down = await _attempt(http, policy, row)
                done.append(attempt)
                if down:
                    unavailable.append(f"not sent: the QLVB was unavailable ({attempt.error})")

    sending: asyncio.Future[list[None]] = asyncio.gather(*(lane() for _ in range(lanes)))
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([sending, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not sending.done():
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
        if unavailable:
            tried = {attempt.id for attempt in done}
            done.extend(_outcome(row, unavailable[0]) for row in rows if row["id"] not in tried)
        await store.record_webhook_attempts(done)
    if not sending.cancelled() and (failure := sending.exception()) is not None:
        raise failure  # a bug, not a QLVB's fault: logged with the client's name


class _Clients:
    """The clients' batches in flight, one task each; ``finished`` wakes the sender."""

    def __init__(self) -> None:
        self.busy: dict[str, asyncio.Task[None]] = {}
        self.finished = asyncio.Event()

    def start(self, client_id: str, work: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self.busy[client_id] = task
        task.add_done_callback(lambda _: self._done(client_id, task))

    def _done(self, client_id: str, task: asyncio.Task[None]) -> None:
        self.busy.pop(client_id, None)
        self.finished.set()
        if not task.cancelled() and (failure := task.exception()) is not None:
            log.error("webhooks: a batch of %s was not recorded: %s", client_id, failure)

    async def stopped(self, stop: asyncio.Event) -> None:
        """Until every batch has recorded what was answered (``stop`` cuts them short); left
        without ``stop`` (cancelled, a bug), they are cancelled: their events stay due."""
        tasks = list(self.busy.values())
        if not stop.is_set():
            for task in tasks:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_webhooks(
    store: Store,
    *,
    stop: asyncio.Event,
    policy: UrlPolicy,
    idle_seconds: float = 1.0,
    batch: int = 200,
    timeout: float = 10.0,
    requests_per_client: int = REQUESTS_PER_CLIENT,
) -> None:
    """Send due webhook deliveries until ``stop``, only to what ``policy`` allows: each
    idle client's due events as a batch of its own, started as soon as the client is free
    (at least once: the ``X-Edxml-Delivery`` id lets the QLVB drop a second copy)."""
    clients = _Clients()
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout),
        connector=aiohttp.TCPConnector(resolver=GuardedResolver(policy)),
    ) as http:
        try:
            while not stop.is_set():
                clients.finished.clear()
                try:
                    due = await store.due_webhooks(batch, excluding=tuple(clients.busy))
                except StoreError as exc:  # the store is away: try again later
                    log.warning("webhooks: %s", exc)
                    due = []
                by_client: dict[str, list[dict[str, Any]]] = {}
                for row in due:
                    by_client.setdefault(row["client_id"], []).append(row)
                for client_id, rows in by_client.items():
                    batch_of_client = _send_client(
                        store, http, policy, rows, requests_per_client, stop
                    )
                    clients.start(client_id, batch_of_client)
                finished = clients.finished if clients.busy else None
                await until_any(stop, finished, timeout=idle_seconds)
        finally:
            await clients.stopped(stop)
