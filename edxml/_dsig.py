"""XMLDSig on edXML packages (spec 1.5, 6.6; Điều 5.2 sign, Điều 13.1b verify).

The profile: one enveloped signature in the xmldsig namespace, the last child of
``edXMLHeader`` (after ``TraceHeaderList``), with a single ``Reference URI=""`` (the whole
document, attachments included) transformed by enveloped-signature and (exclusive) C14N,
and ``KeyInfo/X509Data`` carrying the signer's certificate and chain. We sign with
RSA-SHA256 or ECDSA-SHA256 and Exclusive C14N; we verify SHA-1/256/384/512 and either C14N.

Why not signxml on the hot path: it holds the document as a tree plus its canonical form
(~8x a 50 MB attachment). Here the reference digest is computed while the parser streams
(``_c14n.Canonicalizer``), and only the small ``SignedInfo`` is canonicalised by lxml. The
tests check the output against signxml and xmlsec1 in both directions.

Verification never raises on a bad signature: every finding is a ``Check``; the policy
decides acceptance. Only a package that is not XML at all raises (a ``DocumentError``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import enum
import hashlib
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from ._c14n import Canonicalizer, canonicalize_element
from ._errors import EdxmlError, TimestampError
from ._timestamp import (
    SignatureTimestamp,
    TimestampValidator,
    timestamp_tokens,
    timestamped_value,
)
from ._trust import (
    VIETNAM,
    CertificateInfo,
    Check,
    CheckState,
    OfflineRevocation,
    RevocationChecker,
    TrustStore,
    describe_certificate,
)
from ._trust_sets import TrustPolicy, assess_signer
from ._values import read_timestamp
from ._xml import (
    DEFAULT_LIMITS,
    EDXML_NS,
    LEGACY_NS,
    XMLDSIG_NS,
    ParseLimits,
    Source,
    parse_xml,
    safe_lxml_parser,
    scan_xml,
)

__all__ = [
    "C14nMethod",
    "DigestMethod",
    "SignatureMethod",
    "SigningError",
    "VerifyPolicy",
    "VerifyResult",
    "iter_sign",
    "sign",
    "verify",
]

_OURS = frozenset({EDXML_NS, LEGACY_NS, ""})
_ENVELOPED = f"{XMLDSIG_NS}enveloped-signature"
_WHITESPACE = b" \t\r\n"


class C14nMethod(enum.StrEnum):
    C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    C14N_WITH_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
    EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
    EXC_C14N_WITH_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"

    @property
    def exclusive(self) -> bool:
        return self.value.startswith("http://www.w3.org/2001/10/xml-exc-c14n#")

    @property
    def with_comments(self) -> bool:
        return self.value.endswith("#WithComments")


class DigestMethod(enum.StrEnum):
    SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
    SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
    SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"

    @property
    def hashlib_name(self) -> str:
        return self.name.lower()


class SignatureMethod(enum.StrEnum):
    RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
    RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
    ECDSA_SHA1 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"
    ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
    ECDSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
    ECDSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"

    @property
    def hash(self) -> hashes.HashAlgorithm:
        return _HASHES[self.name.split("_")[1]]

    @property
    def is_ecdsa(self) -> bool:
        return self.name.startswith("ECDSA")


_HASHES: dict[str, hashes.HashAlgorithm] = {
    "SHA1": hashes.SHA1(),  # noqa: S303 - verifying legacy signatures; the policy flags it
    "SHA256": hashes.SHA256(),
    "SHA384": hashes.SHA384(),
    "SHA512": hashes.SHA512(),
}
_WEAK = frozenset(
    {DigestMethod.SHA1.value, SignatureMethod.RSA_SHA1.value, SignatureMethod.ECDSA_SHA1.value}
)


class SigningError(EdxmlError, ValueError):
    """The package cannot be signed with what was given (key and certificate do not match...)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyPolicy:
    """What a package signature must satisfy to be accepted.

    ``on_failure="flag"`` accepts whatever fails and keeps the findings (real traffic carries
    unverifiable signatures today, spec 6.6); ``"reject"`` refuses it. Revocation
    ``"hard-fail"`` rejects an unknown status too, ``"soft-fail"`` accepts it flagged.
    """

    require_signature: bool = True
    require_trusted_chain: bool = True
    require_validity_period: bool = True
    require_key_usage: bool = True
    revocation: Literal["hard-fail", "soft-fail", "off"] = "soft-fail"
    allow_sha1: bool = True  # accepted, flagged as weak
    on_failure: Literal["reject", "flag"] = "reject"

    def accepts(self, checks: Sequence[Check]) -> bool:
        """Whether these checks satisfy the policy: every required one passed or only warned.

        Used for package and PDF signatures alike, so both read the same way.
        """
        if self.on_failure == "flag":
            return True
        optional = {
            name
            for name, required in (
                ("trusted-chain", self.require_trusted_chain),
                ("validity-period", self.require_validity_period),
                ("key-usage", self.require_key_usage),
                ("revocation", self.revocation != "off"),
            )
            if not required
        }
        for item in checks:
            if item.name in optional or item.state in (CheckState.PASS, CheckState.WARN):
                continue
            if (
                item.state == CheckState.UNKNOWN
                and item.name == "revocation"
                and self.revocation == "soft-fail"
            ):
                continue
            return False
        return True


