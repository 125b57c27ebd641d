"""Package signatures: sign -> verify, each trust failure named, interop with xmlsec1/signxml."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from lxml import etree

import edxml
from devtools.devca import DevPki, Issued
from tests import pki as certificates
from tests.factories import document, sample, status

DS = "{http://www.w3.org/2000/09/xmldsig#}"


@pytest.fixture(autouse=True, params=["lxml", "streaming"])
def digest_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs twice: small packages digested by lxml, and by the streaming
    canonicaliser that large ones use (the threshold moved so both see the same packages)."""
    from edxml import _dsig_types

    monkeypatch.setattr(
        _dsig_types, "SMALL_DOCUMENT_BYTES", 8 * 1024 * 1024 if request.param == "lxml" else 0
    )
    return str(request.param)


def fresh(**overrides: object) -> bytes:
    """A package whose signed TraceHeader time is now (the claimed signing time)."""
    now = dt.datetime.now(edxml.VIETNAM).replace(tzinfo=None, microsecond=0)
    trace = (edxml.TraceHeader(organ_id="000.00.01.H42", timestamp=now),)
    return edxml.build(document(trace_headers=trace, **overrides))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def agency(pki: DevPki) -> Issued:
    return pki.agencies["000.00.01.H42"]


@pytest.fixture(scope="module")
def trust(pki: DevPki) -> edxml.TrustStore:
    return edxml.TrustStore(roots=(pki.root.certificate,))


@pytest.fixture(scope="module")
def crls(pki: DevPki) -> edxml.StaticRevocation:
    return edxml.StaticRevocation(crls=tuple(pki.crls.values()))


@pytest.fixture(scope="module")
def signed(pki: DevPki, agency: Issued) -> bytes:
    return edxml.sign(fresh(), agency.key, pki.chain(agency))


def states(result: edxml.VerifyResult) -> dict[str, str]:
    return {check.name: check.state.value for check in result.checks}


ALL_PASS = {
    "present": "pass",
    "integrity": "pass",
    "algorithms": "pass",
    "trusted-chain": "pass",
    "validity-period": "pass",
    "revocation": "pass",
    "key-usage": "pass",
}


def test_sign_then_verify(
    signed: bytes, trust: edxml.TrustStore, crls: edxml.StaticRevocation
) -> None:
    result = edxml.verify(signed, trust, revocation=crls)  # the call the issue names
    assert states(result) == ALL_PASS
    assert result.accepted
    assert result.valid
    assert result.trusted
    assert result.signer is not None
    assert result.signer.kind == "agency"
    assert result.signer.common_name == "Văn phòng UBND tỉnh Ninh Bình"
    assert [c.subject for c in result.chain][-1] == result.chain[-1].issuer  # ends at the root
    # judged at the time of validation; the TraceHeader's time is only reported
    assert result.signing_time_source == "time of validation (no signature timestamp)"
    assert result.claimed_signing_time is not None
    assert result.signature_method == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def test_ecdsa_personal_signature(
    pki: DevPki, trust: edxml.TrustStore, crls: edxml.StaticRevocation
) -> None:
    person = pki.signers["Trần Thị Bình"]
    result = edxml.verify(
        edxml.sign(fresh(), person.key, pki.chain(person)), trust=trust, revocation=crls
    )
    assert states(result) == ALL_PASS
    assert result.signature_method == "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
    assert result.signer is not None
    assert result.signer.kind == "person"
    assert result.signer.organization == "Sở Thông tin và Truyền thông tỉnh Ninh Bình"


