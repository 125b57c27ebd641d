"""The simulator's LGSP face: a provincial platform's API manager in front of the same hub.

``POST /token`` hands out bearer tokens for the client credentials of the systems that have
``lgsp`` access (OAuth2 client credentials, HTTP Basic or form fields), and the document API
under ``/truclienthong/v1.0.0`` answers what ``adapters.lgsp.client`` calls, with the
platform's envelope ``{status, errorCode, errorDesc, data}``. Every call needs a live token
(otherwise 401 with the API manager's code 900901) and the unit's secret in the ``secret``
header. Inside, it is the same hub: a document sent through the LGSP face reaches a VDXP or
SOAP agency, and the other way round. The faults of the plan apply here too; besides,
``revoke_all`` (``POST /_admin/lgsp/revoke``) drops every token, as an API manager that
restarts does, and the token lifetime is ``lgsp_token_seconds``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_plus

import pybase64
from aiohttp import web

import edxml
from adapters.axis.server import AxisRefusal, Caller
from devtools.axis_simulator.config import SimulatorConfig
from devtools.axis_simulator.hub import AxisHub

__all__ = ["LGSP_API", "LgspFace"]

LGSP_API = "/truclienthong/v1.0.0"
_TO_WIRE = {"pending": "INITIAL", "processing": "PROCESSING", "done": "DONE", "fail": "FAIL"}
_FROM_WIRE = {wire: ack for ack, wire in _TO_WIRE.items()}

Operation = Callable[[web.Request, Caller], Awaitable[dict[str, Any]]]


def _ok(**fields: Any) -> dict[str, Any]:
    return {"status": "OK", "errorCode": "0", "errorDesc": "", **fields}


def _refused(refusal: AxisRefusal) -> web.Response:
    body = {"status": "FAIL", "errorCode": refusal.code, "errorDesc": refusal.description}
    return web.json_response(body, status=refusal.http_status)


class LgspFace:
    """The API manager's state (tokens) and its handlers, over ``hub``."""

    def __init__(self, hub: AxisHub, config: SimulatorConfig) -> None:
        self._hub = hub
        self._lifetime = config.lgsp_token_seconds
        self._clients = {
            system.lgsp.consumer_key: (system.lgsp, system.system_id)
            for system in config.systems
            if system.lgsp is not None
        }
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (consumer key, expiry)
        #: Tokens handed out so far (tests read it)
        self.issued = 0

    def revoke_all(self) -> None:
        """Forget every token, as an API manager that restarts does."""
        self._tokens.clear()

    def install(self, app: web.Application) -> None:
        app.router.add_post("/token", self._token)
        routes: list[tuple[str, str, Operation]] = [
            ("GET", "/vanbans", self._inbox),
            ("POST", "/vanbans", self._send),
            ("GET", "/vanbans/{doc_id}", self._package),
            ("PUT", "/vanbans/{doc_id}", self._acknowledge),
            ("GET", "/donvilienthongs", self._units),
            ("GET", "/donvilienthongs/{province}", self._units),
            ("POST", "/donvilienthongs", self._register),
            ("PUT", "/donvilienthongs", self._unregister),
        ]
        for method, path, operation in routes:
            app.router.add_route(method, LGSP_API + path, self._guarded(operation))

    # -- the API manager ------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        key, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                pair = base64.b64decode(credentials, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            login, _, password = pair.partition(":")
            key, secret = unquote_plus(login), unquote_plus(password)
        client = self._clients.get(key)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if client is None or not hmac.compare_digest(
            secret.encode(), client[0].consumer_secret.encode()
        ):
            body = {"error": "invalid_client", "error_description": "Client Authentication failed."}
            return web.json_response(body, status=401)
        token = secrets.token_hex(16)
        self._tokens[token] = (key, time.monotonic() + self._lifetime)
        self.issued += 1
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": self._lifetime}
        return web.json_response(answer)

    def _guarded(self, operation: Operation) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            holder = self._tokens.get(token) if scheme.lower() == "bearer" else None
            if holder is None or holder[1] <= time.monotonic():
                self._tokens.pop(token, None)
                body = {
                    "code": "900901",
                    "message": "Invalid Credentials",
                    "description": "Access failure: make sure the access token is valid",
                }
                return web.json_response(body, status=401)
            access, system_id = self._clients[holder[0]]
            unit = request.headers.get("secret", "")
            if not hmac.compare_digest(unit.encode(), access.unit_secret.encode()):
                return _refused(AxisRefusal(403, "403", "the secret identifies no unit of ours"))
            try:
                return web.json_response(await operation(request, self._hub.as_system(system_id)))
            except AxisRefusal as refusal:
                return _refused(refusal)

        return endpoint

    # -- documents ------------------------------------------------------------------------

    async def _inbox(self, request: web.Request, caller: Caller) -> dict[str, Any]:
        items = [
            *await self._hub.received(caller, "edoc"),
            *await self._hub.received(caller, "status"),
        ]
        data = [
            {
                "serviceType": item["serviceType"],
                "messageType": item["messageType"],
                "statusDesc": item["status_desc"],
                "docId": item["docId"],
                "from": item["from"],
                "to": item["to"],
                "status": _TO_WIRE[item["status"]],
                "createdTime": item["created_time"],
            }
            for item in items
        ]
        return _ok(data=data)

    async def _send(self, request: web.Request, caller: Caller) -> dict[str, Any]:
        kind = request.headers.get("loaiVanBan", "")
        if kind not in ("edoc", "status"):
            raise AxisRefusal(400, "400", "loaiVanBan must be edoc or status")
        try:
            package = pybase64.b64decode(b"".join((await request.read()).split()), validate=True)
        except binascii.Error:
            raise AxisRefusal(400, "400", "the body is not base64") from None
        try:
            sender = edxml.parse(package, attachments=False).sender.organ_id
        except edxml.EdxmlError as exc:
            raise AxisRefusal(400, "422", f"the package is not valid edXML: {exc}") from None
        to = None
        if "to" in request.headers:
            try:
                to = [str(code) for code in json.loads(request.headers["to"])]
            except (ValueError, TypeError):
                raise AxisRefusal(400, "400", "to must be a JSON list of agency codes") from None
        doc_id = await self._hub.send(caller, package, message_type=kind, sender=sender, to=to)
        return _ok(docId=doc_id)

    async def _package(self, request: web.Request, caller: Caller) -> dict[str, Any]:
        package = await self._hub.get(caller, request.match_info["doc_id"])
        return _ok(data=pybase64.b64encode_as_string(package))

    async def _acknowledge(self, request: web.Request, caller: Caller) -> dict[str, Any]:
        status = _FROM_WIRE.get(request.headers.get("status", ""))
        if status is None:
            raise AxisRefusal(400, "400", "status must be INITIAL, PROCESSING, DONE or FAIL")
        await self._hub.update_status(caller, request.match_info["doc_id"], status)
        return _ok()

    # -- units ------------------------------------------------------------------------------

    async def _units(self, request: web.Request, caller: Caller) -> dict[str, Any]:
        province = request.match_info.get("province")
        rows = await self._hub.agencies(caller, qd20=False, level=None)
        data = [
            {"id": row["id"], "code": row["code"], "name": row["name"], "pid": row["pid"]}
            for row in rows
            if province is None or str(row["code"]).rsplit(".", 1)[-1] == province
        ]
        return _ok(data=data)

    async def _register(self, request: web.Request, caller: Caller) -> dict[str, Any]:
        try:
            record = json.loads(await request.read())
        except ValueError:
            raise AxisRefusal(400, "400", "the body is not JSON") from None
        if not isinstance(record, dict) or not record.get("code") or not record.get("name"):
            raise AxisRefusal(400, "400", "a unit needs code and name")
        await self._hub.register_agency(caller, {**record, "mail": record.get("email", "")})
        return _ok()

    async def _unregister(self, request: web.Request, caller: Caller) -> dict[str, Any]:
        await self._hub.delete_agency(caller, request.headers.get("agencyCode", ""))
        return _ok()
