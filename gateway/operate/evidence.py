"""The evidence log (non-repudiation; Điều 16, 18): proof of what was sent and received.

Every package that left (a delivery the destination took) and every package that arrived is
appended, with the peer's answer, as an entry carrying the hash of the entry before it and
the SHA-256 of the package (the blob store's own name for it). A job appends what is new
every few seconds, from the store's committed rows, so the hot path pays nothing and a crash
loses nothing (the next pass finds what was not logged). From time to time the head is
*sealed*: the gateway signs "sequence|hash|time" with an agency key, so a rewrite of the
log after the seal cannot be passed off.

``verify_evidence`` walks the chain and names the first broken entry: a changed field, a
removed or reordered entry, a package whose bytes no longer match, a seal that does not
verify. ``export_evidence`` writes a period as one self-contained archive for the records
office (entries, seals, packages, how to check them); retention does not delete a package
whose entry is not yet exported.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import datetime as dt
import hashlib
import json
import logging
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from adapters.blobs import BlobNotFound, BlobStore
from adapters.store.evidence import GENESIS, entry_hash
from adapters.store.store import Store
from edxml import TimestampError, TimestampValidator
from gateway.signing import Signers

__all__ = [
    "EvidenceReport",
    "append_new",
    "export_evidence",
    "run_evidence",
    "seal_evidence",
    "verify_evidence",
]

log = logging.getLogger(__name__)
APPEND_SECONDS = 5.0
#: Entries of each kind (sent, received) read at once.
UNLOGGED_PAGE = 1000


@dataclass(frozen=True)
class EvidenceReport:
    entries: int
    seals: int
    problem: str | None = None  # the first broken entry and why

    @property
    def ok(self) -> bool:
        return self.problem is None


async def append_new(store: Store) -> int:
    """Append what was sent or received and is not logged yet; how many entries.

    Pages are read while one of their kinds comes back full. A short page means the log
    has caught up: what is sent meanwhile waits for the next pass, or a busy gateway would
    read again and again, each read looking up every recent event, to log a few new ones.
    """
    appended = 0
    while True:
        entries = await store.unlogged(UNLOGGED_PAGE)
        if entries:
            await store.append_evidence(entries, entry_hash)
            appended += len(entries)
        kinds = collections.Counter(entry.kind for entry in entries)
        if all(count < UNLOGGED_PAGE for count in kinds.values()):
            return appended


def _sealed_text(seq: int, hash_: str, at: dt.datetime) -> bytes:
    return f"{seq}|{hash_}|{at.isoformat()}".encode()


Timestamper = Callable[[bytes], Awaitable[bytes]]


def http_timestamper(url: str) -> Timestamper:
    """An RFC 3161 client (pyhanko's) for ``url``: data -> the DER token over its SHA-256."""

    async def stamp(data: bytes) -> bytes:
        from pyhanko.sign.timestamps import HTTPTimeStamper  # noqa: PLC0415 (only with a TSA)

        token = await HTTPTimeStamper(url).async_timestamp(hashlib.sha256(data).digest(), "sha256")
        return bytes(token.dump())

    return stamp


async def seal_evidence(
    store: Store,
    signers: Signers,
    organ_id: str | None,
    *,
    timestamper: Timestamper | None = None,
) -> int | None:
    """Sign the head now with ``organ_id``'s key (None: the first key configured; no key:
    an unsigned checkpoint), with ``timestamper``'s RFC 3161 token over the same text when
    given. Returns the sealed sequence number, None if nothing is new."""
    head = await store.evidence_head()
    sealed = await store.evidence_seals(head.seq)
    if head.seq == 0 or sealed:
        return None
    at = store.now()
    signer = organ_id or next(iter(sorted(signers.identities)), None)
    identity = signers.identities.get(signer or "")
    seal: dict[str, Any] = {"seq": head.seq, "at": at, "entry_hash": head.entry_hash}
    data = _sealed_text(head.seq, head.entry_hash, at)
    if identity is not None:
        key = identity.key
        if isinstance(key, rsa.RSAPrivateKey):
            raw = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            raw = key.sign(data, ec.ECDSA(hashes.SHA256()))
        seal["signer"] = signer
        seal["signature"] = base64.b64encode(raw).decode()
        seal["certificates"] = "".join(
            c.public_bytes(serialization.Encoding.PEM).decode() for c in identity.chain
        )
    if timestamper is not None:
        token = await timestamper(data)
        seal["timestamp_token"] = base64.b64encode(token).decode()
    await store.add_seal(seal)
    return head.seq


def _seal_problem(
    seal: dict[str, Any], entry: dict[str, Any] | None, timestamps: TimestampValidator | None
) -> str | None:
    if entry is None or entry["entry_hash"] != seal["entry_hash"]:
        return f"seal {seal['seq']} does not match entry {seal['seq']}"
    at = seal["at"] if seal["at"].tzinfo else seal["at"].replace(tzinfo=dt.UTC)
    sealed = _sealed_text(int(seal["seq"]), seal["entry_hash"], at)
    if seal.get("timestamp_token") and timestamps is not None:
        try:
            timestamps.validate(base64.b64decode(seal["timestamp_token"]), sealed)
        except TimestampError as exc:
            return f"the timestamp of seal {seal['seq']} does not hold: {exc}"
    if not seal.get("signature"):
        return None  # a checkpoint without a key: the chain alone proves the order
    certificate = x509.load_pem_x509_certificates(seal["certificates"].encode())[0]
    public = certificate.public_key()
    raw = base64.b64decode(seal["signature"])
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(raw, sealed, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(raw, sealed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return f"the signature of seal {seal['seq']} does not verify"
    return None


def _package_problem(blobs: BlobStore | None, entry: dict[str, Any], exported: int) -> str | None:
    if blobs is None:
        return None
    try:
        path = blobs.path(entry["package_sha256"])
    except BlobNotFound:
        return f"entry {entry['seq']} names no package"
    if not path.is_file():
        if entry["seq"] <= exported:
            return None  # removed by retention after its export
        return f"the package of entry {entry['seq']} is missing"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != entry["package_sha256"]:
        return f"the package of entry {entry['seq']} was changed (its SHA-256 differs)"
    return None


def check_chain(
    entries: list[dict[str, Any]], previous: str, first: int, blobs: BlobStore | None, exported: int
) -> str | None:
    """The first problem of ``entries`` (expected from ``first``, after ``previous``)."""
    expected = first
    for entry in entries:
        if entry["seq"] != expected:
            return f"entry {expected} is missing (the next present is {entry['seq']})"
        if entry["prev_hash"] != previous:
            return (
                f"entry {expected} does not follow entry {expected - 1} "
                "(an entry was removed or changed)"
            )
        if entry_hash(previous, entry) != entry["entry_hash"]:
            return f"entry {expected} was changed (its hash differs)"
        if problem := _package_problem(blobs, entry, exported):
            return problem
        previous, expected = entry["entry_hash"], expected + 1
    return None


async def verify_evidence(
    store: Store,
    blobs: BlobStore | None,
    first: int = 1,
    last: int | None = None,
    *,
    timestamps: TimestampValidator | None = None,
) -> EvidenceReport:
    """Check entries ``first``..``last`` (all: the whole log) and the seals among them
    (their RFC 3161 tokens too, against ``timestamps``' authorities)."""
    head = await store.evidence_head()
    last = head.seq if last is None else min(last, head.seq)
    entries = await store.evidence_entries(first, last)
    before = await store.evidence_entries(first - 1, first - 1) if first > 1 else []
    previous = before[0]["entry_hash"] if before else GENESIS
    problem = check_chain(entries, previous, first, blobs, head.exported_seq)
    if problem is None and last >= first and (not entries or entries[-1]["seq"] != last):
        problem = f"entry {last} is missing"
    if (
        problem is None
        and last == head.seq
        and entries
        and entries[-1]["entry_hash"] != head.entry_hash
    ):
        problem = f"the head does not match entry {last}"
    seals = await store.evidence_seals(first, last)
    by_seq = {entry["seq"]: entry for entry in entries}
    for seal in seals:
        if problem is None:
            problem = _seal_problem(seal, by_seq.get(int(seal["seq"])), timestamps)
    return EvidenceReport(len(entries), len(seals), problem)


async def export_evidence(
    store: Store, blobs: BlobStore, since: dt.datetime, until: dt.datetime, target: Path
) -> int:
    """The entries of [since, until) as one archive: ``log.jsonl``, ``seals.jsonl``, each
    package under ``packages/<sha256>.edxml`` and ``README.txt``. Returns the entries."""
    entries = await store.evidence_entries(since=since, until=until)
    if not entries:
        return 0
    seals = await store.evidence_seals(entries[0]["seq"], entries[-1]["seq"])
    before = await store.evidence_entries(entries[0]["seq"] - 1, entries[0]["seq"] - 1)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "log.jsonl",
            "".join(json.dumps(e, default=str, ensure_ascii=False) + "\n" for e in entries),
        )
        archive.writestr(
            "seals.jsonl",
            "".join(json.dumps(s, default=str, ensure_ascii=False) + "\n" for s in seals),
        )
        archive.writestr("README.txt", _archive_readme(entries, before))
        for ref in sorted({e["package_sha256"] for e in entries}):
            with contextlib.suppress(BlobNotFound, FileNotFoundError):
                archive.write(blobs.path(ref), f"packages/{ref}.edxml")
    contiguous = entries[-1]["seq"]
    if entries[0]["seq"] <= (await store.evidence_head()).exported_seq + 1:
        await store.mark_exported(contiguous)
    return len(entries)


def _archive_readme(entries: list[dict[str, Any]], before: list[dict[str, Any]]) -> str:
    previous = before[0]["entry_hash"] if before else GENESIS
    return (
        "Evidence log of the edXML gateway (Điều 16, 18)\n\n"
        f"Entries {entries[0]['seq']} to {entries[-1]['seq']}, "
        f"from {entries[0]['at']} to {entries[-1]['at']}.\n"
        f"The entry before the first has the hash {previous}.\n\n"
        "Each line of log.jsonl is one entry. Its entry_hash is the SHA-256 of its prev_hash,\n"
        "a line feed, and the JSON of the fields seq, at, kind, source_key, message_id,\n"
        "document_id, peer, remote_id, answer, package_sha256 (keys sorted, no spaces).\n"
        "Each entry's prev_hash is the entry_hash of the one before. packages/<sha256>.edxml\n"
        "are the packages themselves: their SHA-256 is their name. A seal signs\n"
        "'seq|entry_hash|at' with the certificate it carries (PKCS#1 v1.5 or ECDSA, SHA-256).\n"
        "`edxml-gateway evidence verify` checks a live log the same way.\n"
    )


async def run_evidence(
    store: Store,
    signers: Signers,
    *,
    seal_minutes: float,
    seal_agency: str | None,
    stop: asyncio.Event,
    timestamper: Timestamper | None = None,
) -> None:
    """Append what is new every few seconds, seal every ``seal_minutes``, until ``stop``."""
    last_seal = asyncio.get_running_loop().time()
    while not stop.is_set():
        try:
            await append_new(store)
            if asyncio.get_running_loop().time() - last_seal >= seal_minutes * 60:
                await seal_evidence(store, signers, seal_agency, timestamper=timestamper)
                last_seal = asyncio.get_running_loop().time()
        except Exception:  # the next pass tries again; nothing is lost, the rows are there
            log.exception("evidence log pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), APPEND_SECONDS)
