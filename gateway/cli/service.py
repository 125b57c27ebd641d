"""The service commands: ``migrate``, ``worker``, ``serve``, ``requeue``.

Each loads the settings (``--config FILE`` plus ``EDXML_*`` variables), builds a
``Runtime`` and runs until SIGINT/SIGTERM; SIGHUP reloads trust folders, CRLs and keys.
``serve`` is the API process with the workers in it (the default deployment): ``/healthz``,
the REST API under ``/api/v1`` and the VDXP facade under ``/vdxp``; ``worker`` runs only the
workers, to scale out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
from pathlib import Path

from aiohttp import web

from adapters.blobs import BlobStore
from adapters.errors import ConfigurationError
from adapters.store.engine import create_engine, is_sqlite, migrate
from adapters.store.store import Store
from gateway.config import GatewaySettings, load_settings
from gateway.http.api.clients import create_client, revoke_client
from gateway.http.dashboard.accounts import (
    AccountError,
    available_username,
    create_user,
    lock_user,
    propose_username,
)
from gateway.inbound.identities import identities_of, set_identities
from gateway.logs import configure_logging
from gateway.operate.alerts import (
    AlertChange,
    active_alerts,
    evaluate,
    notify_pending,
    sinks_from_settings,
)
from gateway.operate.reports import report_file
from gateway.operate.requeue import requeue_since
from gateway.operate.retention import past_retention, remove_packages
from gateway.outbound.directory import directory_state, sync_agencies
from gateway.runtime import Runtime

__all__ = [
    "run_alerts_command",
    "run_clients",
    "run_directory",
    "run_migrate",
    "run_report",
    "run_requeue",
    "run_retention",
    "run_serve",
    "run_users",
    "run_worker",
]


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    return stop


#: The settings file of a command given no ``--config``: a deployment sets it once, and
#: every operator command (report, alerts, requeue ...) reads the settings ``serve`` reads.
CONFIG_ENV = "EDXML_CONFIG"


def settings_from(config: Path | None) -> GatewaySettings:
    if config is None and os.environ.get(CONFIG_ENV):
        config = Path(os.environ[CONFIG_ENV])
    settings = load_settings(config)
    configure_logging(settings.log_level, settings.log_format)
    return settings


async def run_migrate(settings: GatewaySettings) -> str:
    engine = create_engine(settings.store_url, schema=settings.database_schema)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    return settings.store_url.split("@")[-1]  # never print credentials


async def run_worker(settings: GatewaySettings) -> None:
    stop = _stop_on_signals()
    async with Runtime(settings) as runtime:
        runtime.reload_on_hangup()
        print(
            f"edxml-gateway worker: {'embedded queue' if settings.embedded else 'RabbitMQ'}",
            flush=True,
        )
        await runtime.run_workers(stop)


async def run_serve(settings: GatewaySettings, host: str, port: int) -> None:
    stop = _stop_on_signals()
    async with Runtime(settings) as runtime:
        runtime.reload_on_hangup()
        runner = web.AppRunner(runtime.web_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        address = runner.addresses[0]
        print(f"edxml-gateway serving on http://{address[0]}:{address[1]}", flush=True)
        try:
            await runtime.run_workers(stop)
        finally:
            await runner.cleanup()


async def run_requeue(
    settings: GatewaySettings,
    delivery_ids: list[str],
    *,
    corrected: bool = False,
    destination: tuple[str, dt.datetime] | None = None,
) -> list[tuple[str, bool]]:
    """Requeue failed deliveries (``corrected``: those refused for good too), audited;
    ``destination`` = (route, since): every failure towards it since then."""
    async with Runtime(settings) as runtime:
        store = runtime.store
        results = []
        if destination is not None:
            route, since = destination
            found = await requeue_since(
                store, route, since, by="cli", source="cli", corrected=corrected
            )
            results += [(delivery_id, True) for delivery_id in found]
        for delivery_id in delivery_ids:
            done = await store.requeue(delivery_id, source="cli", permanent_too=corrected)
            await store.audit("cli", "delivery.requeue", delivery_id, None if done else "refused")
            results.append((delivery_id, done))
        await runtime.wake_relay()
        return results


async def run_directory(settings: GatewaySettings, arguments: argparse.Namespace) -> int:
    """``directory sync``: getAgenciesList into the store now; ``directory list``: what the
    store holds and how old it is; ``directory identity CODE ID…``: who may sign for it."""
    action = arguments.directory_command
    async with Runtime(settings) as runtime:
        if action == "identity":
            await set_identities(runtime.store, arguments.code, arguments.identities)
            await runtime.store.audit(None, "directory.identity", arguments.code,
                ", ".join(arguments.identities) or "cleared",
            )  # fmt: skip
            recorded = await identities_of(runtime.store, arguments.code, {})
            print(f"{arguments.code}: {', '.join(recorded) or 'no identity recorded'}")
            return 0
        if action == "name":
            await runtime.store.name_agency(arguments.code, arguments.name or None)
            await runtime.store.audit("cli", "agency.name", arguments.code, arguments.name)
            shown = (await runtime.store.agency_names()).get(arguments.code, arguments.code)
            print(f"{arguments.code}: {shown}")
            return 0
        if action == "sync":
            if runtime.axis is None:
                raise ConfigurationError("no axis is configured (settings: axis)")
            count = await sync_agencies(runtime.store, runtime.axis)
            print(f"edxml-gateway directory: {count} agencies from the axis")
            return 0 if count else 1
        count, synced = await directory_state(runtime.store)
        for row in await runtime.store.directory_entries():
            recorded = json.loads(row["identities"]) if row["identities"] else []
            signers = f"\t{', '.join(recorded)}" if recorded else ""
            name = row["local_name"] or row["name"]
            print(f"{row['code']}\t{name}\t{row['source']}{signers}")
        when = synced.isoformat(timespec="seconds") if synced else "never"
        print(f"{count} agencies from the axis, synchronised {when}")
        return 0


async def run_clients(settings: GatewaySettings, arguments: argparse.Namespace) -> int:
    engine = create_engine(settings.store_url, schema=settings.database_schema)
    store = Store(engine)
    try:
        if is_sqlite(settings.store_url):
            await migrate(engine)
        if arguments.clients_command == "add":
            client, key = await create_client(store, arguments.name, list(arguments.agency))
            await store.audit("cli", "client.add", client.id, client.name)
            print(f"client {client.id} ({client.name}) for {', '.join(client.agencies)}")
            print(f"key (shown once, keep it secret): {key}")
            return 0
        revoked = await revoke_client(store, arguments.client_id)
        await store.audit("cli", "client.revoke", arguments.client_id, None if revoked else "none")
        print(f"{arguments.client_id}: {'revoked' if revoked else 'no such active client'}")
        return 0 if revoked else 1
    finally:
        await engine.dispose()


async def run_users(settings: GatewaySettings, arguments: argparse.Namespace) -> int:
    engine = create_engine(settings.store_url, schema=settings.database_schema)
    store = Store(engine)
    try:
        if is_sqlite(settings.store_url):
            await migrate(engine)
        if arguments.users_command == "add":
            password = os.environ.get(arguments.password_env)
            if not password:
                print(f"set {arguments.password_env} to the new account's password")
                return 2
            proposed = propose_username(arguments.full_name, arguments.unit)
            username, clashed = await available_username(store, proposed)
            try:
                await create_user(
                    store,
                    username=username,
                    full_name=arguments.full_name,
                    unit=arguments.unit,
                    role=arguments.role,
                    agencies=list(arguments.agency),
                    password=password,
                    by="cli",
                )
            except AccountError as exc:
                print(f"not created: {exc}")
                return 2
            note = f" ({proposed} is taken: Điều 7.2b)" if clashed else ""
            print(f"account {username}{note}: {arguments.role} for {', '.join(arguments.agency)}")
            return 0
        if arguments.users_command == "lock":
            changed = await lock_user(
                store, arguments.username, locked=not arguments.unlock, by="cli"
            )
            print(
                f"{arguments.username}: {'unlocked' if arguments.unlock else 'locked'}"
                if changed
                else f"{arguments.username}: no such account"
            )
            return 0 if changed else 1
        for row in await store.users():
            state = "locked" if row["locked"] else "active"
            agencies = json.dumps(row["agencies"])
            print(f"{row['username']}\t{row['role']}\t{state}\t{row['full_name']}\t{agencies}")
        return 0
    finally:
        await engine.dispose()


async def run_report(settings: GatewaySettings, arguments: argparse.Namespace) -> int:
    try:
        start, end = dt.date.fromisoformat(arguments.start), dt.date.fromisoformat(arguments.end)
    except ValueError:
        print("--from and --to are dates: YYYY-MM-DD")
        return 2
    if end < start:
        print("--to comes before --from")
        return 2
    engine = create_engine(settings.store_url, schema=settings.database_schema)
    store = Store(engine)
    try:
        data = (await report_file(store, arguments.format, start, end, arguments.agency)).data
    finally:
        await engine.dispose()
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_bytes(data)
    print(f"{arguments.output}: {arguments.format}, {start} to {end}, {arguments.agency}")
    return 0


async def run_retention(settings: GatewaySettings, arguments: argparse.Namespace) -> int:
    if arguments.older_than_days < 1:
        print("--older-than-days is at least 1")
        return 2
    engine = create_engine(settings.store_url, schema=settings.database_schema)
    store = Store(engine)
    try:
        expired = await past_retention(store, arguments.older_than_days)
        size = sum(item.package_size for item in expired)
        print(f"{len(expired)} messages older than {arguments.older_than_days} days, {size} bytes")
        for item in expired[:20]:
            print(f"  {item.created_at:%Y-%m-%d}  {item.document_id}")
        if not arguments.delete:
            return 0
        if not arguments.yes:
            print("not removed: add --yes to confirm (the metadata stays, the packages go)")
            return 1
        removed = await remove_packages(
            store, BlobStore(settings.data_dir / "blobs"), expired, by="cli"
        )
        print(f"removed {removed} package files; the messages' metadata is kept")
        return 0
    finally:
        await engine.dispose()


async def run_alerts_command(settings: GatewaySettings, arguments: argparse.Namespace) -> int:
    """List the alerts in force (exit 1 if any); ``--check`` evaluates and tells the sinks
    now; ``--test`` sends a test alert through each configured sink."""
    if arguments.test:
        sinks = sinks_from_settings(settings.alerts, os.environ)
        if not sinks:
            print("no sink configured: set alerts.smtp and/or alerts.webhook")
            return 2
        test = AlertChange("test", "test", "raised", {}, dt.datetime.now(dt.UTC))
        failed = 0
        for sink in sinks:
            try:
                await sink.send([test])
                print(f"ok   {sink.name}")
            except Exception as exc:  # report each sink, whatever went wrong
                failed += 1
                print(f"FAIL {sink.name}: {type(exc).__name__}: {exc}")
        return 1 if failed else 0
    if arguments.check:
        async with Runtime(settings) as runtime:
            changes = await evaluate(
                runtime.store, runtime.signers, settings.alerts, extra=runtime.operational_alerts
            )
            for change in changes:
                print(f"{change.change}: {change.text('en')}")
            told = await notify_pending(
                runtime.store, sinks_from_settings(settings.alerts, os.environ)
            )
            print(f"{told} changes told to the sinks")
            active = await active_alerts(runtime.store)
    else:
        engine = create_engine(settings.store_url, schema=settings.database_schema)
        try:
            active = await active_alerts(Store(engine))
        finally:
            await engine.dispose()
    for alert in active:
        print(f"{alert.at:%Y-%m-%d %H:%M} UTC  {alert.key}  {alert.text('en')}")
    if not active:
        print("no alert in force")
    return 1 if active else 0
