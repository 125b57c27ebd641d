"""The simulator as a real HTTP server: the axis API, the SOAP hub and LGSP faces, an admin
endpoint.

    async with AxisSimulator(config) as simulator:     # listens on 127.0.0.1:<free port>
        client = AxisClient(AxisConfig(base_url=simulator.url, ...))
        simulator.faults.set(FaultPlan(burst_5xx=3))   # or PUT /_admin/faults

The admin endpoint (``/_admin/faults``, ``/_admin/state``, ``/_admin/lgsp/revoke``,
``/_admin/connections``: open now and the most at once, ``DELETE`` to start again) needs
``Authorization: Bearer <admin_token>`` and exists only when the config sets a token; its
errors are problem+json.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import random
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from adapters.axis.server import AxisRefusal, install_axis_routes, refusal_response
from devtools.axis_simulator.config import FaultPlan, SimulatorConfig
from devtools.axis_simulator.connections import ConnectionCount
from devtools.axis_simulator.faults import Fault, FaultInjector
from devtools.axis_simulator.hub import AxisHub
from devtools.axis_simulator.lgsp_face import LgspFace
from devtools.axis_simulator.soap_face import install_soap_face

__all__ = ["ADMIN_PREFIX", "AxisSimulator", "build_simulator_app"]

ADMIN_PREFIX = "/_admin"
_HUB: web.AppKey[AxisHub] = web.AppKey("hub", AxisHub)
_FAULTS: web.AppKey[FaultInjector] = web.AppKey("faults", FaultInjector)
_CLOSING: web.AppKey[asyncio.Event] = web.AppKey("closing", asyncio.Event)
_LGSP: web.AppKey[LgspFace] = web.AppKey("lgsp", LgspFace)
_CONNECTIONS: web.AppKey[ConnectionCount] = web.AppKey("connections", ConnectionCount)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _problem(status: int, title: str, detail: Any = None) -> web.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    return web.json_response(body, status=status, content_type="application/problem+json")


def _fault_middleware(
    faults: FaultInjector, closing: asyncio.Event, connections: ConnectionCount
) -> Any:
    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        connections.used(request)
        fault = faults.draw()
        if faults.plan.latency_ms:
            await asyncio.sleep(faults.plan.latency_ms / 1000)
        if fault is None:
            return await handler(request)
        if fault is Fault.LATE:
            # Carried out now, answered late: the client may have given up and must not send
            # it again blindly (the package is already in the hub).
            response = await handler(request)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing.wait(), faults.plan.late_answer_seconds)
            return response
        if fault is not Fault.DROP:
            await request.read()  # the request arrived whole; only the answer is the fault
        if fault is Fault.OUTAGE:
            refusal = AxisRefusal(503, "503", "the axis is down for maintenance")
            response = refusal_response(refusal)
            response.headers["Retry-After"] = str(faults.outage_retry_after)
            return response
        if fault is Fault.BURST:
            return refusal_response(AxisRefusal(503, "503", "service unavailable (injected burst)"))
        if fault is Fault.ERROR:
            return refusal_response(AxisRefusal(500, "500", "internal error (injected)"))
        if fault is Fault.THROTTLE:
            response = refusal_response(AxisRefusal(429, "429", "too many requests (injected)"))
            response.headers["Retry-After"] = "1"
            return response
        if fault is Fault.TIMEOUT:
            # Answer only after the client has given up, or when the server stops.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing.wait(), faults.plan.hang_seconds)
            return refusal_response(AxisRefusal(504, "504", "gateway timeout (injected)"))
        # Fault.DROP: close the connection without a byte of answer.
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError

    return inject


def _authorized(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode())


def _install_admin(app: web.Application, token: str) -> None:
    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            if not _authorized(request, token):
                return _problem(401, "admin token required (Authorization: Bearer ...)")
            return await handler(request)

        return endpoint

    async def get_faults(request: web.Request) -> web.StreamResponse:
        return web.json_response(request.app[_FAULTS].snapshot())

    async def put_faults(request: web.Request) -> web.StreamResponse:
        try:
            plan = FaultPlan.model_validate_json(await request.read())
        except ValidationError as exc:
            details = [
                {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()
            ]
            return _problem(400, "not a valid fault plan", details)
        request.app[_FAULTS].set(plan)
        return web.json_response(request.app[_FAULTS].snapshot())

    async def get_state(request: web.Request) -> web.StreamResponse:
        return web.json_response(request.app[_HUB].summary())

    async def get_connections(request: web.Request) -> web.StreamResponse:
        return web.json_response(request.app[_CONNECTIONS].snapshot())

    async def reset_connections(request: web.Request) -> web.StreamResponse:
        request.app[_CONNECTIONS].reset()
        return web.json_response(request.app[_CONNECTIONS].snapshot())

    async def revoke_lgsp_tokens(request: web.Request) -> web.StreamResponse:
        request.app[_LGSP].revoke_all()
        return web.json_response({"revoked": True})

    app.router.add_post(f"{ADMIN_PREFIX}/lgsp/revoke", guarded(revoke_lgsp_tokens))
    app.router.add_get(f"{ADMIN_PREFIX}/faults", guarded(get_faults))
    app.router.add_put(f"{ADMIN_PREFIX}/faults", guarded(put_faults))
    app.router.add_get(f"{ADMIN_PREFIX}/state", guarded(get_state))
    app.router.add_get(f"{ADMIN_PREFIX}/connections", guarded(get_connections))
    app.router.add_delete(f"{ADMIN_PREFIX}/connections", guarded(reset_connections))


def build_simulator_app(config: SimulatorConfig) -> web.Application:
    """The simulator's aiohttp application (for ``web.run_app`` or a test server)."""
    faults = FaultInjector(config.faults)
    closing = asyncio.Event()
    hub = AxisHub(
        config,
        rng=random.Random(config.faults.seed),  # noqa: S311 (faults, not secrets)
        duplicate_rate=faults.duplicate_rate,
    )
    connections = ConnectionCount()  # let go of closed ones once a server runs the app
    app = web.Application(
        client_max_size=96 * 1024 * 1024,
        middlewares=[_fault_middleware(faults, closing, connections)],
    )
    app[_HUB], app[_FAULTS], app[_CLOSING] = hub, faults, closing
    app[_CONNECTIONS] = connections
    install_axis_routes(app, hub)
    install_soap_face(app, hub)
    app[_LGSP] = LgspFace(hub, config)
    app[_LGSP].install(app)
    if config.admin_token:
        _install_admin(app, config.admin_token)

    async def release_hung_requests(app: web.Application) -> None:
        closing.set()

    app.on_shutdown.append(release_hung_requests)
    return app


class AxisSimulator:
    """Runs the simulator app on a real socket, for tests, benchmarks and the demo."""

    def __init__(self, config: SimulatorConfig, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.app = build_simulator_app(config)
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def hub(self) -> AxisHub:
        return self.app[_HUB]

    @property
    def lgsp(self) -> LgspFace:
        return self.app[_LGSP]

    @property
    def faults(self) -> FaultInjector:
        return self.app[_FAULTS]

    @property
    def connections(self) -> ConnectionCount:
        return self.app[_CONNECTIONS]

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        assert self._runner.server is not None
        self.connections.watch(self._runner.server)
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        sockets = self._runner.addresses
        host, port = sockets[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> AxisSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
