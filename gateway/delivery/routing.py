"""Which destination takes a recipient: the routing table of the configuration.

Routes are tried in order; a pattern is a shell-style match on the OrganId (``000.*.H42``
for every unit of Ninh Bình, ``*`` for the rest). A recipient no route takes is refused when
the document is accepted, not discovered at send time.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

import edxml

__all__ = ["Route", "RoutingTable"]


class Route(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str
    destination: str


class RoutingTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    routes: tuple[Route, ...] = (Route(pattern="*", destination="axis"),)
    #: Destinations that reach the national axis (itself, or a provincial LGSP in front of
    #: it): a recipient routed to one must be in the agencies directory
    national: tuple[str, ...] = ("axis",)

    def destination_for(self, organ_id: str) -> str | None:
        for route in self.routes:
            if edxml.matches_agency(organ_id, (route.pattern,)):
                return route.destination
        return None

    def unroutable(self, organ_ids: list[str]) -> list[str]:
        return [organ_id for organ_id in organ_ids if self.destination_for(organ_id) is None]
