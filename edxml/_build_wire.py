"""model -> wire bytes: the tree serialised once, the attachments streamed into it.

The small part (everything but the attachments) is built with lxml (``package_tree``) and
serialised once; the base64 payloads are streamed into it at placeholders, so
``iter_build`` never holds more than the file itself plus one chunk, and ``build`` adds
only the output.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lxml import etree

from ._build import package_tree, signature_element
from ._model import Attachment, DocumentPackage, Package
from ._transfer import encode_attachment

__all__ = [
    "DEFAULT_BUILD_OPTIONS",
    "BuildOptions",
    "BuildPlan",
    "build",
    "build_plan",
    "iter_build",
]

DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


#: Formats whose bytes are compressed already: DEFLATE at level 6 spends ~40 ms per MB on
#: them for nothing. They are written at level 0 (DEFLATE's stored blocks): still the
#: DEFLATE method with a data descriptor that every reader of the spec-1.6 ZIP accepts
#: (java.util.zip refuses the STORED method with a data descriptor), at the cost of a copy.
ALREADY_COMPRESSED = frozenset(
    {
        ".pdf", ".zip", ".rar", ".7z", ".gz", ".bz2", ".xz",
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff",
        ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp",
        ".mp3", ".mp4", ".m4a", ".avi", ".mov",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOptions:
    """How to write a package. ``compresslevel`` is the DEFLATE level of the spec-1.6 ZIP
    for files that compress; ``stored_level`` that of ``ALREADY_COMPRESSED`` formats."""

    compresslevel: int = 6
    stored_level: int = 0
    pretty_print: bool = True


DEFAULT_BUILD_OPTIONS = BuildOptions()


def _extension(name: str) -> str:
    _, dot, extension = name.rpartition(".")
    cleaned = "".join(char for char in extension if char.isascii() and char.isalnum()).lower()
    return f".{cleaned}" if dot and cleaned else ".bin"


#: A place in the skeleton where bytes not in it are streamed in: where, the placeholder
#: there, and what produces the bytes.
Splice = tuple[int, bytes, Callable[[], Iterator[bytes]]]


@dataclass(frozen=True, slots=True)
class BuildPlan:
    """A package's wire bytes before they are written: the small part serialised once
    (``skeleton``, the declaration not included) and the splices in order of position."""

    skeleton: bytes
    splices: tuple[Splice, ...]

    def pieces(
        self, through: Callable[[bytes, Iterator[bytes]], Iterator[bytes]] | None = None
    ) -> Iterator[bytes]:
        """The wire bytes in order; ``through(mark, spliced)`` sees each splice's bytes on
        their way out (the signable build digests them)."""
        yield DECLARATION
        position = 0
        for start, mark, produce in self.splices:
            yield self.skeleton[position:start]
            yield from through(mark, produce()) if through is not None else produce()
            position = start + len(mark)
        yield self.skeleton[position:]


def build_plan(package: Package, *, options: BuildOptions = DEFAULT_BUILD_OPTIONS) -> BuildPlan:
    """What ``iter_build`` writes, as a skeleton with placeholders and their splices."""
    token = secrets.token_hex(8)
    signature_marker = f"edxml-signature-{token}"
    root = package_tree(
        package,
        payload_text=lambda index: f"@edxml-payload-{token}-{index}@",
        signature_marker=signature_marker,
    )
    skeleton = etree.tostring(root, encoding="UTF-8", pretty_print=options.pretty_print)
    splices: list[Splice] = []
    if package.signature is not None:
        mark = f"<!--{signature_marker}-->".encode()
        signature_element(package.signature)  # refuses stored bytes that are not well-formed
        signature_bytes = package.signature.xml
        splices.append((skeleton.index(mark), mark, lambda: iter((signature_bytes,))))
    if isinstance(package, DocumentPackage):
        for index, attachment in enumerate(package.attachments):
            if attachment.data is None:
                continue
            mark = f"@edxml-payload-{token}-{index}@".encode()
            splices.append((skeleton.index(mark), mark, _payload(attachment, options)))
    return BuildPlan(skeleton, tuple(sorted(splices, key=lambda splice: splice[0])))


def iter_build(
    package: Package, *, options: BuildOptions = DEFAULT_BUILD_OPTIONS
) -> Iterator[bytes]:
    """Yield the package's wire bytes in chunks (write them to a file or an HTTP body)."""
    yield from build_plan(package, options=options).pieces()


def _payload(attachment: Attachment, options: BuildOptions) -> Callable[[], Iterator[bytes]]:
    def produce() -> Iterator[bytes]:
        assert attachment.data is not None
        extension = _extension(attachment.name)
        level = options.stored_level if extension in ALREADY_COMPRESSED else options.compresslevel
        return encode_attachment(attachment.data, extension, compresslevel=level)

    return produce


def build(package: Package, *, options: BuildOptions = DEFAULT_BUILD_OPTIONS) -> bytes:
    """The package's wire bytes (UTF-8, the layout of the official samples)."""
    out = io.BytesIO()
    for chunk in iter_build(package, options=options):
        out.write(chunk)
    return out.getvalue()
