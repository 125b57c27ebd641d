"""The content-addressed blob store: named by SHA-256, written whole or not at all."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.blobs import BlobNotFound, BlobStore


def test_put_get_and_deduplicate(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    data = os.urandom(3 * 1024 * 1024)
    ref = blobs.put(data)
    assert ref == hashlib.sha256(data).hexdigest()
    assert blobs.get(ref) == data
    assert b"".join(blobs.iter_chunks(ref)) == data
    assert blobs.put(data) == ref  # same content, same file
    assert blobs.path(ref).relative_to(blobs.root).parts == (ref[:2], ref[2:4], ref)
    assert not os.access(blobs.path(ref), os.W_OK) or os.geteuid() == 0
    assert [p.name for p in blobs.root.iterdir() if p.name.startswith(".incoming")] == []


async def test_put_stream(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)

    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"abc", b"def"):
            yield part

    assert blobs.get(await blobs.put_stream(chunks())) == b"abcdef"


async def test_a_failed_upload_leaves_nothing(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await blobs.put_stream(broken())
    assert list(tmp_path.iterdir()) == []


def test_unknown_and_malformed_references(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    with pytest.raises(BlobNotFound):
        blobs.get("0" * 64)
    with pytest.raises(BlobNotFound):
        blobs.get("../../etc/passwd")
    with pytest.raises(BlobNotFound):
        list(blobs.iter_chunks("f" * 64))
    assert not blobs.exists("0" * 64)
