"""Two gateways in process, one simulated axis, real HTTP: the front doors' test harness."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import edxml
from adapters.axis.client import AxisClient
from adapters.axis.poller import MemorySeenDocIds, poll_once
from adapters.axis.server import Freshness, install_axis_routes
from adapters.blobs import BlobStore
from adapters.store.store import Store, utc_now
from adapters.url_policy import UrlPolicy
from devtools.axis_simulator import AxisSimulator
from devtools.devca import DevPki
from edxml import SigningIdentity
from gateway.delivery.destinations import AxisDestination
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.embedded import run_embedded
from gateway.delivery.routing import RoutingTable
from gateway.http.api.app import MAX_REQUEST_BYTES, PREFIX, ApiContext, build_api
from gateway.http.api.clients import create_client
from gateway.http.vdxp import FacadeSystem, VdxpBackend
from gateway.inbound.pipeline import InboundPipeline
from gateway.outbound.directory import sync_agencies
from gateway.signing import Signers
from tests.adapters.conftest import client_for
from tests.conftest import open_store
from tests.factories import EXAMPLES, PDF

RECORD = json.loads((EXAMPLES / "record.json").read_text())
#: The tests' QLVBs listen on loopback over plain HTTP: allowed as a province's LAN would be.
LOOPBACK = UrlPolicy.of(schemes=["http"], hosts=[], networks=["127.0.0.0/8"])


def _record(**changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(RECORD)
    record["recipients"] = [{"organ_id": "000.00.00.G22", "organ_name": "Văn phòng Chính phủ"}]
    record["attachments"] = [
        {
            "content_id": "cv-05",
            "name": "05_UBND-VP.pdf",
            "description": "Công văn",
            "data_base64": base64.b64encode(PDF).decode(),
        }
    ]
    record.update(changes)
    return record


class Gateway:
    """One gateway's parts, in process, with its API (and facade) on a real port."""

    def __init__(
        self, store: Store, blobs: BlobStore, axis: AxisClient, pipeline: InboundPipeline
    ) -> None:
        self.store, self.blobs, self.axis, self.pipeline = store, blobs, axis, pipeline
        self.dispatcher = Dispatcher(store, blobs, {"axis": AxisDestination(axis)})
        self.url = ""
        self.seen = MemorySeenDocIds()
        self.context: ApiContext | None = None

    async def deliver(self) -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(run_embedded(self.dispatcher, stop=stop, idle_seconds=0.01))
        for _ in range(500):
            counts = await self.store.counts_by_state()
            if not {"queued", "sending", "retry_wait"} & set(counts):
                break
            await asyncio.sleep(0.02)
        stop.set()
        await worker

    async def poll(self) -> None:
        await poll_once(self.axis, self.pipeline.handover(), self.seen)


@pytest.fixture
async def gateways(
    simulator: AxisSimulator, pki: DevPki, tmp_path: Path, backend: str
) -> AsyncIterator[tuple[Gateway, Gateway]]:
    trust = edxml.TrustStore(roots=(pki.root.certificate,))
    routing = RoutingTable()
    built: list[Gateway] = []
    runners: list[web.AppRunner] = []
    async with (
        open_store(backend, tmp_path / "a", utc_now) as store_a,
        open_store(backend, tmp_path / "b", utc_now) as store_b,
        client_for(simulator, "00.42.W00") as axis_a,
        client_for(simulator, "000.00.00.G22") as axis_b,
    ):
        for store, axis, own, keyed in (
            (store_a, axis_a, ("*.H42",), ("000.00.01.H42", "000.00.12.H42")),
            (store_b, axis_b, ("000.00.00.G22",), ("000.00.00.G22",)),
        ):
            agency = keyed[0]
            signers = Signers(
                {
                    organ: SigningIdentity(
                        pki.agencies[organ].key, tuple(pki.chain(pki.agencies[organ]))
                    )
                    for organ in keyed
                },
                required=True,
            )
            blobs = BlobStore(tmp_path / agency / "blobs")
            pipeline = InboundPipeline(store, blobs, routing, own, signers=signers, trust=trust)
            gateway = Gateway(store, blobs, axis, pipeline)
            await sync_agencies(store, axis)  # unknown recipients are refused at acceptance
            app = web.Application(client_max_size=MAX_REQUEST_BYTES)
            gateway.context = ApiContext(
                store, blobs, routing, signers, pipeline, webhook_policy=LOOPBACK
            )
            app.add_subapp(PREFIX, build_api(gateway.context))
            facade = VdxpBackend(
                store,
                blobs,
                routing,
                {"qlvb-vp": FacadeSystem("qlvb-vp", "facade-secret", own)},
                signers=signers,
            )
            install_axis_routes(app, facade, prefix="/vdxp", freshness=Freshness())
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            gateway.url = f"http://{host}:{port}"
            runners.append(runner)
            built.append(gateway)
        try:
            yield built[0], built[1]
        finally:
            for runner in runners:
                await runner.cleanup()


async def _key(gateway: Gateway, agencies: list[str]) -> dict[str, str]:
    _, key = await create_client(gateway.store, "QLVB", agencies)
    return {"Authorization": f"Bearer {key}"}
