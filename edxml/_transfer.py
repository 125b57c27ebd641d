"""The wire form of an attachment (spec 1.6): base64 of a ZIP that holds one entry.

Both directions stream, so a 50 MB file is held once (plus a chunk), never as a whole
ZIP and a whole base64 string besides:

* ``encode_attachment(data, ext)`` yields base64 text chunks of ``ZIP{<uuid>.<ext>}``;
* ``PayloadDecoder`` takes base64 text in pieces as the XML parser delivers it, sniffs
  ``PK\\x03\\x04`` (senders also put the raw file, spec 6.5), inflates the single entry as it
  arrives, checks its CRC and stops as soon as the output would pass the size limit (so a
  ZIP bomb costs at most the limit).
"""

from __future__ import annotations

import binascii
import io
import struct
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from ._base64 import decode_strict, encode
from ._errors import AttachmentError, AttachmentTooLargeError

__all__ = ["CHUNK_SIZE", "MAX_ATTACHMENT_BYTES", "Payload", "PayloadDecoder", "encode_attachment"]

#: Điều 8.4: each attached file is at most 50 MB (read as MiB, the permissive reading).
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024

#: Bytes of file data per step; a multiple of 3 so base64 chunks join without padding.
CHUNK_SIZE = 3 * 256 * 1024

_ZIP_LOCAL_MAGIC = b"PK\x03\x04"
_ZIP_CENTRAL_MAGIC = b"PK\x01\x02"
_ZIP_END_MAGIC = b"PK\x05\x06"
_ZIP_DESCRIPTOR_MAGIC = b"PK\x07\x08"
_NEXT_RECORD = (_ZIP_LOCAL_MAGIC, _ZIP_CENTRAL_MAGIC, _ZIP_END_MAGIC)
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_FLAG_ENCRYPTED = 0x1
_FLAG_DESCRIPTOR = 0x8
_FLAG_UTF8 = 0x800
_STORED, _DEFLATED = 0, 8
_INFLATE_STEP = 1 << 20
_CENTRAL_HEADER = struct.Struct("<4s24xHHH12x")  # signature ... name, extra, comment lengths
_ZIP64_END_MAGIC = b"PK\x06\x06"
_MAX_TRAILER = 1 << 20  # data descriptor + central directory of one entry: far below this
_WHITESPACE = b" \t\r\n"


# -- encoding ---------------------------------------------------------------------------


class _ChunkSink(io.RawIOBase):
    """A write-only, unseekable file whose bytes the encoder drains after each step."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class _Base64Encoder:
    """Base64 over a byte stream delivered in arbitrary pieces (no line breaks)."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> bytes:
        data = self._rest + data
        cut = len(data) - len(data) % 3
        self._rest = data[cut:]
        return encode(memoryview(data)[:cut]) if cut else b""

    def close(self) -> bytes:
        rest, self._rest = self._rest, b""
        return encode(rest) if rest else b""


def encode_attachment(data: bytes, extension: str, *, compresslevel: int = 6) -> Iterator[bytes]:
    """Yield the base64 (ASCII bytes) of a ZIP holding ``data`` as ``<uuid><extension>``.

    The entry is DEFLATEd with a data descriptor, as the VNPT ``CompressUtils`` writes it;
    ``zipfile`` does the ZIP format, we only stream its output through base64.
    """
    name = f"{uuid.uuid4()}{extension}"
    sink = _ChunkSink()
    encoder = _Base64Encoder()
    view = memoryview(data)
    archive = zipfile.ZipFile(
        sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
    )
    # open() by name: the entry takes the archive's method and level, and today's date.
    with archive, archive.open(name, "w") as entry:
        for start in range(0, len(view), CHUNK_SIZE):
            entry.write(view[start : start + CHUNK_SIZE])
            if chunk := encoder.feed(sink.drain()):
                yield chunk
    tail = encoder.feed(sink.drain()) + encoder.close()
    if tail:
        yield tail


# -- decoding ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded attachment: the file bytes and how they travelled."""

    data: bytes
    zipped: bool
    entry_name: str | None = None


class _BoundedBuffer:
    """Collects output and refuses to grow past ``limit`` (Điều 8.4, and ZIP bombs)."""

    def __init__(self, limit: int) -> None:
        self._buffer = io.BytesIO()
        self.limit = limit
        self.size = 0

    @property
    def room(self) -> int:
        return self.limit - self.size

    def write(self, data: bytes) -> None:
        if len(data) > self.room:
            raise AttachmentTooLargeError(
                f"attachment is larger than {self.limit:,} bytes "
                "(Điều 8.4: each file at most 50 MB)"
            )
        self._buffer.write(data)
        self.size += len(data)

    def value(self) -> bytes:
        return self._buffer.getvalue()  # shares the buffer, no copy


