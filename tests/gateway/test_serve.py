"""`edxml-gateway serve` as the README runs it: a subprocess, the embedded default, real HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import lxml.etree
import yaml

from adapters.axis.client import AxisClient, AxisConfig
from devtools.axis_simulator import AxisSimulator, FaultPlan
from edxml import load_signing_identity
from edxml.pdf import sign_pdf
from tests.adapters.conftest import client_for
from tests.factories import PDF

from .harness import _record

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_serve_accepts_signs_and_delivers_and_serves_the_facade(
    simulator: AxisSimulator, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    subprocess.run(
        [sys.executable, "-m", "devtools", "dev-ca", str(keys)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    agency = keys / "agencies" / "000.00.01.H42"
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "axis": {
                    "base_url": simulator.url,
                    "system_id": "00.42.W00",
                    "poll_interval_seconds": 0.2,
                },
                "own_agencies": ["*.H42"],
                "signing_keys": {
                    "000.00.01.H42": {
                        "key": f"{agency}.p12",
                        "password_file": f"{agency}.p12.password",
                    }
                },
                "trust_dir": str(keys / "trust"),
                "vdxp_systems": {
                    "qlvb-nb": {"secret_env": "QLVB_NB_SECRET", "agencies": ["*.H42"]}
                },
            }
        )
    )
    env = {
        **os.environ,
        "EDXML_AXIS_SECRET": "test-secret-for-vectors",
        "QLVB_NB_SECRET": "sdk-secret",
    }
    added = _cli(
        "clients", "add", "QLVB Ninh Bình", "--agency", "*.H42", "--config", str(config), env=env
    )
    key = added.rsplit(": ", 1)[-1].strip()
    assert key.startswith("edk_")

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "serve", "--config", str(config), "--port", "0",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        url = ""
        while not url:
            line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
            assert line, "serve exited"
            if "serving on" in line:
                url = line.rsplit(" ", 1)[-1].strip()
        headers = {"Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession() as http:
            form = aiohttp.FormData()
            record = _record()
            record["attachments"] = [
                {"content_id": "cv-05", "file": "05_UBND-VP.pdf", "description": "Công văn"}
            ]
            form.add_field("record", json.dumps(record), content_type="application/json")
            signed_pdf = await sign_pdf(
                PDF,
                load_signing_identity(
                    Path(f"{agency}.p12"), password_file=Path(f"{agency}.p12.password")
                ),
            )
            form.add_field(
                "file", signed_pdf, filename="05_UBND-VP.pdf", content_type="application/pdf"
            )
            async with http.post(f"{url}/api/v1/documents", data=form, headers=headers) as response:
                assert response.status == 202, await response.text()
                accepted = await response.json()
            for _ in range(200):
                async with http.get(f"{url}{accepted['status_url']}", headers=headers) as response:
                    (delivery,) = (await response.json())["deliveries"]
                if delivery["state"] == "sent":
                    break
                await asyncio.sleep(0.05)
            assert delivery["state"] == "sent"
            async with http.get(f"{url}/healthz") as response:
                assert (await response.json()) == {"status": "ok"}
            async with http.get(f"{url}/readyz") as response:
                ready = await response.json()
                assert response.status == 200, ready
            assert set(ready["checks"]) == {"store", "keys", "axis", "directory"}
            assert "expires in" in ready["checks"]["keys"]["detail"]
            simulator.faults.set(FaultPlan(outage_seconds=30))
            async with http.get(f"{url}/readyz") as response:
                assert response.status == 503
                assert (await response.json())["checks"]["axis"]["ok"] is False
            simulator.faults.set(FaultPlan())
            async with http.get(f"{url}/metrics") as response:
                text = await response.text()
            assert 'edxml_deliveries{state="sent"} 1' in text
            assert 'edxml_certificate_days_to_expiry{agency="000.00.01.H42"}' in text
            assert "edxml_queue_depth 0" in text
        async with client_for(simulator, "000.00.00.G22") as vpcp:
            (item,) = await vpcp.received_list()
            package = await vpcp.get_edoc(item.doc_id)
        assert b"SignatureValue" in package
        tree = lxml.etree.fromstring(package)
        (encoded,) = tree.xpath("//*[local-name()='ContentTransferEncoded']/text()")
        assert base64.b64decode(encoded)[:4] == b"PK\x03\x04"  # zipped, as the standard wants
        sdk = AxisClient(
            AxisConfig(base_url=f"{url}/vdxp", system_id="qlvb-nb", secret="sdk-secret")
        )
        async with sdk:
            assert await sdk.received_list() == []  # nothing inbound yet, but the facade answers
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()[-2000:]
    assert "sdk-secret" not in output.decode()
    assert "test-secret-for-vectors" not in output.decode()
