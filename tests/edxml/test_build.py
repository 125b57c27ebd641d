"""The builder writes the wire format of spec 1.2/1.6 exactly, from any valid model."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import re
import zipfile

import pytest

import edxml
from tests.factories import PDF, document, status


def _payload(data: bytes) -> bytes:
    match = re.search(rb"<edXML:ContentTransferEncoded[^>]*>([^<]*)<", data)
    assert match is not None
    return base64.b64decode(match.group(1), validate=True)


def test_document_id_is_generated_from_sender_date_and_code() -> None:
    data = edxml.build(document(document_id=None))
    assert b"<edXML:DocumentId>000.00.01.H42,2026/11/25,05/UBND-VP</edXML:DocumentId>" in data
    assert edxml.make_document_id("000.00.00.G22", dt.date(2015, 9, 30), "7816", "VPCP-TTĐT") == (
        "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    )


def test_a_given_document_id_is_kept() -> None:
    data = edxml.build(document(document_id="000.00.01.H42,2026/11/20,04/UBND-VP"))
    assert b"<edXML:DocumentId>000.00.01.H42,2026/11/20,04/UBND-VP</edXML:DocumentId>" in data


def test_dates_and_timestamps_use_the_edxml_formats() -> None:
    data = edxml.build(document()).decode()
    assert "<edXML:PromulgationDate>2026/11/25</edXML:PromulgationDate>" in data
    assert "<edXML:DueDate>2026/12/10</edXML:DueDate>" in data
    assert "<edXML:Timestamp>2026/11/25 08:30:00</edXML:Timestamp>" in data
    data = edxml.build(status()).decode()
    assert "<edXML:Timestamp>2026/11/25 09:15:02</edXML:Timestamp>" in data


def test_wire_spellings_are_kept() -> None:
    package = document(
        sender=dataclasses.replace(document().sender, organ_address="Số 2 Lê Hồng Phong"),
        other_info=edxml.OtherInfo(typer_notation="VP"),
    )
    data = edxml.build(package).decode()
    for spelling in (
        "<edXML:Bussiness>",
        "<edXML:BussinessDocType>0<",
        "<edXML:BussinessDocReason>",
        "<edXML:TyperNotation>VP<",
        "<edXML:OrganAdd>Số 2 Lê Hồng Phong<",
    ):
        assert spelling in data


def test_children_are_written_in_the_vnpt_builder_order() -> None:
    data = edxml.build(document()).decode()
    order = [
        *("<edXML:From>", "<edXML:To>", "<edXML:DocumentId>", "<edXML:Code>"),
        *("<edXML:PromulgationInfo>", "<edXML:DocumentType>", "<edXML:Subject>", "<edXML:Content>"),
        *("<edXML:SignerInfo>", "<edXML:DueDate>", "<edXML:OtherInfo>", "<edXML:SteeringType>"),
        *("</edXML:MessageHeader>", "<edXML:TraceHeaderList>", "<edXML:TraceHeader>"),
        *("<edXML:Bussiness>", "<edXML:edXMLBody>", "<AttachmentEncoded>"),
    ]
    positions = [data.index(tag) for tag in order]
    assert positions == sorted(positions)


def test_attachment_is_base64_of_a_zip_with_one_uuid_entry() -> None:
    data = edxml.build(document())
    archive = zipfile.ZipFile(io.BytesIO(_payload(data)))
    (entry,) = archive.infolist()
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.pdf", entry.filename
    )
    assert entry.compress_type == zipfile.ZIP_DEFLATED
    assert archive.read(entry) == PDF
    text = data.decode()
    assert "<ContentId>cid:a1</ContentId>" in text
    assert "<edXML:ContentId>cid:a1</edXML:ContentId>" in text
    assert "<ContentType>application/zip</ContentType>" in text
    assert '<edXML:edXMLManifest version="1.0">' in text


def test_base64_is_one_unbroken_line() -> None:
    data = edxml.build(
        document(
            attachments=(
                edxml.Attachment(content_id="x", name="big.pdf", data=bytes(range(256)) * 4000),
            )
        )
    )
    match = re.search(rb"<edXML:ContentTransferEncoded[^>]*>([^<]*)<", data)
    assert match is not None
    assert b"\n" not in match.group(1)


def test_iter_build_streams_the_same_bytes_as_build() -> None:
    package = document()
    chunks = list(edxml.iter_build(package))
    assert len(chunks) > 3
    # the ZIP entry name is fresh per build, so compare the parsed results
    assert edxml.parse(b"".join(chunks)) == edxml.parse(edxml.build(package)) == package


def test_a_package_without_attachments_has_an_empty_manifest_and_no_attachment_block() -> None:
    data = edxml.build(document(attachments=())).decode()
    assert '<edXML:edXMLManifest version="1.0"/>' in data
    assert "AttachmentEncoded" not in data
    assert edxml.validate(data.encode()) == []


def test_an_attachment_without_data_is_listed_but_not_carried() -> None:
    package = document(attachments=(edxml.Attachment(content_id="x", name="missing.pdf"),))
    data = edxml.build(package)
    assert b"<edXML:ContentId>cid:x</edXML:ContentId>" in data
    assert b"AttachmentEncoded" not in data
    assert edxml.parse(data) == package


def test_status_package_has_no_body() -> None:
    data = edxml.build(status()).decode()
    assert "edXMLBody" not in data
    assert "AttachmentEncoded" not in data
    assert "<edXML:StatusCode>03</edXML:StatusCode>" in data
    assert edxml.validate(data.encode()) == []


def test_a_stored_signature_is_written_back_verbatim() -> None:
    signature = edxml.Signature(
        xml=b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>x</ds:SignedInfo></ds:Signature>',
        in_xmldsig_namespace=True,
    )
    data = edxml.build(document(signature=signature))
    assert signature.xml in data
    assert (
        data.index(b"</edXML:TraceHeaderList>")
        < data.index(signature.xml)
        < data.index(b"</edXML:edXMLHeader>")
    )
    assert edxml.parse(data).signature == signature
    assert edxml.validate(data) == []


def test_a_signature_that_is_not_xml_is_refused() -> None:
    broken = edxml.Signature(xml=b"<Signature><unclosed></Signature>", in_xmldsig_namespace=False)
    with pytest.raises(edxml.PackageBuildError, match="Signature"):
        edxml.build(document(signature=broken))


def test_text_xml_cannot_carry_is_a_build_error() -> None:
    with pytest.raises(edxml.PackageBuildError, match="Subject"):
        edxml.build(document(subject="bad \x00 byte"))


def test_a_non_model_is_a_build_error() -> None:
    with pytest.raises(edxml.PackageBuildError, match="DocumentPackage or a StatusPackage"):
        edxml.build({"subject": "x"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not complete"):  # misuse is also a ValueError
        edxml.build(document(promulgation=None))  # type: ignore[arg-type]


def test_compresslevel_is_an_option() -> None:
    text = b"Trich yeu van ban " * 20000
    package = document(attachments=(edxml.Attachment(content_id="t", name="a.txt", data=text),))
    stored = edxml.build(package, options=edxml.BuildOptions(compresslevel=0))
    packed = edxml.build(package, options=edxml.BuildOptions(compresslevel=9))
    assert len(packed) < len(stored) / 10
    assert edxml.parse(stored) == edxml.parse(packed) == package
