"""After an outage: every failure towards one destination since a moment, requeued in one
action (store + service, the CLI, the API), audited; refusals for good stay unless corrected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import aiohttp
import pytest

from adapters.store.store import AttemptOutcome, NewDelivery, NewMessage, Store
from gateway.cli.main import main
from gateway.http.api.app import PREFIX
from gateway.operate.requeue import requeue_since
from tests.backends import Clock

from .harness import Gateway, _key

OFFICE, STTTT = "000.00.01.H42", "000.00.12.H42"


async def _failure(
    store: Store, sender: str, route: str, number: int, *, permanent: bool = False
) -> str:
    _, (delivery_id,) = await store.accept(
        NewMessage(
            direction="out", document_id=f"{sender},2026/11/25,{number}/X", sender=sender,
            package_ref="0" * 64, package_size=1,
        ),
        [NewDelivery("000.00.00.G22", route)],
    )  # fmt: skip
    (job,) = [
        j for j in await store.claim_due(10, lease_seconds=60) if j.delivery_id == delivery_id
    ]
    failed = AttemptOutcome.failed(delivery_id, job.attempt, "HTTP 503", permanent=permanent)
    await store.finish_attempts([failed])
    return delivery_id


async def test_the_failures_of_one_destination_since_a_time(store: Store, clock: Clock) -> None:
    before = await _failure(store, OFFICE, "axis", 1)  # before the outage began
    clock.advance(3600)
    outage = clock.now
    during = [await _failure(store, OFFICE, "axis", n) for n in (2, 3)]
    refused = await _failure(store, OFFICE, "axis", 4, permanent=True)
    elsewhere = await _failure(store, OFFICE, "hub", 5)
    other_agency = await _failure(store, STTTT, "axis", 6)
    requeued = await requeue_since(
        store, "axis", outage, by="binhtt.vp", source="operator:binhtt.vp", agencies=[OFFICE]
    )
    assert requeued == during
    states = {d: await store.state_of(d) for d in (before, refused, elsewhere, other_agency)}
    assert set(states.values()) == {"failed"}
    again = await requeue_since(
        store, "axis", outage, by="binhtt.vp", source="operator:binhtt.vp", corrected=True
    )
    assert set(again) == {refused, other_agency}  # no agency limit; corrected ones too
    audit = [(e["action"], e["target"], e["detail"]) for e in await store.audit_entries()]
    assert audit[-2:] == [
        ("delivery.requeue", "axis", f"axis since {outage.isoformat()}: 2"),
        ("delivery.requeue", "axis", f"axis since {outage.isoformat()}: 2, corrected"),
    ]


def test_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from adapters.store.engine import create_engine

    monkeypatch.setenv("EDXML_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0

    async def seed() -> str:
        store = Store(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'gateway.db'}"))
        delivery_id = await _failure(store, OFFICE, "axis", 1)
        await store.close()
        return delivery_id

    delivery_id = asyncio.run(seed())
    capsys.readouterr()
    assert main(["requeue", "--destination", "axis"]) == 2
    assert "--since" in capsys.readouterr().err
    assert main(["requeue", "--destination", "axis", "--since", "2026-01-01T00:00"]) == 0
    out = capsys.readouterr().out
    assert "1 requeued towards axis" in out
    assert f"{delivery_id}: requeued" in out


@pytest.fixture
def backend() -> str:
    return "postgresql"  # the API over the store: one backend is enough here


async def test_the_api(gateways: tuple[Gateway, Gateway]) -> None:
    a, _ = gateways
    failed = await _failure(a.store, OFFICE, "axis", 1)
    auth = await _key(a, [OFFICE])
    url = f"{a.url}{PREFIX}/deliveries/requeue"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"destination": "axis"}, headers=auth) as r:
            assert r.status == 400
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
        async with http.post(url, json={"destination": "axis", "since": since}, headers=auth) as r:
            assert r.status == 202
            assert await r.json() == {"requeued": [failed], "count": 1}
