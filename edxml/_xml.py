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
from xml.parsers import expat

from lxml import etree

from ._errors import MalformedXmlError, UnsafeXmlError
from ._xml_tree import _Guard, _TreeBuilder
from ._xml_types import (
    _BOMS_WE_LEAVE_TO_EXPAT,
    _FEED_SIZE,
    _TEXT_BUFFER,
    _UTF8_BOM,
    DEFAULT_LIMITS,
    EDXML_NS,
    LEGACY_NS,
    MAX_SOURCELINE,
    XMLDSIG_NS,
    Observer,
    ParsedXml,
    ParseLimits,
    Source,
)

__all__ = [
    "DEFAULT_LIMITS",
    "EDXML_NS",
    "LEGACY_NS",
    "MAX_SOURCELINE",
    "XMLDSIG_NS",
    "Observer",
    "ParseLimits",
    "ParsedXml",
    "Source",
    "parse_fragment",
    "parse_untrusted_xml",
    "parse_xml",
    "safe_lxml_parser",
    "scan_xml",
]


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
