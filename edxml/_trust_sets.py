"""Named trust sets, and which of them each kind of signature may chain to.

Vietnamese agencies meet two PKIs: the Government's specialised CA (Ban Cơ yếu Chính phủ,
Nghị định 68/2024), which certifies agencies and officials for official business, and the
public CAs licensed by NEAC (VNPT-CA, Viettel-CA...), which citizens and businesses use.
Whether a public-CA certificate may sign an administrative document is provincial policy, so
trust is not one pool: each set is named, and a policy says which sets a package signature,
an agency's seal on a PDF and a person's signature on a PDF may chain to. A certificate that
chains only to a set its kind may not use is told apart from one that chains to nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography import x509

from ._trust import (
    Check,
    CheckState,
    RevocationChecker,
    TrustStore,
    assess_certificate,
    describe_certificate,
)

__all__ = ["SIGNATURE_KINDS", "TrustPolicy", "assess_signer"]

#: What a trust policy distinguishes: the XMLDSig of an edXML package, and on a PDF the
#: issuing agency's seal and the competent person's signature (Nghị định 30 Điều 5).
SIGNATURE_KINDS = ("package", "agency", "person")


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    """Trust sets by name (e.g. ``bcy``, ``neac``) and, for each signature kind, the names
    of the sets it may chain to; a kind the policy does not name may use every set."""

    sets: Mapping[str, TrustStore]
    kinds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, names in self.kinds.items():
            if kind not in SIGNATURE_KINDS:
                raise ValueError(f"unknown signature kind {kind!r} (one of {SIGNATURE_KINDS})")
            for name in names:
                if name not in self.sets:
                    raise ValueError(f"signature kind {kind!r} names unknown trust set {name!r}")

    def names_for(self, kind: str) -> tuple[str, ...]:
        return self.kinds.get(kind, tuple(self.sets))

    def store_for(self, kind: str) -> TrustStore:
        """The union of the sets ``kind`` may chain to."""
        return _union(self.sets[name] for name in self.names_for(kind))

    @property
    def everything(self) -> TrustStore:
        return _union(self.sets.values())

    def set_of(self, root: x509.Certificate) -> str | None:
        for name, store in self.sets.items():
            if root in store.roots:
                return name
        return None


def _union(stores: Iterable[TrustStore]) -> TrustStore:
    roots: list[x509.Certificate] = []
    intermediates: list[x509.Certificate] = []
    for store in stores:
        roots += [c for c in store.roots if c not in roots]
        intermediates += [c for c in store.intermediates if c not in intermediates]
    return TrustStore(roots=tuple(roots), intermediates=tuple(intermediates))


def assess_signer(
    leaf: x509.Certificate,
    extra: Sequence[x509.Certificate],
    *,
    trust: TrustStore | TrustPolicy | None,
    kind: str,
    signing_time: dt.datetime,
    revocation: RevocationChecker,
) -> tuple[tuple[Check, ...], tuple[x509.Certificate, ...]]:
    """``assess_certificate`` under a trust policy: the chain must reach a set that ``kind``
    may use. ``kind`` "pdf" means the certificate's own kind (agency or person)."""
    if not isinstance(trust, TrustPolicy):
        return assess_certificate(
            leaf, extra, trust=trust, signing_time=signing_time, revocation=revocation
        )
    if kind == "pdf":
        kind = describe_certificate(leaf).kind
    allowed = trust.names_for(kind)
    checks, chain = assess_certificate(
        leaf,
        extra,
        trust=trust.store_for(kind),
        signing_time=signing_time,
        revocation=revocation,
    )
    if chain:
        name = trust.set_of(chain[-1])
        return _annotate(checks, f" (trust set {name!r})"), chain
    if set(allowed) == set(trust.sets):
        return checks, chain
    elsewhere, other_chain = assess_certificate(
        leaf, extra, trust=trust.everything, signing_time=signing_time, revocation=revocation
    )
    if not other_chain:
        return checks, chain
    name = trust.set_of(other_chain[-1])
    refused = Check(
        "trusted-chain",
        CheckState.FAIL,
        f"chains to trust set {name!r}, which {kind} signatures may not use "
        f"(allowed: {', '.join(allowed) or 'none'})",
    )
    return tuple(refused if c.name == "trusted-chain" else c for c in elsewhere), ()


def _annotate(checks: tuple[Check, ...], suffix: str) -> tuple[Check, ...]:
    return tuple(
        Check(c.name, c.state, c.detail + suffix) if c.name == "trusted-chain" else c
        for c in checks
    )