class _ZipEntryReader:
    """Inflates the first entry of a ZIP as its bytes arrive; checks CRC and entry count.

    Unusual archives (stored entries of unknown size, other compression methods) fall back
    to ``zipfile`` on the buffered archive, which then sits in memory once more.
    """

    def __init__(self, out: _BoundedBuffer) -> None:
        self._out = out
        self._pending = b""
        self._state = "header"
        self._flags = 0
        self._header_crc = 0
        self._remaining = 0  # stored entries: bytes still to copy
        self._crc = 0
        self._inflater: zlib._Decompress | None = None
        self._fallback: io.BytesIO | None = None
        self.entry_name: str | None = None

    def feed(self, data: bytes) -> None:
        if self._fallback is not None:
            self._buffer_fallback(data)
            return
        if self._state == "header":
            self._pending += data
            if not self._read_header():
                return
            data, self._pending = self._pending, b""
        if self._state == "deflated":
            self._inflate(data)
        elif self._state == "stored":
            self._copy(data)
        elif self._state == "trailer":
            self._pending += data
            if len(self._pending) > _MAX_TRAILER:
                raise AttachmentError("ZIP holds more than the one file edXML allows (spec 1.6)")

    def _read_header(self) -> bool:
        if len(self._pending) < _LOCAL_HEADER.size:
            return False
        (_, _, flags, method, _, _, crc, csize, _, name_len, extra_len) = _LOCAL_HEADER.unpack_from(
            self._pending
        )
        start = _LOCAL_HEADER.size + name_len + extra_len
        if len(self._pending) < start:
            return False
        if flags & _FLAG_ENCRYPTED:
            raise AttachmentError("ZIP entry is encrypted")
        raw_name = self._pending[_LOCAL_HEADER.size : _LOCAL_HEADER.size + name_len]
        self.entry_name = raw_name.decode("utf-8" if flags & _FLAG_UTF8 else "cp437", "replace")
        self._flags, self._header_crc = flags, crc
        if method == _DEFLATED:
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            self._state = "deflated"
        elif method == _STORED and not flags & _FLAG_DESCRIPTOR and csize != 0xFFFFFFFF:
            self._remaining = csize
            self._state = "stored"
        else:
            whole, self._pending = self._pending, b""
            self._fallback = io.BytesIO()
            self._buffer_fallback(whole)
            return False
        self._pending = self._pending[start:]
        return True

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self._crc = zlib.crc32(data, self._crc)

    def _inflate(self, data: bytes) -> None:
        assert self._inflater is not None
        inflater = self._inflater
        try:
            # Bounded steps: a ZIP bomb is refused at the limit, never held past it.
            while True:
                out = inflater.decompress(data, _INFLATE_STEP)
                self._emit(out)
                data = inflater.unconsumed_tail
                if inflater.eof or (not data and len(out) < _INFLATE_STEP):
                    break
        except zlib.error as exc:
            raise AttachmentError(f"ZIP entry cannot be inflated ({exc})") from None
        if inflater.eof:
            self._state = "trailer"
            self._pending = inflater.unused_data

    def _copy(self, data: bytes) -> None:
        take = data[: self._remaining]
        self._emit(take)
        self._remaining -= len(take)
        if self._remaining == 0:
            self._state = "trailer"
            self._pending = data[len(take) :]

    def _buffer_fallback(self, data: bytes) -> None:
        assert self._fallback is not None
        if self._fallback.tell() + len(data) > self._out.limit + _MAX_TRAILER:
            raise AttachmentTooLargeError(
                f"attachment is larger than {self._out.limit:,} bytes "
                "(Điều 8.4: each file at most 50 MB)"
            )
        self._fallback.write(data)

    def close(self) -> None:
        if self._fallback is not None:
            self._close_fallback()
            return
        if self._state != "trailer":
            raise AttachmentError("ZIP archive is truncated")
        trailer = self._pending
        expected = self._header_crc
        if self._flags & _FLAG_DESCRIPTOR:
            offset = 4 if trailer.startswith(_ZIP_DESCRIPTOR_MAGIC) else 0
            if len(trailer) < offset + 4:
                raise AttachmentError("ZIP data descriptor is missing")
            (expected,) = struct.unpack_from("<I", trailer, offset)
            sizes = trailer[offset + 4 :]
            # Sizes are 4 bytes each, or 8 in a ZIP64 descriptor: see which is followed by
            # the next record.
            for width in (8, 16):
                if len(sizes) == width or sizes[width:].startswith(_NEXT_RECORD):
                    trailer = sizes[width:]
                    break
        if expected != self._crc:
            raise AttachmentError("ZIP entry fails its CRC check: the attachment is corrupted")
        _check_central_directory(trailer)

    def _close_fallback(self) -> None:
        assert self._fallback is not None
        try:
            with zipfile.ZipFile(self._fallback) as archive:
                entries = [info for info in archive.infolist() if not info.is_dir()]
                if len(entries) != 1:
                    raise AttachmentError(
                        f"ZIP holds {len(entries)} files; edXML attachments hold one (spec 1.6)"
                    )
                self.entry_name = entries[0].filename
                with archive.open(entries[0]) as entry:
                    while chunk := entry.read(CHUNK_SIZE):
                        self._out.write(chunk)
        except (zipfile.BadZipFile, NotImplementedError, EOFError, zlib.error) as exc:
            raise AttachmentError(f"attachment is not a readable ZIP ({exc})") from None
        finally:
            self._fallback = None


