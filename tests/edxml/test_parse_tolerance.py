"""The reader accepts what real senders emit (spec section 6) and says where it cannot."""

from __future__ import annotations

import base64
import datetime as dt
import io
import random
import re
import zipfile

import pytest

import edxml
from tests.factories import PDF, document, rules_of, sample

NS = edxml.EDXML_NS


def _rewrite(data: bytes, old: bytes, new: bytes, count: int = 1) -> bytes:
    assert old in data, old
    return data.replace(old, new, count)


@pytest.fixture
def wire() -> bytes:
    return edxml.build(document())


def test_utf8_bom_and_leading_whitespace_are_accepted(wire: bytes) -> None:
    assert edxml.parse(b"\xef\xbb\xbf" + wire) == edxml.parse(wire)
    assert edxml.parse(b"\r\n  \n" + wire) == edxml.parse(wire)
    assert edxml.validate(b"\xef\xbb\xbf" + wire) == []


def test_junk_before_the_declaration_is_stripped_and_lines_still_match(wire: bytes) -> None:
    data = b"1212\nGARBAGE " + _rewrite(
        wire, b"<edXML:OrganId>000.00.00.G22<", b"<edXML:OrganId>bad id<"
    )
    assert edxml.parse(data).recipients[0].organ_id == "bad id"  # type: ignore[union-attr]
    problems = edxml.validate(data)
    (bad,) = [p for p in problems if p.rule == "agency-id"]
    expected_line = data[: data.index(b"bad id")].count(b"\n") + 1
    assert bad.line == expected_line
    assert "xml.leading-junk" in rules_of(problems)


def test_too_much_junk_is_not_xml() -> None:
    with pytest.raises(edxml.MalformedXmlError, match="not an XML document"):
        edxml.parse(b"x" * 5000)


def test_legacy_e_doc_namespace_and_old_spellings_are_read(wire: bytes) -> None:
    legacy = wire.replace(NS.encode(), edxml.LEGACY_NS.encode())
    legacy = legacy.replace(b"OrganizationInCharge", b"OrganInCharge")
    legacy = legacy.replace(b"<edXML:SignerInfo>", b"<edXML:Author>").replace(
        b"</edXML:SignerInfo>", b"</edXML:Author>"
    )
    legacy = legacy.replace(b"edXML:Position>", b"edXML:Function>")
    package = edxml.parse(legacy)
    assert package == document()
    assert rules_of(edxml.validate(legacy)) == {"xml.legacy-namespace"}


def test_legacy_status_timestamp_spelling() -> None:
    data = sample("status.edxml").replace(b"edXML:Timestamp>", b"edXML:TimeStamp>")
    package = edxml.parse(data)
    assert isinstance(package, edxml.StatusPackage)
    assert package.timestamp == dt.datetime(2018, 9, 28, 17, 25, 11)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("30/10/2020", dt.date(2020, 10, 30)),  # Tây Ninh sample
        ("2020-10-30", dt.date(2020, 10, 30)),
        ("2023/03/14 17:19:16", dt.date(2023, 3, 14)),  # a time inside a date field
        (" 2020/10/30 ", dt.date(2020, 10, 30)),
    ],
)
def test_lenient_dates(wire: bytes, written: str, read: dt.date) -> None:
    data = _rewrite(
        wire, b"<edXML:PromulgationDate>2026/11/25<", f"<edXML:PromulgationDate>{written}<".encode()
    )
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert package.promulgation.date == read


def test_non_standard_dates_are_read_but_reported(wire: bytes) -> None:
    data = _rewrite(
        wire, b"<edXML:PromulgationDate>2026/11/25<", b"<edXML:PromulgationDate>25/11/2026<"
    )
    assert edxml.parse(data) == edxml.parse(wire)
    assert {(p.rule, p.line is not None) for p in edxml.validate(data)} == {("xsd", True)}


def test_empty_due_date_reads_as_none(wire: bytes) -> None:
    data = _rewrite(wire, b"<edXML:DueDate>2026/12/10</edXML:DueDate>", b"<edXML:DueDate/>")
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert package.due_date is None
    assert edxml.validate(data) == []


