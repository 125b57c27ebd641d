"""How many connections the simulator has open to the axis' clients, and the most at once
since the last reset.

The axis allows a system 10 connections (spec 3.1); a benchmark checks that a deployment of
several processes keeps to that. Counting here, as connections carry their first request and
close, sees every peak, however short; sampling the sockets from outside could miss one, and
reading the kernel's socket tables fifty times a second took CPU from the deployment being
measured. A connection counts once it has carried a request to the axis' API, so the admin
requests that read the count are not part of it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

__all__ = ["ConnectionCount"]


class ConnectionCount:
    def __init__(self) -> None:
        self._open: set[Any] = set()
        self.peak = 0

    @property
    def open(self) -> int:
        return len(self._open)

    def reset(self) -> None:
        """Start a new peak from the connections open now."""
        self.peak = self.open

    def snapshot(self) -> dict[str, int]:
        return {"open": self.open, "peak": self.peak}

    def used(self, request: web.BaseRequest) -> None:
        """``request`` came to the axis' API: its connection counts until it closes."""
        self._open.add(request.protocol)
        self.peak = max(self.peak, self.open)

    def watch(self, server: web.Server) -> None:
        """Let go of ``server``'s connections as they close: its hook, which every
        connection of it calls when it is lost, is wrapped."""
        lost = server.connection_lost

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            lost(handler, exc)
            self._open.discard(handler)

        server.connection_lost = connection_lost  # type: ignore[method-assign]