DEFAULT_POLICY = VerifyPolicy()


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Each check of a package signature, the policy's verdict, and who signed."""

    checks: tuple[Check, ...]
    accepted: bool
    signer: CertificateInfo | None = None
    chain: tuple[x509.Certificate, ...] = ()
    #: When the certificate was judged: a validated signature timestamp's time, otherwise
    #: the time of validation (ETSI EN 319 102-1); ``signing_time_source`` says which.
    signing_time: dt.datetime | None = None
    signing_time_source: str = ""
    #: What the signer claims (its TraceHeader): reported, never trusted.
    claimed_signing_time: dt.datetime | None = None
    signature_method: str | None = None
    digest_method: str | None = None

    def check(self, name: str) -> Check:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)

    def _passed(self, name: str) -> bool:
        return self.check(name).state in (CheckState.PASS, CheckState.WARN)

    @property
    def present(self) -> bool:
        return self._passed("present")

    @property
    def valid(self) -> bool:
        """Cryptographically valid: the digest matches and the signature value verifies."""
        return self._passed("integrity")

    @property
    def trusted(self) -> bool:
        return self._passed("trusted-chain")

    @property
    def flagged(self) -> tuple[Check, ...]:
        """Checks that did not plainly pass."""
        return tuple(item for item in self.checks if item.state != CheckState.PASS)


# -- digesting the document while it streams ----------------------------------------------


def _split(name: str) -> tuple[str, str]:
    parts = name.split(" ")
    return (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])


def _profile(
    reference_uris: Sequence[str | None], transforms: Sequence[str], digest_method: str | None
) -> tuple[C14nMethod, DigestMethod] | str:
    """The canonical form and digest a signature's Reference asks for, or why we refuse it."""
    try:
        digest = DigestMethod(digest_method or "")
    except ValueError:
        return f"unsupported DigestMethod {digest_method!r}"
    if list(reference_uris) != [""]:
        return f'the signature must have one Reference URI="" (has {list(reference_uris)!r})'
    if not transforms or transforms[0] != _ENVELOPED or len(transforms) > 2:
        return f"unsupported Transforms {list(transforms)!r} (enveloped-signature, then C14N)"
    try:
        return (C14nMethod(transforms[1]) if len(transforms) == 2 else C14nMethod.C14N), digest
    except ValueError:
        return f"unsupported canonicalization transform {transforms[1]!r}"


@dataclass(slots=True)
class _Digested:
    """The reference digest of a document, however it was computed."""

    digest: bytes | None = None
    digest_method: str | None = None
    unsupported: str | None = None


