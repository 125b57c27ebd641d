"""`make run` (edxml-gateway demo) starts, seeds, and serves the dashboard within 30 s."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


async def test_the_demo_serves_the_dashboard_with_demo_data(tmp_path: Path) -> None:
    command = ["-m", "gateway.cli", "demo", "--data", str(tmp_path / "demo"), "--port", "0"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        first = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        url = first.rsplit(" ", 1)[-1].strip()
        assert url.endswith("/dashboard/"), first
        login = (await process.stdout.readline()).decode()
        password = login.rsplit(" ", 1)[-1].strip()
        key = (await process.stdout.readline()).decode().rsplit(" ", 1)[-1].strip()
        base = url.removesuffix("/dashboard/")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{url}login") as page:
                assert page.status == 200
                csrf = (await page.text()).split('name="csrf" value="', 1)[1].split('"', 1)[0]
            form = {"csrf": csrf, "username": "quantri.vp", "password": password}
            async with http.post(f"{url}login", data=form) as page:
                overview = await page.text()
            assert "Tổng quan" in overview
            for _ in range(100):  # the seeded documents move: sent, answered 01/03 by the robot
                async with http.get(f"{url}sent") as page:
                    listing = await page.text()
                if "Đã tiếp nhận" in listing:
                    break
                await asyncio.sleep(0.2)
            assert "Đã tiếp nhận" in listing
            assert "Gửi lỗi" in listing  # the one the axis does not know
            async with http.get(url) as page:  # Tây Ninh's copy went through the LGSP
                destinations = (await page.text()).split('id="destinations"', 1)[1]
            assert 'data-route="lgsp"' in destinations
            assert "Nền tảng LGSP của tỉnh" in destinations
            for _ in range(150):  # what the Government Office sends the province arrives
                async with http.get(f"{url}received") as page:
                    received = await page.text()
                if "yêu cầu thu hồi" in received and received.count("VPCP-KGVX</a>") == 4:
                    break
                await asyncio.sleep(0.2)
            assert "Hỏa tốc" in received  # the urgent one, with its due date
            assert "Chờ trả lời yêu cầu thu hồi" in received  # the sender recalls it (13)
            assert "✘ không hợp lệ" in received  # its signature broke on the way: flagged
            assert "Văn phòng Chính phủ" in received  # the sender by name
        # a second terminal: send the example record and follow it
        sent = await _cli(
            "send", "config/examples/record.json", "--url", base, "--key", key, progress=True
        )
        assert "accepted: 000.00.01.H42," in sent
        assert "sending: 100%" in sent  # the upload's bar (forced: no terminal here)
        message_id = sent.rsplit("status ", 1)[-1].strip()
        shown = await _cli("status", message_id, "--url", base, "--key", key)
        assert "000.00.00.G22    Văn phòng Chính phủ: " in shown  # the code, then the name
        assert "000.00.12.H42" in shown
        refused = await _cli("status", message_id, "--url", base, "--key", "edk_x.y", code=2)
        assert "HTTP 401" in refused
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()[-2000:]


async def _cli(*args: str, code: int = 0, progress: bool = False) -> str:
    environ = {**os.environ, "EDXML_PROGRESS": "1" if progress else "0"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli.main",
        *args,
        cwd=ROOT,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == code, output.decode()
    return output.decode()
