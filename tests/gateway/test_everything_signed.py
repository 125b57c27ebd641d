"""Everything that leaves is signed (Điều 5.2): every kind of outgoing package, as stored and
as transmitted, checked by an independent verifier (xmlsec1).

Before, recall, update and replace packages and every status 13 were built unsigned, and
the VDXP facade relayed unsigned packages although ``signature_required`` was on.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from cryptography.hazmat.primitives.serialization import Encoding

import edxml
from adapters.axis.auth import vietnam_now
from adapters.axis.client import AxisClient, AxisConfig
from adapters.store.schema import messages
from devtools.axis_simulator import AxisSimulator
from devtools.devca import DevPki
from edxml.pdf import verify_pdf
from gateway.http.api.app import PREFIX
from tests.factories import document, organization

from .harness import Gateway, _key, _record

OFFICE, VPCP = "000.00.01.H42", "000.00.00.G22"


def _xmlsec1_verifies(path: Path, roots: Path) -> bool:
    done = subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--trusted-pem",
            str(roots),
            "--enabled-reference-uris",
            "empty",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


async def _stored(gateway: Gateway) -> list[tuple[str, str, bytes]]:
    """(kind, code or business type, package) of every outgoing message."""
    async with gateway.store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(
                    messages.c.message_type,
                    messages.c.status_code,
                    messages.c.business_type,
                    messages.c.package_ref,
                ).where(messages.c.direction == "out")
            )
        ).all()
    return [
        (
            row.message_type,
            row.status_code or f"type {row.business_type}",
            gateway.blobs.get(row.package_ref),
        )
        for row in rows
    ]


async def test_every_kind_of_outgoing_package_is_signed_stored_and_sent(
    gateways: tuple[Gateway, Gateway], simulator: AxisSimulator, pki: DevPki, tmp_path: Path
) -> None:
    a, b = gateways
    auth_a, auth_b = await _key(a, ["*.H42"]), await _key(b, [VPCP])
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{a.url}{PREFIX}/documents", json=_record(), headers=auth_a) as r:
            assert r.status == 202, await r.text()
            sent = await r.json()
        await a.deliver()
        await b.poll()  # B answers 01 by itself
        async with http.get(f"{b.url}{PREFIX}/inbox", headers=auth_b) as r:
            (item,) = (await r.json())["items"]
        async with http.post(
            f"{b.url}{PREFIX}/inbox/{item['id']}/status",
            json={"status_code": "03", "description": "Đã vào sổ"},
            headers=auth_b,
        ) as r:
            assert r.status == 202, await r.text()
        document_url = f"{a.url}{PREFIX}/documents/{sent['id']}"
        async with http.post(
            f"{document_url}/update",
            json={"reason": "Sửa hạn", "changes": {"due_date": "2026-12-20"}},
            headers=auth_a,
        ) as r:
            assert r.status == 202, await r.text()
        replacement = _record(subject="V/v triển khai kết nối (thay thế)")
        async with http.post(
            f"{document_url}/replace",
            json={"reason": "Thay thế", "record": replacement},
            headers=auth_a,
        ) as r:
            assert r.status == 202, await r.text()
        async with http.post(
            f"{document_url}/recall", json={"reason": "Ban hành nhầm"}, headers=auth_a
        ) as r:
            assert r.status == 202, await r.text()
    # a QLVB on the SDK hands B's facade an unsigned package: it leaves signed as G22
    unsigned = edxml.build(
        document(
            sender=organization(VPCP, organ_name="Văn phòng Chính phủ"),
            recipients=(organization(OFFICE),),
            code=edxml.Code(number="99", notation="VPCP-TTĐT"),
            document_id="000.00.00.G22,2026/11/25,99/VPCP-TTĐT",
            promulgation=edxml.PromulgationInfo(place="Hà Nội", date=dt.date(2026, 11, 25)),
        )
    )
    facade = AxisConfig(base_url=f"{b.url}/vdxp", system_id="qlvb-vp", secret="facade-secret")
    async with AxisClient(facade, clock=vietnam_now) as sdk:
        await sdk.send_edoc(unsigned, sender=VPCP)
    await a.deliver()
    await b.deliver()

    roots = tmp_path / "root.pem"
    roots.write_bytes(pki.root.certificate.public_bytes(Encoding.PEM))
    stored = await _stored(a) + await _stored(b)
    kinds = {(kind, what) for kind, what, _ in stored}
    assert {
        ("edoc", "type 0"),
        ("edoc", "type 1"),
        ("edoc", "type 2"),
        ("edoc", "type 3"),
        ("status", "01"),
        ("status", "03"),
        ("status", "13"),
    } <= kinds
    unsigned_ones = []
    for index, (kind, what, package) in enumerate(stored):
        path = tmp_path / f"stored-{index}.edxml"
        path.write_bytes(package)
        if not _xmlsec1_verifies(path, roots):
            unsigned_ones.append(("stored", kind, what))
    for index, relayed in enumerate(simulator.hub._sent.values()):
        # what we transmitted: the hub's own TraceHeader taken off (its exact inverse)
        transmitted = edxml.remove_trace_header(relayed.package, "000.00.00.G22")
        path = tmp_path / f"sent-{index}.edxml"
        path.write_bytes(transmitted or relayed.package)
        if not _xmlsec1_verifies(path, roots):
            unsigned_ones.append(("transmitted", relayed.message_type, relayed.notation))
    assert unsigned_ones == []
    assert len(simulator.hub._sent) >= len(stored)  # everything stored was also sent


async def test_an_unsigned_pdf_is_sealed_as_the_agency_with_the_stamp(
    gateways: tuple[Gateway, Gateway], pki: DevPki
) -> None:
    """``seal_unsigned_pdfs``: a QLVB that sends its PDF unsigned gets it signed as the
    agency, with the Phụ lục I stamp, instead of a refusal under pdf_signature_policy."""
    a, _ = gateways
    assert a.context is not None
    a.context.pdf_policy = "present"
    auth = await _key(a, ["*.H42"])
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{a.url}{PREFIX}/documents", json=_record(), headers=auth) as r:
            assert r.status == 422  # unsigned, and not sealed: refused as before
        a.context.seal_unsigned_pdfs = True
        async with http.post(f"{a.url}{PREFIX}/documents", json=_record(), headers=auth) as r:
            assert r.status == 202, await r.text()
            sent = await r.json()
    view = await a.store.message(sent["id"], events=False)
    assert view is not None
    package = edxml.parse(a.blobs.get(view.package_ref))
    assert isinstance(package, edxml.DocumentPackage)
    pdf = package.attachments[0].data
    assert pdf is not None
    report = await verify_pdf(
        pdf,
        trust=edxml.TrustStore(roots=(pki.root.certificate,)),
        issuer_identities=("OU=000.00.01.H42",),
    )
    assert report.agency_signed
    assert report.signatures[0].signer is not None
    assert report.signatures[0].signer.common_name == "Văn phòng UBND tỉnh Ninh Bình"


async def test_what_we_build_is_signed_without_being_parsed_again(
    gateways: tuple[Gateway, Gateway], pki: DevPki, tmp_path: Path, monkeypatch: Any
) -> None:
    """A document from the API, and the recall and status 13 we make for it: each signature
    is placed from what the build learnt (``edxml.SignableBuild``), and what is stored
    verifies independently."""
    a, _ = gateways
    slots: list[edxml.SignatureSlot | None] = []
    real = edxml.iter_sign

    def watched(package: bytes, *args: Any, **kwargs: Any) -> Any:
        slots.append(kwargs.get("slot"))
        return real(package, *args, **kwargs)

    monkeypatch.setattr(edxml, "iter_sign", watched)
    auth = await _key(a, ["*.H42"])
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{a.url}{PREFIX}/documents", json=_record(), headers=auth) as r:
            assert r.status == 202, await r.text()
            sent = await r.json()
        await a.deliver()
        async with http.post(
            f"{a.url}{PREFIX}/documents/{sent['id']}/recall",
            json={"reason": "Ban hành nhầm"},
            headers=auth,
        ) as r:
            assert r.status == 202, await r.text()
    assert len(slots) == 3  # the document, its recall, the status 13 to its recipient
    assert None not in slots
    roots = tmp_path / "root.pem"
    roots.write_bytes(pki.root.certificate.public_bytes(Encoding.PEM))
    for index, (_, _, package) in enumerate(await _stored(a)):
        path = tmp_path / f"stored-{index}.edxml"
        path.write_bytes(package)
        assert _xmlsec1_verifies(path, roots)