class _Digester:
    """Parser observer: the canonical document, minus the header's XMLDSig Signature.

    Which canonical form (inclusive or exclusive) and which digest the signature uses is only
    known once it has been read, and only the header precedes it (a few kilobytes). Until
    then the events are recorded; then they are replayed into the one canonicaliser the
    signature names, which hashes the rest of the document as it streams by.
    """

    def __init__(self) -> None:
        self._recorded: list[tuple[str, tuple[Any, ...]]] | None = []
        self._canonical: Canonicalizer | None = None
        self._hasher: hashlib._Hash | None = None
        self._path: list[tuple[str, str]] = []
        self._skipping: int | None = None  # depth of the signature being left out
        self._pending: list[tuple[str | None, str | None]] = []
        self.signatures = 0
        self.reference_uris: list[str | None] = []
        self.transforms: list[str] = []
        self.digest_method: str | None = None
        self.digest: bytes | None = None
        self.unsupported: str | None = None

    def attach(self, byte_offset: Callable[[], int]) -> None:
        pass

    def _emit(self, event: str, *args: Any) -> None:
        if self._canonical is not None:
            getattr(self._canonical, event)(*args)
        elif self._recorded is not None:
            self._recorded.append((event, args))

    def _in_header(self) -> bool:
        return (
            bool(self._path) and self._path[-1][1] == "edXMLHeader" and self._path[-1][0] in _OURS
        )

    def namespace_start(self, prefix: str | None, uri: str | None) -> None:
        self._pending.append((prefix, uri))

    def start(self, name: str, attributes: dict[str, str]) -> None:
        uri, local = _split(name)
        if (
            self._skipping is None
            and uri == XMLDSIG_NS
            and local == "Signature"
            and self._in_header()
        ):
            self.signatures += 1
            self._skipping = len(self._path)
        pending, self._pending = self._pending, []
        if self._skipping is not None:
            if self.signatures == 1:
                self._read_signature(uri, local, attributes)
        else:
            for prefix, namespace in pending:
                self._emit("namespace_start", prefix, namespace)
            self._emit("start", name, attributes)
        self._path.append((uri, local))

    def _read_signature(self, uri: str, local: str, attributes: dict[str, str]) -> None:
        if uri != XMLDSIG_NS:
            return
        if local == "Reference":
            self.reference_uris.append(attributes.get("URI"))
        elif local == "Transform" and len(self.reference_uris) == 1:
            self.transforms.append(attributes.get("Algorithm", ""))
        elif local == "DigestMethod" and len(self.reference_uris) == 1:
            self.digest_method = attributes.get("Algorithm")

    def end(self, name: str) -> None:
        self._path.pop()
        if self._skipping is not None:
            if len(self._path) == self._skipping:
                self._skipping = None
                if self.signatures == 1:
                    self._choose()
            return
        self._emit("end", name)
        uri, local = _split(name)
        if local == "edXMLHeader" and uri in _OURS and self.signatures == 0:
            self._recorded = None  # unsigned: nothing to digest, stop recording

    def data(self, text: str) -> None:
        if self._skipping is None:
            self._emit("data", text)

    def processing_instruction(self, target: str, data: str) -> None:
        if self._skipping is None:
            self._emit("processing_instruction", target, data)

    def _choose(self) -> None:
        """The signature has been read: replay the header into the canonical form it names."""
        recorded, self._recorded = self._recorded, None
        chosen = _profile(self.reference_uris, self.transforms, self.digest_method)
        if isinstance(chosen, str):
            self.unsupported = chosen
            return
        if recorded is None:
            return
        c14n, digest = chosen
        self._hasher = hashlib.new(digest.hashlib_name)
        self._canonical = Canonicalizer(self._hasher.update, exclusive=c14n.exclusive)
        for event, args in recorded:
            getattr(self._canonical, event)(*args)

    def finish(self) -> None:
        if self._canonical is not None and self._hasher is not None:
            self._canonical.flush()
            self.digest = self._hasher.digest()


# -- verification -------------------------------------------------------------------------


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
#: above it, by the streaming canonicaliser, so memory stays flat. Tests run both paths.
SMALL_DOCUMENT_BYTES = 256 * 1024


def _small(source: Source) -> bytes | None:
    if isinstance(source, bytes | bytearray | memoryview) and len(source) <= SMALL_DOCUMENT_BYTES:
        return bytes(source)
    return None


def _without_signature(root: etree._Element, exclusive: bool) -> bytes:
    """The canonical document minus the header's first XMLDSig Signature (enveloped-signature)."""
    document = copy.deepcopy(root.getroottree())
    header = _header(document.getroot())
    signatures = [] if header is None else _find(header, "Signature", frozenset({XMLDSIG_NS}))
    if signatures:
        _remove_keeping_tail(signatures[0])
    return bytes(etree.tostring(document, method="c14n", exclusive=exclusive, with_comments=False))


