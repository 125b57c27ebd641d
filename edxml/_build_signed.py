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
        sizes: dict[bytes, int] = {}  # what each splice wrote in place of its placeholder

        def digested(mark: bytes, spliced: Iterator[bytes]) -> Iterator[bytes]:
            nonlocal done
            cut = canonical.index(mark, done)
            hasher.update(canonical[done:cut])
            done, sizes[mark] = cut + len(mark), 0
            for piece in spliced:
                hasher.update(piece)
                sizes[mark] += len(piece)
                yield piece

        yield from plan.pieces(digested)
        hasher.update(canonical[done:])
        grown = {mark: sizes[mark] - len(mark) for _, mark, _ in plan.splices}
        insert_at = digester.insert_at + sum(
            grown[mark]
            for start, mark, _ in plan.splices
            if len(DECLARATION) + start < digester.insert_at
        )  # moved by what the splices before it wrote
        self.slot = SignatureSlot(
            hasher.digest(),
            insert_at,
            digester.before,
            digester.after,
            len(document) + sum(grown.values()),
        )
