"""The inbound pipeline's answers: 01, 02 with the reason, duplicates, XXE, recall 13 -> 15."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

import edxml
from adapters.axis.poller import HandoverRejected
from adapters.blobs import BlobStore
from adapters.store.schema import messages
from adapters.store.store import Store
from devtools.devca import DevPki
from edxml import SigningIdentity
from gateway.delivery.routing import RoutingTable
from gateway.inbound.pipeline import InboundPipeline
from gateway.signing import Signers
from tests.factories import FIXTURES, document, organization, status

G22 = "000.00.00.G22"


def _pipeline(
    store: Store, tmp_path: Path, pki: DevPki, *, policy: str = "reject"
) -> InboundPipeline:
    issued = pki.agencies[G22]
    return InboundPipeline(
        store,
        BlobStore(tmp_path / "blobs"),
        RoutingTable(),
        (G22,),
        signers=Signers({G22: SigningIdentity(issued.key, tuple(pki.chain(issued)))}),
        trust=edxml.TrustStore(roots=(pki.root.certificate,)),
        policy=edxml.VerifyPolicy(on_failure=policy),  # type: ignore[arg-type]
    )


def _signed(pki: DevPki, package: edxml.DocumentPackage | None = None) -> bytes:
    issued = pki.agencies["000.00.01.H42"]
    return edxml.sign(edxml.build(package or document()), issued.key, pki.chain(issued))


async def _answers(store: Store) -> list[tuple[str, str, str]]:
    """(status code, to, description) of the statuses we queued, oldest first."""
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(messages.c.id, messages.c.status_code, messages.c.subject)
                .where(messages.c.direction == "out", messages.c.message_type == "status")
                .order_by(messages.c.created_at)
            )
        ).all()
    answers = []
    for row in rows:
        view = await store.message(row.id, events=False)
        assert view is not None
        answers.append((row.status_code, view.deliveries[0].recipient, row.subject))
    return answers


async def test_a_good_document_is_accepted_and_answered_01(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    pipeline = _pipeline(store, tmp_path, pki)
    result = await pipeline.receive(_signed(pki), source="axis", remote_id="r1")
    assert (result.outcome, result.reasons) == ("accepted", ())
    assert await _answers(store) == [("01", "000.00.01.H42", "Đã đến")]


async def test_a_tampered_signature_and_a_wrong_recipient_are_answered_02(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    pipeline = _pipeline(store, tmp_path, pki)
    tampered = _signed(pki).replace("triển khai".encode(), "TRIỂN KHAI".encode(), 1)
    result = await pipeline.receive(tampered, source="axis", remote_id="r1")
    assert result.outcome == "rejected"
    assert any("signature" in reason for reason in result.reasons)
    elsewhere = document(recipients=(organization("000.00.00.G10"),))
    other = await pipeline.receive(_signed(pki, elsewhere), source="axis", remote_id="r2")
    assert other.outcome == "rejected"
    assert any("none of the recipients" in reason for reason in other.reasons)
    answers = await _answers(store)
    assert [code for code, _, _ in answers] == ["02", "02"]
    assert "signature" in answers[0][2]


async def test_duplicates_are_not_delivered_twice_unless_the_first_failed(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    pipeline = _pipeline(store, tmp_path, pki)
    good = _signed(pki)
    assert (await pipeline.receive(good, source="axis", remote_id="r1")).outcome == "accepted"
    assert (await pipeline.receive(good, source="axis", remote_id="r2")).outcome == "duplicate"
    # a document rejected first (bad signature) and sent again, repaired, is processed again
    other = document(
        document_id="000.00.01.H42,2026/11/25,06/UBND-VP",
        code=edxml.Code(number="06", notation="UBND-VP"),
    )
    broken = _signed(pki, other).replace(
        b"06/UBND-VP</edXML:DocumentId>", b"06/UBND-VP</edXML:DocumentId> ", 1
    )
    assert (await pipeline.receive(broken, source="axis", remote_id="r3")).outcome == "rejected"
    assert (
        await pipeline.receive(_signed(pki, other), source="axis", remote_id="r4")
    ).outcome == "accepted"


async def test_xxe_and_unreadable_packages_are_refused_to_the_poller(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    pipeline = _pipeline(store, tmp_path, pki)
    for attack in ("xxe_local_file.xml", "billion_laughs.xml", "xxe_network.xml"):
        with pytest.raises(HandoverRejected):
            await pipeline.receive(
                (FIXTURES / "attacks" / attack).read_bytes(), source="axis", remote_id=attack
            )
    data = b"%PDF-1.7"
    with pytest.raises(HandoverRejected):
        await pipeline.receive(data, source="axis", remote_id="x2")
    assert await _answers(store) == []


async def test_a_recall_13_marks_the_document_and_answers_15(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    pipeline = _pipeline(store, tmp_path, pki)
    pipeline.recall_answer = "automatic"
    accepted = await pipeline.receive(_signed(pki), source="axis", remote_id="r1")
    recall = status(
        sender=organization("000.00.01.H42"),
        response_for=dataclasses.replace(status().response_for, organ_id=G22),
        status_code="13",
        description="Ban hành nhầm",
        timestamp=dt.datetime(2026, 11, 25, 10, 0),
    )
    result = await pipeline.receive(edxml.build(recall), source="axis", remote_id="r2")
    assert result.outcome == "recall"
    async with store.engine.connect() as connection:
        state, checks = (
            await connection.execute(
                sa.select(messages.c.inbound_state, messages.c.checks).where(
                    messages.c.id == accepted.message_id
                )
            )
        ).one()
    assert state == "recalled"
    assert "Ban hành nhầm" in checks
    assert '"signature"' in checks  # what the checks found stays beside the request
    assert [code for code, _, _ in await _answers(store)] == ["01", "15"]
