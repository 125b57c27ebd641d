"""Base64 for the bulk of a package: the attachments, a megabyte and more each.

CPython's ``binascii`` codes base64 a byte at a time while holding the GIL: about 3 ms a
megabyte to decode and 2 ms to encode, the largest single cost of accepting a document
with a PDF. ``pybase64`` does the same in SIMD (AVX2, NEON, or a portable fallback) about
thirty times faster. Its strict decoding refuses what ``binascii``'s ``strict_mode``
refuses (a character outside the alphabet, whitespace included; padding where it may not
be; data after the padding) and one thing more: padding after a complete group (``QUJD=``),
which RFC 4648 does not allow and the streaming decoder of packages already refused.
Errors are ``binascii.Error`` as before.

Small values (digests, signature values, salts) keep the standard library.
"""

from __future__ import annotations

import pybase64

__all__ = ["decode_strict", "encode"]


def encode(data: bytes | memoryview) -> bytes:
    """The base64 of ``data`` on one line (no newline), as ASCII bytes."""
    return pybase64.b64encode(data)


def decode_strict(text: str | bytes) -> bytes:
    """The bytes ``text`` encodes; ``binascii.Error`` unless it is base64 and nothing else."""
    return pybase64.b64decode(text, validate=True)
