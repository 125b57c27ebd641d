"""Real traffic at the inbound door: the quirks real senders emit are warnings on an accepted
document, and a document of the Government Office — which also runs the axis — verifies."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa

import edxml
from adapters.blobs import BlobStore
from adapters.store.schema import messages
from adapters.store.store import Store
from devtools.devca import DevPki
from edxml import SigningIdentity
from gateway.delivery.routing import RoutingTable
from gateway.inbound.pipeline import InboundPipeline
from gateway.signing import Signers
from tests.factories import document, organization, sample

OFFICE, VPCP = "000.00.01.H42", "000.00.00.G22"


def _pipeline(store: Store, tmp_path: Path, pki: DevPki, ours: str, policy: str) -> InboundPipeline:
    keys = {
        organ: SigningIdentity(issued.key, tuple(pki.chain(issued)))
        for organ, issued in pki.agencies.items()
    }
    return InboundPipeline(
        store,
        BlobStore(tmp_path / "blobs"),
        RoutingTable(),
        (ours,),
        signers=Signers(keys),
        trust=edxml.TrustStore(roots=(pki.root.certificate,)),
        policy=edxml.VerifyPolicy(on_failure=policy),  # type: ignore[arg-type]
    )


async def _checks(store: Store, message_id: str | None) -> dict[str, object]:
    async with store.engine.connect() as connection:
        raw = await connection.scalar(
            sa.select(messages.c.checks).where(messages.c.id == message_id)
        )
    return dict(json.loads(raw))


async def test_a_real_package_with_its_quirks_is_accepted_with_warnings(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    """The published sample as real senders emit it — junk before <?xml, a number like
    74fass22, a recipient id of the old form, a due date before the promulgation — is
    accepted with warnings and answered 01. Before, any finding was a 02 rejection."""
    pipeline = _pipeline(store, tmp_path, pki, VPCP, "flag")
    # addressed to one of ours (the sample's own recipient is not a valid agency id to answer
    # from); every other quirk of the published file is kept
    real = sample("edoc_new_junk_prefix.edxml").replace(b"28.22.H17", VPCP.encode())
    result = await pipeline.receive(real, source="axis", remote_id="r1")
    assert (result.outcome, result.reasons) == ("accepted", ())
    checks = await _checks(store, result.message_id)
    warned = {str(w).split(":", 1)[0] for w in checks["warnings"]}  # type: ignore[union-attr]
    assert {"xml.leading-junk", "code-number", "date.order"} <= warned
    async with store.engine.connect() as connection:
        codes = list(
            (
                await connection.execute(
                    sa.select(messages.c.status_code).where(messages.c.direction == "out")
                )
            ).scalars()
        )
    assert codes == ["01"]


async def test_a_signed_package_behind_junk_passes_a_strict_signature_policy(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    pipeline = _pipeline(store, tmp_path, pki, VPCP, "reject")
    issued = pki.agencies[OFFICE]
    signed = edxml.sign(edxml.build(document()), issued.key, pki.chain(issued))
    result = await pipeline.receive(b"1212" + signed, source="axis", remote_id="r1")
    assert result.outcome == "accepted", result.reasons


async def test_an_unreadable_attachment_still_earns_a_02(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    pipeline = _pipeline(store, tmp_path, pki, VPCP, "flag")
    wire = edxml.build(document())
    start = wire.index(b">", wire.index(b"ContentTransferEncoded")) + 1
    end = wire.index(b"</", start)
    broken = wire[: start + 200] + wire[end:]  # the ZIP cut short: the file is not all there
    result = await pipeline.receive(broken, source="axis", remote_id="r1")
    assert result.outcome == "rejected"
    assert any(reason.startswith("attachment.payload") for reason in result.reasons)


async def test_a_document_of_the_government_office_relayed_by_its_axis_verifies(
    store: Store, tmp_path: Path, pki: DevPki
) -> None:
    """The axis (run by 000.00.00.G22) appends its TraceHeader with the code G22, which is
    also the sender's. Before, a hub trace whose organ is the sender was never taken off,
    so a genuine document looked tampered with; now what the hub added is found by what
    the signature covers."""
    pipeline = _pipeline(store, tmp_path, pki, OFFICE, "reject")
    issued = pki.agencies[VPCP]
    package = document(
        sender=organization(VPCP, organ_name="Văn phòng Chính phủ"),
        recipients=(organization(OFFICE),),
        document_id="000.00.00.G22,2026/11/25,120/VPCP-KGVX",
        code=edxml.Code(number="120", notation="VPCP-KGVX"),
        trace_headers=(edxml.TraceHeader(organ_id=VPCP, timestamp=dt.datetime(2026, 11, 25, 9)),),
    )
    signed = edxml.sign(edxml.build(package), issued.key, pki.chain(issued))
    relayed = edxml.append_trace_header(signed, VPCP, dt.datetime(2026, 11, 25, 9, 5))
    result = await pipeline.receive(relayed, source="axis", remote_id="r1")
    assert (result.outcome, result.reasons) == ("accepted", ())
    signature = (await _checks(store, result.message_id))["signature"]
    assert signature["valid"] is True  # type: ignore[index]
    assert signature["hub_trace_removed"] == VPCP  # type: ignore[index]
    # a real tampering is still one: the hub trace taken off does not make it verify
    tampered = relayed.replace("triển khai".encode(), "TRIỂN KHAI".encode(), 1)
    again = await pipeline.receive(tampered, source="axis", remote_id="r2")
    assert again.outcome == "rejected"
