"""The sections of the gateway's settings: each remote destination, signing keys, the
facade's systems, backups, alerts, webhooks and the workers."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from adapters.axis.client import AxisConfig
from adapters.errors import ConfigurationError
from adapters.lgsp.types import LgspConfig
from adapters.ministry_rest import MinistryRestConfig
from adapters.pkcs11 import open_token_key, token_certificate
from adapters.soap_hub import SoapHubConfig
from adapters.url_policy import UrlPolicy
from edxml import SigningIdentity, load_certificates, load_signing_identity

__all__ = [
    "AlertSettings",
    "AlertWebhookSettings",
    "AxisSettings",
    "FacadeSystemSettings",
    "LgspSettings",
    "RestEndpointSettings",
    "SigningKeySettings",
    "SmtpSettings",
    "SoapHubSettings",
    "WebhookSettings",
    "WorkerSettings",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AxisSettings(_Frozen):
    base_url: str
    system_id: str
    secret_env: str = "EDXML_AXIS_SECRET"  # noqa: S105 (the name of a variable, not a secret)
    timeout_seconds: float = Field(default=60.0, gt=0)
    max_connections: int = Field(default=10, ge=1, le=10)
    poll: bool = True
    poll_interval_seconds: float = Field(default=30.0, gt=0)
    #: The agencies directory (getAgenciesList) is synchronised at start-up and this often;
    #: acceptance refuses a recipient the axis does not list.
    directory_sync_hours: float = Field(default=6.0, gt=0)

    def client_config(self, environ: Mapping[str, str]) -> AxisConfig:
        secret = environ.get(self.secret_env)
        if not secret:
            raise ConfigurationError(f"set {self.secret_env}: the axis secret for {self.system_id}")
        return AxisConfig(
            base_url=self.base_url,
            system_id=self.system_id,
            secret=secret,
            timeout_seconds=self.timeout_seconds,
            max_connections=self.max_connections,
        )


class LgspSettings(_Frozen):
    """A provincial LGSP in front of the axis: its API manager's address, our application's
    client credentials there, and our unit's secret identifier (both secrets in variables)."""

    base_url: str = Field(pattern=r"^https?://")
    consumer_key: str
    consumer_secret_env: str
    unit_secret_env: str
    api_path: str = "/truclienthong/v1.0.0"
    token_path: str = "/token"  # noqa: S105 (a path)
    #: The header that carries the unit's secret identifier
    secret_header: str = "secret"  # noqa: S105 (a header's name)
    timeout_seconds: float = Field(default=60.0, gt=0)
    max_connections: int = Field(default=10, ge=1)
    #: Poll its inbox (``GET /vanbans``) for documents and statuses sent to us
    poll: bool = True
    poll_interval_seconds: float = Field(default=30.0, gt=0)
    #: Without the axis configured, the agencies directory comes from the platform's
    #: national list (``GET /donvilienthongs``), synchronised at start-up and this often
    directory_sync_hours: float = Field(default=6.0, gt=0)

    def client_config(self, environ: Mapping[str, str]) -> LgspConfig:
        secrets = {}
        for name in (self.consumer_secret_env, self.unit_secret_env):
            secrets[name] = environ.get(name, "")
            if not secrets[name]:
                raise ConfigurationError(f"set {name}: a secret of the LGSP at {self.base_url}")
        return LgspConfig(
            base_url=self.base_url,
            consumer_key=self.consumer_key,
            consumer_secret=secrets[self.consumer_secret_env],
            unit_secret=secrets[self.unit_secret_env],
            api_path=self.api_path,
            token_path=self.token_path,
            secret_header=self.secret_header,
            timeout_seconds=self.timeout_seconds,
            max_connections=self.max_connections,
        )


class SoapHubSettings(_Frozen):
    endpoint: str
    organ_id: str
    token_env: str
    timeout_seconds: float = Field(default=60.0, gt=0)

    def client_config(self, environ: Mapping[str, str]) -> SoapHubConfig:
        token = environ.get(self.token_env)
        if not token:
            raise ConfigurationError(f"set {self.token_env}: the token of {self.organ_id}")
        return SoapHubConfig(
            endpoint=self.endpoint,
            organ_id=self.organ_id,
            token=token,
            timeout_seconds=self.timeout_seconds,
        )


class RestEndpointSettings(_Frozen):
    url: str
    token_env: str
    timeout_seconds: float = Field(default=60.0, gt=0)

    def client_config(self, environ: Mapping[str, str]) -> MinistryRestConfig:
        token = environ.get(self.token_env)
        if not token:
            raise ConfigurationError(f"set {self.token_env}: the token for {self.url}")
        return MinistryRestConfig(url=self.url, token=token, timeout_seconds=self.timeout_seconds)


