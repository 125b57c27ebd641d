"""Backup and restore (Điều 18.2: a daily backup, a restore on incident).

``backup(settings, folder)`` writes a consistent snapshot: the database by the engine's own
means — SQLite's online backup API, or ``pg_dump --format=custom`` — plus the blob store,
and a ``manifest.json`` with the SHA-256 of every file. ``restore(settings, folder)`` checks
every sum first, refuses a deployment that already holds messages, then restores the
database (a file copy, or ``pg_restore``) and the blobs, and checks the blobs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from adapters.store.engine import create_engine
from edxml import VIETNAM
from gateway.config import GatewaySettings
from gateway.operate import progress
from gateway.operate.backup_checks import record_status, test_restore

__all__ = [
    "BackupError",
    "backup",
    "next_backup_at",
    "restore",
    "run_daily_backups",
    "take_daily_backup",
]

MANIFEST = "manifest.json"
log = logging.getLogger(__name__)


class BackupError(Exception):
    """The snapshot cannot be made or restored; the message says why."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _sqlite_path(settings: GatewaySettings) -> Path | None:
    url = sa.make_url(settings.store_url)
    return Path(url.database or "") if url.get_backend_name() == "sqlite" else None


def _pg_url(settings: GatewaySettings) -> str:
    url = sa.make_url(settings.store_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _run(command: list[str], environ: dict[str, str] | None = None) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, env=environ)  # noqa: S603
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed") from None
    except subprocess.CalledProcessError as exc:
        raise BackupError(
            f"{command[0]} failed: {exc.stderr.decode(errors='replace')[-500:]}"
        ) from None


def backup(settings: GatewaySettings, folder: Path) -> dict[str, Any]:
    """Write a snapshot into ``folder`` (created; must be empty); returns the manifest."""
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty")
    folder.mkdir(parents=True, exist_ok=True)
    database = _sqlite_path(settings)
    if database is not None:
        if not database.exists():
            raise BackupError(f"no database at {database}")
        source, target = sqlite3.connect(database), sqlite3.connect(folder / "gateway.db")
        try:
            source.backup(target)  # consistent even while the gateway writes (WAL)
        finally:
            target.close()
            source.close()
        kind = "sqlite"
    else:
        command = [
            "pg_dump",
            "--format=custom",
            "--no-owner",
            "--file",
            str(folder / "gateway.pgdump"),
        ]
        if settings.database_schema:
            command += ["--schema", settings.database_schema]
        _run([*command, _pg_url(settings)])
        kind = "postgresql"
    blobs = settings.data_dir / "blobs"
    if blobs.exists():
        _copy_files(blobs, folder / "blobs", "copying blobs")
    files = _sums(folder, sorted(path for path in folder.rglob("*") if path.is_file()), "sums")
    manifest = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": kind,
        "schema": settings.database_schema,
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def _copy_files(source: Path, target: Path, description: str) -> None:
    """Copy the tree ``source`` into ``target`` (merging), a file at a time, with a bar;
    the blob store's unfinished ``.incoming-*`` files are left out."""
    paths = [
        path
        for path in sorted(source.rglob("*"))
        if path.is_file() and not path.name.startswith(".incoming-")
    ]
    with progress.bar(description, sum(path.stat().st_size for path in paths)) as shown:
        for path in paths:
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            shown.update(path.stat().st_size)


def _sums(root: Path, paths: list[Path], description: str) -> dict[str, str]:
    """SHA-256 of each of ``paths``, by its name relative to ``root``, with a bar."""
    sums: dict[str, str] = {}
    with progress.bar(description, sum(path.stat().st_size for path in paths)) as shown:
        for path in paths:
            sums[str(path.relative_to(root))] = _sha256(path)
            shown.update(path.stat().st_size)
    return sums


def _verify(folder: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} has no readable {MANIFEST}: {exc}") from None
    present = [folder / name for name in manifest["files"] if (folder / name).is_file()]
    found = _sums(folder, present, "checking sums")
    for name, digest in manifest["files"].items():
        if found.get(name) != digest:
            raise BackupError(
                f"{name} is missing or altered (its SHA-256 differs from the manifest)"
            )
    return manifest


