"""The official VPCP axis SDK (SDKVXP 2.0.1) against our simulator and our VDXP facade.

A QLVB product embeds this SDK and nothing else: each operation must come back OK, the
document it fetches must be the one sent (attachment bytes equal), and a refusal must reach
it as a result with the reason (before, it crashed on an error reply without ``DocId`` and
returned null), including for a document between two of our own agencies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding

import edxml
from devtools.axis_simulator import AxisSimulator
from devtools.devca import DevPki
from gateway.config import FacadeSystemSettings, GatewaySettings
from gateway.delivery.routing import Route
from gateway.http.api.app import PREFIX
from gateway.runtime import Runtime
from tests.adapters.conftest import VECTOR_SECRET
from tests.adapters.conftest import simulator as simulator  # noqa: PLC0414 (a fixture)
from tests.factories import PDF, document, organization
from tests.gateway.harness import Gateway, _key, _record
from tests.gateway.harness import gateways as gateways  # noqa: PLC0414 (a fixture)

from .conftest import Peer

OFFICE, STTTT, VPCP = "000.00.01.H42", "000.00.12.H42", "000.00.00.G22"


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the peers judge the wire; the store backends have their own tests


def _write(tmp_path: Path, name: str, package: edxml.Package) -> Path:
    path = tmp_path / name
    path.write_bytes(edxml.build(package))
    return path


def _fetched(peer: Peer, result: dict[str, Any]) -> edxml.DocumentPackage:
    """The package the SDK wrote where it said (xml/yyyy/MM/docId.edxml, in its folder)."""
    assert result["status"] == "OK", result
    package = edxml.parse((peer.store / result["filePath"]).read_bytes())
    assert isinstance(package, edxml.DocumentPackage)
    return package


async def test_the_sdk_completes_every_operation_against_our_simulator(
    peer: Peer, simulator: AxisSimulator, tmp_path: Path
) -> None:
    url = simulator.url
    ours = (url, "00.42.W00", VECTOR_SECRET)
    theirs = (url, VPCP, "secret-of-vpcp")
    file = _write(tmp_path, "out.edxml", document())
    sent = await peer.sdk(*ours, "send", OFFICE, str(file))
    assert (sent["status"], bool(sent["docId"])) == ("OK", True), sent
    received = await peer.sdk(*theirs, "received")
    assert received["status"] == "OK", received
    (item,) = received["items"]
    assert (item["from"], item["to"]) == (OFFICE, VPCP)
    package = _fetched(peer, await peer.sdk(*theirs, "get", item["docId"]))
    assert package.attachments[0].data == PDF
    assert (await peer.sdk(*theirs, "update", item["docId"], "done"))["status"] == "OK"
    assert (await peer.sdk(*theirs, "received"))["items"] == []
    listed = await peer.sdk(*ours, "sent")
    assert listed["status"] == "OK", listed
    assert [(row["senderDocId"], row["toCode"]) for row in listed["items"]] == [
        (sent["docId"], VPCP)
    ]
    agencies = await peer.sdk(*ours, "agencies")
    assert agencies["status"] == "OK"
    assert {OFFICE, VPCP} <= set(agencies["codes"])


async def test_a_refusal_reaches_the_sdk_with_its_reason(
    peer: Peer, simulator: AxisSimulator, tmp_path: Path
) -> None:
    """Before, the SDK crashed reading an error reply without ``DocId`` and returned null."""
    stranger = document(sender=organization("000.00.00.G10"))  # not an agency of 00.42.W00
    file = _write(tmp_path, "forged.edxml", stranger)
    refused = await peer.sdk(simulator.url, "00.42.W00", VECTOR_SECRET, "send", OFFICE, str(file))
    assert "null" not in refused, refused
    assert refused["status"] == "FAIL", refused
    assert "000.00.00.G10" in refused["errorDesc"]
    wrong = await peer.sdk(simulator.url, "00.42.W00", "not-the-secret", "received")
    assert "null" not in wrong, wrong
    assert wrong["status"] == "FAIL"
    missing = await peer.sdk(simulator.url, VPCP, "secret-of-vpcp", "get", "no-such-document")
    assert "null" not in missing, missing
    assert missing["status"] == "FAIL"


async def test_the_sdk_completes_every_operation_against_our_facade(
    peer: Peer, gateways: tuple[Gateway, Gateway], tmp_path: Path
) -> None:
    a, b = gateways
    facade = (f"{b.url}/vdxp", "qlvb-vp", "facade-secret")
    auth_a = await _key(a, ["*.H42"])
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{a.url}{PREFIX}/documents", json=_record(), headers=auth_a) as r,
    ):
        assert r.status == 202, await r.text()
    await a.deliver()
    await b.poll()
    received = await peer.sdk(*facade, "received")
    assert received["status"] == "OK", received
    (item,) = received["items"]
    package = _fetched(peer, await peer.sdk(*facade, "get", item["docId"]))
    assert package.attachments[0].data == PDF
    assert (await peer.sdk(*facade, "update", item["docId"], "done"))["status"] == "OK"
    reply = document(
        sender=organization(VPCP, organ_name="Văn phòng Chính phủ"),
        recipients=(organization(OFFICE),),
        code=edxml.Code(number="99", notation="VPCP-TTĐT"),
        document_id="000.00.00.G22,2026/11/25,99/VPCP-TTĐT",
    )
    sent = await peer.sdk(*facade, "send", VPCP, str(_write(tmp_path, "reply.edxml", reply)))
    assert (sent["status"], bool(sent["docId"])) == ("OK", True), sent
    listed = await peer.sdk(*facade, "sent")
    assert listed["status"] == "OK", listed
    assert (sent["docId"], OFFICE) in {
        (row["senderDocId"], row["toCode"]) for row in listed["items"]
    }
    agencies = await peer.sdk(*facade, "agencies")
    assert agencies["status"] == "OK"
    assert VPCP in agencies["codes"]
    forged = document()  # From 000.00.01.H42: not an agency of qlvb-vp
    refused = await peer.sdk(*facade, "send", VPCP, str(_write(tmp_path, "forged.edxml", forged)))
    assert "null" not in refused, refused
    assert refused["status"] == "FAIL"


async def test_a_document_between_two_of_our_agencies_through_the_facade(
    peer: Peer, tmp_path: Path, pki: DevPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Office's QLVB sends with the SDK to the Sở TT&TT, both ours: the Sở's QLVB, also
    on the SDK, fetches the very document (local route, our inbound pipeline)."""
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "root.pem").write_bytes(pki.root.certificate.public_bytes(Encoding.PEM))
    monkeypatch.setenv("SECRET_VP", "secret-vp")
    monkeypatch.setenv("SECRET_STTTT", "secret-stttt")
    settings = GatewaySettings(
        data_dir=tmp_path / "data",
        routes=(Route(pattern="*.H42", destination="local"),),
        own_agencies=("*.H42",),
        signature_required=False,
        trust_dir=trust,
        vdxp_systems={
            "qlvb-vp": FacadeSystemSettings(secret_env="SECRET_VP", agencies=(OFFICE,)),
            "qlvb-stttt": FacadeSystemSettings(secret_env="SECRET_STTTT", agencies=(STTTT,)),
        },
    )
    async with Runtime(settings) as runtime:
        runner = web.AppRunner(runtime.web_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        endpoint = f"http://{host}:{port}/vdxp"
        stop = asyncio.Event()
        workers = asyncio.create_task(runtime.run_workers(stop))
        try:
            between = document(
                recipients=(organization(STTTT, organ_name="Sở TT&TT"),),
                promulgation=edxml.PromulgationInfo(place="Ninh Bình", date=dt.date.today()),
            )
            file = _write(tmp_path, "between.edxml", between)
            sent = await peer.sdk(endpoint, "qlvb-vp", "secret-vp", "send", OFFICE, str(file))
            assert sent["status"] == "OK", sent
            for _ in range(100):
                received = await peer.sdk(endpoint, "qlvb-stttt", "secret-stttt", "received")
                if received["items"]:
                    break
                await asyncio.sleep(0.1)
            (item,) = received["items"]
            fetched = await peer.sdk(endpoint, "qlvb-stttt", "secret-stttt", "get", item["docId"])
            assert _fetched(peer, fetched).attachments[0].data == PDF
            done = await peer.sdk(
                endpoint, "qlvb-stttt", "secret-stttt", "update", item["docId"], "done"
            )
            assert done["status"] == "OK"
        finally:
            stop.set()
            await workers
            await runner.cleanup()
