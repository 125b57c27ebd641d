"""Signed PDFs (PAdES) with pyhanko: verify every signature of an attached PDF, and sign a
PDF as the agency with the visible stamp the rules give for attachments.

Verification reports, per signature: integrity (the signed bytes are unchanged), coverage
(the whole file, or which revision and what changed after it), and the same trust checks
as package signatures (``edxml.assess_signer``: chain, validity at signing time,
revocation, key usage), so an operator reads one vocabulary for XML and PDF. A document has
legal value only with the signer's **and** the agency's signatures (Nghị định 30/2020 Điều 5;
``PdfVerification`` says whether both kinds are present and accepted.

Signing: PAdES baseline B (SubFilter ETSI.CAdES.detached), B-T when a timestamper is given.
The stamp for attachments signed by the clerk (Nghị định 30/2020 Phụ lục I):
top-right of page 1, no image, the text "number/notation" and the signing time in ISO 8601
Vietnam time, 10 pt, black. The rules name Times New Roman; we embed Liberation Serif (its
metric twin) or DejaVu Serif, whichever has every glyph of the text.

pyhanko's async API is used throughout: its sync wrappers start their own event loop.
"""

import warnings

from cryptography.utils import CryptographyDeprecationWarning

# pyhanko imports cryptography's DSA key types, which cryptography 51 deprecates with a
# warning at import time; edXML signatures are RSA or ECDSA only and DSA is never accepted,
# so the warning says nothing to whoever runs the gateway. Only that message is silenced.
warnings.filterwarnings(
    "ignore", message="DSA is deprecated", category=CryptographyDeprecationWarning
)

from edxml import PdfSignatureError  # noqa: E402
from edxml.pdf._sign import sign_pdf  # noqa: E402
from edxml.pdf._stamp import FONT_CANDIDATES, stamp_text  # noqa: E402
from edxml.pdf._verify import PdfSignatureReport, PdfVerification, is_signed, verify_pdf  # noqa: E402

__all__ = [
    "FONT_CANDIDATES",
    "PdfSignatureError",
    "PdfSignatureReport",
    "PdfVerification",
    "is_signed",
    "sign_pdf",
    "stamp_text",
    "verify_pdf",
]
