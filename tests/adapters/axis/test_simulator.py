"""The simulated axis: the captured SDK requests replayed byte for byte, auth, hub behaviour."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
from typing import Any

import aiohttp
import pytest

import edxml
from adapters.axis.auth import SDK_HEADERS, hash_file, sdk_timestamp, sign_fields
from adapters.errors import ConfigurationError
from devtools.axis_simulator import AxisSimulator, load_simulator_config
from tests.adapters.conftest import ADMIN_TOKEN, VECTOR_SECRET, simulator_config
from tests.factories import FIXTURES, sample

VECTORS = FIXTURES / "vectors"
CAPTURED_DOC_ID = "5f1e2d3c4b5a69788796a5b4"  # the docId the SDK asked for in the capture


def captured() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (VECTORS / "sdk_capture.jsonl").read_text().splitlines()]


async def raw_request(
    url: str, method: str, path: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, bytes]:
    """Send exactly these header lines and body on a fresh connection; return status and body.

    No HTTP client in between: the simulator sees the bytes the SDK sent (Host and Expect
    included), and an interim ``100 Continue`` is skipped as the SDK's HTTP stack does.
    """
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    writer.write(head.encode("latin-1") + b"\r\n" + body)
    await writer.drain()
    try:
        while True:
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            response_headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                response_headers[name.strip().lower()] = value.strip()
            if status != 100:
                break
        length = int(response_headers.get("content-length", "0"))
        return status, await reader.readexactly(length)
    finally:
        writer.close()
        await writer.wait_closed()


async def replay(simulator: AxisSimulator, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = [(name, value) for name, value in request["headers"]]
    body = base64.b64decode(request["body_b64"])
    status, payload = await raw_request(
        simulator.url, request["method"], request["path"], headers, body
    )
    return status, json.loads(payload)


# -- the captured SDK requests --------------------------------------------------------------------


async def test_every_captured_sdk_request_is_accepted_as_sent(simulator: AxisSimulator) -> None:
    # The capture's getEdoc/updateStatus name a docId the recording server had handed out.
    simulator.hub.deposit(
        sample("status_inbox_01.edxml"),
        to="000.00.00.H42",
        sender="000.00.00.G22",
        doc_id=CAPTURED_DOC_ID,
    )
    answers = {}
    for request in captured():
        status, answer = await replay(simulator, request)
        assert (status, answer["status"], answer["ErrorCode"]) == (200, "OK", "0"), answer
        answers[request["path"]] = answer

    sent_id = answers["/sendEdoc"]["DocId"]
    assert len(sent_id) == 24
    assert [item["docId"] for item in answers["/getReceivedEdocList"]["data"]] == [CAPTURED_DOC_ID]
    assert base64.b64decode(answers["/getEdoc"]["data"]) == sample("status_inbox_01.edxml")
    # updateStatus(done) took the item off the list
    assert await simulator.hub.count(_caller("00.42.W00"), "edoc") == 0
    (row,) = answers["/getSentEdocList"]["data"]
    assert (row["senderDocId"], row["toCode"], row["sendStatus"]) == (sent_id, "28.22.H17", "sent")
    codes = {agency["code"] for agency in answers["/getAgenciesList"]["data"]}
    assert {"000.00.00.H42", "000.00.00.G22", "28.22.H17"} <= codes


async def test_the_sent_file_is_the_body_without_the_sdks_crlf(simulator: AxisSimulator) -> None:
    send = captured()[0]
    status, answer = await replay(simulator, send)
    assert status == 200
    (delivery,) = [
        d for d in simulator.hub._deliveries.values() if d.sent.doc_id == answer["DocId"]
    ]
    relayed = delivery.sent.package
    original = (FIXTURES / "samples" / "edoc_new.edxml").read_bytes()
    assert base64.b64decode(send["body_b64"]) == original + b"\r\n"
    # the hub relays the file with its TraceHeader appended, and nothing else changed
    trace = b"<edXML:TraceHeader><edXML:OrganId>000.00.00.G22</edXML:OrganId>"
    assert trace in relayed
    assert (
        relayed.replace(
            relayed[
                relayed.index(trace) : relayed.index(b"</edXML:TraceHeader>", relayed.index(trace))
                + 20
            ],
            b"",
        )
        == original
    )
    assert [t.organ_id for t in edxml.parse(relayed).trace_headers][-1] == "000.00.00.G22"


# -- authentication and input checks --------------------------------------------------------------


def _caller(system_id: str) -> Any:
    from adapters.axis.auth import SignedFields
    from adapters.axis.server import Caller

    return Caller(system_id, SignedFields({"systemid": system_id}))


def _resigned(request: dict[str, Any], secret: str, **changes: str) -> list[tuple[str, str]]:
    """The captured request's headers with some signed fields changed, signed again."""
    headers = request["headers"]
    keys = dict(headers)["XroadVnpt-sign-header-key"].split(";")
    values = {name: dict(headers)[f"XroadVnpt-{name}"] for name in keys}
    values.update(changes)
    signed = sign_fields([(name, values[name]) for name in keys], secret=secret)
    kept = [
        (k, v) for k, v in headers if not k.startswith("XroadVnpt-") or k == "XroadVnpt-version"
    ]
    return kept + signed


