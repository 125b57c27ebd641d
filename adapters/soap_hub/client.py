"""Client of an older provincial e-doc SOAP hub (spec 3.4), on zeep and httpx.

zeep reads our WSDL (``schemas/edoc-hub.wsdl``), builds every request envelope and parses
the answers of the operations without attachments. Two operations carry files, which zeep
cannot send: ``SendDocument`` posts a SOAP-with-Attachments message that we frame around the
envelope zeep created (``client.create_message``) and stream; ``GetDocument``'s multipart answer
is split by ``mime.read_swa`` and read by the hardened parser. Packages are converted to and
from the e-doc flavour by ``edxml.to_edoc``/``from_edoc``.

Failures are classified at this edge (STYLE 9): network errors, timeouts, HTTP 5xx without a
Fault and ``soap:Server`` faults are ``SoapHubTransientError``; ``soap:Client`` faults (bad
token, unknown document, invalid package) and unreadable answers are ``SoapHubPermanentError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import zeep
import zeep.exceptions
from lxml import etree
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

import edxml
from adapters.errors import (
    GATEWAY_STATUSES,
    ConfigurationError,
    RemoteServiceError,
    TransportError,
    outcome_unknown,
    retry_after_seconds,
)
from adapters.soap_hub.envelope import (
    SERVICE_NS,
    SOAP_NS,
    auth_header,
    body_of,
    header_of,
    local_name,
    q,
    wsdl_path,
)
from adapters.soap_hub.mime import MimePart, SwaError, read_swa, swa_message

__all__ = [
    "HubOrganization",
    "SoapHubClient",
    "SoapHubConfig",
    "SoapHubError",
    "SoapHubPermanentError",
    "SoapHubTransientError",
    "Trace",
]

_TIMESTAMP = "%Y/%m/%d %H:%M:%S"


@dataclass(frozen=True, slots=True, kw_only=True)
class SoapHubConfig:
    """Where the hub is and who we are there. The token comes from the environment."""

    endpoint: str  # e.g. http://hub.example.gov.vn/soap/edoc
    organ_id: str
    token: str = field(repr=False)
    timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    max_connections: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str], prefix: str = "EDXML_SOAP_HUB_") -> SoapHubConfig:
        """``EDXML_SOAP_HUB_URL``, ``_ORGAN_ID``, ``_TOKEN`` (required), ``_TIMEOUT``."""
        missing = [
            f"{prefix}{key}"
            for key in ("URL", "ORGAN_ID", "TOKEN")
            if not environ.get(f"{prefix}{key}")
        ]
        if missing:
            raise ConfigurationError(f"set {', '.join(missing)} to reach the SOAP hub")
        try:
            timeout = float(environ.get(f"{prefix}TIMEOUT", "60"))
        except ValueError:
            raise ConfigurationError(f"{prefix}TIMEOUT must be a number of seconds") from None
        return cls(
            endpoint=environ[f"{prefix}URL"],
            organ_id=environ[f"{prefix}ORGAN_ID"],
            token=environ[f"{prefix}TOKEN"],
            timeout_seconds=timeout,
        )


class SoapHubError(RemoteServiceError):
    """The hub refused or failed an operation; ``code`` is its ``Error/Code`` (``M.Token``)."""


class SoapHubTransientError(SoapHubError, TransportError):
    transient = True


class SoapHubPermanentError(SoapHubError):
    """The hub refused: bad credentials, unknown document, invalid package."""


@dataclass(frozen=True, slots=True)
class Trace:
    """One status in the SOAP flavour: who reports which code about which document."""

    document_id: str  # the edXML DocumentId
    organ_id: str  # the reporting agency
    status_code: str
    timestamp: dt.datetime
    description: str | None = None
    department: str | None = None
    staff: str | None = None


class _QuietTransport(AsyncTransport):  # type: ignore[misc]
    """zeep's async transport without its debug log of every message: they carry the Token."""

    async def post(self, address: str, message: bytes, headers: dict[str, str]) -> Any:
        return await self.client.post(address, content=message, headers=headers)


@dataclass(frozen=True, slots=True)
class HubOrganization:
    organ_id: str
    name: str
    email: str = ""


#: httpx's failures before the request is on the wire: the hub carried nothing out.
_NEVER_CONNECTED: tuple[type[BaseException], ...] = (httpx.ConnectError, httpx.ConnectTimeout)


def _unreachable(exc: BaseException, operation: str) -> SoapHubTransientError:
    return SoapHubTransientError(
        f"the hub is unreachable ({type(exc).__name__}: {exc})",
        operation=operation,
        in_doubt=outcome_unknown(exc, _NEVER_CONNECTED),
    )


