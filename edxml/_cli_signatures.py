"""``python -m edxml`` signature commands: sign, verify, pdf-sign, pdf-verify.

They read key files, trust folders and CRLs, and with ``--online`` fetch revocation over
HTTP; the PDF commands load pyhanko only when they run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from cryptography import x509

from ._dsig import VerifyPolicy, sign, verify
from ._errors import EdxmlError, KeyMaterialError, PdfSignatureError
from ._key_files import SigningIdentity, load_signing_identity, load_trust_store
from ._online_revocation import HttpRevocationChecker, RevocationConfig
from ._rfc3161 import Rfc3161Validator
from ._trust import VIETNAM, Check, RevocationChecker, StaticRevocation

__all__ = ["CommandFailed", "add_signature_commands"]


class CommandFailed(Exception):
    """The command cannot run (exit code 2); the message is for the user."""


# -- shared option handling -------------------------------------------------------------------


def _identity(args: argparse.Namespace) -> SigningIdentity:
    try:
        return load_signing_identity(
            Path(args.key),
            certificate=Path(args.cert) if args.cert else None,
            password_env=args.password_env,
            password_file=Path(args.password_file) if args.password_file else None,
        )
    except KeyMaterialError as exc:
        raise CommandFailed(str(exc)) from None


def _trust_and_revocation(args: argparse.Namespace) -> tuple[Any, RevocationChecker]:
    try:
        trust = load_trust_store(Path(args.trust))
    except KeyMaterialError as exc:
        raise CommandFailed(str(exc)) from None
    if args.online:
        return trust, HttpRevocationChecker(RevocationConfig(timeout_seconds=args.timeout))
    crls = []
    for path in args.crl:
        try:
            data = Path(path).read_bytes()
            crls.append(
                x509.load_pem_x509_crl(data)
                if data.startswith(b"-----")
                else x509.load_der_x509_crl(data)
            )
        except (OSError, ValueError) as exc:
            raise CommandFailed(f"cannot read the CRL {path} ({exc})") from None
    return trust, StaticRevocation(crls=tuple(crls))


def _policy(args: argparse.Namespace) -> VerifyPolicy:
    return VerifyPolicy(
        revocation="hard-fail" if args.hard_fail else "soft-fail",
        allow_sha1=not args.no_sha1,
        on_failure="flag" if args.flag_only else "reject",
    )


def _print_checks(checks: Sequence[Check], out: TextIO, indent: str = "  ") -> None:
    for check in checks:
        print(f"{indent}{check.name:<16} {check.state.value:<8} {check.detail}", file=out)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandFailed(f"cannot read {path}: {exc.strerror}") from None


def _write_output(path: str, data: bytes, out: TextIO, label: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, target)
    print(f"wrote {target} ({len(data):,} bytes; {label})", file=out)


# -- package signatures -----------------------------------------------------------------------


def _sign(args: argparse.Namespace, out: TextIO) -> int:
    identity = _identity(args)
    try:
        signed = sign(_read(args.file), identity.key, identity.chain)
    except EdxmlError as exc:
        raise CommandFailed(f"{args.file}: {exc}") from None
    _write_output(
        args.output, signed, out, f"signed by {identity.chain[0].subject.rfc4514_string()}"
    )
    return 0


def _timestamps(args: argparse.Namespace) -> Any:
    if not getattr(args, "tsa_trust", None):
        return None
    try:
        return Rfc3161Validator(load_trust_store(Path(args.tsa_trust)))
    except KeyMaterialError as exc:
        raise CommandFailed(str(exc)) from None


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    trust, revocation = _trust_and_revocation(args)
    timestamps = _timestamps(args)
    try:
        with open(args.file, "rb") as handle:
            result = verify(
                handle,
                trust=trust,
                policy=_policy(args),
                revocation=revocation,
                timestamps=timestamps,
            )
    except OSError as exc:
        raise CommandFailed(f"cannot read {args.file}: {exc.strerror}") from None
    except EdxmlError as exc:
        raise CommandFailed(f"{args.file}: {exc}") from None
    print(f"{args.file}: signature {'ACCEPTED' if result.accepted else 'REJECTED'}", file=out)
    _print_checks(result.checks, out)
    if result.signer:
        print(f"  signer: {result.signer}", file=out)
    if result.signing_time:
        when = result.signing_time.astimezone(VIETNAM).isoformat()
        print(f"  judged at: {when} ({result.signing_time_source})", file=out)
    if result.claimed_signing_time:
        claimed = result.claimed_signing_time.astimezone(VIETNAM).isoformat()
        print(
            f"  claimed signing time: {claimed} (the signer's TraceHeader; not trusted)", file=out
        )
    return 0 if result.accepted else 1


# -- PDF signatures ---------------------------------------------------------------------------


def _timestamper(url: str) -> Any:
    """pyhanko's RFC 3161 client, imported after ``edxml.pdf`` has loaded pyhanko."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    return HTTPTimeStamper(url)


