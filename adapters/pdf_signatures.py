"""Signed PDFs (PAdES) with pyhanko: verify every signature of an attached PDF, and sign a
PDF as the agency with the visible stamp the rules give for attachments.

Verification reports, per signature: integrity (the signed bytes are unchanged), coverage
(the whole file, or which revision and what changed after it), and the same trust checks
as package signatures (``edxml.assess_signer``: chain, validity at signing time,
revocation, key usage), so an operator reads one vocabulary for XML and PDF. A document has
legal value only with the signer's **and** the agency's signatures (Nghị định 30/2020 Điều 5;
legal.md 0.1): ``PdfVerification`` says whether both kinds are present and accepted.

Signing: PAdES baseline B (SubFilter ETSI.CAdES.detached), B-T when a timestamper is given.
The stamp for attachments signed by the clerk (Nghị định 30/2020 Phụ lục I, legal.md 2.5):
top-right of page 1, no image, the text "number/notation" and the signing time in ISO 8601
Vietnam time, 10 pt, black. The rules name Times New Roman; we embed Liberation Serif (its
metric twin) or DejaVu Serif, whichever has every glyph of the text.

pyhanko's async API is used throughout: its sync wrappers start their own event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import algos as asn1_algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import Encoding
from fontTools.ttLib import TTFont
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import AxisAlignment, InnerScaling, SimpleBoxLayoutRule
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from adapters.errors import AdapterError, ConfigurationError
from adapters.keys import SigningIdentity
from edxml import (
    VIETNAM,
    CertificateInfo,
    Check,
    CheckState,
    OfflineRevocation,
    RevocationChecker,
    TrustPolicy,
    TrustStore,
    VerifyPolicy,
    assess_signer,
    describe_certificate,
    matches_identity,
)

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

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
)
_DEFAULT_POLICY = VerifyPolicy()
_STAMP_WIDTH, _STAMP_HEIGHT, _MARGIN = 210, 30, 28  # points; 28 pt ~ 1 cm from the edges


class PdfSignatureError(AdapterError):
    """The PDF cannot be read or signed."""


class _PathBuildingNoise(logging.Filter):
    """pyhanko logs a traceback at ERROR when no chain is found; we report that as a check."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and "PathBuildingError" in type(record.exc_info[1]).__name__)


for _name in (
    "pyhanko.sign.validation.generic_cms",
    "pyhanko.sign.validation",
    "pyhanko_certvalidator",
):
    logging.getLogger(_name).addFilter(_PathBuildingNoise())
# "FFTM NOT subset; don't know how to subset; dropped": fontTools narrating a harmless choice
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class PdfSignatureReport:
    field_name: str
    checks: tuple[Check, ...]
    accepted: bool
    signer: CertificateInfo | None
    #: When the certificate was judged: the timestamp token's time, else the validation's
    signing_time: dt.datetime | None
    signing_time_source: str
    #: The time the signer wrote into the signature: reported, never trusted
    claimed_signing_time: dt.datetime | None = None

    def check(self, name: str) -> Check:
        return next(item for item in self.checks if item.name == name)


