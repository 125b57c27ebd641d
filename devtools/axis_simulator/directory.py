"""The simulated axis' directory: the systems (each with its secret) and the agencies they
register, as getAgenciesList, getSynchronizeUnit, registerAgency and deleteAgency see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import edxml
from adapters.axis.server import AxisRefusal, Caller
from devtools.axis_simulator.config import AgencyConfig, SimulatorConfig

__all__ = ["AgencyDirectory"]


@dataclass(slots=True)
class _System:
    system_id: str
    secret: str
    name: str
    agencies: set[str] = field(default_factory=set)


class AgencyDirectory:
    """Systems and agencies by code; the hub is one."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._systems: dict[str, _System] = {}
        self._agencies: dict[str, tuple[AgencyConfig, str]] = {}  # code -> (agency, system id)
        for system in config.systems:
            state = _System(system.system_id, system.resolved_secret(), system.name)
            self._systems[system.system_id] = state
            for agency in system.agencies:
                self._agencies[agency.code] = (agency, system.system_id)
                state.agencies.add(agency.code)

    def secret_for(self, system_id: str) -> str | None:
        system = self._systems.get(system_id)
        return None if system is None else system.secret

    def _owns(self, caller: Caller, code: str) -> bool:
        system = self._systems[caller.system_id]
        return code == caller.system_id or code in system.agencies

    def system_of(self, code: str) -> str | None:
        entry = self._agencies.get(code)
        return None if entry is None else entry[1]

    def _agency_row(self, agency: AgencyConfig, system_id: str) -> dict[str, Any]:
        return {
            "id": agency.code,
            "pid": agency.parent or system_id,
            "code": agency.code,
            "name": agency.name,
            "mail": agency.mail,
            "code102": agency.code102 or agency.code,
        }

    async def agencies(
        self, caller: Caller, *, qd20: bool, level: int | None
    ) -> list[dict[str, Any]]:
        return [
            self._agency_row(agency, system_id)
            for agency, system_id in self._agencies.values()
            if level is None or agency.level == level
        ]

    async def synchronize_units(self, caller: Caller) -> list[dict[str, Any]]:
        return [
            {
                **self._agency_row(agency, system_id),
                "centerCode": system_id,
                "version": 1,
                "deleted": False,
                "modifyDate": "",
                "isAgency": True,
            }
            for agency, system_id in self._agencies.values()
        ]

    async def register_agency(self, caller: Caller, record: dict[str, Any]) -> None:
        code, parent = str(record["code"]), str(record.get("pcode") or caller.system_id)
        if not edxml.is_agency_id(code):
            raise AxisRefusal(400, "400", f"{code} is not an agency identifier (spec 4.1)")
        if not self._owns(caller, parent):
            raise AxisRefusal(
                403, "403", f"pcode {parent} is not {caller.system_id} or one of its agencies"
            )
        owner = self.system_of(code)
        if owner is not None and owner != caller.system_id:
            raise AxisRefusal(409, "409", f"{code} is registered by another system")
        agency = AgencyConfig(
            code=code, name=str(record["name"]), parent=parent, mail=str(record.get("mail") or "")
        )
        self._agencies[code] = (agency, caller.system_id)
        self._systems[caller.system_id].agencies.add(code)

    async def delete_agency(self, caller: Caller, code: str) -> None:
        if self.system_of(code) != caller.system_id:
            raise AxisRefusal(404, "404", f"{code} is not an agency of {caller.system_id}")
        del self._agencies[code]
        self._systems[caller.system_id].agencies.discard(code)

    def agency_name(self, code: str) -> str | None:
        entry = self._agencies.get(code)
        return None if entry is None else entry[0].name

    def directory(self) -> list[AgencyConfig]:
        return [agency for agency, _ in self._agencies.values()]
