"""The dashboard in a real browser (Debian's Chromium, headless, driven by Playwright).

Also its HTTP rules without a browser: CSRF, roles, locked accounts. Screenshots of the main
pages are saved in a temporary folder; ``make screenshots`` saves them under
docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

import edxml
from adapters.axis.poller import Handover, poll_once
from adapters.blobs import BlobStore
from adapters.redis.feed import LocalFeed
from adapters.store.schema import messages
from adapters.store.store import NewDelivery, NewMessage, Store
from devtools.axis_simulator import AxisSimulator
from gateway.delivery.routing import RoutingTable
from gateway.http.dashboard.accounts import create_user, lock_user
from gateway.http.dashboard.web import DashboardContext, build_dashboard
from gateway.inbound.pipeline import InboundPipeline
from gateway.inbound.seen import StoreSeenDocIds
from tests.adapters.conftest import client_for
from tests.factories import document, organization, status

from .browser import chromium, log_in

#: Where the browser test saves its screenshots: a temporary folder, unless
#: ``make screenshots`` names the README's (EDXML_SCREENSHOTS=docs/screenshots).
SCREENSHOTS_ENV = "EDXML_SCREENSHOTS"
PASSWORD = "mật-khẩu-thử-nghiệm"


@pytest.fixture
def backend() -> str:
    return "sqlite"


@dataclass
class Site:
    url: str
    store: Store
    message_id: str
    failed_delivery: str
    blobs: BlobStore


@pytest.fixture
async def site(store: Store, tmp_path: Path) -> AsyncIterator[Site]:
    feed = LocalFeed()
    store.listeners.append(feed.publish)
    blobs = BlobStore(tmp_path / "blobs")
    package = document(recipients=(organization("000.00.00.G22"), organization("000.00.00.H53")))
    data = edxml.build(package)
    message_id, (to_vpcp, to_tay_ninh) = await store.accept(
        NewMessage(
            direction="out",
            document_id=package.document_id or "",
            sender="000.00.01.H42",
            code="05/UBND-VP",
            subject=package.subject,
            package_ref=blobs.put(data),
            package_size=len(data),
            due_date=dt.date(2026, 11, 20),  # assigns a task, already overdue
        ),
        [NewDelivery("000.00.00.G22", "axis"), NewDelivery("000.00.00.H53", "axis")],
    )
    inbound_id, _ = await store.accept(
        NewMessage(
            direction="in",
            document_id="000.00.00.G22,2026/11/24,99/VPCP-TTĐT",
            sender="000.00.00.G22",
            code="99/VPCP-TTĐT",
            subject="V/v báo cáo tình hình",
            package_ref=blobs.put(data),
            package_size=len(data),
        ),
        [],
        deliver=False,
    )
    async with store.engine.begin() as connection:
        await connection.execute(
            messages.update().where(messages.c.id == inbound_id).values(
                recipient="000.00.01.H42", inbound_state="accepted",
                checks=json.dumps({"signature": {"valid": True, "signer": "VPCP"}, "reasons": []}),
            )
        )  # fmt: skip
    jobs = {job.delivery_id: job for job in await store.claim_due(10, lease_seconds=60)}
    await store.mark_sent(to_vpcp, jobs[to_vpcp].attempt, "axis-1")
    await store.mark_failed(
        to_tay_ninh, jobs[to_tay_ninh].attempt, "refused: unknown recipient agencies"
    )
    for username, role in (
        ("binhtt.vp", "clerk"),
        ("anl.vp", "viewer"),
        ("cucl.vp", "clerk"),
        ("quantri.vp", "admin"),
    ):
        await create_user(
            store, username=username, full_name=username, unit="VP", role=role,  # type: ignore[arg-type]
            agencies=["*.H42"], password=PASSWORD,
        )  # fmt: skip
    await lock_user(store, "cucl.vp")
    app = web.Application()
    notice = "Trục liên thông bảo trì 22:00–23:00 ngày 28/11 (Điều 21.6)"
    app.add_subapp(
        "/dashboard",
        build_dashboard(
            DashboardContext(
                store, blobs, feed, notice=notice, routes=(("*.H42", "local"), ("*", "axis"))
            )
        ),
    )
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    host, port = runner.addresses[0][:2]
    yield Site(f"http://{host}:{port}", store, message_id, to_tay_ninh, blobs)
    await runner.cleanup()


async def _login(http: aiohttp.ClientSession, url: str, username: str) -> aiohttp.ClientResponse:
    async with http.get(f"{url}/dashboard/login") as page:
        html = await page.text()
    csrf = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return await http.post(
        f"{url}/dashboard/login",
        data={"csrf": csrf, "username": username, "password": PASSWORD},
        allow_redirects=False,
    )


async def test_http_rules_csrf_roles_and_locks(site: Site) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{site.url}/dashboard/", allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (302, "/dashboard/login")
        async with await _login(http, site.url, "cucl.vp") as r:
            assert r.status == 401
            assert "Tài khoản này đã bị khóa" in await r.text()  # in Vietnamese
        async with await _login(http, site.url, "anl.vp") as r:
            assert r.status == 302
        async with http.get(f"{site.url}/dashboard/failures") as r:
            page = await r.text()
            assert "refused: unknown recipient" in page
            assert 'class="requeue"' not in page  # a viewer sees no button
            csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        async with http.post(
            f"{site.url}/dashboard/deliveries/{site.failed_delivery}/requeue", data={"csrf": csrf}
        ) as r:
            assert r.status == 403  # and the POST is refused
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with await _login(http, site.url, "binhtt.vp") as r:
            assert r.status == 302
        async with http.get(f"{site.url}/dashboard/received") as r:
            page = await r.text()
            assert "99/VPCP-TTĐT" in page
            assert "✔ VPCP" in page
        async with http.get(f"{site.url}/dashboard/due") as r:
            page = await r.text()
            assert "quá hạn" in page
            assert page.count("05/UBND-VP") == 2  # both recipients are not done
        async with http.get(f"{site.url}/dashboard/due?lang=en") as r:
            assert "overdue" in await r.text()
        async with http.post(
            f"{site.url}/dashboard/deliveries/{site.failed_delivery}/requeue", data={}
        ) as r:
            assert r.status == 403  # no CSRF token
    assert await site.store.state_of(site.failed_delivery) == "failed"


async def test_in_a_browser(site: Site, simulator: AxisSimulator, tmp_path: Path) -> None:
    named = os.environ.get(SCREENSHOTS_ENV)
    shots = Path(named) if named else tmp_path / "screenshots"  # never the tracked ones
    shots.mkdir(parents=True, exist_ok=True)
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1200, "height": 800})
        await log_in(page, site.url, "binhtt.vp", PASSWORD)
        assert await page.inner_text("#failed-count") == "1"
        await page.screenshot(path=str(shots / "overview.png"), full_page=True)

        await page.goto(f"{site.url}/dashboard/sent")
        await page.fill("#search", "05/UBND")
        await page.press("#search", "Enter")
        await page.click("text=05/UBND-VP")
        await page.wait_for_selector("#grid")
        assert "Đã gửi" in await page.inner_text("#grid")

        # VPCP reports 03 through the (simulated) axis; our poller brings it in, and the
        # grid changes without a reload (Server-Sent Events)
        await asyncio.sleep(0.3)  # the page's EventSource is connected
        report = status(
            sender=organization("000.00.00.G22"),
            status_code="03",
            description="Đã vào sổ",
            timestamp=dt.datetime(2026, 11, 25, 9, 0),
        )
        async with client_for(simulator, "000.00.00.G22") as vpcp:
            await vpcp.send_edoc(edxml.build(report), sender="000.00.00.G22", message_type="status")
        async with client_for(simulator, "00.42.W00") as ours:
            handover = _handover(site.store, site.blobs)
            polled = await poll_once(ours, handover, StoreSeenDocIds(site.store))
        assert len(polled.handed_over) == 1
        # (a locator, not wait_for_function: the page's CSP refuses eval, as it should)
        await page.locator("#grid .state-accepted").wait_for(timeout=10_000)
        await page.screenshot(path=str(shots / "document.png"), full_page=True)

        for name in ("received", "due", "reports"):
            await page.goto(f"{site.url}/dashboard/{name}")
            await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        await page.goto(f"{site.url}/dashboard/failures")
        await page.screenshot(path=str(shots / "failures.png"), full_page=True)
        await page.click("button.requeue")
        await page.wait_for_url("**/dashboard/failures")
        assert await page.locator("#failures [data-delivery]").count() == 0
        assert await site.store.state_of(site.failed_delivery) == "queued"

        viewer = await browser.new_page()
        await viewer.goto(f"{site.url}/dashboard/login?lang=en")
        await viewer.fill("input[name=username]", "cucl.vp")
        await viewer.fill("input[name=password]", PASSWORD)
        await viewer.click("#login")
        assert "locked" in await viewer.inner_text("[role=alert]")


def test_chromium_is_debians() -> None:
    found = shutil.which("chromium")
    assert found is None or Path(found).resolve().is_relative_to("/usr")


async def test_admin_pages_reports_and_audit(site: Site) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with await _login(http, site.url, "anl.vp") as r:
            assert r.status == 302
        async with http.get(f"{site.url}/dashboard/users") as r:
            assert r.status == 403  # viewers and clerks: no user management
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with await _login(http, site.url, "quantri.vp") as r:
            assert r.status == 302
        async with http.get(f"{site.url}/dashboard/users") as r:
            page = await r.text()
            csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = {
            "csrf": csrf,
            "full_name": "Nguyễn Văn Dũng",
            "unit": "STTTT",
            "role": "clerk",
            "agencies": "000.00.13.H42",
            "password": "mat-khau-dung-1",
        }
        async with http.post(f"{site.url}/dashboard/users", data=form) as r:
            assert "dungnv.stttt" in await r.text()
        async with http.post(f"{site.url}/dashboard/users", data=form) as r:
            assert "dungnv2.stttt (dungnv.stttt đã có: Điều 7.2b)" in await r.text()
        async with http.post(
            f"{site.url}/dashboard/users", data={**form, "password": "short"}
        ) as r:
            assert r.status == 400
            assert "10 characters" in await r.text()
        async with http.post(
            f"{site.url}/dashboard/users/dungnv.stttt/lock", data={"csrf": csrf}
        ) as r:
            assert "dungnv.stttt" in await r.text()
        period = {"from": "2026-11-01", "to": "2026-11-30"}
        download = f"{site.url}/dashboard/reports/download"
        async with http.get(download, params={**period, "agency": "*.H42", "format": "xlsx"}) as r:
            assert r.status == 200
            assert r.headers["Content-Disposition"].endswith('.xlsx"')
            assert (await r.read())[:2] == b"PK"
        async with http.get(download, params={**period, "agency": "*", "format": "csv"}) as r:
            assert r.status == 400  # not one of the user's agencies
        async with http.get(f"{site.url}/dashboard/audit.csv") as r:
            text = (await r.read()).decode("utf-8-sig")
    for action in ("login", "user.add", "user.lock", "report"):
        assert f",{action}," in text, action


async def test_overview_health_banner_and_bulk_requeue(site: Site) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with await _login(http, site.url, "binhtt.vp") as r:
            assert r.status == 302
        async with http.get(f"{site.url}/dashboard/") as r:
            page = await r.text()
        assert "bảo trì" in page  # the maintenance notice, on every page
        destinations = page.split('id="destinations"', 1)[1]
        assert "Trục liên thông quốc gia" in destinations  # not "axis"
        assert "refused: unknown recipient agencies" in destinations  # the last error
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        bulk = {"csrf": csrf, "id": [site.failed_delivery, "not-a-delivery"]}
        async with http.post(f"{site.url}/dashboard/deliveries/requeue", data=bulk) as r:
            assert r.status == 200
    assert await site.store.state_of(site.failed_delivery) == "queued"


async def test_administration_notices_clients_routes(site: Site) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with await _login(http, site.url, "quantri.vp") as r:
            assert r.status == 302
        async with http.get(f"{site.url}/dashboard/admin") as r:
            page = await r.text()
            csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert "<code>*.H42</code>" in page
        now = dt.datetime.now(dt.timezone(dt.timedelta(hours=7)))
        notice = {
            "csrf": csrf,
            "text": "Nâng cấp hệ thống tối nay",
            "starts_at": (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        }
        async with http.post(f"{site.url}/dashboard/admin/notices", data=notice) as r:
            assert "Nâng cấp hệ thống tối nay" in await r.text()
        async with http.get(f"{site.url}/dashboard/sent") as r:
            assert (
                'id="notice">Nâng cấp hệ thống tối nay' in await r.text()
            )  # in force: on every page
        async with http.post(
            f"{site.url}/dashboard/admin/clients",
            data={"csrf": csrf, "name": "QLVB", "agencies": "*.H42"},
        ) as r:
            shown = (await r.text()).split('id="admin-message">', 1)[1].split("<", 1)[0]
        client_id, key = shown.split(": ")
        assert key.startswith("edk_")
        async with http.post(
            f"{site.url}/dashboard/admin/clients/{client_id}/revoke", data={"csrf": csrf}
        ) as r:
            assert "thu hồi" in await r.text()
        named = {"csrf": csrf, "code": "000.00.00.H53", "name": "UBND tỉnh Tây Ninh"}
        async with http.post(f"{site.url}/dashboard/admin/agencies", data=named) as r:
            assert "UBND tỉnh Tây Ninh" in await r.text()
        async with http.get(f"{site.url}/dashboard/documents/{site.message_id}") as r:
            grid = (await r.text()).split('id="grid"', 1)[1]
        assert 'UBND tỉnh Tây Ninh <span class="code">000.00.00.H53</span>' in grid


async def test_document_files_recall_and_search_filters(site: Site) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with await _login(http, site.url, "binhtt.vp") as r:
            assert r.status == 302
        async with http.get(f"{site.url}/dashboard/documents/{site.message_id}") as r:
            page = await r.text()
        assert 'id="recall"' in page
        timeline = page.split('id="timeline"', 1)[1]
        assert "Lần gửi 1 thất bại: «refused: unknown recipient agencies»" in timeline
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        async with http.get(
            f"{site.url}/dashboard/documents/{site.message_id}/attachments/a1"
        ) as r:
            assert (await r.read())[:4] == b"%PDF"
        async with http.get(f"{site.url}/dashboard/sent") as r:
            row = (await r.text()).split('id="results"', 1)[1]
        assert "20/11/2026" in row  # its due date, dd/mm/yyyy
        assert '<span class="priority-0">Thường</span>' in row  # its urgency
        for query, expected in (
            ({"from": "2026-11-25", "to": "2026-11-25"}, True),
            ({"from": "2026-11-26"}, False),
            ({"urgent": "1"}, False),  # its Priority is 0
            ({"page": "2"}, False),
        ):
            async with http.get(f"{site.url}/dashboard/sent", params=query) as r:
                assert ("05/UBND-VP" in await r.text()) is expected, query
        async with http.post(
            f"{site.url}/dashboard/documents/{site.message_id}/recall",
            data={"csrf": csrf, "reason": "Nhầm"},
        ) as r:
            assert r.status == 200  # back on the document page
    async with site.store.engine.connect() as connection:
        codes = list(
            (
                await connection.execute(
                    sa.select(messages.c.status_code).where(
                        messages.c.direction == "out", messages.c.message_type == "status"
                    )
                )
            ).scalars()
        )
    assert codes == ["13"]  # to the one recipient that has it


def _handover(store: Store, blobs: BlobStore) -> Handover:
    """The gateway's inbound pipeline, as the poller's hand-over (status packages here)."""
    return InboundPipeline(store, blobs, RoutingTable(), ("*",)).handover()


async def test_the_live_feed_carries_only_the_users_agencies(site: Site) -> None:
    """A clerk of the Department sees the changes of its own documents, not the Office's."""
    await create_user(
        site.store, username="dungnv.stttt", full_name="Nguyễn Văn Dũng", unit="STTTT",
        role="clerk", agencies=["000.00.12.H42"], password=PASSWORD,
    )  # fmt: skip
    package = document(sender=organization("000.00.12.H42"))
    data = edxml.build(package)
    _, (own,) = await site.store.accept(
        NewMessage(
            direction="out", document_id="000.00.12.H42,2026/11/25,07/STTTT",
            sender="000.00.12.H42", code="07/STTTT", package_ref=site.blobs.put(data),
            package_size=len(data),
        ),
        [NewDelivery("000.00.00.G22", "axis")],
    )  # fmt: skip
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with await _login(http, site.url, "dungnv.stttt") as r:
            assert r.status == 302
        async with http.get(f"{site.url}/dashboard/events") as feed:
            await asyncio.sleep(0.2)  # subscribed
            assert await site.store.requeue(site.failed_delivery)  # the Office's document
            jobs = await site.store.claim_due(10, lease_seconds=60)
            mine = next(job for job in jobs if job.delivery_id == own)
            await site.store.mark_sent(own, mine.attempt, "axis-7")
            seen = []
            while len(seen) < 2:
                line = (await asyncio.wait_for(feed.content.readline(), 5)).decode()
                if line.startswith("data: "):
                    seen.append(json.loads(line.removeprefix("data: ")))
    assert {change["delivery_id"] for change in seen} == {own}


