"""``python -m edxml``: inspect, validate, extract and build packages from the shell
(and sign/verify them: ``_cli_signatures``).

The library is pure; this module is its only part that touches files (the caller's edge).
Exit codes: 0 success, 1 the package has problems, 2 the command could not run (no such
file, unreadable package, bad record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ._build import document_id_of
from ._build_wire import iter_build
from ._cli_signatures import CommandFailed, add_signature_commands
from ._errors import EdxmlError
from ._filenames import safe_filename
from ._model import BusinessDocType, DocumentPackage, Organization, Package, Priority, StatusPackage
from ._parse import parse
from ._records import from_record, to_record
from ._trust import VIETNAM
from ._validate import validate
from ._values import format_date, format_timestamp

__all__ = ["main"]

_PRIORITY_LABELS: dict[int, str] = {
    Priority.NORMAL: "thường",
    Priority.URGENT: "khẩn",
    Priority.VERY_URGENT: "thượng khẩn",
    Priority.FLASH: "hỏa tốc",
    Priority.FLASH_SCHEDULED: "hỏa tốc hẹn giờ",
}
_BUSINESS_LABELS: dict[int, str] = {
    BusinessDocType.NEW: "new document",
    BusinessDocType.REVOKE: "revocation (thu hồi)",
    BusinessDocType.UPDATE: "update (cập nhật)",
    BusinessDocType.REPLACE: "replacement (thay thế)",
}


def _read_package(path: str) -> Package:
    try:
        with open(path, "rb") as handle:
            return parse(handle)
    except OSError as exc:
        raise CommandFailed(f"cannot read {path}: {exc.strerror}") from None
    except EdxmlError as exc:
        raise CommandFailed(f"{path}: {exc}") from None


def _org(org: Organization) -> str:
    return f"{org.organ_id}  {org.organ_name or org.organization_in_charge or ''}".rstrip()


def _print_document(package: DocumentPackage, out: TextIO) -> None:
    rows: list[tuple[str, str]] = [
        ("Kind", "document package"),
        ("Sender", _org(package.sender)),
    ]
    rows += [("Recipient" if i == 0 else "", _org(org)) for i, org in enumerate(package.recipients)]
    if not package.recipients:
        rows.append(("Recipient", "(none)"))
    place = f" ({package.promulgation.place})" if package.promulgation.place else ""
    rows += [
        ("Number", str(package.code)),
        ("DocumentId", document_id_of(package)),
        ("Date", format_date(package.promulgation.date) + place),
        ("Type", f"{package.document_type.type_name} (type {package.document_type.type})"),
        ("Subject", package.subject),
    ]
    if package.signer:
        signer = " ".join(p for p in (package.signer.competence, package.signer.position) if p)
        rows.append(("Signer", f"{package.signer.full_name or ''}, {signer}".strip(", ")))
    if package.business is not None:
        label = _BUSINESS_LABELS.get(package.business.doc_type, "unknown type")
        target = f" of {package.business.document_id}" if package.business.document_id else ""
        rows.append(("Business", f"{package.business.doc_type} {label}{target}"))
    priority = package.other_info.priority if package.other_info else None
    if priority is not None:
        rows.append(("Priority", f"{priority} ({_PRIORITY_LABELS.get(priority, 'unknown')})"))
    if package.due_date:
        rows.append(("Due date", format_date(package.due_date)))
    rows += [
        ("Responds to", f"{item.code or ''} {item.document_id or ''}".strip())
        for item in package.response_for
    ]
    rows.append(("Signature", _signature_label(package)))
    rows.append(("Attachments", str(len(package.attachments))))
    _print_rows(rows, out)
    for attachment in package.attachments:
        size = "not carried" if attachment.size is None else f"{attachment.size:,} bytes"
        print(
            f"  cid:{attachment.content_id}  {attachment.name}  {size}  ({attachment.media_type})",
            file=out,
        )


def _signature_label(package: Package) -> str:
    if package.signature is None:
        return "none"
    if package.signature.in_xmldsig_namespace:
        return "present (XMLDSig)"
    return "present, outside the xmldsig namespace (VNPT builder defect)"


def _print_status(package: StatusPackage, out: TextIO) -> None:
    status = package.status
    meaning = status.meaning if status else "unknown code"
    rows = [
        ("Kind", "status package"),
        ("Status", f"{package.status_code} {meaning}"),
        ("Reported by", _org(package.sender)),
        ("About", package.response_for.document_id or "(no DocumentId)"),
        ("Number", package.response_for.code or ""),
        ("Document from", package.response_for.organ_id),
        ("Description", package.description or ""),
        ("Time", format_timestamp(package.timestamp)),
    ]
    if package.staff:
        rows.append(
            ("Staff", ", ".join(p for p in (package.staff.staff, package.staff.department) if p))
        )
    rows.append(("Signature", _signature_label(package)))
    _print_rows(rows, out)


def _print_rows(rows: Sequence[tuple[str, str]], out: TextIO) -> None:
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        print(f"{label + ':' if label else '':<{width}}{value}", file=out)


def _inspect(args: argparse.Namespace, out: TextIO) -> int:
    package = _read_package(args.file)
    if args.json:
        record = to_record(package)
        record = {"kind": "status" if isinstance(package, StatusPackage) else "document", **record}
        if isinstance(package, DocumentPackage):
            record["document_id"] = document_id_of(package)
        json.dump(record, out, ensure_ascii=False, indent=2)
        print(file=out)
    elif isinstance(package, StatusPackage):
        _print_status(package, out)
    else:
        _print_document(package, out)
    return 0


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    try:
        with open(args.file, "rb") as handle:
            problems = validate(handle)
    except OSError as exc:
        raise CommandFailed(f"cannot read {args.file}: {exc.strerror}") from None
    for problem in problems:
        line = f"{problem.line}:" if problem.line else ""
        print(f"{args.file}:{line} {problem.describe(with_line=False)}", file=out)
    if problems:
        return 1
    print(f"{args.file}: valid", file=out)
    return 0


def _extract(args: argparse.Namespace, out: TextIO) -> int:
    package = _read_package(args.file)
    if not isinstance(package, DocumentPackage):
        raise CommandFailed(f"{args.file} is a status package; it has no attachments")
    target = Path(args.directory)
    target.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    missing = 0
    for attachment in package.attachments:
        if attachment.data is None:
            print(
                f"skipped cid:{attachment.content_id} ({attachment.name}): not carried",
                file=sys.stderr,
            )
            missing += 1
            continue
        # Never trust a sender's file name as a path: make it conforming, then unique.
        name = safe_filename(attachment.name or attachment.content_id)
        stem, dot, extension = name.rpartition(".")
        stem, extension = (stem, f".{extension}") if dot else (name, "")
        counter = 1
        while name in used or (target / name).exists():
            counter += 1
            name = f"{stem}-{counter}{extension}"
        used.add(name)
        (target / name).write_bytes(attachment.data)
        print(f"{target / name}  {len(attachment.data):,} bytes", file=out)
    return 1 if missing else 0


def _load_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandFailed(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandFailed(f"{path} is not a JSON record: {exc}") from None
    if not isinstance(record, dict):
        raise CommandFailed(f"{path}: a record is a JSON object")
    for index, attachment in enumerate(record.get("attachments") or []):
        if isinstance(attachment, dict) and "path" in attachment:
            file = path.parent / attachment.pop("path")
            try:
                attachment["data"] = file.read_bytes()
            except OSError as exc:
                raise CommandFailed(
                    f"attachments[{index}]: cannot read {file}: {exc.strerror}"
                ) from None
            attachment.setdefault("name", file.name)
    return record


def _build(args: argparse.Namespace, out: TextIO) -> int:
    record_path = Path(args.record)
    try:
        # edXML timestamps are Vietnam local time without a zone (spec 1.7)
        now = dt.datetime.now(VIETNAM).replace(tzinfo=None)
        package = from_record(_load_record(record_path), now=now)
    except EdxmlError as exc:
        raise CommandFailed(f"{record_path}: {exc}") from None
    problems = validate(package)
    for problem in problems:
        print(f"{record_path}: {problem}", file=out)
    if problems and not args.force:
        print(f"not written: {len(problems)} problem(s); --force writes it anyway", file=out)
        return 1
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a crash never leaves half a package.
    with tempfile.NamedTemporaryFile(
        dir=output.parent, prefix=f".{output.name}.", delete=False
    ) as handle:
        try:
            for chunk in iter_build(package):
                handle.write(chunk)
        except BaseException:
            handle.close()
            os.unlink(handle.name)
            raise
    os.replace(handle.name, output)
    label = document_id_of(package) if isinstance(package, DocumentPackage) else package.status_code
    print(f"wrote {output} ({output.stat().st_size:,} bytes; {label})", file=out)
    return 1 if problems else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m edxml", description="Work with edXML packages (QCVN 102:2016)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = commands.add_parser("inspect", help="show a readable summary of a package")
    inspect.add_argument("file")
    inspect.add_argument("--json", action="store_true", help="print the package as a JSON record")
    inspect.set_defaults(run=_inspect)
    check = commands.add_parser("validate", help="check against the XSD and business rules")
    check.add_argument("file")
    check.set_defaults(run=_validate)
    extract = commands.add_parser("extract", help="write the attached files into a directory")
    extract.add_argument("file")
    extract.add_argument("directory")
    extract.set_defaults(run=_extract)
    make = commands.add_parser("build", help="build a package from a JSON record")
    make.add_argument("record")
    make.add_argument("-o", "--output", required=True)
    make.add_argument("--force", action="store_true", help="write even if the package has problems")
    make.set_defaults(run=_build)
    add_signature_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        return int(arguments.run(arguments, out or sys.stdout))
    except CommandFailed as failure:
        print(f"edxml: error: {failure}", file=sys.stderr)
        return 2
