"""API clients: a local QLVB instance, its key, and the agencies it may act for.

A key reads ``edk_<client id>.<secret>``. Only the SHA-256 of the secret is stored: the
secret has 256 random bits, so a slow password hash would add nothing, and the lookup by id
keeps the check to one row. A client may act for the OrganIds its patterns match
(``000.00.13.H42``, ``*.H42``); a revoked key is refused from the next request on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import edxml
from adapters.store.store import Store

__all__ = ["ApiClient", "authenticate", "create_client", "revoke_client"]

PREFIX = "edk_"


@dataclass(frozen=True, slots=True)
class ApiClient:
    id: str
    name: str
    agencies: tuple[str, ...]
    webhook_url: str | None = None

    def may_act_for(self, organ_id: str) -> bool:
        return edxml.matches_agency(organ_id, self.agencies)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_client(store: Store, name: str, agencies: list[str]) -> tuple[ApiClient, str]:
    """A new client and its key (shown once: only its hash is kept)."""
    client_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    await store.add_client(client_id, name, _hash(secret), agencies)
    return ApiClient(client_id, name, tuple(agencies)), f"{PREFIX}{client_id}.{secret}"


async def authenticate(store: Store, key: str) -> ApiClient | None:
    if not key.startswith(PREFIX) or "." not in key:
        return None
    client_id, _, secret = key[len(PREFIX) :].partition(".")
    record = await store.client(client_id)
    if record is None or record.revoked:
        return None
    if not hmac.compare_digest(record.key_hash, _hash(secret)):
        return None
    return ApiClient(record.id, record.name, record.agencies, record.webhook_url)


async def revoke_client(store: Store, client_id: str) -> bool:
    return await store.revoke_client(client_id)
