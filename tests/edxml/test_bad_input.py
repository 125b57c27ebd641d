"""Bad input: each case is a clear problem or an EdxmlError; nothing hangs or eats memory."""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import tracemalloc
import zipfile
from collections.abc import Iterator

import pytest

import edxml
from tests.factories import ATTACKS, document, rules_of

ATTACK_FILES = sorted(path.name for path in ATTACKS.glob("*.xml"))
MIB = 1024 * 1024


@pytest.fixture
def wire() -> bytes:
    return edxml.build(document())


@pytest.fixture
def bounded_memory() -> Iterator[None]:
    """Fails the test if Python allocations (expat's included) peak above 16 MiB."""
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MIB, f"peak {peak / MIB:.1f} MiB"


def test_the_attack_corpus_is_there() -> None:
    assert len(ATTACK_FILES) >= 8


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ATTACK_FILES)
def test_attacks_are_refused_by_parse(name: str, bounded_memory: None) -> None:
    with pytest.raises(edxml.UnsafeXmlError) as caught:
        edxml.parse((ATTACKS / name).read_bytes())
    assert caught.value.line is not None
    assert "passwd" not in str(caught.value)
    assert "root:" not in str(caught.value)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ATTACK_FILES)
def test_attacks_are_reported_by_validate(name: str, bounded_memory: None) -> None:
    (problem,) = edxml.validate((ATTACKS / name).read_bytes())
    assert problem.rule == "xml.unsafe"
    assert "DOCTYPE" in problem.message or "entit" in problem.message


@pytest.mark.timeout(10)
def test_deep_nesting_is_refused(bounded_memory: None) -> None:
    data = b"<edXML>" + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</edXML>"
    with pytest.raises(edxml.UnsafeXmlError, match="nested deeper than 64"):
        edxml.parse(data)


def test_too_many_elements_is_refused() -> None:
    data = b"<edXML>" + b"<a/>" * 200 + b"</edXML>"
    with pytest.raises(edxml.UnsafeXmlError, match="more than 100 elements"):
        edxml.parse(data, limits=edxml.ParseLimits(max_elements=100))


def test_oversized_documents_are_refused_while_streaming(wire: bytes) -> None:
    with pytest.raises(edxml.UnsafeXmlError, match="larger than 1,000 bytes"):
        edxml.parse(io.BytesIO(wire), limits=edxml.ParseLimits(max_document_bytes=1000))


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_xml_is_malformed(wire: bytes, cut: float) -> None:
    with pytest.raises(edxml.MalformedXmlError) as caught:
        edxml.parse(wire[: int(len(wire) * cut)])
    assert caught.value.line is not None
    assert "not well-formed" in str(caught.value)
    assert rules_of(edxml.validate(wire[: int(len(wire) * cut)])) & {
        "xml.malformed",
        "attachment.payload",
    }


@pytest.mark.parametrize("data", [b"", b"   ", b"%PDF-1.4 binary", b"\x00\x01\x02\x03"])
def test_not_xml_at_all(data: bytes) -> None:
    with pytest.raises(edxml.MalformedXmlError):
        edxml.parse(data)
    assert rules_of(edxml.validate(data)) == {"xml.malformed"}


@pytest.mark.parametrize(
    "namespace",
    [b"http://example.org/other", b"http://www.mic.gov.vn/eDoc", b""],
)
def test_wrong_namespace_is_a_structure_error(wire: bytes, namespace: bytes) -> None:
    data = wire.replace(edxml.EDXML_NS.encode(), namespace)
    if not namespace:  # no namespace at all: drop the declarations and prefixes
        data = re.sub(rb' xmlns(:edXML)?=""', b"", data).replace(b"edXML:", b"")
    with pytest.raises(edxml.StructureError, match="expected edXML in the namespace"):
        edxml.parse(data)
    problems = edxml.validate(data)
    assert problems
    assert rules_of(problems) <= {"xsd", "structure"}


def test_a_soap_message_is_named_as_such() -> None:
    soap = (
        b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<SOAP-ENV:Body/></SOAP-ENV:Envelope>"
    )
    with pytest.raises(edxml.StructureError, match="SOAP message"):
        edxml.parse(soap)


