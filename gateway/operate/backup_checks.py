"""Backups that are known to be good (Điều 18.2): each daily snapshot verified, a periodic
test restore, and the outcome recorded where every process reads it.

A snapshot is *good* once its files are read back and match the manifest's SHA-256 sums.
Every ``restore_test_days`` the newest good snapshot is also restored into a scratch place
and opened: SQLite's copy passes ``PRAGMA integrity_check`` and its messages are counted;
a PostgreSQL dump is listed whole by ``pg_restore --list`` (every object readable). The
outcome lives in ``status.json`` beside the snapshots, so ``/readyz``, ``/metrics``, the
dashboard and the alerts of any process see the last good backup, and an alert is raised
when it is missing, too old or failed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from gateway.config import GatewaySettings

__all__ = [
    "BackupStatus",
    "backup_problem",
    "backup_problem_of",
    "read_status",
    "record_status",
    "test_restore",
]

STATUS = "status.json"
#: A daily backup is missing once the newest good one is older than this
MAX_AGE = dt.timedelta(hours=26)


@dataclass(frozen=True)
class BackupStatus:
    last_good_at: dt.datetime | None = None
    last_good: str | None = None  # the snapshot's folder name
    last_failure_at: dt.datetime | None = None
    failure: str | None = None
    restore_tested_at: dt.datetime | None = None
    restore_test: str | None = None  # what the test restore found


def read_status(root: Path) -> BackupStatus:
    try:
        raw: dict[str, Any] = json.loads((root / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return BackupStatus()
    values: dict[str, Any] = {}
    for item in fields(BackupStatus):
        value = raw.get(item.name)
        if value is not None and item.name.endswith("_at"):
            value = dt.datetime.fromisoformat(value)
        values[item.name] = value
    return BackupStatus(**values)


def record_status(root: Path, **changes: Any) -> BackupStatus:
    """Write the status with ``changes`` applied (atomically: a reader never sees half)."""
    status = {**asdict(read_status(root)), **changes}
    encoded = json.dumps(
        {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in status.items()},
        ensure_ascii=False,
        indent=1,
    )
    root.mkdir(parents=True, exist_ok=True)
    scratch = root / f".{STATUS}.tmp"
    scratch.write_text(encoded, encoding="utf-8")
    scratch.replace(root / STATUS)
    return read_status(root)


def test_restore(folder: Path) -> str:
    """Restore ``folder``'s database somewhere scratch and open it; what it found, or
    ``RuntimeError`` saying what is wrong."""
    if (folder / "gateway.db").is_file():
        with tempfile.TemporaryDirectory(prefix="edxml-restore-test-") as scratch:
            copy = Path(scratch) / "gateway.db"
            shutil.copyfile(folder / "gateway.db", copy)
            connection = sqlite3.connect(copy)
            try:
                (verdict,) = connection.execute("PRAGMA integrity_check").fetchone()
                (count,) = connection.execute("SELECT count(*) FROM messages").fetchone()
            except sqlite3.Error as exc:
                raise RuntimeError(f"the restored database cannot be read: {exc}") from None
            finally:
                connection.close()
        if verdict != "ok":
            raise RuntimeError(f"the restored database is damaged: {verdict}")
        return f"SQLite intact, {count} messages"
    dump = folder / "gateway.pgdump"
    if not dump.is_file():
        raise RuntimeError("the snapshot holds no database")
    listed = subprocess.run(  # noqa: S603 (our own file; pg_restore from PATH, as backup's)
        ["pg_restore", "--list", str(dump)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        raise RuntimeError(f"pg_restore cannot read the dump: {listed.stderr.strip()[:200]}")
    tables = sum(" TABLE DATA " in line for line in listed.stdout.splitlines())
    return f"PostgreSQL dump readable, {tables} tables"


def backup_problem(settings: GatewaySettings, now: dt.datetime) -> str | None:
    """Why the backups are not what Điều 18.2 asks (None: a good one is recent enough)."""
    if settings.backup is None:
        return None
    return backup_problem_of(read_status(settings.backup.folder), now)


def backup_problem_of(status: BackupStatus, now: dt.datetime) -> str | None:
    if status.last_failure_at and (
        status.last_good_at is None or status.last_failure_at > status.last_good_at
    ):
        return f"the last backup failed: {status.failure}"
    if status.last_good_at is None:
        return "no verified backup yet"
    if now - status.last_good_at > MAX_AGE:
        hours = int((now - status.last_good_at).total_seconds() // 3600)
        return f"the last verified backup is {hours} hours old"
    return None