def _remove_keeping_tail(element: etree._Element) -> None:
    """Remove an element; the text after it stays in the document (it is not the element's)."""
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _read_and_digest(
    source: Source, limits: ParseLimits
) -> tuple[etree._Element, _Digester | _Digested]:
    """The parsed package and the digest its signature's Reference asks for."""
    small = _small(source)
    if small is None:
        digester = _Digester()
        parsed = parse_xml(source, limits=limits, observer=digester, decode_payloads=False)
        digester.finish()
        return parsed.root, digester
    offset = scan_xml(small, limits=limits)  # the guard: DOCTYPE, entities, limits, well-formed
    root = etree.fromstring(small[offset:], safe_lxml_parser())
    header = _header(root)
    signatures = [] if header is None else _find(header, "Signature", frozenset({XMLDSIG_NS}))
    if not signatures:
        return root, _Digested()
    references = signatures[0].findall(f"{{{XMLDSIG_NS}}}SignedInfo/{{{XMLDSIG_NS}}}Reference")
    first = references[0] if references else None
    transforms = (
        []
        if first is None
        else [
            t.get("Algorithm", "")
            for t in first.iterfind(f"{{{XMLDSIG_NS}}}Transforms/{{{XMLDSIG_NS}}}Transform")
        ]
    )
    digest_method = None if first is None else _attribute(first, "DigestMethod")
    profile = _profile(
        [reference.get("URI") for reference in references], transforms, digest_method
    )
    if isinstance(profile, str):
        return root, _Digested(digest_method=digest_method, unsupported=profile)
    c14n, digest = profile
    canonical = _without_signature(root, c14n.exclusive)
    return root, _Digested(hashlib.new(digest.hashlib_name, canonical).digest(), digest_method)


def _attribute(reference: etree._Element, child: str) -> str | None:
    element = reference.find(f"{{{XMLDSIG_NS}}}{child}")
    return None if element is None else element.get("Algorithm")


def verify(
    source: Source,
    trust: TrustStore | TrustPolicy | None,
    *,
    policy: VerifyPolicy = DEFAULT_POLICY,
    revocation: RevocationChecker | None = None,
    at: dt.datetime | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
    timestamps: TimestampValidator | None = None,
) -> VerifyResult:
    """Verify the package signature of ``source`` (bytes or a binary file object).

    Every check is reported separately (present, integrity, algorithms, trusted-chain,
    validity-period, revocation, key-usage, and timestamp when the signature carries one);
    ``accepted`` is the policy's verdict. ``revocation`` defaults to offline ("unknown").
    Under a ``TrustPolicy`` the chain must reach a set that package signatures may use.

    The certificate is judged at the time of validation (``at``, default now), or, when a
    signature timestamp validated by ``timestamps`` proves an earlier time, at that time.
    The time the package claims (its TraceHeader) is the signer's to choose: it is reported
    as ``claimed_signing_time`` and never trusted.
    """
    now = at or dt.datetime.now(dt.UTC)
    root, digested = _read_and_digest(source, limits)
    header = _header(root)
    signatures = [] if header is None else _find(header, "Signature", frozenset({XMLDSIG_NS}))
    checks: list[Check] = []
    if not signatures:
        defect = [] if header is None else _find(header, "Signature", _OURS)
        if defect:
            checks.append(Check("present", CheckState.PASS, "a Signature element is present"))
            checks.append(
                Check(
                    "integrity",
                    CheckState.FAIL,
                    "the Signature is not in the xmldsig namespace "
                    "(VNPT builder defect, spec 1.5), so it cannot be verified",
                )
            )
        else:
            checks.append(
                Check(
                    "present",
                    CheckState.FAIL,
                    "the package has no XMLDSig signature in edXMLHeader",
                )
            )
        checks += [
            Check(name, CheckState.NOT_RUN, "no verifiable signature") for name in _LATER_CHECKS
        ]
        return VerifyResult(checks=tuple(checks), accepted=_accepted(checks, policy))
    present_detail = "XMLDSig signature in edXMLHeader"
    if len(signatures) > 1:
        present_detail += f" ({len(signatures)} found; the first is verified)"
    checks.append(Check("present", CheckState.PASS, present_detail))
    integrity, method, digest, certificates = _integrity(signatures[0], digested)
    checks.append(integrity)
    checks.append(_algorithms(method, digest, policy))
    claimed = _claimed_signing_time(header) if header is not None else None
    stamped = _signature_time(signatures[0], timestamps, now)
    if stamped is None:
        signing_time, source_of_time = now, "time of validation (no signature timestamp)"
    else:
        timestamp_check, proven = stamped
        checks.append(timestamp_check)
        if proven is None:
            signing_time, source_of_time = now, "time of validation"
        else:
            signing_time = proven.time
            source_of_time = f"signature timestamp ({proven.authority})"
    if not certificates:
        checks += [
            Check(name, CheckState.NOT_RUN, "no certificate to check") for name in _TRUST_CHECKS
        ]
        return VerifyResult(
            checks=tuple(checks),
            accepted=_accepted(checks, policy),
            claimed_signing_time=claimed,
            signature_method=method,
            digest_method=digest,
        )
    leaf = _signer(certificates)
    trust_checks, chain = assess_signer(
        leaf,
        [certificate for certificate in certificates if certificate is not leaf],
        trust=trust,
        kind="package",
        signing_time=signing_time,
        revocation=revocation or OfflineRevocation(),
    )
    if policy.revocation == "off":
        trust_checks = tuple(
            Check("revocation", CheckState.NOT_RUN, "not checked (policy)")
            if item.name == "revocation"
            else item
            for item in trust_checks
        )
    checks += trust_checks
    return VerifyResult(
        checks=tuple(checks),
        accepted=_accepted(checks, policy),
        signer=describe_certificate(leaf),
        chain=chain,
        signing_time=signing_time,
        signing_time_source=source_of_time,
        claimed_signing_time=claimed,
        signature_method=method,
        digest_method=digest,
    )


