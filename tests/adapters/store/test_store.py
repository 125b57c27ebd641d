"""Contract tests of the store, run on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa

from adapters.store.engine import migrate
from adapters.store.schema import outbox
from adapters.store.store import NewDelivery, NewMessage, Store
from tests.backends import Clock

RECIPIENTS = ("000.00.00.G22", "000.00.00.G10", "000.00.00.H53")


def _message(**overrides: object) -> NewMessage:
    values: dict[str, object] = {
        "direction": "out",
        "document_id": "000.00.01.H42,2026/11/25,05/UBND-VP",
        "sender": "000.00.01.H42",
        "package_ref": "ab" * 32,
        "package_size": 1234,
        "code": "05/UBND-VP",
        "subject": "V/v triển khai",
    }
    values.update(overrides)
    return NewMessage(**values)  # type: ignore[arg-type]


async def _accept(store: Store, recipients: tuple[str, ...] = RECIPIENTS) -> tuple[str, list[str]]:
    return await store.accept(_message(), [NewDelivery(r, "axis") for r in recipients])


async def test_migrations_are_idempotent(store: Store) -> None:
    await migrate(store.engine)  # already at head: nothing to do
    async with store.engine.connect() as connection:
        version = await connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
    assert version == "0012"


async def test_accept_writes_message_deliveries_events_and_outbox(store: Store) -> None:
    message_id, delivery_ids = await _accept(store)
    view = await store.message(message_id)
    assert view is not None
    assert (view.document_id, view.code, view.subject) == (
        "000.00.01.H42,2026/11/25,05/UBND-VP",
        "05/UBND-VP",
        "V/v triển khai",
    )
    assert sorted(d.recipient for d in view.deliveries) == sorted(RECIPIENTS)
    for delivery in view.deliveries:
        assert (delivery.state, delivery.attempts) == ("queued", 0)
        ((event),) = delivery.events
        assert (event.from_state, event.to_state, event.source) == (None, "queued", "api")
    rows = await store.unpublished(10)
    assert sorted(row.delivery_id for row in rows) == sorted(delivery_ids)
    assert {(row.attempt, row.due_at) for row in rows} == {(1, view.created_at)}
    await store.mark_published([row.id for row in rows])
    assert await store.unpublished(10) == []
    assert await store.counts_by_state() == {"queued": 3}


async def test_each_due_delivery_is_claimed_once_even_by_racing_workers(store: Store) -> None:
    for _ in range(4):
        await _accept(store)
    claimed: list[str] = []
    for _ in range(12):  # rounds of six racing workers until the queue is empty
        claims = await asyncio.gather(*(store.claim_due(5, lease_seconds=60) for _ in range(6)))
        claimed += [job.delivery_id for jobs in claims for job in jobs]
        assert all(job.attempt == 1 for jobs in claims for job in jobs)
        if len(claimed) >= 12:
            break
    assert len(claimed) == len(set(claimed)) == 12
    assert await store.claim_due(50, lease_seconds=60) == []
    assert await store.counts_by_state() == {"sending": 12}


async def test_an_expired_lease_is_taken_over_and_fences_the_old_worker(
    store: Store, clock: Clock
) -> None:
    await _accept(store, RECIPIENTS[:1])
    (first,) = await store.claim_due(10, lease_seconds=30)
    clock.advance(31)  # the worker died
    (second,) = await store.claim_due(10, lease_seconds=30)
    assert (second.delivery_id, second.attempt) == (first.delivery_id, 2)
    assert not await store.mark_sent(first.delivery_id, first.attempt, "late")
    assert await store.mark_sent(second.delivery_id, second.attempt, "axis-1")
    view = await store.message(second.message_id)
    assert view is not None
    (delivery,) = view.deliveries
    assert (delivery.state, delivery.remote_id, delivery.attempts) == ("sent", "axis-1", 2)
    assert [e.to_state for e in delivery.events] == ["queued", "sending", "sending", "sent"]
    assert "lease expired" in (delivery.events[2].detail or "")


async def test_retry_waits_until_due_then_fails_and_requeues(store: Store, clock: Clock) -> None:
    await _accept(store, RECIPIENTS[:1])
    (job,) = await store.claim_due(10, lease_seconds=30)
    assert await store.mark_retry(
        job.delivery_id, job.attempt, "HTTP 503", clock.now.replace(hour=9)
    )
    assert await store.claim_due(10, lease_seconds=30) == []
    clock.advance(3600)
    (again,) = await store.claim_due(10, lease_seconds=30)
    assert again.attempt == 2
    assert await store.mark_failed(again.delivery_id, again.attempt, "refused: bad package")
    assert await store.state_of(again.delivery_id) == "failed"
    assert await store.claim_due(10, lease_seconds=30) == []
    assert not await store.requeue("no-such-delivery")
    assert await store.requeue(again.delivery_id)
    assert not await store.requeue(again.delivery_id)  # it is queued now, not failed
    (third,) = await store.claim_due(10, lease_seconds=30)
    assert third.attempt == 3
    async with store.engine.connect() as connection:
        attempts = (await connection.execute(sa.select(outbox.c.attempt))).scalars().all()
    assert sorted(attempts) == [1, 2, 3]  # the first, the scheduled retry, the requeue
    view = await store.message(third.message_id)
    assert view is not None
    assert view.deliveries[0].last_error == "refused: bad package"


async def test_urgent_documents_are_claimed_first(store: Store) -> None:
    await store.accept(_message(priority=0), [NewDelivery("000.00.00.G22", "axis")])
    urgent_id, _ = await store.accept(_message(priority=2), [NewDelivery("000.00.00.G10", "axis")])
    (job,) = await store.claim_due(1, lease_seconds=30)
    assert job.message_id == urgent_id


async def test_moves_are_conditional_on_the_current_state(store: Store) -> None:
    _, (delivery_id,) = await _accept(store, RECIPIENTS[:1])
    assert not await store.move(delivery_id, "sent", "arrived", source="status:01")
    assert await store.move(delivery_id, "queued", "arrived", source="status:01", status_code="01")
    assert await store.state_of(delivery_id) == "arrived"
    found = await store.deliveries_for_status("000.00.01.H42,2026/11/25,05/UBND-VP", RECIPIENTS[0])
    assert found == [(delivery_id, "arrived")]
    assert await store.deliveries_for_status("other", RECIPIENTS[0]) == []


async def test_inbound_items_are_recorded_once(store: Store) -> None:
    assert not await store.inbound_seen("axis", "68edb8c8c2dcb14db773ce44")
    assert await store.record_inbound(
        "axis", "68edb8c8c2dcb14db773ce44", message_type="edoc", outcome="stored"
    )
    assert not await store.record_inbound(
        "axis", "68edb8c8c2dcb14db773ce44", message_type="edoc", outcome="stored"
    )
    assert await store.inbound_seen("axis", "68edb8c8c2dcb14db773ce44")
    inbound_only, _ = await store.accept(_message(direction="in"), [], deliver=False)
    assert (await store.message(inbound_only)) is not None


async def test_claim_one_says_why_it_cannot(store: Store, clock: Clock) -> None:
    _, (delivery_id,) = await _accept(store, RECIPIENTS[:1])
    claim = await store.claim_one(delivery_id, lease_seconds=30)
    assert claim.job is not None
    assert claim.job.attempt == 1
    held = await store.claim_one(delivery_id, lease_seconds=30)
    assert (held.job, held.busy_until) == (None, clock.now + dt.timedelta(seconds=30))
    clock.advance(31)
    taken_over = await store.claim_one(delivery_id, lease_seconds=30)
    assert taken_over.job is not None
    assert taken_over.job.attempt == 2
    assert await store.mark_sent(delivery_id, 2, "axis-2")
    done = await store.claim_one(delivery_id, lease_seconds=30)
    assert (done.job, done.reason) == (None, "nothing to do: it is sent")
    assert (await store.claim_one("nope", lease_seconds=30)).reason == "unknown delivery"


async def test_without_an_outbox_no_rows_are_written(store: Store) -> None:
    store.outbox = False
    await _accept(store, RECIPIENTS[:1])
    (job,) = await store.claim_due(10, lease_seconds=30)
    await store.mark_retry(job.delivery_id, job.attempt, "503", job.message_created_at)
    assert await store.unpublished(10) == []


async def test_idempotency_keys(store: Store) -> None:
    assert await store.claim_request("qlvb-1", "k1", "hash-a") == ("new", None)
    assert await store.claim_request("qlvb-1", "k1", "hash-a") == ("replay", None)  # still running
    assert await store.claim_request("qlvb-1", "k1", "hash-b") == ("conflict", None)
    assert await store.claim_request("qlvb-2", "k1", "hash-b") == ("new", None)  # per client
    await store.settle_request("qlvb-1", "k1", "message-1")
    assert await store.claim_request("qlvb-1", "k1", "hash-a") == ("replay", "message-1")
    await store.settle_request("qlvb-2", "k1", None)  # that request failed: the key is free
    assert await store.claim_request("qlvb-2", "k1", "hash-c") == ("new", None)


async def test_the_migrations_build_exactly_the_declared_schema(store: Store) -> None:
    """Alembic's autogenerate finds nothing to do: every table, column and index of
    ``schema.py`` is made by the migrations, and nothing else is."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from adapters.store.schema import metadata

    def differences(connection: sa.Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_schemas": False}
        )
        return [
            diff
            for diff in compare_metadata(context, metadata)
            if not (isinstance(diff, tuple) and "alembic_version" in repr(diff))
        ]

    async with store.engine.connect() as connection:
        found = await connection.run_sync(differences)
    assert found == []


