"""The signer is the sender (Điều 5.2; Nghị định 30 Điều 5): a received package must be
signed by the sending agency's own certificate, and a PDF's seal by its issuer's.

Before, any trusted certificate passed — a person's from another province included."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import sqlalchemy as sa
import yaml

import edxml
from adapters.blobs import BlobStore
from adapters.store.schema import messages
from adapters.store.store import Store
from devtools.devca import DevPki, Issued
from edxml import SigningIdentity
from edxml.pdf import sign_pdf
from gateway.delivery.routing import RoutingTable
from gateway.inbound.identities import identities_of, set_identities
from gateway.inbound.pipeline import InboundPipeline
from gateway.signing import Signers
from tests.factories import PDF, document

OFFICE, VPCP = "000.00.01.H42", "000.00.00.G22"
ROOT = Path(__file__).resolve().parents[2]
#: The dev CA writes an agency's OrganId in its certificate's OU.
OFFICE_IDENTITIES = {OFFICE: ("OU=000.00.01.H42",)}


def _pipeline(
    store: Store, tmp_path: Path, pki: DevPki, policy: str, identities: dict[str, tuple[str, ...]]
) -> InboundPipeline:
    issued = pki.agencies[VPCP]
    return InboundPipeline(
        store,
        BlobStore(tmp_path / "blobs"),
        RoutingTable(),
        (VPCP,),
        signers=Signers({VPCP: SigningIdentity(issued.key, tuple(pki.chain(issued)))}),
        trust=edxml.TrustStore(roots=(pki.root.certificate,)),
        policy=edxml.VerifyPolicy(on_failure="reject"),
        identities=identities,
        signer_policy=policy,  # type: ignore[arg-type]
    )


def _signed_by(pki: DevPki, signer: Issued, package: edxml.DocumentPackage | None = None) -> bytes:
    return edxml.sign(edxml.build(package or document()), signer.key, pki.chain(signer))


async def _signature_checks(store: Store, message_id: str | None) -> dict[str, object]:
    async with store.engine.connect() as connection:
        raw = await connection.scalar(
            sa.select(messages.c.checks).where(messages.c.id == message_id)
        )
    return dict(json.loads(raw))


async def test_a_package_signed_by_another_agency_or_a_person_is_refused(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    pipeline = _pipeline(store, tmp_path, pki, "reject", OFFICE_IDENTITIES)
    own = await pipeline.receive(
        _signed_by(pki, pki.agencies[OFFICE]), source="axis", remote_id="r1"
    )
    assert (own.outcome, own.reasons) == ("accepted", ())
    checks = await _signature_checks(store, own.message_id)
    assert checks["signature"]["signer_bound"] is True  # type: ignore[index]
    other = document(
        code=edxml.Code(number="06", notation="UBND-VP"),
        document_id="000.00.01.H42,2026/11/25,06/UBND-VP",
    )
    foreign = await pipeline.receive(
        _signed_by(pki, pki.agencies[VPCP], other), source="axis", remote_id="r2"
    )
    assert foreign.outcome == "rejected"
    assert any(r.startswith("signer: the signer") for r in foreign.reasons)
    third = document(
        code=edxml.Code(number="07", notation="UBND-VP"),
        document_id="000.00.01.H42,2026/11/25,07/UBND-VP",
    )
    person = await pipeline.receive(
        _signed_by(pki, pki.signers["Trần Thị Bình"], third), source="axis", remote_id="r3"
    )
    assert person.outcome == "rejected"


async def test_under_flag_it_is_accepted_with_the_finding_and_unknown_agencies_are_said_so(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    flagging = _pipeline(store, tmp_path, pki, "flag", OFFICE_IDENTITIES)
    result = await flagging.receive(
        _signed_by(pki, pki.agencies[VPCP]), source="axis", remote_id="r1"
    )
    assert result.outcome == "accepted"
    checks = await _signature_checks(store, result.message_id)
    assert checks["signature"]["signer_bound"] is False  # type: ignore[index]
    assert any(str(w).startswith("signer:") for w in checks["warnings"])  # type: ignore[union-attr]
    unknown = _pipeline(store, tmp_path, pki, "reject", {})
    other = document(
        code=edxml.Code(number="06", notation="UBND-VP"),
        document_id="000.00.01.H42,2026/11/25,06/UBND-VP",
    )
    nobody = await unknown.receive(
        _signed_by(pki, pki.agencies[OFFICE], other), source="axis", remote_id="r2"
    )
    assert nobody.outcome == "accepted"  # nothing is known to bind to: reported, not refused
    checks = await _signature_checks(store, nobody.message_id)
    assert checks["signature"]["signer_bound"] is None  # type: ignore[index]
    assert "no certificate identity is recorded" in checks["signature"]["signer_binding"]  # type: ignore[index]


async def test_a_pdf_sealed_by_another_agency_has_no_legal_value(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    def identity(issued: Issued) -> SigningIdentity:
        return SigningIdentity(issued.key, tuple(pki.chain(issued)))

    person = await sign_pdf(
        PDF, identity(pki.signers["Nguyễn Văn An"]), field_name="SignerSignature"
    )
    sealed_by_office = await sign_pdf(person, identity(pki.agencies[OFFICE]))
    sealed_by_vpcp = await sign_pdf(person, identity(pki.agencies[VPCP]))
    pipeline = _pipeline(store, tmp_path, pki, "flag", OFFICE_IDENTITIES)
    found = {}
    for number, pdf in (("08", sealed_by_office), ("09", sealed_by_vpcp)):
        attachment = edxml.Attachment(content_id="cv", name="van_ban.pdf", data=pdf)
        package = document(
            attachments=(attachment,),
            code=edxml.Code(number=number, notation="UBND-VP"),
            document_id=f"000.00.01.H42,2026/11/25,{number}/UBND-VP",
        )
        result = await pipeline.receive(
            _signed_by(pki, pki.agencies[OFFICE], package), source="axis", remote_id=number
        )
        found[number] = (await _signature_checks(store, result.message_id))["pdf_signatures"]
    assert found["08"]["van_ban.pdf"]["legal_value"] is True  # type: ignore[index]
    assert found["09"]["van_ban.pdf"]["legal_value"] is False  # type: ignore[index]
    assert "not the issuing agency's" in found["09"]["van_ban.pdf"]["legal_value_problems"][0]  # type: ignore[index]


async def test_identities_are_recorded_in_the_directory_from_the_command_line(
    store: Store, tmp_path: Path
) -> None:
    await set_identities(store, VPCP, ["UID=MNS:1234567"])
    assert await identities_of(store, VPCP, {VPCP: ("CN=Văn phòng Chính phủ",)}) == (
        "CN=Văn phòng Chính phủ",
        "UID=MNS:1234567",
    )
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {"data_dir": str(tmp_path / "data"), "log_level": "ERROR", "signature_required": False}
        )
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "directory", "identity", VPCP, "UID=MNS:7654321",
        "--config", str(config), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()
    assert f"{VPCP}: UID=MNS:7654321" in output.decode()
