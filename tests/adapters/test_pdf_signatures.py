"""Signed PDFs: verify every signature (and who signed), sign with the attachment stamp."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyhanko.sign.timestamps import DummyTimeStamper

import edxml
from devtools.devca import DevPki, Issued
from edxml import SigningIdentity
from edxml.pdf import PdfSignatureError, sign_pdf, stamp_text, verify_pdf
from tests import pki as certificates
from tests.factories import PDF


def identity(pki: DevPki, issued: Issued) -> SigningIdentity:
    return SigningIdentity(key=issued.key, chain=tuple(pki.chain(issued)))


def timestamper(pki: DevPki) -> DummyTimeStamper:
    return DummyTimeStamper(
        asn1_x509.Certificate.load(pki.tsa.certificate.public_bytes(Encoding.DER)),
        asn1_keys.PrivateKeyInfo.load(
            pki.tsa.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        ),
    )


@pytest.fixture(scope="module")
def trust(pki: DevPki) -> edxml.TrustStore:
    return edxml.TrustStore(
        roots=(pki.root.certificate,), intermediates=(pki.intermediate.certificate,)
    )


@pytest.fixture(scope="module")
def crls(pki: DevPki) -> edxml.StaticRevocation:
    return edxml.StaticRevocation(crls=tuple(pki.crls.values()))


@pytest.fixture(scope="module")
def both_signed(pki: DevPki) -> bytes:
    """Signed by the person (invisible), then by the agency with the stamp, B-T."""

    async def sign_twice() -> bytes:
        person = await sign_pdf(
            PDF, identity(pki, pki.signers["Nguyễn Văn An"]), field_name="SignerSignature"
        )
        return await sign_pdf(
            person,
            identity(pki, pki.agencies["000.00.01.H42"]),
            number_notation="05/UBND-VP",
            timestamper=timestamper(pki),
        )

    return asyncio.run(sign_twice())


#: The Office's agency certificate, as the dev CA issues it (its organ id in OU).
OFFICE_IDENTITY = "OU=000.00.01.H42"


def states(report: object) -> dict[str, str]:
    return {check.name: check.state.value for check in report.checks}  # type: ignore[attr-defined]


async def test_both_signatures_verify_and_carry_legal_value(
    both_signed: bytes, trust: edxml.TrustStore, crls: edxml.StaticRevocation
) -> None:
    result = await verify_pdf(
        both_signed, trust=trust, revocation=crls, issuer_identities=(OFFICE_IDENTITY,)
    )
    person, agency = result.signatures
    assert person.field_name == "SignerSignature"
    assert person.signer is not None
    assert (person.signer.kind, person.signer.common_name) == ("person", "Nguyễn Văn An")
    assert states(person) == {
        "integrity": "pass",
        "coverage": "warn",  # its revision; the agency's signature came after (allowed)
        "trusted-chain": "pass",
        "validity-period": "pass",
        "revocation": "pass",
        "key-usage": "pass",
    }
    assert agency.signer is not None
    assert agency.signer.kind == "agency"
    assert states(agency)["coverage"] == "pass"
    assert states(agency)["timestamp"] == "pass"  # PAdES B-T
    assert agency.signing_time_source == "timestamp token"
    assert result.person_signed
    assert result.agency_signed
    assert result.legal_value


async def test_one_kind_alone_has_no_legal_value(pki: DevPki, trust: edxml.TrustStore) -> None:
    only_agency = await sign_pdf(
        PDF, identity(pki, pki.agencies["000.00.01.H42"]), number_notation="05/UBND-VP"
    )
    result = await verify_pdf(only_agency, trust=trust)
    assert result.agency_signed
    assert not result.person_signed
    assert not result.legal_value
    # B-B: no timestamp, so judged at the time of validation; the signer's time is reported
    assert result.signatures[0].signing_time_source == "time of validation"
    assert result.signatures[0].claimed_signing_time is not None


async def test_a_changed_byte_is_detected(both_signed: bytes, trust: edxml.TrustStore) -> None:
    index = both_signed.index(b"UBND TINH NINH BINH")
    tampered = both_signed[:index] + b"X" + both_signed[index + 1 :]
    result = await verify_pdf(tampered, trust=trust)
    assert all(
        report.check("integrity").state == edxml.CheckState.FAIL for report in result.signatures
    )
    assert not result.legal_value


async def test_revoked_and_untrusted_signers(
    pki: DevPki, trust: edxml.TrustStore, crls: edxml.StaticRevocation
) -> None:
    revoked = await sign_pdf(PDF, identity(pki, pki.revoked))
    (report,) = (await verify_pdf(revoked, trust=trust, revocation=crls)).signatures
    assert report.check("revocation").state == edxml.CheckState.FAIL
    assert not report.accepted
    _, stranger = certificates.foreign()
    foreign = await sign_pdf(PDF, SigningIdentity(key=stranger.key, chain=(stranger.certificate,)))
    (report,) = (await verify_pdf(foreign, trust=trust)).signatures
    assert report.check("integrity").state == edxml.CheckState.PASS
    assert report.check("trusted-chain").state == edxml.CheckState.FAIL


async def test_an_unsigned_pdf_has_no_signatures(trust: edxml.TrustStore) -> None:
    result = await verify_pdf(PDF, trust=trust)
    assert result.signatures == ()
    assert not result.legal_value


async def test_megabytes_that_only_look_like_a_pdf_are_refused_without_holding_the_loop(
    trust: edxml.TrustStore, pki: DevPki
) -> None:
    """Before, 1 MB of junk behind a PDF header held the event loop for half a second
    (pyhanko looked for ``startxref`` a byte at a time): every request of the process
    waited. Now it is refused at once, and reading a real PDF runs off the loop."""
    junk = b"%PDF-1.7\n" + b"0123456789abcdef" * (5 * 65536) + b"\n%%EOF\n"
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    running = asyncio.create_task(ticker())
    try:
        with pytest.raises(PdfSignatureError, match="no startxref at its end"):
            await verify_pdf(junk, trust=trust)
        with pytest.raises(PdfSignatureError, match="no startxref at its end"):
            await sign_pdf(junk, identity(pki, pki.agencies["000.00.01.H42"]))
        before = ticks
        report = await verify_pdf(PDF, trust=trust)
        assert ticks > before  # the loop ran while the PDF was read
    finally:
        running.cancel()
    assert report.signatures == ()


async def test_not_a_pdf(trust: edxml.TrustStore, pki: DevPki) -> None:
    with pytest.raises(PdfSignatureError, match="not a readable PDF"):
        await verify_pdf(b"%PDF-1.4 nonsense", trust=trust)
    with pytest.raises(PdfSignatureError, match="not a readable PDF"):
        await sign_pdf(b"plain text", identity(pki, pki.agencies["000.00.01.H42"]))


def test_the_stamp_text_is_number_and_iso_8601_vietnam_time() -> None:
    when = dt.datetime(2026, 11, 25, 3, 4, 5, 678, tzinfo=dt.UTC)
    assert stamp_text("05/QĐ-UBND", when) == "05/QĐ-UBND\n2026-11-25T10:04:05+07:00"


async def test_pdfsig_verifies_our_signatures(both_signed: bytes, tmp_path: Path) -> None:
    path = tmp_path / "signed.pdf"
    path.write_bytes(both_signed)
    result = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Signature Validation: Signature is Valid.") == 2
    assert "Signer Certificate Common Name: Nguyễn Văn An" in result.stdout
    assert "Signer Certificate Common Name: Văn phòng UBND tỉnh Ninh Bình" in result.stdout
    assert "Signature Type: ETSI.CAdES.detached" in result.stdout  # PAdES


async def test_the_stamp_is_drawn_top_right_in_an_embedded_font(
    both_signed: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "signed.pdf"
    path.write_bytes(both_signed)
    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(
        r"\+(LiberationSerif|DejaVuSerif)\S*\s+CID TrueType\s+Identity-H\s+yes", fonts
    ), fonts
    # the text as a viewer extracts it, from the top-right region of page 1 (A4: 595 x 842 pt)
    region = ["-f", "1", "-l", "1", "-x", "350", "-y", "0", "-W", "245", "-H", "80"]
    text = subprocess.run(
        ["pdftotext", *region, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "05/UBND-VP" in text
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", text), text


async def test_an_expired_certificate_is_not_saved_by_the_time_it_claims(
    pki: DevPki, trust: edxml.TrustStore
) -> None:
    """The PDF sibling of the package signature's defect: the signer-reported time (set by
    the signer) was trusted to judge the certificate; a long-expired one signing with a
    backdated time passed."""
    old = certificates.expired(pki)
    when = old.certificate.not_valid_before_utc + dt.timedelta(days=10)
    signed = await sign_pdf(PDF, identity(pki, old), signing_time=when)
    (report,) = (await verify_pdf(signed, trust=trust)).signatures
    assert report.check("validity-period").state == edxml.CheckState.FAIL
    assert report.claimed_signing_time is not None
    assert not report.accepted


async def test_the_legal_value_needs_the_issuing_agencys_seal_after_the_person(
    both_signed: bytes, pki: DevPki, trust: edxml.TrustStore
) -> None:
    """Before, a person's certificate plus any agency's passed, from any agency."""
    theirs = await verify_pdf(both_signed, trust=trust, issuer_identities=("OU=000.00.00.G22",))
    assert not theirs.legal_value
    assert "not the issuing agency's" in theirs.legal_value_problems[0]
    unknown = await verify_pdf(both_signed, trust=trust)
    assert "identity is not known" in unknown.legal_value_problems[0]
    # the seal first, the person after: not the order of Điều 5
    sealed = await sign_pdf(
        PDF, identity(pki, pki.agencies["000.00.01.H42"]), field_name="AgencySignature"
    )
    person_after = await sign_pdf(
        sealed, identity(pki, pki.signers["Nguyễn Văn An"]), field_name="SignerSignature"
    )
    reversed_order = await verify_pdf(
        person_after, trust=trust, issuer_identities=(OFFICE_IDENTITY,)
    )
    assert reversed_order.person_signed
    assert reversed_order.agency_signed
    problems = reversed_order.legal_value_problems
    assert "the agency signature comes before the person's" in problems
    assert any("does not cover the whole file" in p for p in problems)
