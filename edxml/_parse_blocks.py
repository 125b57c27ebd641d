"""Reading the parsed tree tolerantly: a node wrapper that finds children in any of our
namespaces, and the blocks both package kinds share (organizations, traces, business)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from lxml import etree

from ._errors import FieldValueError, StructureError
from ._model import (
    Business,
    BusinessDocumentInfo,
    Organization,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    Signature,
    StaffInfo,
    TraceHeader,
)
from ._problems import Problem
from ._values import read_date, read_int, read_timestamp
from ._xml import (
    EDXML_NS,
    LEGACY_NS,
    XMLDSIG_NS,
)

__all__ = [
    "Extraction",
]


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
