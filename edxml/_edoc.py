"""The older e-doc SOAP flavour (spec 1.1, 3.4): our model in and out of its message parts.

Older provincial hubs (Bkav eDoc) carry a package as a SOAP 1.1 message: ``MessageHeader``
and ``TraceHeaderList`` in the SOAP header, ``Manifest`` in the body, each file a MIME part
(SOAP with Attachments) that ``Reference/@xlink:href="cid:..."`` points to, all in the
namespace ``http://www.e-doc.vn/Schema/``. The names that differ from QCVN 102 (spec 1.1):
``From/OrganInCharge``, ``Author/{Competence, Function, FullName}`` for ``SignerInfo`` and the
status ``TimeStamp``.

This module only turns the model into those parts and back; the SOAP envelope and the MIME
message are the adapter's (``adapters.soap_hub``). The header elements are produced by our own
builder and renamed, so both flavours always carry the same fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lxml import etree

from ._build_wire import build
from ._errors import StructureError
from ._model import Attachment, DocumentPackage, Package, StatusPackage
from ._parse import parse
from ._xml import EDXML_NS, LEGACY_NS, parse_untrusted_xml, safe_lxml_parser

__all__ = ["EDOC_NS", "EdocMessage", "from_edoc", "to_edoc"]

EDOC_NS = LEGACY_NS
XLINK_NS = "http://www.w3.org/1999/xlink"

#: QCVN 102 name → e-doc name, by the parent's local name (None: anywhere).
_RENAMES: dict[tuple[str | None, str], str] = {
    ("From", "OrganizationInCharge"): "OrganInCharge",
    ("To", "OrganizationInCharge"): "OrganInCharge",
    ("MessageHeader", "SignerInfo"): "Author",
    ("SignerInfo", "Position"): "Function",
}
_STATUS_RENAMES: dict[tuple[str | None, str], str] = {("MessageHeader", "Timestamp"): "TimeStamp"}


@dataclass(frozen=True, slots=True)
class EdocMessage:
    """A package as the e-doc flavour's parts: header elements, manifest, files.

    ``headers`` and ``manifest`` are serialised XML elements in ``EDOC_NS`` (prefix
    ``edXML``); ``attachments`` keep their ``content_id``, which the MIME parts carry as
    ``Content-ID: <id>``. A status package has no manifest and no attachments.
    """

    headers: tuple[bytes, ...]
    manifest: bytes | None = None
    attachments: tuple[Attachment, ...] = field(default=(), repr=False)


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _to_edoc_names(element: etree._Element, renames: Mapping[tuple[str | None, str], str]) -> None:
    for node in element.iter():
        if not isinstance(node.tag, str):
            continue
        qname = etree.QName(node)
        if qname.namespace != EDXML_NS:
            continue
        parent = node.getparent()
        parent_name = etree.QName(parent).localname if parent is not None else None
        original = "SignerInfo" if parent_name == "Author" else parent_name
        name = renames.get((original, qname.localname), qname.localname)
        node.tag = _q(EDOC_NS, name)
    etree.cleanup_namespaces(element, top_nsmap={"edXML": EDOC_NS})


def _serialise(element: etree._Element) -> bytes:
    element.tail = None  # the indentation after it belongs to the QCVN layout
    return bytes(etree.tostring(element, encoding="utf-8"))


def to_edoc(package: Package) -> EdocMessage:
    """The e-doc parts of ``package``; the signature is not carried (it signs the QCVN form)."""
    bare = dataclasses.replace(package, signature=None)
    if isinstance(bare, DocumentPackage):
        bare = dataclasses.replace(bare, attachments=())
    root = etree.fromstring(build(bare), safe_lxml_parser())
    header = root.find(f"{{{EDXML_NS}}}edXMLEnvelope/{{{EDXML_NS}}}edXMLHeader")
    if header is None:  # pragma: no cover - our builder always writes it
        raise StructureError("built package without edXMLHeader")
    renames = dict(_RENAMES)
    if isinstance(package, StatusPackage):
        renames.update(_STATUS_RENAMES)
    headers = []
    for name in ("MessageHeader", "TraceHeaderList"):
        element = header.find(_q(EDXML_NS, name))
        if element is not None:
            _to_edoc_names(element, renames)
            headers.append(_serialise(element))
    if not isinstance(package, DocumentPackage):
        return EdocMessage(tuple(headers))
    manifest = etree.Element(_q(EDOC_NS, "Manifest"), nsmap={"edXML": EDOC_NS, "xlink": XLINK_NS})
    manifest.set("version", "1.0")
    for attachment in package.attachments:
        reference = etree.SubElement(manifest, _q(EDOC_NS, "Reference"))
        reference.set(_q(XLINK_NS, "href"), f"cid:{attachment.content_id}")
        reference.set(_q(XLINK_NS, "type"), "simple")
        for name, value in (
            ("AttachmentName", attachment.name),
            ("ContentType", attachment.media_type),
            ("Description", attachment.description),
        ):
            if value is not None:
                etree.SubElement(reference, _q(EDOC_NS, name)).text = value
    files = tuple(
        dataclasses.replace(attachment, content_type=attachment.media_type)
        for attachment in package.attachments
    )
    return EdocMessage(tuple(headers), etree.tostring(manifest, encoding="utf-8"), files)


def _local(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


def _attachments_of(manifest: bytes, files: Mapping[str, bytes]) -> tuple[Attachment, ...]:
    root = parse_untrusted_xml(manifest)
    found = []
    for reference in root:
        if not isinstance(reference.tag, str) or _local(reference) != "Reference":
            continue
        href = reference.get(_q(XLINK_NS, "href")) or ""
        texts = {
            _local(child): (child.text or "").strip()
            for child in reference
            if isinstance(child.tag, str)
        }
        content_id = (href or texts.get("ContentId", "")).removeprefix("cid:").strip("<>")
        if not content_id:
            raise StructureError(
                "a manifest Reference has no xlink:href (cid:...)", element="Reference"
            )
        found.append(
            Attachment(
                content_id=content_id,
                name=texts.get("AttachmentName") or content_id,
                data=files.get(content_id),
                content_type=texts.get("ContentType") or "application/octet-stream",
                description=texts.get("Description") or None,
            )
        )
    return tuple(found)


def from_edoc(
    headers: Sequence[bytes],
    manifest: bytes | None = None,
    files: Mapping[str, bytes] | None = None,
) -> Package:
    """The model of an e-doc message: its header elements, its manifest and its MIME parts.

    ``files`` maps a part's Content-ID (without ``<>``) to its bytes. The header elements are
    read by the same tolerant parser as QCVN packages (which knows the e-doc names). Raises
    ``DocumentError`` when they cannot be read; a Reference whose part is missing gets
    ``data=None``, as in ``parse``.
    """
    elements = []
    for raw in headers:
        element = parse_untrusted_xml(raw)
        if _local(element) not in ("MessageHeader", "TraceHeaderList"):
            continue
        elements.append(element)
    if not any(_local(element) == "MessageHeader" for element in elements):
        raise StructureError("the SOAP header carries no MessageHeader", element="MessageHeader")
    root = etree.Element(_q(EDOC_NS, "edXML"), nsmap={None: EDOC_NS})
    envelope = etree.SubElement(root, _q(EDOC_NS, "edXMLEnvelope"), nsmap={"edXML": EDOC_NS})
    header = etree.SubElement(envelope, _q(EDOC_NS, "edXMLHeader"))
    for element in elements:
        header.append(element)
    package = parse(etree.tostring(root, encoding="utf-8"))
    if manifest is None or not isinstance(package, DocumentPackage):
        return package
    return dataclasses.replace(package, attachments=_attachments_of(manifest, files or {}))
