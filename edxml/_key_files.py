"""Key material from files: certificates, trust folders, CRLs and signing keys.

Operators drop the CA certificates they trust (Ban Cơ yếu Chính phủ, NEAC and its public
CAs, the dev CA...) into a folder; self-signed ones become roots, the others intermediates.
Files that are not certificates are an error, not skipped: a typo in a trust folder must not
silently narrow (or widen) what is trusted. CRLs (``.crl``) the CAs publish may sit beside
their certificates. A key's password comes from an environment variable or a file (a
Docker/Kubernetes secret mount), never from a configuration file, and is never shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

from ._errors import KeyMaterialError
from ._trust import TrustStore

__all__ = [
    "CERTIFICATE_SUFFIXES",
    "CRL_SUFFIX",
    "SigningIdentity",
    "SigningKey",
    "load_certificates",
    "load_crls",
    "load_signing_identity",
    "load_trust_store",
    "read_password",
]

CERTIFICATE_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})
CRL_SUFFIX = ".crl"

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in one file (PEM may hold several)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise KeyMaterialError(f"{path} is not a certificate ({exc})") from exc


def load_trust_store(folder: Path) -> TrustStore:
    if not folder.is_dir():
        raise KeyMaterialError(f"trust folder {folder} does not exist")
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in CERTIFICATE_SUFFIXES)
    certificates = [certificate for path in files for certificate in load_certificates(path)]
    store = TrustStore.from_certificates(certificates)
    if not store.roots:
        raise KeyMaterialError(f"trust folder {folder} holds no root (self-signed) certificate")
    return store


def load_crls(folder: Path) -> list[x509.CertificateRevocationList]:
    """The CRLs (PEM or DER ``.crl`` files) of a trust folder."""
    crls = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != CRL_SUFFIX:
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeyMaterialError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            if b"-----BEGIN X509 CRL-----" in data:
                crls.append(x509.load_pem_x509_crl(data))
            else:
                crls.append(x509.load_der_x509_crl(data))
        except ValueError as exc:
            raise KeyMaterialError(f"{path} is not a CRL ({exc})") from exc
    return crls


@dataclass(frozen=True)
class SigningIdentity:
    """A private key and its certificate chain (signer's certificate first)."""

    key: SigningKey = field(repr=False)
    chain: tuple[x509.Certificate, ...]


def read_password(*, env: str | None = None, file: Path | None = None) -> bytes | None:
    """The password named by an environment variable or held in a file; None if neither."""
    if env and file:
        raise KeyMaterialError("give the key password by environment variable or by file, not both")
    if env:
        value = os.environ.get(env)
        if value is None:
            raise KeyMaterialError(f"environment variable {env} (the key password) is not set")
        return value.encode("utf-8")
    if file:
        try:
            return file.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise KeyMaterialError(f"cannot read the password file {file}: {exc.strerror}") from exc
    return None


def _check(key: object, path: Path) -> SigningKey:
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyMaterialError(f"{path}: signing keys are RSA or ECDSA, not {type(key).__name__}")
    return key


def load_signing_identity(
    key: Path,
    *,
    certificate: Path | None = None,
    password_env: str | None = None,
    password_file: Path | None = None,
) -> SigningIdentity:
    """From a PKCS#12 file (``.p12``/``.pfx``: key, certificate and chain in one), or from a
    PEM key and a PEM certificate file holding the chain (signer first)."""
    password = read_password(env=password_env, file=password_file)
    try:
        data = key.read_bytes()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read {key}: {exc.strerror}") from exc
    if key.suffix.lower() in {".p12", ".pfx"}:
        try:
            loaded = pkcs12.load_pkcs12(data, password)
        except ValueError as exc:
            raise KeyMaterialError(
                f"{key}: cannot open the PKCS#12 file (wrong password?)"
            ) from exc
        if loaded.key is None or loaded.cert is None:
            raise KeyMaterialError(f"{key}: the PKCS#12 file holds no key and certificate")
        chain = (loaded.cert.certificate, *(extra.certificate for extra in loaded.additional_certs))
        return SigningIdentity(key=_check(loaded.key, key), chain=chain)
    try:
        private = load_pem_private_key(data, password)
    except (ValueError, TypeError) as exc:
        raise KeyMaterialError(
            f"{key}: cannot read the private key (wrong or missing password?)"
        ) from exc
    if certificate is None:
        raise KeyMaterialError(f"{key}: a PEM key needs its certificate file too")
    chain = tuple(load_certificates(certificate))
    return SigningIdentity(key=_check(private, key), chain=chain)
