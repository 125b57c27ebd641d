"""The XML reader's vocabulary: our namespaces, the limits every untrusted document is read
under, the observer protocol, and what a parse gives back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Protocol

from lxml import etree

from ._transfer import MAX_ATTACHMENT_BYTES, Payload

__all__ = [
    "EDXML_NS",
    "LEGACY_NS",
    "XMLDSIG_NS",
    "Observer",
    "ParseLimits",
    "ParsedXml",
    "Source",
]


EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
LEGACY_NS = "http://www.e-doc.vn/Schema/"
XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"

_PAYLOAD_ELEMENT = "ContentTransferEncoded"
_PAYLOAD_SUFFIX = ("}" + _PAYLOAD_ELEMENT, _PAYLOAD_ELEMENT)
# Input is fed to expat in 256 KiB pieces and text reaches us in 64 KiB pieces: measured on
# our machines, expat with 1 MiB text buffers is 3x slower (each buffer is fresh mmap'd memory).
_FEED_SIZE = 256 * 1024
_TEXT_BUFFER = 64 * 1024
_BOMS_WE_LEAVE_TO_EXPAT = (b"\xff\xfe", b"\xfe\xff", b"\x00<", b"<\x00")  # UTF-16 input
_UTF8_BOM = b"\xef\xbb\xbf"


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Observer(Protocol):
    """Sees every parser event besides the tree builder (the streaming canonicaliser does).

    ``attach`` receives a function giving the byte offset, in the source, of the event
    being reported (for splicing a signature into the original bytes).
    """

    def attach(self, byte_offset: Callable[[], int]) -> None: ...
    def namespace_start(self, prefix: str | None, uri: str | None) -> None: ...
    def start(self, name: str, attributes: dict[str, str]) -> None: ...
    def end(self, name: str) -> None: ...
    def data(self, text: str) -> None: ...
    def processing_instruction(self, target: str, data: str) -> None: ...


Source = bytes | bytearray | memoryview | IO[bytes] | _Readable


@dataclass(frozen=True, slots=True, kw_only=True)
class ParseLimits:
    """Bounds on what the parser accepts; defaults fit edXML with 50 MB attachments."""

    max_document_bytes: int = 256 * 1024 * 1024
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES
    max_depth: int = 64
    max_elements: int = 100_000
    max_leading_junk: int = 1024


DEFAULT_LIMITS = ParseLimits()


@dataclass(slots=True)
class ParsedXml:
    """A parsed document: the tree (payload text elided) and the decoded payloads.

    ``payloads`` maps each ``ContentTransferEncoded`` element to its decoded attachment;
    the dict holds the element proxies, so lxml keeps them identical while it lives.
    """

    root: etree._Element
    payloads: dict[etree._Element, Payload] = field(default_factory=dict)
    leading_junk: bytes = b""
    offset: int = 0  # where the XML starts in the source (after junk, BOM, whitespace)
    #: Source lines of elements past lxml's ``sourceline`` range (it holds 65,535 at most).
    far_lines: dict[etree._Element, int] = field(default_factory=dict)

    def line_of(self, element: etree._Element) -> int | None:
        """The source line of ``element``: lxml's, or ours where lxml cannot hold it."""
        return self.far_lines.get(element) or element.sourceline


#: The largest line number lxml can store on an element (an unsigned short in libxml2): a
#: package with 20,000 recipients, or base64 wrapped at 76 characters, has more lines.
MAX_SOURCELINE = 65_535
