"""RFC 3161 time-stamp tokens: the ``TimestampValidator`` the edxml verifier is handed.

A token (CMS ``SignedData`` holding a ``TSTInfo``) proves the timestamped data existed at
``genTime`` only if: its message imprint is the hash of that data; its signer's signed
attributes carry the hash of the ``TSTInfo`` and verify with the authority's key; and the
authority's certificate is a time-stamping certificate (extended key usage
``id-kp-timeStamping``) that chains to a trusted root and was valid at ``genTime``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ._errors import TimestampError
from ._timestamp import SignatureTimestamp
from ._trust import (
    CheckState,
    OfflineRevocation,
    RevocationChecker,
    TrustStore,
    assess_certificate,
    describe_certificate,
)

__all__ = ["Rfc3161Validator"]

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


class Rfc3161Validator:
    """Validates tokens against the time-stamping authorities of ``trust``."""

    def __init__(self, trust: TrustStore, revocation: RevocationChecker | None = None) -> None:
        self._trust = trust
        self._revocation = revocation or OfflineRevocation()

    def validate(self, token: bytes, data: bytes) -> SignatureTimestamp:
        try:
            signed = cms.ContentInfo.load(token)["content"]
            info = signed["encap_content_info"]
            tst = info["content"].parsed
            if not isinstance(tst, tsp.TSTInfo):
                raise TimestampError("the token holds no TSTInfo")
            imprint = tst["message_imprint"]
            imprint_hash = imprint["hash_algorithm"]["algorithm"].native
            if hashlib.new(imprint_hash, data).digest() != imprint["hashed_message"].native:
                raise TimestampError("the token is over other data (message imprint)")
            (signer_info,) = signed["signer_infos"]
            certificates = [
                x509.load_der_x509_certificate(c.chosen.dump())
                for c in signed["certificates"] or ()
            ]
            authority = _signer_certificate(signer_info, certificates)
            _check_signed_attributes(signer_info, info["content"].contents)
            _check_signature(signer_info, authority)
            when = tst["gen_time"].native
        except TimestampError:
            raise
        except (ValueError, KeyError, TypeError) as exc:  # asn1crypto on malformed input
            raise TimestampError(f"the token cannot be read ({exc})") from None
        self._check_authority(authority, certificates, when)
        return SignatureTimestamp(
            time=when, authority=describe_certificate(authority).common_name or "TSA"
        )

    def _check_authority(
        self, authority: x509.Certificate, certificates: Sequence[x509.Certificate], when: object
    ) -> None:
        try:
            usage = authority.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if usage is None or ExtendedKeyUsageOID.TIME_STAMPING not in usage:
            raise TimestampError("the token's signer is not a time-stamping authority")
        checks, _ = assess_certificate(
            authority,
            [c for c in certificates if c is not authority],
            trust=self._trust,
            signing_time=when,  # type: ignore[arg-type]
            revocation=self._revocation,
        )
        for check in checks:
            if (
                check.name in ("trusted-chain", "validity-period")
                and check.state != CheckState.PASS
            ):
                raise TimestampError(f"the time-stamping authority: {check.detail}")
            if check.name == "revocation" and check.state == CheckState.FAIL:
                raise TimestampError(f"the time-stamping authority: {check.detail}")


def _signer_certificate(
    signer_info: cms.SignerInfo, certificates: Sequence[x509.Certificate]
) -> x509.Certificate:
    sid = signer_info["sid"]
    for certificate in certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                certificate.serial_number == wanted["serial_number"].native
                and certificate.issuer.public_bytes() == wanted["issuer"].dump()
            ):
                return certificate
        else:
            identifier = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            if identifier.value.digest == sid.chosen.native:
                return certificate
    raise TimestampError("the token does not carry its signer's certificate")


def _digest(signer_info: cms.SignerInfo) -> str:
    return str(signer_info["digest_algorithm"]["algorithm"].native)


def _check_signed_attributes(signer_info: cms.SignerInfo, content: bytes) -> None:
    attributes = signer_info["signed_attrs"]
    digests = [a["values"][0].native for a in attributes if a["type"].native == "message_digest"]
    if digests != [hashlib.new(_digest(signer_info), content).digest()]:
        raise TimestampError("the token's signed attributes do not match its TSTInfo")


def _check_signature(signer_info: cms.SignerInfo, authority: x509.Certificate) -> None:
    signed = signer_info["signed_attrs"].untag().dump()  # as a SET OF, which is what is signed
    value = signer_info["signature"].native
    algorithm = _HASHES.get(_digest(signer_info))
    if algorithm is None:
        raise TimestampError(f"unsupported digest {_digest(signer_info)}")
    key = authority.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(value, signed, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(value, signed, ec.ECDSA(algorithm))
        else:
            raise TimestampError("unsupported key type of the time-stamping authority")
    except InvalidSignature:
        raise TimestampError("the token's signature does not verify") from None
