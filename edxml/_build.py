"""model -> tree, in exactly the layout of the official samples (spec 1.2, 6.1).

``<edXML>`` carries the default namespace; ``edXMLEnvelope`` declares ``xmlns:edXML`` and
every element inside it is ``edXML:``-prefixed; ``AttachmentEncoded/Attachment`` and their
children are unprefixed except ``edXML:ContentTransferEncoded``, which re-declares the
prefix. Children are written in the VNPT builder's order. Wire spellings are kept.

The tree is the small part of a package (everything but the attachments' bytes, which
``_build_wire`` streams in at placeholders).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from lxml import etree

from ._errors import EdxmlError, PackageBuildError
from ._ids import make_document_id
from ._model import (
    Attachment,
    Business,
    DocumentPackage,
    Organization,
    Package,
    ResponseFor,
    Signature,
    StaffInfo,
    StatusPackage,
    TraceHeader,
)
from ._values import format_bool, format_date, format_timestamp
from ._xml import EDXML_NS, parse_fragment

__all__ = [
    "document_id_of",
    "package_tree",
    "signature_element",
]


def _q(name: str) -> str:
    return f"{{{EDXML_NS}}}{name}"


class _Writer:
    """Appends elements in wire order; ``None`` values are left out."""

    def __init__(self, element: etree._Element) -> None:
        self.element = element

    def child(self, name: str, *, nsmap: dict[str | None, str] | None = None) -> _Writer:
        return _Writer(etree.SubElement(self.element, _q(name), nsmap=nsmap))

    def text(self, name: str, value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            text = format_bool(value)
        elif isinstance(value, int | str):
            text = str(value)
        else:
            raise PackageBuildError(f"{name}: cannot write a {type(value).__name__} value")
        try:
            etree.SubElement(self.element, _q(name)).text = text
        except ValueError as exc:  # characters XML cannot carry, e.g. NUL
            raise PackageBuildError(f"{name}: {exc}") from None

    def date(self, name: str, value: dt.date | None) -> None:
        if value is not None:
            self.text(name, format_date(value))

    def timestamp(self, name: str, value: dt.datetime | None) -> None:
        if value is not None:
            self.text(name, format_timestamp(value))


def _organization(parent: _Writer, name: str, org: Organization) -> None:
    node = parent.child(name)
    node.text("OrganId", org.organ_id)
    node.text("OrganizationInCharge", org.organization_in_charge)
    node.text("OrganName", org.organ_name)
    node.text("OrganAdd", org.organ_address)
    node.text("Email", org.email)
    node.text("Telephone", org.telephone)
    node.text("Fax", org.fax)
    node.text("Website", org.website)


def _response_for(parent: _Writer, item: ResponseFor) -> None:
    node = parent.child("ResponseFor")
    node.text("OrganId", item.organ_id)
    node.text("Code", item.code)
    node.text("DocumentId", item.document_id)
    node.date("PromulgationDate", item.promulgation_date)


def _staff(parent: _Writer, staff: StaffInfo | None) -> None:
    if staff is None:
        return
    node = parent.child("StaffInfo")
    node.text("Department", staff.department)
    node.text("Staff", staff.staff)
    node.text("Email", staff.email)
    node.text("Mobile", staff.mobile)
    node.text("DepartmentId", staff.department_id)
    node.text("StaffId", staff.staff_id)


def _trace_list(
    parent: _Writer, traces: tuple[TraceHeader, ...], business: Business | None
) -> None:
    if not traces and business is None:
        return
    node = parent.child("TraceHeaderList")
    for trace in traces:
        item = node.child("TraceHeader")
        item.text("OrganId", trace.organ_id)
        item.timestamp("Timestamp", trace.timestamp)
    if business is not None:
        _business(node, business)


def _business(parent: _Writer, business: Business) -> None:
    node = parent.child("Bussiness")
    node.text("DocumentId", business.document_id)
    node.text("BussinessDocType", int(business.doc_type))
    node.text("BussinessDocReason", business.reason)
    node.text("Paper", business.paper)
    if (info := business.document_info) is not None:
        block = node.child("BussinessDocumentInfo")
        block.text("DocumentInfo", info.document_info)
        block.text("DocumentReceiver", info.document_receiver)
        if info.receivers:
            receivers = block.child("ReceiverList")
            for receiver in info.receivers:
                item = receivers.child("Receiver")
                item.text("OrganId", receiver.organ_id)
                item.text("ReceiverType", int(receiver.receiver_type))
    if business.replacements:
        block = node.child("ReplacementInfoList")
        for replacement in business.replacements:
            item = block.child("ReplacementInfo")
            item.text("DocumentId", replacement.document_id)
            organs = item.child("OrganIdList")
            for organ_id in replacement.organ_ids:
                organs.text("OrganId", organ_id)
    _staff(node, business.staff)


def document_id_of(package: DocumentPackage) -> str:
    """The package's DocumentId, generated from its parts when the model leaves it out."""
    return package.document_id or make_document_id(
        package.sender.organ_id,
        package.promulgation.date,
        package.code.number,
        package.code.notation,
    )


