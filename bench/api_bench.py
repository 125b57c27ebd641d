"""Benchmark of the API's front door: ``POST /api/v1/documents`` latency, rate and memory.

``edxml-gateway serve`` runs as its own process (embedded SQLite, the package signed with a
development key, delivered to the axis simulator in a process of its own), as deployed;
each request is a ~10 KB record with a 1 MB PDF (base64 in JSON). Figures:

* p50/p99 latency at a steady 25 requests per second (goal: p99 < 300 ms) and at 50 per
  second, each measured from the time the request was due to be sent, not from when the
  client got round to it (a server that falls behind is not excused by a client that waits);
  each phase starts once the documents of the one before are delivered;
* the maximum sustained accepts per second with 8 concurrent clients (goal: >= 50/s);
* ``serve``'s resident memory after the warm-up, after the load, and its ratio to the first
  a while after the load (goal: it returns near its idle size);
* a 48 MiB PDF sent as multipart to a fresh ``serve``: how far its peak resident size rose,
  as a multiple of the file (goal: <= 2);
* the floor measured in the same run: what acceptance cannot avoid, building and checking the
  same package in-process (``edxml.build`` + ``edxml.check``), as packages per second.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
import yaml  # noqa: E402
from measure import MIB  # noqa: E402

import edxml  # noqa: E402

STEADY_RATE = 50
SUSTAINABLE_RATE = 25
STEADY_REQUESTS = 200
REST_SECONDS = 20.0
LARGE_MIB = 48
MAX_REQUESTS = 200


def _pdf(size: int) -> bytes:
    """A real one-page PDF whose content stream is ``size`` random bytes (as compressed
    streams and images are: a PDF's bulk does not compress further)."""
    body = os.urandom(size)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, content in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _record(pdf: bytes, number: int) -> dict[str, object]:
    record = json.loads((ROOT / "config" / "examples" / "record.json").read_text())
    record = copy.deepcopy(record)
    record["recipients"] = [{"organ_id": "000.00.00.G22", "organ_name": "Văn phòng Chính phủ"}]
    record["code"] = {"number": f"{number + 1:02d}", "notation": "UBND-VP"}
    record["content"] = "Nội dung tóm tắt. " * 400  # ~10 KB of record
    record["attachments"] = [
        {"content_id": "cv", "name": "cong_van.pdf", "data_base64": base64.b64encode(pdf).decode()}
    ]
    return record


def _floor(record: dict[str, object], rounds: int = 20) -> float:
    package = edxml.from_record(record, now=__import__("datetime").datetime(2026, 11, 25, 9, 0))
    start = time.perf_counter()
    for _ in range(rounds):
        edxml.check(edxml.build(package))
    return rounds / (time.perf_counter() - start)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _large(url: str, key: str, pid: int) -> float:
    """One 48 MiB PDF through ``POST /documents`` as multipart (the file streamed to disk
    by the server) to a ``serve`` that has sent one small document: how far above its size
    before the peak resident size rose, in MiB. A fresh process, not the one the load
    phases grew: memory they left free would hide what the large file needs."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
        async with http.post(
            f"{url}/api/v1/documents", json=_record(_pdf(64 * 1024), 9998)
        ) as response:
            assert response.status == 202, (response.status, await response.text())
        await asyncio.sleep(2)  # its delivery done
        return await _large_upload(http, url, pid)


async def _large_upload(http: aiohttp.ClientSession, url: str, pid: int) -> float:
    pdf = _pdf(LARGE_MIB * MIB)
    record = _record(b"", 9999)
    del record["attachments"]
    form = aiohttp.FormData()
    form.add_field("record", json.dumps(record), content_type="application/json")
    form.add_field("file", pdf, filename="cong_van_lon.pdf", content_type="application/pdf")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from now
    before = _rss_mb(pid)
    async with http.post(f"{url}/api/v1/documents", data=form) as response:
        assert response.status == 202, (response.status, await response.text())
    return _peak_mb(pid) - before


def _cli(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


async def _measure(url: str, key: str, pdf: bytes, pid: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}"}
    bodies = [
        json.dumps(_record(pdf, n)).encode() for n in range(2 * STEADY_REQUESTS + MAX_REQUESTS + 10)
    ]
    async with aiohttp.ClientSession(
        headers={**headers, "Content-Type": "application/json"}
    ) as http:

        async def post(body: bytes, due: float | None = None) -> float:
            start = time.perf_counter() if due is None else due
            async with http.post(f"{url}/api/v1/documents", data=body) as response:
                await response.read()
                assert response.status == 202, (response.status, await response.text())
            return time.perf_counter() - start

        for body in bodies[:5]:  # warm-up
            await post(body)
        await asyncio.sleep(REST_SECONDS)  # the warm-up's deliveries done: the idle size
        idle_rss = _rss_mb(pid)
        steady: dict[int, list[float]] = {}
        offset = 5
        for rate in (SUSTAINABLE_RATE, STEADY_RATE):
            await _until_sent(http, url, offset)
            tasks = []
            start = time.perf_counter()
            for index, body in enumerate(bodies[offset : offset + STEADY_REQUESTS]):
                due = start + index / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(post(body, due)))
            steady[rate] = sorted(await asyncio.gather(*tasks))
            offset += STEADY_REQUESTS
        semaphore = asyncio.Semaphore(8)

        async def bounded(body: bytes) -> float:
            async with semaphore:
                return await post(body)

        await _until_sent(http, url, offset)
        start = time.perf_counter()
        await asyncio.gather(*(bounded(b) for b in bodies[offset : offset + MAX_REQUESTS]))
        max_rate = MAX_REQUESTS / (time.perf_counter() - start)
        loaded_rss = _rss_mb(pid)
        await asyncio.sleep(REST_SECONDS)
        rested_rss = _rss_mb(pid)
    figures = {
        "max_per_s": max_rate,
        "rss_idle": idle_rss,
        "rss_loaded": loaded_rss,
        "rss_rested": rested_rss,
    }
    for rate, latencies in steady.items():
        figures[f"p50_ms_{rate}"] = statistics.median(latencies) * 1000
        figures[f"p99_ms_{rate}"] = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return figures


async def _until_sent(http: aiohttp.ClientSession, url: str, count: int) -> None:
    """Until the gateway has sent ``count`` documents (its ``/metrics``): each phase starts
    with the one before delivered, so it measures its own load, not the last one's tail."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        async with http.get(f"{url}/metrics") as response:
            text = await response.text()
        sent = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("edxml_deliveries_sent_total")
        )
        if sent >= count:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the gateway did not send {count} documents in 120 s")


