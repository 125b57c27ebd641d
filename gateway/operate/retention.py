"""Retention (Điều 16, 18.1): what is past the retention period, and removing it on request.

Nothing is deleted automatically, and never a package the evidence log names that no
evidence export holds yet (``edxml-gateway evidence export`` first). ``past_retention``
lists the messages older than the period; ``remove_packages`` (only with the operator's
explicit confirmation) deletes their package files from the blob store — a file still used
by a newer message is kept — while the messages, deliveries and events stay, so the
register of what existed remains (Điều 16, 18.1); each removal is written to the audit log
with the file's reference and size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from adapters.blobs import BlobStore
from adapters.store.store import Store
from gateway.operate import progress

__all__ = ["Expired", "past_retention", "remove_packages"]

REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Expired:
    message_id: str
    document_id: str
    created_at: dt.datetime
    package_ref: str
    package_size: int


async def past_retention(store: Store, days: int) -> list[Expired]:
    cutoff = store.now() - dt.timedelta(days=days)
    rows = await store.packages_before(cutoff, REMOVED)
    return [
        Expired(r["id"], r["document_id"], r["created_at"], r["package_ref"], r["package_size"])
        for r in rows
    ]


async def remove_packages(
    store: Store, blobs: BlobStore, expired: list[Expired], *, by: str
) -> int:
    """Remove the packages of ``expired`` (metadata kept); returns how many files went."""
    removed = 0
    with progress.bar("removing", len(expired), unit="package") as shown:
        for item in expired:
            if await store.unarchived(item.package_ref):
                # the evidence log names it and no export holds it yet (Điều 16, 18)
                await store.audit(by, "retention.kept", item.message_id, "not yet exported")
                continue
            still_used = await store.forget_package(item.message_id, item.package_ref, REMOVED)
            if not still_used and blobs.exists(item.package_ref):
                path = blobs.path(item.package_ref)
                path.chmod(0o644)
                path.unlink()
                removed += 1
            await store.audit(
                by,
                "retention.remove",
                item.message_id,
                f"{item.document_id}: package {item.package_ref} ({item.package_size} bytes)",
            )
            shown.update(1)
    return removed
