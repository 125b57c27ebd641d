"""The front doors end to end: two gateways, one simulated axis, real HTTP everywhere.

Gateway A serves Ninh Bình (system 00.42.W00), gateway B the Government Office
(000.00.00.G22). A's QLVB posts a record; A signs and sends it; B polls it in, checks it,
answers 01, shows it in its inbox; B's clerk reports 03; A's document shows "accepted".
B also serves the VDXP facade, read by a client that speaks only the axis protocol.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import edxml
from adapters.axis.client import AxisClient, AxisConfig, AxisPermanentError
from devtools.axis_simulator import AxisSimulator
from gateway.http.api.app import PREFIX
from gateway.http.api.clients import create_client, revoke_client
from tests.adapters.conftest import client_for
from tests.factories import PDF

from .harness import Gateway, _key, _record


async def test_document_out_inbox_status_back(gateways: tuple[Gateway, Gateway]) -> None:
    a, b = gateways
    auth_a = await _key(a, ["*.H42"])
    auth_b = await _key(b, ["000.00.00.G22"])
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{a.url}{PREFIX}/documents",
            json=_record(),
            headers={**auth_a, "Idempotency-Key": "k-1"},
        ) as r:
            assert r.status == 202, await r.text()
            accepted = await r.json()
        async with http.post(
            f"{a.url}{PREFIX}/documents",
            json=_record(),
            headers={**auth_a, "Idempotency-Key": "k-1"},
        ) as r:
            assert (r.status, (await r.json())["id"]) == (
                202,
                accepted["id"],
            )  # a retry, not a second document
        await a.deliver()
        await b.poll()  # B takes it in, checks it, answers 01
        async with http.get(f"{b.url}{PREFIX}/inbox", headers=auth_b) as r:
            (item,) = (await r.json())["items"]
        assert (item["document_id"], item["state"], item["recipient"]) == (
            accepted["document_id"],
            "accepted",
            "000.00.00.G22",
        )
        assert item["checks"]["signature"]["valid"] is True
        assert item["checks"]["pdf_signatures"]["05_UBND-VP.pdf"]["signatures"] == 0
        async with http.get(
            f"{a.url}{PREFIX}/documents", params={"offset": "1"}, headers=auth_a
        ) as r:
            assert (await r.json())["count"] == 0  # one document: the second page is empty
        async with http.get(
            f"{a.url}{PREFIX}/documents", params={"offset": "-1"}, headers=auth_a
        ) as r:
            assert r.status == 400
        async with http.get(
            f"{b.url}{PREFIX}/inbox/{item['id']}/attachments/cv-05", headers=auth_b
        ) as r:
            assert await r.read() == PDF
        async with http.post(
            f"{b.url}{PREFIX}/inbox/{item['id']}/status",
            json={
                "status_code": "03",
                "description": "Đã vào sổ",
                "staff": {"staff": "Lê Thị Cúc"},
            },
            headers=auth_b,
        ) as r:
            assert r.status == 202, await r.text()
        async with http.post(f"{b.url}{PREFIX}/inbox/{item['id']}/ack", headers=auth_b) as r:
            assert r.status == 200
        await b.deliver()  # B's 01 and 03 go out
        await a.poll()  # A receives them
        async with http.get(f"{a.url}{accepted['status_url']}", headers=auth_a) as r:
            document = await r.json()
        (delivery,) = document["deliveries"]
        assert (delivery["state"], delivery["status_code"]) == ("accepted", "03")
        # 01 and 03 travel together: when 03 comes first, the late 01 changes nothing
        sources = [e["source"] for e in delivery["events"]]
        assert sources[-1] == "status:03"
        assert set(sources) <= {"api", "dispatcher", "status:01", "status:03"}
        async with http.get(
            f"{a.url}{PREFIX}/documents/{accepted['id']}/package", headers=auth_a
        ) as r:
            assert edxml.verify(await r.read(), None).present


async def test_the_vdxp_facade_serves_an_sdk_client(gateways: tuple[Gateway, Gateway]) -> None:
    a, b = gateways
    auth_a = await _key(a, ["*.H42"])
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{a.url}{PREFIX}/documents", json=_record(), headers=auth_a) as r,
    ):
        assert r.status == 202
    await a.deliver()
    await b.poll()
    sdk = AxisClient(
        AxisConfig(base_url=f"{b.url}/vdxp", system_id="qlvb-vp", secret="facade-secret")
    )
    async with sdk:
        (item,) = await sdk.received_list()
        package = edxml.parse(await sdk.get_edoc(item.doc_id))
        assert isinstance(package, edxml.DocumentPackage)
        assert package.attachments[0].data == PDF
        await sdk.update_status(item.doc_id, "done")
        assert await sdk.received_list() == []
        # the SDK's sendEdoc goes through B's outbound pipeline
        reply = edxml.build(
            edxml.from_record(
                _record(
                    sender={"organ_id": "000.00.00.G22", "organ_name": "Văn phòng Chính phủ"},
                    recipients=[{"organ_id": "000.00.01.H42", "organ_name": "Văn phòng UBND"}],
                    code={"number": "99", "notation": "VPCP-TTĐT"},
                ),
                now=dt.datetime(2026, 11, 25, 15, 0),
            )
        )
        doc_id = await sdk.send_edoc(reply, sender="000.00.00.G22")
        (row,) = await sdk.sent_list()
        assert (row.doc_id, row.receiver) == (doc_id, "000.00.01.H42")
    wrong = AxisClient(AxisConfig(base_url=f"{b.url}/vdxp", system_id="qlvb-vp", secret="guess"))
    async with wrong:
        with pytest.raises(AxisPermanentError, match=r"401|wrong secret"):
            await wrong.received_list()


@pytest.mark.parametrize(
    ("case", "status", "rule"),
    [
        ("malformed json", 400, "json"),
        ("wrong type", 422, "record"),
        ("unknown recipient", 422, "route"),
        ("forbidden agency", 403, "auth.agency"),
        ("exe", 422, None),
        ("unsigned pdf", 422, "pdf.signature"),
        ("no key", 401, None),
        ("revoked key", 401, None),
    ],
)
async def test_bad_input_gets_a_clear_problem(
    gateways: tuple[Gateway, Gateway], case: str, status: int, rule: str | None
) -> None:
    a, _ = gateways
    client, key = await create_client(a.store, "QLVB", ["000.00.01.H42"])
    headers = {"Authorization": f"Bearer {key}"}
    body: Any = _record()
    if case == "malformed json":
        body = None
    elif case == "wrong type":
        body = _record(subject=42)
    elif case == "unknown recipient":
        body = _record(recipients=[{"organ_id": "000.00.00.X99"}])
    elif case == "forbidden agency":
        body = _record(sender={"organ_id": "000.00.12.H42", "organ_name": "Sở TT&TT"})
    elif case == "exe":  # a name breaking Điều 8.4 is renamed; a format 8.3 refuses is not
        body["attachments"][0]["name"] = "setup.exe"
    elif case == "unsigned pdf":
        assert a.context is not None
        a.context.pdf_policy = "present"  # the example PDF carries no signature
    elif case == "no key":
        headers = {}
    elif case == "revoked key":
        await revoke_client(a.store, client.id)
    async with aiohttp.ClientSession() as http:
        if body is None:
            response = await http.post(
                f"{a.url}{PREFIX}/documents",
                data=b"{not json",
                headers={**headers, "Content-Type": "application/json"},
            )
        else:
            response = await http.post(f"{a.url}{PREFIX}/documents", json=body, headers=headers)
        async with response:
            assert response.status == status, await response.text()
            assert response.content_type == "application/problem+json"
            problem = await response.json()
    if rule is not None:
        assert any(rule in p["rule"] for p in problem["problems"]), problem
    if case == "exe":
        assert any(
            "8." in p["rule"] or "attachment" in p["field"].lower() or "Attachment" in p["field"]
            for p in problem["problems"]
        ), problem
    assert await a.store.counts_by_state() == {}  # nothing half-accepted


async def test_a_file_over_50_mb_is_refused_413_and_nothing_is_kept(
    gateways: tuple[Gateway, Gateway],
) -> None:
    a, _ = gateways
    auth = await _key(a, ["*.H42"])
    record = _record()
    record["attachments"] = [{"content_id": "big", "file": "big.pdf"}]
    form = aiohttp.FormData()
    form.add_field("record", json.dumps(record), content_type="application/json")
    big = io.BytesIO(b"%PDF" + b"0" * (edxml.MAX_ATTACHMENT_BYTES - 3))  # 50 MB + 1 byte
    form.add_field("file", big, filename="big.pdf", content_type="application/pdf")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{a.url}{PREFIX}/documents", data=form, headers=auth) as response,
    ):
        assert response.status == 413
        problem = await response.json(content_type="application/problem+json")
    assert "50 MB" in problem["title"]
    assert await a.store.counts_by_state() == {}
    assert not any(p.name.startswith(".incoming") for p in a.blobs.root.rglob("*"))


async def test_a_large_json_document_is_accepted(gateways: tuple[Gateway, Gateway]) -> None:
    a, _ = gateways
    record = _record()
    record["attachments"][0]["data_base64"] = base64.b64encode(PDF + b"%" * 3_000_000).decode()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{a.url}{PREFIX}/documents",
            data=io.BytesIO(json.dumps(record).encode()),  # ~4 MB: over aiohttp's 1 MiB default
            headers={**await _key(a, ["*.H42"]), "Content-Type": "application/json"},
        ) as r,
    ):
        assert r.status == 202, await r.text()


@pytest.mark.parametrize("size", [200_000, 7_000_000], ids=["in-memory", "scratch-file"])
async def test_a_document_is_built_whole_in_memory_or_through_a_scratch_file_and_leaves_none(
    gateways: tuple[Gateway, Gateway], size: int
) -> None:
    """A small package is built in memory, one over 8 MiB (7 MB in base64) through a scratch
    file: either way the stored package carries the file intact, its signature verifies, and
    no scratch file or folder (build or upload) is left in the blob store."""
    a, _ = gateways
    data = PDF + b"%" * size
    record = _record()
    record["attachments"] = [{"content_id": "cv", "file": "cong_van.pdf"}]
    form = aiohttp.FormData()
    form.add_field("record", json.dumps(record), content_type="application/json")
    form.add_field(
        "file", io.BytesIO(data), filename="cong_van.pdf", content_type="application/pdf"
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{a.url}{PREFIX}/documents", data=form, headers=await _key(a, ["*.H42"])) as r,
    ):
        assert r.status == 202, await r.text()
        accepted = await r.json()
    view = await a.store.message(accepted["id"], events=False)
    assert view is not None
    stored = a.blobs.get(view.package_ref)
    package = edxml.parse(stored)
    assert isinstance(package, edxml.DocumentPackage)
    assert [f.data for f in package.attachments] == [data]
    assert package.signature is not None
    assert edxml.check(stored).problems == ()
    assert [p.name for p in a.blobs.root.rglob(".*")] == []


async def test_update_replace_and_recall_through_the_api(
    gateways: tuple[Gateway, Gateway], simulator: AxisSimulator
) -> None:
    a, _ = gateways
    auth = await _key(a, ["*.H42"])
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{a.url}{PREFIX}/documents", json=_record(), headers=auth) as r:
            accepted = await r.json()
        base = f"{a.url}{PREFIX}/documents/{accepted['id']}"
        async with http.post(f"{base}/recall", json={"reason": "Nhầm"}, headers=auth) as r:
            assert r.status == 409  # nobody has it yet
        await a.deliver()
        async with http.post(
            f"{base}/update",
            json={"reason": "Sửa", "changes": {"subject": "V/v (sửa)"}},
            headers=auth,
        ) as r:
            assert r.status == 202, await r.text()
        async with http.post(
            f"{base}/update", json={"reason": "Sửa", "changes": {"sender": {}}}, headers=auth
        ) as r:
            assert r.status == 422
        newer = _record(code={"number": "06", "notation": "UBND-VP"})
        async with http.post(
            f"{base}/replace", json={"reason": "Thay", "record": newer}, headers=auth
        ) as r:
            assert r.status == 202, await r.text()
        async with http.post(f"{base}/recall", json={"reason": "Thu hồi"}, headers=auth) as r:
            assert r.status == 202, await r.text()
        await a.deliver()
    async with client_for(simulator, "000.00.00.G22") as vpcp:
        types = []
        for item in await vpcp.received_list():
            package = edxml.parse(await vpcp.get_edoc(item.doc_id))
            assert isinstance(package, edxml.DocumentPackage)
            types.append(package.business.doc_type if package.business else 0)
        assert sorted(types) == [0, 1, 2, 3]
        assert [i.message_type for i in await vpcp.received_list("status")] == ["status"]  # the 13


async def test_a_delivery_refused_for_good_is_requeued_only_once_corrected(
    gateways: tuple[Gateway, Gateway], simulator: AxisSimulator
) -> None:
    """The axis does not know a recipient: the delivery fails for good. Requeued as it is it
    would only fail again, so the API refuses that (409) until the caller says the cause
    was corrected; every try is in the audit trail."""
    a, _ = gateways
    auth = await _key(a, ["*.H42"])
    async with client_for(simulator, "000.00.00.G22") as vpcp:
        await vpcp.delete_agency("000.00.00.G22")  # the axis no longer knows the recipient
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{a.url}{PREFIX}/documents", json=_record(), headers=auth) as r:
            assert r.status == 202, await r.text()
            sent = await r.json()
        await a.deliver()
        async with http.get(f"{a.url}{sent['status_url']}", headers=auth) as r:
            (delivery,) = (await r.json())["deliveries"]
        assert delivery["state"] == "failed"
        requeue = f"{a.url}{PREFIX}/deliveries/{delivery['id']}/requeue"
        async with http.post(requeue, headers=auth) as r:
            assert r.status == 409
            assert "corrected=true" in (await r.json())["title"]
        async with http.post(f"{requeue}?corrected=true", headers=auth) as r:
            assert r.status == 202
    actions = [(e["action"], e["detail"]) for e in await a.store.audit_entries()]
    assert actions[-2:] == [("delivery.requeue", "refused"), ("delivery.requeue", "corrected")]


async def test_send_names_a_vietnamese_file_conformingly_and_says_so(
    gateways: tuple[Gateway, Gateway], tmp_path: Path
) -> None:
    """`edxml-gateway send` of a record whose file is named in Vietnamese with spaces: the
    gateway names it by Điều 8.4 (diacritics dropped, spaces as _) and says so in its 202,
    instead of refusing with a message about a missing file."""
    from gateway.cli.client import run_send

    a, _ = gateways
    auth = await _key(a, ["*.H42"])
    (tmp_path / "Công văn số 05 về liên thông.pdf").write_bytes(PDF)
    record = _record()
    record["attachments"] = [{"content_id": "cv", "path": "Công văn số 05 về liên thông.pdf"}]
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    sent = await run_send(path, a.url, auth["Authorization"].removeprefix("Bearer "))
    assert sent["renamed"] == [
        {
            "attachment": 0,
            "from": "Công văn số 05 về liên thông.pdf",
            "to": "Cong_van_so_05_ve_lien_thong.pdf",
            "rule": "Điều 8.4",
        }
    ]
    view = await a.store.message(sent["id"], events=False)
    assert view is not None
    package = edxml.parse(a.blobs.get(view.package_ref))
    assert isinstance(package, edxml.DocumentPackage)
    assert [f.name for f in package.attachments] == ["Cong_van_so_05_ve_lien_thong.pdf"]
