"""Recall, update and replace, end to end through the simulated axis and back."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import edxml
from adapters.axis.client import AxisClient
from adapters.axis.poller import Handover, poll_once
from adapters.blobs import BlobStore
from adapters.store.store import Store
from devtools.axis_simulator import AxisSimulator
from gateway.delivery.destinations import AxisDestination
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.embedded import run_embedded
from gateway.delivery.routing import RoutingTable
from gateway.inbound.pipeline import InboundPipeline
from gateway.inbound.seen import StoreSeenDocIds
from gateway.outbound.accept import AcceptanceError, accept_package
from gateway.outbound.door import Outbound
from gateway.outbound.operations import recall, replace, update
from tests.adapters.conftest import client_for
from tests.factories import document, organization

from .flows import until

OFFICE, VPCP, TAY_NINH = "000.00.01.H42", "000.00.00.G22", "000.00.11.H53"
SYSTEM_OF = {VPCP: "000.00.00.G22", TAY_NINH: "00.53.W00"}
ROUTES = RoutingTable()


class Engine:
    def __init__(self, store: Store, blobs: BlobStore, axis: AxisClient) -> None:
        self.store, self.blobs, self.axis = store, blobs, axis
        self.dispatcher = Dispatcher(store, blobs, {"axis": AxisDestination(axis)})
        self.outbound = Outbound(store, blobs, ROUTES)

    async def deliver_all(self) -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(run_embedded(self.dispatcher, stop=stop, idle_seconds=0.02))

        async def quiet() -> bool:
            counts = await self.store.counts_by_state()
            return not {"queued", "sending", "retry_wait"} & set(counts)

        try:
            await until(quiet, timeout=20, step=0.02)
        finally:
            stop.set()
            await worker

    async def states(self, message_id: str) -> dict[str, str]:
        view = await self.store.message(message_id)
        assert view is not None
        return {d.recipient: d.state for d in view.deliveries}

    async def timeline(self, message_id: str, recipient: str) -> list[tuple[str, str]]:
        view = await self.store.message(message_id)
        assert view is not None
        (delivery,) = [d for d in view.deliveries if d.recipient == recipient]
        return [(e.source, e.to_state) for e in delivery.events]


@pytest.fixture
async def engine(
    live_store: Store, simulator: AxisSimulator, tmp_path: Path
) -> AsyncIterator[Engine]:
    async with client_for(simulator, "00.42.W00") as axis:
        yield Engine(live_store, BlobStore(tmp_path / "blobs"), axis)


async def _received(
    simulator: AxisSimulator, recipient: str, message_type: str
) -> list[edxml.Package]:
    async with client_for(simulator, SYSTEM_OF[recipient]) as theirs:
        found = []
        for item in await theirs.received_list(message_type):
            found.append(edxml.parse(await theirs.get_edoc(item.doc_id)))
            await theirs.update_status(item.doc_id, "done")
        return found


async def _answer(simulator: AxisSimulator, recipient: str, code: str, document_id: str) -> None:
    status = edxml.StatusPackage(
        sender=organization(recipient),
        response_for=edxml.ResponseFor(organ_id=OFFICE, code="05/UBND-VP", document_id=document_id),
        status_code=code,
        description="Đồng ý" if code == "15" else "Không đồng ý",
        timestamp=document().trace_headers[0].timestamp
        or __import__("datetime").datetime(2026, 11, 25),
    )
    async with client_for(simulator, SYSTEM_OF[recipient]) as theirs:
        await theirs.send_edoc(edxml.build(status), sender=recipient, message_type="status")


async def test_a_recall_answered_15_by_one_recipient_and_16_by_the_other(
    engine: Engine, simulator: AxisSimulator
) -> None:
    original = document(recipients=(organization(VPCP), organization(TAY_NINH)))
    accepted = await accept_package(engine.store, engine.blobs, ROUTES, edxml.build(original))
    with pytest.raises(AcceptanceError, match="no recipient has this document yet"):
        await recall(engine.outbound, accepted.message_id, reason="Nhầm")
    await engine.deliver_all()
    for recipient in (VPCP, TAY_NINH):
        assert len(await _received(simulator, recipient, "edoc")) == 1

    staff = edxml.StaffInfo(department="Văn thư", staff="Lê Thị Cúc")
    sent = await recall(engine.outbound, accepted.message_id, reason="Ban hành nhầm", staff=staff)
    assert len(sent) == 3  # the type-1 package, and a 13 to each recipient
    await engine.deliver_all()
    for recipient in (VPCP, TAY_NINH):
        (revocation,) = await _received(simulator, recipient, "edoc")
        assert isinstance(revocation, edxml.DocumentPackage)
        assert revocation.business is not None
        assert (revocation.business.doc_type, revocation.business.document_id) == (
            1,
            original.document_id,
        )
        (thirteen,) = await _received(simulator, recipient, "status")
        assert isinstance(thirteen, edxml.StatusPackage)
        assert (thirteen.status_code, thirteen.response_for.organ_id) == ("13", recipient)

    await _answer(simulator, VPCP, "15", accepted.document_id)
    await _answer(simulator, TAY_NINH, "16", accepted.document_id)
    await poll_once(
        engine.axis, _handover(engine.store, engine.blobs), StoreSeenDocIds(engine.store)
    )
    assert await engine.states(accepted.message_id) == {VPCP: "recalled", TAY_NINH: "sent"}
    assert (await engine.timeline(accepted.message_id, VPCP))[-2:] == [
        ("operator:recall", "sent"),
        ("status:15", "recalled"),
    ]
    assert (await engine.timeline(accepted.message_id, TAY_NINH))[-1] == ("status:16", "sent")


async def test_update_and_replace_are_sent_and_their_answers_noted(
    engine: Engine, simulator: AxisSimulator
) -> None:
    original = document(recipients=(organization(VPCP),))
    accepted = await accept_package(engine.store, engine.blobs, ROUTES, edxml.build(original))
    await engine.deliver_all()
    await _received(simulator, VPCP, "edoc")

    await update(
        engine.outbound, accepted.message_id,
        reason="Sửa trích yếu", changes={"subject": "V/v triển khai (sửa)"},
    )  # fmt: skip
    with pytest.raises(AcceptanceError, match="unexpected keyword"):
        await update(engine.outbound, accepted.message_id, reason="x", changes={"nope": 1})
    newer = dataclasses.replace(
        original,
        document_id="000.00.01.H42,2026/11/26,06/UBND-VP",
        code=edxml.Code(number="06", notation="UBND-VP"),
    )
    replaced = await replace(engine.outbound, accepted.message_id, newer, reason="Thay thế")
    await engine.deliver_all()
    received = await _received(simulator, VPCP, "edoc")
    by_type = {
        p.business.doc_type: p
        for p in received
        if isinstance(p, edxml.DocumentPackage) and p.business
    }
    updated_package, replacement = by_type[2], by_type[3]
    assert isinstance(updated_package, edxml.DocumentPackage)
    assert isinstance(replacement, edxml.DocumentPackage)
    assert updated_package.subject == "V/v triển khai (sửa)"
    assert updated_package.business is not None
    assert updated_package.business.doc_type == 2
    assert replacement.business is not None
    assert replacement.business.replacements[0].document_id == original.document_id
    assert replaced.document_id == newer.document_id

    await _answer(simulator, VPCP, "15", accepted.document_id)  # agrees to the update
    await poll_once(
        engine.axis, _handover(engine.store, engine.blobs), StoreSeenDocIds(engine.store)
    )
    assert (await engine.states(accepted.message_id))[VPCP] == "sent"  # not recalled
    assert [source for source, _ in await engine.timeline(accepted.message_id, VPCP)][-3:] == [
        "operator:update",
        "operator:replace",
        "status:15",
    ]


def _handover(store: Store, blobs: BlobStore) -> Handover:
    """The gateway's inbound pipeline, as the poller's hand-over (status packages here)."""
    return InboundPipeline(store, blobs, RoutingTable(), ("*",)).handover()
