"""Building a package and learning, as its bytes are written, what signing it needs.

Signing a package parses it again to digest its canonical form; for a package we are
building, the parse is avoidable. The small part (everything but the attachments) is
canonicalised exactly as the signer would, with the attachments' placeholders in it; the
placeholders and the base64 that replaces them need no escaping in canonical form, so the
digest is that canonical skeleton with the base64 hashed in at each placeholder as it
streams out. The signer then only places the signature (``iter_sign(..., slot=...)``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from ._build_wire import DECLARATION, DEFAULT_BUILD_OPTIONS, BuildOptions, build_plan
from ._dsig_sign import SigningDigester
from ._dsig_types import DigestMethod, SignatureSlot
from ._model import Package
from ._xml import scan_xml

__all__ = ["SignableBuild"]


class SignableBuild:
    """``for piece in SignableBuild(package): ...`` writes what ``iter_build`` writes; once
    every piece is out, ``slot`` is what ``iter_sign`` needs to sign those bytes without
    parsing them. A package that carries a signature already has no slot (``None``):
    signing replaces that signature, which takes the full pass."""

    def __init__(self, package: Package, *, options: BuildOptions = DEFAULT_BUILD_OPTIONS):
        self._package = package
        self._options = options
        self.slot: SignatureSlot | None = None

    def __iter__(self) -> Iterator[bytes]:
        plan = build_plan(self._package, options=self._options)
        if self._package.signature is not None:
            yield from plan.pieces()
            return
        document = DECLARATION + plan.skeleton
        canonical = bytearray()
        digester = SigningDigester(
            document, DigestMethod.SHA256, canonicalize=True, write=canonical.extend
        )
        scan_xml(document, observer=digester)
        assert digester.insert_at is not None  # the builder always writes the header
        hasher = hashlib.sha256()
        done = 0  # of the canonical skeleton, hashed
        grown = 0  # what the splices before the signature's place added to the bytes
        written = len(DECLARATION) + len(plan.skeleton)
        position = 0
        yield DECLARATION
        for start, mark, produce in plan.splices:
            yield plan.skeleton[position:start]
            cut = canonical.index(mark, done)
            hasher.update(canonical[done:cut])
            size = 0
            for piece in produce():
                hasher.update(piece)
                size += len(piece)
                yield piece
            done, position = cut + len(mark), start + len(mark)
            written += size - len(mark)
            if len(DECLARATION) + start < digester.insert_at:
                grown += size - len(mark)
        yield plan.skeleton[position:]
        hasher.update(canonical[done:])
        self.slot = SignatureSlot(
            hasher.digest(),
            digester.insert_at + grown,
            digester.before,
            digester.after,
            written,
        )