@dataclass(frozen=True, slots=True)
class PdfVerification:
    signatures: tuple[PdfSignatureReport, ...]  # in the order they were made
    #: Who the issuing agency's certificate must be (``edxml.matches_identity`` forms)
    issuer_identities: tuple[str, ...] = ()

    def _accepted(self, kind: str) -> list[int]:
        return [
            index
            for index, s in enumerate(self.signatures)
            if s.accepted and s.signer is not None and s.signer.kind == kind
        ]

    @property
    def person_signed(self) -> bool:
        return bool(self._accepted("person"))

    @property
    def agency_signed(self) -> bool:
        return bool(self._accepted("agency"))

    @property
    def legal_value_problems(self) -> tuple[str, ...]:
        """Why the file has no legal value (Nghị định 30/2020 Điều 5), or () when it has.

        It needs the competent person's signature and the issuing agency's, the agency's
        made by the document's issuer (its certificate is one the issuer's identities name),
        after the person's, and covering the whole file (nothing added after the seal)."""
        persons, agencies = self._accepted("person"), self._accepted("agency")
        problems = []
        if not persons:
            problems.append("no acceptable signature of the competent person")
        if not agencies:
            problems.append("no acceptable signature of the issuing agency")
            return tuple(problems)
        if not self.issuer_identities:
            problems.append(
                "the issuing agency's certificate identity is not known, so its "
                "signature cannot be bound to it"
            )
            return tuple(problems)
        bound = [
            index
            for index in agencies
            if any(
                matches_identity(self.signatures[index].signer, identity)  # type: ignore[arg-type]
                for identity in self.issuer_identities
            )
        ]
        if not bound:
            names = ", ".join(str(self.signatures[i].signer) for i in agencies)
            problems.append(f"the agency signature is not the issuing agency's ({names})")
            return tuple(problems)
        seal = self.signatures[bound[-1]]
        if persons and bound[-1] < persons[0]:
            problems.append("the agency signature comes before the person's")
        coverage = seal.check("coverage")
        if coverage.state != CheckState.PASS:
            problems.append(
                f"the agency signature does not cover the whole file ({coverage.detail})"
            )
        return tuple(problems)

    @property
    def legal_value(self) -> bool:
        """Signed as Nghị định 30 Điều 5 wants (see ``legal_value_problems``)."""
        return not self.legal_value_problems


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def _crypto(certificate: asn1_x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(certificate.dump())


def _coverage(status: object) -> Check:
    coverage = getattr(status, "coverage", None)
    level = getattr(status, "modification_level", None)
    docmdp_ok = getattr(status, "docmdp_ok", True)
    name = getattr(coverage, "name", "UNKNOWN")
    if name == "ENTIRE_FILE":
        return Check("coverage", CheckState.PASS, "the signature covers the whole file")
    if name == "ENTIRE_REVISION":
        changes = getattr(level, "name", "unknown").lower().replace("_", " ")
        if docmdp_ok and changes in {"none", "lta updates", "form filling"}:
            return Check(
                "coverage",
                CheckState.WARN,
                f"covers its revision; later changes: {changes} (allowed)",
            )
        return Check(
            "coverage",
            CheckState.FAIL,
            f"covers its revision; later changes: {changes} (not allowed)",
        )
    return Check("coverage", CheckState.FAIL, "the signature does not cover its revision")


def is_signed(data: bytes) -> bool:
    """Whether a PDF carries any signature (``PdfSignatureError`` if it is no readable PDF)."""
    try:
        return bool(list(PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures))
    except (PdfReadError, ValueError, KeyError) as exc:
        raise PdfSignatureError(f"not a readable PDF ({exc})") from exc


async def verify_pdf(
    data: bytes,
    *,
    trust: TrustStore | TrustPolicy | None,
    revocation: RevocationChecker | None = None,
    policy: VerifyPolicy = _DEFAULT_POLICY,
    issuer_identities: Sequence[str] = (),
) -> PdfVerification:
    """Every signature of a PDF, each with its checks (see the module docstring);
    ``issuer_identities`` name the issuing agency's certificate (for the legal value).
    Under a ``TrustPolicy`` a seal and a person's signature each chain to the sets their
    kind may use."""
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except (PdfReadError, ValueError, KeyError) as exc:
        raise PdfSignatureError(f"not a readable PDF ({exc})") from exc
    pool = trust.everything if isinstance(trust, TrustPolicy) else (trust or TrustStore(roots=()))
    context = ValidationContext(
        trust_roots=[_asn1(c) for c in pool.roots],
        other_certs=[_asn1(c) for c in pool.intermediates],
        allow_fetching=False,  # trust and revocation are ours (edxml.assess_signer)
        revocation_mode="soft-fail",
    )
    reports = []
    for signature in embedded:
        reports.append(
            await _verify_one(signature, context, trust, revocation or OfflineRevocation(), policy)
        )
    return PdfVerification(signatures=tuple(reports), issuer_identities=tuple(issuer_identities))


async def _verify_one(
    signature: object,
    context: ValidationContext,
    trust: TrustStore | TrustPolicy | None,
    revocation: RevocationChecker,
    policy: VerifyPolicy,
) -> PdfSignatureReport:
    name = str(getattr(signature, "field_name", "") or "")
    try:
        status = await async_validate_pdf_signature(signature, context)  # type: ignore[arg-type]
    except (SignatureValidationError, ValueError, KeyError) as exc:
        failed = Check("integrity", CheckState.FAIL, f"the signature cannot be validated ({exc})")
        return PdfSignatureReport(name, (failed,), policy.on_failure == "flag", None, None, "")
    intact, valid = bool(status.intact), bool(status.valid)
    checks = [
        Check(
            "integrity",
            CheckState.PASS if intact and valid else CheckState.FAIL,
            "the signed bytes are unchanged and the signature verifies"
            if intact and valid
            else (
                "the signed bytes were changed"
                if not intact
                else "the signature value does not verify"
            ),
        ),
        _coverage(status),
    ]
    timestamp = getattr(status, "timestamp_validity", None)
    if (
        timestamp is not None
        and getattr(timestamp, "intact", False)
        and getattr(timestamp, "valid", False)
    ):
        signing_time, source = timestamp.timestamp, "timestamp token"
        checks.append(
            Check(
                "timestamp",
                CheckState.PASS,
                f"signature timestamp {timestamp.timestamp.astimezone(VIETNAM).isoformat()}",
            )
        )
    else:
        # The time the signer wrote into the signature proves nothing (it chose it): the
        # certificate is judged at the time of validation, the claimed time only reported.
        signing_time, source = dt.datetime.now(dt.UTC), "time of validation"
    leaf = _crypto(status.signing_cert)
    extra = [_crypto(c) for c in getattr(signature, "other_embedded_certs", ())]
    trust_checks, _ = assess_signer(
        leaf, extra, trust=trust, kind="pdf", signing_time=signing_time, revocation=revocation
    )
    checks.extend(trust_checks)
    return PdfSignatureReport(
        field_name=name,
        checks=tuple(checks),
        accepted=policy.accepts(checks),
        signer=describe_certificate(leaf),
        signing_time=signing_time,
        signing_time_source=source,
        claimed_signing_time=status.signer_reported_dt,
    )


@dataclass(frozen=True)
class _InMemoryFont(GlyphAccumulatorFactory):
    """pyhanko's factory opens the font file and never closes it; hand it a copy in memory."""

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: object = None
    ) -> GlyphAccumulator:
        handle = io.BytesIO(Path(self.font_file).read_bytes())
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()  # type: ignore[no-untyped-call]
        return GlyphAccumulator(
            writer=writer,
            font_handle=handle,
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )


