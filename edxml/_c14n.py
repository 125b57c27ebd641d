"""Canonical XML of a whole document, streamed from parser events (W3C C14N 1.0 and
Exclusive C14N 1.0, both without comments).

Why streaming: the enveloped package signature digests the canonical form of the whole
document, a 50 MB attachment included. A tree-based canonicaliser (lxml, and so signxml)
materialises a ~70 MB tree and a ~70 MB canonical string; this one writes each piece to
the digest as the parser delivers it, so memory stays flat.

The events are expat's (``namespace_prefixes`` on): names are ``"uri local prefix"``
triplets. Comments never reach us (a same-document ``URI=""`` reference excludes them).
The tests compare the output with lxml's canonicaliser on the samples and random packages.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

__all__ = ["Canonicalizer", "canonicalize_element"]

_XML_NS = "http://www.w3.org/XML/1998/namespace"
_TEXT_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#xD;"))
_ATTRIBUTE_ESCAPES = (
    ("&", "&amp;"),
    ("<", "&lt;"),
    ('"', "&quot;"),
    ("\t", "&#x9;"),
    ("\n", "&#xA;"),
    ("\r", "&#xD;"),
)
_FLUSH_PARTS = 512  # small pieces gathered before one write
_LARGE_TEXT = 4096
_NOTHING: dict[str, str] = {}


def _escape(text: str, escapes: tuple[tuple[str, str], ...]) -> str:
    for char, replacement in escapes:
        if char in text:
            text = text.replace(char, replacement)
    return text


def _split(name: str) -> tuple[str, str, str]:
    """expat name -> (namespace URI, local name, prefix); '' where absent."""
    parts = name.split(" ")
    if len(parts) == 1:
        return "", parts[0], ""
    if len(parts) == 2:
        return parts[0], parts[1], ""
    return parts[0], parts[1], parts[2]


class Canonicalizer:
    """Receives parser events, writes canonical UTF-8 bytes to ``write``.

    ``exclusive`` selects Exclusive C14N (namespaces rendered where visibly used) over
    inclusive C14N 1.0 (namespace declarations rendered where they change the scope).
    """

    def __init__(self, write: Callable[[bytes], object], *, exclusive: bool) -> None:
        self._write = write
        self._exclusive = exclusive
        self._parts: list[str] = []
        self._pending: dict[str, str] = {}
        # per open element: (qualified name, in-scope declarations, rendered declarations)
        self._stack: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self._root_done = False

    def flush(self) -> None:
        if self._parts:
            self._write("".join(self._parts).encode("utf-8"))
            self._parts.clear()

    def attach(self, byte_offset: Callable[[], int]) -> None:
        """Positions do not matter to canonical form (part of the parser's Observer protocol)."""

    def namespace_start(self, prefix: str | None, uri: str | None) -> None:
        self._pending[prefix or ""] = uri or ""

    def start(self, name: str, attributes: dict[str, str]) -> None:
        # Hot path (every element): few calls, no work when nothing new is declared.
        uri, local, prefix = _split(name)
        if self._stack:
            _, in_scope, rendered = self._stack[-1]
        else:
            in_scope = rendered = _NOTHING
        declared = self._pending
        if declared:
            self._pending = {}
            in_scope = {**in_scope, **declared}
        split_attributes = (
            [(*_split(key), value) for key, value in attributes.items()] if attributes else ()
        )
        render: list[tuple[str, str]] = []
        if self._exclusive:
            if rendered.get(prefix, "" if not prefix else None) != uri:
                render.append((prefix, uri))
            for attribute_uri, _, attribute_prefix, _ in split_attributes:
                if (
                    attribute_prefix
                    and attribute_uri != _XML_NS
                    and rendered.get(attribute_prefix) != attribute_uri
                    and (attribute_prefix, attribute_uri) not in render
                ):
                    render.append((attribute_prefix, attribute_uri))
        elif declared:  # inclusive: only a declaration here can change what is rendered
            render = [
                (key, value)
                for key, value in in_scope.items()
                if key != "xml" and rendered.get(key, "" if not key else None) != value
            ]
        qualified = f"{prefix}:{local}" if prefix else local
        if not render and not split_attributes:
            self._parts.append(f"<{qualified}>")
        else:
            if render:
                rendered = {**rendered, **dict(render)}
            out = ["<", qualified]
            for key, value in sorted(render):
                out.append(f' xmlns:{key}="' if key else ' xmlns="')
                out.append(_escape(value, _ATTRIBUTE_ESCAPES))
                out.append('"')
            # attributes sort by (namespace URI, local name); unqualified ones (URI '') first
            for _, attribute_local, attribute_prefix, value in sorted(
                split_attributes, key=lambda item: (item[0], item[1])
            ):
                attribute = (
                    f"{attribute_prefix}:{attribute_local}" if attribute_prefix else attribute_local
                )
                out.append(f' {attribute}="{_escape(value, _ATTRIBUTE_ESCAPES)}"')
            out.append(">")
            self._parts.append("".join(out))
        self._stack.append((qualified, in_scope, rendered))

    def end(self, _name: str) -> None:
        self._parts.append(f"</{self._stack.pop()[0]}>")
        if not self._stack:
            self._root_done = True
            self.flush()
        elif len(self._parts) > _FLUSH_PARTS:
            self.flush()

    def data(self, text: str) -> None:
        if self._stack:  # whitespace outside the document element is not part of it
            self._parts.append(_escape(text, _TEXT_ESCAPES))
            if len(text) > _LARGE_TEXT:  # a payload piece: do not hold it
                self.flush()

    def processing_instruction(self, target: str, data: str) -> None:
        body = f"<?{target} {data}?>" if data else f"<?{target}?>"
        if not self._stack:
            body = f"\n{body}" if self._root_done else f"{body}\n"
        self._parts.append(body)
        if self._root_done:
            self.flush()  # nothing else will: the document has ended


def canonicalize_element(element: etree._Element, *, exclusive: bool) -> bytes:
    """Canonical form of one element as a document subset (XMLDSig's ``SignedInfo``).

    Not lxml's ``tostring(element, method="c14n")``: for a sub-element it copies the subtree
    into a new document and, when the default namespace is redeclared (a dsig ``Signature``
    inside an edXML package), renders a spurious ``xmlns=""`` that xmlsec1 and the standard
    do not. Here the apex gets the namespaces in scope (inclusive) or those it visibly uses
    (exclusive), and the xml:* attributes inherited from its ancestors (inclusive, C14N 1.0
    section 2.4).
    """
    pieces: list[bytes] = []
    canonical = Canonicalizer(pieces.append, exclusive=exclusive)
    inherited: dict[str, str] = {}
    if not exclusive:
        for ancestor in element.iterancestors():
            for key, value in ancestor.attrib.items():
                if key.startswith(f"{{{_XML_NS}}}"):
                    inherited.setdefault(key, value)
    _walk(canonical, element, {}, inherited, exclusive=exclusive)
    canonical.flush()
    return b"".join(pieces)


def _expat_name(qualified: str, nsmap: dict[str | None, str], *, attribute: bool) -> str:
    """lxml ``{uri}local`` -> expat's ``uri local prefix``."""
    if not qualified.startswith("{"):
        return qualified
    uri, local = qualified[1:].split("}", 1)
    if uri == _XML_NS:
        return f"{uri} {local} xml"
    prefixes = [
        prefix for prefix, value in nsmap.items() if value == uri and (prefix or not attribute)
    ]
    prefix = (
        next((p for p in prefixes if p), None) if attribute else (prefixes[0] if prefixes else None)
    )
    return f"{uri} {local} {prefix}" if prefix else f"{uri} {local}"


def _walk(
    canonical: Canonicalizer,
    element: etree._Element,
    parent_scope: dict[str | None, str],
    extra_attributes: dict[str, str],
    *,
    exclusive: bool,
) -> None:
    tag = element.tag
    if tag[0] == "{":
        uri, local = tag[1:].split("}", 1)
        prefix = element.prefix
        name = f"{uri} {local} {prefix}" if prefix else f"{uri} {local}"
    else:
        name = tag
    attributes = {**extra_attributes, **element.attrib} if extra_attributes else element.attrib
    if exclusive:
        # Exclusive C14N renders what is visibly used, so the declarations in scope (lxml's
        # costly nsmap) matter only for naming namespaced attributes.
        scope = parent_scope
        if any(key[0] == "{" for key in attributes):
            scope = dict(element.nsmap)
    else:
        scope = dict(element.nsmap)
        for key, value in scope.items():
            if parent_scope.get(key) != value:
                canonical.namespace_start(key, value)
        if None not in scope and parent_scope.get(None):
            canonical.namespace_start(None, "")
    canonical.start(
        name, {_expat_name(key, scope, attribute=True): value for key, value in attributes.items()}
    )
    if element.text:
        canonical.data(element.text)
    for child in element:
        if isinstance(child.tag, str):
            _walk(canonical, child, scope, {}, exclusive=exclusive)
        elif isinstance(child, etree._ProcessingInstruction):
            canonical.processing_instruction(child.target, child.text or "")
        if child.tail:
            canonical.data(child.tail)
    canonical.end(name)
