"""Trust folders, CRLs and signing keys are read again on SIGHUP, without a restart; the reload
is logged and audited, and a reload that cannot read its files keeps the previous trust."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

import edxml
from adapters.store.schema import audit_log
from devtools.devca import DevPki, Issued, make_dev_pki
from gateway.config import GatewaySettings, SigningKeySettings
from gateway.runtime import Runtime
from tests.factories import document

OFFICE, VPCP = "000.00.01.H42", "000.00.00.G22"


@pytest.fixture(scope="module")
def renewed() -> DevPki:
    """The CA's next generation: a root the gateway does not trust yet."""
    return make_dev_pki(base_url="http://127.0.0.1:9")


def write_certificates(path: Path, *certificates: x509.Certificate) -> None:
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certificates))


def write_key(folder: Path, pki: DevPki, issued: Issued) -> SigningKeySettings:
    key, chain = folder / "key.pem", folder / "chain.pem"
    key.write_bytes(issued.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    write_certificates(chain, *pki.chain(issued))
    return SigningKeySettings(key=key, certificate=chain)


def settings_for(tmp_path: Path, pki: DevPki) -> GatewaySettings:
    bcy = tmp_path / "trust" / "bcy"
    bcy.mkdir(parents=True)
    write_certificates(bcy / "root.pem", pki.root.certificate, pki.intermediate.certificate)
    keys = tmp_path / "keys"
    keys.mkdir()
    return GatewaySettings(
        data_dir=tmp_path / "data",
        own_agencies=(VPCP,),
        trust_sets={"bcy": bcy},
        trust_policy={"package": ("bcy",)},
        inbound_signature_policy="reject",
        signing_keys={VPCP: write_key(keys, pki, pki.agencies[VPCP])},
    )


def signed(pki: DevPki, signer: Issued, number: str) -> bytes:
    package = document(
        code=edxml.Code(number=number, notation="UBND-VP"),
        document_id=f"{OFFICE},2026/11/25,{number}/UBND-VP",
    )
    return edxml.sign(edxml.build(package), signer.key, pki.chain(signer))


async def reloads(runtime: Runtime) -> list[tuple[str | None, str | None]]:
    async with runtime.store.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(audit_log.c.target, audit_log.c.detail)
            .where(audit_log.c.action == "trust.reload")
            .order_by(audit_log.c.id)
        )
        return [(row.target, row.detail) for row in rows]


async def hang_up(runtime: Runtime) -> tuple[str | None, str | None]:
    """Send ourselves SIGHUP and wait for the reload's audit row."""
    before = len(await reloads(runtime))
    os.kill(os.getpid(), signal.SIGHUP)
    for _ in range(100):
        found = await reloads(runtime)
        if len(found) > before:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError("SIGHUP did not reload the trust")


async def test_a_new_root_dropped_in_the_folder_is_trusted_after_sighup(
    tmp_path: Path, pki: DevPki, renewed: DevPki, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path, pki)
    async with Runtime(settings) as runtime:
        runtime.reload_on_hangup()
        before = await runtime.inbound.receive(
            signed(renewed, renewed.agencies[OFFICE], "06"), source="axis", remote_id="r1"
        )
        assert before.outcome == "rejected"
        assert any("trusted-chain: no chain" in reason for reason in before.reasons), before
        write_certificates(
            settings.trust_sets["bcy"] / "renewed.pem",
            renewed.root.certificate,
            renewed.intermediate.certificate,
        )
        with caplog.at_level(logging.INFO, logger="gateway.trust"):
            target, detail = await hang_up(runtime)
        assert target == "ok"
        assert detail is not None
        assert "bcy (2 roots, 2 intermediates, 0 CRLs)" in detail
        assert any("trust reloaded" in record.getMessage() for record in caplog.records)
        after = await runtime.inbound.receive(
            signed(renewed, renewed.agencies[OFFICE], "07"), source="axis", remote_id="r2"
        )
        assert (after.outcome, after.reasons) == ("accepted", ())


async def test_a_reload_that_cannot_read_a_file_keeps_the_trust_in_force(
    tmp_path: Path, pki: DevPki, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path, pki)
    async with Runtime(settings) as runtime:
        runtime.reload_on_hangup()
        in_force = runtime.inbound.trust
        (settings.trust_sets["bcy"] / "half-copied.pem").write_bytes(b"-----BEGIN CERTIFICATE")
        with caplog.at_level(logging.ERROR, logger="gateway.trust"):
            target, detail = await hang_up(runtime)
        assert target == "failed"
        assert detail is not None
        assert "half-copied.pem" in detail
        assert any("previous trust stays" in r.getMessage() for r in caplog.records)
        assert runtime.inbound.trust is in_force
        kept = await runtime.inbound.receive(
            signed(pki, pki.agencies[OFFICE], "08"), source="axis", remote_id="r3"
        )
        assert kept.outcome == "accepted"


async def test_a_renewed_signing_key_and_a_new_crl_take_effect_without_a_restart(
    tmp_path: Path, pki: DevPki
) -> None:
    settings = settings_for(tmp_path, pki)
    async with Runtime(settings) as runtime:
        runtime.reload_on_hangup()
        old = runtime.signers.identities[VPCP].chain[0]
        revoked = signed(pki, pki.revoked, "09")
        unchecked = edxml.verify(revoked, runtime.inbound.trust, revocation=None)
        assert unchecked.check("revocation").state is edxml.CheckState.UNKNOWN
        # The token or key file is replaced by its renewal; the CA's CRLs are published.
        write_key(tmp_path / "keys", pki, pki.signers["Trần Thị Bình"])
        for name, crl in pki.crls.items():
            (settings.trust_sets["bcy"] / f"{name}.crl").write_bytes(crl.public_bytes(Encoding.DER))
        target, detail = await hang_up(runtime)
        assert target == "ok"
        assert f"{len(pki.crls)} CRLs" in (detail or "")
        assert runtime.signers.identities[VPCP].chain[0] != old
        answer = edxml.verify(runtime.signers.sign(edxml.build(document()), VPCP), None)
        assert answer.signer is not None
        assert answer.signer.common_name == "Trần Thị Bình"
        refused = await runtime.inbound.receive(revoked, source="axis", remote_id="r4")
        assert refused.outcome == "rejected"
        assert any("revocation: " in r and "(CRL)" in r for r in refused.reasons), refused
