"""The front doors as an attacker and a careless client meet them: forged, replayed, stale,
duplicated, out of order, too big, too deep. Two gateways, one simulated axis, real HTTP;
each refusal leaves nothing behind."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

import edxml
from adapters.axis.auth import vietnam_now
from adapters.axis.client import AxisClient, AxisConfig, AxisPermanentError
from adapters.store.schema import deliveries, idempotency_keys, messages
from gateway.http.api.app import PREFIX
from tests.factories import PDF

from .harness import Gateway, _key, _record

OTHERS = [
    {"organ_id": "000.00.00.G22", "organ_name": "Văn phòng Chính phủ"},
    {"organ_id": "000.00.11.H53", "organ_name": "Sở Tài chính tỉnh Tây Ninh"},
    {"organ_id": "000.00.00.H42", "organ_name": "UBND tỉnh Ninh Bình"},
]


async def _count(gateway: Gateway, table: sa.Table = messages, **where: Any) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    async with gateway.store.engine.connect() as connection:
        return int(await connection.scalar(query) or 0)


def _blob_files(gateway: Gateway) -> list[str]:
    return [p.name for p in gateway.blobs.root.rglob("*") if p.is_file()]


def _sdk(gateway: Gateway, clock: Any = None) -> AxisClient:
    config = AxisConfig(base_url=f"{gateway.url}/vdxp", system_id="qlvb-vp", secret="facade-secret")
    return AxisClient(config, clock=clock)


def _package(**changes: Any) -> bytes:
    record = _record(
        sender={"organ_id": "000.00.00.G22", "organ_name": "Văn phòng Chính phủ"},
        recipients=[{"organ_id": "000.00.01.H42", "organ_name": "Văn phòng UBND"}],
        code={"number": "99", "notation": "VPCP-TTĐT"},
        **changes,
    )
    return edxml.build(edxml.from_record(record, now=dt.datetime(2026, 11, 25, 15, 0)))


# -- the VDXP facade ------------------------------------------------------------------------------


async def test_the_facade_refuses_a_forged_sender_before_storing_anything(
    gateways: tuple[Gateway, Gateway],
) -> None:
    """``from`` names the system's own agency, the package's From another one: refused, and
    neither a message nor a blob remains (before, it was stored and queued, then refused)."""
    _, b = gateways
    forged = edxml.build(
        edxml.from_record(_record(), now=dt.datetime(2026, 11, 25, 15, 0))
    )  # From 000.00.01.H42: not an agency of qlvb-vp
    async with _sdk(b) as sdk:
        with pytest.raises(AxisPermanentError) as refused:
            await sdk.send_edoc(forged, sender="000.00.00.G22")
    assert refused.value.http_status == 403
    assert await _count(b) == 0
    assert await _count(b, deliveries) == 0
    assert _blob_files(b) == []


async def test_the_facade_refuses_stale_and_future_timestamps(
    gateways: tuple[Gateway, Gateway],
) -> None:
    _, b = gateways
    for moment in (dt.datetime(2020, 1, 2, 8, 0), dt.datetime(2099, 1, 2, 8, 0)):
        async with _sdk(b, clock=lambda moment=moment: moment) as sdk:
            with pytest.raises(AxisPermanentError, match="timestamp") as refused:
                await sdk.send_edoc(_package(), sender="000.00.00.G22")
        assert refused.value.http_status == 401
    assert await _count(b) == 0


async def test_a_replayed_send_edoc_is_answered_once_and_stored_once(
    gateways: tuple[Gateway, Gateway],
) -> None:
    """The same signed request twice (an attacker's replay, or the SDK's own retry with its
    fixed timestamp): the same DocId, one message."""
    _, b = gateways
    moment = vietnam_now()
    package = _package()
    async with _sdk(b, clock=lambda: moment) as sdk:
        first = await sdk.send_edoc(package, sender="000.00.00.G22")
        again = await sdk.send_edoc(package, sender="000.00.00.G22")
    assert first == again
    assert await _count(b, direction="out") == 1


# -- idempotency keys -----------------------------------------------------------------------------


def _multipart(record: dict[str, Any], file: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("record", json.dumps(record), content_type="application/json")
    form.add_field("file", file, filename="05_UBND-VP.pdf", content_type="application/pdf")
    return form


async def test_an_idempotency_key_tells_apart_two_uploads_of_the_same_length(
    gateways: tuple[Gateway, Gateway],
) -> None:
    """Before, the key was compared with the Content-Length only: a different document of
    the same size got 202 and was never stored."""
    a, _ = gateways
    auth = await _key(a, ["*.H42"])
    record = _record()
    del record["attachments"]
    other = PDF.replace(b"%PDF-1.", b"%PDF-2.", 1)
    assert len(other) == len(PDF)
    assert other != PDF
    headers = {**auth, "Idempotency-Key": "upload-1"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{a.url}{PREFIX}/documents", data=_multipart(record, PDF), headers=headers
        ) as r:
            assert r.status == 202, await r.text()
        async with http.post(
            f"{a.url}{PREFIX}/documents", data=_multipart(record, other), headers=headers
        ) as r:
            assert r.status == 422
            assert "another request" in (await r.json())["title"]
        async with http.post(
            f"{a.url}{PREFIX}/documents", data=_multipart(record, PDF), headers=headers
        ) as r:
            assert r.status == 202
            assert (await r.json())["replayed"] is True
    assert await _count(a) == 1


async def test_a_key_left_running_by_a_crash_is_free_again_and_keys_expire(
    gateways: tuple[Gateway, Gateway],
) -> None:
    a, _ = gateways
    auth = await _key(a, ["*.H42"])
    body = json.dumps(_record()).encode()
    (client_id,) = list(await _clients(a))
    digest = hashlib.sha256(body).hexdigest()
    request_hash = hashlib.sha256(f"{digest}|False".encode()).hexdigest()
    # a request claimed this key ten minutes ago, and its process died before storing
    assert await a.store.claim_request(client_id, "crashed", request_hash) == ("new", None)
    long_ago = a.store.now() - dt.timedelta(minutes=10)
    async with a.store.engine.begin() as connection:
        await connection.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.key == "crashed")
            .values(created_at=long_ago)
        )
    headers = {**auth, "Idempotency-Key": "crashed", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{a.url}{PREFIX}/documents", data=body, headers=headers) as r:
            assert r.status == 202, await r.text()  # before: 409 "still running", for ever
            first = (await r.json())["id"]
        # the key expires: after its window a different request may use it
        async with a.store.engine.begin() as connection:
            await connection.execute(
                idempotency_keys.update()
                .where(idempotency_keys.c.key == "crashed")
                .values(expires_at=long_ago)
            )
        other = json.dumps(_record(code={"number": "06", "notation": "UBND-VP"})).encode()
        async with http.post(f"{a.url}{PREFIX}/documents", data=other, headers=headers) as r:
            assert r.status == 202, await r.text()
            assert (await r.json())["id"] != first


async def _clients(gateway: Gateway) -> list[str]:
    from adapters.store.schema import api_clients

    async with gateway.store.engine.connect() as connection:
        return list((await connection.execute(sa.select(api_clients.c.id))).scalars())


# -- the same document again ----------------------------------------------------------------------


async def test_the_same_document_id_again_is_refused_naming_the_first(
    gateways: tuple[Gateway, Gateway],
) -> None:
    """Before, the same DocumentId was accepted four times and sent four times."""
    a, _ = gateways
    auth = await _key(a, ["*.H42"])
    url = f"{a.url}{PREFIX}/documents"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=_record(), headers=auth) as r:
            assert r.status == 202
            first = await r.json()
        async with http.post(url, json=_record(), headers=auth) as r:
            assert r.status == 409
            problem = await r.json()
        assert first["id"] in problem["detail"]
        assert problem["problems"][0]["rule"] == "document.duplicate"
        async with http.post(url, params={"resend": "true"}, json=_record(), headers=auth) as r:
            assert r.status == 202  # the client says it means it
        # once every copy of the earlier ones failed, the document may be sent again
        async with a.store.engine.begin() as connection:
            await connection.execute(deliveries.update().values(state="failed"))
        async with http.post(url, json=_record(), headers=auth) as r:
            assert r.status == 202
    assert await _count(a, direction="out") == 3


# -- malformed and oversized ----------------------------------------------------------------------


async def test_deeply_nested_json_is_a_400_with_a_problem(
    gateways: tuple[Gateway, Gateway],
) -> None:
    a, b = gateways
    auth = await _key(a, ["*.H42"])
    deep = b"[" * 100_000 + b"]" * 100_000
    async with aiohttp.ClientSession() as http:
        for path in ("/documents", "/webhook"):
            method = http.put if path == "/webhook" else http.post
            async with method(
                f"{a.url}{PREFIX}{path}",
                data=deep,
                headers={**auth, "Content-Type": "application/json"},
            ) as r:
                assert r.status == 400, path
                assert r.content_type == "application/problem+json"
                assert "nested too deeply" in await r.text()
    # the facade's `to` field, read from a signed header
    async with _sdk(b, clock=vietnam_now) as sdk:
        with pytest.raises(AxisPermanentError, match="not JSON") as refused:
            await sdk.send_edoc(_package(), sender="000.00.00.G22", to="[" * 3000)
    assert refused.value.http_status == 400
    assert await _count(b) == 0


async def test_more_recipients_than_the_setting_allows_is_a_422_naming_it(
    gateways: tuple[Gateway, Gateway],
) -> None:
    a, _ = gateways
    assert a.context is not None
    a.context.max_recipients = 2
    auth = await _key(a, ["*.H42"])
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{a.url}{PREFIX}/documents", json=_record(recipients=OTHERS), headers=auth) as r,
    ):
        assert r.status == 422
        (problem,) = (await r.json())["problems"]
    assert problem["rule"] == "limits.max_recipients"
    assert "max_recipients_per_document" in problem["message"]
    assert await _count(a) == 0
    assert _blob_files(a) == []


# -- statuses we report -------------------------------------------------------------------------


async def test_a_status_that_moves_a_received_document_backwards_is_a_409(
    gateways: tuple[Gateway, Gateway],
) -> None:
    """Before, a QLVB reported 06, then 03, then 02, and all three were sent."""
    a, b = gateways
    auth_a = await _key(a, ["*.H42"])
    auth_b = await _key(b, ["000.00.00.G22"])
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{a.url}{PREFIX}/documents", json=_record(), headers=auth_a) as r:
            assert r.status == 202
        await a.deliver()
        await b.poll()  # B answers 01 by itself
        async with http.get(f"{b.url}{PREFIX}/inbox", headers=auth_b) as r:
            (item,) = (await r.json())["items"]
        status_url = f"{b.url}{PREFIX}/inbox/{item['id']}/status"
        answers = []
        for code in ("06", "03", "02", "06"):
            body = {"status_code": code, "description": f"trạng thái {code}"}
            async with http.post(status_url, json=body, headers=auth_b) as r:
                answers.append((code, r.status, await r.json()))
    assert [(code, status) for code, status, _ in answers] == [
        ("06", 202),
        ("03", 409),
        ("02", 409),
        ("06", 409),
    ]
    assert answers[1][2]["detail"] == "current status: 06"
    assert answers[1][2]["problems"][0]["rule"] == "status.order"
    # two statuses went out: the automatic 01 and the 06
    sent = await _count(b, message_type="status", direction="out")
    assert sent == 2
