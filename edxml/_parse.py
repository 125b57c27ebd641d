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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from lxml import etree

from ._errors import FieldValueError, StructureError
from ._model import (
    Attachment,
    Business,
    BusinessDocumentInfo,
    Code,
    DocumentPackage,
    DocumentType,
    Organization,
    OtherInfo,
    Package,
    PromulgationInfo,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    Signature,
    SignerInfo,
    StaffInfo,
    StatusPackage,
    TraceHeader,
)
from ._problems import Problem
from ._values import read_bool, read_date, read_int, read_timestamp
from ._xml import (
    DEFAULT_LIMITS,
    EDXML_NS,
    LEGACY_NS,
    XMLDSIG_NS,
    ParsedXml,
    ParseLimits,
    Source,
    parse_xml,
)

__all__ = ["Extraction", "extract", "parse"]

_OUR_NAMESPACES = frozenset({EDXML_NS, LEGACY_NS, ""})
_SIGNATURE_NAMESPACES = _OUR_NAMESPACES | {XMLDSIG_NS}  # ours: the VNPT defect (spec 1.5)
T = TypeVar("T")


@dataclass(slots=True)
class Extraction:
    """What extraction learnt besides the model: lines by path, and tolerated oddities."""

    lines: dict[str, int] = field(default_factory=dict)
    notes: list[Problem] = field(default_factory=list)
    #: where each element was in the source (``ParsedXml.line_of``)
    line_of: Callable[[etree._Element], int | None] = lambda element: element.sourceline


class _Node:
    """One element during extraction. ``path`` names it; ``prefix`` starts its children's paths.

    The containers (``edXML``, ``edXMLEnvelope``, ``edXMLHeader``) use an empty prefix, so
    paths stay short: ``MessageHeader/To[2]/OrganId``, ``TraceHeaderList/Bussiness``.
    """

    __slots__ = ("_seen", "element", "path", "prefix")

    def __init__(
        self, element: etree._Element, path: str, seen: Extraction, *, container: bool = False
    ) -> None:
        self.element = element
        self.path = path
        self.prefix = "" if container else f"{path}/"
        self._seen = seen
        line = seen.line_of(element)
        if line is not None:
            seen.lines.setdefault(path, line)

    @property
    def line(self) -> int | None:
        line = self._seen.line_of(self.element)
        return None if line is None else int(line)

    def note(self, rule: str, message: str, *, path: str, line: int | None) -> None:
        self._seen.notes.append(Problem(rule=rule, message=message, path=path, line=line))

    def _matching(self, names: tuple[str, ...]) -> list[etree._Element]:
        found = []
        for child in self.element:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child)
            if qname.localname in names and (qname.namespace or "") in _OUR_NAMESPACES:
                found.append(child)
        return found

    def child(self, *names: str, required: bool = False, container: bool = False) -> _Node | None:
        """The element named ``names[0]`` (or an older alias of it); the first one if many."""
        found = self._matching(names)
        path = self.prefix + names[0]
        if not found:
            if required:
                raise StructureError(
                    f"required element {names[0]} is missing",
                    element=names[0],
                    line=self.line,
                    path=path,
                )
            return None
        if len(found) > 1:
            self.note(
                "structure.cardinality",
                f"{names[0]} appears {len(found)} times; only the first is read",
                path=path,
                line=self._seen.line_of(found[1]),
            )
        return _Node(found[0], path, self._seen, container=container)

    def required(self, *names: str, container: bool = False) -> _Node:
        node = self.child(*names, required=True, container=container)
        assert node is not None
        return node

    def children(self, name: str) -> list[_Node]:
        return [
            _Node(element, f"{self.prefix}{name}[{index}]", self._seen)
            for index, element in enumerate(self._matching((name,)), start=1)
        ]

    def adopt(self, element: etree._Element, name: str) -> _Node:
        """A child found by other means than its name (e.g. ``Signature`` in any namespace)."""
        return _Node(element, self.prefix + name, self._seen)

    def own_text(self, *, strip: bool = False) -> str:
        text = self.element.text or ""
        return text.strip() if strip else text

    def text(self, *names: str, strip: bool = False) -> str | None:
        node = self.child(*names)
        return None if node is None else node.own_text(strip=strip)

    def required_text(self, *names: str, strip: bool = False) -> str:
        node = self.required(*names)
        value = node.own_text(strip=strip)
        if strip and not value:
            raise StructureError(
                f"{names[0]} is empty", element=names[0], line=node.line, path=node.path
            )
        return value

    def _read(self, node: _Node, reader: Callable[[str | None], T | None]) -> T | None:
        try:
            return reader(node.element.text)
        except ValueError as exc:
            raise FieldValueError(
                str(exc), element=node.path.rsplit("/", 1)[-1], line=node.line, path=node.path
            ) from None

    def value(self, reader: Callable[[str | None], T | None], *names: str) -> T | None:
        node = self.child(*names)
        return None if node is None else self._read(node, reader)

    def required_value(self, reader: Callable[[str | None], T | None], *names: str) -> T:
        node = self.required(*names)
        result = self._read(node, reader)
        if result is None:
            raise FieldValueError(
                f"{names[0]} is empty", element=names[0], line=node.line, path=node.path
            )
        return result


