"""Benchmarks of the axis protocol pieces (issue 4): can the simulator carry the gateway's load?

The simulator runs as its own process (``edxml-gateway simulate-axis``, the demo config), as
tests and the demo use it; the client runs here with 10 connections (the SDK's maximum).

1. ``sendEdoc`` of small packages (a document with a 2 KB file, ~5 KB on the wire): packages
   per second. Target: hundreds per second. The floor, measured in the same run with the
   same client and concurrency, is an HTTP round trip to the same server that does no work
   (``GET /soap/edoc`` answers 405): ``send_vs_http_floor`` is how many such round trips one
   sendEdoc costs (HMAC check, edXML parse, TraceHeader, routing).
2. The receive side: the poller over the same packages (list, get, hand over, updateStatus
   per item), items per second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

import edxml  # noqa: E402
from adapters.axis.client import AxisClient, AxisConfig, ReceivedItem  # noqa: E402
from adapters.axis.poller import MemorySeenDocIds, poll_once  # noqa: E402

PACKAGES = 1500
CONCURRENCY = 10
OFFICE, VPCP = "000.00.01.H42", "000.00.00.G22"


def _small_package() -> bytes:
    package = edxml.DocumentPackage(
        sender=edxml.Organization(organ_id=OFFICE, organ_name="Văn phòng UBND tỉnh Ninh Bình"),
        recipients=(edxml.Organization(organ_id=VPCP, organ_name="Văn phòng Chính phủ"),),
        code=edxml.Code(number="05", notation="UBND-VP"),
        promulgation=edxml.PromulgationInfo(place="Ninh Bình", date=dt.date(2026, 11, 25)),
        document_type=edxml.DocumentType(type=1, type_name="Công văn"),
        subject="V/v triển khai kết nối, liên thông văn bản điện tử",
        signer=edxml.SignerInfo(competence="TL. CHỦ TỊCH", position="Chánh VP", full_name="An"),
        attachments=(
            edxml.Attachment(content_id="a1", name="cv.pdf", data=b"%PDF-1.7\n" + os.urandom(2048)),
        ),
    )
    return edxml.build(package)


async def _rate(count: int, call: object) -> float:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with semaphore:
            await call()  # type: ignore[operator]

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - start)


async def _measure(url: str) -> list[tuple[str, float, str]]:
    package = _small_package()
    sender = AxisConfig(base_url=url, system_id="00.42.W00", secret="demo-secret-ninh-binh")
    receiver = AxisConfig(base_url=url, system_id=VPCP, secret="demo-secret-vpcp")
    async with (
        AxisClient(sender) as ninh_binh,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as plain,
    ):

        async def floor_call() -> None:
            async with plain.get(f"{url}/soap/edoc") as response:
                await response.read()

        async def send_call() -> None:
            await ninh_binh.send_edoc(package, sender=OFFICE)

        await _rate(100, floor_call)  # warm-up, both
        await _rate(100, send_call)
        floor = await _rate(PACKAGES, floor_call)
        sends = await _rate(PACKAGES, send_call)

    async def handover(item: ReceivedItem, data: bytes) -> None:
        return None

    async with AxisClient(receiver) as vpcp:
        start = time.perf_counter()
        report = await poll_once(vpcp, handover, MemorySeenDocIds(), message_types=("edoc",))
        received = len(report.handed_over) / (time.perf_counter() - start)
    return [
        ("axis_sim_send_packages_per_s", round(sends, 1), "packages/s"),
        ("axis_sim_http_floor_per_s", round(floor, 1), "requests/s"),
        ("axis_sim_send_vs_http_floor", round(floor / sends, 2), "x floor"),
        ("axis_sim_poll_items_per_s", round(received, 1), "items/s (list+get+ack)"),
        ("axis_sim_package_bytes", float(len(package)), "bytes"),
    ]


def run() -> list[tuple[str, float, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "simulate-axis", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        return asyncio.run(_measure(url))
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"bench {name} {value:g} {unit}")
