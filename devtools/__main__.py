"""``python -m devtools dev-ca DIR``: write a development PKI (not for production)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from devtools.dev_ca_files import write_dev_pki


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    dev_ca = commands.add_parser("dev-ca", help="make a development PKI (not for production)")
    dev_ca.add_argument("directory", type=Path)
    dev_ca.add_argument(
        "--base-url", default="http://127.0.0.1:8642", help="where its CRL/OCSP will be served"
    )
    dev_ca.add_argument(
        "--force", action="store_true", help="write into a folder that is not empty"
    )
    arguments = parser.parse_args(argv)
    try:
        write_dev_pki(
            arguments.directory, arguments.base_url, out or sys.stdout, force=arguments.force
        )
    except (FileExistsError, OSError) as exc:
        print(f"python -m devtools dev-ca: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
