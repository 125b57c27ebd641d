"""The axis simulator: a real HTTP server that speaks the national axis' API (spec 3.3).

The axis is not reachable from development machines, so tests, benchmarks and ``make run``
talk to this instead. It checks the SDK's authentication exactly (``adapters.axis.server``),
behaves as a hub (``hub``), injects faults on demand (``faults``) and also serves the older
SOAP hub flavour (``soap_face``). Run alone with ``edxml-gateway simulate-axis``.
"""

from devtools.axis_simulator.app import ADMIN_PREFIX, AxisSimulator, build_simulator_app
from devtools.axis_simulator.config import (
    AgencyConfig,
    FaultPlan,
    SimulatorConfig,
    SystemConfig,
    load_simulator_config,
)
from devtools.axis_simulator.faults import Fault, FaultInjector
from devtools.axis_simulator.hub import AxisHub

__all__ = [
    "ADMIN_PREFIX",
    "AgencyConfig",
    "AxisHub",
    "AxisSimulator",
    "Fault",
    "FaultInjector",
    "FaultPlan",
    "SimulatorConfig",
    "SystemConfig",
    "build_simulator_app",
    "load_simulator_config",
]
