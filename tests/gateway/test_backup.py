"""Backup and restore (Điều 18.2): every message, state, event and blob comes back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.blobs import BlobStore
from adapters.store.engine import create_engine, migrate
from adapters.store.schema import metadata
from adapters.store.store import NewDelivery, NewMessage, Store
from gateway.config import AlertSettings, GatewaySettings
from gateway.http.dashboard.accounts import create_user
from gateway.operate.alerts import evaluate
from gateway.operate.backup import BackupError, backup, restore
from gateway.runtime import Runtime
from gateway.signing import Signers
from tests.backends import POSTGRES_URL
from tests.gateway.flows import serving

ROOT = Path(__file__).resolve().parents[2]


#: Where the seeded deliveries end up: one in every state of DESIGN.md's machine.
_STATUS_STATES = ("arrived", "rejected", "accepted", "assigned", "processing", "done", "recalled")


async def _seed(settings: GatewaySettings) -> None:
    """Four messages to three recipients: twelve deliveries, one in each state; an inbound
    message with its checks, an account, an audit line and an alert."""
    engine = create_engine(settings.store_url, schema=settings.database_schema)
    await migrate(engine)
    store = Store(engine)
    blobs = BlobStore(settings.data_dir / "blobs")
    for number in range(4):
        ref = blobs.put(f"package {number}".encode())
        await store.accept(
            NewMessage(
                direction="out",
                document_id=f"d{number}",
                sender="000.00.01.H42",
                package_ref=ref,
                package_size=9,
            ),
            [NewDelivery(f"000.00.00.G{r}", "axis") for r in (10, 22, 30)],
        )
    jobs = await store.claim_due(11, lease_seconds=60)  # one stays queued, one sending
    await store.mark_failed(jobs[1].delivery_id, jobs[1].attempt, "refused")
    await store.mark_retry(jobs[2].delivery_id, jobs[2].attempt, "503", jobs[2].message_created_at)
    for job, state in zip(jobs[3:], ("sent", *_STATUS_STATES), strict=True):
        assert await store.mark_sent(job.delivery_id, job.attempt, f"doc-{job.delivery_id}")
        if state != "sent":
            assert await store.move(job.delivery_id, "sent", state, source="status:test")
    await store.accept(
        NewMessage(
            direction="in",
            document_id="in-1",
            sender="000.00.00.G22",
            package_ref=blobs.put(b"inbound package"),
            package_size=15,
        ),
        [],
        deliver=False,
        inbound=("axis", "remote-1"),
    )
    await create_user(
        store,
        username="binhtt.vp",
        full_name="Trần Thanh Bình",
        unit="VP",
        role="clerk",
        agencies=["*.H42"],
        password="mat-khau-dai-du",
    )
    await evaluate(store, Signers(), AlertSettings())  # the failed one: a dead-letter alert
    assert set((await store.counts_by_state()).values()) == {1}
    assert len(await store.counts_by_state()) == 12
    await store.close()


async def _contents(settings: GatewaySettings) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the store."""
    engine = create_engine(settings.store_url, schema=settings.database_schema)
    try:
        async with engine.connect() as connection:
            return {
                table.name: sorted(
                    tuple(map(str, row)) for row in await connection.execute(sa.select(table))
                )
                for table in metadata.sorted_tables
            }
    finally:
        await engine.dispose()


def _blobs(settings: GatewaySettings) -> dict[str, bytes]:
    root = settings.data_dir / "blobs"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def test_sqlite_round_trip(tmp_path: Path) -> None:
    source = GatewaySettings(data_dir=tmp_path / "source", signature_required=False)
    await _seed(source)
    async with Runtime(source):  # a running gateway: its connections open, WAL in use
        manifest = await asyncio.to_thread(backup, source, tmp_path / "snapshot")
    assert len(manifest["files"]) == 6  # the database and five blobs
    assert manifest["database"] == "sqlite"
    with pytest.raises(BackupError, match="not empty"):
        backup(source, tmp_path / "snapshot")
    target = GatewaySettings(data_dir=tmp_path / "target")
    await restore(target, tmp_path / "snapshot")
    assert await _contents(target) == await _contents(source)
    assert _blobs(target) == _blobs(source)
    assert len(_blobs(target)) == 5
    contents = await _contents(target)
    assert {row[4] for row in contents["deliveries"]} >= set(_STATUS_STATES)
    assert len(contents["users"]) == len(contents["alerts"]) == 1
    with pytest.raises(BackupError, match="already holds messages"):
        await restore(target, tmp_path / "snapshot")
    tampered = (
        tmp_path / "snapshot" / next(iter(k for k in manifest["files"] if k.startswith("blobs")))
    )
    tampered.chmod(0o644)
    tampered.write_bytes(b"changed")
    with pytest.raises(BackupError, match="altered"):
        await restore(GatewaySettings(data_dir=tmp_path / "third"), tmp_path / "snapshot")


async def test_postgresql_round_trip(tmp_path: Path) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    database = f"restore_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    target_url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}"
    try:
        source = GatewaySettings(
            data_dir=tmp_path / "source",
            database_url=POSTGRES_URL,
            database_schema=schema,
            signature_required=False,
        )
        await _seed(source)
        async with Runtime(source):
            manifest = await asyncio.to_thread(backup, source, tmp_path / "snapshot")
        assert manifest["database"] == "postgresql"
        target = GatewaySettings(
            data_dir=tmp_path / "target", database_url=target_url, database_schema=schema
        )
        await restore(target, tmp_path / "snapshot")
        assert await _contents(target) == await _contents(source)
        assert _blobs(target) == _blobs(source)
    finally:
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        await admin.dispose()


