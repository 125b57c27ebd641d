"""The official samples: ground truth our parser must read and our builder must resemble."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree

import edxml
from tests.factories import ALL_SAMPLES, CLEAN_SAMPLES, SAMPLES, rules_of, sample

SHARED_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


def _layout(data: bytes) -> list[tuple[str | None, str]]:
    """(prefix, local name) of every element in document order, read by plain lxml."""
    parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(data[data.index(b"<?xml") :], parser)
    return [(el.prefix, etree.QName(el).localname) for el in root.iter() if isinstance(el.tag, str)]


def test_the_sample_set_is_complete() -> None:
    assert len(ALL_SAMPLES) == 15
    assert {"edoc_new.edxml", "edoc_update.edxml", "status_inbox_01.edxml"} <= set(ALL_SAMPLES)


def _pinned_digests() -> dict[str, str]:
    """SHA256SUMS was written from ../shared/samples when the fixtures were copied."""
    lines = (SAMPLES / "SHA256SUMS").read_text(encoding="ascii").splitlines()
    return {name: digest for digest, name in (line.split() for line in lines)}


def test_fixtures_are_byte_identical_to_the_official_samples() -> None:
    digests = _pinned_digests()
    assert sorted(digests) == ALL_SAMPLES
    for name in ALL_SAMPLES:
        assert hashlib.sha256(sample(name)).hexdigest() == digests[name], name
        if SHARED_SAMPLES.is_dir():  # beside the shared folder, compare with it directly too
            assert sample(name) == (SHARED_SAMPLES / name).read_bytes(), name


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_every_sample_parses(name: str) -> None:
    package = edxml.parse(sample(name))
    expected = edxml.StatusPackage if name.startswith("status") else edxml.DocumentPackage
    assert isinstance(package, expected)


@pytest.mark.parametrize("name", CLEAN_SAMPLES)
def test_clean_samples_validate(name: str) -> None:
    assert edxml.validate(sample(name)) == []


@pytest.mark.parametrize("name", ["edoc_new.edxml", "edoc_new_junk_prefix.edxml"])
def test_edoc_new_breaks_exactly_these_rules(name: str) -> None:
    problems = edxml.validate(sample(name))
    found = {(problem.rule, problem.path, problem.line) for problem in problems}
    expected = {
        ("agency-id", "MessageHeader/To[1]/OrganId", 18),  # '28.22.H17'
        ("code-number", "MessageHeader/Code/CodeNumber", 29),  # '74fass22'
        ("date.order", "MessageHeader/DueDate", 48),  # due 2018/09/28 < issued 2019/01/16
    }
    if "junk" in name:
        expected.add(("xml.leading-junk", None, 1))
    assert found == expected
    # but the structure itself is sound: our XSD accepts it
    assert "xsd" not in rules_of(problems)


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_round_trip_parse_build_parse_gives_an_equal_model(name: str) -> None:
    package = edxml.parse(sample(name))
    assert edxml.parse(edxml.build(package)) == package


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_a_rebuilt_sample_gets_the_same_verdict(name: str) -> None:
    def verdict(data: bytes) -> set[tuple[str, str | None]]:
        return {(p.rule, p.path) for p in edxml.validate(data) if p.rule != "xml.leading-junk"}

    assert verdict(edxml.build(edxml.parse(sample(name)))) == verdict(sample(name))


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_built_bytes_use_the_samples_prefix_layout(name: str) -> None:
    original = _layout(sample(name))
    built = _layout(edxml.build(edxml.parse(sample(name))))
    # each element keeps the prefix the sample gives it...
    assert set(built) == set(original)
    # ...and files written by the VNPT builder match element for element, in order
    if name.startswith("edoc") or name == "status.edxml":
        assert built == original


def test_built_bytes_declare_namespaces_where_the_samples_do() -> None:
    built = edxml.build(edxml.parse(sample("edoc_update.edxml"))).decode()
    assert built.startswith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">'
    )
    assert '<edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">' in built
    assert "<AttachmentEncoded>" in built
    assert "<Attachment>" in built
    assert "<ContentId>cid:209</ContentId>" in built
    assert re.search(
        r'<edXML:ContentTransferEncoded xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">UEsDB',
        built,
    )
    assert built.count("xmlns:edXML=") == 2  # envelope + ContentTransferEncoded, as in the sample


def test_junk_prefix_is_stripped_and_the_attachment_decodes_to_the_zip_entry() -> None:
    data = sample("edoc_new_junk_prefix.edxml")
    assert data.startswith(b"1212<?xml")
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert package.sender.organ_id == "002.00.20.H13"
    (attachment,) = package.attachments
    encoded = re.search(rb"ContentTransferEncoded[^>]*>([^<]+)<", data)
    assert encoded is not None
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(encoded.group(1)))) as archive:
        (entry,) = archive.infolist()
        assert entry.filename == "32da2890-1a55-4ccd-9ac9-cd0d98559e67.edxml"
        assert attachment.data == archive.read(entry)
    assert attachment.size == 388_347
    assert attachment.content_id == "209"
    assert attachment.name == "1896_QD-TTg_m_294779.doc"


def test_sample_fields_read_as_documented() -> None:
    update = edxml.parse(sample("edoc_update.edxml"))
    assert isinstance(update, edxml.DocumentPackage)
    assert [org.organ_id for org in update.recipients] == [
        "000.00.00.H41",
        "000.00.00.H14",
        "000.00.00.G17",
    ]
    assert str(update.code) == "7816/VPCP-TTĐT"
    assert update.business is not None
    assert update.business.doc_type == edxml.BusinessDocType.UPDATE
    info = update.business.document_info
    assert info is not None
    assert info.document_info == 1
    assert info.document_receiver == 1
    assert [(r.organ_id, r.receiver_type) for r in info.receivers] == [
        ("000.00.00.H41", 0),
        ("000.00.00.H14", 1),
    ]
    assert update.business.staff is not None
    assert update.business.staff.staff == "Nguyễn Thị Ngọc Trâm"
    assert update.other_info is not None
    assert update.other_info.appendixes == (
        "Công văn về việc kết nối, liên thông phần mềm quản lý văn bản",
    )
    assert update.to_places == ("Cac bo va co quan ngang bo", "Uy ban nhan dan cac tinh, TP")
    assert update.signature is not None
    assert not update.signature.in_xmldsig_namespace

    replacement = edxml.parse(sample("edoc_replacement.edxml"))
    assert isinstance(replacement, edxml.DocumentPackage)
    assert replacement.business is not None
    assert [r.organ_ids for r in replacement.business.replacements] == [
        ("000.00.00.H41", "000.00.00.H14")
    ] * 2

    revocation = edxml.parse(sample("edoc_revocation.edxml"))
    assert isinstance(revocation, edxml.DocumentPackage)
    assert revocation.response_for[0].document_id == "000.00.04.G14,2012/08/06,267/VPCP-TTĐT"

    cancellation = edxml.parse(sample("status_cancellation_13.edxml"))
    assert isinstance(cancellation, edxml.StatusPackage)
    assert cancellation.status is edxml.StatusCode.RECALL_REQUESTED
    assert cancellation.sender.organ_id == "000.00.00.G22"  # 13 comes from the original sender
    assert cancellation.response_for.organ_id == "000.00.00.H41"


@pytest.mark.parametrize("name", [n for n in ALL_SAMPLES if n.startswith("status")])
def test_status_samples_carry_their_code(name: str) -> None:
    package = edxml.parse(sample(name))
    assert isinstance(package, edxml.StatusPackage)
    code = re.search(r"_(\d\d)\.edxml$", name)
    assert package.status is not None
    assert package.status_code == (code.group(1) if code else "01")
