"""The arguments of the service commands (those that load the gateway's settings)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.operate.reports import KINDS as REPORT_KINDS

__all__ = ["add_service_commands"]


def _with_config(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
    command.add_argument(
        "--config",
        type=Path,
        default=None,
        help="settings file (YAML; default: the file EDXML_CONFIG names); "
        "EDXML_* variables override it",
    )
    return command


def add_service_commands(commands: Any) -> None:
    """``migrate``, ``worker``, ``serve`` and the other commands that load the settings."""
    _with_config(commands.add_parser("migrate", help="create or upgrade the database tables"))
    _with_config(commands.add_parser("worker", help="run the delivery workers and the axis poller"))
    serve = _with_config(commands.add_parser("serve", help="run the gateway (HTTP and workers)"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    clients = commands.add_parser("clients", help="API clients (QLVB instances) and their keys")
    client_commands = clients.add_subparsers(
        dest="clients_command", metavar="ACTION", required=True
    )
    add = _with_config(
        client_commands.add_parser("add", help="create a client; prints its key once")
    )
    add.add_argument("name")
    add.add_argument(
        "--agency", action="append", required=True, help="OrganId or pattern (*.H42); repeat"
    )
    revoke = _with_config(client_commands.add_parser("revoke", help="revoke a client's key"))
    revoke.add_argument("client_id")
    users = commands.add_parser("users", help="dashboard accounts")
    user_commands = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    user_add = _with_config(
        user_commands.add_parser("add", help="create an account (Điều 7 names)")
    )
    user_add.add_argument("full_name", help='e.g. "Nguyễn Văn Dũng"')
    user_add.add_argument("unit", help="the unit's abbreviation, e.g. STTTT")
    user_add.add_argument("--role", choices=("viewer", "clerk", "admin"), default="viewer")
    user_add.add_argument("--agency", action="append", required=True, help="OrganId or pattern")
    user_add.add_argument("--password-env", required=True, help="variable holding the password")
    user_lock = _with_config(user_commands.add_parser("lock", help="lock an account (Điều 23.1c)"))
    user_lock.add_argument("username")
    user_lock.add_argument("--unlock", action="store_true")
    _with_config(user_commands.add_parser("list", help="list the accounts"))
    report = _with_config(
        commands.add_parser("report", help="the six-monthly report, or an ND30 register")
    )
    report.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    report.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    report.add_argument("--agency", default="*", help="OrganId or pattern (default: all)")
    report.add_argument(
        "--format",
        choices=REPORT_KINDS,
        default="xlsx",
        help="register-out/-in: the registers of Nghị định 30 (XLSX, or -html to print)",
    )
    report.add_argument("-o", "--output", type=Path, required=True)
    backup = _with_config(
        commands.add_parser("backup", help="snapshot the store and blobs (Điều 18.2)")
    )
    backup.add_argument("folder", type=Path)
    restore = _with_config(
        commands.add_parser("restore", help="restore a snapshot into an empty deployment")
    )
    restore.add_argument("folder", type=Path)
    _with_config(
        commands.add_parser("check-config", help="validate the settings and try each connection")
    )
    retention = _with_config(
        commands.add_parser(
            "retention", help="list (or, confirmed, remove) packages past retention"
        )
    )
    retention.add_argument("--older-than-days", type=int, required=True)
    retention.add_argument("--delete", action="store_true", help="remove their package files")
    retention.add_argument("--yes", action="store_true", help="confirm the removal")
    poison = _with_config(
        commands.add_parser(
            "poison", help="look at (list) or empty (drain) RabbitMQ's poison queue, audited"
        )
    )
    poison.add_argument("poison_command", choices=("list", "drain"))
    poison.add_argument("--limit", type=int, default=20, help="list: at most this many")
    alerts = _with_config(
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
    _add_directory(commands)
    _add_evidence(commands)
    requeue = _with_config(
        commands.add_parser("requeue", help="put failed deliveries back in the queue")
    )
    requeue.add_argument("delivery_ids", nargs="*", metavar="DELIVERY_ID")
    requeue.add_argument(
        "--destination", help="every failure towards this destination (with --since)"
    )
    requeue.add_argument(
        "--since",
        help="with --destination: failed at or after this time (YYYY-MM-DDTHH:MM, Vietnam time)",
    )
    requeue.add_argument(
        "--corrected",
        action="store_true",
        help="also those the destination refused for good, once their cause is corrected",
    )


def _add_directory(commands: Any) -> None:
    """``directory sync|list|identity|name``: the agencies directory."""
    directory = commands.add_parser(
        "directory", help="the agencies directory: synchronise it from the axis, or list it"
    )
    directory_commands = directory.add_subparsers(
        dest="directory_command", metavar="ACTION", required=True
    )
    _with_config(directory_commands.add_parser("sync", help="synchronise it now (getAgenciesList)"))
    _with_config(directory_commands.add_parser("list", help="list it, with its age"))
    identity = _with_config(
        directory_commands.add_parser(
            "identity",
            help="record the certificates that may sign for an agency (UID=MNS:..., OU=...)",
        )
    )
    identity.add_argument("code", help="the agency's OrganId")
    identity.add_argument("identities", nargs="*", metavar="IDENTITY", help="none: clear them")
    named = _with_config(
        directory_commands.add_parser(
            "name", help="give an agency the name shown here (kept across synchronisations)"
        )
    )
    named.add_argument("code", help="the agency's OrganId")
    named.add_argument("name", nargs="?", help="none: back to the directory's name")


def _add_evidence(commands: Any) -> None:
    """``evidence verify|export|seal``: the evidence log."""
    evidence = commands.add_parser(
        "evidence", help="the evidence log of what was sent and received: verify, export, seal"
    )
    actions = evidence.add_subparsers(dest="evidence_command", metavar="ACTION", required=True)
    verify = _with_config(actions.add_parser("verify", help="prove nothing was changed or removed"))
    verify.add_argument("--from", dest="first", type=int, default=1, help="first entry (1)")
    verify.add_argument("--to", dest="last", type=int, help="last entry (the newest)")
    export = _with_config(
        actions.add_parser("export", help="a period as one archive for the records office")
    )
    export.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    export.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    export.add_argument("-o", "--output", type=Path, required=True)
    _with_config(actions.add_parser("seal", help="sign the log's head now"))