async def test_passwords_are_changed_by_their_owner_and_reset_by_an_admin(site: Site) -> None:
    jar = aiohttp.CookieJar
    async with (
        aiohttp.ClientSession(cookie_jar=jar(unsafe=True)) as desk,
        aiohttp.ClientSession(cookie_jar=jar(unsafe=True)) as phone,
        aiohttp.ClientSession(cookie_jar=jar(unsafe=True)) as admin,
    ):
        for http in (desk, phone):
            async with await _login(http, site.url, "binhtt.vp") as r:
                assert r.status == 302
        async with desk.get(f"{site.url}/dashboard/password") as r:
            csrf = (await r.text()).split('name="csrf" value="', 1)[1].split('"', 1)[0]
        change = f"{site.url}/dashboard/password"
        new = "mật-khẩu-mới-của-bình"
        form = {"csrf": csrf, "current": "sai", "new": new, "again": new}
        async with desk.post(change, data=form) as r:
            assert "Mật khẩu hiện tại không đúng" in await r.text()
        async with desk.post(change, data={**form, "current": PASSWORD, "again": "x"}) as r:
            assert "không khớp" in await r.text()
        async with desk.post(change, data={**form, "current": PASSWORD}) as r:
            assert 'id="password-done"' in await r.text()
        async with desk.get(f"{site.url}/dashboard/", allow_redirects=False) as r:
            assert r.status == 200  # this session goes on
        async with phone.get(f"{site.url}/dashboard/", allow_redirects=False) as r:
            assert r.status == 302  # the other one ended
        async with await _login(admin, site.url, "quantri.vp") as r:
            assert r.status == 302
        async with admin.get(f"{site.url}/dashboard/users") as r:
            csrf = (await r.text()).split('name="csrf" value="', 1)[1].split('"', 1)[0]
        async with admin.post(
            f"{site.url}/dashboard/users/binhtt.vp/password",
            data={"csrf": csrf, "new": "tam-thoi-0123"},
        ) as r:
            assert r.status == 200
        async with desk.get(f"{site.url}/dashboard/", allow_redirects=False) as r:
            assert r.status == 302  # a reset ends every session
        async with desk.get(f"{site.url}/dashboard/login") as page:
            token = (await page.text()).split('name="csrf" value="', 1)[1].split('"', 1)[0]
        async with desk.post(
            f"{site.url}/dashboard/login",
            data={"csrf": token, "username": "binhtt.vp", "password": "tam-thoi-0123"},
            allow_redirects=False,
        ) as r:
            assert r.status == 302
    actions = [(e["action"], e["target"]) for e in await site.store.audit_entries()]
    assert ("password.change", None) in actions
    assert ("password.reset", "binhtt.vp") in actions


