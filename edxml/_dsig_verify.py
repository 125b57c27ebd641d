"""Verifying a package signature: every check reported, the policy's verdict, the time the
certificate is judged at."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib

from lxml import etree

from . import _dsig_types
from ._dsig_checks import (
    _accepted,
    _algorithms,
    _claimed_signing_time,
    _find,
    _header,
    _integrity,
    _signer,
)
from ._dsig_digest import _Digested, _Digester, _profile
from ._dsig_types import (
    _OURS,
    DEFAULT_POLICY,
    VerifyPolicy,
    VerifyResult,
)
from ._errors import TimestampError
from ._timestamp import (
    SignatureTimestamp,
    TimestampValidator,
    timestamp_tokens,
    timestamped_value,
)
from ._trust import (
    VIETNAM,
    Check,
    CheckState,
    OfflineRevocation,
    RevocationChecker,
    TrustStore,
    describe_certificate,
)
from ._trust_sets import TrustPolicy, assess_signer
from ._xml import (
    DEFAULT_LIMITS,
    XMLDSIG_NS,
    ParseLimits,
    Source,
    parse_xml,
    safe_lxml_parser,
    scan_xml,
)

__all__ = [
    "verify",
]


#: above it, by the streaming canonicaliser, so memory stays flat. Tests run both paths.


def _small(source: Source) -> bytes | None:
    if (
        isinstance(source, bytes | bytearray | memoryview)
        and len(source) <= _dsig_types.SMALL_DOCUMENT_BYTES
    ):
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
