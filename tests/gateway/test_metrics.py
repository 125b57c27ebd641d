"""/metrics moves when documents flow: accepted, sent, the latency histogram, signature failures."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding

from adapters.store.engine import create_engine, migrate
from devtools.devca import DevPki
from gateway.config import GatewaySettings
from gateway.delivery.routing import Route
from gateway.http.api.clients import create_client
from gateway.runtime import Runtime
from tests.backends import drop_backend, open_backend
from tests.factories import document

from .harness import _record
from .test_inbound import _signed

G22 = "000.00.00.G22"


def _value(text: str, sample: str) -> float:
    """The value of one sample line (``name{labels}``) of the Prometheus text."""
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{sample} missing from\n{text}"
    return float(match.group(1))


async def test_metrics_move_when_documents_flow(tmp_path: Path, pki: DevPki, backend: str) -> None:
    url, schema = await open_backend(backend, tmp_path)
    engine = create_engine(url, schema=schema)
    await migrate(engine)
    await engine.dispose()
    try:
        await _flow(tmp_path, pki, url, schema)
    finally:
        await drop_backend(url, schema)


async def _flow(tmp_path: Path, pki: DevPki, database_url: str, schema: str | None) -> None:
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "root.pem").write_bytes(pki.root.certificate.public_bytes(Encoding.PEM))
    settings = GatewaySettings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        database_schema=schema,
        routes=(Route(pattern="*", destination="local"),),
        own_agencies=(G22, "000.00.01.H42"),
        signature_required=False,
        pdf_signature_policy="off",
        trust_dir=trust,
    )
    async with Runtime(settings) as runtime:
        runner = web.AppRunner(runtime.web_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}"
        _, key = await create_client(runtime.store, "QLVB", ["*"])
        try:
            async with aiohttp.ClientSession() as http:

                async def scrape() -> str:
                    async with http.get(f"{url}/metrics") as response:
                        assert response.status == 200
                        assert response.content_type == "text/plain"
                        return await response.text()

                before = await scrape()
                assert _value(before, "edxml_deliveries_sent_total") == 0
                assert _value(before, "edxml_delivery_latency_seconds_count") == 0
                assert _value(before, 'edxml_delivery_latency_seconds_bucket{le="+Inf"}') == 0
                assert _value(before, "edxml_signature_failures_total") == 0

                async with http.post(
                    f"{url}/api/v1/documents",
                    json=_record(),
                    headers={"Authorization": f"Bearer {key}"},
                ) as response:
                    assert response.status == 202, await response.text()
                stop = asyncio.Event()
                workers = asyncio.create_task(runtime.run_workers(stop))
                # the document reaches G22 locally, and G22's 01 comes back the same way
                for _ in range(300):
                    if await runtime.store.counts_by_state() == {"arrived": 1, "sent": 1}:
                        break
                    await asyncio.sleep(0.05)
                stop.set()
                await workers

                after = await scrape()
                assert _value(after, 'edxml_messages_total{direction="out",type="edoc"}') == 1
                assert _value(after, 'edxml_messages_total{direction="out",type="status"}') == 1
                assert _value(after, 'edxml_deliveries{state="arrived"}') == 1
                assert _value(after, 'edxml_deliveries{state="sent"}') == 1
                assert _value(after, "edxml_deliveries_sent_total") == 2
                assert _value(after, "edxml_delivery_latency_seconds_count") == 2
                assert _value(after, 'edxml_delivery_latency_seconds_bucket{le="+Inf"}') == 2
                assert _value(after, 'edxml_delivery_latency_seconds_bucket{le="86400"}') == 2
                assert 0 <= _value(after, "edxml_delivery_latency_seconds_sum") < 60
                assert _value(after, "edxml_queue_depth") == 0

                good = _signed(pki, document(document_id="000.00.01.H42,2026/11/25,07/UBND-VP"))
                other = document(document_id="000.00.01.H42,2026/11/25,06/UBND-VP")
                tampered = _signed(pki, other).replace(
                    "triển khai".encode(), "TRIỂN KHAI".encode(), 1
                )
                # the local copy went through the inbound checks too: unsigned (no keys here)
                assert _value(after, "edxml_signature_failures_total") == 1
                await runtime.inbound.receive(good, source="axis", remote_id="m1")
                assert _value(await scrape(), "edxml_signature_failures_total") == 1
                await runtime.inbound.receive(tampered, source="axis", remote_id="m2")
                final = await scrape()
                assert _value(final, "edxml_signature_failures_total") == 2
                assert _value(final, 'edxml_messages_total{direction="in",type="edoc"}') == 3
        finally:
            await runner.cleanup()
