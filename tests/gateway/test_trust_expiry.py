"""Trust material that runs out is told before its day: a trusted root near its end, a CRL
whose next update comes (alerts of kind trust_anchor and crl, from what is in force)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import edxml
from devtools.devca import DevPki
from gateway.config import GatewaySettings
from gateway.operate.alerts import describe
from gateway.operate.trust_expiry import operational_alerts


def test_a_root_near_its_end_and_a_crl_due_for_update_are_alerts(
    pki: DevPki, tmp_path: Path
) -> None:
    trust = edxml.TrustStore(roots=(pki.root.certificate,))
    revocation = edxml.StaticRevocation(crls=tuple(pki.crls.values()))
    settings = GatewaySettings(data_dir=tmp_path, signature_required=False)
    today = dt.datetime.now(dt.UTC)
    assert operational_alerts(settings, trust, revocation, today) == []
    root_ends = pki.root.certificate.not_valid_after_utc
    late = root_ends - dt.timedelta(days=10)
    kinds = {alert.kind for alert in operational_alerts(settings, trust, revocation, late)}
    assert kinds == {"trust_anchor", "crl"}  # by then the CRLs are long due too
    (anchor,) = operational_alerts(settings, trust, None, late)
    assert anchor.params["days"] in (9, 10)
    assert describe("trust_anchor", anchor.params, "vi").startswith("Chứng thư tin cậy")
    crl_due = min(crl.next_update_utc for crl in pki.crls.values() if crl.next_update_utc)
    soon = crl_due - dt.timedelta(hours=12)
    due = [a for a in operational_alerts(settings, trust, revocation, soon) if a.kind == "crl"]
    assert due
    assert "SIGHUP" in describe("crl", due[0].params, "en")