def _check_central_directory(trailer: bytes) -> None:
    """After the entry: a central directory listing exactly one file, then its end record."""
    position = entries = 0
    while trailer.startswith(_ZIP_CENTRAL_MAGIC, position):
        if len(trailer) < position + _CENTRAL_HEADER.size:
            raise AttachmentError("ZIP archive is truncated (in its central directory)")
        _, name, extra, comment = _CENTRAL_HEADER.unpack_from(trailer, position)
        position += _CENTRAL_HEADER.size + name + extra + comment
        entries += 1
    if trailer.startswith(_ZIP_LOCAL_MAGIC) or entries > 1:
        raise AttachmentError("ZIP holds more than the one file edXML allows (spec 1.6)")
    if trailer.startswith(_ZIP64_END_MAGIC, position):
        (size,) = struct.unpack_from("<Q", trailer, position + 4)
        position += 12 + size + 20  # ZIP64 end record, then its locator
    if entries != 1 or not trailer.startswith(_ZIP_END_MAGIC, position):
        raise AttachmentError("ZIP archive is truncated (no central directory end record)")


def _has_whitespace(data: bytes) -> bool:
    return any(char in data for char in (b"\n", b"\r", b" ", b"\t"))


class PayloadDecoder:
    """Decodes ``ContentTransferEncoded`` text fed in pieces into the attachment's bytes."""

    def __init__(self, *, max_bytes: int = MAX_ATTACHMENT_BYTES) -> None:
        self._out = _BoundedBuffer(max_bytes)
        self._rest = b""
        self._head = b""  # first bytes, until we know whether it is a ZIP
        self._zip: _ZipEntryReader | None = None
        self._sniffed = False

    def feed(self, text: str) -> None:
        try:
            data = text.encode("ascii")
        except UnicodeEncodeError:
            raise AttachmentError("attachment is not base64 (non-ASCII character)") from None
        if _has_whitespace(data):  # MIME-wrapped base64; we and VNPT write one line
            data = data.translate(None, _WHITESPACE)
        data = self._rest + data if self._rest else data
        cut = len(data) - len(data) % 4
        self._rest = data[cut:]
        if cut:
            self._decoded(self._decode(data[:cut]))

    def _decode(self, data: bytes) -> bytes:
        try:
            return decode_strict(data)
        except binascii.Error as exc:
            raise AttachmentError(f"attachment is not valid base64 ({exc})") from None

    def _decoded(self, data: bytes) -> None:
        if not self._sniffed:
            self._head += data
            if len(self._head) < len(_ZIP_LOCAL_MAGIC):
                return
            data, self._head, self._sniffed = self._head, b"", True
            if data.startswith(_ZIP_LOCAL_MAGIC):
                self._zip = _ZipEntryReader(self._out)
        if self._zip is not None:
            self._zip.feed(data)
        else:
            self._out.write(data)

    def close(self) -> Payload:
        if self._rest:
            raise AttachmentError("attachment base64 is truncated (length not a multiple of 4)")
        if not self._sniffed and self._head:
            self._out.write(self._head)  # shorter than a ZIP header: a raw, tiny file
        if self._zip is not None:
            self._zip.close()
            entry = self._zip.entry_name
        else:
            entry = None
        return Payload(
            data=self._out.value(),
            zipped=self._zip is not None,
            entry_name=entry,
        )
