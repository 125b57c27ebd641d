"""The alerts of what the store does not hold: the backups (Điều 18.2), and trust material
that runs out — a trusted root or intermediate near the end of its validity, a CRL whose next
update has passed or comes within a day. Either would, on its day, make every inbound
signature fail or every revocation answer "unknown"; an alert before that day lets an
operator put the new files in the trust folder and send ``SIGHUP``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cryptography import x509

import edxml
from gateway.config import GatewaySettings
from gateway.operate.alerts import Alert
from gateway.operate.backup_checks import backup_problem

__all__ = ["expiring_trust", "operational_alerts"]

#: A CRL is stale once its next update has passed; it is said a day before
CRL_NOTICE = dt.timedelta(days=1)


def _name(certificate: x509.Certificate) -> str:
    found = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(found[0].value) if found else certificate.subject.rfc4514_string()


def _certificates(
    trust: edxml.TrustPolicy | edxml.TrustStore | None,
) -> Iterable[x509.Certificate]:
    stores = trust.sets.values() if isinstance(trust, edxml.TrustPolicy) else [trust]
    for store in stores:
        if store is not None:
            yield from (*store.roots, *store.intermediates)


def expiring_trust(
    trust: edxml.TrustPolicy | edxml.TrustStore | None,
    revocation: object,
    now: dt.datetime,
    days: int,
) -> list[dict[str, str | int]]:
    """What runs out: (kind ``anchor`` or ``crl``, name, when, days left), soonest first."""
    found: list[dict[str, str | int]] = []
    for certificate in _certificates(trust):
        ends = certificate.not_valid_after_utc
        if ends - now <= dt.timedelta(days=days):
            found.append(
                {"what": "anchor", "name": _name(certificate), "when": ends.date().isoformat(),
                 "days": (ends - now).days}
            )  # fmt: skip
    for crl in getattr(revocation, "crls", ()):
        update = crl.next_update_utc
        if update is not None and update - now <= CRL_NOTICE:
            issuer = crl.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
            name = str(issuer[0].value) if issuer else crl.issuer.rfc4514_string()
            found.append(
                {"what": "crl", "name": name, "when": update.isoformat(timespec="minutes"),
                 "days": (update - now).days}
            )  # fmt: skip
    return sorted(found, key=lambda item: str(item["when"]))


def operational_alerts(
    settings: GatewaySettings,
    trust: edxml.TrustPolicy | edxml.TrustStore | None,
    revocation: object,
    now: dt.datetime,
) -> list[Alert]:
    """The alerts the store does not hold: a missing or failed backup (Điều 18.2), and
    trust anchors or CRLs in force that run out soon."""
    found = []
    problem = backup_problem(settings, now)
    if problem:
        found.append(Alert("backup", "backup", {"problem": problem}))
    for item in expiring_trust(trust, revocation, now, settings.alerts.certificate_days):
        key = f"trust:{item['what']}:{item['name']}"
        if item["what"] == "anchor":
            found.append(Alert(key, "trust_anchor", item))
        else:
            found.append(Alert(key, "crl", item))
    return found
