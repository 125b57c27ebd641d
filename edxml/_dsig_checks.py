"""The checks of a package signature that need no trust: where it is, what it covers,
whether its value verifies, which algorithms it uses."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    encode_dss_signature,
)
from lxml import etree

from ._c14n import canonicalize_element
from ._dsig_digest import _Digested, _Digester
from ._dsig_types import (
    _OURS,
    _WEAK,
    C14nMethod,
    SignatureMethod,
    VerifyPolicy,
)
from ._trust import (
    VIETNAM,
    Check,
    CheckState,
)
from ._values import read_timestamp
from ._xml import (
    XMLDSIG_NS,
)


def _find(parent: etree._Element, local: str, namespaces: frozenset[str]) -> list[etree._Element]:
    """Children named ``local`` in one of ``namespaces`` ('' for none)."""
    tags = {f"{{{namespace}}}{local}" if namespace else local for namespace in namespaces}
    return [child for child in parent if child.tag in tags]


def _header(root: etree._Element) -> etree._Element | None:
    for envelope in _find(root, "edXMLEnvelope", _OURS):
        for header in _find(envelope, "edXMLHeader", _OURS):
            return header
    return None


def _claimed_signing_time(header: etree._Element) -> dt.datetime | None:
    """The time the signer claims: its (last) TraceHeader, local Vietnam time. The signer
    writes it, so it proves nothing; it is reported beside the time actually used."""
    times = []
    for trace_list in _find(header, "TraceHeaderList", _OURS):
        for trace in _find(trace_list, "TraceHeader", _OURS):
            for stamp in _find(trace, "Timestamp", _OURS):
                try:
                    value = read_timestamp(stamp.text)
                except ValueError:
                    continue
                if value is not None:
                    times.append(value.replace(tzinfo=VIETNAM))
    return times[-1] if times else None  # the last: the time this signature claims


def _certificates(signature: etree._Element) -> tuple[list[x509.Certificate], str | None]:
    found, problem = [], None
    for element in signature.iterfind(f".//{{{XMLDSIG_NS}}}X509Certificate"):
        try:
            found.append(
                x509.load_der_x509_certificate(
                    base64.b64decode("".join((element.text or "").split()), validate=True)
                )
            )
        except (ValueError, binascii.Error) as exc:
            problem = f"a certificate in KeyInfo cannot be read ({exc})"
    return found, problem


def _signer(certificates: Sequence[x509.Certificate]) -> x509.Certificate:
    """The certificate no other one in KeyInfo was issued by (signxml's convention: leaf first)."""
    issuers = {certificate.issuer for certificate in certificates}
    for certificate in certificates:
        if certificate.subject not in issuers or certificate.issuer == certificate.subject:
            return certificate
    return certificates[0]


def _verify_value(key: object, method: SignatureMethod, value: bytes, data: bytes) -> bool:
    try:
        if method.is_ecdsa and isinstance(key, ec.EllipticCurvePublicKey):
            half = (key.key_size + 7) // 8
            if len(value) != 2 * half:
                return False
            der = encode_dss_signature(
                int.from_bytes(value[:half], "big"), int.from_bytes(value[half:], "big")
            )
            key.verify(der, data, ec.ECDSA(method.hash))
        elif not method.is_ecdsa and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, data, padding.PKCS1v15(), method.hash)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _integrity(
    signature: etree._Element, digester: _Digester | _Digested
) -> tuple[Check, str | None, str | None, list[x509.Certificate]]:
    """Digest and signature value; also returns the algorithms and the KeyInfo certificates."""
    signed_infos = signature.findall(f"{{{XMLDSIG_NS}}}SignedInfo")
    if len(signed_infos) != 1:
        return (
            Check("integrity", CheckState.FAIL, "the signature has no single SignedInfo"),
            None,
            None,
            [],
        )
    signed_info = signed_infos[0]
    c14n_element = signed_info.find(f"{{{XMLDSIG_NS}}}CanonicalizationMethod")
    method_element = signed_info.find(f"{{{XMLDSIG_NS}}}SignatureMethod")
    c14n_value = None if c14n_element is None else c14n_element.get("Algorithm")
    method_value = None if method_element is None else method_element.get("Algorithm")
    certificates, certificate_problem = _certificates(signature)

    def fail(reason: str) -> tuple[Check, str | None, str | None, list[x509.Certificate]]:
        return (
            Check("integrity", CheckState.FAIL, reason),
            method_value,
            digester.digest_method,
            certificates,
        )

    try:
        c14n = C14nMethod(c14n_value or "")
    except ValueError:
        return fail(f"unsupported CanonicalizationMethod {c14n_value!r}")
    try:
        method = SignatureMethod(method_value or "")
    except ValueError:
        return fail(f"unsupported SignatureMethod {method_value!r}")
    if digester.unsupported:
        return fail(digester.unsupported)
    expected = signature.findtext(
        f"{{{XMLDSIG_NS}}}SignedInfo/{{{XMLDSIG_NS}}}Reference/{{{XMLDSIG_NS}}}DigestValue"
    )
    try:
        expected_digest = base64.b64decode("".join((expected or "").split()), validate=True)
        value = base64.b64decode(
            "".join((signature.findtext(f"{{{XMLDSIG_NS}}}SignatureValue") or "").split()),
            validate=True,
        )
    except binascii.Error:
        return fail("DigestValue or SignatureValue is not base64")
    if digester.digest is None or digester.digest != expected_digest:
        return fail("the document does not match its signed digest: it was changed after signing")
    if certificate_problem or not certificates:
        return fail(certificate_problem or "KeyInfo carries no X509Certificate to verify with")
    # comments never reach our tree, so the #WithComments variants read the same
    signed = canonicalize_element(signed_info, exclusive=c14n.exclusive)
    leaf = _signer(certificates)
    if not _verify_value(leaf.public_key(), method, value, signed):
        return fail("the signature value does not verify with the certificate's key")
    return (
        Check("integrity", CheckState.PASS, "digest and signature value verify"),
        method_value,
        digester.digest_method,
        certificates,
    )


def _algorithms(method: str | None, digest: str | None, policy: VerifyPolicy) -> Check:
    weak = sorted(uri.rsplit("#", 1)[-1] for uri in (method, digest) if uri in _WEAK)
    if not weak:
        return Check("algorithms", CheckState.PASS, "SHA-2 family")
    if policy.allow_sha1:
        return Check(
            "algorithms", CheckState.WARN, f"weak: {', '.join(weak)} (allowed by the policy)"
        )
    return Check(
        "algorithms", CheckState.FAIL, f"weak: {', '.join(weak)} (not allowed by the policy)"
    )


def _accepted(checks: Sequence[Check], policy: VerifyPolicy) -> bool:
    """A package's verdict: without a signature, whether the policy lets that pass."""
    if policy.on_failure != "flag" and checks[0].state != CheckState.PASS:  # "present"
        return not policy.require_signature
    return policy.accepts(checks)


#: Below this size a package is digested by lxml in C (after the same hardened guard pass);
