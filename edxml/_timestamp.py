"""Trusted time for a package signature: the RFC 3161 token of XAdES ``SignatureTimeStamp``.

ETSI EN 319 102-1: without a proof of existence the best signature time is the time of
validation; the time the signer claims (its TraceHeader) is reported, never trusted. A
package whose ``ds:Signature`` carries
``ds:Object/xades:QualifyingProperties/xades:UnsignedProperties/
xades:UnsignedSignatureProperties/xades:SignatureTimeStamp/xades:EncapsulatedTimeStamp``
has a proof: a Time-Stamping Authority's token over the canonical ``ds:SignatureValue``.
Once that token is validated, the certificate is judged at the token's time, so a document
stays provably valid after its certificate expired.

Validating a token is a CMS signature and a certificate chain of its own — I/O and ASN.1
this library does not do: a ``TimestampValidator`` is passed in (``edxml.Rfc3161Validator`` is one).
Without one, a token is reported and the signature judged at the time of validation.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from ._errors import TimestampError

__all__ = [
    "XADES_NS",
    "SignatureTimestamp",
    "TimestampError",
    "TimestampValidator",
    "add_signature_timestamp",
    "signature_timestamp_input",
]

XADES_NS = "http://uri.etsi.org/01903/v1.3.2#"
_XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(frozen=True, slots=True)
class SignatureTimestamp:
    """What a validated token proves: the signature value existed at ``time``."""

    time: dt.datetime  # timezone-aware
    authority: str  # the TSA, as its certificate names it


class TimestampValidator(Protocol):
    def validate(self, token: bytes, data: bytes) -> SignatureTimestamp:
        """The time ``token`` (DER TimeStampToken) proves for ``data``; ``TimestampError``
        when it is malformed, not over ``data``, or its authority is not trusted."""
        ...


def timestamped_value(signature: etree._Element) -> bytes | None:
    """What a SignatureTimeStamp is over: the canonical (C14N 1.0) ``ds:SignatureValue``."""
    value = signature.find(f"{{{_XMLDSIG_NS}}}SignatureValue")
    if value is None:
        return None
    return bytes(etree.tostring(value, method="c14n"))


def timestamp_tokens(signature: etree._Element) -> list[bytes]:
    """Every EncapsulatedTimeStamp of a SignatureTimeStamp in ``signature``, decoded."""
    found = []
    for stamp in signature.iter(f"{{{XADES_NS}}}SignatureTimeStamp"):
        for encapsulated in stamp.iter(f"{{{XADES_NS}}}EncapsulatedTimeStamp"):
            try:
                found.append(base64.b64decode("".join((encapsulated.text or "").split())))
            except (binascii.Error, ValueError):
                found.append(b"")  # present but unreadable: reported as a failed token
    return found


def _signature_of(package: bytes) -> etree._Element:
    # Imported here: _xml imports the error tree, as this module does.
    from ._xml import parse_untrusted_xml  # noqa: PLC0415

    root = parse_untrusted_xml(package)
    for signature in root.iter(f"{{{_XMLDSIG_NS}}}Signature"):
        return signature
    raise TimestampError("the package has no XMLDSig signature to timestamp")


def signature_timestamp_input(package: bytes) -> bytes:
    """The bytes a TSA is asked to timestamp for ``package``'s signature (hash them)."""
    value = timestamped_value(_signature_of(package))
    if value is None:
        raise TimestampError("the signature has no SignatureValue")
    return value


def add_signature_timestamp(package: bytes, token: bytes) -> bytes:
    """``package`` with ``token`` as the XAdES SignatureTimeStamp of its signature.

    The token sits in an unsigned ``ds:Object`` of the signature: the enveloped signature
    leaves the whole Signature out of its digest and SignedInfo does not name the Object,
    so the signature verifies as before. Written on the bytes, so nothing else changes.
    """
    _signature_of(package)  # it has one
    end = package.rfind(b"</Signature>")
    prefix = b""
    if end < 0:
        end = package.rfind(b":Signature>")
        start = package.rfind(b"</", 0, end)
        if end < 0 or start < 0:
            raise TimestampError("the signature's end tag was not found")
        prefix = package[start + 2 : end + 1]
        end = start
    encoded = base64.b64encode(token)
    element = (
        b"<" + prefix + b"Object><xades:QualifyingProperties xmlns:xades=\"" + XADES_NS.encode()
        + b'" Target=""><xades:UnsignedProperties><xades:UnsignedSignatureProperties>'
        b"<xades:SignatureTimeStamp><xades:EncapsulatedTimeStamp>" + encoded
        + b"</xades:EncapsulatedTimeStamp></xades:SignatureTimeStamp>"
        b"</xades:UnsignedSignatureProperties></xades:UnsignedProperties>"
        b"</xades:QualifyingProperties></" + prefix + b"Object>"
    )  # fmt: skip
    return package[:end] + element + package[end:]