async def _send_captured(
    simulator: AxisSimulator, headers: list[tuple[str, str]], body: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    send = captured()[0]
    payload = base64.b64decode(send["body_b64"]) if body is None else body
    headers = [(k, str(len(payload)) if k == "Content-Length" else v) for k, v in headers]
    status, raw = await raw_request(simulator.url, "POST", "/sendEdoc", headers, payload)
    return status, json.loads(raw)


@pytest.mark.parametrize(
    ("case", "status", "needle"),
    [
        ("wrong secret", 401, "wrong secret"),
        ("tampered sign-header", 401, "does not match"),
        ("header differs from signed", 401, "differs from what was signed"),
        ("malformed timestamp", 401, "timestamp"),
        ("unknown system", 401, "unknown system id"),
        ("wrong hash-file", 400, "hash-file"),
        ("foreign from", 403, "not an agency of system 00.42.W00"),
        ("no signature", 401, "not signed"),
    ],
)
async def test_bad_requests_are_refused_in_the_envelope(
    simulator: AxisSimulator, case: str, status: int, needle: str
) -> None:
    send = captured()[0]
    headers = [(k, v) for k, v in send["headers"]]
    if case == "wrong secret":
        headers = _resigned(send, "not-the-secret")
    elif case == "tampered sign-header":
        headers = [
            (k, v.replace("000.00.00.H42", "000.00.00.G22") if k == "XroadVnpt-sign-header" else v)
            for k, v in headers
        ]
    elif case == "header differs from signed":
        headers = [(k, "000.00.00.G22" if k == "XroadVnpt-from" else v) for k, v in headers]
    elif case == "malformed timestamp":
        headers = _resigned(send, VECTOR_SECRET, timestamp="2026-11-25T02:02:52")
    elif case == "unknown system":
        headers = _resigned(send, VECTOR_SECRET, systemid="00.99.W00")
    elif case == "wrong hash-file":
        headers = _resigned(send, VECTOR_SECRET, **{"hash-file": hash_file(b"other")})
    elif case == "foreign from":
        headers = _resigned(send, VECTOR_SECRET, **{"from": "000.00.00.G22"})
    elif case == "no signature":
        headers = [(k, v) for k, v in headers if k != "XroadVnpt-hash-header"]
    code, answer = await _send_captured(simulator, headers)
    assert code == status
    assert answer["status"] == "FAIL"
    assert answer["ErrorCode"] == str(status)
    assert needle in answer["ErrorDesc"]
    assert simulator.hub.summary()["sent"] == 0


async def test_malformed_edxml_is_refused_with_the_reason(simulator: AxisSimulator) -> None:
    body = b"<edXML><not-closed></edXML>"
    headers = _resigned(captured()[0], VECTOR_SECRET, **{"hash-file": hash_file(body)})
    status, answer = await _send_captured(simulator, headers, body)
    assert (status, answer["ErrorCode"]) == (400, "422")
    assert "not valid edXML" in answer["ErrorDesc"]


async def test_a_package_sender_outside_the_calling_system_is_refused(
    simulator: AxisSimulator,
) -> None:
    body = sample("status_inbox_01.edxml")  # From 000.00.00.H41: not Ninh Bình's
    headers = _resigned(
        captured()[0], VECTOR_SECRET, **{"hash-file": hash_file(body), "messagetype": "status"}
    )
    status, answer = await _send_captured(simulator, headers, body)
    assert status == 403
    assert "From 000.00.00.H41" in answer["ErrorDesc"]


async def test_multipart_file_doc_with_a_padded_hash_is_accepted(simulator: AxisSimulator) -> None:
    package = sample("edoc_new.edxml")
    fields = [
        ("systemid", "00.42.W00"),
        ("servicetype", "eDoc"),
        ("messagetype", "edoc"),
        ("hash-file", hashlib.sha256(package).hexdigest()),  # what other clients write
        ("from", "000.00.00.H42"),
        ("timestamp", sdk_timestamp(dt.datetime.now())),
    ]
    form = aiohttp.FormData()
    form.add_field("file_doc", package, filename="edoc_new.edxml", content_type="text/xml")
    async with aiohttp.ClientSession() as session:
        headers = dict(sign_fields(fields, secret=VECTOR_SECRET)) | dict(SDK_HEADERS)
        async with session.post(f"{simulator.url}/sendEdoc", data=form, headers=headers) as r:
            answer = await r.json()
    assert answer["status"] == "OK", answer
    (delivery,) = simulator.hub._deliveries.values()
    assert delivery.to == "28.22.H17"
    assert edxml.parse(delivery.sent.package).document_id == edxml.parse(package).document_id


# -- admin endpoint and configuration -------------------------------------------------------------


async def test_the_admin_endpoint_needs_its_token_and_checks_the_plan(
    simulator: AxisSimulator,
) -> None:
    url = f"{simulator.url}/_admin/faults"
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession() as session:
        async with session.put(url, json={"burst_5xx": 2}) as response:
            assert response.status == 401
            assert response.content_type == "application/problem+json"
        async with session.put(url, json={"error_rate": 3, "bogus": 1}, headers=auth) as response:
            assert response.status == 400
            problem = await response.json()
            assert {item["field"] for item in problem["detail"]} == {"error_rate", "bogus"}
        async with session.put(url, json={"burst_5xx": 2}, headers=auth) as response:
            assert (await response.json())["burst_left"] == 2
        async with session.get(f"{simulator.url}/_admin/state", headers=auth) as response:
            assert (await response.json())["systems"] == [
                "00.17.W00",
                "00.42.W00",
                "00.53.W00",
                "000.00.00.G22",
            ]
        # connections to the axis' API, not the admin requests that ask
        connections = f"{simulator.url}/_admin/connections"
        async with session.delete(connections, headers=auth) as response:
            assert await response.json() == {"open": 0, "peak": 0}
        async with aiohttp.ClientSession() as other, other.get(connections) as response:
            assert response.status == 401
        async with session.get(connections, headers=auth) as response:
            assert await response.json() == {"open": 0, "peak": 0}
    assert simulator.faults.plan.burst_5xx == 2


def test_the_demo_config_loads_and_a_bad_one_is_named(tmp_path: Any) -> None:
    from tests.factories import ROOT

    config = load_simulator_config(ROOT / "config" / "axis-simulator.json")
    assert any(system.system_id == "00.42.W00" for system in config.systems)
    bad = tmp_path / "bad.json"
    bad.write_text('{"systems": [{"system_id": "x"}]}')
    with pytest.raises(ConfigurationError, match=r"bad\.json"):
        load_simulator_config(bad)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_simulator_config(tmp_path / "missing.json")


def test_a_secret_from_the_environment_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from devtools.axis_simulator import AxisHub, SimulatorConfig, SystemConfig

    config = SimulatorConfig(systems=(SystemConfig(system_id="s", secret_env="SIM_TEST_SECRET"),))
    monkeypatch.delenv("SIM_TEST_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="SIM_TEST_SECRET"):
        AxisHub(config)
    monkeypatch.setenv("SIM_TEST_SECRET", "s3")
    assert AxisHub(config).secret_for("s") == "s3"
    assert "s3" not in repr(SystemConfig(system_id="s", secret="s3"))
    assert simulator_config().faults.error_rate == 0
