"""The ``edxml-gateway`` console script: version, help, and the axis simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import edxml
from gateway.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"edxml-gateway {edxml.__version__}"


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "edXML document-exchange gateway" in capsys.readouterr().out


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "edxml-gateway"  # the venv's bin, beside python
    assert script.exists()
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "version" in result.stdout


async def test_simulate_axis_serves_the_demo_config_until_interrupted() -> None:
    import asyncio
    import signal

    from adapters.axis.client import AxisClient, AxisConfig

    root = Path(__file__).resolve().parents[2]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "simulate-axis",
        "--port",
        "0",
        cwd=root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        first = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        url = first.decode().rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        config = AxisConfig(base_url=url, system_id="00.42.W00", secret="demo-secret-ninh-binh")
        async with AxisClient(config) as axis:
            codes = {agency.code for agency in await axis.agencies()}
        assert "000.00.00.H42" in codes
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()


def test_simulate_axis_with_a_missing_config_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate-axis", "--config", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: cannot read" in capsys.readouterr().err
