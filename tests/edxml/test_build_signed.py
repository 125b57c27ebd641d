"""A package signed from what its build learnt (``SignableBuild`` + ``iter_sign(slot=)``) is
byte for byte the package signed by parsing it: the same digest, the same place, the same
whitespace, for every shape of package; and nothing is parsed to sign it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import edxml
from devtools.devca import DevPki, Issued
from tests.factories import document, status

_TEXT = "Điều 1. Giao Sở Nội vụ chủ trì; <b>&amp;</b> \"trích\" 'dẫn' & > < ]]>\r\n".encode()


def _file(name: str, data: bytes) -> edxml.Attachment:
    return edxml.Attachment(content_id=name, name=name, data=data, description=f"tệp {name}")


SHAPES = {
    "one PDF": document(),
    "no attachment": document(attachments=()),
    "a file named but not carried": document(
        attachments=(edxml.Attachment(content_id="x", name="x.pdf"),)
    ),
    "text that canonical form escapes": document(
        subject='Về việc <thí điểm> & "liên thông" \r\n văn bản', attachments=()
    ),
    "compressed and stored files, larger than lxml digests": document(
        attachments=(
            _file("bien_ban.docx", os.urandom(300_000)),
            _file("ghi_chu.txt", _TEXT * 4000),
            _file("anh.png", os.urandom(700)),
        )
    ),
}


@pytest.fixture(scope="module")
def agency(pki: DevPki) -> Issued:
    return pki.agencies["000.00.01.H42"]


def _signed_both_ways(package: edxml.Package, agency: Issued, pki: DevPki) -> tuple[bytes, bytes]:
    build = edxml.SignableBuild(package)
    data = b"".join(build)
    assert len(data) == len(edxml.build(package))  # what iter_build writes (ZIP names differ)
    assert build.slot is not None
    chain = pki.chain(agency)
    parsed = b"".join(edxml.iter_sign(data, agency.key, chain))
    learnt = b"".join(edxml.iter_sign(data, agency.key, chain, slot=build.slot))
    return parsed, learnt


@pytest.mark.parametrize("shape", SHAPES)
def test_signing_from_the_build_equals_signing_by_parsing(
    shape: str, pki: DevPki, agency: Issued
) -> None:
    parsed, learnt = _signed_both_ways(SHAPES[shape], agency, pki)
    assert learnt == parsed  # RSA PKCS#1 v1.5 is deterministic: any digest difference shows
    trust = edxml.TrustStore(roots=(pki.root.certificate,))
    assert edxml.verify(learnt, trust=trust).valid


def test_a_status_package_too(pki: DevPki, agency: Issued) -> None:
    parsed, learnt = _signed_both_ways(status(), agency, pki)
    assert learnt == parsed


def test_nothing_is_parsed_to_sign_with_a_slot(
    pki: DevPki, agency: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = edxml.SignableBuild(SHAPES["compressed and stored files, larger than lxml digests"])
    data = b"".join(build)
    from edxml import _dsig_sign

    def no_parse(*_: object, **__: object) -> int:
        raise AssertionError("parsed")

    monkeypatch.setattr(_dsig_sign, "scan_xml", no_parse)
    signed = b"".join(edxml.iter_sign(data, agency.key, pki.chain(agency), slot=build.slot))
    assert b"<Signature " in signed
    with pytest.raises(AssertionError, match="parsed"):
        edxml.sign(data, agency.key, pki.chain(agency))


def test_a_slot_from_other_bytes_is_refused(pki: DevPki, agency: Issued) -> None:
    build = edxml.SignableBuild(document())
    data = b"".join(build)
    assert build.slot is not None
    assert build.slot.size == len(data)
    longer = edxml.build(document(subject="Một trích yếu dài hơn hẳn trích yếu của văn bản kia"))
    same_size = data.replace(b"</edXML:edXMLHeader>", b"<edXML:X/>\n</edXML:edXMLHeader>")[:-11]
    assert len(same_size) == len(data)  # the header's end moved, the size did not
    for other in (longer, same_size):
        with pytest.raises(edxml.SigningError, match="not learnt from these bytes"):
            b"".join(edxml.iter_sign(other, agency.key, pki.chain(agency), slot=build.slot))


def test_a_package_that_carries_a_signature_has_no_slot(pki: DevPki, agency: Issued) -> None:
    signed = edxml.sign(edxml.build(document()), agency.key, pki.chain(agency))
    package = edxml.parse(signed)
    assert package.signature is not None
    build = edxml.SignableBuild(package)
    assert len(b"".join(build)) == len(edxml.build(package))
    assert build.slot is None


def test_xmlsec1_verifies_a_package_signed_from_its_build(
    pki: DevPki, agency: Issued, tmp_path: Path
) -> None:
    _, learnt = _signed_both_ways(
        SHAPES["compressed and stored files, larger than lxml digests"], agency, pki
    )
    (tmp_path / "signed.edxml").write_bytes(learnt)
    (tmp_path / "root.pem").write_bytes(pki.root.certificate.public_bytes(Encoding.PEM))
    result = subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", str(tmp_path / "root.pem"),
         "--enabled-reference-uris", "empty", str(tmp_path / "signed.edxml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
