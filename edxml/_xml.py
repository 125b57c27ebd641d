"""The one hardened XML parser every untrusted byte goes through.

Why expat rather than ``lxml.etree.fromstring``: a 50 MB attachment is a 70 MB base64 text
node, and a tree parser holds it whole (and lxml's ``.text`` copies it again). Here expat
streams the document in 1 MiB pieces; the text of ``ContentTransferEncoded`` goes straight
into a ``PayloadDecoder`` and never into the tree, and every other element is built into a
small lxml tree (for XSD validation and model extraction) carrying its source line.

Refused outright, before anything is expanded: a DOCTYPE (so no entity of any kind, no
external DTD, no billion laughs), nesting deeper than ``max_depth``, more than
``max_elements`` elements, input larger than ``max_document_bytes``. Nothing is ever
fetched. Tolerated, because real senders emit it (spec 6.4): a BOM, and up to
``max_leading_junk`` stray bytes before ``<?xml`` (reported back as ``leading_junk``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Protocol
from xml.parsers import expat

from lxml import etree

from ._errors import AttachmentError, MalformedXmlError, UnsafeXmlError
from ._transfer import MAX_ATTACHMENT_BYTES, Payload, PayloadDecoder

__all__ = [
    "EDXML_NS",
    "LEGACY_NS",
    "XMLDSIG_NS",
    "Observer",
    "ParseLimits",
    "ParsedXml",
    "Source",
    "parse_fragment",
    "parse_xml",
    "safe_lxml_parser",
    "scan_xml",
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


def _split_name(name: str) -> tuple[str, str | None]:
    """expat's "uri local prefix" triplet -> ("{uri}local", prefix)."""
    parts = name.split(" ")
    if len(parts) == 1:
        return parts[0], None
    if len(parts) == 2:
        return f"{{{parts[0]}}}{parts[1]}", None
    return f"{{{parts[0]}}}{parts[1]}", parts[2]


class _Guard:
    """What every pass over untrusted XML enforces: no DTD or entity, depth and count limits."""

    def __init__(self, parser: expat.XMLParserType, limits: ParseLimits, line_offset: int) -> None:
        self._parser = parser
        self._limits = limits
        self.line_offset = line_offset
        self._depth = 0
        self._elements = 0

    @property
    def line(self) -> int:
        return int(self._parser.CurrentLineNumber) + self.line_offset

    def refuse_doctype(self, *_: object) -> None:
        raise UnsafeXmlError(
            "a DOCTYPE is not allowed in edXML (DTDs and entities are refused)", line=self.line
        )

    def refuse_entity(self, *_: object) -> None:
        raise UnsafeXmlError("entity declarations are not allowed", line=self.line)

    def refuse_external_entity(self, *_: object) -> int:
        raise UnsafeXmlError("external entities are not allowed", line=self.line)

    def _enter(self) -> None:
        self._depth += 1
        if self._depth > self._limits.max_depth:
            raise UnsafeXmlError(
                f"elements nested deeper than {self._limits.max_depth}", line=self.line
            )
        self._elements += 1
        if self._elements > self._limits.max_elements:
            raise UnsafeXmlError(
                f"more than {self._limits.max_elements:,} elements", line=self.line
            )

    # a scan (signing) needs nothing else: the observer sees the events
    def namespace_start(self, prefix: str | None, uri: str) -> None:
        pass

    def start(self, name: str, attributes: dict[str, str]) -> None:
        self._enter()

    def end(self, _name: str) -> None:
        self._depth -= 1

    def data(self, text: str) -> None:
        pass


