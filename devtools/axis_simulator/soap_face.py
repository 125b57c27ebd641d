"""The simulator's SOAP face: an older provincial e-doc hub (spec 3.4) over the same hub.

``POST /soap/edoc`` (``GET /soap/edoc?wsdl`` for the WSDL) answers the operations of
``schemas/edoc-hub.wsdl`` for agencies that authenticate with ``OrganId`` + ``Token`` (the
token is their system's secret). Packages arrive and leave in the e-doc flavour, files as
SOAP-with-Attachments parts, and are converted with ``edxml.to_edoc``/``from_edoc``; inside,
they are the same QCVN packages as on the REST side, so a SOAP agency and a VDXP agency can
exchange documents through one hub. Traces (``UpdateTraces``) become status packages to the
document's sender; ``ConfirmReceived`` also sends status 01, as Bkav's hub does (spec 2.1).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import web
from lxml import etree

import edxml
from adapters.axis.server import AxisRefusal
from adapters.soap_hub.envelope import (
    EDOC_NS,
    body_of,
    fault_envelope,
    header_of,
    local_name,
    q,
    read_auth,
    report_element,
    soap_envelope,
    wsdl_text,
)
from adapters.soap_hub.mime import MimePart, SwaError, read_swa, swa_message
from devtools.axis_simulator.hub import AxisHub

__all__ = ["SOAP_PATH", "install_soap_face"]

SOAP_PATH = "/soap/edoc"
_XML = "text/xml; charset=utf-8"

Operation = Callable[
    [AxisHub, str, etree._Element, etree._Element | None, dict[str, MimePart]],
    Awaitable[web.Response],
]


def _xml_response(envelope: bytes, status: int = 200) -> web.Response:
    return web.Response(body=envelope, status=status, headers={"Content-Type": _XML})


def _fault(refusal: AxisRefusal) -> web.Response:
    side: Literal["Client", "Server"] = "Server" if refusal.http_status >= 500 else "Client"
    return _xml_response(fault_envelope(side, refusal.code, refusal.description), status=500)


def _text(parent: etree._Element, name: str) -> str:
    return (parent.findtext(q(name)) or "").strip()


def _element(name: str, text: str | None = None) -> etree._Element:
    element = etree.Element(q(name), nsmap={"edXML": EDOC_NS})
    if text is not None:
        element.text = text
    return element


def _child(parent: etree._Element, name: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, q(name)).text = text


async def _send_document(
    hub: AxisHub,
    organ_id: str,
    request: etree._Element,
    header: etree._Element | None,
    parts: dict[str, MimePart],
) -> web.Response:
    headers = [etree.tostring(child) for child in (header if header is not None else [])]
    manifest = etree.tostring(request) if local_name(request) == "Manifest" else None
    try:
        package = edxml.from_edoc(
            headers, manifest, {cid: part.data for cid, part in parts.items()}
        )
    except edxml.EdxmlError as exc:
        raise AxisRefusal(400, "M.Document", f"not an e-doc package: {exc}") from None
    if isinstance(package, edxml.DocumentPackage):
        missing = [a.content_id for a in package.attachments if a.data is None]
        if missing:
            raise AxisRefusal(400, "M.Attachment", f"no MIME part for cid {', '.join(missing)}")
    system_id = hub.system_of(organ_id)
    assert system_id is not None  # authenticated
    doc_id = await hub.send(
        hub.as_system(system_id),
        edxml.build(package),
        message_type="status" if isinstance(package, edxml.StatusPackage) else "edoc",
        sender=organ_id,
        to=None,
    )
    response = _element("SendDocumentResponse")
    response.append(report_element())
    _child(response, "DocumentId", doc_id)
    return _xml_response(soap_envelope([response]))


async def _pending(
    hub: AxisHub, organ_id: str, request: etree._Element, *_: object
) -> web.Response:
    ids = _element("DocumentIds")
    for delivery in hub.pending_for(organ_id):
        _child(ids, "DocumentId", delivery.doc_id)
    return _xml_response(soap_envelope([ids]))


async def _get_document(
    hub: AxisHub, organ_id: str, request: etree._Element, *_: object
) -> web.Response:
    delivery = hub.delivery_to(organ_id, _text(request, "DocumentId"))
    message = edxml.to_edoc(edxml.parse(delivery.sent.package))
    headers = [etree.fromstring(raw, _own_xml_parser()) for raw in message.headers]
    body = [etree.fromstring(message.manifest, _own_xml_parser())] if message.manifest else []
    parts = [
        MimePart(a.content_id, a.data or b"", a.content_type, a.name) for a in message.attachments
    ]
    content_type, chunks = swa_message(soap_envelope(body, headers), parts)
    return web.Response(body=b"".join(chunks), headers={"Content-Type": content_type})


def _own_xml_parser() -> etree.XMLParser:
    # The parts come from our own converter; still no entities, no network.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


async def _confirm_received(
    hub: AxisHub, organ_id: str, request: etree._Element, *_: object
) -> web.Response:
    if _text(request, "OrganId") not in ("", organ_id):
        raise AxisRefusal(403, "M.OrganId", "ConfirmReceived must name the caller's OrganId")
    delivery = hub.delivery_to(organ_id, _text(request, "DocumentId"))
    was_listed = delivery.listed
    await hub.update_status(hub.as_system(delivery.system_id), delivery.doc_id, "done")
    if was_listed and delivery.sent.message_type == "edoc" and delivery.sent.document_id:
        await hub.report_status(organ_id, delivery.sent.document_id, "01", description="Đã đến")
    return _xml_response(soap_envelope([report_element()]))


def _timestamp(text: str) -> dt.datetime | None:
    for layout in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(text, layout)
        except ValueError:
            continue
    return None


async def _update_traces(
    hub: AxisHub, organ_id: str, request: etree._Element, *_: object
) -> web.Response:
    for status in request.iter(q("Status")):
        reporter = _text(status, "OrganId") or organ_id
        if hub.system_of(reporter) != hub.system_of(organ_id):
            raise AxisRefusal(403, "M.OrganId", f"{reporter} is not the caller's agency")
        staff = edxml.StaffInfo(
            department=_text(status, "Department") or None, staff=_text(status, "Staff") or None
        )
        await hub.report_status(
            reporter,
            _text(status, "DocumentId"),
            _text(status, "StatusCode"),
            description=_text(status, "Description") or None,
            timestamp=_timestamp(_text(status, "TimeStamp")),
            staff=staff if staff.department or staff.staff else None,
        )
    return _xml_response(soap_envelope([report_element()]))


async def _get_traces(
    hub: AxisHub, organ_id: str, request: etree._Element, *_: object
) -> web.Response:
    asked = _text(request, "OrganId") or organ_id
    if hub.system_of(asked) != hub.system_of(organ_id):
        raise AxisRefusal(403, "M.OrganId", f"{asked} is not the caller's agency")
    since_text = _text(request, "TimeStamp")
    since = _timestamp(since_text) if since_text else None
    if since_text and since is None:
        raise AxisRefusal(
            400, "M.GetTraces", f"TimeStamp {since_text!r} is not yyyy/MM/dd HH:mm:ss"
        )
    traces = _element("Traces")
    for package in hub.statuses_for(asked, since):
        status = etree.SubElement(traces, q("Status"))
        _child(status, "DocumentId", package.response_for.document_id or "")
        _child(status, "OrganId", package.sender.organ_id)
        _child(status, "StatusCode", package.status_code)
        _child(status, "Description", package.description)
        _child(status, "TimeStamp", package.timestamp.strftime("%Y/%m/%d %H:%M:%S"))
        if package.staff is not None:
            _child(status, "Department", package.staff.department)
            _child(status, "Staff", package.staff.staff)
    return _xml_response(soap_envelope([traces]))


async def _organizations(
    hub: AxisHub, organ_id: str, request: etree._Element, *_: object
) -> web.Response:
    listing = _element("Organizations")
    for agency in hub.directory():
        organization = etree.SubElement(listing, q("Organization"))
        _child(organization, "OrganId", agency.code)
        _child(organization, "OrganName", agency.name)
        _child(organization, "Email", agency.mail or None)
    return _xml_response(soap_envelope([listing]))


OPERATIONS: dict[str, Operation] = {
    "SendDocument": _send_document,
    "GetPendingDocumentIds": _pending,
    "GetDocument": _get_document,
    "ConfirmReceived": _confirm_received,
    "UpdateTraces": _update_traces,
    "GetTraces": _get_traces,
    "GetOrganizations": _organizations,
}
#: Body element → operation, for callers that send no SOAPAction.
_BY_BODY = {
    "Manifest": "SendDocument",
    "GetPendingDocumentIdsRequest": "GetPendingDocumentIds",
    "GetDocumentRequest": "GetDocument",
    "ConfirmReceived": "ConfirmReceived",
    "UpdateTraces": "UpdateTraces",
    "GetTraces": "GetTraces",
    "GetOrganizations": "GetOrganizations",
}


def _authenticate(hub: AxisHub, header: etree._Element | None) -> str:
    credentials = read_auth(header)
    if credentials is None:
        raise AxisRefusal(401, "M.Token", "no OrganId + Token in the SOAP header")
    organ_id, token = credentials
    system_id = hub.system_of(organ_id)
    secret = hub.secret_for(system_id) if system_id is not None else None
    if secret is None:
        raise AxisRefusal(401, "M.OrganId", f"unknown OrganId {organ_id}")
    if not hmac.compare_digest(secret.encode(), token.encode()):
        raise AxisRefusal(401, "M.Token", f"wrong Token for {organ_id}")
    return organ_id


async def _serve(hub: AxisHub, request: web.Request) -> web.Response:
    try:
        message = read_swa(request.headers.get("Content-Type", "text/xml"), await request.read())
        envelope = edxml.parse_untrusted_xml(message.envelope)
    except (SwaError, edxml.EdxmlError) as exc:
        raise AxisRefusal(400, "M.Envelope", f"not a SOAP message: {exc}") from None
    body = body_of(envelope)
    if body is None or len(body) == 0:
        raise AxisRefusal(400, "M.Envelope", "the SOAP message has no Body content")
    request_element = body[0]
    action = request.headers.get("SOAPAction", "").strip().strip('"').rsplit("/", 1)[-1]
    name = action or _BY_BODY.get(local_name(request_element), "")
    operation = OPERATIONS.get(name)
    if operation is None:
        raise AxisRefusal(
            400, "M.Operation", f"unknown operation {name or local_name(request_element)!r}"
        )
    header = header_of(envelope)
    organ_id = _authenticate(hub, header)
    return await operation(hub, organ_id, request_element, header, message.parts)


def install_soap_face(app: web.Application, hub: AxisHub) -> None:
    async def endpoint(request: web.Request) -> web.Response:
        if request.method == "GET":
            if "wsdl" not in {key.lower() for key in request.query}:
                return web.Response(status=405, text="POST SOAP messages here; GET ?wsdl")
            address = f"{request.scheme}://{request.host}{SOAP_PATH}"
            return web.Response(text=wsdl_text(address), content_type="text/xml")
        try:
            return await _serve(hub, request)
        except AxisRefusal as refusal:
            return _fault(refusal)

    app.router.add_route("GET", SOAP_PATH, endpoint)
    app.router.add_route("POST", SOAP_PATH, endpoint)
