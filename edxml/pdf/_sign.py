"""Signing a PDF as the agency (PAdES B-B, B-T with a timestamper), with the stamp."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

from asn1crypto import algos as asn1_algos
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import AxisAlignment, InnerScaling, SimpleBoxLayoutRule
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from edxml import (
    VIETNAM,
    PdfSignatureError,
    SigningIdentity,
)
from edxml.pdf._stamp import FONT_CANDIDATES, InMemoryFont, font_for, stamp_box, stamp_text
from edxml.pdf._verify import require_pdf_ending, to_asn1


class _KeySigner(signers.Signer):
    """pyhanko's signer over our key interface: the key signs (a file key, a token's, a
    remote service's), so the private key is never exported to be handed to pyhanko."""

    def __init__(self, identity: SigningIdentity) -> None:
        chain = [to_asn1(certificate) for certificate in identity.chain]
        ecdsa = isinstance(identity.key, ec.EllipticCurvePrivateKey)
        super().__init__(
            signing_cert=chain[0],
            cert_registry=SimpleCertificateStore.from_certs(chain),  # type: ignore[no-untyped-call]
            signature_mechanism=asn1_algos.SignedDigestAlgorithm(
                {"algorithm": "sha256_ecdsa" if ecdsa else "sha256_rsa"}
            ),
        )
        self._key = identity.key

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        size = (self._key.key_size + 7) // 8
        if dry_run:  # only the length matters: do not ask the token (or its holder) twice
            return bytes(size if isinstance(self._key, rsa.RSAPrivateKey) else 2 * size + 9)
        algorithm = _DIGESTS[digest_algorithm]
        key = self._key
        if isinstance(key, rsa.RSAPrivateKey):
            return await asyncio.to_thread(key.sign, data, PKCS1v15(), algorithm)
        return await asyncio.to_thread(key.sign, data, ec.ECDSA(algorithm))


_DIGESTS: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


async def sign_pdf(
    data: bytes,
    identity: SigningIdentity,
    *,
    number_notation: str | None = None,
    signing_time: dt.datetime | None = None,
    field_name: str = "AgencySignature",
    timestamper: TimeStamper | None = None,
    reason: str | None = None,
    location: str | None = None,
    fonts: Sequence[Path] = FONT_CANDIDATES,
) -> bytes:
    """Sign a PDF (PAdES B-B, or B-T with ``timestamper``) as ``identity``.

    With ``number_notation`` the signature gets the visible attachment stamp (top-right of
    page 1, no image, number/notation and ISO 8601 time, 10 pt); without it, it is invisible.
    """
    signing_time = signing_time or dt.datetime.now(VIETNAM)
    signer = _KeySigner(identity)
    require_pdf_ending(data)
    try:  # reading the file's structure is Python work proportional to its size: not on the loop
        writer = await asyncio.to_thread(IncrementalPdfFileWriter, io.BytesIO(data), strict=False)
    except (PdfReadError, ValueError, KeyError) as exc:
        raise PdfSignatureError(f"not a readable PDF ({exc})") from exc
    style = None
    appearance: dict[str, str] | None = None
    box = None
    if number_notation is not None:
        text = stamp_text(number_notation, signing_time)
        font = font_for(text, fonts)
        page, _ = writer.find_page_for_modification(0)  # type: ignore[no-untyped-call]
        box = stamp_box(page.get_object())
        style = TextStampStyle(
            stamp_text="%(stamp)s",
            text_box_style=TextBoxStyle(font=InMemoryFont(str(font), font_size=10), font_size=10),
            border_width=0,
            background=None,
            # 10 pt as Phụ lục I says: never shrunk to the box (pyhanko's default), set in the
            # box's top-right corner
            inner_content_layout=SimpleBoxLayoutRule(
                x_align=AxisAlignment.ALIGN_MAX,
                y_align=AxisAlignment.ALIGN_MAX,
                inner_content_scaling=InnerScaling.NO_SCALING,
            ),
        )
        appearance = {"stamp": text}
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
    )
    pdf_signer = signers.PdfSigner(
        metadata,
        signer=signer,
        timestamper=timestamper,
        stamp_style=style,
        new_field_spec=fields.SigFieldSpec(
            sig_field_name=field_name,
            on_page=0,
            box=box,
            # upright whatever the page's /Rotate: the box is placed for the page as shown
            visible_sig_settings=fields.VisibleSigSettings(rotate_with_page=False),
        ),
    )
    try:
        out = await pdf_signer.async_sign_pdf(writer, appearance_text_params=appearance)
    except (PyhankoSigningError, PdfReadError, ValueError) as exc:
        raise PdfSignatureError(f"cannot sign the PDF ({exc})") from exc
    return bytes(out.getvalue())