def test_the_signature_sits_where_the_profile_says(signed: bytes) -> None:
    root = etree.fromstring(signed)
    header = root.find("{*}edXMLEnvelope/{*}edXMLHeader")
    assert header is not None
    children = [etree.QName(child).localname for child in header if isinstance(child.tag, str)]
    assert children == ["MessageHeader", "TraceHeaderList", "Signature"]
    signature = header[-1]
    assert signature.tag == f"{DS}Signature"
    reference = signature.find(f"{DS}SignedInfo/{DS}Reference")
    assert reference is not None
    assert reference.get("URI") == ""
    transforms = [t.get("Algorithm") for t in signature.iterfind(f".//{DS}Transform")]
    assert transforms == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    ]
    assert len(signature.findall(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")) == 2  # leaf + CA
    assert b"\n      <Signature xmlns=" in signed  # indented like the header's other children


def test_signing_keeps_the_package_intact(signed: bytes) -> None:
    package = edxml.parse(signed)
    assert package.signature is not None
    assert package.signature.in_xmldsig_namespace
    unsigned = edxml.parse(fresh())  # built later: its TraceHeader may be a second younger
    same = {"signature": package.signature, "trace_headers": package.trace_headers}
    assert package == type(package)(**{**vars_of(unsigned), **same})
    assert [t.organ_id for t in package.trace_headers] == ["000.00.01.H42"]
    assert edxml.validate(signed) == []


def vars_of(package: edxml.Package) -> dict[str, object]:
    return {name: getattr(package, name) for name in package.__dataclass_fields__}


def _flip(data: bytes, index: int) -> bytes:
    """One byte changed, staying within the base64 alphabet where it was one."""
    old = data[index : index + 1]
    new = b"B" if old != b"B" else b"C"
    return data[:index] + new + data[index + 1 :]


@pytest.mark.parametrize(
    "where",
    [
        b"<edXML:Subject>",  # a header field
        b"<edXML:DocumentId>",  # the document id
        b"<edXML:Timestamp>",  # the signed time
        b"<ContentId>",  # the carried attachment's metadata
    ],
)
def test_a_one_byte_change_in_the_header_is_detected(
    signed: bytes, trust: edxml.TrustStore, where: bytes
) -> None:
    tampered = _flip(signed, signed.index(where) + len(where))  # the element's first character
    result = edxml.verify(tampered, trust=trust)
    assert result.check("integrity").state == edxml.CheckState.FAIL
    assert "changed after signing" in result.check("integrity").detail
    assert not result.accepted


def test_a_one_byte_change_in_the_attachment_base64_is_detected(
    signed: bytes, trust: edxml.TrustStore
) -> None:
    match = re.search(rb"<edXML:ContentTransferEncoded[^>]*>", signed)
    assert match is not None
    tampered = _flip(signed, match.end() + 200)
    assert edxml.verify(tampered, trust=trust).check("integrity").state == edxml.CheckState.FAIL


def test_a_changed_signature_value_is_detected(signed: bytes, trust: edxml.TrustStore) -> None:
    index = signed.index(b"<SignatureValue>") + len(b"<SignatureValue>") + 10
    result = edxml.verify(_flip(signed, index), trust=trust)
    assert (
        result.check("integrity").detail
        == "the signature value does not verify with the certificate's key"
    )


def test_an_untrusted_root(pki: DevPki, trust: edxml.TrustStore) -> None:
    root, signer = certificates.foreign()
    result = edxml.verify(edxml.sign(fresh(), signer.key, [signer.certificate]), trust=trust)
    assert result.check("integrity").state == edxml.CheckState.PASS
    assert result.check("trusted-chain").state == edxml.CheckState.FAIL
    assert "no chain to a trusted root" in result.check("trusted-chain").detail
    assert not result.accepted
    # trusting that root too makes the same package trusted
    both = edxml.TrustStore(roots=(pki.root.certificate, root.certificate))
    assert edxml.verify(edxml.sign(fresh(), signer.key, [signer.certificate]), trust=both).trusted


def test_an_expired_certificate(pki: DevPki, trust: edxml.TrustStore) -> None:
    old = certificates.expired(pki)
    result = edxml.verify(edxml.sign(fresh(), old.key, pki.chain(old)), trust=trust)
    assert result.check("trusted-chain").state == edxml.CheckState.PASS  # told apart from untrusted
    assert result.check("validity-period").state == edxml.CheckState.FAIL
    assert "valid only" in result.check("validity-period").detail
    assert not result.accepted


def test_a_revoked_certificate_by_crl(
    pki: DevPki, trust: edxml.TrustStore, crls: edxml.StaticRevocation
) -> None:
    result = edxml.verify(
        edxml.sign(fresh(), pki.revoked.key, pki.chain(pki.revoked)), trust=trust, revocation=crls
    )
    check = result.check("revocation")
    assert check.state == edxml.CheckState.FAIL
    assert "[crl]" in check.detail
    assert "revoked on" in check.detail
    assert not result.accepted


def test_a_revoked_certificate_by_ocsp(pki: DevPki, trust: edxml.TrustStore) -> None:
    answers = edxml.StaticRevocation(
        ocsp_responses=(
            pki.ocsp_response(pki.revoked.certificate),
            pki.ocsp_response(pki.intermediate.certificate),
        )
    )
    result = edxml.verify(
        edxml.sign(fresh(), pki.revoked.key, pki.chain(pki.revoked)),
        trust=trust,
        revocation=answers,
    )
    assert result.check("revocation").state == edxml.CheckState.FAIL
    assert "[ocsp]" in result.check("revocation").detail


def test_good_by_ocsp(pki: DevPki, agency: Issued, signed: bytes, trust: edxml.TrustStore) -> None:
    answers = edxml.StaticRevocation(
        ocsp_responses=(
            pki.ocsp_response(agency.certificate),
            pki.ocsp_response(pki.intermediate.certificate),
        )
    )
    check = edxml.verify(signed, trust=trust, revocation=answers).check("revocation")
    assert check.state == edxml.CheckState.PASS
    assert check.detail == "not revoked (ocsp)"


def test_an_ocsp_answer_signed_by_a_stranger_is_not_believed(
    pki: DevPki, agency: Issued, signed: bytes, trust: edxml.TrustStore
) -> None:
    _, stranger = certificates.foreign()
    other = DevPki(**{**pki.__dict__, "ocsp_responder": stranger})
    check = edxml.verify(
        signed,
        trust=trust,
        revocation=edxml.StaticRevocation(
            ocsp_responses=(other.ocsp_response(agency.certificate),)
        ),
    ).check("revocation")
    assert check.state == edxml.CheckState.UNKNOWN
    assert "not signed by the issuer" in check.detail


def test_wrong_key_usage(pki: DevPki, trust: edxml.TrustStore) -> None:
    bad = certificates.wrong_key_usage(pki)
    result = edxml.verify(edxml.sign(fresh(), bad.key, pki.chain(bad)), trust=trust)
    assert result.check("key-usage").state == edxml.CheckState.FAIL
    assert "neither digitalSignature nor nonRepudiation" in result.check("key-usage").detail
    assert result.check("trusted-chain").state == edxml.CheckState.PASS
    assert not result.accepted


def test_offline_revocation_is_unknown_never_silently_good(
    signed: bytes, trust: edxml.TrustStore
) -> None:
    result = edxml.verify(signed, trust=trust)
    assert result.check("revocation").state == edxml.CheckState.UNKNOWN
    assert "[offline]" in result.check("revocation").detail
    assert result.accepted  # soft-fail, the default: accepted and flagged
    assert [c.name for c in result.flagged] == ["revocation"]
    hard = edxml.VerifyPolicy(revocation="hard-fail")
    assert not edxml.verify(signed, trust=trust, policy=hard).accepted


def test_the_official_dummy_signatures_are_present_and_invalid(trust: edxml.TrustStore) -> None:
    for name in ("edoc_new.edxml", "edoc_update.edxml", "edoc_new_junk_prefix.edxml"):
        result = edxml.verify(sample(name), trust=trust)
        assert result.present
        assert not result.valid
        assert not result.accepted
        assert "not in the xmldsig namespace" in result.check("integrity").detail
    # the hand-made official edoc.edxml shape: in the xmldsig namespace, dummy values
    data = sample("edoc_update.edxml").replace(
        b"<Signature>", b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">'
    )
    result = edxml.verify(data, trust=trust)
    assert result.present
    assert result.check("integrity").state == edxml.CheckState.FAIL
    assert not result.accepted


def test_accept_and_flag_policy(trust: edxml.TrustStore) -> None:
    flag = edxml.VerifyPolicy(on_failure="flag")
    result = edxml.verify(sample("edoc_update.edxml"), trust=trust, policy=flag)
    assert result.accepted
    assert {c.name for c in result.flagged} >= {"integrity"}


def test_an_unsigned_package(trust: edxml.TrustStore) -> None:
    result = edxml.verify(fresh(), trust=trust)
    assert states(result)["present"] == "fail"
    assert not result.accepted
    assert edxml.verify(
        fresh(), trust=trust, policy=edxml.VerifyPolicy(require_signature=False)
    ).accepted


def test_status_packages_are_signed_too(
    pki: DevPki, agency: Issued, trust: edxml.TrustStore, crls: edxml.StaticRevocation
) -> None:
    data = edxml.build(
        status(timestamp=dt.datetime.now(edxml.VIETNAM).replace(tzinfo=None, microsecond=0))
    )
    result = edxml.verify(
        edxml.sign(data, agency.key, pki.chain(agency)), trust=trust, revocation=crls
    )
    assert result.accepted
    assert result.check("integrity").state == edxml.CheckState.PASS


def test_signing_replaces_an_existing_signature(
    pki: DevPki, agency: Issued, trust: edxml.TrustStore
) -> None:
    for data in (sample("edoc_update.edxml"), sample("edoc_new_junk_prefix.edxml")):
        once = edxml.sign(data, agency.key, pki.chain(agency))
        twice = edxml.sign(once, agency.key, pki.chain(agency))
        for signed in (once, twice):
            assert signed.startswith(b"<?xml")
            assert len(re.findall(rb"<Signature[ >]", signed)) == 1
            assert edxml.verify(signed, trust=trust).valid
        assert (
            b"\n\n"
            not in twice[twice.index(b"</edXML:TraceHeaderList>") : twice.index(b"<Signature")]
        )


def test_signing_refuses_a_key_that_is_not_the_certificates(pki: DevPki, agency: Issued) -> None:
    other = pki.agencies["000.00.00.G22"]
    with pytest.raises(edxml.SigningError, match="does not belong"):
        edxml.sign(fresh(), other.key, pki.chain(agency))
    with pytest.raises(edxml.SigningError, match="chain is required"):
        edxml.sign(fresh(), agency.key, [])


def test_signing_refuses_non_utf8_packages(pki: DevPki, agency: Issued) -> None:
    text = fresh().decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    with pytest.raises(edxml.SigningError, match="UTF-8"):
        edxml.sign(text.encode("utf-16"), agency.key, pki.chain(agency))


def test_a_package_over_10_mb_signs_and_verifies(
    pki: DevPki, agency: Issued, trust: edxml.TrustStore
) -> None:
    # signxml's signer fails above ~7 MB without huge_tree (python-stack 2a, gotcha 6)
    big = edxml.Attachment(content_id="big", name="big.pdf", data=os.urandom(12 * 1024 * 1024))
    signed = edxml.sign(fresh(attachments=(big,)), agency.key, pki.chain(agency))
    assert len(signed) > 16 * 1024 * 1024
    assert edxml.verify(signed, trust=trust).valid
    assert (
        edxml.verify(_flip(signed, len(signed) // 2), trust=trust).check("integrity").state
        == edxml.CheckState.FAIL
    )


def test_a_file_object_is_verified_as_a_stream(signed: bytes, trust: edxml.TrustStore) -> None:
    import io

    assert edxml.verify(io.BytesIO(signed), trust=trust).valid


# -- interop ---------------------------------------------------------------------------


def _pem(path: Path, *items: object) -> str:
    blobs = []
    for item in items:
        if hasattr(item, "private_bytes"):
            blobs.append(item.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))  # type: ignore[attr-defined]
        else:
            blobs.append(item.public_bytes(Encoding.PEM))  # type: ignore[attr-defined]
    path.write_bytes(b"".join(blobs))
    return str(path)


def _xmlsec1(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["xmlsec1", *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("who", ["agency", "ecdsa signer"])
def test_xmlsec1_verifies_our_signatures(pki: DevPki, tmp_path: Path, who: str) -> None:
    signer = pki.agencies["000.00.01.H42"] if who == "agency" else pki.signers["Trần Thị Bình"]
    path = tmp_path / "signed.edxml"
    path.write_bytes(edxml.sign(fresh(), signer.key, pki.chain(signer)))
    roots = _pem(tmp_path / "root.pem", pki.root.certificate)
    result = _xmlsec1(
        "--verify", "--trusted-pem", roots, "--enabled-reference-uris", "empty", str(path)
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout + result.stderr
    # and the other way round: a changed byte fails there too
    data = path.read_bytes()
    path.write_bytes(data.replace(b"V/v", b"V/w", 1))
    assert (
        _xmlsec1(
            "--verify", "--trusted-pem", roots, "--enabled-reference-uris", "empty", str(path)
        ).returncode
        != 0
    )


def test_we_verify_xmlsec1_signatures_inclusive_c14n_and_sha1(
    pki: DevPki, agency: Issued, tmp_path: Path, trust: edxml.TrustStore
) -> None:
    template = fresh().replace(
        b"</edXML:TraceHeaderList>",
        b"</edXML:TraceHeaderList>\n      "
        b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
        b'<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>'
        b'<SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/>'
        b'<Reference URI=""><Transforms>'
        b'<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></Transforms>'
        b'<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/><DigestValue/></Reference>'
        b"</SignedInfo><SignatureValue/><KeyInfo><X509Data><X509Certificate/></X509Data></KeyInfo></Signature>",
        1,
    )
    (tmp_path / "template.xml").write_bytes(template)
    key = _pem(tmp_path / "key.pem", agency.key)
    cert = _pem(tmp_path / "cert.pem", agency.certificate)
    result = _xmlsec1(
        *("--sign", "--privkey-pem", f"{key},{cert}", "--enabled-reference-uris", "empty"),
        *("--output", str(tmp_path / "out.xml"), str(tmp_path / "template.xml")),
    )
    assert result.returncode == 0, result.stderr
    signed = (tmp_path / "out.xml").read_bytes()
    with_intermediate = edxml.TrustStore(
        roots=trust.roots, intermediates=(pki.intermediate.certificate,)
    )
    verdict = edxml.verify(signed, trust=with_intermediate)
    assert verdict.check("integrity").state == edxml.CheckState.PASS
    assert verdict.check("algorithms").state == edxml.CheckState.WARN  # SHA-1, allowed and flagged
    assert verdict.accepted
    strict = edxml.VerifyPolicy(allow_sha1=False)
    assert not edxml.verify(signed, trust=with_intermediate, policy=strict).accepted


@pytest.mark.parametrize("c14n", ["exclusive", "inclusive"])
def test_signxml_and_we_verify_each_other(
    pki: DevPki, agency: Issued, trust: edxml.TrustStore, tmp_path: Path, c14n: str
) -> None:
    from signxml import (
        CanonicalizationMethod,
        DigestAlgorithm,
        SignatureMethod,
        XMLSigner,
        XMLVerifier,
        methods,
    )

    algorithm = (
        CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
        if c14n == "exclusive"
        else CanonicalizationMethod.CANONICAL_XML_1_0
    )
    placeholder = fresh().replace(
        b"</edXML:TraceHeaderList>",
        b"</edXML:TraceHeaderList>"
        b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"/>',
        1,
    )
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=algorithm,
    )
    root = signer.sign(etree.fromstring(placeholder), key=agency.key, cert=pki.chain(agency))
    theirs = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    assert edxml.verify(theirs, trust=trust).valid
    ours = edxml.sign(fresh(), agency.key, pki.chain(agency))
    roots = _pem(tmp_path / "roots.pem", pki.root.certificate)
    verified = XMLVerifier().verify(ours, ca_pem_file=roots)
    assert base64.b64encode(verified.signed_data)[:10]  # signxml saw the same signed bytes


def test_signed_info_canonical_form_matches_lxml_where_lxml_is_right(signed: bytes) -> None:
    from edxml._c14n import canonicalize_element

    signed_info = next(etree.fromstring(signed).iter(f"{DS}SignedInfo"))
    assert canonicalize_element(signed_info, exclusive=True) == etree.tostring(
        signed_info, method="c14n", exclusive=True
    )