class _TreeBuilder(_Guard):
    """expat callbacks -> lxml tree with source lines; payload text -> PayloadDecoder."""

    def __init__(
        self,
        parser: expat.XMLParserType,
        limits: ParseLimits,
        line_offset: int,
        *,
        decode_payloads: bool = True,
    ) -> None:
        super().__init__(parser, limits, line_offset)
        self._decode_payloads = decode_payloads
        self._in_payload = False
        self._stack: list[etree._Element] = []
        self._text: list[str] = []
        self._last: etree._Element | None = None
        self._last_closed = False
        self._pending_ns: dict[str | None, str] = {}
        self._decoder: PayloadDecoder | None = None
        self.root: etree._Element | None = None
        self.payloads: dict[etree._Element, Payload] = {}
        self.far_lines: dict[etree._Element, int] = {}

    # -- structure --------------------------------------------------------------------
    def namespace_start(self, prefix: str | None, uri: str) -> None:
        self._pending_ns[prefix or None] = uri

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if self._in_payload:
            raise AttachmentError(
                f"{_PAYLOAD_ELEMENT} holds base64 text only, not elements",
                element=_PAYLOAD_ELEMENT,
                line=self.line,
            )
        self._flush_text()
        self._enter()
        tag, prefix = _split_name(name)
        attrib = {_split_name(key)[0]: value for key, value in attributes.items()}
        nsmap, self._pending_ns = self._pending_ns, {}
        element = self._make(tag, attrib, nsmap)
        if prefix != element.prefix and tag.startswith("{"):
            # lxml chose another prefix bound to the same URI; declare ours on the element
            # so the source prefix survives re-serialisation (it matters to signatures).
            self._discard(element)
            element = self._make(tag, attrib, {**nsmap, prefix: tag[1:].split("}", 1)[0]})
        if self.line <= MAX_SOURCELINE:
            element.sourceline = self.line
        else:
            self.far_lines[element] = self.line
        self._stack.append(element)
        self._last, self._last_closed = element, False
        if tag.endswith(_PAYLOAD_SUFFIX):
            self._in_payload = True
            if self._decode_payloads:
                self._decoder = PayloadDecoder(max_bytes=self._limits.max_attachment_bytes)

    def _make(
        self, tag: str, attrib: dict[str, str], nsmap: dict[str | None, str]
    ) -> etree._Element:
        if self._stack:
            return etree.SubElement(self._stack[-1], tag, attrib, nsmap=nsmap or None)
        self.root = etree.Element(tag, attrib, nsmap=nsmap or None)
        return self.root

    def _discard(self, element: etree._Element) -> None:
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)

    def end(self, _name: str) -> None:
        self._depth -= 1
        element = self._stack.pop()
        if self._in_payload:
            self._in_payload = False
            self._text.clear()
        if self._decoder is not None:
            decoder, self._decoder = self._decoder, None
            try:
                self.payloads[element] = decoder.close()
            except AttachmentError as exc:
                line = self.far_lines.get(element) or element.sourceline
                raise type(exc)(exc.reason, element=_PAYLOAD_ELEMENT, line=line) from None
        else:
            self._flush_text()
        self._last, self._last_closed = element, True

    def data(self, text: str) -> None:
        if self._decoder is not None:
            try:
                self._decoder.feed(text)
            except AttachmentError as exc:
                raise type(exc)(exc.reason, element=_PAYLOAD_ELEMENT, line=self.line) from None
        elif not self._in_payload:  # payload text never enters the tree
            self._text.append(text)

    def _flush_text(self) -> None:
        if not self._text:
            return
        text = "".join(self._text)
        self._text.clear()
        if self._last is None:
            return
        if self._last_closed:
            self._last.tail = text
        else:
            self._last.text = text


def _chunks(source: Source) -> Iterator[bytes | memoryview]:
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)  # slices of a view: the input is never copied
        for start in range(0, len(view), _FEED_SIZE):
            yield view[start : start + _FEED_SIZE]
        return
    while chunk := source.read(_FEED_SIZE):
        yield chunk


def _strip_preamble(head: bytes, limits: ParseLimits) -> tuple[int, bytes]:
    """Where the XML starts in ``head``; and the junk before it (BOM/whitespace excluded)."""
    if head.startswith(_BOMS_WE_LEAVE_TO_EXPAT):
        return 0, b""
    start = len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0
    while start < len(head) and head[start] in b" \t\r\n":
        start += 1
    if head.startswith(b"<", start):
        return start, b""
    window = head[: limits.max_leading_junk + 6]
    found = window.find(b"<?xml")
    if found < 0:
        found = window.find(b"<")
    if found < 0:
        shown = head[:40].decode("utf-8", "replace")
        raise MalformedXmlError(f"not an XML document (it starts with {shown!r})", line=1)
    junk = head[:found]
    return found, (junk[len(_UTF8_BOM) :] if junk.startswith(_UTF8_BOM) else junk).strip()


