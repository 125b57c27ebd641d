"""The e-doc SOAP flavour: our model out to its parts and back, with its own names."""

from __future__ import annotations

import dataclasses

import pytest
from lxml import etree

import edxml
from tests.factories import document, sample, status

EDOC = "{http://www.e-doc.vn/Schema/}"


def _names(raw: bytes) -> set[str]:
    return {
        etree.QName(e).localname for e in etree.fromstring(raw).iter() if isinstance(e.tag, str)
    }


def test_a_document_round_trips_through_the_e_doc_parts() -> None:
    original = document()
    message = edxml.to_edoc(original)
    assert [etree.QName(etree.fromstring(h)).localname for h in message.headers] == [
        "MessageHeader",
        "TraceHeaderList",
    ]
    header_names = _names(message.headers[0])
    assert {"Author", "Function"} <= header_names
    assert not {"SignerInfo", "Position", "OrganizationInCharge"} & header_names
    assert all(
        etree.QName(e).namespace == edxml.EDOC_NS
        for e in etree.fromstring(message.headers[0]).iter()
    )
    (part,) = message.attachments
    assert (part.content_id, part.content_type, part.data) == (
        "a1",
        "application/pdf",
        original.attachments[0].data,
    )
    manifest = etree.fromstring(message.manifest or b"")
    reference = manifest.find(f"{EDOC}Reference")
    assert reference is not None
    assert reference.get("{http://www.w3.org/1999/xlink}href") == "cid:a1"

    back = edxml.from_edoc(message.headers, message.manifest, {"a1": part.data or b""})
    assert dataclasses.replace(back, attachments=()) == dataclasses.replace(
        original, attachments=()
    )
    assert back.attachments[0].data == original.attachments[0].data  # type: ignore[union-attr]
    assert back.attachments[0].name == original.attachments[0].name  # type: ignore[union-attr]


def test_a_status_uses_the_capital_s_timestamp() -> None:
    original = status()
    message = edxml.to_edoc(original)
    assert message.manifest is None
    assert message.attachments == ()
    assert "TimeStamp" in _names(message.headers[0])
    assert edxml.from_edoc(message.headers) == original


def _without_signature_and_files(package: edxml.Package) -> edxml.Package:
    package = dataclasses.replace(package, signature=None)
    if isinstance(package, edxml.DocumentPackage):
        package = dataclasses.replace(package, attachments=())
    return package


@pytest.mark.parametrize(
    "name",
    [
        "edoc_new.edxml",
        "edoc_update.edxml",
        "edoc_replacement.edxml",
        "status_cancellation_13.edxml",
    ],
)
def test_the_official_samples_convert_both_ways(name: str) -> None:
    original = edxml.parse(sample(name))
    message = edxml.to_edoc(original)
    files = {a.content_id: a.data or b"" for a in message.attachments}
    back = edxml.from_edoc(message.headers, message.manifest, files)
    assert _without_signature_and_files(back) == _without_signature_and_files(original)
    if isinstance(original, edxml.DocumentPackage):
        assert isinstance(back, edxml.DocumentPackage)
        assert [a.data for a in back.attachments] == [a.data for a in original.attachments]


def test_a_missing_part_leaves_the_attachment_without_data() -> None:
    message = edxml.to_edoc(document())
    back = edxml.from_edoc(message.headers, message.manifest, {})
    assert isinstance(back, edxml.DocumentPackage)
    assert back.attachments[0].data is None


def test_headers_without_a_message_header_are_refused() -> None:
    with pytest.raises(edxml.StructureError, match="MessageHeader"):
        edxml.from_edoc([b'<edXML:TraceHeaderList xmlns:edXML="http://www.e-doc.vn/Schema/"/>'])
    with pytest.raises(edxml.UnsafeXmlError):
        edxml.from_edoc([b'<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'])
