"""/readyz goes not ready when RabbitMQ cannot be reached, and ready again when it can."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web

from adapters.broker.amqp import AmqpBroker
from gateway.config import GatewaySettings
from gateway.runtime import Runtime

from .test_queue import AMQP_URL


async def test_readyz_follows_the_broker(tmp_path: Path) -> None:
    prefix = f"edxml-test-{uuid.uuid4().hex[:8]}"
    settings = GatewaySettings(
        data_dir=tmp_path, broker_url=AMQP_URL, broker_prefix=prefix, signature_required=False
    )
    async with Runtime(settings) as runtime:
        runner = web.AppRunner(runtime.web_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://{host}:{port}/readyz") as response:
                    assert response.status == 200, await response.text()
                broker = runtime.broker
                assert isinstance(broker, AmqpBroker)
                reachable = broker.settings
                await broker.close()  # RabbitMQ "goes away": nothing listens on port 9
                broker.settings = dataclasses.replace(
                    reachable, url="amqp://guest:guest@127.0.0.1:9/"
                )
                async with http.get(f"http://{host}:{port}/readyz") as response:
                    body = await response.json()
                    assert response.status == 503
                    assert body["checks"]["broker"]["ok"] is False
                    assert body["checks"]["store"]["ok"] is True
                broker.settings = reachable  # back
                async with http.get(f"http://{host}:{port}/readyz") as response:
                    assert response.status == 200
            await broker.delete_all()
        finally:
            await runner.cleanup()
