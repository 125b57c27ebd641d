"""Client of the national axis (VDXP) HTTP+JSON API (spec 3.3), with the SDK's HMAC headers.

Each operation is a POST (``downloadEdoc``: GET) to ``<base_url>/<operation>`` whose
parameters travel as signed ``XroadVnpt-`` headers (as the SDK's captured requests show):
``sendEdoc`` posts the raw ``.edxml`` as ``application/octet-stream`` followed by CRLF,
with ``hash-file``; list operations post an empty body; ``getEdoc`` and ``updateStatus``
post ``{}``.

Answers come in the envelope ``{status, ErrorCode, ErrorDesc, ...}``; anything but
``status == "OK"`` is a failure. Failures are classified for the dispatcher's retry loop
(STYLE 9): network errors, timeouts, HTTP 5xx and 429 are ``AxisTransientError``; refused
authentication, validation errors and other answers are ``AxisPermanentError``.
"""

from __future__ import annotations

import binascii
import contextlib
import datetime as dt
import enum
import json
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import aiohttp.payload
import pybase64
from aiohttp.abc import AbstractStreamWriter

from adapters.axis.auth import SDK_HEADERS, SdkHeaderMap, hash_file, sdk_timestamp, vietnam_now
from adapters.axis.pool import SessionPool
from adapters.axis.types import (
    _AGENCY_OPERATIONS,
    _JSON,
    _OCTETS,
    AckStatus,
    Agency,
    AxisConfig,
    AxisError,
    AxisPermanentError,
    AxisTransientError,
    MessageType,
    ReceivedItem,
    SentItem,
)
from adapters.errors import (
    AIOHTTP_NEVER_CONNECTED,
    GATEWAY_STATUSES,
    outcome_unknown,
    retry_after_seconds,
)
from adapters.json_input import parse_json, text_of

__all__ = [
    "AckStatus",
    "Agency",
    "AxisClient",
    "AxisConfig",
    "AxisError",
    "AxisPermanentError",
    "AxisTransientError",
    "MessageType",
    "ReceivedItem",
    "SentItem",
]


class _FileAndCrlf(aiohttp.payload.Payload):
    """The ``sendEdoc`` body as the SDK writes it, the file then CRLF, without joining them.

    Written in 1 MiB slices so a 50 MB package neither gets copied once more nor blocks the
    event loop in one write; ``Content-Length`` is set, as the SDK's request has it.
    """

    _CHUNK = 1024 * 1024

    def __init__(self, data: bytes) -> None:
        super().__init__(data, content_type=_OCTETS)
        self._size = len(data) + 2

    async def write(self, writer: AbstractStreamWriter) -> None:
        view = memoryview(self._value)
        for start in range(0, len(view), self._CHUNK):
            await writer.write(view[start : start + self._CHUNK])
        await writer.write(b"\r\n")

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return (bytes(self._value) + b"\r\n").decode(encoding, errors)


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


