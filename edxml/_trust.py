"""Trust in a signer's certificate: the checks of Thông tư 41/2017 Điều 7 (and NĐ 130/2018
Điều 79), each reported on its own: the chain reaches a trusted root, the certificate was
valid at signing time, it is not revoked, its key usage allows signing.

Pure: certificates, CRLs and OCSP responses come in as objects. Fetching them over HTTP,
with caching and timeouts, is ``adapters/revocation.py``; it answers through the same
``RevocationChecker`` protocol and the same CRL/OCSP validation code here.

Certificate profiles of Vietnamese CAs are older than the Web PKI's, so the chain is built
with permissive extension policies (a CA needs only BasicConstraints) and key usage is a
separate, named check rather than a reason the chain "does not exist".
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

__all__ = [
    "VIETNAM",
    "CertificateInfo",
    "Check",
    "CheckState",
    "OfflineRevocation",
    "RevocationChecker",
    "RevocationState",
    "RevocationStatus",
    "StaticRevocation",
    "TrustStore",
    "assess_certificate",
    "describe_certificate",
]

#: Vietnam time (ICT, UTC+7): edXML timestamps are local time without a zone (spec 1.7).
VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")

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


# -- assessing a signer's certificate ------------------------------------------------------


def _verifier(trust: TrustStore, at: dt.datetime) -> object:
    return (
        PolicyBuilder()
        .store(Store(list(trust.roots)))
        .time(at)
        .extension_policies(
            ee_policy=ExtensionPolicy.permit_all(),
            ca_policy=ExtensionPolicy.permit_all().require_present(
                x509.BasicConstraints, Criticality.AGNOSTIC, None
            ),
        )
        .build_client_verifier()
    )


def _build_chain(
    leaf: x509.Certificate, extra: Sequence[x509.Certificate], trust: TrustStore, at: dt.datetime
) -> tuple[x509.Certificate, ...]:
    verifier = _verifier(trust, at)
    result = verifier.verify(leaf, [*extra, *trust.intermediates])  # type: ignore[attr-defined]
    return tuple(result.chain)


def _inside(certificate: x509.Certificate) -> tuple[dt.datetime, ...]:
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    margin = min(dt.timedelta(minutes=1), (end - start) / 4)
    return (start + (end - start) / 2, end - margin, start + margin)


def _key_usage(leaf: x509.Certificate) -> Check:
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return Check("key-usage", CheckState.FAIL, "the certificate has no KeyUsage extension")
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.ca:
            return Check("key-usage", CheckState.FAIL, "a CA certificate signed the document")
    except x509.ExtensionNotFound:
        pass
    if usage.digital_signature or usage.content_commitment:
        allowed = [
            n
            for n, on in (
                ("digitalSignature", usage.digital_signature),
                ("nonRepudiation", usage.content_commitment),
            )
            if on
        ]
        return Check(
            "key-usage", CheckState.PASS, f"KeyUsage allows signing ({', '.join(allowed)})"
        )
    return Check(
        "key-usage", CheckState.FAIL, "KeyUsage allows neither digitalSignature nor nonRepudiation"
    )


def assess_certificate(
    leaf: x509.Certificate,
    extra: Sequence[x509.Certificate],
    *,
    trust: TrustStore | None,
    signing_time: dt.datetime,
    revocation: RevocationChecker,
) -> tuple[tuple[Check, ...], tuple[x509.Certificate, ...]]:
    """The trust checks of one signer certificate, and the chain found (leaf first)."""
    checks = []
    chain: tuple[x509.Certificate, ...] = ()
    if trust is None or not trust.roots:
        checks.append(Check("trusted-chain", CheckState.FAIL, "no trusted roots are configured"))
    else:
        try:
            chain = _build_chain(leaf, extra, trust, signing_time)
        except VerificationError as exc:
            # Outside its validity the verifier refuses any chain; look again at times the
            # certificate was valid, so "untrusted" and "expired" are told apart.
            failure = exc
            for moment in _inside(leaf):
                try:
                    chain = _build_chain(leaf, extra, trust, moment)
                    break
                except VerificationError as again:
                    failure = again
            else:
                checks.append(
                    Check(
                        "trusted-chain", CheckState.FAIL, f"no chain to a trusted root ({failure})"
                    )
                )
        if chain:
            root = describe_certificate(chain[-1]).common_name
            checks.append(
                Check("trusted-chain", CheckState.PASS, f"{len(chain)} certificates up to {root!r}")
            )
    window = f"{leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d}"
    when = f"{signing_time.astimezone(VIETNAM):%Y-%m-%d %H:%M:%S%z}"
    if leaf.not_valid_before_utc <= signing_time <= leaf.not_valid_after_utc:
        checks.append(
            Check("validity-period", CheckState.PASS, f"valid {window}, judged at {when}")
        )
    else:
        checks.append(
            Check("validity-period", CheckState.FAIL, f"valid only {window}, judged at {when}")
        )
    checks.append(_revocation(chain or (leaf,), extra, trust, revocation))
    checks.append(_key_usage(leaf))
    return tuple(checks), chain


def _revocation(
    chain: Sequence[x509.Certificate],
    extra: Sequence[x509.Certificate],
    trust: TrustStore | None,
    revocation: RevocationChecker,
) -> Check:
    """Every certificate below the root; the worst answer wins (revoked > unknown > good)."""
    if len(chain) < 2:
        issuers = [
            c
            for c in [
                *extra,
                *(trust.intermediates if trust else ()),
                *(trust.roots if trust else ()),
            ]
            if c.subject == chain[0].issuer
        ]
        if not issuers:
            return Check(
                "revocation",
                CheckState.UNKNOWN,
                "the issuer is unknown, so revocation cannot be checked",
            )
        pairs = [(chain[0], issuers[0])]
    else:
        pairs = list(itertools.pairwise(chain))
    statuses = [(cert, revocation.status(cert, issuer)) for cert, issuer in pairs]
    for wanted, state in (
        (RevocationState.REVOKED, CheckState.FAIL),
        (RevocationState.UNKNOWN, CheckState.UNKNOWN),
    ):
        for cert, status in statuses:
            if status.state == wanted:
                name = describe_certificate(cert).common_name  # named only when it is news
                return Check("revocation", state, f"{name}: {status.detail} [{status.source}]")
    sources = sorted({status.source for _, status in statuses})
    return Check("revocation", CheckState.PASS, f"not revoked ({', '.join(sources)})")
