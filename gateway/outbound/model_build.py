"""Building the packages we make from our own models, checked on the way.

A package built here is not parsed back to be checked or signed: its model is checked (the
builder writes what the schema wants; the tests prove it on every kind), and the build
learns where the signature goes. ``accept_package`` takes the outcome as ``built_from``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Protocol

import edxml

__all__ = ["CheckedModel", "Writable", "build_checked"]


class Writable(Protocol):
    """Where a package is written as it is built (a file, a buffer)."""

    def write(self, piece: bytes, /) -> object: ...


@dataclass(frozen=True, slots=True)
class CheckedModel:
    """A model its caller built the package from (``build_checked``): its header (the files'
    bytes let go: nothing after the checks reads them, and a large attachment then is not
    held a second time while the package is signed), the rules' findings, and where the
    package's signature goes (``slot``; None for a package signed already)."""

    package: edxml.Package
    problems: tuple[edxml.Problem, ...]
    slot: edxml.SignatureSlot | None = None


async def build_checked(package: edxml.Package, out: Writable) -> CheckedModel:
    """The rules checked on our own model instead of on its bytes parsed back (the builder
    writes what the schema wants; the tests prove it on every kind), and its package
    written to ``out``, learning where its signature goes (not parsed to be signed either):
    at once for a small package (less work than a trip to a thread and back), in a thread
    for a large one. Raises ``edxml.EdxmlError`` when the model cannot be built."""
    if _file_bytes(package) <= _BUILT_ON_THE_LOOP:
        return _check_and_build(package, out)
    return await asyncio.to_thread(_check_and_build, package, out)


#: A package whose files hold up to this many bytes is checked and built on the event loop
#: (a few milliseconds); a larger one in a thread.
_BUILT_ON_THE_LOOP = 2 * 1024 * 1024


def _file_bytes(package: edxml.Package) -> int:
    if not isinstance(package, edxml.DocumentPackage):
        return 0
    return sum(len(a.data) for a in package.attachments if a.data is not None)


def _check_and_build(package: edxml.Package, out: Writable) -> CheckedModel:
    problems = edxml.validate(package)
    build = edxml.SignableBuild(package)
    for piece in build:
        out.write(piece)
    if isinstance(package, edxml.DocumentPackage):
        bare = tuple(dataclasses.replace(a, data=None) for a in package.attachments)
        package = dataclasses.replace(package, attachments=bare)
    return CheckedModel(package, tuple(problems), build.slot)