def _message_header(parent: _Writer, package: DocumentPackage) -> None:
    node = parent.child("MessageHeader")
    _organization(node, "From", package.sender)
    for recipient in package.recipients:
        _organization(node, "To", recipient)
    node.text("DocumentId", document_id_of(package))
    code = node.child("Code")
    code.text("CodeNumber", package.code.number)
    code.text("CodeNotation", package.code.notation)
    promulgation = node.child("PromulgationInfo")
    promulgation.text("Place", package.promulgation.place)
    promulgation.date("PromulgationDate", package.promulgation.date)
    kind = node.child("DocumentType")
    kind.text("Type", package.document_type.type)
    kind.text("TypeDetail", package.document_type.type_detail)
    kind.text("TypeName", package.document_type.type_name)
    node.text("Subject", package.subject)
    node.text("Content", package.content)
    if (signer := package.signer) is not None:
        block = node.child("SignerInfo")
        block.text("Competence", signer.competence)
        block.text("Position", signer.position)
        block.text("FullName", signer.full_name)
    node.date("DueDate", package.due_date)
    if (other := package.other_info) is not None:
        block = node.child("OtherInfo")
        block.text("Priority", other.priority)
        block.text("SphereOfPromulgation", other.sphere_of_promulgation)
        block.text("TyperNotation", other.typer_notation)
        block.text("PromulgationAmount", other.promulgation_amount)
        block.text("PageAmount", other.page_amount)
        block.text("Direction", other.direction)
        if other.appendixes:
            appendixes = block.child("Appendixes")
            for appendix in other.appendixes:
                appendixes.text("Appendix", appendix)
        block.text("ReplyFors", other.reply_fors)
        block.text("ReferenceCodes", other.reference_codes)
    for item in package.response_for:
        _response_for(node, item)
    node.text("SteeringType", package.steering_type)
    if package.to_places:
        places = node.child("ToPlaces")
        for place in package.to_places:
            places.text("Place", place)
    if package.response_for_tasks:
        tasks = node.child("ResponseForTask")
        for task in package.response_for_tasks:
            tasks.text("TaskCode", task)
    node.text("ApplicationType", package.application_type)


def _status_header(parent: _Writer, package: StatusPackage) -> None:
    node = parent.child("MessageHeader")
    _organization(node, "From", package.sender)
    _response_for(node, package.response_for)
    _staff(node, package.staff)
    node.text("StatusCode", package.status_code)
    node.text("Description", package.description)
    node.timestamp("Timestamp", package.timestamp)


def signature_element(signature: Signature) -> etree._Element:
    try:
        return parse_fragment(signature.xml)
    except EdxmlError as exc:
        raise PackageBuildError(
            f"Signature: the stored signature is not well-formed XML ({exc})"
        ) from None


def package_tree(
    package: Package,
    *,
    payload_text: Callable[[int], str] | None = None,
    signature_marker: str | None = None,
) -> etree._Element:
    """The package as an lxml tree.

    Attachment payloads are left empty unless ``payload_text(index)`` gives a placeholder;
    the signature is inserted as parsed XML, or as a ``signature_marker`` comment to be
    replaced by its verbatim bytes. ``validate`` uses the plain tree for the XSD check.
    """
    if not isinstance(package, DocumentPackage | StatusPackage):
        raise PackageBuildError(
            f"build() takes a DocumentPackage or a StatusPackage, not {type(package).__name__}"
        )
    root = etree.Element(_q("edXML"), nsmap={None: EDXML_NS})
    envelope = _Writer(root).child("edXMLEnvelope", nsmap={"edXML": EDXML_NS})
    header = envelope.child("edXMLHeader")
    try:
        if isinstance(package, StatusPackage):
            _status_header(header, package)
            _trace_list(header, package.trace_headers, None)
        else:
            _message_header(header, package)
            _trace_list(header, package.trace_headers, package.business)
        if package.signature is not None:
            header.element.append(
                etree.Comment(signature_marker)
                if signature_marker
                else signature_element(package.signature)
            )
        if isinstance(package, DocumentPackage):
            _body(root, envelope, package.attachments, payload_text)
    except (AttributeError, TypeError) as exc:
        raise PackageBuildError(f"the model is not complete or has a wrong type: {exc}") from None
    return root


#: What the builder writes as every attachment's ContentType: the payload is always a ZIP
#: (spec 1.6), and the official reader (EdXML102) unzips only what says exactly this; the
#: file's own type lives in its name (AttachmentName and the ZIP entry's extension).
ZIP_CONTENT_TYPE = "application/zip"


def _body(
    root: etree._Element,
    envelope: _Writer,
    attachments: tuple[Attachment, ...],
    payload_text: Callable[[int], str] | None,
) -> None:
    manifest = envelope.child("edXMLBody").child("edXMLManifest")
    manifest.element.set("version", "1.0")
    for attachment in attachments:
        reference = manifest.child("Reference")
        reference.text("ContentId", f"cid:{attachment.content_id}")
        reference.text("ContentType", ZIP_CONTENT_TYPE)
        reference.text("Description", attachment.description)
        reference.text("AttachmentName", attachment.name)
    carried = [(index, item) for index, item in enumerate(attachments) if item.data is not None]
    if not carried:
        return
    encoded = _Writer(root).child("AttachmentEncoded")
    for index, attachment in carried:
        node = encoded.child("Attachment")
        node.text("ContentId", f"cid:{attachment.content_id}")
        node.text("AttachmentName", attachment.name)
        node.text("Description", attachment.description)
        node.text("ContentType", ZIP_CONTENT_TYPE)
        transfer = node.child("ContentTransferEncoded", nsmap={"edXML": EDXML_NS})
        transfer.element.text = payload_text(index) if payload_text else ""
