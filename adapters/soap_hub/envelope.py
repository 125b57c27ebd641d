"""What both ends of the e-doc SOAP hub share: names, the auth header, envelopes and faults.

One place for the wire details (spec 3.4), used by the client (``client``) and by the
simulator's SOAP face, so they cannot drift apart:

* SOAP 1.1; the SOAPAction is the operation name;
* ``edXML:Signature/edXML:KeyInfo/{edXML:OrganId, edXML:Token}`` in the SOAP header is the
  caller's credential (the Bkav hub's ``KeyInfoEdoc``);
* errors are ``Report{IsSuccess=false, ErrorList{Error{Code, Description}}}``, carried in a
  SOAP Fault's detail; codes look like ``M.OrganId``, ``M.DocumentId``.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from typing import Literal

from lxml import etree

import edxml

__all__ = [
    "EDOC_NS",
    "SERVICE_NS",
    "SOAP_NS",
    "auth_header",
    "body_of",
    "fault_envelope",
    "header_of",
    "local_name",
    "q",
    "read_auth",
    "report_element",
    "soap_envelope",
    "wsdl_path",
    "wsdl_text",
]

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
EDOC_NS = edxml.EDOC_NS
SERVICE_NS = "http://www.e-doc.vn/Service/"
WSDL_NAME = "edoc-hub.wsdl"


def q(name: str, namespace: str = EDOC_NS) -> str:
    return f"{{{namespace}}}{name}"


def local_name(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


def wsdl_path() -> str:
    """The WSDL shipped in ``edxml.schemas`` (from the project's ``schemas/``), as a path."""
    return str(importlib.resources.files("edxml.schemas").joinpath(WSDL_NAME))


def wsdl_text(address: str) -> str:
    """The WSDL with the service address of this server (for ``GET ...?wsdl``)."""
    text = importlib.resources.files("edxml.schemas").joinpath(WSDL_NAME).read_text("utf-8")
    return text.replace("http://localhost/soap/edoc", address)


def auth_header(organ_id: str, token: str) -> etree._Element:
    signature = etree.Element(q("Signature"), nsmap={"edXML": EDOC_NS})
    key_info = etree.SubElement(signature, q("KeyInfo"))
    etree.SubElement(key_info, q("OrganId")).text = organ_id
    etree.SubElement(key_info, q("Token")).text = token
    return signature


def read_auth(header: etree._Element | None) -> tuple[str, str] | None:
    """``(OrganId, Token)`` from ``Signature/KeyInfo`` (or a ``CheckPermission``) in the header."""
    if header is None:
        return None
    for holder in header.iter(q("KeyInfo"), q("CheckPermission")):
        organ_id = holder.findtext(q("OrganId"))
        token = holder.findtext(q("Token"))
        if organ_id and token:
            return organ_id.strip(), token.strip()
    return None


def header_of(envelope: etree._Element) -> etree._Element | None:
    return envelope.find(q("Header", SOAP_NS))


def body_of(envelope: etree._Element) -> etree._Element | None:
    return envelope.find(q("Body", SOAP_NS))


def soap_envelope(body: Iterable[etree._Element], headers: Iterable[etree._Element] = ()) -> bytes:
    root = etree.Element(q("Envelope", SOAP_NS), nsmap={"soap": SOAP_NS, "edXML": EDOC_NS})
    header_elements = list(headers)
    if header_elements:
        header = etree.SubElement(root, q("Header", SOAP_NS))
        header.extend(header_elements)
    etree.SubElement(root, q("Body", SOAP_NS)).extend(body)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def report_element(errors: Iterable[tuple[str, str]] = ()) -> etree._Element:
    """``Report{IsSuccess, ErrorList}``: success when ``errors`` is empty."""
    listed = list(errors)
    report = etree.Element(q("Report"), nsmap={"edXML": EDOC_NS})
    etree.SubElement(report, q("IsSuccess")).text = "false" if listed else "true"
    if listed:
        error_list = etree.SubElement(report, q("ErrorList"))
        for code, description in listed:
            error = etree.SubElement(error_list, q("Error"))
            etree.SubElement(error, q("Code")).text = code
            etree.SubElement(error, q("Description")).text = description
    return report


def fault_envelope(side: Literal["Client", "Server"], code: str, message: str) -> bytes:
    """A SOAP 1.1 Fault: ``soap:Client`` for what the caller must fix, ``soap:Server`` else."""
    fault = etree.Element(q("Fault", SOAP_NS))
    etree.SubElement(fault, "faultcode").text = f"soap:{side}"
    etree.SubElement(fault, "faultstring").text = message
    etree.SubElement(fault, "detail").append(report_element([(code, message)]))
    return soap_envelope([fault])