async def test_the_sweeper_republishes_only_what_the_broker_never_had(
    store: Store, clock: Clock
) -> None:
    """A delivery that waits its turn behind a long queue is not stuck: its message was
    confirmed by the broker. Before, every such delivery was published again each minute
    (a queue of 1,200 waiting deliveries grew to 32,126 messages)."""
    recipients = tuple(f"000.00.{n:02d}.H53" for n in range(30))
    _, delivery_ids = await _accept(store, recipients)
    rows = await store.unpublished(100)
    await store.mark_published([row.id for row in rows])
    clock.advance(600)
    assert await store.reschedule_stuck(grace_seconds=60) == 0
    assert await store.reschedule_stuck(grace_seconds=60) == 0
    # work made due without an outbox row for its next attempt was never handed over: found
    async with store.engine.begin() as connection:
        await connection.execute(
            sa.text("UPDATE deliveries SET attempts = 3 WHERE id = :id"), {"id": delivery_ids[0]}
        )
    assert await store.reschedule_stuck(grace_seconds=60) == 1
    assert await store.reschedule_stuck(grace_seconds=60) == 0  # now it has one


async def test_a_large_fan_out_keeps_only_its_first_recipients_in_the_document_lane(
    store: Store,
) -> None:
    from adapters.store.schema import deliveries
    from adapters.store.store import FAIR_SHARE, queue_lane

    recipients = tuple(f"000.00.{n:02d}.H53" for n in range(FAIR_SHARE + 5))
    message_id, _ = await store.accept(
        _message(priority=0), [NewDelivery(r, "axis") for r in recipients]
    )
    async with store.engine.connect() as connection:
        lanes = sorted(
            (
                await connection.execute(
                    sa.select(deliveries.c.priority).where(deliveries.c.message_id == message_id)
                )
            ).scalars()
        )
    assert lanes == [0] * 5 + [1] * FAIR_SHARE
    assert [queue_lane(p, 0) for p in (0, 1, 2, 3)] == [1, 2, 3, 3]