def _signature_time(
    signature: etree._Element, timestamps: TimestampValidator | None, now: dt.datetime
) -> tuple[Check, SignatureTimestamp | None] | None:
    """The ``timestamp`` check and the proven time, or None when the signature has no
    timestamp token (the certificate is then judged at the time of validation)."""
    tokens = timestamp_tokens(signature)
    if not tokens:
        return None
    if timestamps is None:
        return (
            Check(
                "timestamp",
                CheckState.UNKNOWN,
                "a signature timestamp is present but no time-stamping authority is trusted "
                "here: the certificate is judged at the time of validation",
            ),
            None,
        )
    value = timestamped_value(signature)
    try:
        if value is None:
            raise TimestampError("the signature has no SignatureValue to be timestamped")
        proven = timestamps.validate(tokens[0], value)
        if proven.time > now + dt.timedelta(minutes=5):
            raise TimestampError(f"the token's time {proven.time.isoformat()} is in the future")
    except TimestampError as exc:
        return Check("timestamp", CheckState.FAIL, f"the signature timestamp fails: {exc}"), None
    when = f"{proven.time.astimezone(VIETNAM):%Y-%m-%d %H:%M:%S%z}"
    return Check("timestamp", CheckState.PASS, f"signed by {when} ({proven.authority})"), proven


_TRUST_CHECKS = ("trusted-chain", "validity-period", "revocation", "key-usage")
_LATER_CHECKS = ("integrity", "algorithms", *_TRUST_CHECKS)


# -- signing ------------------------------------------------------------------------------


_SIGNATURE_NAMESPACES = _OURS | {XMLDSIG_NS}  # ours: the VNPT defect, replaced on signing


def _named(name: str, local: str, namespaces: frozenset[str]) -> bool:
    """Whether an expat name ("uri local prefix") is ``local`` in one of ``namespaces``."""
    if local not in name:
        return False
    uri, found = _split(name)
    return found == local and uri in namespaces