@pytest.mark.parametrize(
    ("manifest", "carried"),
    [(b"cid:a1", b"a1"), (b"a1", b"cid:a1"), (b"a1", b"a1"), (b"CID:a1", b"cid:a1")],
)
def test_content_ids_match_with_or_without_cid_prefix(
    wire: bytes, manifest: bytes, carried: bytes
) -> None:
    data = _rewrite(wire, b"<edXML:ContentId>cid:a1<", b"<edXML:ContentId>" + manifest + b"<")
    data = _rewrite(data, b"<ContentId>cid:a1<", b"<ContentId>" + carried + b"<")
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert package.attachments == document().attachments


def _replace_payload(data: bytes, payload: bytes) -> bytes:
    return re.sub(
        rb"(<edXML:ContentTransferEncoded[^>]*>)[^<]*(<)",
        lambda m: m.group(1) + payload + m.group(2),
        data,
    )


def test_raw_base64_without_zip_is_accepted(wire: bytes) -> None:
    data = _replace_payload(wire, base64.b64encode(PDF))
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert package.attachments[0].data == PDF
    assert edxml.validate(data) == []


def test_mime_wrapped_base64_is_accepted(wire: bytes) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x.pdf", PDF)
    data = _replace_payload(wire, base64.encodebytes(archive.getvalue()).replace(b"\n", b"\r\n"))
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert package.attachments[0].data == PDF


def test_stored_zip_entries_are_accepted(wire: bytes) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("x.pdf", PDF)
    package = edxml.parse(_replace_payload(wire, base64.b64encode(archive.getvalue())))
    assert isinstance(package, edxml.DocumentPackage)
    assert package.attachments[0].data == PDF


def test_signature_outside_the_xmldsig_namespace_is_kept(wire: bytes) -> None:
    data = _rewrite(
        wire,
        b"</edXML:TraceHeaderList>",
        b"</edXML:TraceHeaderList><Signature><SignedInfo/></Signature>",
    )
    package = edxml.parse(data)
    assert package.signature == edxml.Signature(
        xml=f'<Signature xmlns="{NS}"><SignedInfo></SignedInfo></Signature>'.encode(),
        in_xmldsig_namespace=False,
    )
    assert edxml.validate(data) == []


def test_children_in_any_order(wire: bytes) -> None:
    # DocumentId last (the hand-made official edoc.edxml), Bussiness before TraceHeader
    # (a third-party builder), Attachment children reversed.
    doc_id = re.search(rb"\s*<edXML:DocumentId>[^<]*</edXML:DocumentId>", wire)
    assert doc_id is not None
    data = wire.replace(doc_id.group(0), b"", 1)
    data = _rewrite(data, b"</edXML:MessageHeader>", doc_id.group(0) + b"</edXML:MessageHeader>")
    trace = re.search(rb"<edXML:TraceHeader>.*?</edXML:TraceHeader>", data, re.S)
    business = re.search(rb"<edXML:Bussiness>.*?</edXML:Bussiness>", data, re.S)
    assert trace is not None
    assert business is not None
    data = data.replace(
        trace.group(0) + data[trace.end() : business.start()] + business.group(0),
        business.group(0) + trace.group(0),
    )
    assert edxml.parse(data) == document()
    assert edxml.validate(data) == []


def test_whitespace_around_identifiers_is_ignored_and_free_text_kept(wire: bytes) -> None:
    data = _rewrite(
        wire, b"<edXML:OrganId>000.00.00.G22<", b"<edXML:OrganId>\n   000.00.00.G22\n  <"
    )
    data = _rewrite(data, b"<edXML:Subject>V/v", b"<edXML:Subject>  V/v")
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert package.recipients[0].organ_id == "000.00.00.G22"
    assert package.subject.startswith("  V/v")


def test_a_file_object_is_read_as_a_stream(wire: bytes) -> None:
    assert edxml.parse(io.BytesIO(wire)) == edxml.parse(wire)
    assert edxml.validate(io.BytesIO(wire)) == []


def test_unknown_elements_elsewhere_are_ignored_by_the_reader_but_reported(wire: bytes) -> None:
    data = _rewrite(wire, b"<edXML:Subject>", b"<edXML:Vendor>x</edXML:Vendor><edXML:Subject>")
    assert edxml.parse(data) == document()
    (problem,) = edxml.validate(data)
    assert problem.rule == "xsd"
    assert "Vendor" in problem.message
    assert problem.line


