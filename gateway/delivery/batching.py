"""Natural batching: many concurrent callers, one store transaction per batch.

Each worker handles many deliveries at once; each needs a claim before and a recorded
outcome after its request. Done one by one, that is two transactions (and two commits, each
waiting for the disk) per delivery. A ``Batcher`` collects what callers submit while the
previous batch is in flight and runs them together: an idle gateway pays no added latency
(the first call goes at once), a busy one pays one transaction for up to ``max_size`` calls.

What arrives while a batch runs can be little: a worker process that holds a share of the
destination's connections sees its sends finish a few at a time, and acknowledging them lets
the broker hand over as few new messages. With two processes each batch halved, and the
transactions per delivery tripled. So during a busy spell (a batch ran within the last
second) a batch also waits ``linger`` seconds for company before it runs: a few
milliseconds that cost a delivery nothing it would notice, where each transaction saved is
a round of statements, a commit and the listeners' work on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

__all__ = ["Batcher", "Linger"]

#: A batch that ran this recently (seconds) means the batcher is busy: the next may linger.
BUSY_SPELL = 1.0

Key = TypeVar("Key", bound=Hashable)
Item = TypeVar("Item")
Result = TypeVar("Result")


class Linger:
    """The wait before a batch: none after a quiet spell, ``seconds`` during a busy one (a
    batch began within ``BUSY_SPELL``), unless the batch is full already."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last = -BUSY_SPELL  # the loop's time when the last batch began

    async def before_batch(self, waiting: int, max_size: int) -> None:
        loop = asyncio.get_running_loop()
        if self.seconds and loop.time() - self._last < BUSY_SPELL and waiting < max_size:
            await asyncio.sleep(self.seconds)
        self._last = loop.time()


class Batcher(Generic[Item, Key, Result]):
    """``await batcher.submit(item)`` -> the result for ``key(item)`` of its batch's run.

    ``run`` takes a batch and returns a result per key; a key it leaves out gets ``missing``,
    and so does every caller but the first of a key submitted twice in one batch (a claim is
    handed to one caller: two broker messages for one delivery must not both send it).
    An exception from ``run`` goes to every caller of that batch (nothing is retried here:
    the callers' own error handling decides).
    """

    def __init__(
        self,
        run: Callable[[Sequence[Item]], Awaitable[Mapping[Key, Result]]],
        *,
        key: Callable[[Item], Key],
        missing: Result,
        max_size: int = 200,
        linger: float = 0.0,
    ) -> None:
        self._linger = Linger(linger)
        self._run = run
        self._key = key
        self._missing = missing
        self._max_size = max_size
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0  # how many runs so far (for tests and metrics)

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        # Read the outcome even when the caller is gone, so a failed run is not reported as
        # an exception nobody retrieved.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._pending.append((item, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        # A caller that is cancelled leaves its item in the batch: the run still records it,
        # as a crash would have left it (a claim then waits out its lease).
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._pending:
            await self._linger.before_batch(len(self._pending), self._max_size)
            batch = self._pending[: self._max_size]
            del self._pending[: self._max_size]
            self.batches += 1
            try:
                results = await self._run([item for item, _ in batch])
            except Exception as exc:  # handed to each caller, not swallowed
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            answered: set[Key] = set()
            for item, future in batch:
                key = self._key(item)
                result = self._missing if key in answered else results.get(key, self._missing)
                answered.add(key)
                if not future.done():
                    future.set_result(result)

    async def aclose(self) -> None:
        """Wait for the batches in flight (their callers get their results)."""
        if self._draining is not None:
            await asyncio.gather(self._draining, return_exceptions=True)