def _strip_cid(value: str | None) -> str:
    value = (value or "").strip()
    return value[4:].strip() if value[:4].lower() == "cid:" else value


# -- blocks shared by both package kinds ---------------------------------------------------


def _organization(node: _Node) -> Organization:
    return Organization(
        organ_id=node.required_text("OrganId", strip=True),
        organization_in_charge=node.text("OrganizationInCharge", "OrganInCharge"),
        organ_name=node.text("OrganName"),
        organ_address=node.text("OrganAdd"),
        email=node.text("Email", strip=True),
        telephone=node.text("Telephone"),
        fax=node.text("Fax"),
        website=node.text("Website", strip=True),
    )


def _empty(node: _Node, parent: _Node) -> bool:
    """An element with nothing in it (``<ResponseFor />``, as real VPCP packages carry):
    noted, and read as absent."""
    if len(node.element) or (node.element.text or "").strip():
        return False
    parent.note(
        "structure",
        f"an empty {etree.QName(node.element).localname} is read as absent",
        path=node.path,
        line=node.line,
    )
    return True


def _response_for(node: _Node) -> ResponseFor:
    return ResponseFor(
        organ_id=node.required_text("OrganId", strip=True),
        code=node.text("Code", strip=True),
        promulgation_date=node.value(read_date, "PromulgationDate"),
        document_id=node.text("DocumentId", strip=True),
    )


def _staff(node: _Node | None) -> StaffInfo | None:
    if node is None:
        return None
    return StaffInfo(
        department=node.text("Department"),
        staff=node.text("Staff"),
        email=node.text("Email", strip=True),
        mobile=node.text("Mobile", strip=True),
        department_id=node.text("DepartmentId", strip=True),
        staff_id=node.text("StaffId", strip=True),
    )


def _trace_list(header: _Node) -> tuple[tuple[TraceHeader, ...], Business | None]:
    traces = header.child("TraceHeaderList")
    if traces is None:
        return (), None
    headers = tuple(
        TraceHeader(
            organ_id=node.text("OrganId", strip=True) or "",
            timestamp=node.value(read_timestamp, "Timestamp", "TimeStamp"),
        )
        for node in traces.children("TraceHeader")
    )
    business = traces.child("Bussiness", "Business")
    return headers, None if business is None else _business(business)


def _business(node: _Node) -> Business:
    info = node.child("BussinessDocumentInfo", "BusinessDocumentInfo")
    replacements = node.child("ReplacementInfoList")
    return Business(
        doc_type=node.required_value(read_int, "BussinessDocType", "BusinessDocType"),
        document_id=node.text("DocumentId", strip=True),
        reason=node.text("BussinessDocReason", "BusinessDocReason"),
        paper=node.value(read_int, "Paper"),
        staff=_staff(node.child("StaffInfo")),
        document_info=None if info is None else _document_info(info),
        replacements=()
        if replacements is None
        else tuple(
            ReplacementInfo(
                document_id=item.text("DocumentId", strip=True) or "",
                organ_ids=tuple(
                    organ.own_text(strip=True)
                    for organ_list in [item.child("OrganIdList")]
                    if organ_list is not None
                    for organ in organ_list.children("OrganId")
                ),
            )
            for item in replacements.children("ReplacementInfo")
        ),
    )


def _document_info(node: _Node) -> BusinessDocumentInfo:
    receivers = node.child("ReceiverList")
    return BusinessDocumentInfo(
        document_info=node.value(read_int, "DocumentInfo"),
        document_receiver=node.value(read_int, "DocumentReceiver"),
        receivers=()
        if receivers is None
        else tuple(
            Receiver(
                organ_id=item.required_text("OrganId", strip=True),
                receiver_type=item.required_value(read_int, "ReceiverType"),
            )
            for item in receivers.children("Receiver")
        ),
    )


def _signature(*places: _Node | None) -> Signature | None:
    """The ``Signature`` of the header (spec 1.5), in the xmldsig namespace or not."""
    for place in places:
        if place is None:
            continue
        for child in place.element:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child)
            if qname.localname == "Signature" and (qname.namespace or "") in _SIGNATURE_NAMESPACES:
                place.adopt(child, "Signature")
                return Signature(
                    xml=etree.tostring(child, method="c14n", exclusive=True),
                    in_xmldsig_namespace=qname.namespace == XMLDSIG_NS,
                )
    return None


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
