"""A simulated axis on a real socket per test, and clients for its systems."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.axis.client import AxisClient, AxisConfig
from devtools.axis_simulator import AgencyConfig, AxisSimulator, SimulatorConfig, SystemConfig
from devtools.axis_simulator.config import LgspAccessConfig

VECTOR_SECRET = "test-secret-for-vectors"
ADMIN_TOKEN = "admin-token-for-tests"
#: Ninh Bình's access to its provincial LGSP (the simulator's LGSP face)
LGSP_ACCESS = LgspAccessConfig(
    consumer_key="ninh-binh-qlvb",
    consumer_secret="consumer-secret-for-tests",
    unit_secret="unit-secret-of-ninh-binh",
)

#: Ninh Bình (the vectors' system), the Government Office, and the sample's recipient.
SYSTEMS = (
    SystemConfig(
        system_id="00.42.W00",
        secret=VECTOR_SECRET,
        name="Ninh Bình (example)",
        lgsp=LGSP_ACCESS,
        agencies=(
            AgencyConfig(code="000.00.00.H42", name="UBND tỉnh Ninh Bình"),
            AgencyConfig(code="000.00.01.H42", name="Văn phòng UBND tỉnh Ninh Bình", level=2),
            AgencyConfig(code="000.00.12.H42", name="Sở Thông tin và Truyền thông"),
            # the From of the official sample edoc_new.edxml, which the vectors send
            AgencyConfig(code="000.00.00.A80", name="Sample sender (edoc_new.edxml)"),
        ),
    ),
    SystemConfig(
        system_id="000.00.00.G22",
        secret="secret-of-vpcp",
        name="Văn phòng Chính phủ",
        agencies=(AgencyConfig(code="000.00.00.G22", name="Văn phòng Chính phủ"),),
    ),
    SystemConfig(
        system_id="00.53.W00",
        secret="secret-of-tay-ninh",
        name="Tây Ninh (example): its old hub speaks SOAP",
        agencies=(AgencyConfig(code="000.00.11.H53", name="Sở Tài chính tỉnh Tây Ninh"),),
    ),
    SystemConfig(
        system_id="00.17.W00",
        secret="secret-of-h17",
        agencies=(AgencyConfig(code="28.22.H17", name="Sample recipient (edoc_new.edxml)"),),
    ),
)


def simulator_config(**overrides: object) -> SimulatorConfig:
    return SimulatorConfig(systems=SYSTEMS, admin_token=ADMIN_TOKEN, **overrides)  # type: ignore[arg-type]


@pytest.fixture
async def simulator() -> AsyncIterator[AxisSimulator]:
    async with AxisSimulator(simulator_config()) as running:
        yield running


def client_for(simulator: AxisSimulator, system_id: str, **overrides: object) -> AxisClient:
    secret = next(s.secret for s in SYSTEMS if s.system_id == system_id)
    assert secret is not None
    settings: dict[str, object] = {"timeout_seconds": 5.0, **overrides}
    return AxisClient(
        AxisConfig(base_url=simulator.url, system_id=system_id, secret=secret, **settings)  # type: ignore[arg-type]
    )
