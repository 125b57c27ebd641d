"""The gateway's configuration: a YAML file, then ``EDXML_*`` environment variables on top.

Frozen pydantic models (unknown keys are errors, not silently ignored settings). Nested
values come from the environment with ``__``: ``EDXML_AXIS__BASE_URL``,
``EDXML_WORKERS__CONCURRENCY``. Secrets are never in the file: the axis secret and hub tokens
are read from the environment variables the file names (``secret_env``, ``token_env``).

With nothing configured the gateway runs embedded: SQLite and blobs under ``data_dir``, the
store's due rows as the work queue, in-process coordination. Setting ``database_url``
(PostgreSQL), ``broker_url`` (RabbitMQ) and ``redis_url`` turns on the production parts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

import edxml
from adapters.errors import ConfigurationError
from gateway.config_sections import (
    AlertSettings,
    AlertWebhookSettings,
    AxisSettings,
    BackupSettings,
    EvidenceSettings,
    FacadeSystemSettings,
    LgspSettings,
    RestEndpointSettings,
    SigningKeySettings,
    SmtpSettings,
    SoapHubSettings,
    WebhookSettings,
    WorkerSettings,
)
from gateway.delivery.retry import RetryPolicy
from gateway.delivery.routing import Route, RoutingTable
from gateway.outbound.accept import DEFAULT_MAX_RECIPIENTS

__all__ = [
    "AlertSettings",
    "AlertWebhookSettings",
    "AxisSettings",
    "BackupSettings",
    "EvidenceSettings",
    "FacadeSystemSettings",
    "GatewaySettings",
    "LgspSettings",
    "RestEndpointSettings",
    "SigningKeySettings",
    "SmtpSettings",
    "SoapHubSettings",
    "WebhookSettings",
    "WorkerSettings",
    "load_settings",
]


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EDXML_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    data_dir: Path = Path("data")
    database_url: str | None = None  # default: sqlite+aiosqlite:///<data_dir>/gateway.db
    database_schema: str | None = None
    broker_url: str | None = None  # amqp://...; None: the embedded queue
    broker_prefix: str = "edxml"
    redis_url: str | None = None  # redis://...; None: in-process coordination
    redis_prefix: str = "edxml"
    axis: AxisSettings | None = None
    #: Provincial LGSP platforms by the destination name routes use (e.g. ``lgsp``)
    lgsp: dict[str, LgspSettings] = {}
    soap_hubs: dict[str, SoapHubSettings] = {}
    rest_endpoints: dict[str, RestEndpointSettings] = {}
    routes: tuple[Route, ...] = (Route(pattern="*", destination="axis"),)
    retry: RetryPolicy = RetryPolicy()
    workers: WorkerSettings = WorkerSettings()
    #: OrganId patterns of the agencies this gateway receives for (the province's own).
    own_agencies: tuple[str, ...] = ()
    #: Signing keys by OrganId (Điều 5.2); with signature_required, no key means refusal.
    signing_keys: dict[str, SigningKeySettings] = {}
    signature_required: bool = True
    #: Folder of trusted root (and intermediate) certificates for inbound signatures: the
    #: trust set named "default". CRL files (.crl) in a trust folder answer revocation.
    trust_dir: Path | None = None
    #: Named trust sets, e.g. ``bcy`` (Ban Cơ yếu Chính phủ, the specialised CA) and ``neac``
    #: (the public CAs): a folder of certificates (and CRLs) each.
    trust_sets: dict[str, Path] = {}
    #: Signature kind ("package", and on PDFs "agency" and "person") -> the trust sets it
    #: may chain to; a kind not named may use every set.
    trust_policy: dict[Literal["package", "agency", "person"], tuple[str, ...]] = {}
    #: Trusted time-stamping authorities (roots): a signature timestamp (RFC 3161, XAdES
    #: SignatureTimeStamp) they sign is the time a certificate is judged at; without one,
    #: a certificate is judged at reception (ETSI EN 319 102-1).
    tsa_trust_dir: Path | None = None
    #: "reject" refuses inbound packages whose signature fails (answering 02); "flag" keeps
    #: the findings but accepts them (real traffic carries unverifiable signatures, spec 6.6).
    inbound_signature_policy: Literal["reject", "flag"] = "flag"
    #: OrganId -> certificate identities that may sign for it (UID=MNS:…, OU=…, CN=…,
    #: SERIAL=…); the directory adds those recorded with `edxml-gateway directory identity`.
    agency_identities: dict[str, tuple[str, ...]] = {}
    #: A received package signed by a certificate that is not its sending agency's: "reject"
    #: answers 02, "flag" accepts it with the finding (an agency without identities: flagged).
    signer_binding_policy: Literal["reject", "flag"] = "flag"
    #: A recall (13) of a document we received: "clerk" waits for a clerk's (or the QLVB's)
    #: 15 or 16; "automatic" agrees at once (Quyết định 28 Điều 9.4).
    recall_answer: Literal["clerk", "automatic"] = "clerk"
    #: Rules whose breach in a received document earns a 02; every other finding (the
    #: quirks real senders emit: junk before the XML, the old namespace, dd/MM/yyyy dates,
    #: a number like 74fass22) is a warning on an accepted document.
    inbound_fatal_rules: tuple[str, ...] = ("attachment.payload", "attachment.manifest")
    #: PDFs a QLVB sends: "off", "present" (each PDF signed), "valid" (verifies against trust)
    pdf_signature_policy: Literal["off", "present", "valid"] = "present"
    #: Sign an attached PDF a QLVB sends unsigned as the sending agency (its key), with the
    #: stamp of Phụ lục I (number/notation and time, 10 pt, top-right of page 1)
    seal_unsigned_pdfs: bool = False
    vdxp_systems: dict[str, FacadeSystemSettings] = {}
    #: A facade request whose signed timestamp is further from now than this is refused (a
    #: replay or a wrong clock). The SDK reuses one timestamp for the life of its service
    #: object, so this must outlast it; within it, the same signed sendEdoc is answered once.
    vdxp_timestamp_window_seconds: float = Field(default=24 * 3600, gt=0)
    #: Recipients one document may have; a larger fan-out is refused (422) at acceptance.
    max_recipients_per_document: int = Field(default=DEFAULT_MAX_RECIPIENTS, ge=1)
    #: Documents a process builds at once (``POST /documents``, the facade's sendEdoc): the
    #: work is CPU under one interpreter lock, so more at once only holds more bodies in
    #: memory and costs more CPU each (threads taking the lock from one another: 4 at once
    #: took 30 % more CPU a document than 2); the others wait with their body unread.
    max_concurrent_submissions: int = Field(default=2, ge=1)
    #: How long an Idempotency-Key holds; a retry after that is a new request.
    idempotency_window_seconds: float = Field(default=24 * 3600, gt=0)
    #: Mark the dashboard's session cookie Secure (serve behind HTTPS in production).
    secure_cookies: bool = False
    #: A maintenance or outage notice shown on every dashboard page (Điều 20, 21.6).
    maintenance_notice: str | None = None
    #: The built-in daily backup; None: backups are taken by `edxml-gateway backup` only.
    backup: BackupSettings | None = None
    #: Operator alerts: failing destinations, growing dead letters, expiring certificates.
    alerts: AlertSettings = AlertSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    #: Where QLVB webhooks may point (an SSRF guard).
    webhooks: WebhookSettings = WebhookSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: json: one object per line with message/delivery ids (for a collector); text: a terminal
    log_format: Literal["json", "text"] = "json"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (passed as init values); no .env, no secrets dir.
        return env_settings, init_settings

    @field_validator("inbound_fatal_rules")
    @classmethod
    def _known_rules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(edxml.RULES))
        if unknown:
            raise ValueError(f"unknown rules {', '.join(unknown)} (see edxml.RULES)")
        return value

    @model_validator(mode="after")
    def _trust_sets_named(self) -> GatewaySettings:
        named = set(self.trust_folders)
        if self.trust_dir is not None and "default" in self.trust_sets:
            raise ValueError("trust_dir is the trust set 'default': do not name another so")
        for kind, names in self.trust_policy.items():
            unknown = sorted(set(names) - named)
            if unknown:
                raise ValueError(
                    f"trust_policy.{kind} names unknown trust sets {', '.join(unknown)}"
                )
        return self

    @model_validator(mode="after")
    def _destinations_named_once(self) -> GatewaySettings:
        named: dict[str, str] = {"local": "built in", "axis": "axis"}
        for section in ("lgsp", "soap_hubs", "rest_endpoints"):
            for name in getattr(self, section):
                if name in named:
                    raise ValueError(
                        f"{section}.{name}: the destination {name!r} is already {named[name]}"
                    )
                named[name] = section
        return self

    @property
    def trust_folders(self) -> dict[str, Path]:
        """Every trust set by name (``trust_dir`` is "default")."""
        folders = {} if self.trust_dir is None else {"default": self.trust_dir}
        return folders | self.trust_sets

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'gateway.db'}"

    @property
    def embedded(self) -> bool:
        return self.broker_url is None

    @property
    def routing(self) -> RoutingTable:
        return RoutingTable(routes=self.routes, national=("axis", *self.lgsp))


def load_settings(path: Path | None = None) -> GatewaySettings:
    """Settings from ``path`` (YAML) and the environment; every problem is a ConfigurationError."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"{path}: cannot read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"{path}: not YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigurationError(f"{path}: the top level must be a mapping of settings")
        values = loaded or {}
    try:
        return GatewaySettings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(f"{path or 'settings'}: {problems}") from None
