"""The ministry REST destination against a real HTTP server: contract and error classes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from adapters.ministry_rest import (
    MinistryRestClient,
    MinistryRestConfig,
    RestPermanentError,
    RestTransientError,
)


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, list[web.Request], list[int]]]:
    seen: list[web.Request] = []
    answers: list[int] = []

    async def receive(request: web.Request) -> web.Response:
        seen.append(request)
        await request.read()
        status = answers.pop(0) if answers else 201
        if status == 201:
            return web.json_response({"id": f"m-{len(seen)}"}, status=201)
        return web.Response(status=status, text="no")

    app = web.Application()
    app.router.add_post("/packages", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/packages", seen, answers
    await runner.cleanup()


async def test_post_and_error_classes(endpoint: tuple[str, list[web.Request], list[int]]) -> None:
    url, seen, answers = endpoint
    config = MinistryRestConfig(url=url, token="t0ken")
    assert "t0ken" not in repr(config)
    async with MinistryRestClient(config) as client:
        assert await client.send(b"<edXML/>", recipient="000.00.00.G10") == "m-1"
        (request,) = seen
        assert request.headers["Authorization"] == "Bearer t0ken"
        assert request.headers["X-Edxml-Recipient"] == "000.00.00.G10"
        for status, error in (
            (503, RestTransientError),
            (429, RestTransientError),
            (400, RestPermanentError),
        ):
            answers.append(status)
            with pytest.raises(error) as failure:
                await client.send(b"<edXML/>", recipient="000.00.00.G10")
            assert failure.value.http_status == status
    async with MinistryRestClient(
        MinistryRestConfig(url="http://127.0.0.1:9/x", token="t")
    ) as down:
        with pytest.raises(RestTransientError, match="unreachable"):
            await down.send(b"<edXML/>", recipient="r")
