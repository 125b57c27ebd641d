"""Everything the edxml library raises, as one tree.

::

    EdxmlError                      root: catch this to catch anything edxml raises
    ├── DocumentError               the package itself is bad; report it to the sender
    │   ├── MalformedXmlError       not well-formed XML (or not XML at all)
    │   ├── UnsafeXmlError          DTD, entity, depth or size limit: refused for safety
    │   ├── StructureError          wrong root or namespace, a missing or misplaced element
    │   ├── FieldValueError         an element's text cannot be read (date, number, flag)
    │   ├── AttachmentError         payload is not base64 of one ZIP entry, or is unmatched
    │   │   └── AttachmentTooLargeError   a file is larger than the limit (Điều 8.4)
    │   └── TimestampError          a signature timestamp token proves nothing (wrong data,
    │                               bad signature, untrusted authority)
    ├── PackageBuildError           (also ValueError) the model handed to build() cannot be
    │                               written: a programming error on the caller's side
    └── RecordError                 (also ValueError) a JSON record does not describe a
                                    package; ``path`` says which field

Document faults carry where they happened (``element``, ``line``, ``path``) as attributes,
so a caller can turn them into a status-02 reason or an HTTP problem body without parsing
the message. Misuse is kept apart from document faults: it derives from ``ValueError`` and
never reaches a sender.
"""

from __future__ import annotations

__all__ = [
    "AttachmentError",
    "AttachmentTooLargeError",
    "DocumentError",
    "EdxmlError",
    "FieldValueError",
    "MalformedXmlError",
    "PackageBuildError",
    "RecordError",
    "StructureError",
    "TimestampError",
    "UnsafeXmlError",
]


class EdxmlError(Exception):
    """Root of every exception raised by the edxml library."""


class DocumentError(EdxmlError):
    """The package is bad: what it says cannot be read or must not be trusted.

    ``element`` is the local name of the offending element, ``line`` its line in the
    source (1-based; ``None`` when unknown) and ``path`` a short slash path such as
    ``MessageHeader/To[2]/OrganId``.
    """

    def __init__(
        self,
        reason: str,
        *,
        element: str | None = None,
        line: int | None = None,
        path: str | None = None,
    ) -> None:
        self.reason = reason
        self.element = element
        self.line = line
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.path:
            where.append(self.path)
        elif self.element:
            where.append(self.element)
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class MalformedXmlError(DocumentError):
    """The bytes are not well-formed XML."""


class UnsafeXmlError(DocumentError):
    """The document uses a feature refused for safety (DTD, entities) or exceeds a limit."""


class StructureError(DocumentError):
    """The XML is well-formed but is not an edXML package of a kind we can read."""


class FieldValueError(DocumentError):
    """An element is present but its text cannot be read as the expected type."""


class AttachmentError(DocumentError):
    """An attachment cannot be decoded, is too large, or does not match the manifest."""


class AttachmentTooLargeError(AttachmentError):
    """An attached file is larger than the limit (Điều 8.4: 50 MB)."""


class PackageBuildError(EdxmlError, ValueError):
    """The model passed to ``build`` cannot be serialised (a caller's programming error)."""


class RecordError(EdxmlError, ValueError):
    """A record (the JSON form of a package) is not valid; ``path`` names the field."""

    def __init__(self, reason: str, *, path: str = "") -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)


class TimestampError(DocumentError):
    """A signature timestamp token that does not prove what it claims."""


class KeyMaterialError(EdxmlError):
    """A key, certificate, CRL or trust folder is missing, unreadable or of the wrong kind."""


class PdfSignatureError(EdxmlError):
    """A PDF cannot be read, verified or signed."""