def _font_for(text: str, candidates: Sequence[Path]) -> Path:
    for path in candidates:
        if not path.exists():
            continue
        with TTFont(str(path), lazy=True) as font:
            cmap = font.getBestCmap()
        if all(ord(char) in cmap for char in text if not char.isspace()):
            return _with_1000_unit_em(path)
    raise ConfigurationError(
        "no font with all the glyphs of the stamp; install fonts-liberation2 or fonts-dejavu-core"
    )


@functools.cache
def _with_1000_unit_em(path: Path) -> Path:
    """The font rescaled to a 1000-unit em, as pyhanko's text layout assumes.

    pyhanko (0.38) writes glyph widths (/W) and TJ adjustments in font units, which PDF
    reads as thousandths of an em: TrueType fonts with 2048 units per em (Liberation,
    DejaVu) come out with every glyph twice as wide. Rescaling the font is exact (fontTools
    scales outlines, metrics and kerning together) and leaves pyhanko untouched.
    """
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target = (
        Path(tempfile.gettempdir()) / "edxml-gateway-fonts" / f"{path.stem}-{digest}-em1000.ttf"
    )
    with TTFont(str(path)) as font:
        if font["head"].unitsPerEm == 1000:
            return path
        if not target.exists():
            scale_upem(font, 1000)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.partial")
            font.save(str(partial))
            os.replace(partial, target)  # atomic: concurrent workers never read half a font
    return target


def stamp_text(number_notation: str, signing_time: dt.datetime) -> str:
    """The visible text: số/ký hiệu, then the signing time in ISO 8601, Vietnam time."""
    return (
        f"{number_notation}\n{signing_time.astimezone(VIETNAM).replace(microsecond=0).isoformat()}"
    )


def _inherited(page: Any, name: str) -> Any:
    """A page attribute, looked up the page tree as PDF inheritance wants (MediaBox, CropBox
    and Rotate may sit on a parent /Pages node)."""
    node = page
    for _ in range(64):  # a page tree is shallow; a cycle must not hang us
        if node is None:
            return None
        if name in node:
            return node[name]
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
    return None


def _stamp_box(page: Any) -> tuple[int, int, int, int]:
    """Where the stamp goes so that it shows at the top-right of page 1 as displayed:
    inside the visible area (CropBox, else MediaBox, both inherited) and turned with the
    page's /Rotate (the widget is drawn unrotated, NoRotate, its top-left corner fixed)."""
    visible = _inherited(page, "/CropBox") or _inherited(page, "/MediaBox")
    if visible is None:
        raise PdfSignatureError("page 1 has no MediaBox")
    x0, y0, x1, y1 = (float(v) for v in visible)
    rotation = int(_inherited(page, "/Rotate") or 0) % 360
    width, height, margin = _STAMP_WIDTH, _STAMP_HEIGHT, _MARGIN
    # A NoRotate widget is drawn upright from its rectangle's upper-left corner, which stays
    # where it is on the page: that corner goes where the stamp's top-left corner shows.
    if rotation == 90:  # shown turned clockwise: the user space's left edge is the top
        left, top = x0 + margin, y1 - margin - width
    elif rotation == 180:
        left, top = x0 + margin + width, y0 + margin
    elif rotation == 270:
        left, top = x1 - margin, y0 + margin + width
    else:
        left, top = x1 - margin - width, y1 - margin
    return int(left), int(top - height), int(left + width), int(top)


class _KeySigner(signers.Signer):
    """pyhanko's signer over our key interface: the key signs (a file key, a token's, a
    remote service's), so the private key is never exported to be handed to pyhanko."""

    def __init__(self, identity: SigningIdentity) -> None:
        chain = [_asn1(certificate) for certificate in identity.chain]
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
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    except (PdfReadError, ValueError, KeyError) as exc:
        raise PdfSignatureError(f"not a readable PDF ({exc})") from exc
    style = None
    appearance: dict[str, str] | None = None
    box = None
    if number_notation is not None:
        text = stamp_text(number_notation, signing_time)
        font = _font_for(text, fonts)
        page, _ = writer.find_page_for_modification(0)  # type: ignore[no-untyped-call]
        box = _stamp_box(page.get_object())
        style = TextStampStyle(
            stamp_text="%(stamp)s",
            text_box_style=TextBoxStyle(font=_InMemoryFont(str(font), font_size=10), font_size=10),
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
