"""``python -m edxml`` signature commands: keys dev-ca, sign, verify, pdf-sign, pdf-verify.

These are the CLI's edge: they read key files, trust folders and CRLs, and may fetch
revocation over HTTP, so they import ``adapters`` (lazily, inside each command). The edxml
library modules never do.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import secrets
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)

from ._dsig import VerifyPolicy, sign, verify
from ._errors import EdxmlError
from ._trust import VIETNAM, Check, RevocationChecker, StaticRevocation
from .devca import DevPki, Issued, make_dev_pki

if TYPE_CHECKING:
    from adapters.keys import SigningIdentity

__all__ = ["CommandFailed", "add_signature_commands"]


class CommandFailed(Exception):
    """The command cannot run (exit code 2); the message is for the user."""


# -- keys dev-ca ----------------------------------------------------------------------------


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_text = "".join(char for char in ascii_text if not unicodedata.combining(char))
    return re.sub(r"[^A-Za-z0-9.]+", "-", ascii_text).strip("-").lower()


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if secret:  # created 0600 from the start, never readable by others even briefly
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(certificate.public_bytes(Encoding.PEM) for certificate in certificates)


def _write_identity(folder: Path, name: str, issued: Issued, pki: DevPki, out: TextIO) -> None:
    key_pem = issued.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    password = secrets.token_urlsafe(18).encode()
    bundle = pkcs12.serialize_key_and_certificates(
        name.encode(),
        issued.key,
        issued.certificate,
        [pki.intermediate.certificate],
        BestAvailableEncryption(password),
    )
    _write(folder / f"{name}.key.pem", key_pem, secret=True)
    _write(folder / f"{name}.chain.pem", _pem(*pki.chain(issued)))
    _write(folder / f"{name}.p12", bundle, secret=True)
    _write(folder / f"{name}.p12.password", password + b"\n", secret=True)
    subject = issued.certificate.subject.rfc4514_string()
    print(f"  {folder / name}.{{key.pem,chain.pem,p12,p12.password}}  {subject}", file=out)


_DEV_CA_README = """Development PKI made by `python -m edxml keys dev-ca` ({when}).
NOT FOR PRODUCTION.

trust/       root and intermediate CA certificates: `--trust {folder}/trust`
crl/         the CAs' CRLs (DER); the intermediate's lists the revoked certificate
ca/          CA keys, the OCSP responder's and the timestamping authority's
agencies/    one agency certificate per demo agency (<OrganId>.key.pem + .chain.pem, or .p12
             with its password in .p12.password)
signers/     personal signer certificates
revoked/     a certificate revoked on the CRL and by OCSP
Certificates point at {base_url}/crl/<ca>.crl and {base_url}/ocsp for revocation.
"""


def _dev_ca(args: argparse.Namespace, out: TextIO) -> int:
    folder = Path(args.directory)
    if folder.exists() and any(folder.iterdir()) and not args.force:
        raise CommandFailed(f"{folder} is not empty (--force overwrites)")
    pki = make_dev_pki(base_url=args.base_url)
    print(f"development PKI in {folder} (revocation at {pki.base_url}):", file=out)
    _write(folder / "trust" / "root.pem", _pem(pki.root.certificate))
    _write(folder / "trust" / "intermediate.pem", _pem(pki.intermediate.certificate))
    for name, crl in pki.crls.items():
        _write(folder / "crl" / f"{name}.crl", crl.public_bytes(Encoding.DER))
    for name, issued in (
        ("root", pki.root),
        ("intermediate", pki.intermediate),
        ("ocsp-responder", pki.ocsp_responder),
        ("tsa", pki.tsa),
    ):
        _write(
            folder / "ca" / f"{name}.key.pem",
            issued.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
            secret=True,
        )
        _write(folder / "ca" / f"{name}.cert.pem", _pem(issued.certificate))
    for organ_id, issued in pki.agencies.items():
        _write_identity(folder / "agencies", organ_id, issued, pki, out)
    for person, issued in pki.signers.items():
        _write_identity(folder / "signers", _slug(person), issued, pki, out)
    _write_identity(folder / "revoked", "revoked", pki.revoked, pki, out)
    (folder / "README.txt").write_text(
        _DEV_CA_README.format(
            when=dt.datetime.now(VIETNAM).isoformat(timespec="seconds"),
            folder=folder,
            base_url=pki.base_url,
        ),
        encoding="utf-8",
    )
    return 0


# -- shared option handling -------------------------------------------------------------------


def _identity(args: argparse.Namespace) -> SigningIdentity:
    from adapters.errors import AdapterError
    from adapters.keys import load_signing_identity

    try:
        return load_signing_identity(
            Path(args.key),
            certificate=Path(args.cert) if args.cert else None,
            password_env=args.password_env,
            password_file=Path(args.password_file) if args.password_file else None,
        )
    except AdapterError as exc:
        raise CommandFailed(str(exc)) from None


def _trust_and_revocation(args: argparse.Namespace) -> tuple[Any, RevocationChecker]:
    from adapters.errors import AdapterError
    from adapters.revocation import HttpRevocationChecker, RevocationConfig
    from adapters.trust import load_trust_store

    try:
        trust = load_trust_store(Path(args.trust))
    except AdapterError as exc:
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
    from adapters.errors import AdapterError
    from adapters.timestamps import Rfc3161Validator
    from adapters.trust import load_trust_store

    try:
        return Rfc3161Validator(load_trust_store(Path(args.tsa_trust)))
    except AdapterError as exc:
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


def _pdf_sign(args: argparse.Namespace, out: TextIO) -> int:
    from pyhanko.sign.timestamps import HTTPTimeStamper

    from adapters.pdf_signatures import PdfSignatureError, sign_pdf

    identity = _identity(args)
    timestamper = HTTPTimeStamper(args.tsa) if args.tsa else None
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
    from adapters.pdf_signatures import PdfSignatureError, verify_pdf

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
    keys = commands.add_parser("keys", help="key tools").add_subparsers(
        dest="keys_command", required=True
    )
    dev_ca = keys.add_parser("dev-ca", help="make a development PKI (not for production)")
    dev_ca.add_argument("directory")
    dev_ca.add_argument(
        "--base-url", default="http://127.0.0.1:8642", help="where its CRL/OCSP will be served"
    )
    dev_ca.add_argument(
        "--force", action="store_true", help="write into a folder that is not empty"
    )
    dev_ca.set_defaults(run=_dev_ca)

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
