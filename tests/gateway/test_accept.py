"""Acceptance: every refusal named with its field and rule, nothing stored unless accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

import edxml
from adapters.blobs import BlobStore
from adapters.store.store import Store
from devtools.axis_simulator import AxisSimulator
from gateway.delivery.routing import Route, RoutingTable
from gateway.outbound.accept import AcceptanceError, accept_package
from gateway.outbound.directory import sync_agencies
from tests.adapters.conftest import client_for
from tests.factories import document, organization, status

AXIS_ONLY = RoutingTable()
NINH_BINH_LOCAL = RoutingTable(
    routes=(
        Route(pattern="*.H42", destination="local"),
        Route(pattern="000.00.00.G*", destination="axis"),
    )
)


async def test_a_valid_package_is_stored_and_queued_per_recipient(
    store: Store, tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    package = document(recipients=(organization("000.00.00.G22"), organization("000.00.13.H42")))
    data = edxml.build(package)
    accepted = await accept_package(store, blobs, NINH_BINH_LOCAL, data, client_id="qlvb-1")
    assert accepted.document_id == package.document_id
    view = await store.message(accepted.message_id)
    assert view is not None
    assert {(d.recipient, d.route, d.state) for d in view.deliveries} == {
        ("000.00.00.G22", "axis", "queued"),
        ("000.00.13.H42", "local", "queued"),
    }
    assert blobs.get(view.package_ref) == data
    status_accepted = await accept_package(store, blobs, AXIS_ONLY, edxml.build(status()))
    view = await store.message(status_accepted.message_id)
    assert view is not None
    assert (view.message_type, view.status_code, view.deliveries[0].recipient) == (
        "status",
        "03",
        "000.00.01.H42",
    )


async def test_refusals_name_field_and_rule(store: Store, tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    stranger = document(recipients=(organization("000.00.00.G22"), organization("000.00.00.H53")))
    with pytest.raises(AcceptanceError) as refused:
        await accept_package(
            store,
            blobs,
            NINH_BINH_LOCAL,
            edxml.build(stranger),
            may_send_as={"000.00.13.H42"}.__contains__,
        )
    assert {(p.field, p.rule) for p in refused.value.problems} == {
        ("To[2]/OrganId", "route.unknown"),
        ("From/OrganId", "auth.sender"),
    }
    with pytest.raises(AcceptanceError) as unreadable:
        await accept_package(store, blobs, AXIS_ONLY, b"%PDF-1.7")
    assert unreadable.value.problems[0].field == "package"
    broken = edxml.build(document(recipients=(organization("not-an-agency"),)))
    with pytest.raises(AcceptanceError) as invalid:
        await accept_package(store, blobs, AXIS_ONLY, broken)
    assert any("OrganId" in p.field for p in invalid.value.problems)
    assert await store.counts_by_state() == {}
    assert list((tmp_path / "blobs").iterdir()) == []  # nothing stored


async def test_the_axis_directory_refuses_unknown_agencies(
    store: Store, tmp_path: Path, simulator: AxisSimulator
) -> None:
    assert await store.listed_agencies(["000.00.00.G22"]) is None  # not synchronised yet
    async with client_for(simulator, "00.42.W00") as axis:
        assert await sync_agencies(store, axis) >= 5
        assert await sync_agencies(store, axis) >= 5  # replaces, does not duplicate
    blobs = BlobStore(tmp_path / "blobs")
    unknown = document(recipients=(organization("000.00.00.G99"),))
    with pytest.raises(AcceptanceError) as refused:
        await accept_package(store, blobs, AXIS_ONLY, edxml.build(unknown))
    assert [p.rule for p in refused.value.problems] == ["route.directory"]
    known = document(recipients=(organization("000.00.00.G22"),))
    assert (await accept_package(store, blobs, AXIS_ONLY, edxml.build(known))).delivery_ids
    # looked up by the codes named, not by reading the whole directory
    assert await store.listed_agencies(["000.00.00.G22", "000.00.00.G99"]) == {"000.00.00.G22"}
    assert await store.listed_agencies(["000.00.00.G99"]) == set()
