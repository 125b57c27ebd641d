"""A development PKI written to a folder: trust, CRLs, CA keys, agency and signer identities.

For the demo, the examples and a QLVB team's tests; NOT FOR PRODUCTION. Secret files are
created 0600 from the start.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import unicodedata
from pathlib import Path
from typing import TextIO

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)

from devtools.devca import DevPki, Issued, make_dev_pki
from edxml import VIETNAM

__all__ = ["write_dev_pki"]


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


_DEV_CA_README = """Development PKI made by `python -m devtools dev-ca` ({when}).
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


def write_dev_pki(folder: Path, base_url: str, out: TextIO, *, force: bool = False) -> DevPki:
    """Make a development PKI and write it under ``folder`` (see the README it writes)."""
    if folder.exists() and any(folder.iterdir()) and not force:
        raise FileExistsError(f"{folder} is not empty (--force overwrites)")
    pki = make_dev_pki(base_url=base_url)
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
    return pki
