"""``edxml-gateway``: the service's command line.

For now it knows its version; the service commands arrive with the issues that build them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import edxml

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edxml-gateway",
        description="edXML document-exchange gateway (QCVN 102:2016) "
        "for Vietnamese state agencies.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("version", help="print the gateway version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.command == "version":
        print(f"edxml-gateway {edxml.__version__}")
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