def test_a_repeated_single_element_is_reported(wire: bytes) -> None:
    data = _rewrite(
        wire, b"<edXML:Subject>", b"<edXML:Subject>first</edXML:Subject><edXML:Subject>"
    )
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert package.subject == "first"
    (problem,) = edxml.validate(data)
    assert problem.rule == "structure.cardinality"
    assert problem.path == "MessageHeader/Subject"


def test_utf16_documents_are_read(wire: bytes) -> None:
    text = wire.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert edxml.parse(text.encode("utf-16")) == edxml.parse(wire)


def test_an_unreadable_value_in_a_legacy_package_is_a_structure_problem(wire: bytes) -> None:
    legacy = wire.replace(edxml.EDXML_NS.encode(), edxml.LEGACY_NS.encode())
    legacy = legacy.replace(b"<edXML:Priority>1<", b"<edXML:Priority>high<")
    problems = edxml.validate(legacy)
    assert [p.rule for p in problems] == ["xml.legacy-namespace", "structure"]
    assert problems[1].path == "MessageHeader/OtherInfo/Priority"


def test_an_empty_response_for_is_read_as_absent_and_noted() -> None:
    """A real VPCP package carries ``<ResponseFor />``; the official reader reads it, and
    before, ours refused the whole package (required element OrganId is missing)."""
    data = _rewrite(
        sample("edoc_new.edxml"),
        b"</edXML:Subject>",
        b"</edXML:Subject><edXML:ResponseFor />",
    )
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert package.response_for == ()
    assert "an empty ResponseFor is read as absent" in [
        p.message for p in edxml.validate(data) if p.rule == "structure"
    ]


def test_a_package_of_more_than_65535_lines_parses_and_says_where() -> None:
    """lxml keeps at most 65,535 as an element's line; before, setting a larger one raised
    OverflowError. A large first attachment wrapped at 76 characters puts the second one
    past that line, and its problem still names its line."""
    big = edxml.Attachment(
        content_id="scan",
        name="bao_cao.pdf",
        data=b"%PDF-1.7\n" + random.Random(1).randbytes(4_000_000),
    )
    second = edxml.Attachment(content_id="phu-luc", name="phu_luc_1.pdf", data=PDF)
    wire = edxml.build(document(attachments=(big, second)))
    data = _wrapped(wire)
    assert data.count(b"\n") > 70_000
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert [a.data for a in package.attachments] == [big.data, PDF]
    # the second file cut short: its problem names a line past lxml's range
    last = data.rindex(b"</edXML:ContentTransferEncoded>")
    broken = data[: last - 300] + data[last:]
    (cut,) = [p for p in edxml.validate(broken) if p.rule == "attachment.payload"]
    assert cut.line is not None
    assert cut.line > 65_535


def _wrapped(wire: bytes) -> bytes:
    """Every attachment's base64 wrapped at 76 characters with CRLF."""
    pieces = re.split(rb"(<edXML:ContentTransferEncoded[^>]*>)", wire)
    out = [pieces[0]]
    for opening, rest in zip(pieces[1::2], pieces[2::2], strict=True):
        text, closing = rest.split(b"</", 1)
        text = text.replace(b"\r\n", b"")
        out += [
            opening,
            b"\r\n".join(text[i : i + 76] for i in range(0, len(text), 76)),
            b"</",
            closing,
        ]
    return b"".join(out)


def test_twenty_thousand_recipients_parse() -> None:
    recipients = tuple(
        edxml.Organization(
            organ_id=f"000.{n // 100 % 100:02d}.{n % 100:02d}.H{10 + n // 10_000:02d}"
        )
        for n in range(20_000)
    )
    wire = edxml.build(document(recipients=recipients))
    data = wire.replace(b"<edXML:To>", b"\r\n<edXML:To>").replace(
        b"</edXML:OrganId>", b"</edXML:OrganId>\r\n"
    )
    assert data.count(b"\n") > 40_000
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert len(package.recipients) == 20_000
