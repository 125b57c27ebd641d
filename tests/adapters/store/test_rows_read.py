"""The delivery path's statements read rows by key, not the backlog (PostgreSQL; the
embedded claim on SQLite too).

With 3,000 deliveries waiting, a claim of five, the webhook look-up of a batch of state
changes and the evidence log's read of five new ``sent`` events each read their own rows.
Before, on the plans PostgreSQL chose for them, a claim read every due row of the queue
(the ``(state, next_attempt_at)`` index), and the webhook look-up read the deliveries again
for each message of the client: a deployment slowed as its backlog grew, just when it had
the most to send.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.store.schema import deliveries, delivery_events
from adapters.store.store import AttemptOutcome, Store, utc_now
from gateway.operate.evidence import append_new
from tests.adapters.store.outgoing import accept_outgoing
from tests.adapters.store.plans import captured, rows_read
from tests.conftest import open_store

CLIENT = "qlvb"
BACKLOG = 3000
#: Rows a statement may read for a batch of 5: its own rows through an index, with room for
#: the planner's bitmap pages; the backlog is 50 times more, large enough that reading it
#: all is not the planner's cheapest way (as it is for a table of a few hundred rows).
FEW = 60


@pytest.fixture
async def backlog(tmp_path: Path) -> AsyncIterator[tuple[Store, list[str]]]:
    """A PostgreSQL store with ``BACKLOG`` deliveries queued, sent by a client's QLVB."""
    async with open_store("postgresql", tmp_path, utc_now) as store:
        await store.add_client(CLIENT, "QLVB", "0" * 64, ["*.H42"])
        yield store, await accept_outgoing(store, BACKLOG, client_id=CLIENT, at_once=8)


async def _sent_events(store: Store, delivery_ids: list[str]) -> list[int]:
    query = sa.select(delivery_events.c.id).where(
        delivery_events.c.delivery_id.in_(delivery_ids), delivery_events.c.to_state == "sent"
    )
    async with store.engine.connect() as connection:
        return list((await connection.execute(query)).scalars())


async def test_a_claim_of_five_reads_its_five_rows_not_the_queue(
    backlog: tuple[Store, list[str]],
) -> None:
    store, ids = backlog
    with captured(store) as statements:
        claims = await store.claim_many(ids[-5:], lease_seconds=60)
    assert all(claim.job is not None for claim in claims.values())
    read = await rows_read(store, statements)
    assert read
    assert max(read_.total() for read_ in read) <= FEW, read


@pytest.mark.parametrize("changes", [5, 50])
async def test_the_webhook_look_up_of_a_batch_of_changes_reads_their_rows_not_the_queue(
    backlog: tuple[Store, list[str]], changes: int
) -> None:
    store, ids = backlog
    with captured(store) as statements:
        found = await store.deliveries_of(ids[-changes:], [CLIENT])
    assert set(found) == set(ids[-changes:])
    read = await rows_read(store, statements)
    assert read
    if changes == 5:
        assert max(read_.total() for read_ in read) <= FEW, read
    else:
        # For 50 the planner may find reading both tables once cheaper than 100 look-ups at
        # this size; never a table read again for each row of the other.
        assert max(max(read_.values()) for read_ in read) <= BACKLOG + FEW, read


async def test_the_evidence_of_five_new_sendings_reads_their_rows_not_every_logged_one(
    backlog: tuple[Store, list[str]],
) -> None:
    store, ids = backlog

    async def send(batch: list[str]) -> None:
        claims = await store.claim_many(batch, lease_seconds=60)
        await store.finish_attempts(
            [AttemptOutcome.sent(i, claim.job.attempt, f"r-{i}") for i, claim in claims.items()
             if claim.job is not None]
        )  # fmt: skip

    for start in range(0, BACKLOG - 5, 200):
        await send(ids[start : min(start + 200, BACKLOG - 5)])
    assert await append_new(store) == BACKLOG - 5
    await send(ids[-5:])
    with captured(store) as statements:
        new = await store.unlogged()
    assert sorted(entry.source_key for entry in new) == sorted(
        f"sent:{event}" for event in await _sent_events(store, ids[-5:])
    )
    read = await rows_read(store, statements)
    # Recent events are each looked up in the log (the margin behind the cursor, which
    # transactions committing out of order need); only the new ones are joined to their
    # deliveries and messages.
    assert read
    assert max(r["deliveries"] + r["messages"] for r in read) <= FEW, read


async def test_a_claim_of_the_five_most_urgent_reads_a_few_rows_not_the_queue(
    backlog: tuple[Store, list[str]],
) -> None:
    """The embedded queue's claim picks the most urgent due deliveries itself: before, it
    read and sorted every due row to take the first five."""
    store, _ = backlog
    most_urgent = (
        sa.select(deliveries.c.id)
        .order_by(deliveries.c.priority.desc(), deliveries.c.next_attempt_at)
        .limit(5)
    )
    async with store.engine.connect() as connection:
        expected = list((await connection.execute(most_urgent)).scalars())
    with captured(store) as statements:
        jobs = await store.claim_due(5, lease_seconds=60)
    assert [job.delivery_id for job in jobs] == expected
    read = await rows_read(store, statements)
    assert read
    assert max(read_.total() for read_ in read) <= FEW, read


def _sqlite_steps(database: Path, statement: str, parameters: Sequence[Any]) -> int:
    """Thousands of virtual-machine steps SQLite takes to run ``statement`` (reading or
    sorting a row takes several): its work, counted, not timed."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0  # go on

    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.set_progress_handler(count, 1000)
        connection.execute(statement, tuple(parameters)).fetchall()
    return steps


async def test_the_embedded_claim_of_the_five_most_urgent_does_not_sort_the_queue(
    tmp_path: Path,
) -> None:
    """On SQLite the same selection, with the index that holds only waiting deliveries (a
    partial index, which SQLite uses for a condition written as the index spells it)."""
    async with open_store("sqlite", tmp_path, utc_now) as store:
        await accept_outgoing(store, BACKLOG, at_once=8)
        with captured(store) as statements:
            jobs = await store.claim_due(5, lease_seconds=60)
    assert len(jobs) == 5
    selection, parameters = statements[0]
    assert "ORDER BY" in selection
    # Reading and sorting the 3,000 waiting rows took 39 thousand steps; five rows of each
    # lane and their sort take fewer than one thousand.
    assert _sqlite_steps(tmp_path / "gateway.db", selection, parameters) <= 5
