"""AxisClient against the simulator over loopback: every operation, exchanges, fault classes."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

import edxml
from adapters.axis.client import AxisClient, AxisConfig, AxisPermanentError, AxisTransientError
from adapters.errors import TransportError
from devtools.axis_simulator import AxisSimulator, FaultPlan
from tests.adapters.conftest import client_for
from tests.factories import document, organization, status

NINH_BINH, VPCP = "00.42.W00", "000.00.00.G22"
OFFICE = "000.00.01.H42"  # Văn phòng UBND tỉnh Ninh Bình, the sender in tests.factories


def _status(code: str, **overrides: object) -> bytes:
    return edxml.build(status(status_code=code, description=f"status {code}", **overrides))


async def test_every_operation_round_trips(simulator: AxisSimulator) -> None:
    package = edxml.build(document())
    async with client_for(simulator, NINH_BINH) as ninh_binh, client_for(simulator, VPCP) as vpcp:
        sent_id = await ninh_binh.send_edoc(package, sender=OFFICE)
        assert await vpcp.count_received("edoc") == 1
        assert await vpcp.count_received("status") == 0
        (item,) = await vpcp.received_list("edoc")
        assert (item.sender, item.receivers, item.status, item.message_type) == (
            OFFICE,
            VPCP,
            "pending",
            "edoc",
        )
        fetched = await vpcp.get_edoc(item.doc_id)
        assert await vpcp.download_edoc(item.doc_id) == fetched
        parsed = edxml.parse(fetched)
        assert isinstance(parsed, edxml.DocumentPackage)
        assert parsed.attachments[0].data == document().attachments[0].data
        assert [t.organ_id for t in parsed.trace_headers] == [OFFICE, VPCP]  # the hub's own

        await vpcp.update_status(item.doc_id, "processing")
        assert [i.status for i in await vpcp.received_list()] == ["processing"]
        await vpcp.update_status(item.doc_id, "done")
        assert await vpcp.received_list() == []

        (row,) = await ninh_binh.sent_list()
        assert (row.doc_id, row.receiver_doc_id, row.receiver) == (sent_id, item.doc_id, VPCP)
        assert (row.send_status, row.receive_status, row.notation) == ("sent", "done", "05/UBND-VP")
        assert await ninh_binh.sent_list(doc_id="no-such-id") == []

        agencies = {agency.code: agency for agency in await ninh_binh.agencies()}
        assert agencies[OFFICE].name == "Văn phòng UBND tỉnh Ninh Bình"
        level_two = {agency.code for agency in await ninh_binh.agencies(qd20=True, level=2)}
        assert level_two == {OFFICE}
        units = await ninh_binh.synchronize_units()
        assert {unit["centerCode"] for unit in units} >= {NINH_BINH, VPCP}

        await ninh_binh.register_agency(code="000.00.14.H42", name="Sở Nội vụ", parent=NINH_BINH)
        assert "000.00.14.H42" in {agency.code for agency in await vpcp.agencies()}
        with pytest.raises(AxisPermanentError) as refused:
            await vpcp.register_agency(code="000.00.14.H42", name="Sở Nội vụ", parent=VPCP)
        assert refused.value.http_status == 409
        with pytest.raises(AxisPermanentError, match=r"not an agency of 000\.00\.00\.G22"):
            await vpcp.delete_agency("000.00.14.H42")
        await ninh_binh.delete_agency("000.00.14.H42")
        assert "000.00.14.H42" not in {agency.code for agency in await vpcp.agencies()}


async def test_an_exchange_with_statuses_01_03_06(simulator: AxisSimulator) -> None:
    async with client_for(simulator, NINH_BINH) as ninh_binh, client_for(simulator, VPCP) as vpcp:
        await ninh_binh.send_edoc(edxml.build(document()), sender=OFFICE)
        (item,) = await vpcp.received_list()
        await vpcp.get_edoc(item.doc_id)
        await vpcp.update_status(item.doc_id, "done")
        for code in ("01", "03", "06"):
            await vpcp.send_edoc(_status(code), sender=VPCP, message_type="status")

        statuses = await ninh_binh.received_list("status")
        assert [(s.sender, s.receivers, s.message_type) for s in statuses] == [
            (VPCP, OFFICE, "status")
        ] * 3
        codes = []
        for entry in statuses:
            package = edxml.parse(await ninh_binh.get_edoc(entry.doc_id))
            assert isinstance(package, edxml.StatusPackage)
            codes.append(package.status_code)
            await ninh_binh.update_status(entry.doc_id, "done")
        assert codes == ["01", "03", "06"]
        assert await ninh_binh.count_received("status") == 0
        (row,) = await ninh_binh.sent_list()
        assert simulator.hub._deliveries[row.receiver_doc_id].status_code == "06"
        (status_row, *_) = await vpcp.sent_list("status")
        assert (status_row.receiver, status_row.receive_status) == (OFFICE, "done")


async def test_a_recall_13_answered_by_15(simulator: AxisSimulator) -> None:
    async with client_for(simulator, NINH_BINH) as ninh_binh, client_for(simulator, VPCP) as vpcp:
        await ninh_binh.send_edoc(edxml.build(document()), sender=OFFICE)
        recall = _status(
            "13",
            sender=organization(OFFICE),
            response_for=dataclasses.replace(status().response_for, organ_id=VPCP),
        )
        await ninh_binh.send_edoc(recall, sender=OFFICE, message_type="status")
        (request,) = await vpcp.received_list("status")
        received = edxml.parse(await vpcp.get_edoc(request.doc_id))
        assert isinstance(received, edxml.StatusPackage)
        assert (received.status_code, received.sender.organ_id) == ("13", OFFICE)
        await vpcp.update_status(request.doc_id, "done")

        await vpcp.send_edoc(_status("15"), sender=VPCP, message_type="status")
        (answer,) = await ninh_binh.received_list("status")
        agreed = edxml.parse(await ninh_binh.get_edoc(answer.doc_id))
        assert isinstance(agreed, edxml.StatusPackage)
        assert (agreed.status_code, agreed.response_for.organ_id) == ("15", OFFICE)


async def test_a_duplicate_delivery_comes_back_once(simulator: AxisSimulator) -> None:
    simulator.faults.set(FaultPlan(duplicate_rate=1.0))
    async with client_for(simulator, NINH_BINH) as ninh_binh, client_for(simulator, VPCP) as vpcp:
        await ninh_binh.send_edoc(edxml.build(document()), sender=OFFICE)
        (first,) = await vpcp.received_list()
        await vpcp.update_status(first.doc_id, "done")
        (again,) = await vpcp.received_list()
        assert again.doc_id == first.doc_id
        await vpcp.update_status(again.doc_id, "done")
        assert await vpcp.received_list() == []


# -- failures and their classes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "http_status"),
    [
        (FaultPlan(error_rate=1.0), 500),
        (FaultPlan(burst_5xx=1), 503),
        (FaultPlan(outage_seconds=60), 503),
        (FaultPlan(throttle_rate=1.0), 429),
        (FaultPlan(timeout_rate=1.0, hang_seconds=10), None),
        (FaultPlan(drop_rate=1.0), None),
    ],
    ids=["error", "burst", "outage", "throttle", "timeout", "drop"],
)
async def test_injected_faults_are_transient(
    simulator: AxisSimulator, plan: FaultPlan, http_status: int | None
) -> None:
    simulator.faults.set(plan)
    started = time.monotonic()
    async with client_for(simulator, NINH_BINH, timeout_seconds=0.5) as ninh_binh:
        with pytest.raises(AxisTransientError) as failure:
            await ninh_binh.send_edoc(edxml.build(document()), sender=OFFICE)
    assert failure.value.transient
    assert isinstance(failure.value, TransportError)
    assert failure.value.http_status == http_status
    assert failure.value.operation == "sendEdoc"
    assert time.monotonic() - started < 5
    assert simulator.hub.summary()["sent"] == 0


async def test_a_burst_passes_and_the_call_then_succeeds(simulator: AxisSimulator) -> None:
    simulator.faults.set(FaultPlan(burst_5xx=2, latency_ms=5))
    async with client_for(simulator, NINH_BINH) as ninh_binh:
        for _ in range(2):
            with pytest.raises(AxisTransientError):
                await ninh_binh.count_received()
        assert await ninh_binh.count_received() == 0


@pytest.mark.parametrize("case", ["wrong secret", "unknown recipient", "not edXML", "bad docId"])
async def test_refusals_are_permanent(simulator: AxisSimulator, case: str) -> None:
    secret = "wrong" if case == "wrong secret" else "test-secret-for-vectors"
    config = AxisConfig(base_url=simulator.url, system_id=NINH_BINH, secret=secret)
    stranger = (organization("000.00.00.H99"),)
    async with AxisClient(config) as ninh_binh:
        calls = {
            "unknown recipient": lambda: ninh_binh.send_edoc(
                edxml.build(document(recipients=stranger)), sender=OFFICE
            ),
            "not edXML": lambda: ninh_binh.send_edoc(b"%PDF-1.7 not a package", sender=OFFICE),
            "bad docId": lambda: ninh_binh.get_edoc("0" * 24),
            "wrong secret": ninh_binh.count_received,
        }
        with pytest.raises(AxisPermanentError) as refused:
            await calls[case]()
    assert not refused.value.transient
    assert refused.value.code is not None
    assert refused.value.http_status in (400, 401, 404)


async def test_an_unreachable_axis_is_transient_and_the_secret_stays_out_of_sight() -> None:
    config = AxisConfig(base_url="http://127.0.0.1:9", system_id="s", secret="hush-hush")
    assert "hush-hush" not in repr(config)
    async with AxisClient(config) as axis:
        with pytest.raises(AxisTransientError, match="unreachable") as failure:
            await axis.received_list()
    assert "hush-hush" not in str(failure.value)


async def test_the_client_must_be_opened_and_cannot_be_reused(simulator: AxisSimulator) -> None:
    client = client_for(simulator, NINH_BINH)
    with pytest.raises(RuntimeError, match="async with"):
        await client.received_list()
    async with client:
        assert await client.received_list() == []
    with pytest.raises(RuntimeError, match="closed"):
        async with client:
            pass


async def test_a_signed_package_crosses_the_hub_and_verifies_without_its_trace(
    simulator: AxisSimulator, pki: Any
) -> None:
    agency = pki.agencies[OFFICE]
    signed = edxml.sign(edxml.build(document()), agency.key, pki.chain(agency))
    async with client_for(simulator, NINH_BINH) as ninh_binh, client_for(simulator, VPCP) as vpcp:
        await ninh_binh.send_edoc(signed, sender=OFFICE)
        (item,) = await vpcp.received_list()
        relayed = await vpcp.get_edoc(item.doc_id)
    assert relayed != signed
    assert edxml.remove_trace_header(relayed, simulator.config.trace_organ_id) == signed
