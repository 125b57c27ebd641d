"""Revocation answers: offline (unknown, never good), from CRLs and OCSP responses in
memory, each validated against the issuer and its freshness."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

__all__ = [
    "OfflineRevocation",
    "RevocationChecker",
    "RevocationState",
    "RevocationStatus",
    "StaticRevocation",
]


# -- revocation ---------------------------------------------------------------------------


class RevocationState(enum.StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RevocationStatus:
    """One certificate's revocation status and where it came from (crl, ocsp, offline...)."""

    state: RevocationState
    source: str
    detail: str = ""
    revoked_at: dt.datetime | None = None


class RevocationChecker(Protocol):
    """Answers "is this certificate revoked?"; the adapters' HTTP checker is one."""

    def status(
        self, certificate: x509.Certificate, issuer: x509.Certificate
    ) -> RevocationStatus: ...


class OfflineRevocation:
    """No revocation source: every answer is "unknown", never a silent "good"."""

    def status(self, certificate: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
        return RevocationStatus(
            RevocationState.UNKNOWN, "offline", "no CRL or OCSP source is configured (offline mode)"
        )


def _verify_issued_by(
    signed_by: x509.Certificate, tbs: bytes, signature: bytes, algorithm: object
) -> bool:
    key = signed_by.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, tbs, padding.PKCS1v15(), algorithm)  # type: ignore[arg-type]
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, tbs, ec.ECDSA(algorithm))  # type: ignore[arg-type]
        else:
            return False
    except InvalidSignature:
        return False
    return True


def crl_status(
    crl: x509.CertificateRevocationList,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    *,
    at: dt.datetime,
) -> RevocationStatus | None:
    """The status a CRL gives, or ``None`` when this CRL cannot speak for the certificate."""
    if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        return None
    if crl.next_update_utc is not None and crl.next_update_utc < at:
        return RevocationStatus(
            RevocationState.UNKNOWN,
            "crl",
            f"the CRL expired at {crl.next_update_utc:%Y-%m-%d %H:%M} UTC",
        )
    entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    if entry is None:
        return RevocationStatus(
            RevocationState.GOOD, "crl", f"not on the CRL of {crl.last_update_utc:%Y-%m-%d}"
        )
    return RevocationStatus(
        RevocationState.REVOKED,
        "crl",
        f"revoked on {entry.revocation_date_utc:%Y-%m-%d %H:%M} UTC (CRL)",
        entry.revocation_date_utc,
    )


def ocsp_status(
    response: ocsp.OCSPResponse,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    *,
    at: dt.datetime,
) -> RevocationStatus | None:
    """The status an OCSP response gives, or ``None`` when it is not about this certificate."""
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return None
    if response.serial_number != certificate.serial_number:
        return None
    responder = _ocsp_signer(response, issuer)
    if responder is None or response.signature_hash_algorithm is None:
        return RevocationStatus(
            RevocationState.UNKNOWN, "ocsp", "the OCSP response is not signed by the issuer"
        )
    if not _verify_issued_by(
        responder,
        response.tbs_response_bytes,
        response.signature,
        response.signature_hash_algorithm,
    ):
        return RevocationStatus(
            RevocationState.UNKNOWN, "ocsp", "the OCSP response signature is invalid"
        )
    if response.next_update_utc is not None and response.next_update_utc < at:
        return RevocationStatus(RevocationState.UNKNOWN, "ocsp", "the OCSP response is out of date")
    if response.certificate_status == ocsp.OCSPCertStatus.GOOD:
        return RevocationStatus(
            RevocationState.GOOD,
            "ocsp",
            f"OCSP: good at {response.this_update_utc:%Y-%m-%d %H:%M} UTC",
        )
    if response.certificate_status == ocsp.OCSPCertStatus.REVOKED:
        revoked = response.revocation_time_utc
        return RevocationStatus(
            RevocationState.REVOKED,
            "ocsp",
            f"revoked on {revoked:%Y-%m-%d %H:%M} UTC (OCSP)",
            revoked,
        )
    return RevocationStatus(
        RevocationState.UNKNOWN, "ocsp", "the OCSP responder does not know the certificate"
    )


def _ocsp_signer(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate | None:
    """The issuer itself, or a responder certificate the issuer delegated (RFC 6960 4.2.2.2)."""
    if (
        response.responder_name == issuer.subject
        or response.responder_key_hash
        == x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
    ):
        return issuer
    for candidate in response.certificates:
        try:
            candidate.verify_directly_issued_by(issuer)
            usage = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            continue
        if x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in usage:
            return candidate
    return None


@dataclass(frozen=True)
class StaticRevocation:
    """Revocation answered from CRLs and OCSP responses already in memory. OCSP wins."""

    crls: Sequence[x509.CertificateRevocationList] = ()
    ocsp_responses: Sequence[ocsp.OCSPResponse] = ()
    at: dt.datetime | None = None  # defaults to now
    fallback: RevocationChecker = field(default_factory=OfflineRevocation)

    def status(self, certificate: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
        at = self.at or dt.datetime.now(dt.UTC)
        for response in self.ocsp_responses:
            if (found := ocsp_status(response, certificate, issuer, at=at)) is not None:
                return found
        for crl in self.crls:
            if (found := crl_status(crl, certificate, issuer, at=at)) is not None:
                return found
        return self.fallback.status(certificate, issuer)