async def test_every_page_fits_a_phone_and_the_admins_navigation_one_line(site: Site) -> None:
    """At 390 px no page scrolls sideways (wide tables scroll in their own box); at 1366 px
    the administrator's navigation stays on one line."""
    pages = [
        "", "sent", "received", "due", "failures", "reports", "users", "admin", "audit",
        "password", f"documents/{site.message_id}",
    ]  # fmt: skip
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1366, "height": 800})
        await log_in(page, site.url, "quantri.vp", PASSWORD)
        header = await page.eval_on_selector("header", "e => e.getBoundingClientRect().height")
        assert header < 70, f"the header wraps: {header} px high"
        await page.set_viewport_size({"width": 390, "height": 844})
        wide = {}
        for name in pages:
            await page.goto(f"{site.url}/dashboard/{name}")
            width = await page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                wide[name] = width
        assert not wide, f"pages wider than a 390 px phone: {wide}"


async def test_closing_a_live_page_ends_its_stream_quietly(
    site: Site, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clerk closes the tab: the next keep-alive or change finds the stream gone; nothing
    is logged as an error (before: a traceback of 45 lines in the terminal)."""
    from gateway.http.dashboard import documents

    monkeypatch.setattr(documents, "KEEP_ALIVE_SECONDS", 0.05)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with await _login(http, site.url, "binhtt.vp") as r:
            assert r.status == 302
        feed = await http.get(f"{site.url}/dashboard/events")
        await asyncio.sleep(0.2)
        feed.close()  # the tab is closed
        await asyncio.sleep(0.3)  # keep-alives meet the closed stream
    for _ in range(3):  # changes the closed stream would have carried
        assert await site.store.requeue(site.failed_delivery)
        (job,) = await site.store.claim_due(1, lease_seconds=60)
        await site.store.mark_failed(job.delivery_id, job.attempt, "HTTP 503")
        await asyncio.sleep(0.1)
    errors = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not errors, [r.getMessage() for r in errors]
