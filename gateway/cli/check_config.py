"""`edxml-gateway check-config`: the settings are valid, and each connection answers.

Each part is tried on its own and reported on one line — the store (and its migration
level), the broker, Redis, every signing key, each trust set, the axis (an
authenticated ``countReceiveEdoc``) and the alerts' SMTP server (a login, nothing sent) —
so a wrong password or an unreachable host is named before the gateway is started.
Secrets never appear in the report.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from redis import asyncio as aioredis

import edxml
from adapters.axis.client import AxisClient
from adapters.broker.amqp import AmqpBroker, AmqpSettings
from adapters.errors import ConfigurationError
from adapters.pkcs11 import TokenEcKey, TokenRsaKey, token_status
from adapters.store.engine import create_engine
from edxml import load_crls, load_trust_store
from gateway.config import GatewaySettings, SigningKeySettings
from gateway.operate.alerts import EmailSink

__all__ = ["check_config"]

Probe = Callable[[], Awaitable[str]]


def _safe(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


async def check_config(settings: GatewaySettings) -> list[tuple[str, bool, str]]:
    """(part, ok, detail) for every configured part."""
    probes: dict[str, Probe] = {}

    async def store() -> str:
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

    probes["store"] = store
    if settings.broker_url:
        broker_url = settings.broker_url

        async def broker() -> str:
            async with AmqpBroker(
                AmqpSettings(url=broker_url, prefix=settings.broker_prefix)
            ) as opened:
                depth = await opened.depth()
            return f"{_safe(broker_url)}, {depth['deliveries']} waiting"

        probes["broker"] = broker
    if settings.redis_url:
        redis_url = settings.redis_url

        async def redis() -> str:
            client = aioredis.from_url(redis_url, socket_connect_timeout=5)
            try:
                await client.ping()  # type: ignore[misc]
            finally:
                await client.aclose()
            return _safe(redis_url)

        probes["redis"] = redis
    for agency, key in settings.signing_keys.items():

        async def signing(key: SigningKeySettings = key) -> str:
            identity = await asyncio.to_thread(key.load)
            certificate = identity.chain[0]
            subject = certificate.subject.rfc4514_string()
            where = ""
            if isinstance(identity.key, TokenRsaKey | TokenEcKey):
                status = await asyncio.to_thread(token_status, identity.key, certificate)
                if not status.key_found:
                    raise ConfigurationError(
                        f"token {status.token!r}: key {status.label!r} does not sign"
                    )
                where = f" (token {status.token!r}, logged in, key {status.label!r} signs)"
            return f"{subject}, until {certificate.not_valid_after_utc:%Y-%m-%d}{where}"

        probes[f"key {agency}"] = signing
    for name, folder in settings.trust_folders.items():

        async def trust(folder: Path = folder, name: str = name) -> str:
            store = await asyncio.to_thread(load_trust_store, folder)
            crls = await asyncio.to_thread(load_crls, folder)
            policy = {str(kind): names for kind, names in settings.trust_policy.items()}
            kinds = [k for k in edxml.SIGNATURE_KINDS if name in policy.get(k, (name,))]
            return (
                f"{len(store.roots)} roots, {len(store.intermediates)} intermediates, "
                f"{len(crls)} CRLs; trusted for {', '.join(kinds) or 'no signature kind'}"
            )

        probes[f"trust {name}"] = trust
    if settings.axis is not None:
        axis_settings = settings.axis

        async def axis() -> str:
            async with AxisClient(axis_settings.client_config(os.environ)) as client:
                waiting = await client.count_received()
            return (
                f"{axis_settings.base_url} as {axis_settings.system_id}, {waiting} waiting for us"
            )

        probes["axis"] = axis
    smtp_settings = settings.alerts.smtp
    if smtp_settings is not None:
        password_env = smtp_settings.password_env
        sink = EmailSink(smtp_settings, os.environ.get(password_env) if password_env else None)
        probes["smtp"] = sink.check
    results = []
    for name, probe in probes.items():
        try:
            detail = await asyncio.wait_for(probe(), 15)
            results.append((name, True, detail))
        except Exception as exc:  # every failure is reported, none stops the others
            results.append((name, False, f"{type(exc).__name__}: {exc}"))
    return results
