"""Building the tree while expat streams: the guard that refuses what is unsafe or too big,
and the builder that keeps attachment payloads out of the tree."""

from __future__ import annotations

from xml.parsers import expat

from lxml import etree

from ._errors import AttachmentError, UnsafeXmlError
from ._transfer import Payload, PayloadDecoder
from ._xml_types import _PAYLOAD_ELEMENT, _PAYLOAD_SUFFIX, MAX_SOURCELINE, ParseLimits


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
