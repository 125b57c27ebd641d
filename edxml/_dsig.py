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

from ._dsig_sign import iter_sign, sign
from ._dsig_types import (
    C14nMethod,
    DigestMethod,
    SignatureMethod,
    SignatureSlot,
    SigningError,
    VerifyPolicy,
    VerifyResult,
)
from ._dsig_verify import verify

__all__ = [
    "C14nMethod",
    "DigestMethod",
    "SignatureMethod",
    "SignatureSlot",
    "SigningError",
    "VerifyPolicy",
    "VerifyResult",
    "iter_sign",
    "sign",
    "verify",
]