class AxisClient:
    """``async with AxisClient(config) as axis: doc_id = await axis.send_edoc(...)``."""

    retryable_errors = (AxisTransientError,)
    fatal_errors = (AxisPermanentError,)

    def __init__(
        self,
        config: AxisConfig,
        *,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._config = config
        self._base = config.base_url.rstrip("/")
        self._session = session  # the caller's, used as it is
        self._pool: SessionPool | None = None  # ours: its limit is this process' share
        self._state = _State.UNOPENED
        # The SDK formats its host's local time, which is Vietnam time on the axis' side; a
        # container's clock is often UTC, so the wall clock of Vietnam is used explicitly.
        self._clock = clock or vietnam_now
        # One header map per SDK service object (KnobstickServiceImp, AgencyServiceImp).
        self._document_headers = SdkHeaderMap(config.system_id)
        self._agency_headers = SdkHeaderMap(config.system_id)

    async def __aenter__(self) -> AxisClient:
        if self._state is _State.CLOSED:
            raise RuntimeError("this AxisClient is closed; make a new one")
        if self._session is None and self._pool is None:
            self._pool = SessionPool(self._new_session, self._config.max_connections)
        self._state = _State.OPENED
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
        self._state = _State.CLOSED

    def _new_session(self, connections: int) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=self._config.timeout_seconds, connect=self._config.connect_timeout_seconds
            ),
            connector=aiohttp.TCPConnector(limit=connections),
        )

    @property
    def connection_limit(self) -> int:
        return self._pool.limit if self._pool is not None else self._config.max_connections

    async def set_connection_limit(self, connections: int) -> None:
        """This process' share of the system's connections to the axis (at most the
        configured ``max_connections``); every call waits for one of them."""
        if self._pool is not None:
            await self._pool.set_limit(max(0, min(connections, self._config.max_connections)))

    def _connection(self) -> contextlib.AbstractAsyncContextManager[aiohttp.ClientSession]:
        if self._pool is not None:
            return self._pool.session()
        assert self._session is not None
        return contextlib.nullcontext(self._session)

    def _map_for(self, operation: str) -> SdkHeaderMap:
        """The SDK's service object of ``operation``: documents or agencies (each its map)."""
        if operation in _AGENCY_OPERATIONS:
            return self._agency_headers
        return self._document_headers

    async def _call(
        self,
        operation: str,
        fields: Sequence[tuple[str, str]] = (),
        *,
        body: bytes | aiohttp.payload.Payload = b"",
        content_type: str = _JSON,
        method: str = "POST",
        raw: bool = False,
    ) -> Any:
        if self._state is not _State.OPENED:
            raise RuntimeError(
                f"use the AxisClient inside 'async with' (it is {self._state.value})"
            )
        headers = self._map_for(operation).sign(
            fields,
            timestamp=sdk_timestamp(self._clock()),
            content_type=content_type,
            secret=self._config.secret,
        )
        headers += [("Content-Type", content_type), *SDK_HEADERS]
        try:
            async with (
                self._connection() as session,
                session.request(
                    method, f"{self._base}/{operation}", data=body, headers=headers
                ) as response,
            ):
                payload = await response.read()
                status = response.status
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            in_doubt = outcome_unknown(exc, AIOHTTP_NEVER_CONNECTED)
            raise AxisTransientError(
                f"the axis is unreachable ({type(exc).__name__}: {exc})"
                + ("; it may have carried the request out" if in_doubt else ""),
                operation=operation,
                in_doubt=in_doubt,
            ) from exc
        if status >= 500 or status == 429:
            raise AxisTransientError(
                f"HTTP {status}",
                operation=operation,
                http_status=status,
                in_doubt=status in GATEWAY_STATUSES,
                retry_after=retry_after,
            )
        if raw and status == 200:
            return payload
        try:
            answer = parse_json(payload)
        except ValueError:
            error = AxisPermanentError if 400 <= status < 500 else AxisTransientError
            raise error(
                f"HTTP {status}, not a JSON answer", operation=operation, http_status=status
            ) from None
        if not isinstance(answer, dict) or answer.get("status") != "OK":
            code = str(answer.get("ErrorCode", "")) if isinstance(answer, dict) else ""
            description = str(answer.get("ErrorDesc", "")) if isinstance(answer, dict) else ""
            raise AxisPermanentError(
                f"refused: {description or answer!r} (ErrorCode {code or '?'}, HTTP {status})",
                operation=operation,
                http_status=status,
                code=code or None,
            )
        return answer

    # -- documents and status packages ---------------------------------------------------------

    async def send_edoc(
        self,
        package: bytes,
        *,
        sender: str,
        message_type: MessageType = "edoc",
        to: str | None = None,
        sha256: bytes | None = None,
    ) -> str:
        """Send a package; returns the axis' document id (``DocId``, not the edXML DocumentId).
        ``sha256``: the package's digest when the caller knows it (a stored package is named
        by it), not computed again."""
        fields = [
            ("servicetype", "eDoc"),
            ("messagetype", message_type),
            ("hash-file", hash_file(package, sha256)),
            ("from", sender),
        ]
        if to is not None:
            fields.append(("to", to))
        answer = await self._call(
            "sendEdoc", fields, body=_FileAndCrlf(package), content_type=_OCTETS
        )
        doc_id = text_of(answer, "DocId", "docId")
        if not doc_id:
            raise AxisPermanentError("the answer carries no DocId", operation="sendEdoc")
        return doc_id

    async def received_list(self, message_type: MessageType = "edoc") -> list[ReceivedItem]:
        answer = await self._call(
            "getReceivedEdocList", [("servicetype", "eDoc"), ("messagetype", message_type)]
        )
        return [
            ReceivedItem(
                doc_id=text_of(item, "docId"),
                service_type=text_of(item, "serviceType"),
                message_type=text_of(item, "messageType"),
                sender=text_of(item, "from"),
                receivers=text_of(item, "to"),
                status=text_of(item, "status"),
                created=text_of(item, "created_time"),
                updated=text_of(item, "updated_time"),
                status_description=text_of(item, "status_desc"),
            )
            for item in answer.get("data") or []
        ]

    async def get_edoc(self, doc_id: str) -> bytes:
        answer = await self._call("getEdoc", [("docId", doc_id), ("filePath", "xml")], body=b"{}")
        try:
            return pybase64.b64decode(answer.get("data") or "", validate=True)
        except (binascii.Error, TypeError):
            raise AxisPermanentError("data is not base64", operation="getEdoc") from None

    async def download_edoc(self, doc_id: str) -> bytes:
        result = await self._call("downloadEdoc", [("docId", doc_id)], method="GET", raw=True)
        if isinstance(result, bytes):
            return result
        raise AxisPermanentError("no file in the answer", operation="downloadEdoc")

    async def update_status(self, doc_id: str, status: AckStatus) -> None:
        """Acknowledge a received item (done / fail / processing) so it leaves the list."""
        await self._call("updateStatus", [("docId", doc_id), ("status", status)], body=b"{}")

    async def sent_list(
        self, message_type: MessageType = "edoc", doc_id: str = ""
    ) -> list[SentItem]:
        answer = await self._call(
            "getSentEdocList",
            [("servicetype", "eDoc"), ("messagetype", message_type), ("docId", doc_id)],
        )
        return [
            SentItem(
                doc_id=text_of(item, "senderDocId"),
                receiver_doc_id=text_of(item, "receiverDocId"),
                receiver=text_of(item, "toCode"),
                send_status=text_of(item, "sendStatus"),
                receive_status=text_of(item, "receiveStatus"),
                title=text_of(item, "title"),
                notation=text_of(item, "notation"),
                sent=text_of(item, "sentTime"),
                received=text_of(item, "receivedTime"),
            )
            for item in answer.get("data") or []
        ]

    async def count_received(self, message_type: MessageType = "edoc") -> int:
        operation = "countReceiveEdoc" if message_type == "edoc" else "countReceiveStatus"
        answer = await self._call(
            operation, [("servicetype", "eDoc"), ("messagetype", message_type)]
        )
        data = answer.get("data")
        count = data.get("count") if isinstance(data, dict) else data
        try:
            return int(str(count))
        except (TypeError, ValueError):
            raise AxisPermanentError(
                f"no count in the answer ({data!r})", operation=operation
            ) from None

    # -- agencies --------------------------------------------------------------------------------

    async def agencies(self, *, qd20: bool = False, level: int | None = None) -> list[Agency]:
        fields = [] if level is None else [("level", str(level))]
        answer = await self._call("getAgenciesListQD20" if qd20 else "getAgenciesList", fields)
        return [
            Agency(
                code=text_of(item, "code"),
                name=text_of(item, "name"),
                id=text_of(item, "id"),
                parent=text_of(item, "pid"),
                mail=text_of(item, "mail"),
                code102=text_of(item, "code102", "oldCode"),
            )
            for item in answer.get("data") or []
        ]

    async def synchronize_units(self) -> list[dict[str, Any]]:
        answer = await self._call("getSynchronizeUnit")
        return list(answer.get("data") or [])

    async def register_agency(
        self, *, code: str, name: str, parent: str, mail: str = "", mobile: str = "", fax: str = ""
    ) -> None:
        body = {
            "id": code,
            "pcode": parent,
            "code": code,
            "name": name,
            "mail": mail,
            "mobile": mobile,
            "fax": fax,
        }
        await self._call("registerAgency", body=json.dumps(body, ensure_ascii=False).encode())

    async def delete_agency(self, code: str) -> None:
        await self._call("deleteAgency", [("AgencyCode", code)])
