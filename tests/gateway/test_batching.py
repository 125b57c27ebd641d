"""The batcher: concurrent callers share runs, an idle caller waits for nobody, a failed run
reaches each of its callers, a cancelled caller's item is still run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from gateway.delivery.batching import Batcher


class Recorder:
    def __init__(self, fail_on: str | None = None) -> None:
        self.runs: list[list[str]] = []
        self.fail_on = fail_on

    async def run(self, items: Sequence[str]) -> dict[str, str]:
        self.runs.append(list(items))
        await asyncio.sleep(0.01)
        if self.fail_on in items:
            raise RuntimeError("the store is down")
        return {item: item.upper() for item in items if item != "missing"}


def _batcher(recorder: Recorder, max_size: int = 200) -> Batcher[str, str, str]:
    return Batcher(recorder.run, key=lambda item: item, missing="?", max_size=max_size)


async def test_concurrent_callers_share_runs_and_get_their_own_result() -> None:
    recorder = Recorder()
    batcher = _batcher(recorder, max_size=30)
    results = await asyncio.gather(*(batcher.submit(f"d{n}") for n in range(100)))
    assert results == [f"D{n}" for n in range(100)]
    assert [len(run) for run in recorder.runs] == [30, 30, 30, 10]


async def test_a_lone_caller_is_run_at_once() -> None:
    recorder = Recorder()
    batcher = _batcher(recorder)
    assert await batcher.submit("a") == "A"
    assert await batcher.submit("missing") == "?"
    assert recorder.runs == [["a"], ["missing"]]


async def test_a_key_submitted_twice_in_a_batch_is_answered_once() -> None:
    recorder = Recorder()
    batcher = _batcher(recorder)
    assert await asyncio.gather(*(batcher.submit(i) for i in "aab")) == ["A", "?", "B"]


async def test_a_failed_run_reaches_every_caller_of_that_batch_only() -> None:
    recorder = Recorder(fail_on="bad")
    batcher = _batcher(recorder, max_size=2)
    results = await asyncio.gather(
        *(batcher.submit(item) for item in ("ok", "bad", "fine")), return_exceptions=True
    )
    assert [type(r).__name__ for r in results[:2]] == ["RuntimeError", "RuntimeError"]
    assert results[2] == "FINE"


async def test_a_cancelled_caller_leaves_its_item_in_the_run() -> None:
    recorder = Recorder()
    batcher = _batcher(recorder)
    first = asyncio.ensure_future(batcher.submit("a"))
    gone = asyncio.ensure_future(batcher.submit("b"))
    await asyncio.sleep(0)
    gone.cancel()
    assert await first == "A"
    with pytest.raises(asyncio.CancelledError):
        await gone
    await batcher.aclose()
    assert recorder.runs == [["a", "b"]]


async def _trickle(batcher: Batcher[str, str, str], names: Sequence[str], gap: float) -> None:
    """Callers arriving ``gap`` seconds apart, as acknowledged work hands over new messages."""
    waiting = []
    for name in names:
        waiting.append(asyncio.create_task(batcher.submit(name)))
        await asyncio.sleep(gap)
    await asyncio.gather(*waiting)


@pytest.mark.parametrize(("linger", "runs"), [(0.0, 5), (0.2, 2)])
async def test_while_busy_a_batch_waits_for_company_and_after_a_quiet_spell_it_does_not(
    linger: float, runs: int
) -> None:
    """Callers that trickle in (each after the run before ended) made a run each: with a
    linger, the first still goes at once and the rest of the busy spell share a run."""
    recorder = Recorder()
    batcher = Batcher(recorder.run, key=lambda item: item, missing="?", linger=linger)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await batcher.submit("first")
    assert loop.time() - started < 0.15  # an idle batcher runs the first call at once
    await _trickle(batcher, ["a", "b", "c", "d"], gap=0.03)
    assert len(recorder.runs) == runs
    assert [item for run in recorder.runs for item in run] == ["first", "a", "b", "c", "d"]
