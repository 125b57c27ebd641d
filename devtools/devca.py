"""A development PKI, so tests and the demo sign and verify with a realistic chain.

Root CA -> intermediate CA -> agency certificates (one per demo agency, the agency's own
"chữ ký số của cơ quan") and personal signer certificates, plus one revoked certificate,
the CRLs of both CAs, and an OCSP responder the intermediate delegated to. Certificates
point at ``base_url`` for their CRL (``/crl/<ca>.crl``) and OCSP (``/ocsp``), which the
dev revocation server (``devtools/revocation_server.py``) serves. Subjects follow the
Vietnamese practice ``describe_certificate`` reads: ``UID=MNS:...`` for agencies,
``UID=CCCD:...`` for people.

Nothing here is for production: keys are generated fresh, unprotected, in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

__all__ = ["DEMO_AGENCIES", "DEMO_SIGNERS", "DevPki", "Issued", "issue", "make_dev_pki", "new_key"]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: (OrganId, name) of the agencies of the demo (config/examples/record.json sends between them).
DEMO_AGENCIES: tuple[tuple[str, str], ...] = (
    ("000.00.01.H42", "Văn phòng UBND tỉnh Ninh Bình"),
    ("000.00.12.H42", "Sở Thông tin và Truyền thông tỉnh Ninh Bình"),
    ("000.00.00.G22", "Văn phòng Chính phủ"),
)
#: (name, OrganId of their agency, key type) of the people who sign documents in the demo.
DEMO_SIGNERS: tuple[tuple[str, str, str], ...] = (
    ("Nguyễn Văn An", "000.00.01.H42", "rsa"),
    ("Trần Thị Bình", "000.00.12.H42", "ec"),
)
_UID = x509.ObjectIdentifier("0.9.2342.19200300.100.1.1")


@dataclass(frozen=True, slots=True)
class Issued:
    key: PrivateKey
    certificate: x509.Certificate


def new_key(kind: str = "rsa") -> PrivateKey:
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(
    common_name: str,
    *,
    organization: str | None = None,
    unit: str | None = None,
    uid: str | None = None,
) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    if uid:
        attributes.append(x509.NameAttribute(_UID, uid))
    return x509.Name(attributes)


def issue(
    subject: x509.Name,
    *,
    issuer: Issued | None,
    key: PrivateKey | None = None,
    ca: bool = False,
    not_before: dt.datetime,
    not_after: dt.datetime,
    key_usage: x509.KeyUsage | None = None,
    extended_usage: Sequence[x509.ObjectIdentifier] = (),
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> Issued:
    """One certificate. ``issuer=None`` makes it self-signed (a root)."""
    key = key or new_key()
    signer_key = key if issuer is None else issuer.key
    issuer_name = subject if issuer is None else issuer.certificate.subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    if key_usage is None:
        key_usage = _usage(ca=ca)
    builder = builder.add_extension(key_usage, critical=True)
    if extended_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(extended_usage)), critical=False)
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if ocsp_url:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    return Issued(key, builder.sign(signer_key, hashes.SHA256()))


def _usage(*, ca: bool, signing: bool = True) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing and not ca,
        content_commitment=signing and not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _digits(text: str, count: int) -> str:
    return str(int(hashlib.sha256(text.encode()).hexdigest(), 16))[:count]


@dataclass(frozen=True)
class DevPki:
    root: Issued
    intermediate: Issued
    ocsp_responder: Issued
    tsa: Issued  # timestamping authority, for PAdES B-T in tests and the demo
    agencies: dict[str, Issued]  # by OrganId
    signers: dict[str, Issued]  # by person name
    revoked: Issued
    base_url: str
    revoked_at: dt.datetime
    crls: dict[str, x509.CertificateRevocationList] = field(default_factory=dict)  # by CA name

    def chain(self, issued: Issued) -> list[x509.Certificate]:
        """The certificate and its intermediate (what a signer sends along)."""
        return [issued.certificate, self.intermediate.certificate]

    def is_revoked(self, certificate: x509.Certificate) -> bool:
        return certificate.serial_number == self.revoked.certificate.serial_number

    def ocsp_response(
        self, certificate: x509.Certificate, *, at: dt.datetime | None = None
    ) -> ocsp.OCSPResponse:
        """What the responder answers for a certificate the intermediate (or root) issued."""
        now = at or dt.datetime.now(dt.UTC)
        if certificate.issuer == self.root.certificate.subject:
            issuer, responder = self.root, self.root
        else:
            issuer, responder = self.intermediate, self.ocsp_responder
        builder = ocsp.OCSPResponseBuilder()
        revoked = self.is_revoked(certificate)
        builder = builder.add_response(
            cert=certificate,
            issuer=issuer.certificate,
            algorithm=hashes.SHA1(),  # noqa: S303 - CertID hash, what OCSP clients send
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=now - dt.timedelta(minutes=1),
            next_update=now + dt.timedelta(hours=1),
            revocation_time=self.revoked_at if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, responder.certificate)
        if responder is not issuer:
            builder = builder.certificates([responder.certificate])
        return builder.sign(responder.key, hashes.SHA256())

    def find(self, serial: int) -> x509.Certificate | None:
        for issued in (
            self.intermediate,
            self.ocsp_responder,
            self.tsa,
            self.revoked,
            *self.agencies.values(),
            *self.signers.values(),
        ):
            if issued.certificate.serial_number == serial:
                return issued.certificate
        return None


def _crl(
    ca: Issued, revoked: Sequence[tuple[int, dt.datetime]], now: dt.datetime
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=7))
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(ca.key, hashes.SHA256())


def make_dev_pki(
    *,
    base_url: str = "http://127.0.0.1:8642",
    agencies: Sequence[tuple[str, str]] = DEMO_AGENCIES,
    signers: Sequence[tuple[str, str, str]] = DEMO_SIGNERS,
    now: dt.datetime | None = None,
) -> DevPki:
    """Fresh keys and certificates for the demo agencies (see the module docstring)."""
    now = now or dt.datetime.now(dt.UTC)
    base_url = base_url.rstrip("/")
    # CAs from five years back, as real ones outlive the certificates they issue
    long_ago, far = now - dt.timedelta(days=5 * 365), now + dt.timedelta(days=3650)
    root = issue(
        _name("edXML Gateway Dev Root CA", organization="edXML Gateway (development only)"),
        issuer=None,
        ca=True,
        not_before=long_ago,
        not_after=far,
    )
    intermediate = issue(
        _name("edXML Gateway Dev Issuing CA", organization="edXML Gateway (development only)"),
        issuer=root,
        ca=True,
        not_before=long_ago,
        not_after=far,
        crl_url=f"{base_url}/crl/root.crl",
        ocsp_url=f"{base_url}/ocsp",
    )
    leaf = {
        "issuer": intermediate,
        "not_before": now - dt.timedelta(days=30),
        "not_after": now + dt.timedelta(days=730),
        "crl_url": f"{base_url}/crl/intermediate.crl",
        "ocsp_url": f"{base_url}/ocsp",
        "extended_usage": [ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH],
    }
    responder = issue(
        _name("edXML Gateway Dev OCSP Responder", organization="edXML Gateway (development only)"),
        issuer=intermediate,
        not_before=long_ago,
        not_after=far,
        key_usage=_usage(ca=False),
        extended_usage=[ExtendedKeyUsageOID.OCSP_SIGNING],
    )
    tsa = issue(
        _name(
            "edXML Gateway Dev Timestamping Authority",
            organization="edXML Gateway (development only)",
        ),
        issuer=intermediate,
        not_before=long_ago,
        not_after=far,
        key_usage=_usage(ca=False),
        extended_usage=[ExtendedKeyUsageOID.TIME_STAMPING],
    )
    names = dict(agencies)
    agency_certificates = {
        organ_id: issue(
            _name(name, organization=name, unit=organ_id, uid=f"MNS:{_digits(organ_id, 7)}"),
            **leaf,  # type: ignore[arg-type]
        )
        for organ_id, name in agencies
    }
    signer_certificates = {
        person: issue(
            _name(
                person,
                organization=names.get(organ_id, organ_id),
                unit=organ_id,
                uid=f"CCCD:0{_digits(person, 11)}",
            ),
            key=new_key(kind),
            **leaf,  # type: ignore[arg-type]
        )
        for person, organ_id, kind in signers
    }
    revoked = issue(
        _name(
            "Lê Văn Cũ (đã thu hồi)",
            organization=agencies[0][1],
            uid=f"CCCD:0{_digits('revoked', 11)}",
        ),
        **leaf,  # type: ignore[arg-type]
    )
    revoked_at = now - dt.timedelta(days=1)
    pki = DevPki(
        root=root,
        intermediate=intermediate,
        ocsp_responder=responder,
        tsa=tsa,
        agencies=agency_certificates,
        signers=signer_certificates,
        revoked=revoked,
        base_url=base_url,
        revoked_at=revoked_at,
    )
    pki.crls["root"] = _crl(root, [], now)
    pki.crls["intermediate"] = _crl(
        intermediate, [(revoked.certificate.serial_number, revoked_at)], now
    )
    return pki
