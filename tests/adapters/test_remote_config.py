"""Axis and SOAP hub settings from the environment: required names, bounds, secrets unseen."""

from __future__ import annotations

import pytest

from adapters.axis.client import AxisConfig
from adapters.errors import ConfigurationError
from adapters.soap_hub import SoapHubConfig

AXIS = {
    "EDXML_AXIS_URL": "http://10.184.254.171:8080/XrdAdapter/adapter",
    "EDXML_AXIS_SYSTEM_ID": "00.42.W00",
    "EDXML_AXIS_SECRET": "s3cr3t-value",
}


def test_the_axis_config_reads_the_environment() -> None:
    config = AxisConfig.from_env(
        {**AXIS, "EDXML_AXIS_TIMEOUT": "15", "EDXML_AXIS_MAX_CONNECTIONS": "4"}
    )
    assert (config.base_url, config.system_id, config.secret) == tuple(AXIS.values())
    assert (config.timeout_seconds, config.max_connections) == (15.0, 4)
    assert "s3cr3t-value" not in repr(config)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({k: v for k, v in AXIS.items() if k != "EDXML_AXIS_SECRET"}, "EDXML_AXIS_SECRET"),
        ({**AXIS, "EDXML_AXIS_TIMEOUT": "soon"}, "must be numbers"),
        ({**AXIS, "EDXML_AXIS_MAX_CONNECTIONS": "50"}, "1..10"),
    ],
)
def test_a_bad_axis_environment_is_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as error:
        AxisConfig.from_env(environ)
    assert "s3cr3t-value" not in str(error.value)


def test_the_soap_hub_config_reads_the_environment() -> None:
    environ = {
        "EDXML_SOAP_HUB_URL": "http://hub/soap/edoc",
        "EDXML_SOAP_HUB_ORGAN_ID": "000.00.11.H53",
        "EDXML_SOAP_HUB_TOKEN": "tok-value",
    }
    config = SoapHubConfig.from_env(environ)
    assert (config.endpoint, config.organ_id, config.token) == tuple(environ.values())
    assert "tok-value" not in repr(config)
    with pytest.raises(ConfigurationError, match="EDXML_SOAP_HUB_TOKEN"):
        SoapHubConfig.from_env({k: v for k, v in environ.items() if "TOKEN" not in k})
    with pytest.raises(ConfigurationError, match="seconds"):
        SoapHubConfig.from_env({**environ, "EDXML_SOAP_HUB_TIMEOUT": "x"})