@pytest.mark.parametrize(
    ("element", "rule", "message"),
    [
        (rb"<edXML:Code>.*?</edXML:Code>", "code-number", "has no Code"),
        (rb"<edXML:CodeNumber>.*?</edXML:CodeNumber>", "code-number", "number ''"),
        (rb"<edXML:Subject>.*?</edXML:Subject>", "structure", "Subject"),
    ],
)
def test_what_the_official_reader_reads_we_read_and_report(
    wire: bytes, element: bytes, rule: str, message: str
) -> None:
    """EdXML102 reads a package without Code or Subject: so do we, and the breach is a
    validation problem with its rule, not a failure to read."""
    data = re.sub(element, b"", wire, count=1, flags=re.S)
    assert isinstance(edxml.parse(data), edxml.DocumentPackage)
    problems = [p for p in edxml.validate(data) if p.rule == rule]
    assert any(message in p.message for p in problems), edxml.validate(data)


@pytest.mark.parametrize(
    ("element", "message"),
    [
        (rb"<edXML:From>.*?</edXML:From>", "From is missing"),
        (rb"<edXML:PromulgationDate>.*?</edXML:PromulgationDate>", "PromulgationDate is missing"),
        (rb"<edXML:MessageHeader>.*</edXML:MessageHeader>", "MessageHeader is missing"),
    ],
)
def test_missing_required_elements(wire: bytes, element: bytes, message: str) -> None:
    data = re.sub(element, b"", wire, count=1, flags=re.S)
    with pytest.raises(edxml.StructureError, match=message) as caught:
        edxml.parse(data)
    assert caught.value.line is not None
    assert caught.value.path
    problems = edxml.validate(data)
    assert problems
    assert all(problem.line for problem in problems)


@pytest.mark.parametrize(
    ("element", "replacement", "rule"),
    [
        (rb"<edXML:To>.*?</edXML:To>", b"", "structure.cardinality"),
        (rb"<edXML:SignerInfo>.*?</edXML:SignerInfo>", b"", "structure"),
        (rb"<edXML:TraceHeader>.*?</edXML:TraceHeader>", b"", "trace-header"),
        (rb"<edXML:DocumentId>[^<]*</edXML:DocumentId>", b"", "structure"),
    ],
)
def test_missing_elements_the_rules_require(
    wire: bytes, element: bytes, replacement: bytes, rule: str
) -> None:
    data = re.sub(element, replacement, wire, count=1, flags=re.S)
    assert rule in rules_of(edxml.validate(data))


def test_an_unreadable_value_names_element_and_line(wire: bytes) -> None:
    data = wire.replace(b"<edXML:Priority>1<", b"<edXML:Priority>high<")
    with pytest.raises(edxml.FieldValueError) as caught:
        edxml.parse(data)
    error = caught.value
    assert error.element == "Priority"
    assert error.path == "MessageHeader/OtherInfo/Priority"
    assert error.line == data[: data.index(b"high")].count(b"\n") + 1
    assert f"line {error.line}" in str(error)
    assert "'high' is not a whole number" in str(error)


@pytest.mark.parametrize(
    "organ_id",
    [
        "28.22.H17",
        "000.00.00.h42",
        "000-00-00-H42",
        "H42",
        "000.00.00.H4",
        "",
        "G22.01." + "1" * 40,
    ],
)
def test_bad_agency_ids_are_problems(organ_id: str) -> None:
    package = document(recipients=(edxml.Organization(organ_id=organ_id),))
    problems = edxml.validate(package)
    assert "agency-id" in rules_of(problems) or "xsd" in rules_of(problems)
    wire = edxml.build(package)
    assert rules_of(edxml.validate(wire)) & {"agency-id", "structure", "xsd"}


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("a" * 47 + ".pdf", "attachment.filename"),  # 51 characters
        ("Công văn số 05.pdf", "attachment.filename"),  # diacritics and spaces
        ("../../etc/passwd.pdf", "attachment.filename"),
        ("report.exe", "attachment.extension"),
        ("report", "attachment.extension"),
    ],
)
def test_bad_file_names_are_problems(name: str, rule: str) -> None:
    attachment = dataclasses.replace(document().attachments[0], name=name)
    problems = edxml.validate(document(attachments=(attachment,)))
    assert rule in rules_of(problems)
    assert rule in rules_of(edxml.validate(edxml.build(document(attachments=(attachment,)))))


def test_a_50_character_name_is_fine() -> None:
    attachment = dataclasses.replace(document().attachments[0], name="a" * 46 + ".pdf")
    assert edxml.validate(document(attachments=(attachment,))) == []


