"""What the gateway trusts and signs with, loaded from files and reloaded without a restart.

Certificates expire and are renewed, CAs publish new CRLs, a token is swapped: the trust sets
(their certificates and CRLs), the trusted time-stamping authorities and the signing keys are
read again on ``SIGHUP``. A reload is all or nothing: if any file is unreadable the previous
material stays in force and the failure is logged and audited, so a half-copied folder never
narrows (or widens) what is trusted mid-flight.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import edxml
from adapters.errors import ConfigurationError
from adapters.store.store import Store
from edxml import Rfc3161Validator, SigningIdentity, load_crls, load_trust_store
from gateway.config import GatewaySettings
from gateway.inbound.pipeline import InboundPipeline
from gateway.signing import Signers

__all__ = ["TrustMaterial", "apply_trust", "load_trust_material", "reload_trust"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrustMaterial:
    """Everything read from trust folders and key files, in one consistent snapshot."""

    trust: edxml.TrustPolicy | None
    revocation: edxml.RevocationChecker | None
    timestamps: edxml.TimestampValidator | None
    keys: Mapping[str, SigningIdentity]
    #: Trust set name -> (roots, intermediates, CRLs), for the log and the audit trail
    counts: Mapping[str, tuple[int, int, int]]

    def summary(self) -> str:
        sets = ", ".join(
            f"{name} ({roots} roots, {intermediates} intermediates, {crls} CRLs)"
            for name, (roots, intermediates, crls) in self.counts.items()
        )
        keys = ", ".join(sorted(self.keys)) or "none"
        tsa = "yes" if self.timestamps is not None else "no"
        return f"trust sets: {sets or 'none'}; TSA trusted: {tsa}; signing keys: {keys}"


def load_trust_material(
    settings: GatewaySettings, environ: Mapping[str, str] | None = None
) -> TrustMaterial:
    """Read every trust folder, CRL and signing key the settings name
    (``ConfigurationError`` naming the first that cannot be read)."""
    stores: dict[str, edxml.TrustStore] = {}
    crls = []
    counts = {}
    for name, folder in settings.trust_folders.items():
        store = load_trust_store(folder)
        found = load_crls(folder)
        stores[name] = store
        crls += found
        counts[name] = (len(store.roots), len(store.intermediates), len(found))
    policy = (
        edxml.TrustPolicy(sets=stores, kinds={str(k): v for k, v in settings.trust_policy.items()})
        if stores
        else None
    )
    timestamps = (
        Rfc3161Validator(load_trust_store(settings.tsa_trust_dir))
        if settings.tsa_trust_dir is not None
        else None
    )
    keys = {organ: key.load(environ) for organ, key in settings.signing_keys.items()}
    return TrustMaterial(
        trust=policy,
        revocation=edxml.StaticRevocation(crls=tuple(crls)) if crls else None,
        timestamps=timestamps,
        keys=keys,
        counts=counts,
    )


def apply_trust(material: TrustMaterial, signers: Signers, inbound: InboundPipeline) -> None:
    """Put ``material`` in force: the objects every check and signature reads it from."""
    signers.identities = dict(material.keys)
    inbound.trust = material.trust
    inbound.revocation = material.revocation
    inbound.timestamps = material.timestamps


async def reload_trust(
    store: Store,
    settings: GatewaySettings,
    signers: Signers,
    inbound: InboundPipeline,
    environ: Mapping[str, str] | None = None,
) -> TrustMaterial | None:
    """Read the trust material again and put it in force; on failure keep the previous one.
    Either way the outcome is logged and audited (``trust.reload``)."""
    try:
        material = load_trust_material(settings, environ)
    except (ConfigurationError, edxml.KeyMaterialError) as exc:
        log.error("trust reload failed, the previous trust stays in force: %s", exc)
        await store.audit(None, "trust.reload", "failed", f"kept the previous trust: {exc}")
        return None
    apply_trust(material, signers, inbound)
    log.info("trust reloaded: %s", material.summary())
    await store.audit(None, "trust.reload", "ok", material.summary())
    return material