class _SigningDigester:
    """Parser observer for signing: where the header ends (our insertion point), any
    signatures already in the header, and (``canonicalize``) the exclusive canonical
    document into the digest, for packages too large to hand to lxml."""

    def __init__(self, source: bytes, digest: DigestMethod, *, canonicalize: bool) -> None:
        self._source = source
        self.hasher = hashlib.new(digest.hashlib_name)
        self._canonical = (
            Canonicalizer(self.hasher.update, exclusive=True) if canonicalize else None
        )
        self._offset: Callable[[], int] = lambda: 0
        self._depth = 0
        self._header_depth: int | None = None
        self._pending: list[tuple[str | None, str | None]] = []
        self.old_signatures: list[tuple[int, int]] = []
        self._old_start = 0
        self._skipping: int | None = None
        self.insert_at: int | None = None
        self.before = self.after = ""

    def attach(self, byte_offset: Callable[[], int]) -> None:
        self._offset = byte_offset

    def namespace_start(self, prefix: str | None, uri: str | None) -> None:
        self._pending.append((prefix, uri))

    def start(self, name: str, attributes: dict[str, str]) -> None:
        # Called for every element: cheap substring tests first, a split only on a hit.
        depth = self._depth
        self._depth += 1
        if self._header_depth is None:
            if _named(name, "edXMLHeader", _OURS):
                self._header_depth = depth
        elif (
            self._skipping is None
            and depth == self._header_depth + 1
            and _named(name, "Signature", _SIGNATURE_NAMESPACES)
        ):
            self._skipping = depth
            start = self._offset()
            while start > 0 and self._source[start - 1] in _WHITESPACE:
                start -= 1  # the signature's indentation goes with it
            self._old_start = start
        if self._canonical is not None:
            pending, self._pending = self._pending, []
            if self._skipping is None:
                for prefix, namespace in pending:
                    self._canonical.namespace_start(prefix, namespace)
                self._canonical.start(name, attributes)

    def end(self, name: str) -> None:
        self._depth -= 1
        if self._skipping is not None:
            if self._depth == self._skipping:
                self._skipping = None
                end = self._source.index(b">", self._offset()) + 1
                self.old_signatures.append((self._old_start, end))
            return
        if self._depth == self._header_depth and self.insert_at is None:
            self.insert_at = self._offset()
            self._plan_whitespace()
            # the text we will add around the signature is part of the signed document
            if self._canonical is not None:
                self._canonical.data(self.before + self.after)
        if self._canonical is not None:
            self._canonical.end(name)

    def _plan_whitespace(self) -> None:
        """Indent the signature one level below the header, as the samples are."""
        assert self.insert_at is not None
        start = self.insert_at
        while start > 0 and self._source[start - 1] in b" \t":
            start -= 1
        indent = self._source[start : self.insert_at].decode("ascii")
        if start > 0 and self._source[start - 1 : start] == b"\n":
            self.before, self.after = "  ", "\n" + indent
        else:
            self.before = self.after = ""

    def data(self, text: str) -> None:
        if self._skipping is None and self._canonical is not None:
            self._canonical.data(text)

    def processing_instruction(self, target: str, data: str) -> None:
        if self._skipping is None and self._canonical is not None:
            self._canonical.processing_instruction(target, data)


_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _check_utf8(package: bytes) -> None:
    if package.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00<", b"<\x00")):
        raise SigningError(
            "only UTF-8 packages can be signed in place; rebuild it with edxml.build"
        )
    head = package[:2048]
    start = head.find(b"<?xml")
    match = _DECLARED_ENCODING.match(head[start:]) if start >= 0 else None
    if match and match.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        raise SigningError(
            f"only UTF-8 packages can be signed in place (this one is {match.group(1).decode()})"
        )


def _signature_method(key: object) -> SignatureMethod:
    if isinstance(key, rsa.RSAPrivateKey):
        return SignatureMethod.RSA_SHA256
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return SignatureMethod.ECDSA_SHA256
    raise SigningError(f"signing keys are RSA or ECDSA, not {type(key).__name__}")


