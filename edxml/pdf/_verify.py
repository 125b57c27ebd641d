"""Verifying every signature of a PDF: integrity, coverage, the trust checks, legal value."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko_certvalidator import ValidationContext

from edxml import (
    VIETNAM,
    CertificateInfo,
    Check,
    CheckState,
    OfflineRevocation,
    PdfSignatureError,
    RevocationChecker,
    TrustPolicy,
    TrustStore,
    VerifyPolicy,
    assess_signer,
    describe_certificate,
    matches_identity,
)

_DEFAULT_POLICY = VerifyPolicy()


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


def to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
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


#: A PDF ends with ``startxref`` (ISO 32000-1, 7.5.5); readers look for it in the last KB,
#: and this much trailing junk is tolerated.
_TAIL = 4096


def require_pdf_ending(data: bytes) -> None:
    """``PdfSignatureError`` unless ``data`` ends as a PDF does, checked before pyhanko
    reads it: without a ``startxref`` near the end, pyhanko would search the whole file for
    one a byte at a time (half a second per MB, in Python)."""
    if b"startxref" not in data[-_TAIL:]:
        raise PdfSignatureError("not a readable PDF (no startxref at its end)")


def _signatures(data: bytes) -> list[Any]:
    """The embedded signatures of a PDF; ``PdfSignatureError`` if it is no readable PDF."""
    require_pdf_ending(data)
    try:
        return list(PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures)
    except (PdfReadError, ValueError, KeyError) as exc:
        raise PdfSignatureError(f"not a readable PDF ({exc})") from exc


def is_signed(data: bytes) -> bool:
    """Whether a PDF carries any signature (``PdfSignatureError`` if it is no readable PDF)."""
    return bool(_signatures(data))


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
    # Reading the file's structure is Python work proportional to its size: not on the loop.
    embedded = await asyncio.to_thread(_signatures, data)
    pool = trust.everything if isinstance(trust, TrustPolicy) else (trust or TrustStore(roots=()))
    context = ValidationContext(
        trust_roots=[to_asn1(c) for c in pool.roots],
        other_certs=[to_asn1(c) for c in pool.intermediates],
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