def _pdf_sign(args: argparse.Namespace, out: TextIO) -> int:
    from .pdf import sign_pdf  # pyhanko: loaded only for the PDF commands

    identity = _identity(args)
    timestamper = _timestamper(args.tsa) if args.tsa else None
    try:
        signed = asyncio.run(
            sign_pdf(
                _read(args.file),
                identity,
                number_notation=args.number,
                field_name=args.field,
                timestamper=timestamper,
            )
        )
    except PdfSignatureError as exc:
        raise CommandFailed(f"{args.file}: {exc}") from None
    level = "PAdES B-T" if timestamper else "PAdES B-B"
    _write_output(
        args.output, signed, out, f"{level}, signed by {identity.chain[0].subject.rfc4514_string()}"
    )
    return 0


def _pdf_verify(args: argparse.Namespace, out: TextIO) -> int:
    from .pdf import verify_pdf  # pyhanko: loaded only for the PDF commands

    trust, revocation = _trust_and_revocation(args)
    try:
        result = asyncio.run(
            verify_pdf(
                _read(args.file),
                trust=trust,
                revocation=revocation,
                policy=_policy(args),
                issuer_identities=tuple(args.issuer or ()),
            )
        )
    except PdfSignatureError as exc:
        raise CommandFailed(f"{args.file}: {exc}") from None
    if not result.signatures:
        print(f"{args.file}: no signatures", file=out)
        return 1
    for report in result.signatures:
        verdict = "ACCEPTED" if report.accepted else "REJECTED"
        print(f"{args.file}: signature {report.field_name!r} {verdict}", file=out)
        _print_checks(report.checks, out)
        if report.signer:
            print(f"  signer: {report.signer}", file=out)
    kinds = [
        name
        for name, present in (
            ("the signer", result.person_signed),
            ("the agency", result.agency_signed),
        )
        if present
    ]
    print(
        f"signer and agency signatures: {'yes' if result.legal_value else 'no'} "
        f"(accepted: {' and '.join(kinds) or 'none'}; a main document needs both, the "
        "issuer's seal last, Nghị định 30/2020 Điều 5; an attached file carries the agency's "
        "alone, Phụ lục I)",
        file=out,
    )
    for problem in result.legal_value_problems:
        print(f"  - {problem}", file=out)
    accepted = all(report.accepted for report in result.signatures)
    return 0 if accepted and (result.legal_value or not args.require_legal_value) else 1


# -- wiring -----------------------------------------------------------------------------------


def _key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", required=True, help="PEM private key, or a .p12/.pfx bundle")
    parser.add_argument("--cert", help="PEM certificate chain, signer first (with a PEM key)")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument(
        "--password-env", metavar="VAR", help="environment variable holding the key password"
    )
    secret.add_argument("--password-file", metavar="FILE", help="file holding the key password")


def _trust_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust", required=True, metavar="DIR", help="folder of trusted root and CA certificates"
    )
    parser.add_argument(
        "--crl", action="append", default=[], metavar="FILE", help="a CRL to check revocation with"
    )
    parser.add_argument(
        "--online", action="store_true", help="fetch OCSP/CRL over HTTP (default: offline)"
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per OCSP/CRL request")
    parser.add_argument(
        "--hard-fail", action="store_true", help="reject when revocation is unknown"
    )
    parser.add_argument("--no-sha1", action="store_true", help="reject SHA-1 signatures")
    parser.add_argument("--flag-only", action="store_true", help="accept whatever fails, report it")


def add_signature_commands(commands: Any) -> None:
    sign_cmd = commands.add_parser("sign", help="sign a package (XMLDSig in edXMLHeader)")
    sign_cmd.add_argument("file")
    sign_cmd.add_argument("-o", "--output", required=True)
    _key_options(sign_cmd)
    sign_cmd.set_defaults(run=_sign)

    verify_cmd = commands.add_parser(
        "verify", help="verify a package signature; exit 0 if accepted"
    )
    verify_cmd.add_argument("file")
    _trust_options(verify_cmd)
    verify_cmd.add_argument(
        "--tsa-trust",
        metavar="DIR",
        help="trusted time-stamping authorities: a signature timestamp they sign is the time "
        "the certificate is judged at (otherwise: now)",
    )
    verify_cmd.set_defaults(run=_verify)

    pdf_sign = commands.add_parser("pdf-sign", help="sign a PDF as the agency (PAdES)")
    pdf_sign.add_argument("file")
    pdf_sign.add_argument("-o", "--output", required=True)
    pdf_sign.add_argument("--number", help="số/ký hiệu for the visible stamp (top-right, page 1)")
    pdf_sign.add_argument("--field", default="AgencySignature", help="signature field name")
    pdf_sign.add_argument("--tsa", metavar="URL", help="timestamp server (PAdES B-T)")
    _key_options(pdf_sign)
    pdf_sign.set_defaults(run=_pdf_sign)

    pdf_verify = commands.add_parser(
        "pdf-verify", help="verify every signature of a PDF; exit 0 if accepted"
    )
    pdf_verify.add_argument("file")
    pdf_verify.add_argument(
        "--require-legal-value", action="store_true", help="also need signer and agency signatures"
    )
    pdf_verify.add_argument(
        "--issuer",
        action="append",
        metavar="IDENTITY",
        help="the issuing agency's certificate: UID=MNS:..., OU=..., CN=..., SERIAL=... (repeat)",
    )
    _trust_options(pdf_verify)
    pdf_verify.set_defaults(run=_pdf_verify)