@pytest.mark.timeout(60)
def test_an_attachment_of_50_mb_plus_one_byte_is_a_problem() -> None:
    limit = edxml.MAX_ATTACHMENT_BYTES
    assert limit == 50 * MIB
    attachment = edxml.Attachment(content_id="big", name="big.pdf", data=bytes(limit + 1))
    problems = edxml.validate(document(attachments=(attachment,)))
    assert [p.rule for p in problems] == ["attachment.size"]
    exact = dataclasses.replace(attachment, data=bytes(limit))
    assert edxml.validate(document(attachments=(exact,))) == []


@pytest.mark.timeout(60)
def test_a_zip_bomb_stops_at_the_limit_without_filling_memory(wire: bytes) -> None:
    # 50 MiB + 1 zero bytes deflate to ~50 KB: the reader must stop at the limit.
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.pdf", bytes(edxml.MAX_ATTACHMENT_BYTES + 1))
    data = re.sub(
        rb"(<edXML:ContentTransferEncoded[^>]*>)[^<]*(<)",
        lambda m: m.group(1) + base64.b64encode(archive.getvalue()) + m.group(2),
        wire,
    )
    assert len(data) < MIB
    tracemalloc.start()
    try:
        with pytest.raises(edxml.AttachmentTooLargeError, match=r"Điều 8\.4") as caught:
            edxml.parse(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < edxml.MAX_ATTACHMENT_BYTES * 1.3
    assert caught.value.element == "ContentTransferEncoded"
    assert caught.value.line
    (problem,) = edxml.validate(data)
    assert problem.rule == "attachment.size"


def test_a_smaller_limit_applies_to_inbound_parsing(wire: bytes) -> None:
    with pytest.raises(edxml.AttachmentTooLargeError):
        edxml.parse(wire, limits=edxml.ParseLimits(max_attachment_bytes=100))


def _with_payload(wire: bytes, payload: bytes) -> bytes:
    return re.sub(
        rb"(<edXML:ContentTransferEncoded[^>]*>)[^<]*(<)",
        lambda m: m.group(1) + payload + m.group(2),
        wire,
    )


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", method) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    return archive.getvalue()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"!!!!QUJD", "not valid base64"),
        (b"QUJD" + b"A", "truncated"),
        ("ÀÁÂ".encode(), "non-ASCII"),
        (base64.b64encode(_zip({"a.pdf": b"x", "b.pdf": b"y"})), "more than the one file"),
        (base64.b64encode(_zip({"a.pdf": b"x" * 1000})[:-60]), "truncated"),
        (base64.b64encode(_zip({"a.pdf": b"x" * 1000})[:40]), "truncated"),
    ],
)
def test_undecodable_attachments(wire: bytes, payload: bytes, message: str) -> None:
    data = _with_payload(wire, payload)
    with pytest.raises(edxml.AttachmentError, match=message):
        edxml.parse(data)
    (problem,) = edxml.validate(data)
    assert problem.rule == "attachment.payload"
    assert problem.line


def test_a_corrupted_zip_fails_its_crc(wire: bytes) -> None:
    archive = bytearray(_zip({"a.pdf": b"hello world" * 10}, zipfile.ZIP_STORED))
    position = archive.index(b"hello world")
    archive[position] ^= 0xFF
    with pytest.raises(edxml.AttachmentError, match="CRC"):
        edxml.parse(_with_payload(wire, base64.b64encode(bytes(archive))))


def test_an_encrypted_zip_is_refused(wire: bytes) -> None:
    archive = bytearray(_zip({"a.pdf": b"secret"}))
    archive[6] |= 0x1  # general purpose flag: encrypted
    with pytest.raises(edxml.AttachmentError, match="encrypted"):
        edxml.parse(_with_payload(wire, base64.b64encode(bytes(archive))))


def test_every_document_error_is_an_edxml_error() -> None:
    for error in (
        edxml.MalformedXmlError,
        edxml.UnsafeXmlError,
        edxml.StructureError,
        edxml.FieldValueError,
        edxml.AttachmentError,
        edxml.AttachmentTooLargeError,
    ):
        assert issubclass(error, edxml.DocumentError)
        assert issubclass(error, edxml.EdxmlError)
    assert issubclass(edxml.PackageBuildError, ValueError)
    assert not issubclass(edxml.PackageBuildError, edxml.DocumentError)


def test_elements_inside_a_payload_are_refused(wire: bytes) -> None:
    data = re.sub(
        rb"(<edXML:ContentTransferEncoded[^>]*>)([^<]*)(<)",
        lambda m: m.group(1) + b"<edXML:Inner>QUJD</edXML:Inner>" + m.group(2) + m.group(3),
        wire,
    )
    with pytest.raises(edxml.AttachmentError, match="base64 text only"):
        edxml.parse(data)
