"""Trust store from a folder of root and intermediate certificates (PEM or DER).

Operators drop the CA certificates they trust (Ban Cơ yếu Chính phủ, NEAC and its public
CAs, the dev CA...) into one folder named in the configuration; self-signed ones become
roots, the others intermediates. Files that are not certificates are an error, not skipped:
a typo in a trust folder must not silently narrow (or widen) what is trusted. CRLs (``.crl``)
the CAs publish may sit beside their certificates: they answer revocation offline.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from adapters.errors import ConfigurationError
from edxml import TrustStore

__all__ = [
    "CERTIFICATE_SUFFIXES",
    "CRL_SUFFIX",
    "load_certificates",
    "load_crls",
    "load_trust_store",
]

CERTIFICATE_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})
CRL_SUFFIX = ".crl"


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in one file (PEM may hold several)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ConfigurationError(f"{path} is not a certificate ({exc})") from exc


def load_trust_store(folder: Path) -> TrustStore:
    if not folder.is_dir():
        raise ConfigurationError(f"trust folder {folder} does not exist")
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in CERTIFICATE_SUFFIXES)
    certificates = [certificate for path in files for certificate in load_certificates(path)]
    store = TrustStore.from_certificates(certificates)
    if not store.roots:
        raise ConfigurationError(f"trust folder {folder} holds no root (self-signed) certificate")
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
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            if b"-----BEGIN X509 CRL-----" in data:
                crls.append(x509.load_pem_x509_crl(data))
            else:
                crls.append(x509.load_der_x509_crl(data))
        except ValueError as exc:
            raise ConfigurationError(f"{path} is not a CRL ({exc})") from exc
    return crls