@contextlib.contextmanager
def _serving(config: Path, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """``edxml-gateway serve`` running: its URL and process id."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config), "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = ""
        while not url:
            line = process.stdout.readline()
            if "serving on" in line:
                url = line.rsplit(" ", 1)[-1].strip()
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def run() -> list[tuple[str, float, str]]:
    pdf = _pdf(MIB)
    simulator = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "simulate-axis", "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert simulator.stdout is not None
    axis_url = simulator.stdout.readline().rsplit(" ", 1)[-1].strip()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        subprocess.run(
            [sys.executable, "-m", "devtools", "dev-ca", str(tmp / "keys")],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        agency = tmp / "keys" / "agencies" / "000.00.01.H42"
        config = tmp / "gateway.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "data_dir": str(tmp / "data"),
                    "axis": {
                        "base_url": axis_url,
                        "system_id": "00.42.W00",
                        "secret_env": "EDXML_BENCH_AXIS_SECRET",
                        "poll": False,
                    },
                    "own_agencies": ["*.H42"],
                    "signing_keys": {
                        "000.00.01.H42": {
                            "key": f"{agency}.p12",
                            "password_file": f"{agency}.p12.password",
                        }
                    },
                    "pdf_signature_policy": "off",
                    "log_level": "WARNING",
                }
            )
        )
        env = {**os.environ, "EDXML_BENCH_AXIS_SECRET": "demo-secret-ninh-binh"}
        key = (
            _cli("clients", "add", "bench", "--agency", "*.H42", "--config", str(config), env=env)
            .rsplit(": ", 1)[-1]
            .strip()
        )
        try:
            with _serving(config, env) as (url, pid):
                result = asyncio.run(_measure(url, key, pdf, pid))
            with _serving(config, env) as (url, pid):
                result["large_growth"] = asyncio.run(_large(url, key, pid))
        finally:
            simulator.terminate()
            simulator.wait(timeout=30)
        floor = _floor(_record(pdf, 0))
    return [
        *(
            (
                f"api_accept_{rate}rps_{q}_ms",
                round(result[f"{q}_ms_{rate}"], 1),
                f"ms at {rate} req/s" + (" (goal p99 < 300)" if rate == SUSTAINABLE_RATE else ""),
            )
            for rate in (SUSTAINABLE_RATE, STEADY_RATE)
            for q in ("p50", "p99")
        ),
        (
            "api_accept_max_per_s",
            round(result["max_per_s"], 1),
            "accepts/s, 8 clients (goal >= 50)",
        ),
        ("api_serve_rss_idle_mb", round(result["rss_idle"], 1), "MiB after the warm-up"),
        ("api_serve_rss_loaded_mb", round(result["rss_loaded"], 1), "MiB after the load"),
        (
            "api_serve_rss_rested_ratio",
            round(result["rss_rested"] / result["rss_idle"], 2),
            f"x the idle size {REST_SECONDS:g} s after the load (goal: near 1)",
        ),
        (
            "api_large_peak_rss_ratio",
            round(result["large_growth"] / LARGE_MIB, 2),
            f"x a {LARGE_MIB} MiB PDF: serve's peak RSS above its size before (goal <= 2)",
        ),
        ("api_accept_floor_per_s", round(floor, 1), "build+check in-process"),
        ("api_accept_vs_floor", round(floor / result["max_per_s"], 2), "x floor"),
    ]


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"bench {name} {value:g} {unit}")
