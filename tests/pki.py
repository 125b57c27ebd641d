"""Certificates that break one trust rule each, issued next to the session's dev PKI."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.x509.oid import NameOID

from devtools.devca import DevPki, Issued, issue, new_key

NOW = dt.datetime.now(dt.UTC)


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def expired(pki: DevPki) -> Issued:
    return issue(
        name("Expired signer"),
        issuer=pki.intermediate,
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW - dt.timedelta(days=35),
    )


def wrong_key_usage(pki: DevPki) -> Issued:
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    return issue(
        name("Encryption-only key"),
        issuer=pki.intermediate,
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=30),
        key_usage=usage,
    )


def foreign() -> tuple[Issued, Issued]:
    """A root nobody trusts, and a signer under it."""
    root = issue(
        name("Somebody Else's Root"),
        issuer=None,
        ca=True,
        not_before=NOW - dt.timedelta(days=10),
        not_after=NOW + dt.timedelta(days=100),
    )
    signer = issue(
        name("Foreign signer"),
        issuer=root,
        key=new_key("ec"),
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=30),
    )
    return root, signer
