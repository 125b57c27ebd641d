"""Content-addressed blob store on disk: package and attachment bytes, never in the database.

A blob is named by its SHA-256 (``ab/cd/abcd…``). Writing goes to a temporary file in the
same directory, is fsynced, then renamed into place, and the directory is fsynced: after
``put`` returns, the bytes survive a crash, and a reader never sees half a file. Writing the
same content twice is free (the name already exists). The files are read-only once written.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from adapters.errors import ConfigurationError

__all__ = ["BlobNotFound", "BlobStore"]

_CHUNK = 1024 * 1024
#: A blob up to this size is read on the event loop (``read``): reading it takes less than
#: a trip to a thread and back.
_READ_ON_THE_LOOP = 2 * 1024 * 1024


class BlobNotFound(KeyError):
    """No blob with this reference (a wrong reference, or a store that lost a file)."""


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class BlobStore:
    """``ref = store.put(data)``; ``store.get(ref)``; ``store.path(ref)`` for streaming reads."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"blob store {self.root}: {exc.strerror}") from None

    def path(self, ref: str) -> Path:
        if len(ref) != 64 or not all(c in "0123456789abcdef" for c in ref):
            raise BlobNotFound(ref)
        return self.root / ref[:2] / ref[2:4] / ref

    def exists(self, ref: str) -> bool:
        return self.path(ref).is_file()

    def put(self, data: bytes) -> str:
        return self.put_chunks((data,))

    def put_chunks(self, chunks: Iterable[bytes]) -> str:
        """Store the concatenation of ``chunks``; returns its reference (sha256 hex)."""
        digest = hashlib.sha256()
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".incoming-", delete=False) as out:
            try:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            except BaseException:
                Path(out.name).unlink(missing_ok=True)
                raise
        return self._place(Path(out.name), digest.hexdigest())

    async def put_stream(self, chunks: AsyncIterator[bytes]) -> str:
        """Like ``put_chunks`` for an upload: the body is never held whole in memory."""
        digest = hashlib.sha256()
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".incoming-", delete=False) as out:
            try:
                async for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            except BaseException:
                Path(out.name).unlink(missing_ok=True)
                raise
        return self._place(Path(out.name), digest.hexdigest())

    def _place(self, temporary: Path, ref: str) -> str:
        final = self.path(ref)
        if final.exists():
            temporary.unlink()
            return ref
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary.chmod(0o444)
        os.replace(temporary, final)
        _fsync_directory(final.parent)
        return ref

    def get(self, ref: str) -> bytes:
        try:
            return self.path(ref).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(ref) from None

    async def read(self, ref: str) -> bytes:
        """``get`` for a coroutine: a small blob is read at once (a few hundred microseconds,
        less than a trip to a thread and back), a large one in a thread."""
        try:
            size = self.path(ref).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(ref) from None
        if size <= _READ_ON_THE_LOOP:
            return self.get(ref)
        return await asyncio.to_thread(self.get, ref)

    def iter_chunks(self, ref: str) -> Iterable[bytes]:
        try:
            handle = self.path(ref).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(ref) from None
        with handle:
            while chunk := handle.read(_CHUNK):
                yield chunk
