"""The gateway's remote side: one client per configured transport, the destinations that
routes name, and the inboxes its pollers read.

Three transports reach other agencies: the national axis (VDXP, HTTP+JSON with the SDK's
signed headers), a provincial LGSP (the axis behind an API manager: OAuth2 bearer tokens),
and the older SOAP hubs; a ministry's REST endpoint is a fourth kind of destination. Each is
opened here from its settings, closed with ``stack``, and named as routes name it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from adapters.axis.client import AxisClient
from adapters.axis.poller import Inbox
from adapters.lgsp.client import LgspClient
from adapters.ministry_rest import MinistryRestClient
from adapters.soap_hub import SoapHubClient
from gateway.config import GatewaySettings
from gateway.delivery.destinations import (
    AxisDestination,
    Destination,
    LgspDestination,
    LocalDestination,
    LocalReceiver,
    RestDestination,
    SoapHubDestination,
)
from gateway.outbound.directory import AgencySource

__all__ = ["Polled", "Remotes", "open_remotes"]


@dataclass(frozen=True, slots=True)
class Polled:
    """An inbox a poller reads: its source name (the inbound rows' ``source``), the client,
    how often, and the name its passes beat under (``poller`` for the axis)."""

    source: str
    inbox: Inbox
    interval_seconds: float

    @property
    def heartbeat(self) -> str:
        return "poller" if self.source == "axis" else f"poller:{self.source}"


@dataclass(slots=True)
class Remotes:
    destinations: dict[str, Destination] = field(default_factory=dict)
    axis: AxisClient | None = None
    polled: list[Polled] = field(default_factory=list)
    #: Who lists the national agencies for the directory: the axis, else the first LGSP
    directory: AgencySource | None = None
    directory_every_seconds: float = 6 * 3600


async def open_remotes(
    settings: GatewaySettings,
    environ: Mapping[str, str],
    stack: AsyncExitStack,
    receive_locally: LocalReceiver,
) -> Remotes:
    """Open every configured client (each closed when ``stack`` unwinds)."""
    remotes = Remotes(destinations={"local": LocalDestination(receive_locally)})
    axis = settings.axis
    if axis is not None:
        remotes.axis = await stack.enter_async_context(AxisClient(axis.client_config(environ)))
        remotes.destinations["axis"] = AxisDestination(remotes.axis)
        remotes.directory = remotes.axis
        remotes.directory_every_seconds = axis.directory_sync_hours * 3600
        if axis.poll:
            remotes.polled.append(Polled("axis", remotes.axis, axis.poll_interval_seconds))
    for name, platform in settings.lgsp.items():
        lgsp = await stack.enter_async_context(LgspClient(platform.client_config(environ)))
        remotes.destinations[name] = LgspDestination(lgsp, name)
        if platform.poll:
            remotes.polled.append(Polled(name, lgsp, platform.poll_interval_seconds))
        if remotes.directory is None:
            remotes.directory = lgsp
            remotes.directory_every_seconds = platform.directory_sync_hours * 3600
    for name, hub in settings.soap_hubs.items():
        client = await stack.enter_async_context(SoapHubClient(hub.client_config(environ)))
        remotes.destinations[name] = SoapHubDestination(client, name)
    for name, endpoint in settings.rest_endpoints.items():
        rest = await stack.enter_async_context(MinistryRestClient(endpoint.client_config(environ)))
        remotes.destinations[name] = RestDestination(rest, name)
    return remotes