def _fault_details(fault: zeep.exceptions.Fault) -> tuple[bool, str | None]:
    """(transient, error code) of a Fault: ``soap:Server`` may pass, ``soap:Client`` will not."""
    transient = str(fault.code or "").endswith("Server")
    code = None
    if fault.detail is not None:
        found = fault.detail.find(f".//{q('Code')}")
        code = found.text if found is not None else None
    return transient, code


class SoapHubClient:
    """``async with SoapHubClient(config) as hub: doc_id = await hub.send_document(package)``."""

    retryable_errors = (SoapHubTransientError,)
    fatal_errors = (SoapHubPermanentError,)

    def __init__(self, config: SoapHubConfig) -> None:
        self._config = config
        self._http: httpx.AsyncClient | None = None
        self._zeep: zeep.AsyncClient | None = None
        self._wsdl_http: httpx.Client | None = None
        self._service: Any = None
        self._closed = False

    async def __aenter__(self) -> SoapHubClient:
        if self._closed:
            raise RuntimeError("this SoapHubClient is closed; make a new one")
        config = self._config
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            limits=httpx.Limits(max_connections=config.max_connections),
        )
        settings = zeep.Settings(
            strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        # The WSDL is a local file; this sync client is never used for the network.
        self._wsdl_http = httpx.Client(timeout=config.timeout_seconds)
        transport = _QuietTransport(client=self._http, wsdl_client=self._wsdl_http)
        self._zeep = zeep.AsyncClient(wsdl_path(), transport=transport, settings=settings)
        # AsyncClient.create_service returns a sync proxy (zeep 4.3): bind the async one here.
        binding = self._zeep.wsdl.bindings[f"{{{SERVICE_NS}}}EdocHubBinding"]
        self._service = AsyncServiceProxy(self._zeep, binding, address=config.endpoint)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._wsdl_http is not None:
            self._wsdl_http.close()
        self._closed = True

    def _ready(self) -> tuple[httpx.AsyncClient, zeep.AsyncClient]:
        if self._http is None or self._zeep is None or self._closed:
            raise RuntimeError("use the SoapHubClient inside 'async with'")
        return self._http, self._zeep

    def _auth(self) -> etree._Element:
        return auth_header(self._config.organ_id, self._config.token)

    async def _call(self, operation: str, **arguments: Any) -> Any:
        """An operation without attachments: zeep builds, posts and parses."""
        self._ready()
        try:
            return await getattr(self._service, operation)(_soapheaders=[self._auth()], **arguments)
        except zeep.exceptions.Fault as fault:
            transient, code = _fault_details(fault)
            error = SoapHubTransientError if transient else SoapHubPermanentError
            raise error(str(fault.message), operation=operation, code=code) from None
        except zeep.exceptions.TransportError as exc:
            error = SoapHubTransientError if exc.status_code >= 500 else SoapHubPermanentError
            raise error(
                f"HTTP {exc.status_code}", operation=operation, http_status=exc.status_code
            ) from None
        except (httpx.TransportError, OSError) as exc:
            raise _unreachable(exc, operation) from exc
        except (zeep.exceptions.Error, etree.LxmlError) as exc:
            raise SoapHubPermanentError(f"unreadable answer: {exc}", operation=operation) from None

    async def _post(
        self, operation: str, envelope: etree._Element, parts: Sequence[MimePart]
    ) -> httpx.Response:
        """Post a message we framed (attachments), streaming the parts."""
        http, _ = self._ready()
        body = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        content_type, chunks = swa_message(body, parts)

        async def stream(chunks: list[bytes]) -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        headers = {
            "Content-Type": content_type,
            "Content-Length": str(sum(len(chunk) for chunk in chunks)),
            "SOAPAction": f'"{operation}"',
        }
        try:
            response = await http.post(
                self._config.endpoint, content=stream(chunks), headers=headers
            )
        except (httpx.TransportError, OSError) as exc:
            raise _unreachable(exc, operation) from exc
        return response

    def _envelope_of(
        self, operation: str, response: httpx.Response
    ) -> tuple[etree._Element, dict[str, MimePart]]:
        try:
            message = read_swa(response.headers.get("Content-Type", "text/xml"), response.content)
            envelope = edxml.parse_untrusted_xml(message.envelope)
        except (SwaError, edxml.EdxmlError) as exc:
            error = SoapHubTransientError if response.status_code >= 500 else SoapHubPermanentError
            raise error(
                f"HTTP {response.status_code}, not a SOAP answer: {exc}",
                operation=operation,
                http_status=response.status_code,
            ) from None
        body = body_of(envelope)
        fault = body.find(q("Fault", SOAP_NS)) if body is not None else None
        if fault is not None:
            side = fault.findtext("faultcode") or ""
            code_element = fault.find(f".//{q('Code')}")
            error = SoapHubTransientError if side.endswith("Server") else SoapHubPermanentError
            raise error(
                fault.findtext("faultstring") or "SOAP Fault",
                operation=operation,
                http_status=response.status_code,
                code=code_element.text if code_element is not None else None,
            )
        if response.status_code >= 500:
            raise SoapHubTransientError(
                f"HTTP {response.status_code}",
                operation=operation,
                http_status=response.status_code,
                in_doubt=response.status_code in GATEWAY_STATUSES,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        return envelope, message.parts

    # -- operations -----------------------------------------------------------------------------

    async def send_document(self, package: edxml.Package) -> str:
        """Send a document or status package; returns the hub's id for it."""
        _, client = self._ready()
        message = edxml.to_edoc(package)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        headers = [self._auth(), *(etree.fromstring(raw, parser) for raw in message.headers)]
        envelope = client.create_message(self._service, "SendDocument", _soapheaders=headers)
        body = envelope.find(q("Body", SOAP_NS))
        body.clear()
        if message.manifest is not None:
            body.append(etree.fromstring(message.manifest, parser))
        else:
            etree.SubElement(body, q("Manifest"))
        parts = [
            MimePart(a.content_id, a.data or b"", a.content_type, a.name)
            for a in message.attachments
        ]
        response = await self._post("SendDocument", envelope, parts)
        answer, _ = self._envelope_of("SendDocument", response)
        doc_id = answer.findtext(f".//{q('SendDocumentResponse')}/{q('DocumentId')}")
        if not doc_id:
            raise SoapHubPermanentError(
                "the answer carries no DocumentId", operation="SendDocument"
            )
        return str(doc_id)

    async def pending_document_ids(self) -> list[str]:
        result = await self._call("GetPendingDocumentIds", OrganId=self._config.organ_id)
        return [str(doc_id) for doc_id in (result or [])]

    async def get_document(self, doc_id: str) -> edxml.Package:
        """The package with its files, converted to our model."""
        _, client = self._ready()
        envelope = client.create_message(
            self._service, "GetDocument", _soapheaders=[self._auth()], DocumentId=doc_id
        )
        response = await self._post("GetDocument", envelope, ())
        answer, parts = self._envelope_of("GetDocument", response)
        header, body = header_of(answer), body_of(answer)
        headers = [etree.tostring(child) for child in (header if header is not None else [])]
        manifest = next(
            (
                etree.tostring(c)
                for c in (body if body is not None else [])
                if local_name(c) == "Manifest"
            ),
            None,
        )
        try:
            return edxml.from_edoc(headers, manifest, {cid: p.data for cid, p in parts.items()})
        except edxml.EdxmlError as exc:
            raise SoapHubPermanentError(
                f"unreadable package: {exc}", operation="GetDocument"
            ) from None

    async def confirm_received(self, doc_id: str) -> None:
        await self._call("ConfirmReceived", OrganId=self._config.organ_id, DocumentId=doc_id)

    async def update_traces(self, traces: Sequence[Trace]) -> None:
        statuses = [
            {
                "DocumentId": trace.document_id,
                "OrganId": trace.organ_id,
                "StatusCode": trace.status_code,
                "Description": trace.description,
                "TimeStamp": trace.timestamp.strftime(_TIMESTAMP),
                "Department": trace.department,
                "Staff": trace.staff,
            }
            for trace in traces
        ]
        await self._call("UpdateTraces", Status=statuses)

    async def get_traces(self, since: dt.datetime | None = None) -> list[Trace]:
        stamp = since.strftime(_TIMESTAMP) if since is not None else None
        result = await self._call("GetTraces", OrganId=self._config.organ_id, TimeStamp=stamp)
        return [
            Trace(
                document_id=status.DocumentId,
                organ_id=status.OrganId,
                status_code=status.StatusCode,
                timestamp=dt.datetime.strptime(status.TimeStamp, _TIMESTAMP),
                description=status.Description,
                department=status.Department,
                staff=status.Staff,
            )
            for status in (result or [])
        ]

    async def organizations(self) -> list[HubOrganization]:
        result = await self._call("GetOrganizations")
        return [
            HubOrganization(organ_id=o.OrganId, name=o.OrganName, email=o.Email or "")
            for o in (result or [])
        ]
