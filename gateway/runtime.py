"""Assembling the gateway from its settings: store, blobs, destinations, queue, workers.

One code path for both deployments (docs/architecture.md): the settings choose SQLite or PostgreSQL,
the embedded queue or RabbitMQ, in-process or Redis coordination. ``run_workers`` runs what
a worker process does: the dispatcher (embedded claims, or a RabbitMQ consumer plus the
outbox relay under a leader lock) and a poller per inbox (the axis, each LGSP) under its own
leader lock, so that only one process of a deployment polls each at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import os
import signal
from collections.abc import Mapping
from contextlib import AsyncExitStack
from types import TracebackType

from aiohttp import web
from redis import asyncio as aioredis

import edxml
from adapters.axis.client import AxisClient
from adapters.axis.poller import HandoverRejected, PollReport, poll_forever
from adapters.axis.server import Freshness, install_axis_routes
from adapters.blobs import BlobStore
from adapters.broker.amqp import AmqpBroker, AmqpSettings
from adapters.errors import ConfigurationError
from adapters.redis import Job
from adapters.redis.feed import LocalFeed, RedisFeed
from adapters.redis.limits import RedisLimit
from adapters.redis.wake import SharedWake
from adapters.store.engine import create_engine, is_sqlite, migrate
from adapters.store.store import DeliveryJob, Store
from gateway.config import GatewaySettings
from gateway.coordination import Coordination
from gateway.delivery.destinations import UnreadablePackage
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.work_queue import EmbeddedQueue, RabbitQueue, WorkQueue
from gateway.http.api.app import MAX_REQUEST_BYTES, ApiContext, build_api
from gateway.http.api.app import PREFIX as API_PREFIX
from gateway.http.dashboard.web import DashboardContext, build_dashboard
from gateway.http.health import install_health
from gateway.http.vdxp import FacadeSystem, VdxpBackend
from gateway.http.webhook_sender import run_webhooks
from gateway.http.webhooks import WebhookEvents
from gateway.inbound.pipeline import InboundPipeline
from gateway.inbound.seen import StoreSeenDocIds
from gateway.operate.alerts import Alert, run_alerts, sinks_from_settings
from gateway.operate.backup import run_daily_backups
from gateway.operate.evidence import http_timestamper, run_evidence
from gateway.operate.memory import trim_memory_forever
from gateway.operate.trust_expiry import operational_alerts
from gateway.outbound.directory import run_directory_sync
from gateway.remotes import Polled, open_remotes
from gateway.signing import Signers
from gateway.trust import TrustMaterial, load_trust_material, reload_trust

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


class Runtime:
    """``async with Runtime(settings) as runtime: await runtime.run_workers(stop)``."""

    def __init__(self, settings: GatewaySettings, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self._environ = dict(os.environ if environ is None else environ)
        self._stack = AsyncExitStack()
        self.store: Store
        self.blobs: BlobStore
        self.dispatcher: Dispatcher
        self.axis: AxisClient | None = None
        self.broker: AmqpBroker | None = None
        self.redis: aioredis.Redis | None = None
        #: Set when a delivery was queued: the outbox relay looks at once (in any process)
        self.relay_wake = asyncio.Event()
        self._reloads: set[asyncio.Task[TrustMaterial | None]] = set()

    async def __aenter__(self) -> Runtime:
        try:
            await self._open()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def _open(self) -> None:
        settings = self.settings
        engine = create_engine(settings.store_url, schema=settings.database_schema)
        self._stack.push_async_callback(engine.dispose)
        if is_sqlite(settings.store_url):
            await migrate(engine)  # the embedded mode migrates on start
        self.store = Store(engine, outbox=not settings.embedded)
        self.blobs = BlobStore(settings.data_dir / "blobs")
        self.remotes = await open_remotes(
            settings, self._environ, self._stack, self._receive_locally
        )
        self.axis = self.remotes.axis
        if settings.redis_url is not None:
            self.redis = aioredis.from_url(settings.redis_url)
            self._stack.push_async_callback(self.redis.aclose)
            self.relay_wake = SharedWake(self.redis, f"{settings.redis_prefix}:relay-wake")
        self.feed: LocalFeed | RedisFeed = (
            RedisFeed(self.redis, f"{settings.redis_prefix}:changes")
            if self.redis is not None
            else LocalFeed()
        )
        self.store.listeners.append(self.feed.publish)
        shared = (
            RedisLimit(
                self.redis,
                settings.redis_prefix,
                settings.workers.shared_limit_per_destination,
                # a dead process's slots free up when its leases would have expired
                ttl_seconds=settings.workers.lease_seconds,
            )
            if self.redis is not None
            else None
        )
        budgeted = {}
        if self.axis is not None and settings.axis is not None:
            # The axis' connections are the deployment's, not each process's (spec 3.1).
            budgeted["axis"] = (settings.axis.max_connections, self.axis)
        self.coordination = Coordination(self.redis, settings.redis_prefix, budgeted)
        material = load_trust_material(settings, self._environ)
        self.signers = Signers(dict(material.keys), required=settings.signature_required)
        self.dispatcher = Dispatcher(
            self.store,
            self.blobs,
            self.remotes.destinations,
            retry=settings.retry,
            limit_per_destination=settings.workers.limit_per_destination,
            circuit_failures=settings.workers.circuit_failures,
            batch_linger=settings.workers.batch_linger_seconds,
            shared_limit=shared,
            budgeted_routes=frozenset(budgeted if self.coordination.budget else ()),
            signers=self.signers,
        )
        self.inbound = InboundPipeline(
            self.store,
            self.blobs,
            settings.routing,
            settings.own_agencies,
            signers=self.signers,
            trust=material.trust,
            revocation=material.revocation,
            policy=edxml.VerifyPolicy(on_failure=settings.inbound_signature_policy),
            fatal_rules=frozenset(settings.inbound_fatal_rules),
            identities=settings.agency_identities,
            signer_policy=settings.signer_binding_policy,
            recall_answer=settings.recall_answer,
            timestamps=material.timestamps,
        )
        log.info("trust in force: %s", material.summary())
        self.webhooks = WebhookEvents(self.store)
        # Closed before the engine (the stack unwinds in reverse): events still being logged
        # finish their writes instead of holding a connection the engine no longer owns.
        self._stack.push_async_callback(self.webhooks.drain)
        self.inbound.listeners.append(self.webhooks.on_inbound)
        self.store.listeners.append(self.webhooks.on_change)
        if settings.broker_url is not None:
            # Delay tiers: short ones to converge on a due time, and the schedule's own delays.
            tiers = tuple(sorted({1.0, 5.0, *settings.retry.delays_seconds}))
            self.broker = AmqpBroker(
                AmqpSettings(
                    url=settings.broker_url,
                    prefix=settings.broker_prefix,
                    delay_tiers_seconds=tiers,
                )
            )
            await self.broker.connect()
            self._stack.push_async_callback(self.broker.close)

    async def reload_trust(self) -> TrustMaterial | None:
        """Read trust folders, CRLs, TSA roots and signing keys again (``SIGHUP``); a
        failed reload keeps the trust in force."""
        return await reload_trust(
            self.store, self.settings, self.signers, self.inbound, self._environ
        )

    def reload_on_hangup(self) -> None:
        """``SIGHUP`` (the Unix "read your files again") reloads the trust material while
        the service runs; the handler is removed when the runtime closes."""
        loop = asyncio.get_running_loop()

        def hangup() -> None:
            task = loop.create_task(self.reload_trust())
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)

        try:
            loop.add_signal_handler(signal.SIGHUP, hangup)
        except (NotImplementedError, AttributeError, RuntimeError):
            return  # no SIGHUP here (Windows) or not the main thread: reload by restart
        self._stack.callback(loop.remove_signal_handler, signal.SIGHUP)

    async def _poll(self, polled: Polled, stop: asyncio.Event) -> None:
        """One inbox's poller: every item handed to the inbound pipeline once, each pass
        recorded as a heartbeat (a stalled poller is an alert)."""
        store = self.store

        async def beat(report: PollReport) -> None:
            await store.beat(polled.heartbeat, error="; ".join(report.axis_errors)[:500] or None)

        await poll_forever(
            polled.inbox,
            self.inbound.handover(polled.source),
            StoreSeenDocIds(store, polled.source),
            interval_seconds=polled.interval_seconds,
            stop=stop,
            on_report=beat,
        )

    async def _receive_locally(self, job: DeliveryJob, package: bytes) -> str:
        """An agency of ours: handed to our own inbound pipeline, exactly as a package from
        the axis is (checks, its own copy, the automatic 01, the inbox, the facade), once
        per delivery (the delivery id is the item's id at the source "local")."""
        try:
            result = await self.inbound.receive(
                package, source="local", remote_id=job.delivery_id, recipient=job.recipient
            )
        except HandoverRejected as exc:
            raise UnreadablePackage(str(exc), operation="local") from None
        return f"local:{result.message_id or job.delivery_id}"

    def web_app(self) -> web.Application:
        """The HTTP face: /healthz, /readyz, /metrics, the REST API under /api/v1, the VDXP
        facade under /vdxp and the dashboard under /dashboard."""
        settings = self.settings
        # aiohttp reads bodies with the root application's limit (1 MiB by default).
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        install_health(app, self)
        context = ApiContext(
            self.store,
            self.blobs,
            settings.routing,
            self.signers,
            self.inbound,
            self.relay_wake,
            pdf_policy=settings.pdf_signature_policy,
            max_recipients=settings.max_recipients_per_document,
            idempotency_seconds=settings.idempotency_window_seconds,
            webhook_policy=settings.webhooks.policy(),
            seal_unsigned_pdfs=settings.seal_unsigned_pdfs,
            submissions=asyncio.Semaphore(settings.max_concurrent_submissions),
        )
        app.add_subapp(API_PREFIX, build_api(context))
        app.add_subapp(
            "/dashboard",
            build_dashboard(
                DashboardContext(
                    self.store,
                    self.blobs,
                    self.feed,
                    secure_cookies=settings.secure_cookies,
                    notice=settings.maintenance_notice,
                    routes=tuple((route.pattern, route.destination) for route in settings.routes),
                    routing=settings.routing,
                    signers=self.signers,
                    wake=self.relay_wake,
                    backup=settings.backup,
                    probe=self.dispatcher.probe_now,
                )
            ),
        )
        systems = {}
        for system_id, system in settings.vdxp_systems.items():
            secret = self._environ.get(system.secret_env)
            if not secret:
                raise ConfigurationError(
                    f"set {system.secret_env}: the facade secret of {system_id}"
                )
            systems[system_id] = FacadeSystem(system_id, secret, system.agencies)
        if systems:
            window = settings.vdxp_timestamp_window_seconds
            backend = VdxpBackend(
                self.store,
                self.blobs,
                settings.routing,
                systems,
                self.relay_wake,
                signers=self.signers,
                max_recipients=settings.max_recipients_per_document,
                replay_window_seconds=window,
            )
            install_axis_routes(app, backend, prefix="/vdxp", freshness=Freshness(window))
        return app

    def work_queue(self) -> WorkQueue:
        """The queue the settings choose: RabbitMQ with ``broker_url``, else the store's."""
        workers = self.settings.workers
        if self.broker is None:
            return EmbeddedQueue(
                batch=workers.batch,
                lease_seconds=workers.lease_seconds,
                concurrency=workers.concurrency,
            )
        return RabbitQueue(
            self.broker,
            lead=self.coordination.lead,
            wake=self.relay_wake,
            lease_seconds=workers.lease_seconds,
            batch_linger=workers.batch_linger_seconds,
        )

    async def wake_relay(self) -> None:
        """Wake the outbox relay wherever it runs; sent before this returns (a command that
        requeued deliveries exits next)."""
        self.relay_wake.set()
        if isinstance(self.relay_wake, SharedWake):
            await self.relay_wake.sent()

    def operational_alerts(self, now: dt.datetime) -> list[Alert]:
        """The alerts the store does not hold (backups, the trust material in force)."""
        return operational_alerts(self.settings, self.inbound.trust, self.inbound.revocation, now)

    async def run_workers(self, stop: asyncio.Event) -> None:
        """The dispatcher and the poller, until ``stop``."""
        tasks: list[asyncio.Task[None]] = []
        tasks.append(asyncio.create_task(self.work_queue().run(self.dispatcher, stop=stop)))
        if self.settings.workers.probes:
            tasks.append(asyncio.create_task(self.dispatcher.watch_recovery(stop=stop)))
        tasks.append(asyncio.create_task(trim_memory_forever(stop=stop)))
        tasks.append(asyncio.create_task(self.coordination.run(stop=stop)))

        def leading(name: str, job: Job) -> None:
            """``job`` in one process of the deployment at a time (its lock's holder)."""
            tasks.append(asyncio.create_task(self.coordination.lead(name, job, stop=stop)))

        settings, store = self.settings, self.store
        leading(
            "webhooks",
            lambda s: run_webhooks(
                store,
                stop=s,
                policy=settings.webhooks.policy(),
                requests_per_client=settings.webhooks.requests_per_client,
            ),
        )
        sinks = sinks_from_settings(settings.alerts, self._environ)
        leading(
            "alerts",
            lambda s: run_alerts(
                store, self.signers, settings.alerts, sinks, stop=s, extra=self.operational_alerts
            ),
        )
        sealing = settings.evidence
        leading(
            "evidence",
            lambda s: run_evidence(
                store,
                self.signers,
                seal_minutes=sealing.seal_minutes,
                seal_agency=sealing.seal_agency,
                stop=s,
                timestamper=http_timestamper(sealing.tsa_url) if sealing.tsa_url else None,
            ),
        )
        if settings.backup is not None:
            leading("backup", lambda s: run_daily_backups(settings, s))
        source, every = self.remotes.directory, self.remotes.directory_every_seconds
        if source is not None:
            leading(
                "directory",
                lambda s: run_directory_sync(store, source, interval_seconds=every, stop=s),
            )
        for polled in self.remotes.polled:
            leading(polled.heartbeat, functools.partial(self._poll, polled))
        try:
            await stop.wait()
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.gather(*tasks)
