"""The ``edxml-gateway`` console script (a placeholder until the service exists)."""

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
