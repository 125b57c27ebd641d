"""A clerk's work on a received document, end to end: the Government Office's gateway sends
through the simulated axis, ours receives it, a clerk opens it on the dashboard and registers,
assigns, finishes or refuses it; every status goes back signed through the axis and the
sender's gateway shows it. Also in Debian's Chromium, at a desk's and a phone's width."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.redis.feed import LocalFeed
from edxml import VIETNAM
from gateway.http.api.app import PREFIX
from gateway.http.dashboard.accounts import create_user
from gateway.http.dashboard.web import DashboardContext, build_dashboard
from tests.gateway.flows import serving

from .browser import chromium, log_in
from .harness import Gateway, _key, _record

OFFICE, VPCP = "000.00.01.H42", "000.00.00.G22"
PASSWORD = "mật-khẩu-thử-nghiệm"


@dataclass
class Exchange:
    ours: Gateway
    sender: Gateway
    dashboard: str
    sender_auth: dict[str, str]


@pytest.fixture
async def exchange(gateways: tuple[Gateway, Gateway]) -> AsyncIterator[Exchange]:
    ours, sender = gateways
    assert ours.context is not None
    context = DashboardContext(
        ours.store,
        ours.blobs,
        LocalFeed(),
        routing=ours.context.routing,
        signers=ours.context.signers,
    )
    app = web.Application()
    app.add_subapp("/dashboard", build_dashboard(context))
    for username, role in (("binhtt.vp", "clerk"), ("anl.vp", "viewer")):
        await create_user(
            ours.store, username=username, full_name="Trần Thị Bình", unit="VP",
            role=role, agencies=["*.H42"], password=PASSWORD,  # type: ignore[arg-type]
        )  # fmt: skip
    async with serving(app) as url:
        yield Exchange(ours, sender, url, await _key(sender, [VPCP]))


async def _send_from_vpcp(exchange: Exchange, number: str, **changes: Any) -> str:
    """VPCP sends document ``number`` to the Office; ours receives it. Returns the status
    URL of the sender's copy."""
    record = _record(
        sender={"organ_id": VPCP, "organ_name": "Văn phòng Chính phủ"},
        recipients=[{"organ_id": OFFICE, "organ_name": "Văn phòng UBND tỉnh"}],
        code={"number": number, "notation": "VPCP-KGVX"},
        **changes,
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{exchange.sender.url}{PREFIX}/documents", json=record, headers=exchange.sender_auth
        ) as r,
    ):
        assert r.status == 202, await r.text()
        sent = await r.json()
    await exchange.sender.deliver()
    await exchange.ours.poll()
    return str(sent["status_url"])


async def _sender_sees(exchange: Exchange, status_url: str) -> str:
    """Our statuses travel back; the state of the sender's delivery to the Office."""
    await exchange.ours.deliver()
    await exchange.sender.poll()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{exchange.sender.url}{status_url}", headers=exchange.sender_auth) as r,
    ):
        document = await r.json()
    (delivery,) = document["deliveries"]
    return str(delivery["state"])


async def _login(http: aiohttp.ClientSession, url: str, username: str) -> str:
    async with http.get(f"{url}/dashboard/login") as page:
        csrf = (await page.text()).split('name="csrf" value="', 1)[1].split('"', 1)[0]
    async with http.post(
        f"{url}/dashboard/login",
        data={"csrf": csrf, "username": username, "password": PASSWORD},
    ) as r:
        page = await r.text()
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


