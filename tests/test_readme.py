"""The README's operator commands run exactly as written: each line is taken from the README
itself (so an edit there is tested here) and run by a shell in a fresh deployment folder
whose settings are ``gateway.yaml`` (the examples' file, also named by ``EDXML_CONFIG``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: The README's commands that need no server, in the order an operator would type them.
OPERATOR_COMMANDS = (
    "edxml-gateway migrate --config gateway.yaml",
    'edxml-gateway clients add "QLVB Sở TT&TT"',
    "NEW_PASSWORD=",
    "edxml-gateway users lock dungnv.stttt",
    "edxml-gateway users list",
    "edxml-gateway directory list",
    "edxml-gateway requeue --destination axis --since",
    "edxml-gateway report --from 2026-06-01",
)


def _readme_commands() -> list[str]:
    """Every command line of the README (code blocks and inline), continuations joined."""
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", README, re.S):
        found += [line.strip() for line in block.replace("\\\n", " ").splitlines()]
    found += re.findall(r"`(edxml-gateway [^`]+)`", README)
    return found


def _command(prefix: str) -> str:
    matches = [line for line in _readme_commands() if line.startswith(prefix)]
    assert matches, f"the README has no command starting {prefix!r}"
    return matches[0]


@pytest.mark.parametrize("prefix", OPERATOR_COMMANDS)
def test_the_readme_has_the_command(prefix: str) -> None:
    assert _command(prefix)


def test_the_operator_commands_run_as_written(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text("data_dir: data\nsignature_required: false\n")
    bin_dir = Path(sys.executable).parent
    environ = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "EDXML_CONFIG": "gateway.yaml",
    }
    for prefix in OPERATOR_COMMANDS:
        command = _command(prefix)
        ran = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert ran.returncode == 0, f"{command}\n{ran.stdout}\n{ran.stderr}"
        assert "Traceback" not in ran.stderr, command
    assert (tmp_path / "so-den.xlsx").stat().st_size > 0
