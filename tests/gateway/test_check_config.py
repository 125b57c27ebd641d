"""check-config names each part: a wrong password, an unreachable host, a missing secret."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from devtools.axis_simulator import AxisSimulator
from gateway.cli.main import main
from tests.adapters.conftest import LGSP_ACCESS
from tests.backends import POSTGRES_URL


async def _check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``check-config`` on ``config``: its exit code and what it printed. In a thread: the
    in-process simulator answers on this test's event loop."""
    code = await asyncio.to_thread(main, ["check-config", "--config", str(config)])
    return code, capsys.readouterr().out


async def test_each_part_is_reported(
    tmp_path: Path,
    simulator: AxisSimulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "database_url": POSTGRES_URL,
                "broker_url": "amqp://guest:wrong-password@127.0.0.1:5672/",
                "redis_url": "redis://127.0.0.1:9/0",  # nobody listens there
                "axis": {"base_url": simulator.url, "system_id": "00.42.W00"},
            }
        )
    )
    monkeypatch.setenv("EDXML_AXIS_SECRET", "test-secret-for-vectors")
    code, out = await _check(config, capsys)
    assert code == 1
    lines = {line.split(":", 1)[0]: line for line in out.splitlines()}
    assert lines["ok   store"].startswith("ok")
    assert "FAIL broker" in lines
    assert "wrong-password" not in out  # the password is never shown
    assert "FAIL redis" in lines
    assert "ok   axis" in lines
    monkeypatch.setenv("EDXML_AXIS_SECRET", "not-the-secret")
    code, out = await _check(config, capsys)
    assert code == 1
    assert "FAIL axis" in out


async def test_an_lgsp_is_tried_with_its_token_and_a_wrong_secret_is_named(
    tmp_path: Path,
    simulator: AxisSimulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "gateway.yaml"
    lgsp = {
        "base_url": simulator.url,
        "consumer_key": LGSP_ACCESS.consumer_key,
        "consumer_secret_env": "TEST_LGSP_CONSUMER_SECRET",
        "unit_secret_env": "TEST_LGSP_UNIT_SECRET",
    }
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "lgsp": {"lgsp": lgsp}}))
    monkeypatch.setenv("TEST_LGSP_CONSUMER_SECRET", LGSP_ACCESS.consumer_secret)
    monkeypatch.setenv("TEST_LGSP_UNIT_SECRET", LGSP_ACCESS.unit_secret)
    code, out = await _check(config, capsys)
    assert code == 0
    assert "ok   lgsp lgsp: " in out
    assert "token granted, 0 waiting for us" in out
    monkeypatch.setenv("TEST_LGSP_CONSUMER_SECRET", "not-the-secret")
    code, out = await _check(config, capsys)
    assert code == 1
    assert "FAIL lgsp lgsp: " in out
    assert "consumer key and secret" in out
    assert "not-the-secret" not in out


async def test_a_soap_hub_is_tried_with_its_pending_list(
    tmp_path: Path,
    simulator: AxisSimulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "gateway.yaml"
    hub = {
        "endpoint": f"{simulator.url}/soap/edoc",
        "organ_id": "000.00.01.H42",
        "token_env": "TEST_HUB_TOKEN",
    }
    config.write_text(
        yaml.safe_dump({"data_dir": str(tmp_path / "data"), "soap_hubs": {"hub": hub}})
    )
    monkeypatch.setenv("TEST_HUB_TOKEN", "test-secret-for-vectors")
    code, out = await _check(config, capsys)
    assert code == 0
    assert "0 waiting for us" in out
    monkeypatch.setenv("TEST_HUB_TOKEN", "not-the-token")
    code, out = await _check(config, capsys)
    assert code == 1
    assert "FAIL soap hub hub: " in out
    assert "not-the-token" not in out
