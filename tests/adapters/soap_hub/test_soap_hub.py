"""The SOAP hub client against the simulator's SOAP face, over real HTTP, files included."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import aiohttp
import pytest

import edxml
from adapters.errors import TransportError
from adapters.soap_hub import (
    SoapHubClient,
    SoapHubConfig,
    SoapHubPermanentError,
    SoapHubTransientError,
    Trace,
)
from devtools.axis_simulator import AxisSimulator, FaultPlan
from tests.adapters.conftest import client_for
from tests.factories import document, organization

TAY_NINH = "000.00.11.H53"  # an agency behind an old SOAP hub
NINH_BINH, OFFICE, VPCP = "00.42.W00", "000.00.01.H42", "000.00.00.G22"
BIG_FILE = b"%PDF-1.7\n" + os.urandom(5 * 1024 * 1024)


def soap_client(
    simulator: AxisSimulator, token: str = "secret-of-tay-ninh", **extra: object
) -> SoapHubClient:
    config = SoapHubConfig(
        endpoint=f"{simulator.url}/soap/edoc",
        organ_id=TAY_NINH,
        token=token,
        **extra,  # type: ignore[arg-type]
    )
    return SoapHubClient(config)


def _big_document(**overrides: object) -> edxml.DocumentPackage:
    attachment = edxml.Attachment(
        content_id="scan-1", name="bao_cao_quy_IV.pdf", data=BIG_FILE, description="Báo cáo"
    )
    return document(attachments=(attachment,), **overrides)


async def test_a_document_with_a_5_mb_file_from_the_rest_side_to_a_soap_agency(
    simulator: AxisSimulator,
) -> None:
    to_tay_ninh = _big_document(recipients=(organization(TAY_NINH, organ_name="Sở Tài chính"),))
    async with client_for(simulator, NINH_BINH) as ninh_binh:
        await ninh_binh.send_edoc(edxml.build(to_tay_ninh), sender=OFFICE)
    async with soap_client(simulator) as hub:
        (doc_id,) = await hub.pending_document_ids()
        received = await hub.get_document(doc_id)
        assert isinstance(received, edxml.DocumentPackage)
        (attachment,) = received.attachments
        assert attachment.data == BIG_FILE
        assert (attachment.name, attachment.content_id) == ("bao_cao_quy_IV.pdf", "scan-1")
        assert received.subject == to_tay_ninh.subject
        assert received.signer == to_tay_ninh.signer  # Author/Function in the e-doc flavour
        assert received.trace_headers[-1].organ_id == VPCP  # the hub's TraceHeader came along

        await hub.confirm_received(doc_id)  # the hub answers 01 on our behalf (spec 2.1)
        assert await hub.pending_document_ids() == []
        when = dt.datetime(2026, 11, 25, 14, 0, 0)
        await hub.update_traces(
            [Trace(received.document_id or "", TAY_NINH, "03", when, "Đã vào sổ", staff="Trần B")]
        )

    async with client_for(simulator, NINH_BINH) as ninh_binh:
        codes = []
        for item in await ninh_binh.received_list("status"):
            status = edxml.parse(await ninh_binh.get_edoc(item.doc_id))
            assert isinstance(status, edxml.StatusPackage)
            assert status.response_for.document_id == received.document_id
            assert status.sender.organ_id == TAY_NINH
            codes.append(status.status_code)
        assert codes == ["01", "03"]


async def test_a_soap_agency_sends_with_a_file_and_reads_the_traces(
    simulator: AxisSimulator,
) -> None:
    package = _big_document(
        sender=organization(TAY_NINH, organ_name="Sở Tài chính tỉnh Tây Ninh"),
        document_id="000.00.11.H53,2026/11/25,12/STC-VP",
        code=edxml.Code(number="12", notation="STC-VP"),
    )
    async with soap_client(simulator) as hub:
        hub_id = await hub.send_document(package)
        assert len(hub_id) == 24

    async with client_for(simulator, "000.00.00.G22") as vpcp:
        (item,) = await vpcp.received_list()
        assert item.sender == TAY_NINH
        received = edxml.parse(await vpcp.get_edoc(item.doc_id))
        assert isinstance(received, edxml.DocumentPackage)
        assert received.attachments[0].data == BIG_FILE
        await vpcp.update_status(item.doc_id, "done")
        status = edxml.StatusPackage(
            sender=organization(VPCP, organ_name="Văn phòng Chính phủ"),
            response_for=edxml.ResponseFor(
                organ_id=TAY_NINH, code="12/STC-VP", document_id=package.document_id
            ),
            status_code="06",
            description="Đã xử lý xong",
            timestamp=dt.datetime(2026, 11, 25, 16, 30, 0),
        )
        await vpcp.send_edoc(edxml.build(status), sender=VPCP, message_type="status")

    async with soap_client(simulator) as hub:
        (trace,) = await hub.get_traces()
        assert (trace.document_id, trace.organ_id, trace.status_code) == (
            package.document_id,
            VPCP,
            "06",
        )
        assert trace.timestamp == dt.datetime(2026, 11, 25, 16, 30, 0)
        assert await hub.get_traces(since=dt.datetime.now() + dt.timedelta(days=1)) == []
        names = {o.organ_id: o.name for o in await hub.organizations()}
        assert names[TAY_NINH] == "Sở Tài chính tỉnh Tây Ninh"


async def test_a_status_package_travels_through_send_document(simulator: AxisSimulator) -> None:
    async with client_for(simulator, NINH_BINH) as ninh_binh:
        await ninh_binh.send_edoc(
            edxml.build(document(recipients=(organization(TAY_NINH),))), sender=OFFICE
        )
    status = edxml.StatusPackage(
        sender=organization(TAY_NINH),
        response_for=edxml.ResponseFor(
            organ_id=OFFICE, code="05/UBND-VP", document_id=document().document_id
        ),
        status_code="02",
        description="Sai nơi nhận",
        timestamp=dt.datetime(2026, 11, 25, 9, 0, 0),
    )
    async with soap_client(simulator) as hub:
        await hub.send_document(status)
    async with client_for(simulator, NINH_BINH) as ninh_binh:
        (item,) = await ninh_binh.received_list("status")
        received = edxml.parse(await ninh_binh.get_edoc(item.doc_id))
        assert dataclasses.replace(received, trace_headers=()) == status


# -- refusals and faults ------------------------------------------------------------------------


async def test_a_wrong_token_is_a_permanent_refusal(simulator: AxisSimulator) -> None:
    async with soap_client(simulator, token="guess") as hub:
        with pytest.raises(SoapHubPermanentError) as refused:
            await hub.pending_document_ids()
    assert refused.value.code == "M.Token"
    assert "guess" not in str(refused.value)


async def test_an_unknown_document_is_a_permanent_refusal(simulator: AxisSimulator) -> None:
    async with soap_client(simulator) as hub:
        with pytest.raises(SoapHubPermanentError) as refused:
            await hub.get_document("0" * 24)
        assert refused.value.code == "M.DocumentId"
        with pytest.raises(SoapHubPermanentError, match=r"no document"):
            await hub.confirm_received("0" * 24)


async def test_a_package_from_another_agency_is_refused(simulator: AxisSimulator) -> None:
    async with soap_client(simulator) as hub:
        with pytest.raises(SoapHubPermanentError, match="not an agency"):
            await hub.send_document(document())  # From 000.00.01.H42: not Tây Ninh's


@pytest.mark.parametrize(
    "plan",
    [FaultPlan(outage_seconds=60), FaultPlan(error_rate=1.0), FaultPlan(drop_rate=1.0)],
    ids=["outage", "error", "drop"],
)
async def test_faults_are_transient_on_both_paths(
    simulator: AxisSimulator, plan: FaultPlan
) -> None:
    simulator.faults.set(plan)
    async with soap_client(simulator, timeout_seconds=2.0) as hub:
        with pytest.raises(SoapHubTransientError) as zeep_path:
            await hub.pending_document_ids()
        with pytest.raises(SoapHubTransientError) as framed_path:
            await hub.send_document(_big_document(sender=organization(TAY_NINH)))
    assert isinstance(zeep_path.value, TransportError)
    assert framed_path.value.transient


async def test_an_unreachable_hub_is_transient() -> None:
    config = SoapHubConfig(endpoint="http://127.0.0.1:9/soap/edoc", organ_id=TAY_NINH, token="t")
    assert "'t'" not in repr(config)
    async with SoapHubClient(config) as hub:
        with pytest.raises(SoapHubTransientError, match="unreachable"):
            await hub.organizations()


async def test_the_wsdl_is_served_with_this_servers_address(simulator: AxisSimulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{simulator.url}/soap/edoc?wsdl") as response:
            text = await response.text()
        async with session.post(f"{simulator.url}/soap/edoc", data=b"<not-soap") as response:
            assert response.status == 500
            assert "not a SOAP message" in await response.text()
    assert f'location="{simulator.url}/soap/edoc"' in text
    assert "SendDocument" in text
