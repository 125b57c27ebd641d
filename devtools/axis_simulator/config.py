"""The simulator's configuration: which systems may call it, their agencies, faults to inject.

A JSON file (``config/axis-simulator.json`` is the demo's) read into frozen pydantic models,
so a typo in a key is an error at start-up rather than a silently ignored setting. A system's
secret may be given inline (test and demo secrets only) or named by ``secret_env``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapters.errors import ConfigurationError

__all__ = [
    "AgencyConfig",
    "FaultPlan",
    "LgspAccessConfig",
    "SimulatorConfig",
    "SystemConfig",
    "load_simulator_config",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AgencyConfig(_Frozen):
    """One agency of the axis directory (getAgenciesList: ``id, pid, code, name, mail``)."""

    code: str
    name: str
    parent: str = ""
    mail: str = ""
    level: int = 1
    code102: str = ""


class LgspAccessConfig(_Frozen):
    """How a system reaches the simulator's LGSP face: its application's client credentials
    on the API manager and its unit's secret identifier (test and demo values only)."""

    consumer_key: str
    consumer_secret: str = Field(repr=False)
    unit_secret: str = Field(repr=False)


class SystemConfig(_Frozen):
    """A caller of the axis: a provincial system (``00.42.W00``) or a ministry's own id."""

    system_id: str
    secret: str | None = Field(default=None, repr=False)
    secret_env: str | None = None
    name: str = ""
    agencies: tuple[AgencyConfig, ...] = ()
    #: Given: the system may also use the LGSP face (``/token``, ``/truclienthong/v1.0.0``)
    lgsp: LgspAccessConfig | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> SystemConfig:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError(f"system {self.system_id}: give exactly one of secret, secret_env")
        return self

    def resolved_secret(self) -> str:
        if self.secret is not None:
            return self.secret
        assert self.secret_env is not None
        value = os.environ.get(self.secret_env)
        if not value:
            raise ConfigurationError(
                f"system {self.system_id}: the environment variable {self.secret_env} is not set"
            )
        return value


class FaultPlan(_Frozen):
    """Faults to inject, per run. Rates are probabilities per API request (0 = never)."""

    error_rate: float = Field(default=0.0, ge=0, le=1)  # HTTP 500 with the FAIL envelope
    throttle_rate: float = Field(default=0.0, ge=0, le=1)  # HTTP 429
    timeout_rate: float = Field(default=0.0, ge=0, le=1)  # no answer for hang_seconds
    drop_rate: float = Field(default=0.0, ge=0, le=1)  # connection closed, no answer
    duplicate_rate: float = Field(default=0.0, ge=0, le=1)  # an acknowledged item comes back once
    latency_ms: float = Field(default=0.0, ge=0)  # added to every API answer
    burst_5xx: int = Field(default=0, ge=0)  # the next N API requests get 503
    outage_seconds: float = Field(default=0.0, ge=0)  # 503 "maintenance" from now for N seconds
    hang_seconds: float = Field(default=30.0, gt=0)
    #: the request is carried out (a package stored), then answered only after
    #: ``late_answer_seconds``: a client that gave up earlier does not know it went through
    late_answer_rate: float = Field(default=0.0, ge=0, le=1)
    late_answer_seconds: float = Field(default=5.0, gt=0)
    seed: int | None = None  # a fixed seed makes a run's faults repeatable


class SimulatorConfig(_Frozen):
    systems: tuple[SystemConfig, ...]
    #: The OrganId the hub writes in the TraceHeader it appends (spec 1.7); VPCP runs the axis.
    trace_organ_id: str = "000.00.00.G22"
    append_trace: bool = True
    #: Run the edxml rules (XSD + business rules) on each package, not only the safe parse.
    strict_validation: bool = False
    #: The admin endpoint's bearer token (faults, state); None disables the endpoint.
    admin_token: str | None = Field(default=None, repr=False)
    faults: FaultPlan = FaultPlan()
    #: The LGSP face's access tokens last this long (``expires_in``)
    lgsp_token_seconds: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _unique(self) -> SimulatorConfig:
        seen: set[str] = set()
        for system in self.systems:
            for agency in system.agencies:
                if agency.code in seen:
                    raise ValueError(f"agency {agency.code} is listed twice")
                seen.add(agency.code)
        return self


def load_simulator_config(path: str | Path) -> SimulatorConfig:
    """Read a simulator config file; every problem is a ``ConfigurationError`` naming the file."""
    try:
        raw: Any = json.loads(Path(path).read_text(encoding="utf-8"))
        if isinstance(raw, dict):  # "_comment" and other keys starting with _ are notes
            raw = {key: value for key, value in raw.items() if not key.startswith("_")}
        return SimulatorConfig.model_validate(raw)
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:  # JSON errors and pydantic's ValidationError
        detail = exc.errors() if isinstance(exc, ValidationError) else exc
        raise ConfigurationError(f"{path}: not a valid simulator config: {detail}") from None
