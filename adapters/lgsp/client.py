"""Client of a provincial LGSP's document-exchange API (``/truclienthong/v1.0.0``).

Many provinces expose the national axis through their Local Government Service Platform, an
API manager (WSO2) in front of it, instead of an X-Road adapter. Every call carries a bearer
token of the API manager (``adapters.lgsp.token``) and our unit's secret identifier in the
``secret`` header. The operations, as in the platform's published example client:

=====================================  ================================================
``GET  /vanbans``                      the inbox: serviceType, messageType, docId, from,
                                       to, status, createdTime
``GET  /vanbans/{docId}``              one package, base64 in ``data``
``POST /vanbans``                      send: the package in base64 as the body, its kind
                                       in ``loaiVanBan`` (edoc | status)
``PUT  /vanbans/{docId}``              the inbox item's state: INITIAL, PROCESSING, DONE,
                                       FAIL (in ``status``)
``GET  /donvilienthongs[/{province}]`` the units, nationwide or of one province
``POST /donvilienthongs``              register a unit (code, pcode, name, …)
``PUT  /donvilienthongs``              unregister a unit (``agencyCode``)
=====================================  ================================================

Parameters other than the path and the body travel as headers. A package is sent for one
recipient: the ``to`` header names it (a JSON list, as the axis' own ``to`` field), so a
document with several recipients is delivered and tracked per recipient, as on the axis.

Answers are ``{status, errorCode, errorDesc, data…}``; ``status`` other than OK/SUCCESS is a
refusal. Failures are classified for the dispatcher (STYLE 9): network errors, timeouts,
HTTP 5xx, 429 and the API manager's throttling are transient; a 401 renews the token and
tries once more, then is permanent like every other refusal.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from typing import Any

import aiohttp
import aiohttp.payload
import pybase64
from aiohttp.abc import AbstractStreamWriter

from adapters.axis.types import AckStatus, MessageType, ReceivedItem
from adapters.errors import (
    AIOHTTP_NEVER_CONNECTED,
    GATEWAY_STATUSES,
    outcome_unknown,
    retry_after_seconds,
)
from adapters.json_input import parse_json, text_of
from adapters.lgsp.token import TokenSource
from adapters.lgsp.types import (
    LgspAgency,
    LgspConfig,
    LgspPermanentError,
    LgspStatus,
    LgspTransientError,
)

__all__ = ["LgspClient"]

_SUCCESS = frozenset({"OK", "SUCCESS"})
#: WSO2 API manager's throttling codes ("Message throttled out"): try again later
_THROTTLED = frozenset({"900800", "900801", "900802", "900803", "900804", "900806"})
_ACK: dict[AckStatus, LgspStatus] = {"done": "DONE", "fail": "FAIL", "processing": "PROCESSING"}


class _Base64Body(aiohttp.payload.Payload):
    """The package as base64 text, encoded slice by slice while it is written: a 50 MB
    package is never held a second time as one 67 MB string."""

    _SLICE = 3 * 256 * 1024  # a multiple of 3: the slices' encodings join without padding

    def __init__(self, data: bytes) -> None:
        super().__init__(data, content_type="text/plain")
        self._size = (len(data) + 2) // 3 * 4

    async def write(self, writer: AbstractStreamWriter) -> None:
        view = memoryview(self._value)
        for start in range(0, len(view), self._SLICE):
            await writer.write(pybase64.b64encode(view[start : start + self._SLICE]))

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return pybase64.b64encode_as_string(self._value)


class LgspClient:
    """``async with LgspClient(config) as lgsp: doc_id = await lgsp.send_edoc(...)``."""

    def __init__(
        self,
        config: LgspConfig,
        *,
        session: aiohttp.ClientSession | None = None,
        tokens: TokenSource | None = None,
    ) -> None:
        self._config = config
        self._api = config.base_url.rstrip("/") + config.api_path.rstrip("/")
        self._session = session
        self._own_session = session is None
        self.tokens = tokens or TokenSource(config)

    async def __aenter__(self) -> LgspClient:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self._config.timeout_seconds,
                    connect=self._config.connect_timeout_seconds,
                ),
                connector=aiohttp.TCPConnector(limit=self._config.max_connections),
            )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- the one request ------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | aiohttp.payload.Payload | None = None,
    ) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("use the LgspClient inside 'async with'")
        for renewed in (False, True):
            token = await self.tokens.bearer(self._session)
            sent = {
                "Authorization": f"Bearer {token}",
                self._config.secret_header: self._config.unit_secret,
                "Accept": "application/json",
                **(headers or {}),
            }
            try:
                async with self._session.request(
                    method, self._api + path, headers=sent, data=body
                ) as response:
                    status, payload = response.status, await response.read()
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                in_doubt = method != "GET" and outcome_unknown(exc, AIOHTTP_NEVER_CONNECTED)
                raise LgspTransientError(
                    f"the platform is unreachable ({type(exc).__name__}: {exc})"
                    + ("; it may have carried the request out" if in_doubt else ""),
                    operation=operation,
                    in_doubt=in_doubt,
                ) from exc
            if status == 401 and not renewed:
                self.tokens.refused(token)  # revoked or expired early: a new one, once
                continue
            return self._answer(operation, method, status, payload, retry_after)
        raise AssertionError("unreachable")  # the second pass always returns or raises

    @staticmethod
    def _answer(
        operation: str, method: str, status: int, payload: bytes, retry_after: float | None
    ) -> dict[str, Any]:
        if status >= 500 or status == 429:
            raise LgspTransientError(
                f"HTTP {status}",
                operation=operation,
                http_status=status,
                in_doubt=method != "GET" and status in GATEWAY_STATUSES,
                retry_after=retry_after,
            )
        try:
            answer = parse_json(payload)
        except ValueError:
            raise LgspPermanentError(
                f"HTTP {status}, not a JSON answer", operation=operation, http_status=status
            ) from None
        if not isinstance(answer, dict):
            raise LgspPermanentError(
                f"HTTP {status}, an answer that is not an object", operation=operation
            )
        code = text_of(answer, "errorCode") or text_of(answer, "code")
        if code in _THROTTLED:
            raise LgspTransientError(
                f"throttled by the API manager ({code})", operation=operation, code=code
            )
        if status == 200 and text_of(answer, "status").upper() in _SUCCESS:
            return answer
        description = text_of(answer, "errorDesc") or text_of(answer, "description")
        raise LgspPermanentError(
            f"refused: {description or text_of(answer, 'message') or answer!r} "
            f"(errorCode {code or '?'}, HTTP {status})",
            operation=operation,
            http_status=status,
            code=code or None,
        )

    # -- documents and status packages ------------------------------------------------------

    async def send_edoc(
        self, package: bytes, *, message_type: MessageType = "edoc", to: str | None = None
    ) -> str:
        """Send a package (``to``: the recipients as a JSON list); returns the platform's
        document id."""
        headers: dict[str, str] = {"loaiVanBan": message_type}
        if to is not None:
            headers["to"] = to
        answer = await self._call(
            "POST", "/vanbans", "POST /vanbans", headers=headers, body=_Base64Body(package)
        )
        doc_id = text_of(answer, "docId")
        if not doc_id:
            raise LgspPermanentError("the answer carries no docId", operation="POST /vanbans")
        return doc_id

    async def received_list(self, message_type: MessageType = "edoc") -> list[ReceivedItem]:
        """The inbox items of one kind (the platform lists both kinds together)."""
        answer = await self._call("GET", "/vanbans", "GET /vanbans")
        return [
            ReceivedItem(
                doc_id=text_of(item, "docId"),
                service_type=text_of(item, "serviceType"),
                message_type=text_of(item, "messageType"),
                sender=text_of(item, "from"),
                receivers=text_of(item, "to"),
                status=text_of(item, "status"),
                created=text_of(item, "createdTime"),
                status_description=text_of(item, "statusDesc"),
            )
            for item in answer.get("data") or []
            if isinstance(item, dict) and text_of(item, "messageType").lower() == message_type
        ]

    async def get_edoc(self, doc_id: str) -> bytes:
        operation = "GET /vanbans/{docId}"
        answer = await self._call("GET", f"/vanbans/{doc_id}", operation)
        try:
            return pybase64.b64decode(text_of(answer, "data"), validate=True)
        except binascii.Error:
            raise LgspPermanentError("data is not base64", operation=operation) from None

    async def update_status(self, doc_id: str, status: AckStatus) -> None:
        """Acknowledge an inbox item as the axis' poller does: done, fail or processing
        become the platform's DONE, FAIL and PROCESSING."""
        await self._call(
            "PUT", f"/vanbans/{doc_id}", "PUT /vanbans/{docId}", headers={"status": _ACK[status]}
        )

    # -- units ---------------------------------------------------------------------------------

    async def agencies(self, province: str | None = None) -> list[LgspAgency]:
        """The units connected nationwide, or those of one ``province``."""
        path = "/donvilienthongs" + (f"/{province}" if province else "")
        answer = await self._call("GET", path, f"GET {path}")
        return [
            LgspAgency(
                code=text_of(item, "code"),
                name=text_of(item, "name"),
                id=text_of(item, "id"),
                parent=text_of(item, "pid"),
            )
            for item in answer.get("data") or []
            if isinstance(item, dict)
        ]

    async def register_agency(
        self, *, code: str, name: str, parent: str, email: str = "", mobile: str = "", fax: str = ""
    ) -> None:
        record = {
            "code": code,
            "pcode": parent,
            "name": name,
            "email": email,
            "mobile": mobile,
            "fax": fax,
        }
        await self._call(
            "POST",
            "/donvilienthongs",
            "POST /donvilienthongs",
            headers={"Content-Type": "application/json"},
            body=json.dumps(record, ensure_ascii=False).encode(),
        )

    async def unregister_agency(self, code: str) -> None:
        await self._call(
            "PUT", "/donvilienthongs", "PUT /donvilienthongs", headers={"agencyCode": code}
        )

    async def probe(self) -> int:
        """A new token (the API manager and our credentials answer), then the inbox read
        (the platform behind it answers): the number of items waiting for us."""
        if self._session is None:
            raise RuntimeError("use the LgspClient inside 'async with'")
        await self.tokens.renew(self._session)
        answer = await self._call("GET", "/vanbans", "GET /vanbans")
        return len(answer.get("data") or [])
