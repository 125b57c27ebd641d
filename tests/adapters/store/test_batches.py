"""Claims and outcomes in batches: one transaction, the same few statements for 1 row or 40,
the attempt number still fencing each row; and a connection the server closed is replaced."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.store.evidence import NewEntry, entry_hash
from adapters.store.schema import deliveries, outbox, webhook_deliveries
from adapters.store.store import AttemptOutcome, NewDelivery, NewMessage, Store, utc_now
from adapters.store.webhook_log import WebhookAttempt
from tests.adapters.store.outgoing import accept_outgoing
from tests.backends import Clock
from tests.conftest import open_store


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store sends while the block runs (BEGIN/COMMIT not included),
    each marked ``*`` when the driver runs it once per row (``executemany``)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]).split()[0].upper() + ("*" if args[5] else ""))

    sa.event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(store.engine.sync_engine, "before_cursor_execute", record)


async def test_claims_and_outcomes_cost_the_same_statements_for_one_row_or_forty(
    store: Store, backend: str
) -> None:
    ids = await accept_outgoing(store, 41)
    with _statements(store) as one_claim:
        claims = await store.claim_many(ids[:1], lease_seconds=60)
    with _statements(store) as forty_claims:
        claims |= await store.claim_many(ids[1:], lease_seconds=60)
    # PostgreSQL: one UPDATE that locks, moves and returns, and the events; SQLite: four
    assert len(one_claim) == len(forty_claims) <= (2 if backend == "postgresql" else 4)
    jobs = [claims[i].job for i in ids]
    assert all(job is not None and job.attempt == 1 for job in jobs)

    later = store.now() + dt.timedelta(minutes=5)
    outcomes = [AttemptOutcome.sent(ids[0], 1, "axis-0")]
    with _statements(store) as one_outcome:
        assert await store.finish_attempts(outcomes) == {(ids[0], 1)}
    outcomes = [
        *(AttemptOutcome.sent(i, 1, f"axis-{i}") for i in ids[1:20]),
        *(AttemptOutcome.retry(i, 1, "503", later, backoff_step=1) for i in ids[20:30]),
        *(AttemptOutcome.failed(i, 1, "unknown recipient") for i in ids[30:]),
    ]
    with _statements(store) as forty_outcomes:
        recorded = await store.finish_attempts(outcomes)
    assert recorded == {(i, 1) for i in ids[1:]}
    # the UPDATE, the events, the outbox rows (and on SQLite a read of the rows first)
    assert len(one_outcome) <= len(forty_outcomes) <= (3 if backend == "postgresql" else 4)
    assert await store.counts_by_state() == {"sent": 20, "retry_wait": 10, "failed": 11}
    if backend == "postgresql":  # the events and outbox rows too: one execution, not one a row
        assert not [s for s in forty_claims + forty_outcomes if s.endswith("*")]
    async with store.engine.connect() as connection:
        next_attempts = (
            await connection.execute(
                sa.select(outbox.c.delivery_id, outbox.c.attempt).where(outbox.c.attempt == 2)
            )
        ).all()
    assert sorted(next_attempts) == sorted((i, 2) for i in ids[20:30])


async def test_a_batch_records_what_is_ours_and_drops_what_was_taken_over(
    store: Store, clock: Clock
) -> None:
    first, second = await accept_outgoing(store, 2)
    claims = await store.claim_many([first, second, first], lease_seconds=30)
    assert claims[first].job is not None
    assert claims[second].job is not None
    clock.advance(31)  # the worker of both died; another takes `second` over
    retaken = await store.claim_many([second], lease_seconds=30)
    job = retaken[second].job
    assert job is not None
    assert (job.attempt, job.in_doubt) == (2, True)
    recorded = await store.finish_attempts(
        [
            AttemptOutcome.sent(first, 1, "axis-1"),
            AttemptOutcome.sent(second, 1, "late"),  # the dead worker's: fenced off
            AttemptOutcome.sent(second, 2, "axis-2"),
        ]
    )
    assert recorded == {(first, 1), (second, 2)}
    message = await store.message(job.message_id)
    assert message is not None
    (view,) = message.deliveries
    assert (view.state, view.remote_id, view.attempts) == ("sent", "axis-2", 2)


async def test_claims_say_why_not(store: Store, clock: Clock) -> None:
    leased, waiting, done = await accept_outgoing(store, 3)
    await store.claim_many([leased, done], lease_seconds=30)
    await store.mark_sent(done, 1, "axis-1")
    (job,) = [c.job for c in (await store.claim_many([waiting], lease_seconds=30)).values()]
    assert job is not None
    later = clock() + dt.timedelta(seconds=60)
    await store.mark_retry(waiting, 1, "503", later)
    claims = await store.claim_many([leased, waiting, done, "no-such"], lease_seconds=30)
    assert claims[leased].reason == "another worker holds it"
    assert claims[waiting].busy_until == later
    assert claims[done].reason == "nothing to do: it is sent"
    assert claims["no-such"].reason == "unknown delivery"
    assert all(claim.job is None for claim in claims.values())


async def test_a_failed_attempt_keeps_the_doubt_of_the_one_before(
    store: Store, clock: Clock
) -> None:
    (delivery,) = await accept_outgoing(store, 1)
    await store.claim_many([delivery], lease_seconds=30)
    await store.mark_retry(delivery, 1, "timeout", clock(), in_doubt=True)
    (claim,) = (await store.claim_many([delivery], lease_seconds=30)).values()
    assert claim.job is not None
    assert claim.job.in_doubt
    await store.mark_failed(delivery, 2, "expired")
    clock.advance(1)
    await store.requeue(delivery)
    (again,) = (await store.claim_many([delivery], lease_seconds=30)).values()
    assert again.job is not None
    assert again.job.in_doubt  # a requeue asks the destination first


async def test_a_connection_the_server_closed_is_replaced_without_an_error(
    tmp_path: Path,
) -> None:
    async with open_store("postgresql", tmp_path, utc_now) as store:
        async with store.engine.connect() as connection:  # back in the pool, idle, after
            pid = await connection.scalar(sa.text("SELECT pg_backend_pid()"))
        admin = create_async_engine(store.engine.url)
        try:
            async with admin.begin() as other:
                await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            await admin.dispose()
        await asyncio.sleep(0.2)  # the driver reads the server's goodbye
        assert await store.counts_by_state() == {}
        async with store.engine.connect() as connection:
            assert await connection.scalar(sa.text("SELECT pg_backend_pid()")) != pid


async def test_webhook_rows_and_their_outcomes_are_one_statement_each(
    store: Store, backend: str
) -> None:
    await store.add_client("qlvb", "QLVB", "0" * 64, ["*.H42"])
    events = [("qlvb", "delivery.state", {"delivery": f"d{n}"}) for n in range(3)]
    with _statements(store) as logged:
        await store.log_webhooks(events)
    due = await store.due_webhooks(10)
    later = utc_now() + dt.timedelta(minutes=1)
    attempts = [
        WebhookAttempt(due[0]["id"], 1, None, "sent", None),
        WebhookAttempt(due[1]["id"], 1, "HTTP 500", "pending", later),
        WebhookAttempt(due[2]["id"], 1, "HTTP 410", "failed", None),
    ]
    with _statements(store) as recorded:
        await store.record_webhook_attempts(attempts)
    assert logged == (["INSERT"] if backend == "postgresql" else ["INSERT*"])
    assert recorded == (["UPDATE"] if backend == "postgresql" else ["UPDATE*"])
    async with store.engine.connect() as connection:
        rows = {row.id: row for row in await connection.execute(sa.select(webhook_deliveries))}
    for attempt in attempts:
        row = rows[attempt.id]
        assert (row.state, row.attempts, row.last_error) == (
            attempt.state, attempt.attempts, attempt.error
        )  # fmt: skip
        assert (row.sent_at is not None) == (attempt.state == "sent")
        assert (row.next_attempt_at is not None) == (attempt.next_attempt_at is not None)


async def test_a_document_s_recipients_and_a_pass_of_evidence_are_one_insert_each(
    store: Store, backend: str
) -> None:
    """The deliveries of a document to 40 agencies, and 40 entries of the evidence log, go
    in as one statement each; on PostgreSQL none is run once per row."""
    recipients = [NewDelivery(f"000.00.{n:02d}.G22", "axis") for n in range(40)]
    with _statements(store) as accepting:
        _, delivery_ids = await store.accept(
            NewMessage(
                direction="out",
                document_id="000.00.01.H42,2026/12/07,1/UBND-VP",
                sender="000.00.01.H42",
                code="1/UBND-VP",
                package_ref="ab" * 32,
                package_size=10,
            ),
            recipients,
        )
    assert len(delivery_ids) == 40
    entries = [
        NewEntry("sent", f"sent:{n}", "m", "d", f"peer-{n}", None, "01", "ab" * 32, n)
        for n in range(40)
    ]
    with _statements(store) as logging:
        head = await store.append_evidence(entries, entry_hash)
    assert head.seq == 40
    if backend == "postgresql":
        assert not [s for s in accepting + logging if s.endswith("*")], (accepting, logging)
    assert logging.count("INSERT") + logging.count("INSERT*") == 1
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(deliveries.c.recipient, deliveries.c.state, deliveries.c.priority)
                .where(deliveries.c.id.in_(delivery_ids))
                .order_by(deliveries.c.recipient)
            )
        ).all()
    assert [tuple(row) for row in rows] == [(d.recipient, "queued", 1) for d in recipients[:20]] + [
        (d.recipient, "queued", 0) for d in recipients[20:]
    ]
    assert [entry["peer"] for entry in await store.evidence_entries(1, 40)] == [
        f"peer-{n}" for n in range(40)
    ]


async def test_a_read_of_one_statement_is_one_round_trip_on_postgresql(tmp_path: Path) -> None:
    """The driver wrapped each read in BEGIN and ROLLBACK: three round trips for one query
    (the relay's look at the outbox, the webhooks' look-ups, every dashboard read)."""
    control: list[str] = []  # what the driver sends outside prepared statements

    def logged(query: Any) -> None:
        control.append(query.query.split()[0].upper().rstrip(";"))

    def log_queries(connection: Any, record: Any, proxy: Any) -> None:
        connection._connection.add_query_logger(logged)  # the asyncpg connection

    async with open_store("postgresql", tmp_path, utc_now) as store:
        sa.event.listen(store.engine.sync_engine.pool, "checkout", log_queries)
        with _statements(store) as statements:
            await store.due_webhooks(10)
            await store.unpublished(10)
        await asyncio.sleep(0.05)  # the driver calls its query loggers soon after, not within
        assert statements == ["SELECT", "SELECT"]
        assert control == []
        async with store.engine.begin() as connection:  # a write is still a transaction
            await connection.execute(sa.select(deliveries.c.id).limit(1))
        await asyncio.sleep(0.05)
        assert control == ["BEGIN", "COMMIT"]
