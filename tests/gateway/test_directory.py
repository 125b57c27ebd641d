"""The agencies directory: synchronised at start-up (and on a schedule and on demand), so the
facade lists the axis' agencies and acceptance refuses a recipient the axis does not know."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

from adapters.axis.client import AxisClient, AxisConfig
from devtools.axis_simulator import AxisSimulator
from gateway.config import AxisSettings, FacadeSystemSettings, GatewaySettings
from gateway.inbound.identities import identities_of, set_identities
from gateway.outbound.directory import directory_state, sync_agencies
from gateway.runtime import Runtime
from tests.adapters.conftest import SYSTEMS, VECTOR_SECRET, client_for

ROOT = Path(__file__).resolve().parents[2]
KNOWN = sum(len(system.agencies) for system in SYSTEMS)


def _settings(simulator: AxisSimulator, tmp_path: Path) -> GatewaySettings:
    return GatewaySettings(
        data_dir=tmp_path / "data",
        axis=AxisSettings(
            base_url=simulator.url, system_id="00.42.W00", secret_env="AXIS_SECRET", poll=False
        ),
        own_agencies=("*.H42",),
        signature_required=False,
        vdxp_systems={"qlvb": FacadeSystemSettings(secret_env="FACADE", agencies=("*.H42",))},
    )


async def test_the_directory_is_synchronised_at_start_up_and_shown_on_readyz(
    simulator: AxisSimulator, tmp_path: Path
) -> None:
    """Before, nothing called the synchronisation outside the tests: the facade listed no
    agency and unknown recipients were never refused."""
    environ = {"AXIS_SECRET": VECTOR_SECRET, "FACADE": "facade-secret"}
    async with Runtime(_settings(simulator, tmp_path), environ=environ) as runtime:
        runner = web.AppRunner(runtime.web_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        stop = asyncio.Event()
        workers = asyncio.create_task(runtime.run_workers(stop))
        try:
            for _ in range(100):
                if (await directory_state(runtime.store))[0]:
                    break
                await asyncio.sleep(0.05)
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://{host}:{port}/readyz") as r,
            ):
                checks = (await r.json())["checks"]
            assert checks["directory"]["ok"] is True
            assert checks["directory"]["detail"].startswith(f"{KNOWN} agencies, synchronised")
            assert checks["directory"]["advisory"] is True
            facade = AxisConfig(
                base_url=f"http://{host}:{port}/vdxp", system_id="qlvb", secret="facade-secret"
            )
            async with AxisClient(facade) as sdk:
                assert len(await sdk.agencies()) == KNOWN
        finally:
            stop.set()
            await workers
            await runner.cleanup()


async def test_an_empty_answer_keeps_the_directory(
    simulator: AxisSimulator, tmp_path: Path
) -> None:
    async with Runtime(
        _settings(simulator, tmp_path), environ={"AXIS_SECRET": VECTOR_SECRET}
    ) as runtime:
        async with client_for(simulator, "00.42.W00") as axis:
            assert await sync_agencies(runtime.store, axis) == KNOWN
            await set_identities(runtime.store, "000.00.00.G22", ["UID=MNS:1234567"])
            assert await sync_agencies(runtime.store, axis) == KNOWN  # identities survive
            assert await identities_of(runtime.store, "000.00.00.G22", {}) == ("UID=MNS:1234567",)
            for agency in list(simulator.hub._agencies):
                del simulator.hub._agencies[agency]
            assert await sync_agencies(runtime.store, axis) == 0
        assert (await directory_state(runtime.store))[0] == KNOWN


async def test_directory_sync_and_list_from_the_command_line(
    simulator: AxisSimulator, tmp_path: Path
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "axis": {
                    "base_url": simulator.url,
                    "system_id": "00.42.W00",
                    "secret_env": "AXIS_SECRET",
                    "poll": False,
                },
                "signature_required": False,
                "log_level": "ERROR",
            }
        )
    )
    environ = {"AXIS_SECRET": VECTOR_SECRET, "PATH": "/usr/bin:/bin"}
    outputs = []
    for action in ("sync", "list"):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli", "directory", action, "--config", str(config),
            cwd=ROOT, env=environ, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, output.decode()
        outputs.append(output.decode())
    assert f"{KNOWN} agencies from the axis" in outputs[0]
    assert "000.00.00.G22\tVăn phòng Chính phủ\taxis" in outputs[1]
    assert f"{KNOWN} agencies from the axis, synchronised 20" in outputs[1]


def test_the_demo_record_addresses_agencies_the_demo_axis_knows() -> None:
    record = json.loads((ROOT / "config" / "examples" / "record.json").read_text())
    simulator = json.loads((ROOT / "config" / "axis-simulator.json").read_text())
    known = {a["code"] for system in simulator["systems"] for a in system["agencies"]}
    assert {r["organ_id"] for r in record["recipients"]} <= known
    assert record["sender"]["organ_id"] in known