class SigningKeySettings(_Frozen):
    """An agency's signing key: a PKCS#12 file, a PEM key with its certificate chain, or a
    key on a token or HSM named by a PKCS#11 URI (RFC 7512) whose PIN is in ``pin_env``.

    For a token key ``certificate`` is the chain (signer first); without it, the
    certificate stored on the token beside the key (same label) is used alone."""

    key: Path | None = None
    certificate: Path | None = None
    password_env: str | None = None
    password_file: Path | None = None
    pkcs11_uri: str | None = None
    pin_env: str | None = None
    #: The token's PKCS#11 library, when the URI names no module-path
    pkcs11_module: Path | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SigningKeySettings:
        if (self.key is None) == (self.pkcs11_uri is None):
            raise ValueError("give a key file (key) or a token key (pkcs11_uri), exactly one")
        if self.pkcs11_uri is not None and not self.pin_env:
            raise ValueError("a token key needs pin_env: the variable holding its PIN")
        return self

    def load(self, environ: Mapping[str, str] | None = None) -> SigningIdentity:
        if self.key is not None:
            return load_signing_identity(
                self.key,
                certificate=self.certificate,
                password_env=self.password_env,
                password_file=self.password_file,
            )
        uri, pin_env = self.pkcs11_uri or "", self.pin_env or ""  # set: see the validator
        key = open_token_key(
            uri,
            pin_env=pin_env,
            environ=os.environ if environ is None else environ,
            default_module=self.pkcs11_module,
        )
        if self.certificate is not None:
            chain = tuple(load_certificates(self.certificate))
        else:
            stored = token_certificate(key)
            if stored is None:
                raise ConfigurationError(
                    f"{self.pkcs11_uri}: no certificate on the token beside the key; "
                    "give its chain in certificate"
                )
            chain = (stored,)
        return SigningIdentity(key=key, chain=chain)


class FacadeSystemSettings(_Frozen):
    """A QLVB that speaks the axis SDK to our /vdxp facade."""

    secret_env: str
    agencies: tuple[str, ...]


class BackupSettings(_Frozen):
    """The daily backup (Điều 18.2): where, when (Vietnam time, HH:MM), how many to keep."""

    folder: Path
    at: str = Field(default="02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    keep: int = Field(default=7, ge=1)
    #: Every this many days a snapshot is also restored into a scratch place and opened
    restore_test_days: int = Field(default=7, ge=1)


class EvidenceSettings(_Frozen):
    """The evidence log (Điều 16, 18): how often its head is sealed, and by whose key."""

    seal_minutes: float = Field(default=60.0, gt=0)
    #: The agency whose signing key seals (None: the first configured)
    seal_agency: str | None = None
    #: An RFC 3161 time-stamping authority: each seal also carries its token (the seal's
    #: time then rests on the authority, not on our clock); checked against tsa_trust_dir
    tsa_url: str | None = None


class SmtpSettings(_Frozen):
    """Where alert e-mails go. The password is read from the variable ``password_env`` names."""

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    #: "starttls" (port 587), "tls" (implicit, port 465) or "none" (a relay on the LAN)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    sender: str
    to: tuple[str, ...] = Field(min_length=1)
    timeout_seconds: float = Field(default=30.0, gt=0)


class AlertWebhookSettings(_Frozen):
    """An operator's webhook (chat, paging): JSON POSTed, signed when ``secret_env`` is set."""

    url: str = Field(pattern=r"^https?://")
    secret_env: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)


class AlertSettings(_Frozen):
    """When the operator is warned (dashboard banner always; e-mail and webhook if set)."""

    interval_seconds: float = Field(default=60.0, gt=0)
    #: A destination is failing when at least this many of its deliveries wait on (or are in)
    #: a retry or failed in the last hour, and none went through since the latest failure.
    destination_failures: int = Field(default=3, ge=1)
    #: Warn when a signing certificate has this many days left or fewer.
    certificate_days: int = Field(default=30, ge=1)
    #: Warn when the axis poller has not completed a pass for this long
    poller_stalled_seconds: float = Field(default=600.0, gt=0)
    smtp: SmtpSettings | None = None
    webhook: AlertWebhookSettings | None = None


class WebhookSettings(_Frozen):
    """Where QLVB webhooks may point. Anything not listed must be a public address: a
    QLVB on the province's network is reached only once its network or host is listed."""

    allowed_schemes: tuple[Literal["http", "https"], ...] = ("https",)
    #: Host names (shell patterns) trusted whatever they resolve to: qlvb.ninhbinh.gov.vn
    allowed_hosts: tuple[str, ...] = ()
    #: Networks that may be reached although private: 10.42.0.0/16
    allowed_networks: tuple[str, ...] = ()
    #: Requests in flight to one QLVB at once (each delivery's events stay in order)
    requests_per_client: int = Field(default=4, ge=1, le=32)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names it
        return value

    def policy(self) -> UrlPolicy:
        return UrlPolicy.of(
            schemes=self.allowed_schemes, hosts=self.allowed_hosts, networks=self.allowed_networks
        )


class WorkerSettings(_Frozen):
    concurrency: int = Field(default=20, ge=1)
    batch: int = Field(default=20, ge=1)
    lease_seconds: float = Field(default=120.0, gt=0)
    #: While busy, claims and outcomes wait this long (seconds) to share a transaction
    batch_linger_seconds: float = Field(default=0.02, ge=0, le=1)
    limit_per_destination: int = Field(default=10, ge=1)
    #: With Redis: requests in flight per destination across all processes together.
    shared_limit_per_destination: int = Field(default=10, ge=1)
    #: Transient failures in a row that open a destination's circuit (then only probes go)
    circuit_failures: int = Field(default=5, ge=1)
    #: Probe a destination whose attempts failed, every first step of the retry schedule;
    #: off, only a trial delivery (or the schedule) tells that it answers again
    probes: bool = True
