"""What a hub does to a package it relays: append its own ``TraceHeader`` (spec 1.7).

The axis adds ``TraceHeader{OrganId, Timestamp}`` of its own to each package it passes on
(a 2019 file from the test axis carries ``001.00.20.TT2``). This is done on the bytes, not by
re-serialising a parsed tree: the rest of the package (a 50 MB attachment, the sender's
formatting) passes through untouched, and the cost does not grow with the attachment.

Appending changes the document, so an enveloped ``URI=""`` signature over it no longer
matches, exactly as on the real axis (spec pitfall 6). ``remove_trace_header`` is the exact
inverse for a hub that appends as we do (no whitespace around the element): a receiver that
knows the relaying hub's OrganId gets back the bytes the sender signed, and can verify them.
"""

from __future__ import annotations

import datetime as dt
import re
from xml.sax.saxutils import escape

from ._errors import StructureError
from ._values import format_timestamp

__all__ = ["append_trace_header", "remove_trace_header"]

_NAME = rb"(?:([A-Za-z_][\w.-]*):)?"
_HEADER_END = re.compile(rb"</" + _NAME + rb"edXMLHeader\s*>")
_MESSAGE_HEADER_END = re.compile(rb"</" + _NAME + rb"MessageHeader\s*>")
_TRACE_END = re.compile(rb"</" + _NAME + rb"TraceHeader\s*>")
_TRACE_LIST_START = re.compile(rb"<" + _NAME + rb"TraceHeaderList\s*>")
_TRACE_LIST_EMPTY = re.compile(rb"<" + _NAME + rb"TraceHeaderList\s*/>")


def _element(prefix: bytes | None, organ_id: str, timestamp: dt.datetime) -> bytes:
    tag = (prefix + b":" if prefix else b"").decode()
    return (
        f"<{tag}TraceHeader><{tag}OrganId>{escape(organ_id)}</{tag}OrganId>"
        f"<{tag}Timestamp>{format_timestamp(timestamp)}</{tag}Timestamp></{tag}TraceHeader>"
    ).encode()


def append_trace_header(data: bytes, organ_id: str, timestamp: dt.datetime) -> bytes:
    """``data`` with ``TraceHeader{organ_id, timestamp}`` after the last one of the header.

    Works on document and status packages; a package without ``TraceHeaderList`` gets one
    right after ``MessageHeader`` (the schema's order). Raises ``StructureError`` when the
    package has no ``edXMLHeader``/``MessageHeader`` to put it in.
    """
    header_end = _HEADER_END.search(data)
    if header_end is None:
        raise StructureError("the package has no edXMLHeader to append a TraceHeader to")
    head = data[: header_end.start()]
    last_trace = None
    for match in _TRACE_END.finditer(head):
        last_trace = match
    if last_trace is not None:
        at, prefix = last_trace.end(), last_trace.group(1)
        insert = _element(prefix, organ_id, timestamp)
    elif (start := _TRACE_LIST_START.search(head)) is not None:
        at, prefix = start.end(), start.group(1)
        insert = _element(prefix, organ_id, timestamp)
    elif (empty := _TRACE_LIST_EMPTY.search(head)) is not None:
        prefix = empty.group(1)
        tag = prefix + b":" if prefix else b""
        element = _element(prefix, organ_id, timestamp)
        replacement = b"<" + tag + b"TraceHeaderList>" + element + b"</" + tag + b"TraceHeaderList>"
        return data[: empty.start()] + replacement + data[empty.end() :]
    elif (message_end := _MESSAGE_HEADER_END.search(head)) is not None:
        at, prefix = message_end.end(), message_end.group(1)
        tag = prefix + b":" if prefix else b""
        element = _element(prefix, organ_id, timestamp)
        insert = b"<" + tag + b"TraceHeaderList>" + element + b"</" + tag + b"TraceHeaderList>"
    else:
        raise StructureError("the package has no MessageHeader to append a TraceHeader after")
    return data[:at] + insert + data[at:]


_LAST_TRACE = re.compile(
    rb"<(?P<p>(?:[A-Za-z_][\w.-]*:)?)TraceHeader>\s*<(?P=p)OrganId>(?P<id>[^<]*)</(?P=p)OrganId>"
    rb"\s*<(?P=p)Timestamp>[^<]*</(?P=p)Timestamp>\s*</(?P=p)TraceHeader>"
)


def remove_trace_header(data: bytes, organ_id: str) -> bytes | None:
    """``data`` without the last ``TraceHeader`` if ``organ_id`` (a relaying hub) wrote it.

    Returns ``None`` when the last TraceHeader of the header is someone else's, or there is
    none. A ``TraceHeaderList`` that held only that element is removed with it, as
    ``append_trace_header`` had created it.
    """
    header_end = _HEADER_END.search(data)
    if header_end is None:
        return None
    last = None
    for match in _LAST_TRACE.finditer(data, 0, header_end.start()):
        last = match
    if last is None or last.group("id").decode("utf-8", "replace").strip() != organ_id:
        return None
    prefix = last.group("p")
    before, after = data[: last.start()], data[last.end() :]
    opening, closing = b"<" + prefix + b"TraceHeaderList>", b"</" + prefix + b"TraceHeaderList>"
    if before.endswith(opening) and after.startswith(closing):
        return before[: -len(opening)] + after[len(closing) :]
    return before + after
