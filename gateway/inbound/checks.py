"""The signature checks of a received package: the package signature (finding what hubs
appended after the sender signed), and who signed each attached PDF.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import edxml
from edxml.pdf import PdfSignatureError, verify_pdf

__all__ = ["pdf_signatures", "signature_sound", "verify_received"]

Trust = edxml.TrustStore | edxml.TrustPolicy | None


async def verify_received(
    package: edxml.DocumentPackage,
    data: bytes,
    *,
    trust: Trust,
    policy: edxml.VerifyPolicy,
    revocation: edxml.RevocationChecker | None,
    timestamps: edxml.TimestampValidator | None,
) -> tuple[edxml.VerifyResult, str | None]:
    """Verify the signature; when it fails, find what hubs appended after the sender
    signed (spec 1.7: the axis adds its TraceHeader) by what the signature covers.

    The last TraceHeaders are taken off one at a time (two at most: the axis and a
    provincial hub) and the signature tried again; the first that verifies says what
    was added. The organ codes prove nothing — the Government Office runs the axis and
    also sends documents, so the hub's trace can carry the sender's own code."""

    def check(candidate: bytes) -> edxml.VerifyResult:
        return edxml.verify(
            candidate, trust, policy=policy, revocation=revocation, timestamps=timestamps
        )

    result = await asyncio.to_thread(check, data)
    if result.valid or not result.present:
        return result, None
    candidate: bytes | None = data
    removed: list[str] = []
    for trace in reversed(package.trace_headers[-2:]):
        candidate = edxml.remove_trace_header(candidate, trace.organ_id) if candidate else None
        if candidate is None:
            break
        removed.append(trace.organ_id)
        again = await asyncio.to_thread(check, candidate)
        if again.valid:
            return again, ", ".join(removed)
    return result, None


async def pdf_signatures(
    package: edxml.DocumentPackage,
    issuer: Sequence[str],
    *,
    trust: Trust,
    revocation: edxml.RevocationChecker | None,
) -> dict[str, object]:
    """Who signed each attached PDF (Nghị định 30 Điều 5), for the clerk to see; the
    agency seal is bound to the document's issuer by ``issuer`` (its identities)."""
    found: dict[str, object] = {}
    for attachment in package.attachments:
        if attachment.data is None or not attachment.data.startswith(b"%PDF"):
            continue
        try:
            report = await verify_pdf(
                attachment.data, trust=trust, revocation=revocation, issuer_identities=issuer
            )
        except PdfSignatureError as exc:
            found[attachment.name] = {"error": str(exc)}
            continue
        found[attachment.name] = {
            "signatures": len(report.signatures),
            "agency_signed": report.agency_signed,
            "person_signed": report.person_signed,
            "legal_value": report.legal_value,
            "legal_value_problems": list(report.legal_value_problems),
            "signers": [str(s.signer) for s in report.signatures if s.signer is not None],
        }
    return found


def signature_sound(signature: edxml.VerifyResult) -> bool:
    """Signed, intact and chained to a trusted root, and the policy accepts it. Under the
    "flag" policy a broken signature is still accepted (and flagged), yet it is a signature
    failure the operator must see counted (/metrics)."""
    return signature.accepted and signature.present and signature.valid and signature.trusted