async def _received_ids(exchange: Exchange) -> list[str]:
    found, _ = await exchange.ours.store.received(["*.H42"])
    return [str(row["id"]) for row in found]


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_a_clerk_registers_assigns_and_finishes_and_the_sender_sees_each_step(
    exchange: Exchange,
) -> None:
    due = dt.date.today() + dt.timedelta(days=5)
    status_url = await _send_from_vpcp(
        exchange, "120", due_date=due.isoformat(), other_info={"priority": 1}
    )
    assert await _sender_sees(exchange, status_url) == "arrived"  # the automatic 01
    (received,) = await _received_ids(exchange)
    page_url = f"{exchange.dashboard}/dashboard/received/{received}"
    async with _session() as http:
        csrf = await _login(http, exchange.dashboard, "binhtt.vp")
        async with http.get(f"{exchange.dashboard}/dashboard/received") as r:
            listing = await r.text()
        assert f'href="/dashboard/received/{received}"' in listing  # rows open the document
        assert "Khẩn" in listing
        async with http.get(page_url) as r:
            page = await r.text()
        assert "Văn phòng Chính phủ" in page  # the sender by name, the code beside it
        assert f'<span class="code">{VPCP}</span>' in page
        assert due.strftime("%d/%m/%Y") in page
        assert "Chữ ký số hợp lệ" in page
        assert "chưa vào sổ" in page
        view = page.split('id="files"', 1)[1].split('href="', 1)[1].split('"', 1)[0]
        async with http.get(f"{exchange.dashboard}{view}") as r:
            assert r.headers["Content-Disposition"].startswith("inline")
            assert (await r.read())[:4] == b"%PDF"

        act = f"{page_url}/act"
        async with http.post(act, data={"csrf": csrf, "action": "register"}) as r:
            page = await r.text()
        year = dt.datetime.now(VIETNAM).year
        assert f'id="incoming-number">1/{year}<' in page
        assert await _sender_sees(exchange, status_url) == "accepted"  # 03

        async with http.post(act, data={"csrf": csrf, "action": "assign"}) as r:
            assert "Cần nhập người được giao xử lý" in await r.text()  # nothing sent
        form = {"csrf": csrf, "action": "assign", "assignee": "Lê Văn Cường", "due": "2026-12-20"}
        async with http.post(act, data=form) as r:
            page = await r.text()
        assert "Lê Văn Cường — hạn 20/12/2026" in page
        assert await _sender_sees(exchange, status_url) == "assigned"  # 04
        async with http.get(f"{exchange.dashboard}/dashboard/due") as r:
            owed = (await r.text()).split('id="due-received"', 1)[1].split("</table>", 1)[0]
        assert "20/12/2026" in owed  # what we owe, by the deadline set when assigning
        assert "Lê Văn Cường" in owed

        async with http.post(act, data={"csrf": csrf, "action": "done"}) as r:
            assert r.status == 200
        assert await _sender_sees(exchange, status_url) == "done"  # 06
        async with http.get(f"{exchange.dashboard}/dashboard/due") as r:
            assert "Lê Văn Cường" not in await r.text()  # done: no longer owed

        async with http.post(act, data={"csrf": csrf, "action": "refuse", "reason": "Nhầm"}) as r:
            assert "không thể đi sau" in await r.text()  # 02 after 06: refused, not sent
        async with http.get(page_url) as r:
            page = await r.text()
    answers = page.split('id="answers"', 1)[1]
    assert [code for code in ("01", "03", "04", "06", "02") if f"<td>{code} — " in answers] == [
        "01",
        "03",
        "04",
        "06",
    ]
    audit = await exchange.ours.store.audit_entries()
    actions = [entry["action"] for entry in audit if entry["target"] == received]
    assert sorted(actions) == ["received.03", "received.04", "received.06"]


async def test_incoming_numbers_run_on_and_a_refusal_needs_its_reason(
    exchange: Exchange,
) -> None:
    first = await _send_from_vpcp(exchange, "121")
    second = await _send_from_vpcp(exchange, "122")
    newest, oldest = await _received_ids(exchange)
    async with _session() as http:
        csrf = await _login(http, exchange.dashboard, "binhtt.vp")
        base = f"{exchange.dashboard}/dashboard/received"
        for message_id in (oldest, oldest):  # twice: the same number, not a second one
            async with http.post(
                f"{base}/{message_id}/act", data={"csrf": csrf, "action": "register"}
            ) as r:
                assert r.status == 200
        async with http.post(
            f"{base}/{newest}/act", data={"csrf": csrf, "action": "refuse", "reason": ""}
        ) as r:
            assert "Cần nhập lý do" in await r.text()
        async with http.post(
            f"{base}/{newest}/act",
            data={"csrf": csrf, "action": "refuse", "reason": "Không thuộc thẩm quyền"},
        ) as r:
            assert r.status == 200
        async with http.get(f"{base}/{newest}") as r:
            refused = await r.text()
        assert 'id="act-register"' not in refused  # a refused document is not registered
    rows = {m: await exchange.ours.store.inbound_message(m) for m in (oldest, newest)}
    assert rows[oldest] is not None
    assert rows[oldest]["incoming_number"] == 1
    assert rows[newest] is not None
    assert rows[newest]["incoming_number"] is None
    assert await _sender_sees(exchange, first) == "accepted"
    assert await _sender_sees(exchange, second) == "rejected"


