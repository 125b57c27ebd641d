"""What the Dockerfile does, done here: its sources exist, the wheel it installs is whole.

There is no Docker engine on these machines; `make test` runs hadolint on the Dockerfile,
and this builds the same wheel `pip install .` builds in the image, then checks it carries
the package data the service reads at run time (XSDs and WSDL, migrations, templates).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_the_dockerfile_copies_what_exists_and_runs_our_command() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY ")]
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), source
    assert any(line.startswith("USER ") and "root" not in line for line in lines)
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert 'CMD ["edxml-gateway", "serve"' in (ROOT / "Dockerfile").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"postgres", "rabbitmq", "redis", "gateway", "worker", "migrate"} <= set(
        compose["services"]
    )


def test_the_wheel_carries_the_package_data(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("edxml_gateway-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "edxml/schemas/edxml-document.xsd",
        "edxml/schemas/edoc-hub.wsdl",
        "edxml/schemas/gateway-api.yaml",
        "adapters/store/migrations/env.py",
        "adapters/store/migrations/script.py.mako",
        "adapters/store/migrations/versions/0001_initial.py",
        "adapters/store/migrations/versions/0005_notices.py",
        "gateway/http/dashboard/templates/base.html",
        "gateway/http/dashboard/texts.json",
        "devtools/demo.py",
    ):
        assert expected in names, expected
