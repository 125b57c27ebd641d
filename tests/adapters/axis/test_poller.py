"""The poller against the simulator: each item handed over once, acknowledged as it should be."""

from __future__ import annotations

import asyncio

import edxml
from adapters.axis.client import ReceivedItem
from adapters.axis.poller import (
    HandoverRejected,
    MemorySeenDocIds,
    PollReport,
    poll_forever,
    poll_once,
)
from devtools.axis_simulator import AxisSimulator, FaultPlan
from tests.adapters.conftest import client_for
from tests.factories import document, status

NINH_BINH, VPCP, OFFICE = "00.42.W00", "000.00.00.G22", "000.00.01.H42"


class Inbox:
    """A handover that keeps what it is given, and can be told to fail."""

    def __init__(self) -> None:
        self.items: list[tuple[ReceivedItem, bytes]] = []
        self.failure: Exception | None = None

    async def __call__(self, item: ReceivedItem, package: bytes) -> None:
        if self.failure is not None:
            raise self.failure
        self.items.append((item, package))


async def _send_two_documents_and_a_status(simulator: AxisSimulator) -> None:
    async with client_for(simulator, NINH_BINH) as ninh_binh, client_for(simulator, VPCP) as vpcp:
        for number in ("05", "06"):
            package = document(document_id=f"000.00.01.H42,2026/11/25,{number}/UBND-VP")
            await ninh_binh.send_edoc(edxml.build(package), sender=OFFICE)
        await vpcp.send_edoc(edxml.build(status()), sender=VPCP, message_type="status")


async def test_documents_and_statuses_are_handed_over_once_and_acknowledged(
    simulator: AxisSimulator,
) -> None:
    await _send_two_documents_and_a_status(simulator)
    inbox, seen = Inbox(), MemorySeenDocIds()
    async with client_for(simulator, VPCP) as vpcp, client_for(simulator, NINH_BINH) as ninh_binh:
        report = await poll_once(vpcp, inbox, seen)
        assert len(report.handed_over) == 2
        assert report.deferred == report.rejected == report.axis_errors == []
        assert {type(edxml.parse(p)).__name__ for _, p in inbox.items} == {"DocumentPackage"}
        assert await vpcp.received_list() == []

        office_inbox = Inbox()
        report = await poll_once(ninh_binh, office_inbox, MemorySeenDocIds())
        ((item, package),) = office_inbox.items
        assert item.message_type == "status"
        assert edxml.parse(package).status_code == "03"  # type: ignore[union-attr]
        assert [row.receive_status for row in await ninh_binh.sent_list()] == ["done", "done"]


async def test_a_redelivered_doc_id_is_acknowledged_but_not_handed_over_again(
    simulator: AxisSimulator,
) -> None:
    simulator.faults.set(FaultPlan(duplicate_rate=1.0))
    await _send_two_documents_and_a_status(simulator)
    inbox, seen = Inbox(), MemorySeenDocIds()
    async with client_for(simulator, VPCP) as vpcp:
        first = await poll_once(vpcp, inbox, seen)
        second = await poll_once(vpcp, inbox, seen)
        assert sorted(second.duplicates) == sorted(first.handed_over)
        assert second.handed_over == []
        assert len(inbox.items) == 2
        assert await vpcp.received_list() == []


async def test_a_rejected_package_is_acknowledged_fail(simulator: AxisSimulator) -> None:
    await _send_two_documents_and_a_status(simulator)
    inbox = Inbox()
    inbox.failure = HandoverRejected("not for us")
    async with client_for(simulator, VPCP) as vpcp, client_for(simulator, NINH_BINH) as ninh_binh:
        report = await poll_once(vpcp, inbox, MemorySeenDocIds(), message_types=("edoc",))
        assert len(report.rejected) == 2
        assert await vpcp.received_list() == []
        assert [row.receive_status for row in await ninh_binh.sent_list()] == ["fail", "fail"]


async def test_our_own_failure_leaves_the_item_for_the_next_poll(simulator: AxisSimulator) -> None:
    await _send_two_documents_and_a_status(simulator)
    inbox, seen = Inbox(), MemorySeenDocIds()
    inbox.failure = OSError("the store is down")
    async with client_for(simulator, VPCP) as vpcp:
        report = await poll_once(vpcp, inbox, seen)
        assert len(report.deferred) == 2
        assert len(await vpcp.received_list()) == 2
        inbox.failure = None
        report = await poll_once(vpcp, inbox, seen)
        assert len(report.handed_over) == 2
        assert await vpcp.received_list() == []


async def test_an_axis_outage_loses_nothing(simulator: AxisSimulator) -> None:
    await _send_two_documents_and_a_status(simulator)
    inbox, seen = Inbox(), MemorySeenDocIds()
    async with client_for(simulator, VPCP, timeout_seconds=1.0) as vpcp:
        simulator.faults.set(FaultPlan(outage_seconds=60))
        report = await poll_once(vpcp, inbox, seen)
        assert report.handed_over == []
        assert len(report.axis_errors) == 2  # both lists failed
        simulator.faults.set(FaultPlan(error_rate=0.5, seed=7))
        for _ in range(10):
            await poll_once(vpcp, inbox, seen)
        simulator.faults.set(FaultPlan())
        await poll_once(vpcp, inbox, seen)
        assert len({item.doc_id for item, _ in inbox.items}) == len(inbox.items) == 2
        assert await vpcp.received_list() == []


async def test_poll_forever_polls_until_stopped(simulator: AxisSimulator) -> None:
    await _send_two_documents_and_a_status(simulator)
    inbox, reports, stop = Inbox(), list[PollReport](), asyncio.Event()

    def on_report(report: PollReport) -> None:
        reports.append(report)
        if len(reports) == 3:
            stop.set()

    async with client_for(simulator, VPCP) as vpcp:
        await asyncio.wait_for(
            poll_forever(
                vpcp,
                inbox,
                MemorySeenDocIds(),
                interval_seconds=0.01,
                stop=stop,
                on_report=on_report,
            ),
            timeout=10,
        )
    assert [len(report.handed_over) for report in reports] == [2, 0, 0]


async def test_the_seen_set_is_bounded() -> None:
    seen = MemorySeenDocIds(capacity=2)
    for doc_id in ("a", "b", "c"):
        await seen.remember(doc_id)
    assert [await seen.seen(doc_id) for doc_id in ("a", "b", "c")] == [False, True, True]
