"""The whole gateway over a provincial LGSP (the simulator's LGSP face), from its settings:
a document out and its answers back, a document in and our 01 out, through the platform's
faults, an API manager that restarts (every token revoked), and a probe of its circuit."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import edxml
from adapters.axis.types import AxisTransientError
from devtools.axis_simulator import AxisSimulator, FaultPlan
from gateway.config import GatewaySettings, LgspSettings
from gateway.delivery.retry import RetryPolicy
from gateway.delivery.routing import Route
from gateway.http.api.app import PREFIX
from gateway.http.api.clients import create_client
from gateway.runtime import Runtime
from tests.adapters.conftest import LGSP_ACCESS, client_for
from tests.factories import document, organization, status
from tests.gateway.flows import until
from tests.gateway.harness import _record

VPCP, OFFICE = "000.00.00.G22", "000.00.01.H42"
ENVIRON = {
    "TEST_LGSP_CONSUMER_SECRET": LGSP_ACCESS.consumer_secret,
    "TEST_LGSP_UNIT_SECRET": LGSP_ACCESS.unit_secret,
}


@dataclasses.dataclass
class Running:
    runtime: Runtime
    url: str
    auth: dict[str, str]


@pytest.fixture
async def gateway(simulator: AxisSimulator, tmp_path: Path) -> AsyncIterator[Running]:
    """Ninh Bình's gateway reaching every other agency through its LGSP, polling it."""
    settings = GatewaySettings(
        data_dir=tmp_path / "data",
        lgsp={
            "lgsp": LgspSettings(
                base_url=simulator.url,
                consumer_key=LGSP_ACCESS.consumer_key,
                consumer_secret_env="TEST_LGSP_CONSUMER_SECRET",
                unit_secret_env="TEST_LGSP_UNIT_SECRET",
                poll_interval_seconds=0.1,
                timeout_seconds=5,
            )
        },
        routes=(Route(pattern="*", destination="lgsp"),),
        own_agencies=("*.H42",),
        signature_required=False,
        pdf_signature_policy="off",
        retry=RetryPolicy(delays_seconds=(0.1, 0.1, 0.1, 0.1, 0.1, 0.1), jitter=0.0),
    )
    async with Runtime(settings, ENVIRON) as runtime:
        runner = web.AppRunner(runtime.web_app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        _, key = await create_client(runtime.store, "QLVB", ["*.H42"])
        stop = asyncio.Event()
        workers = asyncio.create_task(runtime.run_workers(stop))
        try:
            yield Running(runtime, f"http://{host}:{port}", {"Authorization": f"Bearer {key}"})
        finally:
            stop.set()
            await workers
            await runner.cleanup()


async def _delivery(http: aiohttp.ClientSession, gateway: Running, sent: dict[str, Any]) -> Any:
    async with http.get(f"{gateway.url}{sent['status_url']}", headers=gateway.auth) as answer:
        (delivery,) = (await answer.json())["deliveries"]
    return delivery


async def test_a_document_goes_through_the_lgsp_and_its_answers_come_back(
    gateway: Running, simulator: AxisSimulator
) -> None:
    simulator.faults.set(FaultPlan(burst_5xx=3))  # the token and the first sends fail first
    async with aiohttp.ClientSession() as http, client_for(simulator, VPCP) as vpcp:
        async with http.post(
            f"{gateway.url}{PREFIX}/documents", json=_record(), headers=gateway.auth
        ) as answer:
            assert answer.status == 202, await answer.text()
            sent = await answer.json()

        async def listed() -> bool:
            try:
                return bool(await vpcp.received_list("edoc"))
            except AxisTransientError:  # the burst hits everyone's calls
                return False

        await until(listed, timeout=20)
        (item,) = await vpcp.received_list("edoc")
        assert (item.sender, item.receivers) == (OFFICE, VPCP)
        delivery = await _delivery(http, gateway, sent)
        assert delivery["state"] == "sent"
        assert delivery["route"] == "lgsp"
        received = edxml.parse(await vpcp.get_edoc(item.doc_id))
        assert isinstance(received, edxml.DocumentPackage)
        await vpcp.update_status(item.doc_id, "done")

        simulator.lgsp.revoke_all()  # the platform's API manager restarts meanwhile
        answer_03 = status(
            response_for=dataclasses.replace(
                status().response_for,
                document_id=received.document_id,
                code=str(received.code),
                promulgation_date=received.promulgation.date,
            )
        )
        await vpcp.send_edoc(edxml.build(answer_03), sender=VPCP, message_type="status")

        async def accepted() -> bool:
            return (await _delivery(http, gateway, sent))["state"] == "accepted"

        await until(accepted, timeout=20)
    assert simulator.lgsp.issued >= 2  # renewed after the revocation, the poll went on
    beats = await gateway.runtime.store.stalled("poller:lgsp", gateway.runtime.store.now(), 0)
    assert beats is not None  # the LGSP poller beats under its own name
    assert beats.error is None


async def test_a_document_comes_in_through_the_lgsp_and_our_01_goes_back(
    gateway: Running, simulator: AxisSimulator
) -> None:
    incoming = document(
        sender=organization(VPCP, organ_name="Văn phòng Chính phủ"),
        recipients=(organization(OFFICE),),
        document_id=f"{VPCP},2026/11/25,12/VPCP-HC",
        code=edxml.Code(number="12", notation="VPCP-HC"),
        trace_headers=(),
    )
    async with aiohttp.ClientSession() as http, client_for(simulator, VPCP) as vpcp:
        await vpcp.send_edoc(edxml.build(incoming), sender=VPCP, to=f'["{OFFICE}"]')

        async def in_the_inbox() -> bool:
            async with http.get(f"{gateway.url}{PREFIX}/inbox", headers=gateway.auth) as r:
                return bool((await r.json())["items"])

        await until(in_the_inbox, timeout=20)

        async def answered() -> bool:
            return bool(await vpcp.received_list("status"))

        await until(answered, timeout=20)
        (item,) = await vpcp.received_list("status")
        answer = edxml.parse(await vpcp.get_edoc(item.doc_id))
    assert isinstance(answer, edxml.StatusPackage)
    assert (answer.sender.organ_id, answer.status_code) == (OFFICE, "01")
    assert not simulator.hub.pending_for(OFFICE)  # acknowledged on the platform


async def test_a_probe_of_the_lgsp_takes_a_new_token_and_closes_its_circuit(
    gateway: Running, simulator: AxisSimulator
) -> None:
    dispatcher = gateway.runtime.dispatcher
    simulator.faults.set(FaultPlan(outage_seconds=3600))
    answered, said = await dispatcher.probe_now("lgsp")
    assert answered is False
    assert "503" in said
    simulator.faults.set(FaultPlan())
    issued = simulator.lgsp.issued
    assert await dispatcher.probe_now("lgsp") == (True, "answered")
    assert simulator.lgsp.issued == issued + 1
    assert (await gateway.runtime.store.circuits())["lgsp"]["state"] == "closed"


async def test_the_directory_comes_from_the_lgsp_and_refuses_an_unknown_recipient(
    gateway: Running, simulator: AxisSimulator
) -> None:
    store = gateway.runtime.store

    async def synchronised() -> bool:
        return (await store.directory_state())[0] > 0

    await until(synchronised, timeout=20)
    assert await store.listed_agencies([VPCP]) == {VPCP}
    stranger = _record(recipients=[{"organ_id": "000.00.00.X99", "organ_name": "Không có"}])
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{gateway.url}{PREFIX}/documents", json=stranger, headers=gateway.auth) as r,
    ):
        assert r.status == 422
        problems = (await r.json())["problems"]
    assert [p["rule"] for p in problems] == ["route.directory"]
