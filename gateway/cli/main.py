"""``edxml-gateway``: the service's command line.

Commands: ``version``; ``simulate-axis`` (the axis simulator on its own, for a local QLVB
team to test against); ``demo``; ``send`` and ``status`` (a client of a running gateway);
``migrate``, ``worker``, ``serve``, ``requeue``, ``alerts`` and the other service commands
(see ``gateway.cli.service``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import edxml
from adapters.errors import ConfigurationError, TransportError

__all__ = ["main"]

DEFAULT_SIMULATOR_CONFIG = Path("config/axis-simulator.json")
#: The commands that load the gateway's settings (--config and EDXML_* variables).
SERVICE_COMMANDS = (
    "migrate",
    "worker",
    "serve",
    "requeue",
    "clients",
    "users",
    "report",
    "backup",
    "restore",
    "check-config",
    "retention",
    "alerts",
    "directory",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edxml-gateway",
        description="edXML document-exchange gateway (QCVN 102:2016) "
        "for Vietnamese state agencies.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("version", help="print the gateway version")
    simulate = commands.add_parser(
        "simulate-axis",
        help="run the national-axis simulator (REST + SOAP) until interrupted",
        description="Serve the axis API (spec 3.3) and the legacy SOAP hub face from memory, "
        "checking the SDK's HMAC headers with the secrets of the config file.",
    )
    simulate.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_SIMULATOR_CONFIG,
        help=f"simulator config (JSON; default {DEFAULT_SIMULATOR_CONFIG})",
    )
    simulate.add_argument("--host", default="127.0.0.1", help="address to listen on")
    simulate.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    send = commands.add_parser("send", help="send a document record to a running gateway")
    send.add_argument("record", type=Path, help="the record (JSON, as for `python -m edxml build`)")
    send.add_argument(
        "--resend",
        action="store_true",
        help="send a DocumentId that was sent before, on purpose (otherwise refused)",
    )
    status = commands.add_parser("status", help="each recipient's state of a sent document")
    status.add_argument("message_id")
    for command in (send, status):
        command.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway")
        command.add_argument("--key", default=None, help="API key (or EDXML_API_KEY)")
    demo = commands.add_parser(
        "demo", help="the whole gateway with demo data and the axis simulator (make run)"
    )
    demo.add_argument("--data", type=Path, default=Path("demo-data"), help="its folder")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080, help="port (0: any free port)")

    def with_config(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        command.add_argument(
            "--config",
            type=Path,
            default=None,
            help="settings file (YAML); EDXML_* variables override it",
        )
        return command

    with_config(commands.add_parser("migrate", help="create or upgrade the database tables"))
    with_config(commands.add_parser("worker", help="run the delivery workers and the axis poller"))
    serve = with_config(commands.add_parser("serve", help="run the gateway (HTTP and workers)"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    clients = commands.add_parser("clients", help="API clients (QLVB instances) and their keys")
    client_commands = clients.add_subparsers(
        dest="clients_command", metavar="ACTION", required=True
    )
    add = with_config(
        client_commands.add_parser("add", help="create a client; prints its key once")
    )
    add.add_argument("name")
    add.add_argument(
        "--agency", action="append", required=True, help="OrganId or pattern (*.H42); repeat"
    )
    revoke = with_config(client_commands.add_parser("revoke", help="revoke a client's key"))
    revoke.add_argument("client_id")
    users = commands.add_parser("users", help="dashboard accounts")
    user_commands = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    user_add = with_config(user_commands.add_parser("add", help="create an account (Điều 7 names)"))
    user_add.add_argument("full_name", help='e.g. "Nguyễn Văn Dũng"')
    user_add.add_argument("unit", help="the unit's abbreviation, e.g. STTTT")
    user_add.add_argument("--role", choices=("viewer", "clerk", "admin"), default="viewer")
    user_add.add_argument("--agency", action="append", required=True, help="OrganId or pattern")
    user_add.add_argument("--password-env", required=True, help="variable holding the password")
    user_lock = with_config(user_commands.add_parser("lock", help="lock an account (Điều 23.1c)"))
    user_lock.add_argument("username")
    user_lock.add_argument("--unlock", action="store_true")
    with_config(user_commands.add_parser("list", help="list the accounts"))
    report = with_config(
        commands.add_parser("report", help="the six-monthly report, or an ND30 register")
    )
    report.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    report.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    report.add_argument("--agency", default="*", help="OrganId or pattern (default: all)")
    report.add_argument(
        "--format",
        choices=("csv", "xlsx", "html", "register-out", "register-in"),
        default="xlsx",
        help="register-out/-in: the 10-column books of Nghị định 30 (XLSX)",
    )
    report.add_argument("-o", "--output", type=Path, required=True)
    backup = with_config(
        commands.add_parser("backup", help="snapshot the store and blobs (Điều 18.2)")
    )
    backup.add_argument("folder", type=Path)
    restore = with_config(
        commands.add_parser("restore", help="restore a snapshot into an empty deployment")
    )
    restore.add_argument("folder", type=Path)
    with_config(
        commands.add_parser("check-config", help="validate the settings and try each connection")
    )
    retention = with_config(
        commands.add_parser(
            "retention", help="list (or, confirmed, remove) packages past retention"
        )
    )
    retention.add_argument("--older-than-days", type=int, required=True)
    retention.add_argument("--delete", action="store_true", help="remove their package files")
    retention.add_argument("--yes", action="store_true", help="confirm the removal")
    alerts = with_config(
        commands.add_parser(
            "alerts",
            help="the operator alerts in force (exit 1 if any); --check, --test",
            description="List the alerts in force: failing destinations, dead letters, "
            "certificates near expiry. Exit 0 when there is none, 1 when there are.",
        )
    )
    alerts.add_argument(
        "--check", action="store_true", help="evaluate now and tell the e-mail/webhook sinks"
    )
    alerts.add_argument(
        "--test", action="store_true", help="send a test alert through each configured sink"
    )
    directory = commands.add_parser(
        "directory", help="the agencies directory: synchronise it from the axis, or list it"
    )
    directory_commands = directory.add_subparsers(
        dest="directory_command", metavar="ACTION", required=True
    )
    with_config(directory_commands.add_parser("sync", help="synchronise it now (getAgenciesList)"))
    with_config(directory_commands.add_parser("list", help="list it, with its age"))
    identity = with_config(
        directory_commands.add_parser(
            "identity",
            help="record the certificates that may sign for an agency (UID=MNS:..., OU=...)",
        )
    )
    identity.add_argument("code", help="the agency's OrganId")
    identity.add_argument("identities", nargs="*", metavar="IDENTITY", help="none: clear them")
    requeue = with_config(
        commands.add_parser("requeue", help="put failed deliveries back in the queue")
    )
    requeue.add_argument("delivery_ids", nargs="+", metavar="DELIVERY_ID")
    return parser


async def _simulate(config_path: Path, host: str, port: int) -> None:
    # Imported here: the rest of the CLI must not pay for the simulator's imports.
    from devtools.axis_simulator import AxisSimulator, load_simulator_config  # noqa: PLC0415

    config = load_simulator_config(config_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with AxisSimulator(config, host=host, port=port) as simulator:
        print(f"axis simulator listening on {simulator.url}", flush=True)
        print(f"  REST (VDXP): {simulator.url}/sendEdoc, /getReceivedEdocList, ...")
        print(f"  SOAP hub:    {simulator.url}/soap/edoc (WSDL: {simulator.url}/soap/edoc?wsdl)")
        for system in config.systems:
            codes = ", ".join(agency.code for agency in system.agencies)
            print(f"  system {system.system_id} ({system.name or '-'}): {codes}")
        if config.admin_token:
            print(f"  faults: PUT {simulator.url}/_admin/faults (Authorization: Bearer ...)")
        print("Ctrl-C stops it.", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.command == "version":
        print(f"edxml-gateway {edxml.__version__}")
        return 0
    if arguments.command in SERVICE_COMMANDS:
        return _service(arguments)
    if arguments.command in ("send", "status"):
        from gateway.cli import client as client_commands  # noqa: PLC0415 (only when asked)

        try:
            key = client_commands.api_key(arguments.key)
            if arguments.command == "send":
                sent = asyncio.run(
                    client_commands.run_send(
                        arguments.record, arguments.url, key, resend=arguments.resend
                    )
                )
                print(f"accepted: {sent['document_id']}")
                print(f"  follow it: edxml-gateway status {sent['id']}")
            else:
                print(
                    asyncio.run(
                        client_commands.run_status(arguments.message_id, arguments.url, key)
                    )
                )
        except client_commands.CommandError as exc:
            print(f"edxml-gateway {arguments.command}: {exc}", file=sys.stderr)
            return 2
        return 0
    if arguments.command == "demo":
        from devtools.demo import run_demo  # noqa: PLC0415 (the service's imports, only when asked)

        try:
            asyncio.run(run_demo(arguments.data, arguments.host, arguments.port))
        except (ConfigurationError, edxml.KeyMaterialError, OSError) as exc:
            print(f"edxml-gateway demo: {exc}", file=sys.stderr)
            return 2
        return 0
    if arguments.command == "simulate-axis":
        try:
            asyncio.run(_simulate(arguments.config, arguments.host, arguments.port))
        except ConfigurationError as exc:
            print(f"edxml-gateway simulate-axis: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # the port is taken, the address is not ours
            print(f"edxml-gateway simulate-axis: cannot listen: {exc}", file=sys.stderr)
            return 2
        return 0
    parser.print_help()
    return 0


def _service(arguments: argparse.Namespace) -> int:
    # Imported here: `edxml-gateway version` must not pay for the service's imports.
    from gateway.cli import service as commands  # noqa: PLC0415

    name = f"edxml-gateway {arguments.command}"
    try:
        settings = commands.settings_from(arguments.config)
        if arguments.command == "migrate":
            where = asyncio.run(commands.run_migrate(settings))
            print(f"{name}: the database is up to date ({where})")
        elif arguments.command == "worker":
            asyncio.run(commands.run_worker(settings))
        elif arguments.command == "alerts":
            return asyncio.run(commands.run_alerts_command(settings, arguments))
        elif arguments.command == "retention":
            return asyncio.run(commands.run_retention(settings, arguments))
        elif arguments.command == "directory":
            return asyncio.run(commands.run_directory(settings, arguments))
        elif arguments.command == "check-config":
            from gateway.cli.check_config import check_config  # noqa: PLC0415

            checked = asyncio.run(check_config(settings))
            for part, ok, detail in checked:
                print(f"{'ok  ' if ok else 'FAIL'} {part}: {detail}")
            return 0 if all(ok for _, ok, _ in checked) else 1
        elif arguments.command in ("backup", "restore"):
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
        elif arguments.command == "report":
            return asyncio.run(commands.run_report(settings, arguments))
        elif arguments.command == "users":
            return asyncio.run(commands.run_users(settings, arguments))
        elif arguments.command == "clients":
            return asyncio.run(commands.run_clients(settings, arguments))
        elif arguments.command == "serve":
            asyncio.run(commands.run_serve(settings, arguments.host, arguments.port))
        else:
            results = asyncio.run(commands.run_requeue(settings, arguments.delivery_ids))
            for delivery_id, requeued in results:
                print(f"{delivery_id}: {'requeued' if requeued else 'not failed (left as it is)'}")
            return 0 if all(requeued for _, requeued in results) else 1
    except (ConfigurationError, edxml.KeyMaterialError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except TransportError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
