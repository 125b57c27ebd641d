"""Retention: listed, removed only when confirmed, metadata and shared files kept."""

from __future__ import annotations

from pathlib import Path

from adapters.blobs import BlobStore
from adapters.store.schema import audit_log
from adapters.store.store import NewDelivery, NewMessage, Store
from gateway.operate.retention import REMOVED, past_retention, remove_packages
from tests.backends import Clock


async def test_packages_past_retention(store: Store, clock: Clock, tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    old, shared = blobs.put(b"old package"), blobs.put(b"shared package")
    for ref, document_id in ((old, "old"), (shared, "shared-old")):
        await store.accept(
            NewMessage(
                direction="out",
                document_id=document_id,
                sender="s",
                package_ref=ref,
                package_size=11,
            ),
            [NewDelivery("r", "axis")],
        )
    clock.advance(400 * 86400)
    await store.accept(  # a newer message with the same bytes keeps the file alive
        NewMessage(
            direction="in",
            document_id="shared-new",
            sender="s",
            package_ref=shared,
            package_size=14,
        ),
        [],
        deliver=False,
    )
    expired = await past_retention(store, 365)
    assert sorted(e.document_id for e in expired) == ["old", "shared-old"]
    assert await remove_packages(store, blobs, expired, by="admin") == 1
    assert not blobs.exists(old)
    assert blobs.exists(shared)
    assert await past_retention(store, 365) == []  # removed once
    view = await store.message(expired[0].message_id)
    assert view is not None
    assert (view.package_ref, len(view.deliveries[0].events)) == (REMOVED, 1)  # metadata kept
    async with store.engine.connect() as connection:
        actions = [row.action for row in await connection.execute(audit_log.select())]
    assert actions == ["retention.remove", "retention.remove"]


async def test_retention_keeps_what_the_evidence_log_holds_until_it_is_exported(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    from gateway.operate.evidence import append_new, export_evidence, verify_evidence

    blobs = BlobStore(tmp_path / "blobs")
    ref = blobs.put(b"a received package")
    await store.accept(
        NewMessage(direction="in", document_id="in-1", sender="s", package_ref=ref,
                   package_size=18),
        [], deliver=False, inbound=("axis", "doc-1"),
    )  # fmt: skip
    assert await append_new(store) == 1
    start = clock()
    clock.advance(400 * 86400)
    expired = await past_retention(store, 365)
    assert await remove_packages(store, blobs, expired, by="admin") == 0  # not exported yet
    assert blobs.exists(ref)
    assert await export_evidence(store, blobs, start, clock(), tmp_path / "e.zip") == 1
    assert await remove_packages(store, blobs, expired, by="admin") == 1
    assert not blobs.exists(ref)
    assert (await verify_evidence(store, blobs)).ok  # an exported package may go
