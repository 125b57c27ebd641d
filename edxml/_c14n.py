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

__all__ = ["Canonicalizer"]

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
_FLUSH_AT = 64 * 1024


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
        self._size = 0
        self._pending: dict[str, str] = {}
        # per open element: (qualified name, in-scope declarations, rendered declarations)
        self._stack: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self._root_done = False

    def _emit(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._write("".join(self._parts).encode("utf-8"))
            self._parts.clear()
            self._size = 0

    def attach(self, byte_offset: Callable[[], int]) -> None:
        """Positions do not matter to canonical form (part of the parser's Observer protocol)."""

    def namespace_start(self, prefix: str | None, uri: str | None) -> None:
        self._pending[prefix or ""] = uri or ""

    def start(self, name: str, attributes: dict[str, str]) -> None:
        uri, local, prefix = _split(name)
        in_scope, rendered = self._stack[-1][1:] if self._stack else ({}, {})
        declared, self._pending = self._pending, {}
        if declared:
            in_scope = {**in_scope, **declared}
        split_attributes = [(*_split(key), value) for key, value in attributes.items()]
        if self._exclusive:
            wanted = {prefix: uri}
            for attribute_uri, _, attribute_prefix, _ in split_attributes:
                if attribute_prefix and attribute_uri != _XML_NS:
                    wanted[attribute_prefix] = attribute_uri
        else:
            wanted = in_scope
        render = [
            (key, value)
            for key, value in wanted.items()
            if rendered.get(key, "" if key == "" else None) != value and key != "xml"
        ]
        if render:
            rendered = {**rendered, **dict(render)}
        qualified = f"{prefix}:{local}" if prefix else local
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
        self._emit("".join(out))
        self._stack.append((qualified, in_scope, rendered))

    def end(self, _name: str) -> None:
        qualified = self._stack.pop()[0]
        self._emit(f"</{qualified}>")
        if not self._stack:
            self._root_done = True
            self.flush()

    def data(self, text: str) -> None:
        if self._stack:  # whitespace outside the document element is not part of it
            self._emit(_escape(text, _TEXT_ESCAPES))

    def processing_instruction(self, target: str, data: str) -> None:
        body = f"<?{target} {data}?>" if data else f"<?{target}?>"
        if not self._stack:
            body = f"\n{body}" if self._root_done else f"{body}\n"
        self._emit(body)
        if self._root_done:
            self.flush()  # nothing else will: the document has ended
