"""bytes -> model: read edXML packages the way real senders write them (spec section 6).

Elements are found by local name in the QCVN 102 namespace, the old e-doc namespace or
none, in any order; identifiers and numbers are read with surrounding whitespace removed,
free text verbatim. Older spellings are accepted (``OrganInCharge``, ``Author/Function``,
``TimeStamp``). ``cid:`` is optional on content ids. What cannot be read raises a
``DocumentError`` naming the element and its line.

Extraction also records, for every element it reads, the source line under the short path
the validation rules use (``MessageHeader/To[2]/OrganId``), so rule problems found on the
model can point back into the file.
"""

from __future__ import annotations

from lxml import etree

from ._errors import StructureError
from ._model import (
    Attachment,
    Code,
    DocumentPackage,
    DocumentType,
    OtherInfo,
    Package,
    PromulgationInfo,
    SignerInfo,
    StatusPackage,
)
from ._parse_blocks import (
    Extraction,
    _empty,
    _Node,
    _organization,
    _response_for,
    _signature,
    _staff,
    _strip_cid,
    _trace_list,
)
from ._values import read_bool, read_date, read_int, read_timestamp
from ._xml import (
    DEFAULT_LIMITS,
    EDXML_NS,
    LEGACY_NS,
    ParsedXml,
    ParseLimits,
    Source,
    parse_xml,
)

__all__ = ["Extraction", "extract", "parse"]


# -- the document package -------------------------------------------------------------------


def _other_info(node: _Node | None) -> OtherInfo | None:
    if node is None:
        return None
    appendixes = node.child("Appendixes")
    return OtherInfo(
        priority=node.value(read_int, "Priority"),
        sphere_of_promulgation=node.text("SphereOfPromulgation"),
        typer_notation=node.text("TyperNotation"),
        promulgation_amount=node.value(read_int, "PromulgationAmount"),
        page_amount=node.value(read_int, "PageAmount"),
        direction=node.value(read_bool, "Direction"),
        appendixes=()
        if appendixes is None
        else tuple(item.own_text() for item in appendixes.children("Appendix")),
        reply_fors=node.text("ReplyFors"),
        reference_codes=node.text("ReferenceCodes"),
    )


def _attachments(root: _Node, envelope: _Node, parsed: ParsedXml) -> tuple[Attachment, ...]:
    body = envelope.child("edXMLBody")
    manifest = None if body is None else body.child("edXMLManifest", "Manifest")
    references = [] if manifest is None else manifest.children("Reference")
    encoded = root.child("AttachmentEncoded") or envelope.child("AttachmentEncoded")
    carried = [] if encoded is None else encoded.children("Attachment")

    payloads: dict[str, tuple[_Node, bytes | None]] = {}
    for node in carried:
        content_id = _strip_cid(node.required_text("ContentId", strip=True))
        transfer = node.child("ContentTransferEncoded")
        payload = None if transfer is None else parsed.payloads.get(transfer.element)
        payloads.setdefault(content_id, (node, None if payload is None else payload.data))

    result = []
    listed = set()
    for reference in references:
        content_id = _strip_cid(reference.required_text("ContentId", strip=True))
        listed.add(content_id)
        carried_node, data = payloads.get(content_id) or (None, None)
        result.append(_attachment(content_id, reference, carried_node, data))
    for content_id, (node, data) in payloads.items():
        if content_id not in listed:
            node.note(
                "attachment.manifest",
                f"attachment cid:{content_id} is not listed in edXMLManifest",
                path=node.path,
                line=node.line,
            )
            result.append(_attachment(content_id, None, node, data))
    return tuple(result)


def _attachment(
    content_id: str, reference: _Node | None, carried: _Node | None, data: bytes | None
) -> Attachment:
    def pick(name: str, *, strip: bool = False) -> str | None:
        """From the carried Attachment first, else from the manifest Reference."""
        for node in (carried, reference):
            value = None if node is None else node.text(name, strip=strip)
            if value is not None:
                return value
        return None

    return Attachment(
        content_id=content_id,
        name=pick("AttachmentName", strip=True) or "",
        data=data,
        content_type=pick("ContentType", strip=True) or "application/octet-stream",
        description=pick("Description"),
    )