async def _holds_messages(settings: GatewaySettings) -> bool:
    engine = create_engine(settings.store_url, schema=settings.database_schema)
    try:
        async with engine.connect() as connection:
            return bool(await connection.scalar(sa.text("SELECT count(*) FROM messages")))
    except sa.exc.SQLAlchemyError:
        return False  # no tables yet: an empty deployment
    finally:
        await engine.dispose()


async def restore(settings: GatewaySettings, folder: Path) -> dict[str, Any]:
    """Restore ``folder`` into the (empty) deployment of ``settings``; returns the manifest."""
    manifest = _verify(folder)
    if await _holds_messages(settings):
        raise BackupError("the target deployment already holds messages: restore into an empty one")
    database = _sqlite_path(settings)
    if manifest["database"] == "sqlite":
        if database is None:
            raise BackupError("this is an SQLite snapshot: restore it into an SQLite deployment")
        database.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(folder / "gateway.db", database)
    else:
        if database is not None:
            raise BackupError("this is a PostgreSQL snapshot: restore it into PostgreSQL")
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--dbname",
                _pg_url(settings),
                str(folder / "gateway.pgdump"),
            ]
        )
    target = settings.data_dir / "blobs"
    if (folder / "blobs").exists():
        target.mkdir(parents=True, exist_ok=True)
        _copy_files(folder / "blobs", target, "restoring blobs")
        restored = [name for name in manifest["files"] if name.startswith("blobs" + os.sep)]
        found = _sums(
            settings.data_dir, [settings.data_dir / name for name in restored], "checking blobs"
        )
        for name in restored:
            if found[name] != manifest["files"][name]:
                raise BackupError(f"{name} differs after the copy")
    return manifest


def next_backup_at(now: dt.datetime, at: str) -> dt.datetime:
    """The next ``at`` (HH:MM, Vietnam time) after ``now``."""
    hour, minute = (int(part) for part in at.split(":"))
    local = now.astimezone(VIETNAM)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += dt.timedelta(days=1)
    return candidate.astimezone(dt.UTC)


def take_daily_backup(settings: GatewaySettings, now: dt.datetime) -> Path:
    """One scheduled snapshot, named by its time, read back against its sums (and, when one
    is due, restored for a test), its outcome recorded; then only the newest ``keep`` good
    ones are kept. ``BackupError`` when any step fails (recorded too)."""
    assert settings.backup is not None
    root = settings.backup.folder
    folder = root / now.astimezone(VIETNAM).strftime("%Y-%m-%dT%H%M")
    try:
        backup(settings, folder)
        _verify(folder)  # every file read back: the snapshot is what the manifest says
        status = record_status(root, last_good_at=now, last_good=folder.name)
        every = dt.timedelta(days=settings.backup.restore_test_days)
        if status.restore_tested_at is None or now - status.restore_tested_at >= every:
            found = test_restore(folder)
            record_status(root, restore_tested_at=now, restore_test=found)
    except (BackupError, RuntimeError, OSError) as exc:
        record_status(root, last_failure_at=now, failure=str(exc))
        raise BackupError(str(exc)) from exc
    snapshots = sorted(p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).exists())
    for old in snapshots[: -settings.backup.keep]:
        shutil.rmtree(old)
    return folder


async def run_daily_backups(settings: GatewaySettings, stop: Any) -> None:
    """Sleep until each day's backup time, take it, repeat until ``stop`` (an asyncio.Event)."""
    assert settings.backup is not None
    while not stop.is_set():
        due = next_backup_at(dt.datetime.now(dt.UTC), settings.backup.at)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), (due - dt.datetime.now(dt.UTC)).total_seconds())
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(take_daily_backup, settings, due)
        except BackupError as exc:  # recorded: the alerts and /readyz say so
            log.error("daily backup failed: %s", exc)
