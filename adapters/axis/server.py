"""The server side of the axis API (spec 3.3), over any ``AxisBackend``.

One implementation of the wire protocol for everything that must *answer* SDK clients: the
axis simulator (a hub in memory) and, later, the gateway's VDXP-compatible facade (our own
store). It checks the XroadVnpt signature, reads parameters from the signed headers, takes
the ``sendEdoc`` file in either form seen on the wire, and answers in the envelope
``{status, ErrorCode, ErrorDesc, ...}`` that the SDK understands.

What the captured SDK requests require (the captured requests):

* the fields of earlier calls are still sent and signed; an operation ignores those it does
  not use, and an empty ``docId`` means "no filter";
* the ``sendEdoc`` body is the raw ``.edxml`` followed by CRLF (``application/octet-stream``);
  other clients post ``multipart/form-data`` with the file in part ``file_doc`` (spec 6.8);
* ``hash-file`` is SHA-256 hex without zero padding per byte; we also accept the padded form
  that other clients write, and compare it with the file with and without that CRLF.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pybase64
from aiohttp import web

from adapters.axis.auth import (
    AuthError,
    SignedFields,
    hash_file,
    parse_sdk_timestamp,
    verify_signature,
    vietnam_now,
)
from adapters.json_input import parse_json

__all__ = [
    "OPERATIONS",
    "AxisBackend",
    "AxisRefusal",
    "Caller",
    "Freshness",
    "envelope",
    "install_axis_routes",
    "refusal_response",
]

#: Sized for a 50 MB attachment (base64 in a ZIP, plus the envelope): 4/3 of 50 MiB and margin.
MAX_PACKAGE_BYTES = 80 * 1024 * 1024


class AxisRefusal(Exception):
    """An answer other than OK: ``ErrorCode`` and ``ErrorDesc`` in the envelope, with a status.

    ``http_status`` is 4xx for what the caller must change (auth, input) and 5xx for what may
    pass (the hub is down); SDK clients read the envelope either way.
    """

    def __init__(self, http_status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.http_status = http_status
        self.code = code
        self.description = description


def _bad_request(description: str) -> AxisRefusal:
    return AxisRefusal(400, "400", description)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the authenticated system id, every field it signed, and the request's
    signature (``XroadVnpt-hash-header``: the same value means the very same request)."""

    system_id: str
    fields: SignedFields
    signature: str = ""

    def field(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)


class AxisBackend(Protocol):
    """What answers the operations. Raise ``AxisRefusal`` to refuse."""

    def secret_for(self, system_id: str) -> str | None: ...

    async def send(
        self,
        caller: Caller,
        package: bytes,
        *,
        message_type: str,
        sender: str,
        to: list[str] | None,
    ) -> str: ...

    async def received(self, caller: Caller, message_type: str) -> list[dict[str, Any]]: ...

    async def get(self, caller: Caller, doc_id: str) -> bytes: ...

    async def update_status(self, caller: Caller, doc_id: str, status: str) -> None: ...

    async def sent(
        self, caller: Caller, message_type: str, doc_id: str
    ) -> list[dict[str, Any]]: ...

    async def count(self, caller: Caller, message_type: str) -> int: ...

    async def agencies(
        self, caller: Caller, *, qd20: bool, level: int | None
    ) -> list[dict[str, Any]]: ...

    async def synchronize_units(self, caller: Caller) -> list[dict[str, Any]]: ...

    async def register_agency(self, caller: Caller, record: dict[str, Any]) -> None: ...

    async def delete_agency(self, caller: Caller, code: str) -> None: ...


def envelope(**extra: Any) -> web.Response:
    """The OK envelope with the operation's own keys (``DocId``, ``data``)."""
    return web.json_response({"status": "OK", "ErrorCode": "0", "ErrorDesc": "Thanh cong", **extra})


def refusal_response(refusal: AxisRefusal) -> web.Response:
    """The FAIL envelope. It carries ``DocId`` (empty) whatever the operation: the SDK reads
    it from every reply to ``sendEdoc`` and, when it is missing, drops the whole answer —
    its user would never see why the document was refused."""
    body = {
        "status": "FAIL",
        "ErrorCode": refusal.code,
        "ErrorDesc": refusal.description,
        "DocId": "",
    }
    return web.json_response(body, status=refusal.http_status)


