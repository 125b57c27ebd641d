"""Assessing a signer's certificate: chain to a trusted root, validity at the time judged,
revocation, key usage, each a check of its own."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from ._certificates import VIETNAM, Check, CheckState, TrustStore, describe_certificate
from ._revocation import RevocationChecker, RevocationState

__all__ = [
    "assess_certificate",
]


# -- assessing a signer's certificate ------------------------------------------------------


def _verifier(trust: TrustStore, at: dt.datetime) -> object:
    return (
        PolicyBuilder()
        .store(Store(list(trust.roots)))
        .time(at)
        .extension_policies(
            ee_policy=ExtensionPolicy.permit_all(),
            ca_policy=ExtensionPolicy.permit_all().require_present(
                x509.BasicConstraints, Criticality.AGNOSTIC, None
            ),
        )
        .build_client_verifier()
    )


def _build_chain(
    leaf: x509.Certificate, extra: Sequence[x509.Certificate], trust: TrustStore, at: dt.datetime
) -> tuple[x509.Certificate, ...]:
    verifier = _verifier(trust, at)
    result = verifier.verify(leaf, [*extra, *trust.intermediates])  # type: ignore[attr-defined]
    return tuple(result.chain)


def _inside(certificate: x509.Certificate) -> tuple[dt.datetime, ...]:
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    margin = min(dt.timedelta(minutes=1), (end - start) / 4)
    return (start + (end - start) / 2, end - margin, start + margin)


def _key_usage(leaf: x509.Certificate) -> Check:
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return Check("key-usage", CheckState.FAIL, "the certificate has no KeyUsage extension")
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.ca:
            return Check("key-usage", CheckState.FAIL, "a CA certificate signed the document")
    except x509.ExtensionNotFound:
        pass
    if usage.digital_signature or usage.content_commitment:
        allowed = [
            n
            for n, on in (
                ("digitalSignature", usage.digital_signature),
                ("nonRepudiation", usage.content_commitment),
            )
            if on
        ]
        return Check(
            "key-usage", CheckState.PASS, f"KeyUsage allows signing ({', '.join(allowed)})"
        )
    return Check(
        "key-usage", CheckState.FAIL, "KeyUsage allows neither digitalSignature nor nonRepudiation"
    )


def assess_certificate(
    leaf: x509.Certificate,
    extra: Sequence[x509.Certificate],
    *,
    trust: TrustStore | None,
    signing_time: dt.datetime,
    revocation: RevocationChecker,
) -> tuple[tuple[Check, ...], tuple[x509.Certificate, ...]]:
    """The trust checks of one signer certificate, and the chain found (leaf first)."""
    checks = []
    chain: tuple[x509.Certificate, ...] = ()
    if trust is None or not trust.roots:
        checks.append(Check("trusted-chain", CheckState.FAIL, "no trusted roots are configured"))
    else:
        try:
            chain = _build_chain(leaf, extra, trust, signing_time)
        except VerificationError as exc:
            # Outside its validity the verifier refuses any chain; look again at times the
            # certificate was valid, so "untrusted" and "expired" are told apart.
            failure = exc
            for moment in _inside(leaf):
                try:
                    chain = _build_chain(leaf, extra, trust, moment)
                    break
                except VerificationError as again:
                    failure = again
            else:
                checks.append(
                    Check(
                        "trusted-chain", CheckState.FAIL, f"no chain to a trusted root ({failure})"
                    )
                )
        if chain:
            root = describe_certificate(chain[-1]).common_name
            checks.append(
                Check("trusted-chain", CheckState.PASS, f"{len(chain)} certificates up to {root!r}")
            )
    window = f"{leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d}"
    when = f"{signing_time.astimezone(VIETNAM):%Y-%m-%d %H:%M:%S%z}"
    if leaf.not_valid_before_utc <= signing_time <= leaf.not_valid_after_utc:
        checks.append(
            Check("validity-period", CheckState.PASS, f"valid {window}, judged at {when}")
        )
    else:
        checks.append(
            Check("validity-period", CheckState.FAIL, f"valid only {window}, judged at {when}")
        )
    checks.append(_revocation(chain or (leaf,), extra, trust, revocation))
    checks.append(_key_usage(leaf))
    return tuple(checks), chain


def _revocation(
    chain: Sequence[x509.Certificate],
    extra: Sequence[x509.Certificate],
    trust: TrustStore | None,
    revocation: RevocationChecker,
) -> Check:
    """Every certificate below the root; the worst answer wins (revoked > unknown > good)."""
    if len(chain) < 2:
        issuers = [
            c
            for c in [
                *extra,
                *(trust.intermediates if trust else ()),
                *(trust.roots if trust else ()),
            ]
            if c.subject == chain[0].issuer
        ]
        if not issuers:
            return Check(
                "revocation",
                CheckState.UNKNOWN,
                "the issuer is unknown, so revocation cannot be checked",
            )
        pairs = [(chain[0], issuers[0])]
    else:
        pairs = list(itertools.pairwise(chain))
    statuses = [(cert, revocation.status(cert, issuer)) for cert, issuer in pairs]
    for wanted, state in (
        (RevocationState.REVOKED, CheckState.FAIL),
        (RevocationState.UNKNOWN, CheckState.UNKNOWN),
    ):
        for cert, status in statuses:
            if status.state == wanted:
                name = describe_certificate(cert).common_name  # named only when it is news
                return Check("revocation", state, f"{name}: {status.detail} [{status.source}]")
    sources = sorted({status.source for _, status in statuses})
    return Check("revocation", CheckState.PASS, f"not revoked ({', '.join(sources)})")