def test_the_daily_schedule_and_retention(tmp_path: Path) -> None:
    import asyncio as _asyncio
    import datetime as dt

    from gateway.config import BackupSettings
    from gateway.operate.backup import next_backup_at, take_daily_backup

    vietnam = dt.timezone(dt.timedelta(hours=7))
    morning = dt.datetime(2026, 11, 25, 1, 30, tzinfo=vietnam)
    assert next_backup_at(morning, "02:00") == dt.datetime(2026, 11, 25, 2, 0, tzinfo=vietnam)
    assert next_backup_at(morning.replace(hour=3), "02:00") == dt.datetime(
        2026, 11, 26, 2, 0, tzinfo=vietnam
    )
    settings = GatewaySettings(
        data_dir=tmp_path / "live", backup=BackupSettings(folder=tmp_path / "backups", keep=2)
    )
    _asyncio.run(_seed(settings))
    for day in (25, 26, 27):
        take_daily_backup(settings, dt.datetime(2026, 11, day, 2, 0, tzinfo=vietnam))
    assert sorted(p.name for p in (tmp_path / "backups").iterdir() if p.is_dir()) == [
        "2026-11-26T0200",
        "2026-11-27T0200",
    ]


async def test_each_backup_is_verified_and_a_missing_or_failed_one_is_told(
    tmp_path: Path,
) -> None:
    """Each snapshot read back against its sums and, on the first and then weekly, restored
    into a scratch place and opened; /readyz, /metrics, the overview and the alerts show the
    last verified one, and a failed or missing backup raises an alert."""
    import datetime as dt

    import aiohttp

    from gateway.config import BackupSettings
    from gateway.operate.backup import take_daily_backup
    from gateway.operate.backup_checks import backup_problem, read_status

    folder = tmp_path / "backups"
    settings = GatewaySettings(
        data_dir=tmp_path / "live",
        backup=BackupSettings(folder=folder),
        signature_required=False,
    )
    await _seed(settings)
    first = dt.datetime(2026, 11, 25, 19, 0, tzinfo=dt.UTC)
    assert backup_problem(settings, first) == "no verified backup yet"
    await asyncio.to_thread(take_daily_backup, settings, first)
    status = read_status(folder)
    assert status.last_good_at == first
    assert status.restore_test == "SQLite intact, 5 messages"  # restored and opened (_seed)
    assert backup_problem(settings, first + dt.timedelta(hours=2)) is None
    assert "30 hours old" in (backup_problem(settings, first + dt.timedelta(hours=30)) or "")
    second = first + dt.timedelta(days=1)
    (folder / "2026-11-27T0200").mkdir()
    (folder / "2026-11-27T0200" / "stray").write_text("x")  # the snapshot cannot be written
    with pytest.raises(BackupError):
        await asyncio.to_thread(take_daily_backup, settings, second)
    problem = backup_problem(settings, second)
    assert problem is not None
    assert problem.startswith("the last backup failed")
    async with Runtime(settings) as runtime:
        changes = await evaluate(
            runtime.store, Signers(), AlertSettings(), extra=runtime.operational_alerts
        )
        (raised,) = [c for c in changes if c.kind == "backup"]
        assert raised.text("vi").startswith("Sao lưu hằng ngày (Điều 18.2) không đạt")
        async with serving(runtime.web_app()) as url, aiohttp.ClientSession() as http:
            async with http.get(f"{url}/readyz") as response:
                check = (await response.json())["checks"]["backup"]
            async with http.get(f"{url}/metrics") as response:
                metrics = await response.text()
    assert check["ok"] is False
    assert check["advisory"] is True  # serving goes on
    assert f"last verified {first.isoformat()}" in check["detail"]
    assert f"edxml_backup_last_verified_timestamp_seconds {first.timestamp():g}" in metrics


async def test_the_commands_show_progress_on_stderr_and_answer_on_stdout(tmp_path: Path) -> None:
    source, target = tmp_path / "source.yaml", tmp_path / "target.yaml"
    source.write_text(f"data_dir: {tmp_path / 'source'}\n")
    target.write_text(f"data_dir: {tmp_path / 'target'}\n")
    await _seed(GatewaySettings(data_dir=tmp_path / "source"))
    snapshot = str(tmp_path / "snapshot")

    def run(*args: str, progress: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args],
            cwd=ROOT,
            env={**os.environ, "EDXML_PROGRESS": progress},
            capture_output=True,
            text=True,
            check=True,
        )

    made = run("backup", snapshot, "--config", str(source), progress="1")
    assert made.stdout.startswith("edxml-gateway backup: 6 files, sqlite")
    assert "copying blobs: 100%" in made.stderr
    assert "sums: 100%" in made.stderr
    restored = run("restore", snapshot, "--config", str(target), progress="1")
    assert restored.stdout.startswith("edxml-gateway restore: 6 files, sqlite")
    for step in ("checking sums", "restoring blobs", "checking blobs"):
        assert f"{step}: 100%" in restored.stderr
    quiet = run("backup", str(tmp_path / "again"), "--config", str(source), progress="0")
    assert "%" not in quiet.stderr