def _signature_element(
    digest: bytes,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    chain: Sequence[x509.Certificate],
    level: int,
) -> bytes:
    method = _signature_method(key)
    ns = f"{{{XMLDSIG_NS}}}"
    signature = etree.Element(f"{ns}Signature", nsmap={None: XMLDSIG_NS})
    signed_info = etree.SubElement(signature, f"{ns}SignedInfo")
    etree.SubElement(
        signed_info, f"{ns}CanonicalizationMethod", Algorithm=C14nMethod.EXC_C14N.value
    )
    etree.SubElement(signed_info, f"{ns}SignatureMethod", Algorithm=method.value)
    reference = etree.SubElement(signed_info, f"{ns}Reference", URI="")
    transforms = etree.SubElement(reference, f"{ns}Transforms")
    etree.SubElement(transforms, f"{ns}Transform", Algorithm=_ENVELOPED)
    etree.SubElement(transforms, f"{ns}Transform", Algorithm=C14nMethod.EXC_C14N.value)
    etree.SubElement(reference, f"{ns}DigestMethod", Algorithm=DigestMethod.SHA256.value)
    etree.SubElement(reference, f"{ns}DigestValue").text = base64.b64encode(digest).decode("ascii")
    value = etree.SubElement(signature, f"{ns}SignatureValue")
    x509_data = etree.SubElement(etree.SubElement(signature, f"{ns}KeyInfo"), f"{ns}X509Data")
    for certificate in chain:
        etree.SubElement(x509_data, f"{ns}X509Certificate").text = base64.b64encode(
            certificate.public_bytes(Encoding.DER)
        ).decode("ascii")
    etree.indent(signature, space="  ", level=level)
    signed = canonicalize_element(signed_info, exclusive=True)
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(signed, padding.PKCS1v15(), method.hash)
    else:
        r, s = decode_dss_signature(key.sign(signed, ec.ECDSA(method.hash)))
        half = (key.key_size + 7) // 8
        raw = r.to_bytes(half, "big") + s.to_bytes(half, "big")
    value.text = base64.b64encode(raw).decode("ascii")
    return bytes(etree.tostring(signature, with_tail=False))


def iter_sign(
    package: bytes,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    cert_chain: Sequence[x509.Certificate],
    *,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> Iterator[bytes]:
    """Yield the signed package in chunks (see ``sign``)."""
    if not cert_chain:
        raise SigningError("a certificate chain is required (the signer's certificate first)")
    if cert_chain[0].public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
        raise SigningError("the key does not belong to the first certificate of the chain")
    _check_utf8(package)
    small = len(package) <= SMALL_DOCUMENT_BYTES
    digester = _SigningDigester(package, DigestMethod.SHA256, canonicalize=not small)
    offset = scan_xml(package, observer=digester, limits=limits)
    if digester.old_signatures:
        # Take the old signatures out of the bytes, then digest what will really be sent.
        cleaned = io.BytesIO()
        position = 0
        for start, end in digester.old_signatures:
            cleaned.write(memoryview(package)[position:start])
            position = end
        cleaned.write(memoryview(package)[position:])
        yield from iter_sign(cleaned.getvalue(), key, cert_chain, limits=limits)
        return
    if digester.insert_at is None:
        raise SigningError("the package has no edXMLEnvelope/edXMLHeader to hold the signature")
    level = digester.after.count(" ") // 2 + 1 if digester.after else 0
    if small:
        digest = _digest_for_signing(package[offset:], digester.before + digester.after)
    else:
        digest = digester.hasher.digest()
    element = _signature_element(digest, key, cert_chain, level)
    view = memoryview(package)
    # from the XML itself: stray bytes or a BOM before it are not carried over (spec 6.4)
    yield from _pieces(view[offset : digester.insert_at])
    yield digester.before.encode("ascii") + element + digester.after.encode("ascii")
    yield from _pieces(view[digester.insert_at :])


def _digest_for_signing(xml: bytes, added_text: str) -> bytes:
    """SHA-256 of the exclusive canonical document as it will be sent: the whitespace we add
    around the signature included, the signature itself left out (enveloped-signature)."""
    root = etree.fromstring(xml, safe_lxml_parser())
    header = _header(root)
    assert header is not None  # the scan found it
    if len(header):
        header[-1].tail = (header[-1].tail or "") + added_text
    else:
        header.text = (header.text or "") + added_text
    canonical = etree.tostring(
        root.getroottree(), method="c14n", exclusive=True, with_comments=False
    )
    return hashlib.sha256(canonical).digest()


def _pieces(view: memoryview, size: int = 1 << 20) -> Iterator[bytes]:
    for position in range(0, len(view), size):
        yield bytes(view[position : position + size])


def sign(
    package: bytes,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    cert_chain: Sequence[x509.Certificate],
    *,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> bytes:
    """Sign package bytes: enveloped XMLDSig over ``URI=""`` as the last child of
    ``edXMLHeader``, in the xmldsig namespace, RSA-SHA256 or ECDSA-SHA256, Exclusive C14N,
    ``KeyInfo/X509Data`` with ``cert_chain`` (signer first). A signature already in the
    header is replaced. Attachments are covered: they are inside the signed document.
    """
    out = io.BytesIO()
    for chunk in iter_sign(package, key, cert_chain, limits=limits):
        out.write(chunk)
    return out.getvalue()
