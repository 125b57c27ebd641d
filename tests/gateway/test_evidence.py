"""The evidence log: every package sent or received chained by hashes and sealed; its check
fails, naming the first broken entry, when one byte of a stored package is changed, an entry
removed or a field rewritten; a period exports as one archive; on both stores."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.blobs import BlobStore
from adapters.store.schema import evidence
from adapters.store.store import NewDelivery, NewMessage, Store
from devtools.devca import DevPki
from edxml import SigningIdentity
from gateway.operate import evidence as evidence_module
from gateway.operate.evidence import (
    append_new,
    export_evidence,
    seal_evidence,
    verify_evidence,
)
from gateway.signing import Signers
from tests.backends import Clock

OFFICE, VPCP = "000.00.01.H42", "000.00.00.G22"


async def _exchange(store: Store, blobs: BlobStore, number: int) -> None:
    """One package sent (the axis took it) and one received."""
    sent = blobs.put(f"<edXML>sent {number}</edXML>".encode())
    _, (delivery_id,) = await store.accept(
        NewMessage(
            direction="out", document_id=f"{OFFICE},2026/11/25,{number}/UBND-VP", sender=OFFICE,
            package_ref=sent, package_size=10,
        ),
        [NewDelivery(VPCP, "axis")],
    )  # fmt: skip
    (job,) = [
        j for j in await store.claim_due(10, lease_seconds=60) if j.delivery_id == delivery_id
    ]
    await store.mark_sent(delivery_id, job.attempt, f"axis-doc-{number}")
    received = blobs.put(f"<edXML>received {number}</edXML>".encode())
    await store.accept(
        NewMessage(
            direction="in", document_id=f"{VPCP},2026/11/25,{number}/VPCP", sender=VPCP,
            package_ref=received, package_size=10,
        ),
        [],
        deliver=False,
        inbound=("axis", f"remote-{number}"),
    )  # fmt: skip


async def test_a_pass_reads_pages_while_they_come_back_full_and_once_when_caught_up(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    for number in range(3):
        await _exchange(store, blobs, number)
    reads = []
    unlogged = store.unlogged

    async def counted(limit: int = 1000) -> list[Any]:
        found = await unlogged(limit)
        reads.append(len(found))
        return found

    monkeypatch.setattr(store, "unlogged", counted)
    monkeypatch.setattr(evidence_module, "UNLOGGED_PAGE", 2)
    # 3 sent and 3 received: pages of 2 of each, the last short, and nothing left behind
    assert await append_new(store) == 6
    assert reads == [4, 2]
    reads.clear()
    await _exchange(store, blobs, 9)
    assert await append_new(store) == 2
    assert reads == [2]  # one short page: caught up, no second read to find nothing


def _signers(pki: DevPki) -> Signers:
    issued = pki.agencies[OFFICE]
    return Signers({OFFICE: SigningIdentity(issued.key, tuple(pki.chain(issued)))})


async def test_the_log_chains_seals_and_verifies(
    store: Store, tmp_path: Path, pki: DevPki, clock: Clock
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    for number in (1, 2):
        await _exchange(store, blobs, number)
    assert await append_new(store) == 4
    assert await append_new(store) == 0  # nothing is logged twice
    assert await seal_evidence(store, _signers(pki), None) == 4
    await _exchange(store, blobs, 3)
    assert await append_new(store) == 2
    report = await verify_evidence(store, blobs)
    assert (report.ok, report.entries, report.seals) == (True, 6, 1)
    entries = await store.evidence_entries()
    assert [e["kind"] for e in entries] == [
        "sent",
        "sent",
        "received",
        "received",
        "sent",
        "received",
    ]
    assert entries[0]["remote_id"] == "axis-doc-1"  # the peer's answer
    received = {e["remote_id"] for e in entries if e["kind"] == "received"}
    assert received == {"remote-1", "remote-2", "remote-3"}  # where each came from

    clock.advance(60)
    archive = tmp_path / "evidence.zip"
    since, until = entries[0]["at"], clock()
    assert await export_evidence(store, blobs, since, until, archive) == 6
    with zipfile.ZipFile(archive) as opened:
        names = set(opened.namelist())
        lines = opened.read("log.jsonl").decode().splitlines()
    assert {"log.jsonl", "seals.jsonl", "README.txt"} <= names
    assert len([n for n in names if n.startswith("packages/")]) == 6
    assert json.loads(lines[0])["seq"] == 1
    assert not await store.unarchived(entries[0]["package_sha256"])  # retention may go


async def test_one_changed_byte_of_a_stored_package_is_found(store: Store, tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    for number in (1, 2):
        await _exchange(store, blobs, number)
    await append_new(store)
    entries = await store.evidence_entries()
    path = blobs.path(entries[2]["package_sha256"])
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[3] ^= 1  # one byte
    path.write_bytes(bytes(data))
    report = await verify_evidence(store, blobs)
    assert (
        report.problem
        == f"the package of entry {entries[2]['seq']} was changed (its SHA-256 differs)"
    )


async def test_a_removed_or_rewritten_entry_is_found(store: Store, tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    for number in (1, 2, 3):
        await _exchange(store, blobs, number)
    await append_new(store)
    async with store.engine.begin() as connection:
        await connection.execute(evidence.update().where(evidence.c.seq == 2).values(answer="x"))
    assert (await verify_evidence(store, blobs)).problem == "entry 2 was changed (its hash differs)"
    async with store.engine.begin() as connection:
        await connection.execute(evidence.delete().where(evidence.c.seq == 2))
    assert (
        await verify_evidence(store, blobs)
    ).problem == "entry 2 is missing (the next present is 3)"


async def test_a_forged_seal_is_found(store: Store, tmp_path: Path, pki: DevPki) -> None:
    from adapters.store.schema import evidence_seals

    blobs = BlobStore(tmp_path / "blobs")
    await _exchange(store, blobs, 1)
    await append_new(store)
    await seal_evidence(store, _signers(pki), OFFICE)
    assert (await verify_evidence(store, blobs)).ok
    async with store.engine.begin() as connection:
        forged = "A" * 344
        await connection.execute(evidence_seals.update().values(signature=forged))
    assert (
        await verify_evidence(store, blobs)
    ).problem == "the signature of seal 2 does not verify"


async def test_processes_appending_at_once_make_one_chain(store: Store, tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    for number in range(1, 6):
        await _exchange(store, blobs, number)
    counts = await asyncio.gather(*(append_new(store) for _ in range(3)))
    assert sum(counts) >= 10
    report = await verify_evidence(store, blobs)
    assert report.ok, report.problem
    async with store.engine.connect() as connection:
        keys = (await connection.execute(sa.select(evidence.c.source_key))).scalars().all()
    assert len(keys) == len(set(keys)) == 10


def test_the_commands_verify_name_the_broken_entry_and_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from adapters.store.engine import create_engine
    from gateway.cli.main import main

    out = capsys
    monkeypatch.setenv("EDXML_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0

    async def traffic() -> str:
        store = Store(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'gateway.db'}"))
        blobs = BlobStore(tmp_path / "data" / "blobs")
        await _exchange(store, blobs, 1)
        await store.close()
        return str(blobs.path(blobs.put(b"<edXML>received 1</edXML>")))

    received = Path(asyncio.run(traffic()))
    out.readouterr()
    assert main(["evidence", "seal"]) == 0
    assert "2 entries appended; sealed up to 2" in out.readouterr().out
    assert main(["evidence", "verify"]) == 0
    assert "2 entries and 1 seals verified" in out.readouterr().out
    import datetime as dt

    today = (dt.date.today() + dt.timedelta(days=1)).isoformat()  # Vietnam is ahead of UTC
    archive = tmp_path / "ho-so.zip"
    assert (
        main(["evidence", "export", "--from", "2020-01-01", "--to", today, "-o", str(archive)]) == 0
    )
    assert zipfile.ZipFile(archive).read("README.txt").startswith(b"Evidence log")
    received.chmod(0o644)
    received.write_bytes(b"<edXML>received 2</edXML>")  # one byte changed
    assert main(["evidence", "verify"]) == 1
    assert "BROKEN: the package of entry 2 was changed" in out.readouterr().out


async def test_a_seal_carries_an_rfc3161_token_that_verify_checks(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    """With a time-stamping authority, each seal also carries its token over the sealed
    text: the seal's time rests on the authority. A token over other data is found."""
    import datetime as dt
    import hashlib

    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    import edxml
    from adapters.store.schema import evidence_seals
    from devtools.devca import issue
    from tests import pki as certificates

    now = dt.datetime.now(dt.UTC)
    tsa = issue(
        certificates.name("Dev Time-Stamping Authority"),
        issuer=pki.intermediate,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=30),
        extended_usage=(ExtendedKeyUsageOID.TIME_STAMPING,),
    )
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(tsa.certificate.public_bytes(Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            tsa.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        ),
    )

    async def timestamper(data: bytes) -> bytes:
        token = await stamper.async_timestamp(hashlib.sha256(data).digest(), "sha256")
        return bytes(token.dump())

    validator = edxml.Rfc3161Validator(
        edxml.TrustStore(
            roots=(pki.root.certificate,), intermediates=(pki.intermediate.certificate,)
        )
    )
    blobs = BlobStore(tmp_path / "blobs")
    await _exchange(store, blobs, 1)
    await append_new(store)
    await seal_evidence(store, _signers(pki), OFFICE, timestamper=timestamper)
    assert (await verify_evidence(store, blobs, timestamps=validator)).ok
    other = await timestamper(b"something else")
    async with store.engine.begin() as connection:
        await connection.execute(
            evidence_seals.update().values(
                timestamp_token=__import__("base64").b64encode(other).decode()
            )
        )
    problem = (await verify_evidence(store, blobs, timestamps=validator)).problem
    assert problem is not None
    assert problem.startswith("the timestamp of seal 2 does not hold")
