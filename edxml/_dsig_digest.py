"""The reference digest, computed while the parser streams: the document canonicalised with
the enveloped signature left out, without holding its canonical form."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._c14n import Canonicalizer
from ._dsig_types import _ENVELOPED, _OURS, C14nMethod, DigestMethod
from ._xml import (
    XMLDSIG_NS,
)

# -- digesting the document while it streams ----------------------------------------------


def _split(name: str) -> tuple[str, str]:
    parts = name.split(" ")
    return (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])


def _profile(
    reference_uris: Sequence[str | None], transforms: Sequence[str], digest_method: str | None
) -> tuple[C14nMethod, DigestMethod] | str:
    """The canonical form and digest a signature's Reference asks for, or why we refuse it."""
    try:
        digest = DigestMethod(digest_method or "")
    except ValueError:
        return f"unsupported DigestMethod {digest_method!r}"
    if list(reference_uris) != [""]:
        return f'the signature must have one Reference URI="" (has {list(reference_uris)!r})'
    if not transforms or transforms[0] != _ENVELOPED or len(transforms) > 2:
        return f"unsupported Transforms {list(transforms)!r} (enveloped-signature, then C14N)"
    try:
        return (C14nMethod(transforms[1]) if len(transforms) == 2 else C14nMethod.C14N), digest
    except ValueError:
        return f"unsupported canonicalization transform {transforms[1]!r}"


@dataclass(slots=True)
class _Digested:
    """The reference digest of a document, however it was computed."""

    digest: bytes | None = None
    digest_method: str | None = None
    unsupported: str | None = None


class _Digester:
    """Parser observer: the canonical document, minus the header's XMLDSig Signature.

    Which canonical form (inclusive or exclusive) and which digest the signature uses is only
    known once it has been read, and only the header precedes it (a few kilobytes). Until
    then the events are recorded; then they are replayed into the one canonicaliser the
    signature names, which hashes the rest of the document as it streams by.
    """

    def __init__(self) -> None:
        self._recorded: list[tuple[str, tuple[Any, ...]]] | None = []
        self._canonical: Canonicalizer | None = None
        self._hasher: hashlib._Hash | None = None
        self._path: list[tuple[str, str]] = []
        self._skipping: int | None = None  # depth of the signature being left out
        self._pending: list[tuple[str | None, str | None]] = []
        self.signatures = 0
        self.reference_uris: list[str | None] = []
        self.transforms: list[str] = []
        self.digest_method: str | None = None
        self.digest: bytes | None = None
        self.unsupported: str | None = None

    def attach(self, byte_offset: Callable[[], int]) -> None:
        pass

    def _emit(self, event: str, *args: Any) -> None:
        if self._canonical is not None:
            getattr(self._canonical, event)(*args)
        elif self._recorded is not None:
            self._recorded.append((event, args))

    def _in_header(self) -> bool:
        return (
            bool(self._path) and self._path[-1][1] == "edXMLHeader" and self._path[-1][0] in _OURS
        )

    def namespace_start(self, prefix: str | None, uri: str | None) -> None:
        self._pending.append((prefix, uri))

    def start(self, name: str, attributes: dict[str, str]) -> None:
        uri, local = _split(name)
        if (
            self._skipping is None
            and uri == XMLDSIG_NS
            and local == "Signature"
            and self._in_header()
        ):
            self.signatures += 1
            self._skipping = len(self._path)
        pending, self._pending = self._pending, []
        if self._skipping is not None:
            if self.signatures == 1:
                self._read_signature(uri, local, attributes)
        else:
            for prefix, namespace in pending:
                self._emit("namespace_start", prefix, namespace)
            self._emit("start", name, attributes)
        self._path.append((uri, local))

    def _read_signature(self, uri: str, local: str, attributes: dict[str, str]) -> None:
        if uri != XMLDSIG_NS:
            return
        if local == "Reference":
            self.reference_uris.append(attributes.get("URI"))
        elif local == "Transform" and len(self.reference_uris) == 1:
            self.transforms.append(attributes.get("Algorithm", ""))
        elif local == "DigestMethod" and len(self.reference_uris) == 1:
            self.digest_method = attributes.get("Algorithm")

    def end(self, name: str) -> None:
        self._path.pop()
        if self._skipping is not None:
            if len(self._path) == self._skipping:
                self._skipping = None
                if self.signatures == 1:
                    self._choose()
            return
        self._emit("end", name)
        uri, local = _split(name)
        if local == "edXMLHeader" and uri in _OURS and self.signatures == 0:
            self._recorded = None  # unsigned: nothing to digest, stop recording

    def data(self, text: str) -> None:
        if self._skipping is None:
            self._emit("data", text)

    def processing_instruction(self, target: str, data: str) -> None:
        if self._skipping is None:
            self._emit("processing_instruction", target, data)

    def _choose(self) -> None:
        """The signature has been read: replay the header into the canonical form it names."""
        recorded, self._recorded = self._recorded, None
        chosen = _profile(self.reference_uris, self.transforms, self.digest_method)
        if isinstance(chosen, str):
            self.unsupported = chosen
            return
        if recorded is None:
            return
        c14n, digest = chosen
        self._hasher = hashlib.new(digest.hashlib_name)
        self._canonical = Canonicalizer(self._hasher.update, exclusive=c14n.exclusive)
        for event, args in recorded:
            getattr(self._canonical, event)(*args)

    def finish(self) -> None:
        if self._canonical is not None and self._hasher is not None:
            self._canonical.flush()
            self.digest = self._hasher.digest()