async def test_a_viewer_reads_but_cannot_act(exchange: Exchange) -> None:
    await _send_from_vpcp(exchange, "123")
    (received,) = await _received_ids(exchange)
    async with _session() as http:
        csrf = await _login(http, exchange.dashboard, "anl.vp")
        url = f"{exchange.dashboard}/dashboard/received/{received}"
        async with http.get(url) as r:
            assert 'id="actions"' not in await r.text()
        async with http.post(f"{url}/act", data={"csrf": csrf, "action": "register"}) as r:
            assert r.status == 403
    row = await exchange.ours.store.inbound_message(received)
    assert row is not None
    assert row["reported_status"] == "01"


async def test_in_a_browser_at_a_desk_and_on_a_phone(exchange: Exchange, tmp_path: Path) -> None:
    status_url = await _send_from_vpcp(exchange, "124", other_info={"priority": 3})
    named = os.environ.get("EDXML_SCREENSHOTS")
    shots = Path(named) if named else tmp_path
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1366, "height": 900})
        await log_in(page, exchange.dashboard, "binhtt.vp", PASSWORD)
        await page.goto(f"{exchange.dashboard}/dashboard/received")
        await page.click("#received a")
        await page.wait_for_selector("#facts")
        assert "Hỏa tốc" in await page.inner_text("#urgency")
        await page.click("#act-register button")
        await page.wait_for_selector("#action-done")
        assert "03" in await page.inner_text("#action-done")
        await page.screenshot(path=str(shots / "received-document.png"), full_page=True)
        document_url = page.url
        today = dt.datetime.now(VIETNAM).date().isoformat()
        await page.goto(
            f"{exchange.dashboard}/dashboard/reports/download?from={today}&to={today}"
            "&agency=*.H42&format=register-in-html"
        )
        assert "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" in await page.inner_text("h1")
        assert "124/VPCP-KGVX" in await page.inner_text("table")
        await page.screenshot(path=str(shots / "register.png"), full_page=True)
        await page.goto(document_url)

        await page.set_viewport_size({"width": 390, "height": 844})  # a phone
        await page.reload()
        await page.wait_for_selector("#facts")
        width = await page.evaluate("document.documentElement.scrollWidth")
        wide = await page.evaluate(
            "[...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > 391)"
            ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)"
        )
        await page.screenshot(path=str(shots / "received-document-phone.png"), full_page=True)
        assert width <= 390, f"the page is {width} px wide on a 390 px phone: {wide}"
    assert await _sender_sees(exchange, status_url) == "accepted"


async def test_a_recall_waits_for_the_clerk_who_agrees_or_refuses(exchange: Exchange) -> None:
    """A 13 is not answered by itself: the clerk agrees (15: the document is recalled) or
    refuses with a reason (16: it stays), and the sender sees the answer."""
    urls = [await _send_from_vpcp(exchange, number) for number in ("125", "126")]
    newest, oldest = await _received_ids(exchange)
    async with aiohttp.ClientSession() as http:
        for status_url in urls:
            async with http.get(
                f"{exchange.sender.url}{status_url}", headers=exchange.sender_auth
            ) as r:
                message_id = (await r.json())["id"]
            async with http.post(
                f"{exchange.sender.url}{PREFIX}/documents/{message_id}/recall",
                json={"reason": "Ban hành nhầm"},
                headers=exchange.sender_auth,
            ) as r:
                assert r.status == 202, await r.text()
    await exchange.sender.deliver()
    await exchange.ours.poll()
    async with _session() as http:
        csrf = await _login(http, exchange.dashboard, "binhtt.vp")
        base = f"{exchange.dashboard}/dashboard/received"
        async with http.get(f"{base}/{oldest}") as r:
            page = await r.text()
        assert "Nơi gửi yêu cầu thu hồi văn bản này: Ban hành nhầm" in page
        assert "Chữ ký số hợp lệ" in page  # the request did not erase the checks
        async with http.post(f"{base}/{oldest}/act", data={"csrf": csrf, "action": "agree"}) as r:
            assert r.status == 200
        async with http.post(
            f"{base}/{newest}/act",
            data={"csrf": csrf, "action": "decline", "reason": "Đã xử lý xong"},
        ) as r:
            assert r.status == 200
    states = {
        m: (await exchange.ours.store.inbound_message(m) or {}).get("inbound_state")
        for m in (oldest, newest)
    }
    assert states == {oldest: "recalled", newest: "accepted"}
    await _sender_sees(exchange, urls[0])
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{exchange.sender.url}{urls[0]}", headers=exchange.sender_auth) as r,
    ):
        (delivery,) = (await r.json())["deliveries"]
    assert delivery["state"] == "recalled"  # the sender's side: 15 after its 13
