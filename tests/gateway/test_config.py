"""Settings: the example file loads, the environment overrides it, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.errors import ConfigurationError
from gateway.config import load_settings
from tests.factories import ROOT


def test_the_example_loads_and_the_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDXML_WORKERS__CONCURRENCY", "7")
    monkeypatch.setenv("EDXML_AXIS__SYSTEM_ID", "00.53.W00")
    settings = load_settings(ROOT / "config" / "production.example.yaml")
    assert settings.workers.concurrency == 7
    assert settings.axis is not None
    assert settings.axis.system_id == "00.53.W00"
    assert not settings.embedded
    assert settings.routing.destination_for("000.00.13.H42") == "local"
    assert settings.routing.destination_for("000.00.00.G22") == "axis"
    assert settings.retry.delays_seconds[0] == 30


def test_the_embedded_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None)
    assert settings.embedded
    assert settings.store_url == "sqlite+aiosqlite:///data/gateway.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("workers: {concurrency: 0}", "workers.concurrency"),
        ("databse_url: x", "databse_url"),  # a typo is an error, not an ignored key
        ("- a list", "mapping"),
        ("axis: {base_url: x", "not YAML"),
        ("trust_sets: {bcy: /k}\ntrust_policy: {package: [neac]}", "unknown trust sets neac"),
        ("trust_policy: {seal: [bcy]}", "trust_policy.seal"),
        ("trust_dir: /k\ntrust_sets: {default: /j}", "trust set 'default'"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_settings(path)


def test_a_missing_secret_is_named_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDXML_AXIS_SECRET", raising=False)
    settings = load_settings(ROOT / "config" / "production.example.yaml")
    assert settings.axis is not None
    with pytest.raises(ConfigurationError, match="EDXML_AXIS_SECRET"):
        settings.axis.client_config({})
    config = settings.axis.client_config({"EDXML_AXIS_SECRET": "s3"})
    assert "s3" not in repr(config)


def test_the_readmes_three_transports_load_and_route(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Which transport, and how to configure each", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "gateway.yaml").write_text(block)
    settings = load_settings(tmp_path / "gateway.yaml")
    assert set(settings.lgsp) == {"lgsp"}
    assert settings.routing.destination_for("000.00.11.H53") == "hub-tay-ninh"
    assert settings.routing.destination_for("000.00.00.G22") == "lgsp"
    assert settings.routing.destination_for("000.00.13.H42") == "local"


def test_a_destination_is_named_once(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text(
        "lgsp:\n  axis: {base_url: 'https://x', consumer_key: k,"
        " consumer_secret_env: A, unit_secret_env: B}\n"
    )
    with pytest.raises(ConfigurationError, match="'axis' is already axis"):
        load_settings(tmp_path / "gateway.yaml")