def _document(
    root: _Node, envelope: _Node, header: _Node, message: _Node, parsed: ParsedXml
) -> DocumentPackage:
    # What the official reader reads, we read: a package without Code or Subject is a
    # validation problem (the XSD says so, with its rule), not one that cannot be read.
    code = message.child("Code")
    promulgation = message.required("PromulgationInfo")
    document_type = message.required("DocumentType")
    signer = message.child("SignerInfo", "Author")
    to_places = message.child("ToPlaces")
    traces, business = _trace_list(header)
    return DocumentPackage(
        sender=_organization(message.required("From")),
        recipients=tuple(_organization(node) for node in message.children("To")),
        document_id=message.text("DocumentId", strip=True),
        code=Code(
            number=(code.text("CodeNumber", strip=True) or "") if code else "",
            notation=(code.text("CodeNotation", strip=True) or "") if code else "",
        ),
        promulgation=PromulgationInfo(
            place=promulgation.text("Place"),
            date=promulgation.required_value(read_date, "PromulgationDate"),
        ),
        document_type=DocumentType(
            type=document_type.required_value(read_int, "Type"),
            type_detail=document_type.value(read_int, "TypeDetail"),
            type_name=document_type.text("TypeName") or "",
        ),
        subject=message.text("Subject") or "",
        content=message.text("Content"),
        signer=None
        if signer is None
        else SignerInfo(
            competence=signer.text("Competence"),
            position=signer.text("Position", "Function"),
            full_name=signer.text("FullName"),
        ),
        due_date=message.value(read_date, "DueDate"),
        to_places=()
        if to_places is None
        else tuple(node.own_text() for node in to_places.children("Place")),
        other_info=_other_info(message.child("OtherInfo")),
        response_for=tuple(
            _response_for(node)
            for node in message.children("ResponseFor")
            if not _empty(node, message)
        ),
        steering_type=message.value(read_int, "SteeringType"),
        response_for_tasks=tuple(
            task.own_text(strip=True)
            for node in message.children("ResponseForTask")
            for task in node.children("TaskCode")
        ),
        application_type=message.text("ApplicationType"),
        trace_headers=traces,
        business=business,
        signature=_signature(header, envelope),
        attachments=_attachments(root, envelope, parsed),
    )


def _status(header: _Node, envelope: _Node, message: _Node) -> StatusPackage:
    traces, _ = _trace_list(header)
    return StatusPackage(
        sender=_organization(message.required("From")),
        response_for=_response_for(message.required("ResponseFor")),
        staff=_staff(message.child("StaffInfo")),
        status_code=message.required_text("StatusCode", strip=True),
        description=message.text("Description"),
        timestamp=message.required_value(read_timestamp, "Timestamp", "TimeStamp"),
        trace_headers=traces,
        signature=_signature(header, envelope),
    )


def _check_root(root: etree._Element) -> None:
    qname = etree.QName(root)
    if qname.localname == "edXML" and qname.namespace in {EDXML_NS, LEGACY_NS}:
        return
    if qname.localname == "Envelope":
        raise StructureError(
            "this is a SOAP message (the older e-doc flavour); edXML packages have the root "
            "<edXML> (spec 1.1)",
            element="Envelope",
            line=root.sourceline,
        )
    shown = f"{{{qname.namespace}}}{qname.localname}" if qname.namespace else qname.localname
    raise StructureError(
        f"root element is {shown}; expected edXML in the namespace {EDXML_NS}",
        element=qname.localname,
        line=root.sourceline,
    )


def extract(parsed: ParsedXml) -> tuple[Package, Extraction]:
    """Turn a parsed tree into the model; raises ``DocumentError`` on what it cannot read."""
    _check_root(parsed.root)
    seen = Extraction(line_of=parsed.line_of)
    root = _Node(parsed.root, "edXML", seen, container=True)
    envelope = root.required("edXMLEnvelope", container=True)
    header = envelope.required("edXMLHeader", container=True)
    message = header.required("MessageHeader")
    if message.child("StatusCode") is not None:
        return _status(header, envelope, message), seen
    return _document(root, envelope, header, message, parsed), seen


def parse(
    source: Source, *, limits: ParseLimits = DEFAULT_LIMITS, attachments: bool = True
) -> Package:
    """Read an edXML document or status package from bytes or a binary file object.

    Raises ``EdxmlError`` (a ``DocumentError``) naming the element and line when the
    package cannot be read. Reading is tolerant (spec section 6); ``validate`` says whether
    the package also conforms. ``attachments=False`` reads the header and the manifest
    only (every ``Attachment.data`` is None): enough to answer a sender whose files are
    broken.
    """
    package, _ = extract(parse_xml(source, limits=limits, decode_payloads=attachments))
    return package
