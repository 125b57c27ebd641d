"""Inbound documents where they used to be lost: two of our agencies, updates of what we hold,
documents between our own agencies, a sender that sends again, a status we cannot sign yet."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding

import edxml
from adapters.axis.client import AxisClient, AxisConfig
from adapters.blobs import BlobStore
from adapters.store.schema import deliveries, messages
from adapters.store.store import Store
from devtools.axis_simulator import AxisSimulator
from devtools.devca import DevPki
from edxml import SigningIdentity
from gateway.config import AlertSettings, FacadeSystemSettings, GatewaySettings
from gateway.delivery.destinations import AxisDestination
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.retry import RetryPolicy
from gateway.delivery.routing import Route, RoutingTable
from gateway.http.api.app import PREFIX
from gateway.http.api.clients import create_client
from gateway.inbound.pipeline import InboundPipeline
from gateway.operate.alerts import conditions
from gateway.runtime import Runtime
from gateway.signing import Signers
from tests.adapters.conftest import client_for
from tests.factories import document

from .harness import Gateway, _key, _record

OFFICE, STTTT, VPCP = "000.00.01.H42", "000.00.12.H42", "000.00.00.G22"


def _from_vpcp(**changes: Any) -> dict[str, Any]:
    return _record(
        sender={"organ_id": VPCP, "organ_name": "Văn phòng Chính phủ"},
        code={"number": "120", "notation": "VPCP-KGVX"},
        **changes,
    )


async def _inbox(gateway: Gateway, http: aiohttp.ClientSession) -> list[dict[str, Any]]:
    auth = await _key(gateway, ["*.H42"])
    async with http.get(f"{gateway.url}{PREFIX}/inbox", headers=auth) as r:
        return list((await r.json())["items"])


async def _statuses_out(store: Store) -> list[tuple[str, str, bool]]:
    """(code, reporter, waits for a signature) of the statuses we queued, oldest first."""
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(messages.c.status_code, messages.c.sender, messages.c.needs_signature)
                .where(messages.c.direction == "out", messages.c.message_type == "status")
                .order_by(messages.c.created_at)
            )
        ).all()
    return [(row.status_code, row.sender, bool(row.needs_signature)) for row in rows]


async def test_a_document_to_two_of_our_agencies_reaches_both_and_each_answers_01(
    gateways: tuple[Gateway, Gateway],
) -> None:
    """Before, the duplicate key was DocumentId + sender: only the first agency got it."""
    a, b = gateways
    recipients = [
        {"organ_id": OFFICE, "organ_name": "Văn phòng UBND"},
        {"organ_id": STTTT, "organ_name": "Sở TT&TT"},
    ]
    auth_b = await _key(b, [VPCP])
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{b.url}{PREFIX}/documents", json=_from_vpcp(recipients=recipients), headers=auth_b
        ) as r:
            assert r.status == 202, await r.text()
            sent = await r.json()
        await b.deliver()
        await a.poll()
        inbox = await _inbox(a, http)
        assert sorted(item["recipient"] for item in inbox) == [OFFICE, STTTT]
        assert {item["state"] for item in inbox} == {"accepted"}
        assert sorted(await _statuses_out(a.store)) == [("01", OFFICE, False), ("01", STTTT, False)]
        await a.deliver()
        await b.poll()
        async with http.get(f"{b.url}{sent['status_url']}", headers=auth_b) as r:
            document = await r.json()
    assert {(d["recipient"], d["state"]) for d in document["deliveries"]} == {
        (OFFICE, "arrived"),
        (STTTT, "arrived"),
    }


async def test_an_update_or_replacement_of_a_document_we_hold_is_a_new_linked_item(
    gateways: tuple[Gateway, Gateway],
) -> None:
    """Before, an update (business type 2) or a replacement (3) was dropped as a duplicate."""
    a, b = gateways
    auth_b = await _key(b, [VPCP])
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{b.url}{PREFIX}/documents",
            json=_from_vpcp(recipients=[{"organ_id": OFFICE, "organ_name": "Văn phòng UBND"}]),
            headers=auth_b,
        ) as r:
            assert r.status == 202, await r.text()
            original = await r.json()
        await b.deliver()
        await a.poll()
        async with http.post(
            f"{b.url}{PREFIX}/documents/{original['id']}/update",
            json={"reason": "Sửa hạn xử lý", "changes": {"due_date": "2026-12-20"}},
            headers=auth_b,
        ) as r:
            assert r.status == 202, await r.text()
        await b.deliver()
        await a.poll()
        replacement = _from_vpcp(
            recipients=[{"organ_id": OFFICE, "organ_name": "Văn phòng UBND"}],
            subject="V/v triển khai kết nối (thay thế)",
        )
        async with http.post(
            f"{b.url}{PREFIX}/documents/{original['id']}/replace",
            json={"reason": "Thay thế văn bản", "record": replacement},
            headers=auth_b,
        ) as r:
            assert r.status == 202, await r.text()
        await b.deliver()
        await a.poll()
        inbox = await _inbox(a, http)
    first, update, replaced = sorted(inbox, key=lambda item: item["business_type"])
    assert [i["business_type"] for i in (first, update, replaced)] == [0, 2, 3]
    assert {update["state"], replaced["state"]} == {"accepted"}
    assert update["original_id"] == replaced["original_id"] == first["id"]
    assert update["due_date"] == "2026-12-20"
    assert replaced["document_id"] == first["document_id"]  # the same DocumentId, a new item


async def test_a_sender_that_sends_again_gets_the_status_we_gave_again(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    """Before, a suppressed duplicate was answered with nothing: a sender whose 01 was lost
    never learnt that its document had arrived."""
    issued = pki.agencies[VPCP]
    pipeline = InboundPipeline(
        store,
        BlobStore(tmp_path / "blobs"),
        RoutingTable(),
        (VPCP,),
        signers=Signers({VPCP: SigningIdentity(issued.key, tuple(pki.chain(issued)))}),
        trust=edxml.TrustStore(roots=(pki.root.certificate,)),
    )
    sender = pki.agencies[OFFICE]
    good = edxml.sign(edxml.build(document()), sender.key, pki.chain(sender))
    assert (await pipeline.receive(good, source="axis", remote_id="r1")).outcome == "accepted"
    async with store.engine.begin() as connection:  # our 01 went out (and was lost on the way)
        await connection.execute(deliveries.update().values(state="sent"))
    again = await pipeline.receive(good, source="axis", remote_id="r2")
    assert again.outcome == "duplicate"
    answers = await _statuses_out(store)
    assert answers == [("01", VPCP, False), ("01", VPCP, False)]
    async with store.engine.connect() as connection:
        refs = set(
            (
                await connection.execute(
                    sa.select(messages.c.package_ref).where(messages.c.message_type == "status")
                )
            ).scalars()
        )
    assert len(refs) == 1  # the very package we sent, signed, once more


async def test_a_status_we_cannot_sign_yet_is_kept_retried_alerted_and_sent_signed(
    live_store: Store, tmp_path: Path, pki: DevPki, simulator: AxisSimulator
) -> None:
    """Before, the automatic 01 of an agency without a key was dropped after a log line."""
    blobs = BlobStore(tmp_path / "blobs")
    without_key = Signers({}, required=True)
    pipeline = InboundPipeline(
        live_store,
        blobs,
        RoutingTable(),
        (VPCP,),
        signers=without_key,
        trust=edxml.TrustStore(roots=(pki.root.certificate,)),
    )
    sender = pki.agencies[OFFICE]
    good = edxml.sign(edxml.build(document()), sender.key, pki.chain(sender))
    assert (await pipeline.receive(good, source="axis", remote_id="r1")).outcome == "accepted"
    assert await _statuses_out(live_store) == [("01", VPCP, True)]
    quick = RetryPolicy(delays_seconds=(0.05,) * 20, jitter=0)
    async with client_for(simulator, VPCP) as axis:
        unsigned = Dispatcher(
            live_store, blobs, {"axis": AxisDestination(axis)}, retry=quick, signers=without_key
        )
        (job,) = await live_store.claim_due(5, lease_seconds=30)
        outcome = await unsigned.perform(job)
        assert outcome.state == "retry_wait"
        assert "waits for its signature" in outcome.detail
        found = await conditions(
            live_store, without_key, AlertSettings(destination_failures=1), live_store.now()
        )
        assert {alert.key for alert in found} == {f"unsigned:{VPCP}"}  # not "the axis is down"
        issued = pki.agencies[VPCP]
        keyed = Signers({VPCP: SigningIdentity(issued.key, tuple(pki.chain(issued)))})
        signing = Dispatcher(live_store, blobs, {"axis": AxisDestination(axis)}, signers=keyed)
        await asyncio.sleep(0.1)  # the retry is due
        (job,) = await live_store.claim_due(5, lease_seconds=30)
        assert (await signing.perform(job)).state == "sent"
    (sent,) = simulator.hub._sent.values()
    check = edxml.verify(sent.package, edxml.TrustStore(roots=(pki.root.certificate,)))
    assert check.present
    assert await _statuses_out(live_store) == [("01", VPCP, False)]
    async with live_store.engine.connect() as connection:
        ref = await connection.scalar(
            sa.select(messages.c.package_ref).where(messages.c.message_type == "status")
        )
    assert edxml.verify(blobs.get(str(ref)), None).present  # the live_stored one is signed too


async def test_a_document_between_two_of_our_agencies_reaches_the_inbox_and_the_facade(
    tmp_path: Path, pki: DevPki, monkeypatch: Any
) -> None:
    """Before, a local delivery was marked sent but stored without recipient, bypassing the
    inbound pipeline: the recipient's inbox and its facade never showed it."""
    keys = tmp_path / "keys"
    keys.mkdir()
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "root.pem").write_bytes(pki.root.certificate.public_bytes(Encoding.PEM))
    monkeypatch.setenv("FACADE_SECRET", "facade-secret")
    settings = GatewaySettings(
        data_dir=tmp_path / "data",
        routes=(Route(pattern="*.H42", destination="local"),),
        own_agencies=("*.H42",),
        signature_required=False,
        pdf_signature_policy="off",
        trust_dir=trust,
        vdxp_systems={
            "qlvb-stttt": FacadeSystemSettings(secret_env="FACADE_SECRET", agencies=(STTTT,))
        },
    )
    async with Runtime(settings) as runtime:
        runner = web.AppRunner(runtime.web_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}"
        _, key = await create_client(runtime.store, "QLVB", ["*.H42"])
        auth = {"Authorization": f"Bearer {key}"}
        stop = asyncio.Event()
        workers = asyncio.create_task(runtime.run_workers(stop))
        try:
            record = _record(recipients=[{"organ_id": STTTT, "organ_name": "Sở TT&TT"}])
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{url}{PREFIX}/documents", json=record, headers=auth) as r:
                    assert r.status == 202, await r.text()
                    sent = await r.json()
                for _ in range(200):  # delivered locally, and its 01 comes back locally
                    async with http.get(f"{url}{sent['status_url']}", headers=auth) as r:
                        (delivery,) = (await r.json())["deliveries"]
                    if delivery["state"] == "arrived":
                        break
                    await asyncio.sleep(0.05)
                assert delivery["state"] == "arrived"
                async with http.get(f"{url}{PREFIX}/inbox", headers=auth) as r:
                    (item,) = (await r.json())["items"]
            assert (item["recipient"], item["state"]) == (STTTT, "accepted")
            facade = AxisConfig(
                base_url=f"{url}/vdxp", system_id="qlvb-stttt", secret="facade-secret"
            )
            async with AxisClient(facade) as sdk:
                (listed,) = await sdk.received_list()
                assert listed.doc_id == item["id"]
        finally:
            stop.set()
            await workers
            await runner.cleanup()
