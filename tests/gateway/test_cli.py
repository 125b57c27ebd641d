"""The ``edxml-gateway`` console script: version, help, and the axis simulator."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

import edxml
from gateway.cli.main import main


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
        "gateway.cli.main",
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


def test_migrate_and_requeue_on_the_embedded_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from adapters.store.engine import create_engine
    from adapters.store.store import AttemptOutcome, NewDelivery, NewMessage, Store

    monkeypatch.setenv("EDXML_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out

    async def a_failed_delivery() -> str:
        store = Store(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'gateway.db'}"))
        _, (delivery_id,) = await store.accept(
            NewMessage(
                direction="out", document_id="d", sender="s", package_ref="0" * 64, package_size=1
            ),
            [NewDelivery("000.00.00.G22", "axis")],
        )
        (job,) = await store.claim_due(1, lease_seconds=30)
        refused = AttemptOutcome.failed(job.delivery_id, job.attempt, "refused", permanent=True)
        await store.finish_attempts([refused])
        await store.close()
        return delivery_id

    async def audited() -> list[tuple[str, str, str | None]]:
        store = Store(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'gateway.db'}"))
        entries = await store.audit_entries()
        await store.close()
        return [(e["username"], e["action"], e["detail"]) for e in entries]

    delivery_id = asyncio.run(a_failed_delivery())
    assert main(["requeue", delivery_id]) == 1  # refused for good: not sent blindly again
    assert "refused for good" in capsys.readouterr().out
    assert main(["requeue", "--corrected", delivery_id, "no-such-delivery"]) == 1
    out = capsys.readouterr().out
    assert f"{delivery_id}: requeued" in out
    assert "no-such-delivery: not failed" in out
    assert asyncio.run(audited()) == [
        ("cli", "delivery.requeue", "refused"),
        ("cli", "delivery.requeue", None),
        ("cli", "delivery.requeue", "refused"),
    ]


def test_commands_without_config_read_the_file_edxml_config_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, an operator command without --config used an empty ./data, not the
    deployment's store: the report crashed and alerts found none."""
    deployed, other = tmp_path / "deployed", tmp_path / "other"
    config = tmp_path / "gateway.yaml"
    config.write_text(f"data_dir: {deployed}\n")
    monkeypatch.setenv("EDXML_CONFIG", str(config))
    monkeypatch.chdir(tmp_path)
    assert main(["migrate"]) == 0
    assert (deployed / "gateway.db").exists()
    assert not (tmp_path / "data").exists()
    (tmp_path / "explicit.yaml").write_text(f"data_dir: {other}\n")
    assert main(["migrate", "--config", str(tmp_path / "explicit.yaml")]) == 0
    assert (other / "gateway.db").exists()  # --config wins
    monkeypatch.setenv("EDXML_CONFIG", str(tmp_path / "missing.yaml"))
    assert main(["migrate"]) == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_service_commands_name_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("workers: {concurrency: -1}\n")
    assert main(["worker", "--config", str(config)]) == 2
    assert "workers.concurrency" in capsys.readouterr().err


def test_backup_and_restore_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EDXML_DATA_DIR", str(tmp_path / "live"))
    assert main(["migrate"]) == 0
    assert main(["backup", str(tmp_path / "snap")]) == 0
    assert "sqlite" in capsys.readouterr().out
    monkeypatch.setenv("EDXML_DATA_DIR", str(tmp_path / "new"))
    assert main(["restore", str(tmp_path / "snap")]) == 0
    assert (tmp_path / "new" / "gateway.db").exists()
    assert main(["restore", str(tmp_path / "nowhere")]) == 2
    assert "manifest" in capsys.readouterr().err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli.main import _parser

    parser = _parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    names = sorted(commands.choices)
    assert {"send", "status", "requeue", "backup", "restore", "check-config", "alerts"} <= set(
        names
    )
    for name in names:
        with pytest.raises(SystemExit) as exited:
            main([name, "--help"])
        assert exited.value.code == 0
        shown = capsys.readouterr().out
        assert shown.startswith(f"usage: edxml-gateway {name}"), name
        help_line = commands.choices[name].description or next(
            c.help for c in commands._choices_actions if c.dest == name
        )
        assert help_line, f"{name} has no help text"


def test_the_poison_queue_is_rabbitmqs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EDXML_DATA_DIR", str(tmp_path / "data"))
    assert main(["poison", "list"]) == 2
    assert "only RabbitMQ has one" in capsys.readouterr().out
