"""The official peers — VNPT's EdXML102 reader and the VPCP axis SDK — as test fixtures.

The jars are looked for in ``$EDXML_PEER_JARS``, then in ``../shared/peer/jars`` next to the
repository. Without them the conformance tests are not collected and one line says where to
get them; with them (CI always has them), ``Peer.java`` is compiled once per run and each
call runs it as a subprocess, so the SDK talks HTTP to our servers like any QLVB would.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent


def peer_jars() -> Path | None:
    candidates = [os.environ.get("EDXML_PEER_JARS"), str(ROOT.parent / "shared" / "peer" / "jars")]
    for candidate in candidates:
        if candidate and any(Path(candidate).glob("SDKVXP-*.jar")):
            return Path(candidate)
    return None


JARS = peer_jars()
WHERE = (
    "the official SDK jars (SDKVXP, EdXML102: PVN-Organization/API-Gateway-iOffice, "
    "'JDK 1.8/SDKVXP_Example/lib/') were not found in $EDXML_PEER_JARS or ../shared/peer/jars"
)
if JARS is None or shutil.which("javac") is None:
    collect_ignore_glob = ["test_*.py"]


def pytest_report_header(config: pytest.Config) -> str:
    if JARS is None:
        return f"conformance: not run: {WHERE}"
    if shutil.which("javac") is None:
        return "conformance: not run: no javac (install a JDK 17)"
    return f"conformance: the official peers from {JARS}"


class Peer:
    """Runs the compiled harness: ``read`` (EdXML102) and ``sdk`` (SDKVXP)."""

    def __init__(self, classes: Path, jars: Path, store: Path) -> None:
        self._classpath = f"{classes}{os.pathsep}{jars}/*"
        self.store = store

    def _command(self, *args: str) -> list[str]:
        return ["java", "-cp", self._classpath, "Peer", *args]

    def read(self, *files: Path) -> list[dict[str, Any]]:
        """What EdXML102 reads from each file (a blocking call: no server is involved)."""
        done = subprocess.run(
            self._command("read", *map(str, files)),
            capture_output=True,
            check=True,
            timeout=120,
        )
        return [json.loads(line) for line in done.stdout.decode().splitlines() if line]

    async def sdk(
        self, endpoint: str, system_id: str, secret: str, operation: str, *args: str
    ) -> dict[str, Any]:
        """One SDK operation against ``endpoint``; awaited, so a server in this loop answers."""
        process = await asyncio.create_subprocess_exec(
            *self._command("sdk", endpoint, system_id, secret, str(self.store), operation, *args),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.store,  # the SDK writes what getEdoc fetched under xml/ of its folder
        )
        output, errors = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, errors.decode()[-2000:]
        lines = [line for line in output.decode().splitlines() if line.startswith("{")]
        assert lines, output.decode()[-2000:]
        return dict(json.loads(lines[-1]))


@pytest.fixture(scope="session")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Peer:
    assert JARS is not None
    classes = tmp_path_factory.mktemp("peer-classes")
    subprocess.run(
        ["javac", "-nowarn", "-cp", f"{JARS}/*", "-d", str(classes), str(HERE / "Peer.java")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return Peer(classes, JARS, tmp_path_factory.mktemp("sdk-store"))
