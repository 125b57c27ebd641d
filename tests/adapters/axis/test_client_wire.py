"""What AxisClient puts on the wire, compared with what the official SDK sent (the capture)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from adapters.axis.client import AxisClient, AxisConfig
from tests.adapters.conftest import VECTOR_SECRET
from tests.factories import FIXTURES

#: The SDK's timestamps in the capture: 25112026T020252+0554 and +0590 (milliseconds).
SEND_TIME = dt.datetime(2026, 11, 25, 2, 2, 52, 554_000)
AGENCIES_TIME = dt.datetime(2026, 11, 25, 2, 2, 52, 590_000)


def captured(path: str) -> dict[str, Any]:
    for line in (FIXTURES / "vectors" / "sdk_capture.jsonl").read_text().splitlines():
        request = json.loads(line)
        if request["path"] == path:
            return request
    raise KeyError(path)


class Recorder:
    """A server that keeps each request as received and answers OK."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, list[tuple[str, str]], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((request.method, request.path, list(request.headers.items()), body))
        return web.json_response({"status": "OK", "ErrorCode": "0", "DocId": "x", "data": []})


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    recording = Recorder()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{operation}", recording.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield recording, f"http://{host}:{port}"
    await runner.cleanup()


def _sdk_fields(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers that carry meaning: XroadVnpt-*, Content-Type, User-Agent, in order."""
    kept = {"content-type", "user-agent"}
    return [(k, v) for k, v in headers if k.startswith("XroadVnpt-") or k.lower() in kept]


def _client(url: str, when: dt.datetime) -> AxisClient:
    config = AxisConfig(base_url=url, system_id="00.42.W00", secret=VECTOR_SECRET)
    return AxisClient(config, clock=lambda: when)


async def test_send_edoc_is_the_sdks_request_byte_for_byte(
    recorder: tuple[Recorder, str],
) -> None:
    recording, url = recorder
    package = (FIXTURES / "samples" / "edoc_new.edxml").read_bytes()
    async with _client(url, SEND_TIME) as axis:
        await axis.send_edoc(package, sender="000.00.00.H42")
    ((method, path, headers, body),) = recording.requests
    sdk = captured("/sendEdoc")
    assert (method, path) == (sdk["method"], sdk["path"])
    assert body == base64.b64decode(sdk["body_b64"])
    assert dict(headers)["Content-Length"] == str(len(body))
    ours, theirs = _sdk_fields(headers), _sdk_fields(sdk["headers"])
    assert sorted(ours) == sorted(theirs)
    signed = [(k, v) for k, v in ours if k.startswith("XroadVnpt-")]
    assert signed == [(k, v) for k, v in theirs if k.startswith("XroadVnpt-")]


async def test_get_agencies_list_signs_what_the_sdk_signed(recorder: tuple[Recorder, str]) -> None:
    recording, url = recorder
    async with _client(url, AGENCIES_TIME) as axis:
        await axis.agencies()
    ((method, path, headers, body),) = recording.requests
    sdk = captured("/getAgenciesList")
    assert (method, path, body) == (sdk["method"], sdk["path"], b"")
    assert sorted(_sdk_fields(headers)) == sorted(_sdk_fields(sdk["headers"]))


async def test_every_captured_operation_is_the_sdks_request_byte_for_byte(
    recorder: tuple[Recorder, str],
) -> None:
    """The capture's session replayed through one client: each request signs exactly the
    SDK's fields — its header map's leftovers from earlier calls included, in the map's own
    (Java HashMap) order — so sign-header-key, sign-header, hash-header and body are the
    SDK's. Before, four of the six operations signed fewer headers than the SDK does."""
    recording, url = recorder
    package = (FIXTURES / "samples" / "edoc_new.edxml").read_bytes()
    doc_id = "5f1e2d3c4b5a69788796a5b4"
    async with _client(url, SEND_TIME) as axis:
        await axis.send_edoc(package, sender="000.00.00.H42")
        await axis.received_list()
        await axis.get_edoc(doc_id)
        await axis.update_status(doc_id, "done")
        await axis.sent_list()
    async with _client(url, AGENCIES_TIME) as agencies:
        await agencies.agencies()
    paths = [path for _, path, _, _ in recording.requests]
    assert paths == [
        "/sendEdoc",
        "/getReceivedEdocList",
        "/getEdoc",
        "/updateStatus",
        "/getSentEdocList",
        "/getAgenciesList",
    ]
    for method, path, headers, body in recording.requests:
        sdk = captured(path)
        assert (method, body) == (sdk["method"], base64.b64decode(sdk["body_b64"])), path
        signed = [(k, v) for k, v in headers if k.startswith("XroadVnpt-")]
        assert signed == [(k, v) for k, v in sdk["headers"] if k.startswith("XroadVnpt-")], path


async def test_the_timestamp_is_vietnam_time_whatever_the_host_clock(
    recorder: tuple[Recorder, str],
) -> None:
    """The SDK formats its host's local time, which on the axis' side is Vietnam time; a
    container's clock is often UTC, 7 hours off. Before, ours followed the host's zone."""
    recording, url = recorder
    config = AxisConfig(base_url=url, system_id="00.42.W00", secret=VECTOR_SECRET)
    async with AxisClient(config) as axis:  # the default clock
        await axis.received_list()
    ((_, _, headers, _),) = recording.requests
    sent = dt.datetime.strptime(dict(headers)["XroadVnpt-timestamp"][:15], "%d%m%YT%H%M%S")
    vietnam = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).replace(tzinfo=None)
    assert abs((vietnam - sent).total_seconds()) < 60
