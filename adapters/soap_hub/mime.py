"""SOAP with Attachments (SwA) messages: ``multipart/related`` around a SOAP envelope.

zeep reads MTOM/XOP but cannot send attachments, so we frame the message ourselves:
``swa_message`` yields the parts as chunks (a 50 MB file is never copied into one more
buffer), with part headers written by the standard library's ``email`` package; ``read_swa``
parses an incoming message with ``email``'s parser. The root part is the SOAP envelope
(``Content-ID: <soap-envelope>``, named by the ``start`` parameter); each file is a binary
part whose ``Content-ID`` is the manifest's ``cid:``.
"""

from __future__ import annotations

import email.policy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser

__all__ = ["MimePart", "SwaMessage", "read_swa", "swa_message"]

ROOT_ID = "soap-envelope"
_HTTP = email.policy.HTTP


@dataclass(frozen=True, slots=True)
class MimePart:
    content_id: str  # without <>
    data: bytes = field(repr=False)
    content_type: str = "application/octet-stream"
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class SwaMessage:
    envelope: bytes = field(repr=False)
    parts: dict[str, MimePart] = field(default_factory=dict)


def _part_head(boundary: str, content_type: str, content_id: str, filename: str | None) -> bytes:
    headers = EmailMessage(policy=_HTTP)
    headers["Content-Type"] = content_type
    headers["Content-Transfer-Encoding"] = "binary" if filename is not None else "8bit"
    headers["Content-ID"] = f"<{content_id}>"
    if filename is not None:
        headers.add_header("Content-Disposition", "attachment", filename=filename)
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"--{boundary}\r\n{lines}\r\n".encode()


def swa_message(envelope: bytes, parts: Sequence[MimePart]) -> tuple[str, list[bytes]]:
    """``(Content-Type, chunks)`` of the SwA message; without parts, plain ``text/xml``.

    The chunks refer to the envelope's and the files' own bytes (nothing is copied), so the
    caller can send them one by one and still know the ``Content-Length`` beforehand: old
    hubs may not take a chunked request.
    """
    if not parts:
        return "text/xml; charset=utf-8", [envelope]
    boundary = f"=_edxml_{uuid.uuid4().hex}"
    content_type = f'multipart/related; type="text/xml"; start="<{ROOT_ID}>"; boundary="{boundary}"'

    chunks = [_part_head(boundary, "text/xml; charset=utf-8", ROOT_ID, None), envelope]
    for part in parts:
        chunks.append(
            b"\r\n" + _part_head(boundary, part.content_type, part.content_id, part.filename)
        )
        chunks.append(part.data)
    chunks.append(f"\r\n--{boundary}--\r\n".encode())
    return content_type, chunks


class SwaError(ValueError):
    """The body is not a readable SOAP message."""


def read_swa(content_type: str, body: bytes) -> SwaMessage:
    """The envelope and the parts of a SOAP message, with or without attachments."""
    if not content_type.lower().startswith("multipart/"):
        return SwaMessage(body)
    message = BytesParser(policy=email.policy.default).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise SwaError("multipart Content-Type without parts (no boundary?)")
    start = (message.get_param("start") or "") if hasattr(message, "get_param") else ""
    start_id = str(start).strip("<>")
    envelope: bytes | None = None
    parts: dict[str, MimePart] = {}
    for index, part in enumerate(message.iter_parts()):
        content_id = str(part.get("Content-ID", "")).strip().strip("<>")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        is_root = content_id == start_id if start_id else index == 0
        if is_root:
            envelope = data
        elif content_id:
            parts[content_id] = MimePart(
                content_id, data, part.get_content_type(), part.get_filename()
            )
    if envelope is None:
        raise SwaError("the multipart message has no root part (the SOAP envelope)")
    return SwaMessage(envelope, parts)