def _run(
    source: Source,
    limits: ParseLimits,
    make_target: Callable[[expat.XMLParserType, int], _Guard],
    observer: Observer | None,
) -> tuple[_Guard, int, bytes]:
    """Feed ``source`` through a hardened expat parser into ``make_target(parser, line_offset)``.

    Returns the target, where the XML starts in the source, and the junk before it.
    """
    chunks = _chunks(source)
    first: list[bytes | memoryview] = []
    probe = limits.max_leading_junk + 64
    for chunk in chunks:
        first.append(chunk)
        if sum(len(piece) for piece in first) >= probe:
            break
    head = b"".join(bytes(piece[:probe]) for piece in first)[:probe]
    start, junk = _strip_preamble(head, limits)
    parser = expat.ParserCreate(namespace_separator=" ")
    target = make_target(parser, head[:start].count(b"\n"))
    parser.namespace_prefixes = True
    parser.buffer_text = True
    parser.buffer_size = _TEXT_BUFFER
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = target.refuse_doctype
    parser.EntityDeclHandler = target.refuse_entity
    parser.UnparsedEntityDeclHandler = target.refuse_entity
    parser.ExternalEntityRefHandler = target.refuse_external_entity
    if observer is None:
        parser.StartNamespaceDeclHandler = target.namespace_start
        parser.StartElementHandler = target.start
        parser.EndElementHandler = target.end
        parser.CharacterDataHandler = target.data
    else:
        _tee(parser, target, observer, offset=start)
    fed = 0
    try:
        for chunk in _skip(first, start, chunks):
            fed += len(chunk)
            if fed > limits.max_document_bytes:
                raise UnsafeXmlError(f"document is larger than {limits.max_document_bytes:,} bytes")
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        reason = expat.errors.messages[exc.code]
        if exc.code == expat.errors.codes[expat.errors.XML_ERROR_UNDEFINED_ENTITY]:
            raise UnsafeXmlError(
                f"{reason} (entities are not allowed)", line=exc.lineno + target.line_offset
            ) from None
        raise MalformedXmlError(
            f"not well-formed XML: {reason} (column {exc.offset + 1})",
            line=exc.lineno + target.line_offset,
        ) from None
    return target, start, junk


def parse_xml(
    source: Source,
    *,
    limits: ParseLimits = DEFAULT_LIMITS,
    observer: Observer | None = None,
    decode_payloads: bool = True,
) -> ParsedXml:
    """Parse untrusted XML from bytes or a binary file object. See the module docstring.

    ``observer`` sees every event too (the signature code digests the document with it);
    ``decode_payloads=False`` leaves attachments undecoded when only the XML matters.
    """
    builder, start, junk = _run(
        source,
        limits,
        lambda parser, lines: _TreeBuilder(parser, limits, lines, decode_payloads=decode_payloads),
        observer,
    )
    assert isinstance(builder, _TreeBuilder)
    if builder.root is None:  # pragma: no cover - expat reports "no element found" first
        raise MalformedXmlError("document has no root element")
    return ParsedXml(
        root=builder.root,
        payloads=builder.payloads,
        leading_junk=junk,
        offset=start,
        far_lines=builder.far_lines,
    )


def scan_xml(
    source: Source, *, observer: Observer | None = None, limits: ParseLimits = DEFAULT_LIMITS
) -> int:
    """The same hardened pass without a tree or payload decoding: for an observer alone, or
    as the guard before a small document is handed to lxml (``safe_lxml_parser``).

    Returns where the XML starts in the source (after junk, BOM and whitespace).
    """
    _, start, _ = _run(
        source, limits, lambda parser, lines: _Guard(parser, limits, lines), observer
    )
    return start


def safe_lxml_parser() -> etree.XMLParser:
    """lxml, for bytes ``scan_xml`` has already passed (no DOCTYPE, no entity, within limits).

    Entities, DTDs and the network stay off anyway: the guard is the first line, not the only
    one. A parser per call: lxml parsers are not to be shared between threads.
    """
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _tee(parser: expat.XMLParserType, builder: _Guard, observer: Observer, *, offset: int) -> None:
    """Every event to the tree builder, then to the observer."""
    observer.attach(lambda: int(parser.CurrentByteIndex) + offset)

    def namespace_start(prefix: str | None, uri: str | None) -> None:
        builder.namespace_start(prefix, uri or "")
        observer.namespace_start(prefix, uri)

    def start(name: str, attributes: dict[str, str]) -> None:
        builder.start(name, attributes)
        observer.start(name, attributes)

    def end(name: str) -> None:
        builder.end(name)
        observer.end(name)

    def data(text: str) -> None:
        builder.data(text)
        observer.data(text)

    parser.StartNamespaceDeclHandler = namespace_start
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.ProcessingInstructionHandler = observer.processing_instruction


def _skip(
    first: list[bytes | memoryview], count: int, rest: Iterator[bytes | memoryview]
) -> Iterator[bytes | memoryview]:
    """The input after its first ``count`` bytes (the junk before the XML)."""
    for piece in first:
        if count >= len(piece):
            count -= len(piece)
            continue
        yield memoryview(piece)[count:] if count else piece
        count = 0
    yield from rest


def parse_fragment(data: bytes) -> etree._Element:
    """Parse a small trusted-shape fragment (e.g. a stored ``Signature``) the same safe way."""
    return parse_xml(io.BytesIO(data)).root


def parse_untrusted_xml(source: Source, *, limits: ParseLimits = DEFAULT_LIMITS) -> etree._Element:
    """Any XML from outside (a SOAP envelope, a manifest) through the same hardened parser.

    No DOCTYPE, no entity, no network, bounded depth and size; leading junk and a BOM are
    skipped as for packages. Raises ``MalformedXmlError`` or ``UnsafeXmlError``.
    """
    return parse_xml(source, limits=limits, decode_payloads=False).root
