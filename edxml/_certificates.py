"""Who a certificate names and how: its kind (agency or person), the identities an agency
is known by, and the trust store of roots and intermediates."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from ._values import VIETNAM

__all__ = [
    "VIETNAM",
    "CertificateInfo",
    "Check",
    "CheckState",
    "TrustStore",
    "describe_certificate",
]


_UID = x509.ObjectIdentifier("0.9.2342.19200300.100.1.1")


class CheckState(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a check state, not a password
    FAIL = "fail"
    UNKNOWN = "unknown"  # could not be decided (e.g. revocation while offline)
    WARN = "warn"  # passes, but is flagged (e.g. a SHA-1 signature the policy allows)
    NOT_RUN = "not run"  # an earlier check failed, so this one has nothing to look at


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    state: CheckState
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.state.value} - {self.detail}"


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """Who a certificate names, for people to read (and for telling agency from person)."""

    common_name: str
    organization: str | None
    organizational_unit: str | None
    uid: str | None
    serial: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    kind: str  # "agency" or "person"

    def __str__(self) -> str:
        organization = f", {self.organization}" if self.organization else ""
        return (
            f"{self.common_name}{organization} "
            f"({self.kind}; serial {self.serial}; issued by {self.issuer})"
        )


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def describe_certificate(certificate: x509.Certificate) -> CertificateInfo:
    """Names and kind of a certificate.

    The kind follows Vietnamese CA practice: the subject UID carries ``MST:``/``MNS:`` (tax or
    budget code) for organisations and ``CMND:``/``CCCD:``/``HC:`` for people; without a UID,
    a certificate whose common name is its organisation is the agency's.
    """
    subject = certificate.subject
    common_name = _attribute(subject, NameOID.COMMON_NAME) or subject.rfc4514_string()
    organization = _attribute(subject, NameOID.ORGANIZATION_NAME)
    uid = _attribute(subject, _UID)
    if uid and uid.upper().startswith(("MST:", "MNS:")):
        kind = "agency"
    elif uid and uid.upper().startswith(("CMND:", "CCCD:", "HC:")):
        kind = "person"
    else:
        kind = "agency" if organization and organization == common_name else "person"
    return CertificateInfo(
        common_name=common_name,
        organization=organization,
        organizational_unit=_attribute(subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
        uid=uid,
        serial=format(certificate.serial_number, "X"),
        issuer=_attribute(certificate.issuer, NameOID.COMMON_NAME)
        or certificate.issuer.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        kind=kind,
    )


_IDENTITY_FIELDS = {
    "CN": "common_name",
    "O": "organization",
    "OU": "organizational_unit",
    "UID": "uid",
    "SERIAL": "serial",
}


def matches_identity(info: CertificateInfo, identity: str) -> bool:
    """Whether a certificate is the one ``identity`` names: ``UID=MNS:1234567`` (or just
    ``MNS:1234567``, the budget code Vietnamese CAs put in an agency's subject UID),
    ``CN=…``, ``O=…``, ``OU=…`` or ``SERIAL=<hex>``. Values compare exactly; the field name
    in any case."""
    text = identity.strip()
    key, sep, value = text.partition("=")
    if not sep:
        key, value = "UID", text
    attribute = _IDENTITY_FIELDS.get(key.strip().upper())
    if attribute is None:
        return False
    found = getattr(info, attribute)
    if attribute == "serial":
        return found is not None and found.lower().lstrip("0") == value.strip().lower().lstrip("0")
    return found is not None and found.strip() == value.strip()


def _is_self_signed(certificate: x509.Certificate) -> bool:
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


@dataclass(frozen=True, slots=True)
class TrustStore:
    """Trusted roots, and intermediates that may complete a chain a signer did not send."""

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_certificates(cls, certificates: Iterable[x509.Certificate]) -> TrustStore:
        """Self-signed certificates become roots; the others, intermediates."""
        roots: list[x509.Certificate] = []
        intermediates: list[x509.Certificate] = []
        for certificate in certificates:
            (roots if _is_self_signed(certificate) else intermediates).append(certificate)
        return cls(roots=tuple(roots), intermediates=tuple(intermediates))

    @classmethod
    def from_pem(cls, *blobs: bytes) -> TrustStore:
        return cls.from_certificates(
            certificate for blob in blobs for certificate in x509.load_pem_x509_certificates(blob)
        )