class _SecretLookup(Mapping[str, str]):
    """``verify_signature`` wants a mapping; the backend may look secrets up lazily."""

    def __init__(self, backend: AxisBackend) -> None:
        self._backend = backend

    def __getitem__(self, system_id: str) -> str:
        secret = self._backend.secret_for(system_id)
        if secret is None:
            raise KeyError(system_id)
        return secret

    def __contains__(self, system_id: object) -> bool:
        return isinstance(system_id, str) and self._backend.secret_for(system_id) is not None

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


def _message_type(caller: Caller) -> str:
    value = caller.field("messagetype", "edoc")
    if value not in ("edoc", "status"):
        raise _bad_request(f"messagetype must be edoc or status, not {value!r}")
    return value


def _required(caller: Caller, name: str) -> str:
    value = caller.field(name)
    if not value:
        raise _bad_request(f"the header XroadVnpt-{name} is required")
    return value


async def _file_of(request: web.Request) -> bytes:
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if getattr(part, "name", None) == "file_doc":
                return bytes(await part.read())  # type: ignore[union-attr]
        raise _bad_request("the multipart body has no part named file_doc")
    return await request.read()


def _checked_file(body: bytes, declared: str) -> bytes:
    """The file whose SHA-256 is ``declared``: the body, or the body without the SDK's CRLF."""
    candidates = [body, body[:-2]] if body.endswith(b"\r\n") else [body]
    for candidate in candidates:
        digest = hashlib.sha256(candidate).digest()
        if declared.lower() in (hash_file(candidate), digest.hex()):
            return candidate
    raise AxisRefusal(400, "400", "XroadVnpt-hash-file does not match the file sent")


def _recipients(caller: Caller) -> list[str] | None:
    """The optional ``to`` field: raw JSON text (a list of codes, or objects with ``code``)."""
    raw = caller.field("to")
    if not raw:
        return None
    try:
        value = parse_json(raw)
    except ValueError as exc:
        if raw.lstrip().startswith(("[", "{")):
            raise _bad_request(f"XroadVnpt-to is not JSON: {exc}") from None
        return [code.strip() for code in raw.split(",") if code.strip()]
    items = value if isinstance(value, list) else [value]
    codes = [
        str(item.get("code") or item.get("OrganId") or "") if isinstance(item, dict) else str(item)
        for item in items
    ]
    return [code for code in codes if code] or None


Handler = Callable[[web.Request, Caller, AxisBackend], Awaitable[web.Response]]


async def _send_edoc(request: web.Request, caller: Caller, backend: AxisBackend) -> web.Response:
    declared = _required(caller, "hash-file")
    package = _checked_file(await _file_of(request), declared)
    doc_id = await backend.send(
        caller,
        package,
        message_type=_message_type(caller),
        sender=_required(caller, "from"),
        to=_recipients(caller),
    )
    return envelope(DocId=doc_id)


async def _received(request: web.Request, caller: Caller, backend: AxisBackend) -> web.Response:
    return envelope(data=await backend.received(caller, _message_type(caller)))


async def _get_edoc(request: web.Request, caller: Caller, backend: AxisBackend) -> web.Response:
    package = await backend.get(caller, _required(caller, "docId"))
    return envelope(data=pybase64.b64encode_as_string(package))


async def _download_edoc(
    request: web.Request, caller: Caller, backend: AxisBackend
) -> web.Response:
    doc_id = _required(caller, "docId")
    package = await backend.get(caller, doc_id)
    return web.Response(
        body=package,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{doc_id}.edxml"'},
    )


async def _update_status(
    request: web.Request, caller: Caller, backend: AxisBackend
) -> web.Response:
    status = _required(caller, "status")
    if status not in ("done", "fail", "processing"):
        raise _bad_request(f"status must be done, fail or processing, not {status!r}")
    await backend.update_status(caller, _required(caller, "docId"), status)
    return envelope()


async def _sent(request: web.Request, caller: Caller, backend: AxisBackend) -> web.Response:
    return envelope(data=await backend.sent(caller, _message_type(caller), caller.field("docId")))


async def _count(request: web.Request, caller: Caller, backend: AxisBackend) -> web.Response:
    # The path says what is counted; a stale messagetype header from an earlier call must not.
    message_type = "status" if request.path.endswith("countReceiveStatus") else "edoc"
    return envelope(data={"count": await backend.count(caller, message_type)})


