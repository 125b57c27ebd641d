"""The LGSP client against the simulator's LGSP face, on a real socket: tokens, every
operation, its refusals and its faults, and the shared poller over an LGSP inbox."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

import edxml
from adapters.axis.poller import MemorySeenDocIds, poll_once
from adapters.axis.types import ReceivedItem
from adapters.lgsp.client import LgspClient
from adapters.lgsp.types import LgspConfig, LgspPermanentError, LgspTransientError
from devtools.axis_simulator import AxisSimulator, FaultPlan
from tests.adapters.conftest import LGSP_ACCESS, client_for, simulator_config
from tests.factories import document, status


def lgsp_for(simulator: AxisSimulator, **overrides: object) -> LgspClient:
    settings: dict[str, object] = {
        "base_url": simulator.url,
        "consumer_key": LGSP_ACCESS.consumer_key,
        "consumer_secret": LGSP_ACCESS.consumer_secret,
        "unit_secret": LGSP_ACCESS.unit_secret,
        "timeout_seconds": 5.0,
        **overrides,
    }
    return LgspClient(LgspConfig(**settings))  # type: ignore[arg-type]


async def test_a_document_goes_out_through_the_lgsp_and_its_answer_comes_back(
    simulator: AxisSimulator,
) -> None:
    package = edxml.build(document())
    async with lgsp_for(simulator) as lgsp, client_for(simulator, "000.00.00.G22") as vpcp:
        doc_id = await lgsp.send_edoc(package, to='["000.00.00.G22"]')
        assert doc_id
        (item,) = await vpcp.received_list("edoc")
        assert item.sender == "000.00.01.H42"
        received = edxml.parse(await vpcp.get_edoc(item.doc_id))
        assert isinstance(received, edxml.DocumentPackage)
        assert received.subject == document().subject
        await vpcp.update_status(item.doc_id, "done")
        await vpcp.send_edoc(edxml.build(status()), sender="000.00.00.G22", message_type="status")

        assert await lgsp.received_list("edoc") == []
        (answer,) = await lgsp.received_list("status")
        assert (answer.sender, answer.message_type, answer.status) == (
            "000.00.00.G22",
            "status",
            "INITIAL",
        )
        answered = edxml.parse(await lgsp.get_edoc(answer.doc_id))
        assert isinstance(answered, edxml.StatusPackage)
        assert answered.status_code == "03"
        await lgsp.update_status(answer.doc_id, "done")
        assert await lgsp.received_list("status") == []


async def test_the_units_are_listed_registered_and_unregistered(simulator: AxisSimulator) -> None:
    async with lgsp_for(simulator) as lgsp:
        everyone = {unit.code for unit in await lgsp.agencies()}
        assert {"000.00.01.H42", "000.00.00.G22"} <= everyone
        ours = {unit.code for unit in await lgsp.agencies("H42")}
        assert ours == {code for code in everyone if code.endswith(".H42")}
        await lgsp.register_agency(
            code="000.00.36.H42", name="UBND huyện Kim Sơn", parent="000.00.00.H42"
        )
        assert "000.00.36.H42" in {unit.code for unit in await lgsp.agencies("H42")}
        await lgsp.unregister_agency("000.00.36.H42")
        assert "000.00.36.H42" not in {unit.code for unit in await lgsp.agencies("H42")}
        with pytest.raises(LgspPermanentError, match="404"):
            await lgsp.unregister_agency("000.00.36.H42")


async def test_one_token_serves_many_calls_and_is_renewed_before_it_expires() -> None:
    config = simulator_config(lgsp_token_seconds=1.0)
    async with (
        AxisSimulator(config) as simulator,
        lgsp_for(simulator, refresh_margin_seconds=0.3) as lgsp,
    ):
        await asyncio.gather(*(lgsp.received_list() for _ in range(10)))
        assert simulator.lgsp.issued == 1  # ten calls at once, one token
        await asyncio.sleep(0.8)  # within the margin of its expiry: renewed, never a 401
        await lgsp.received_list()
        assert simulator.lgsp.issued == 2
        assert lgsp.tokens.fetched == 2


async def test_a_revoked_token_is_renewed_once_and_the_call_goes_through(
    simulator: AxisSimulator,
) -> None:
    async with lgsp_for(simulator) as lgsp:
        await lgsp.received_list()
        simulator.lgsp.revoke_all()  # the API manager restarted
        await asyncio.gather(*(lgsp.received_list() for _ in range(5)))
        assert simulator.lgsp.issued == 2  # the five callers shared the one renewal


async def test_wrong_client_credentials_are_permanent_and_say_what_to_check(
    simulator: AxisSimulator,
) -> None:
    async with lgsp_for(simulator, consumer_secret="wrong") as lgsp:
        with pytest.raises(LgspPermanentError, match="consumer key and secret") as refused:
            await lgsp.received_list()
    assert refused.value.http_status == 401
    assert "wrong" not in str(refused.value)


async def test_a_wrong_unit_secret_is_refused_for_good(simulator: AxisSimulator) -> None:
    async with lgsp_for(simulator, unit_secret="not-ours") as lgsp:
        with pytest.raises(LgspPermanentError, match="403") as refused:
            await lgsp.send_edoc(edxml.build(document()))
    assert not refused.value.transient
    assert simulator.hub.summary()["sent"] == 0


async def test_a_package_the_platform_refuses_is_permanent(simulator: AxisSimulator) -> None:
    async with lgsp_for(simulator) as lgsp:
        with pytest.raises(LgspPermanentError, match="not valid edXML"):
            await lgsp.send_edoc(b"<not-edxml/>")
        stranger = document(recipients=(edxml.Organization(organ_id="000.00.00.X99"),))
        with pytest.raises(LgspPermanentError, match="unknown recipient"):
            await lgsp.send_edoc(edxml.build(stranger))


@pytest.mark.parametrize(
    ("plan", "status"),
    [
        (FaultPlan(burst_5xx=10), 503),
        (FaultPlan(throttle_rate=1.0), 429),
        (FaultPlan(error_rate=1.0), 500),
    ],
)
async def test_the_platforms_failures_are_transient(
    simulator: AxisSimulator, plan: FaultPlan, status: int
) -> None:
    simulator.faults.set(plan)
    async with lgsp_for(simulator) as lgsp:
        with pytest.raises(LgspTransientError) as failed:
            await lgsp.received_list()
    assert failed.value.http_status == status


async def test_a_dropped_send_is_in_doubt_and_a_dropped_read_is_not(
    simulator: AxisSimulator,
) -> None:
    async with lgsp_for(simulator) as lgsp:
        await lgsp.received_list()  # a token first: the drop then hits the call itself
        simulator.faults.set(FaultPlan(drop_rate=1.0))
        with pytest.raises(LgspTransientError) as dropped_send:
            await lgsp.send_edoc(edxml.build(document()))
        with pytest.raises(LgspTransientError) as dropped_read:
            await lgsp.received_list()
    assert dropped_send.value.in_doubt
    assert not dropped_read.value.in_doubt


@contextlib.asynccontextmanager
async def platform(
    answer: Callable[[web.Request, bytes], Awaitable[web.Response]],
) -> AsyncIterator[LgspConfig]:
    """A stand-in platform on a real socket whose every answer ``answer`` decides."""

    async def endpoint(request: web.Request) -> web.Response:
        return await answer(request, await request.read())

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield LgspConfig(
            base_url=f"http://{host}:{port}",
            consumer_key="key",
            consumer_secret="consumer-secret",
            unit_secret="unit-secret",
        )
    finally:
        await runner.cleanup()


async def test_the_api_managers_throttling_code_is_transient() -> None:
    async def throttled(request: web.Request, body: bytes) -> web.Response:
        if request.path == "/token":
            return web.json_response({"access_token": "t", "expires_in": 3600})
        return web.json_response({"code": "900802", "message": "Message throttled out"})

    async with platform(throttled) as config, LgspClient(config) as lgsp:
        with pytest.raises(LgspTransientError, match="throttled"):
            await lgsp.received_list()


async def test_the_requests_on_the_wire() -> None:
    """The token by client credentials (HTTP Basic); then the bearer, the unit's secret,
    the kind and the recipient as headers, and the package as base64 text."""
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    async def record(request: web.Request, body: bytes) -> web.Response:
        seen.append((request.method, request.path, dict(request.headers), body))
        if request.path == "/token":
            return web.json_response({"access_token": "tok-1", "expires_in": 3600})
        return web.json_response({"status": "OK", "errorCode": "0", "docId": "d-1"})

    package = edxml.build(document())
    async with platform(record) as config, LgspClient(config) as lgsp:
        assert await lgsp.send_edoc(package, to='["000.00.00.G22"]') == "d-1"
        await lgsp.update_status("d-9", "done")
    (_, token_path, token_headers, token_body), send, ack = seen
    assert token_path == "/token"
    assert token_body == b"grant_type=client_credentials"
    basic = base64.b64encode(b"key:consumer-secret").decode()
    assert token_headers["Authorization"] == f"Basic {basic}"
    method, path, headers, body = send
    assert (method, path) == ("POST", "/truclienthong/v1.0.0/vanbans")
    assert headers["Authorization"] == "Bearer tok-1"
    assert headers["secret"] == "unit-secret"
    assert (headers["loaiVanBan"], headers["to"]) == ("edoc", '["000.00.00.G22"]')
    assert headers["Content-Type"].startswith("text/plain")
    assert base64.b64decode(body, validate=True) == package
    assert int(headers["Content-Length"]) == len(body)
    assert (ack[0], ack[1]) == ("PUT", "/truclienthong/v1.0.0/vanbans/d-9")
    assert ack[2]["status"] == "DONE"


async def test_the_poller_takes_an_lgsp_inbox_like_the_axis_one(simulator: AxisSimulator) -> None:
    async with client_for(simulator, "000.00.00.G22") as vpcp, lgsp_for(simulator) as lgsp:
        await vpcp.send_edoc(edxml.build(status()), sender="000.00.00.G22", message_type="status")
        handed: list[tuple[ReceivedItem, bytes]] = []

        async def handover(item: ReceivedItem, package: bytes) -> None:
            handed.append((item, package))

        seen = MemorySeenDocIds()
        report = await poll_once(lgsp, handover, seen)
        assert len(report.handed_over) == 1
        assert not report.axis_errors
        assert handed[0][0].message_type == "status"
        again = await poll_once(lgsp, handover, seen)
        assert again.handed_over == []
        assert again.duplicates == []
