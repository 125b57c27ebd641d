"""`edxml-gateway check-config`: the settings are valid, and each connection answers.

Each part is tried on its own and reported on one line — the store (and its migration
level), the broker, Redis, every signing key, each trust set, the axis (an
authenticated ``countReceiveEdoc``), each LGSP (a token, then its inbox read), each SOAP
hub (its pending list) and the alerts' SMTP server (a login, nothing sent) —
so a wrong password or an unreachable host is named before the gateway is started.
Secrets never appear in the report.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from redis import asyncio as aioredis

import edxml
from adapters.axis.client import AxisClient
from adapters.broker.amqp import AmqpBroker, AmqpSettings
from adapters.errors import ConfigurationError
from adapters.lgsp.client import LgspClient
from adapters.pkcs11 import TokenEcKey, TokenRsaKey, token_status
from adapters.soap_hub import SoapHubClient
from adapters.store.engine import create_engine
from edxml import load_crls, load_trust_store
from gateway.config import (
    AxisSettings,
    GatewaySettings,
    LgspSettings,
    SigningKeySettings,
    SoapHubSettings,
)
from gateway.operate.alerts import EmailSink

__all__ = ["check_config"]

Probe = Callable[[], Awaitable[str]]


def _safe(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


async def _store(settings: GatewaySettings) -> str:
    engine = create_engine(settings.store_url, schema=settings.database_schema)
    try:
        async with engine.connect() as connection:
            try:
                version = await connection.scalar(
                    sa.text("SELECT version_num FROM alembic_version")
                )
            except sa.exc.SQLAlchemyError:
                version = None
    finally:
        await engine.dispose()
    level = f"migration {version}" if version else "no tables yet: run edxml-gateway migrate"
    return f"{_safe(settings.store_url)}, {level}"


async def _broker(url: str, prefix: str) -> str:
    async with AmqpBroker(AmqpSettings(url=url, prefix=prefix)) as opened:
        depth = await opened.depth()
    return f"{_safe(url)}, {depth['deliveries']} waiting"


async def _redis(url: str) -> str:
    client = aioredis.from_url(url, socket_connect_timeout=5)
    try:
        await client.ping()  # type: ignore[misc]
    finally:
        await client.aclose()
    return _safe(url)


async def _signing_key(key: SigningKeySettings) -> str:
    identity = await asyncio.to_thread(key.load)
    certificate = identity.chain[0]
    subject = certificate.subject.rfc4514_string()
    where = ""
    if isinstance(identity.key, TokenRsaKey | TokenEcKey):
        status = await asyncio.to_thread(token_status, identity.key, certificate)
        if not status.key_found:
            raise ConfigurationError(f"token {status.token!r}: key {status.label!r} does not sign")
        where = f" (token {status.token!r}, logged in, key {status.label!r} signs)"
    return f"{subject}, until {certificate.not_valid_after_utc:%Y-%m-%d}{where}"


async def _trust_set(settings: GatewaySettings, name: str, folder: Path) -> str:
    store = await asyncio.to_thread(load_trust_store, folder)
    crls = await asyncio.to_thread(load_crls, folder)
    policy = {str(kind): names for kind, names in settings.trust_policy.items()}
    kinds = [k for k in edxml.SIGNATURE_KINDS if name in policy.get(k, (name,))]
    return (
        f"{len(store.roots)} roots, {len(store.intermediates)} intermediates, "
        f"{len(crls)} CRLs; trusted for {', '.join(kinds) or 'no signature kind'}"
    )


async def _axis(axis: AxisSettings) -> str:
    async with AxisClient(axis.client_config(os.environ)) as client:
        waiting = await client.count_received()
    return f"{axis.base_url} as {axis.system_id}, {waiting} waiting for us"


async def _lgsp(platform: LgspSettings) -> str:
    async with LgspClient(platform.client_config(os.environ)) as client:
        waiting = await client.probe()
    who = f"{platform.base_url} as {platform.consumer_key}"
    return f"{who}, token granted, {waiting} waiting for us"


async def _soap_hub(hub: SoapHubSettings) -> str:
    async with SoapHubClient(hub.client_config(os.environ)) as client:
        waiting = await client.pending_document_ids()
    return f"{hub.endpoint} as {hub.organ_id}, {len(waiting)} waiting for us"


def _probes(settings: GatewaySettings) -> dict[str, Probe]:
    """Every part the settings configure, each with the probe that tries it."""
    probes: dict[str, Probe] = {"store": functools.partial(_store, settings)}
    if settings.broker_url:
        probes["broker"] = functools.partial(_broker, settings.broker_url, settings.broker_prefix)
    if settings.redis_url:
        probes["redis"] = functools.partial(_redis, settings.redis_url)
    for agency, key in settings.signing_keys.items():
        probes[f"key {agency}"] = functools.partial(_signing_key, key)
    for name, folder in settings.trust_folders.items():
        probes[f"trust {name}"] = functools.partial(_trust_set, settings, name, folder)
    if settings.axis is not None:
        probes["axis"] = functools.partial(_axis, settings.axis)
    for name, platform in settings.lgsp.items():
        probes[f"lgsp {name}"] = functools.partial(_lgsp, platform)
    for name, hub in settings.soap_hubs.items():
        probes[f"soap hub {name}"] = functools.partial(_soap_hub, hub)
    smtp = settings.alerts.smtp
    if smtp is not None:
        password = os.environ.get(smtp.password_env) if smtp.password_env else None
        probes["smtp"] = EmailSink(smtp, password).check
    return probes


async def check_config(settings: GatewaySettings) -> list[tuple[str, bool, str]]:
    """(part, ok, detail) for every configured part."""
    results = []
    for name, probe in _probes(settings).items():
        try:
            detail = await asyncio.wait_for(probe(), 15)
            results.append((name, True, detail))
        except Exception as exc:  # every failure is reported, none stops the others
            results.append((name, False, f"{type(exc).__name__}: {exc}"))
    return results
