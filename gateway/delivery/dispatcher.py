"""Performing one delivery attempt, and the embedded worker loop that feeds it.

``Dispatcher.perform(job)``: read the package from the blob store, hand it to the job's
destination within that destination's concurrency limit, and record the outcome with the
attempt as fencing token:

* taken -> ``sent`` (with the remote id);
* transient failure -> ``retry_wait`` at the schedule's next time (or when the destination
  asked, ``Retry-After``), or ``failed`` when the schedule or the message's maximum age is
  over;
* permanent failure (refused, invalid, unknown recipient) -> ``failed`` with the reason.

An attempt whose outcome is unknown — its worker died, or the request was written and no
answer came (a timeout, a dropped connection) — is *in doubt*: before sending again, the
destination is asked whether it has the copy (the axis' ``getSentEdocList``), so a late
answer causes no duplicate. A destination that cannot be asked gets the copy again, and
the timeline says so. The first success after failures, or a probe that the destination
answers (``watch_recovery``), makes its waiting deliveries due at once: a recovered axis
drains without the tail of the retry schedule.

The limit per destination keeps a recovering axis from a retry storm: at most ``limit``
requests in flight per destination in this process, and, with Redis, at most the shared
limit's across the deployment.
``run_embedded`` is the no-server work queue: due rows in the store, claimed in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from adapters.blobs import BlobNotFound, BlobStore
from adapters.errors import RemoteServiceError
from adapters.redis.limits import DestinationLimit, LocalLimit
from adapters.store.store import AttemptOutcome, DeliveryJob, Store, utc_now
from gateway.delivery.batching import Batcher
from gateway.delivery.circuits import Circuits
from gateway.delivery.destinations import Destination
from gateway.delivery.retry import RetryPolicy
from gateway.signing import MissingSigningKey, Signers, sign_outgoing

__all__ = ["Dispatcher", "Outcome"]

log = logging.getLogger(__name__)

_Attempt = tuple[str, int]  # (delivery, attempt): what an outcome is recorded for


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery_id: str
    attempt: int
    state: str  # sent | retry_wait | failed | lost (the attempt was no longer ours)
    detail: str = ""


class Dispatcher:
    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        destinations: Mapping[str, Destination],
        *,
        retry: RetryPolicy | None = None,
        limit_per_destination: int = 10,
        shared_limit: DestinationLimit | None = None,
        budgeted_routes: frozenset[str] = frozenset(),
        signers: Signers | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        circuit_failures: int = 5,
        batch_linger: float = 0.0,
    ) -> None:
        self.store = store
        self._blobs = blobs
        self._destinations = dict(destinations)
        self._retry = retry or RetryPolicy()
        self._local_limit = LocalLimit(limit_per_destination)
        self._shared_limit = shared_limit  # the deployment's, across processes (Redis)
        #: Destinations whose client holds this process's share of the deployment's
        #: connections (``ConnectionBudget``): no per-request Redis slot is needed.
        self._budgeted = budgeted_routes
        self._signers = signers  # for packages stored before a key could sign them
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._clock = clock
        self.in_flight: dict[str, int] = {}  # per destination, for tests and metrics
        #: Destinations whose last attempt here failed and may pass: the next success there
        #: makes their waiting deliveries due at once.
        self._troubled: set[str] = set()
        self._woken_at: dict[str, float] = {}  # when each route's last wake-up began
        self._wake_lock = asyncio.Lock()
        self.circuits = Circuits(
            store,
            failures_to_open=circuit_failures,
            trial_seconds=self._retry.delays_seconds[0],
            clock=clock,
        )
        self._outcomes: Batcher[AttemptOutcome, _Attempt, bool] = Batcher(
            self._finish_batch,
            key=lambda o: (o.delivery_id, o.attempt),
            missing=False,
            linger=batch_linger,
        )

    async def _finish_batch(self, outcomes: Sequence[AttemptOutcome]) -> dict[_Attempt, bool]:
        return dict.fromkeys(await self.store.finish_attempts(outcomes), True)

    async def _record(
        self,
        job: DeliveryJob,
        state: str,
        detail: str,
        *,
        remote_id: str | None = None,
        at: dt.datetime | None = None,
        in_doubt: bool = False,
        backoff_step: int | None = None,
        permanent: bool = False,
    ) -> Outcome:
        if state == "sent":
            outcome = AttemptOutcome.sent(job.delivery_id, job.attempt, remote_id, note=detail)
        elif state == "retry_wait" and at is not None:
            outcome = AttemptOutcome.retry(
                job.delivery_id,
                job.attempt,
                detail,
                at,
                in_doubt=in_doubt,
                backoff_step=backoff_step,
            )
        else:
            outcome = AttemptOutcome.failed(
                job.delivery_id, job.attempt, detail, permanent=permanent
            )
        # Outcomes of concurrent attempts share one transaction (see ``Batcher``).
        if not await self._outcomes.submit(outcome):
            log.warning(
                "attempt %s was taken over; outcome dropped",
                job.attempt,
                extra={"message_id": job.message_id, "delivery_id": job.delivery_id},
            )
            return Outcome(job.delivery_id, job.attempt, "lost", detail)
        return Outcome(job.delivery_id, job.attempt, state, detail)

    async def perform(self, job: DeliveryJob) -> Outcome:
        destination = self._destinations.get(job.route)
        if destination is None:
            return await self._record(
                job, "failed", f"no destination named {job.route!r} in the configuration"
            )
        try:
            package = await self._blobs.read(job.package_ref)
        except BlobNotFound:
            return await self._record(
                job, "failed", f"the package {job.package_ref} is missing from the blob store"
            )
        if job.needs_signature:
            try:
                package = await self._sign_owed(job, package)
            except MissingSigningKey as exc:  # Điều 5.2: nothing leaves unsigned
                return await self._retry_or_fail(
                    job,
                    f"waits for its signature: {exc}",
                    destination_fault=False,
                    waits_on_destination=False,
                )
        try:
            async with contextlib.AsyncExitStack() as slots:
                await slots.enter_async_context(self._local_limit.slot(job.route))
                if self._shared_limit is not None and job.route not in self._budgeted:
                    await slots.enter_async_context(self._shared_limit.slot(job.route))
                if (held := await self._held_by_circuit(job)) is not None:
                    return held
                self.in_flight[job.route] = self.in_flight.get(job.route, 0) + 1
                try:
                    if job.in_doubt and not destination.idempotent:
                        found = await self._look_up(job, destination)
                        if found is not None:
                            return await self._delivered(job, found, "found at the destination")
                    remote_id = await destination.deliver(job, package)
                finally:
                    self.in_flight[job.route] -= 1
        except RemoteServiceError as exc:
            if not exc.transient:
                return await self._record(job, "failed", str(exc), permanent=True)
            return await self._retry_or_fail(
                job,
                str(exc),
                # an attempt already in doubt stays so until the destination has been asked
                in_doubt=exc.in_doubt or job.in_doubt,
                retry_after=exc.retry_after,
            )
        except Exception as exc:  # a bug or an unmapped driver error: retry, and say so
            log.exception(
                "attempt %s: unexpected error",
                job.attempt,
                extra={"message_id": job.message_id, "delivery_id": job.delivery_id},
            )
            # Whether the request left is unknown: the next attempt asks first.
            return await self._retry_or_fail(
                job, f"unexpected {type(exc).__name__}: {exc}", in_doubt=True
            )
        return await self._delivered(job, remote_id, "")

    async def _held_by_circuit(self, job: DeliveryJob) -> Outcome | None:
        """An open circuit holds the attempt back (a probe or the next trial decides when
        the destination is back): its outcome, or None when it may go. Asked once the
        attempt has its slot, so that what waited behind the failures is held too."""
        wait = self.circuits.wait_before(job.route)
        if wait is None:
            return None
        outcome = await self._retry_or_fail(
            job,
            f"{job.route} is not sent to until a probe shows it answers (circuit open)",
            retry_after=wait,
            destination_fault=False,
            in_doubt=job.in_doubt,  # still to be asked about before it is sent again
        )
        if not self.circuits.is_open(job.route):  # the trial went through meanwhile
            await self._wake_after(job.route, asyncio.get_running_loop().time())
        return outcome

    async def _wake_after(self, route: str, recorded: float) -> None:
        """Wake what waits on ``route`` for an outcome recorded at ``recorded`` (loop time),
        unless a wake-up begun since then has (a wave of held attempts wakes once)."""
        async with self._wake_lock:
            if self._woken_at.get(route, -1.0) < recorded:
                self._troubled.add(route)
                await self._recovered(route, "the trial it was held behind went through")

    async def _sign_owed(self, job: DeliveryJob, package: bytes) -> bytes:
        """Sign a package stored unsigned (a status we owe, whose agency had no key yet) and
        keep the signed one as the message's package; ``MissingSigningKey`` if still none."""
        if self._signers is None:
            raise MissingSigningKey(job.sender)
        signed = await asyncio.to_thread(sign_outgoing, self._signers, package, job.sender)
        ref = await asyncio.to_thread(self._blobs.put, signed)
        await self.store.sign_message(job.message_id, ref)
        return signed

    async def _look_up(self, job: DeliveryJob, destination: Destination) -> str | None:
        """Before sending an attempt in doubt again: has the destination got this copy?

        Where it can be asked (the axis' sent list), a copy found is recorded as sent and
        nothing is sent. Where it cannot (a SOAP hub, a ministry's REST endpoint), the copy
        is sent again and the timeline says so: the recipient may get it twice.
        """
        if not destination.can_look_up:
            await self.store.note(
                job.delivery_id,
                source="dispatcher",
                detail=(
                    f"attempt {job.attempt}: the previous attempt may have arrived, and "
                    f"{job.route} cannot be asked; sent again (the recipient may get it twice)"
                ),
            )
            return None
        taken = set()
        for candidate in await destination.find_delivered(job):
            if candidate in taken:
                continue
            if not await self.store.remote_id_taken(job.route, candidate, job.delivery_id):
                return candidate
            taken.add(candidate)
        await self.store.note(
            job.delivery_id,
            source="dispatcher",
            detail=f"attempt {job.attempt}: the previous attempt did not reach {job.route}; "
            "sent again",
        )
        return None

    async def _delivered(self, job: DeliveryJob, remote_id: str | None, note: str) -> Outcome:
        outcome = await self._record(job, "sent", note, remote_id=remote_id)
        await self.circuits.succeeded(job.route)
        await self._recovered(job.route, "a delivery went through")
        return outcome

    async def watch_recovery(
        self, *, stop: asyncio.Event, every_seconds: float | None = None
    ) -> None:
        """Probe each destination whose attempts here failed, every ``every_seconds`` (the
        retry schedule's first step): when it answers, its waiting deliveries are due at
        once, instead of each waiting out its own step of the schedule (up to hours)."""
        every = every_seconds if every_seconds is not None else self._retry.delays_seconds[0]
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
            for route in sorted(self._troubled):
                if not stop.is_set():
                    await self.probe_now(route)

    async def probe_now(self, route: str) -> tuple[bool | None, str]:
        """Probe ``route`` now (the recovery watch, or an operator): (answered — None when it
        cannot be probed —, what it said). An answer closes its circuit and makes its
        waiting deliveries due at once."""
        destination = self._destinations.get(route)
        if destination is None:
            return None, f"no destination named {route!r}"
        try:
            answered = await destination.probe()
        except RemoteServiceError as exc:
            log.info("%s still fails its probe: %s", route, exc)
            await self.circuits.probed(route, ok=False, answer=str(exc))
            return False, str(exc)
        if not answered:
            return None, "it cannot be probed: its next delivery tells"
        await self.circuits.probed(route, ok=True, answer="answered")
        self._troubled.add(route)  # so that its waiting deliveries are woken
        await self._recovered(route, "a probe")
        return True, "answered"

    async def _recovered(self, route: str, how: str) -> None:
        """The destination answers again: what waits on a retry to it need not sit out the
        rest of the schedule (it drains at the rate the limits allow)."""
        if route not in self._troubled:
            return
        self._troubled.discard(route)
        self._woken_at[route] = asyncio.get_running_loop().time()
        woken = await self.store.wake_route(route)
        if woken:
            log.info("%s answers again (%s): %d waiting deliveries are due now", route, how, woken)

    async def _retry_or_fail(
        self,
        job: DeliveryJob,
        error: str,
        *,
        in_doubt: bool = False,
        retry_after: float | None = None,
        destination_fault: bool = True,
        waits_on_destination: bool = True,
    ) -> Outcome:
        """Schedule the next attempt, or fail. ``destination_fault``: the destination failed
        (its circuit counts it); ``waits_on_destination``: the wait ends when the
        destination answers again (a failure, or held by its circuit), so the next success
        wakes it."""
        if destination_fault:
            self._troubled.add(job.route)
            await self.circuits.failed(job.route, error)
        step = job.backoff_step if retry_after is not None else job.backoff_step + 1
        at = self._retry.next_attempt_at(
            step,
            created_at=job.message_created_at,
            now=self._clock(),
            rng=self._rng,
            retry_after=retry_after,
        )
        if at is None:
            reason = self._retry.exhausted_reason(job.attempt, step)
            if in_doubt:  # the delivery keeps its doubt: a requeue asks the destination first
                reason += "; the last attempt may have arrived (a requeue looks it up first)"
            return await self._record(job, "failed", f"{error}; {reason}")
        if retry_after is not None:
            error = f"{error} (asked to wait {retry_after:g} s)"
        outcome = await self._record(
            job, "retry_wait", error, at=at, in_doubt=in_doubt, backoff_step=step
        )
        if waits_on_destination:
            # Marked once recorded: a success whose wake-up ran while this outcome was on
            # its way (a trial that closed the circuit this attempt was held by, another
            # attempt's answer) did not see it; the next success, or probe, wakes it.
            self._troubled.add(job.route)
        return outcome