async def _agencies(request: web.Request, caller: Caller, backend: AxisBackend) -> web.Response:
    level_text = caller.field("level")
    try:
        level = int(level_text) if level_text else None
    except ValueError:
        raise _bad_request(f"level must be a number, not {level_text!r}") from None
    qd20 = request.path.endswith("QD20")
    return envelope(data=await backend.agencies(caller, qd20=qd20, level=level))


async def _synchronize(request: web.Request, caller: Caller, backend: AxisBackend) -> web.Response:
    return envelope(data=await backend.synchronize_units(caller))


async def _register_agency(
    request: web.Request, caller: Caller, backend: AxisBackend
) -> web.Response:
    try:
        record = parse_json(await request.read() or b"{}")
    except ValueError:
        raise _bad_request("the body must be a JSON object {id, pcode, code, name, ...}") from None
    if not isinstance(record, dict) or not record.get("code") or not record.get("name"):
        raise _bad_request("the body must be a JSON object with at least code and name")
    await backend.register_agency(caller, record)
    return envelope()


async def _delete_agency(
    request: web.Request, caller: Caller, backend: AxisBackend
) -> web.Response:
    await backend.delete_agency(caller, _required(caller, "AgencyCode"))
    return envelope()


#: Path → (HTTP methods, handler). ``downloadEdoc`` is a GET in the SDK.
OPERATIONS: dict[str, tuple[tuple[str, ...], Handler]] = {
    "sendEdoc": (("POST",), _send_edoc),
    "getReceivedEdocList": (("POST",), _received),
    "getEdoc": (("POST",), _get_edoc),
    "downloadEdoc": (("GET", "POST"), _download_edoc),
    "updateStatus": (("POST",), _update_status),
    "getSentEdocList": (("POST",), _sent),
    "countReceiveEdoc": (("POST",), _count),
    "countReceiveStatus": (("POST",), _count),
    "getAgenciesList": (("POST",), _agencies),
    "getAgenciesListQD20": (("POST",), _agencies),
    "getSynchronizeUnit": (("POST",), _synchronize),
    "registerAgency": (("POST",), _register_agency),
    "deleteAgency": (("POST",), _delete_agency),
}


@dataclass(frozen=True, slots=True)
class Freshness:
    """How far a request's signed timestamp may be from now (Vietnam wall clock), either way.

    The SDK fixes the timestamp when its service object is created and reuses it on every
    call, so the window must outlast the life of a QLVB's service object: a day by default.
    """

    window_seconds: float = 24 * 3600
    clock: Callable[[], dt.datetime] = vietnam_now

    def check(self, fields: SignedFields) -> None:
        text = fields.get("timestamp", "")
        try:
            stamp = parse_sdk_timestamp(text)
        except ValueError:
            raise AxisRefusal(401, "401", f"timestamp {text!r} is not a time") from None
        off = abs((self.clock() - stamp).total_seconds())
        if off > self.window_seconds:
            raise AxisRefusal(
                401,
                "401",
                f"timestamp {text} is {off:.0f} s from now; requests older or newer than "
                f"{self.window_seconds:.0f} s are refused (a replay, or a wrong clock)",
            )


def _endpoint(
    backend: AxisBackend, handler: Handler, freshness: Freshness | None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    secrets = _SecretLookup(backend)

    async def endpoint(request: web.Request) -> web.Response:
        try:
            try:
                fields = verify_signature(request.headers, secrets)
            except AuthError as exc:
                raise AxisRefusal(401, "401", str(exc)) from None
            if freshness is not None:
                freshness.check(fields)
            caller = Caller(
                fields["systemid"], fields, request.headers.get("XroadVnpt-hash-header", "")
            )
            return await handler(request, caller, backend)
        except AxisRefusal as refusal:
            return refusal_response(refusal)

    return endpoint


def install_axis_routes(
    app: web.Application,
    backend: AxisBackend,
    *,
    prefix: str = "",
    freshness: Freshness | None = None,
) -> None:
    """Add every operation of spec 3.3 under ``prefix`` (``""`` for the axis itself, ``/vdxp``).

    With ``freshness``, a request whose signed timestamp is outside the window is refused."""
    for name, (methods, handler) in OPERATIONS.items():
        endpoint = _endpoint(backend, handler, freshness)
        for method in methods:
            app.router.add_route(method, f"{prefix}/{name}", endpoint)
