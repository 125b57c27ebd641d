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
from typing import Any

import edxml
from adapters.errors import ConfigurationError, TransportError
from gateway.cli.arguments import add_service_commands

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
    "poison",
    "evidence",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edxml-gateway",
        description="edXML document-exchange gateway (QCVN 102:2016) "
        "for Vietnamese state agencies.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("version", help="print the gateway version")
    _add_tool_commands(commands)
    add_service_commands(commands)
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


def _add_tool_commands(commands: Any) -> None:
    """``simulate-axis``, ``send``, ``status`` and ``demo``: no settings file needed."""
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.command in SERVICE_COMMANDS:
        return _service(arguments)
    run = _COMMANDS.get(arguments.command)
    if run is None:
        parser.print_help()
        return 0
    return run(arguments)


def _version(arguments: argparse.Namespace) -> int:
    print(f"edxml-gateway {edxml.__version__}")
    return 0


def _client(arguments: argparse.Namespace) -> int:
    """``send`` and ``status``: the REST API of a running gateway."""
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
            for renamed in sent.get("renamed", []):
                print(
                    f"renamed attachments[{renamed['attachment']}]: {renamed['from']!r} -> "
                    f"{renamed['to']!r} ({renamed['rule']}: ASCII letters, digits, . - _)"
                )
            print(f"  follow it: edxml-gateway status {sent['id']}")
        else:
            print(asyncio.run(client_commands.run_status(arguments.message_id, arguments.url, key)))
    except client_commands.CommandError as exc:
        print(f"edxml-gateway {arguments.command}: {exc}", file=sys.stderr)
        return 2
    return 0


def _demo(arguments: argparse.Namespace) -> int:
    from devtools.demo import run_demo  # noqa: PLC0415 (the service's imports, only when asked)

    try:
        asyncio.run(run_demo(arguments.data, arguments.host, arguments.port))
    except (ConfigurationError, edxml.KeyMaterialError, OSError) as exc:
        print(f"edxml-gateway demo: {exc}", file=sys.stderr)
        return 2
    return 0


def _simulate_axis(arguments: argparse.Namespace) -> int:
    try:
        asyncio.run(_simulate(arguments.config, arguments.host, arguments.port))
    except ConfigurationError as exc:
        print(f"edxml-gateway simulate-axis: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the port is taken, the address is not ours
        print(f"edxml-gateway simulate-axis: cannot listen: {exc}", file=sys.stderr)
        return 2
    return 0


_COMMANDS = {
    "version": _version,
    "send": _client,
    "status": _client,
    "demo": _demo,
    "simulate-axis": _simulate_axis,
}


def _service(arguments: argparse.Namespace) -> int:
    # Imported here: `edxml-gateway version` must not pay for the service's imports.
    from gateway.cli.dispatch import run_service_command  # noqa: PLC0415
    from gateway.operate.memory import bound_arenas  # noqa: PLC0415

    bound_arenas()  # before any thread of the service allocates
    name = f"edxml-gateway {arguments.command}"
    try:
        return run_service_command(arguments, name)
    except (ConfigurationError, edxml.KeyMaterialError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except TransportError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
