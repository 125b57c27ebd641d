"""The service commands by name: each loads nothing it does not need, runs to completion and
returns the process' exit code (0 done, 1 the answer is "no", 2 a problem the user can fix)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from gateway.cli import service as commands
from gateway.cli.evidence import run_evidence_command
from gateway.cli.poison import run_poison
from gateway.config import GatewaySettings
from gateway.operate.requeue import since_time

__all__ = ["run_service_command"]

Command = Callable[[GatewaySettings, argparse.Namespace, str], int]


def _migrate(settings: GatewaySettings, arguments: argparse.Namespace, name: str) -> int:
    where = asyncio.run(commands.run_migrate(settings))
    print(f"{name}: the database is up to date ({where})")
    return 0


def _worker(settings: GatewaySettings, arguments: argparse.Namespace, name: str) -> int:
    asyncio.run(commands.run_worker(settings))
    return 0


def _serve(settings: GatewaySettings, arguments: argparse.Namespace, name: str) -> int:
    asyncio.run(commands.run_serve(settings, arguments.host, arguments.port))
    return 0


def _check_config(settings: GatewaySettings, arguments: argparse.Namespace, name: str) -> int:
    from gateway.cli.check_config import check_config  # noqa: PLC0415 (its probes' imports)

    checked = asyncio.run(check_config(settings))
    for part, ok, detail in checked:
        print(f"{'ok  ' if ok else 'FAIL'} {part}: {detail}")
    return 0 if all(ok for _, ok, _ in checked) else 1


def _backup_or_restore(settings: GatewaySettings, arguments: argparse.Namespace, name: str) -> int:
    from gateway.operate.backup import BackupError, backup, restore  # noqa: PLC0415

    try:
        if arguments.command == "backup":
            manifest = backup(settings, arguments.folder)
        else:
            manifest = asyncio.run(restore(settings, arguments.folder))
    except BackupError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    files, kind = len(manifest["files"]), manifest["database"]
    print(f"{name}: {files} files, {kind}, {arguments.folder}")
    return 0


def _requeue(settings: GatewaySettings, arguments: argparse.Namespace, name: str) -> int:
    destination = None
    if arguments.destination or arguments.since:
        try:
            since = since_time(arguments.since or "")
        except ValueError:
            print(f"{name}: --destination needs --since YYYY-MM-DDTHH:MM", file=sys.stderr)
            return 2
        if not arguments.destination:
            print(f"{name}: --since needs --destination", file=sys.stderr)
            return 2
        destination = (arguments.destination, since)
    elif not arguments.delivery_ids:
        print(f"{name}: name the deliveries, or --destination and --since", file=sys.stderr)
        return 2
    results = asyncio.run(
        commands.run_requeue(
            settings,
            arguments.delivery_ids,
            corrected=arguments.corrected,
            destination=destination,
        )
    )
    if destination is not None and not arguments.delivery_ids:
        print(f"{name}: {len(results)} requeued towards {destination[0]}")
        for delivery_id, _ in results:
            print(f"{delivery_id}: requeued")
        return 0
    left = "not failed, or refused for good (correct it, then --corrected): left as it is"
    for delivery_id, requeued in results:
        print(f"{delivery_id}: {'requeued' if requeued else left}")
    return 0 if all(requeued for _, requeued in results) else 1


def _async(run: Callable[..., object]) -> Command:
    """A command whose coroutine takes (settings, arguments) and returns the exit code."""

    def command(settings: GatewaySettings, arguments: argparse.Namespace, name: str) -> int:
        return int(asyncio.run(run(settings, arguments)))  # type: ignore[arg-type]

    return command


COMMANDS: dict[str, Command] = {
    "migrate": _migrate,
    "worker": _worker,
    "serve": _serve,
    "requeue": _requeue,
    "check-config": _check_config,
    "backup": _backup_or_restore,
    "restore": _backup_or_restore,
    "alerts": _async(commands.run_alerts_command),
    "retention": _async(commands.run_retention),
    "directory": _async(commands.run_directory),
    "report": _async(commands.run_report),
    "users": _async(commands.run_users),
    "clients": _async(commands.run_clients),
    "poison": _async(run_poison),
    "evidence": _async(run_evidence_command),
}


def run_service_command(arguments: argparse.Namespace, name: str) -> int:
    settings = commands.settings_from(arguments.config)
    return COMMANDS[arguments.command](settings, arguments, name)
