"""The delivery engine where the wire fails in life: late answers, Retry-After, a recovery.

Each test runs the real dispatcher against the simulated axis on a real socket, on SQLite and
on PostgreSQL (and, where the production path differs, through RabbitMQ).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from adapters.axis.client import AxisClient, AxisConfig, AxisTransientError
from adapters.blobs import BlobStore
from adapters.broker.amqp import AmqpBroker
from adapters.errors import retry_after_seconds
from adapters.soap_hub import SoapHubClient, SoapHubConfig
from adapters.store.dashboard import SentSearch
from adapters.store.store import Store
from devtools.axis_simulator import AxisSimulator, FaultPlan
from devtools.axis_simulator.faults import FaultInjector
from gateway.delivery.destinations import AxisDestination, SoapHubDestination
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.embedded import run_embedded
from gateway.delivery.queue import relay_outbox, work_handler
from gateway.delivery.retry import RetryPolicy
from tests.adapters.conftest import VECTOR_SECRET, client_for

from .flows import accept_numbered, until
from .test_queue import broker  # noqa: F401 (a fixture)

OFFICE, VPCP, TAY_NINH = "000.00.01.H42", "000.00.00.G22", "000.00.11.H53"
#: Short waits, and enough of them that a run of timeouts at these fault rates cannot exhaust
#: the schedule (0.4 ** 14: once in ~four million deliveries).
FAST = RetryPolicy(delays_seconds=(0.1, 0.2, *(0.3,) * 12), jitter=0.1)


def _accept(
    store: Store, blobs: BlobStore, number: int, recipients: tuple[str, ...] = (VPCP,)
) -> Awaitable[str]:
    """Document ``number`` (its own number/notation), to the axis or, for Tây Ninh, the hub."""
    return accept_numbered(
        store, blobs, number, recipients, route=lambda r: "hub" if r == TAY_NINH else "axis"
    )


async def _run_embedded(dispatcher: Dispatcher, condition: Callable[[], Awaitable[bool]]) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_embedded(dispatcher, stop=stop, idle_seconds=0.02, lease_seconds=30)
    )
    try:
        await until(condition)
    finally:
        stop.set()
        await worker


def _copies(simulator: AxisSimulator, recipient: str) -> int:
    """How many copies the hub holds for ``recipient`` (each sendEdoc stored is one)."""
    return sum(1 for d in simulator.hub._deliveries.values() if d.to == recipient)


def _details(view: object) -> list[str]:
    return [e.detail or "" for d in view.deliveries for e in d.events]  # type: ignore[attr-defined]


async def test_a_late_answer_is_looked_up_before_sending_again(
    live_store: Store, simulator: AxisSimulator, tmp_path: Path
) -> None:
    """The axis stores each package, then answers after our timeout: 20 documents stay 20
    copies (before, the retries made 45)."""
    blobs = BlobStore(tmp_path / "blobs")
    ids = [await _accept(live_store, blobs, number) for number in range(1, 21)]
    simulator.faults.set(
        FaultPlan(late_answer_rate=0.4, late_answer_seconds=1.5, seed=7, latency_ms=5)
    )
    async with client_for(simulator, "00.42.W00", timeout_seconds=0.4) as axis:
        dispatcher = Dispatcher(
            live_store, blobs, {"axis": AxisDestination(axis)}, retry=FAST, limit_per_destination=5
        )

        async def all_sent() -> bool:
            return (await live_store.counts_by_state()) == {"sent": 20}

        await _run_embedded(dispatcher, all_sent)
    views = [await live_store.message(i) for i in ids]
    assert _copies(simulator, VPCP) == 20
    found = [v for v in views if any("found at the destination" in d for d in _details(v))]
    assert found, "some first attempts timed out after the axis had stored them"
    # each delivery records the docId of its own copy, no two the same
    remote_ids = {v.deliveries[0].remote_id for v in views if v is not None}
    assert len(remote_ids) == 20


@pytest.mark.parametrize("backend", ["postgresql"])  # production pairs RabbitMQ with it
async def test_late_answers_through_rabbitmq(
    broker: AmqpBroker,  # noqa: F811 (the fixture)
    live_store: Store,
    simulator: AxisSimulator,
    tmp_path: Path,
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    for number in range(1, 11):
        await _accept(live_store, blobs, number)
    simulator.faults.set(FaultPlan(late_answer_rate=0.4, late_answer_seconds=1.5, seed=3))
    stop = asyncio.Event()
    async with client_for(simulator, "00.42.W00", timeout_seconds=0.4) as axis:
        dispatcher = Dispatcher(live_store, blobs, {"axis": AxisDestination(axis)}, retry=FAST)
        relay = asyncio.create_task(relay_outbox(live_store, broker, stop=stop, idle_seconds=0.05))
        consumer = asyncio.create_task(
            broker.run_consumer(work_handler(dispatcher, lease_seconds=30), stop=stop)
        )
        try:

            async def all_sent() -> bool:
                return (await live_store.counts_by_state()) == {"sent": 10}

            await until(all_sent)
        finally:
            stop.set()
            await asyncio.gather(relay, consumer)
    assert _copies(simulator, VPCP) == 10


async def test_a_hub_that_cannot_be_asked_gets_it_again_and_the_timeline_says_so(
    live_store: Store, simulator: AxisSimulator, tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    message_id = await _accept(live_store, blobs, 1, recipients=(TAY_NINH,))
    simulator.faults.set(FaultPlan(late_answer_rate=1.0, late_answer_seconds=1.0))
    config = SoapHubConfig(
        endpoint=f"{simulator.url}/soap/edoc",
        organ_id=OFFICE,
        token=VECTOR_SECRET,
        timeout_seconds=0.4,
    )
    async with SoapHubClient(config) as hub:
        dispatcher = Dispatcher(
            live_store, blobs, {"hub": SoapHubDestination(hub, "hub")}, retry=FAST
        )
        stop = asyncio.Event()
        worker = asyncio.create_task(run_embedded(dispatcher, stop=stop, idle_seconds=0.02))

        async def retried() -> bool:
            view = await live_store.message(message_id)
            return view is not None and view.deliveries[0].attempts >= 2

        try:
            await until(retried)
            simulator.faults.set(FaultPlan())

            async def sent() -> bool:
                return (
                    await live_store.state_of(
                        (await live_store.message(message_id)).deliveries[0].id  # type: ignore[union-attr]
                    )
                    == "sent"
                )

            await until(sent)
        finally:
            stop.set()
            await worker
    view = await live_store.message(message_id)
    assert any("cannot be asked; sent again" in d for d in _details(view))


async def test_a_document_for_two_agencies_behind_one_soap_hub_reaches_each_once(
    live_store: Store, simulator: AxisSimulator, tmp_path: Path
) -> None:
    """The hub delivers a package to every To it names and takes no ``to`` of its own: each
    recipient's delivery must carry only that recipient, or each would arrive twice."""
    blobs = BlobStore(tmp_path / "blobs")
    recipients = (TAY_NINH, VPCP)
    await accept_numbered(live_store, blobs, 1, recipients, route=lambda r: "hub")
    config = SoapHubConfig(
        endpoint=f"{simulator.url}/soap/edoc", organ_id=OFFICE, token=VECTOR_SECRET
    )
    async with SoapHubClient(config) as hub:
        dispatcher = Dispatcher(live_store, blobs, {"hub": SoapHubDestination(hub, "hub")})

        async def sent() -> bool:
            return (await live_store.counts_by_state()) == {"sent": 2}

        await _run_embedded(dispatcher, sent)
    assert [_copies(simulator, r) for r in recipients] == [1, 1]


async def test_a_connection_never_made_is_not_in_doubt() -> None:
    """Nothing left when the connection was refused: no look-up is owed."""
    config = AxisConfig(base_url="http://127.0.0.1:9", system_id="00.42.W00", secret="s")
    async with AxisClient(config) as axis:
        with pytest.raises(AxisTransientError) as raised:
            await axis.send_edoc(b"<edXML/>", sender=OFFICE)
    assert raised.value.in_doubt is False


async def test_a_timeout_after_the_request_was_written_is_in_doubt(
    simulator: AxisSimulator,
) -> None:
    simulator.faults.set(FaultPlan(late_answer_rate=1.0, late_answer_seconds=2))
    async with client_for(simulator, "00.42.W00", timeout_seconds=0.3) as axis:
        with pytest.raises(AxisTransientError) as raised:
            await axis.received_list()
    assert raised.value.in_doubt is True


async def test_retry_after_is_honoured_and_uses_no_step_of_the_schedule(
    live_store: Store, simulator: AxisSimulator, tmp_path: Path
) -> None:
    """An announced outage (503 with Retry-After) is waited out as asked, not hammered by the
    schedule's short first steps, and does not exhaust the schedule."""
    blobs = BlobStore(tmp_path / "blobs")
    message_id = await _accept(live_store, blobs, 1)
    simulator.faults.set(FaultPlan(outage_seconds=2.0))
    short = RetryPolicy(delays_seconds=(0.05, 0.05), jitter=0.0)
    async with client_for(simulator, "00.42.W00") as axis:
        dispatcher = Dispatcher(live_store, blobs, {"axis": AxisDestination(axis)}, retry=short)

        async def sent() -> bool:
            return (await live_store.counts_by_state()) == {"sent": 1}

        await _run_embedded(dispatcher, sent)
    view = await live_store.message(message_id)
    assert view is not None
    delivery = view.deliveries[0]
    # the schedule would have given up after 3 attempts in 0.1 s; Retry-After made it wait
    assert delivery.attempts == 2
    first, second = (e.at for e in delivery.events if e.to_state == "sending")
    (asked,) = (d for d in _details(view) if "asked to wait" in d)
    waited = float(asked.rsplit("asked to wait ", 1)[1].split(" s)")[0])
    assert waited >= 1
    assert (second - first).total_seconds() >= waited


def test_an_announced_outage_asks_for_the_whole_seconds_left_rounded_up() -> None:
    """A client that waits as asked must come back after the maintenance: 1.4 s left is
    announced as 2, not 1 (it would come back 0.4 s early and be refused again)."""
    now = [100.0]
    faults = FaultInjector(FaultPlan(outage_seconds=2.0), clock=lambda: now[0])
    assert faults.outage_retry_after == 2
    now[0] += 0.6
    assert faults.outage_retry_after == 2
    now[0] += 1.3
    assert faults.outage_retry_after == 1
    now[0] += 0.2
    assert faults.draw() is None


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Tue, 01 Dec 2026 08:05:00 GMT", now=now) == 300
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


async def test_a_recovered_axis_drains_without_the_tail_of_the_schedule(
    live_store: Store, simulator: AxisSimulator, tmp_path: Path
) -> None:
    """Deliveries that failed during an outage wait an hour by the schedule; the first
    success after it makes them all due at once (fewer failures than open the circuit)."""
    blobs = BlobStore(tmp_path / "blobs")
    hourly = RetryPolicy(delays_seconds=(3600,), jitter=0.0)
    failed = [await _accept(live_store, blobs, number) for number in range(1, 6)]
    simulator.faults.set(FaultPlan(burst_5xx=5))
    async with client_for(simulator, "00.42.W00") as axis:
        dispatcher = Dispatcher(
            live_store, blobs, {"axis": AxisDestination(axis)}, retry=hourly, circuit_failures=10
        )

        async def waiting() -> bool:
            return (await live_store.counts_by_state()) == {"retry_wait": 5}

        await _run_embedded(dispatcher, waiting)
        await _accept(live_store, blobs, 6)  # the axis is back: this one goes through

        async def drained() -> bool:
            return (await live_store.counts_by_state()) == {"sent": 6}

        await _run_embedded(dispatcher, drained)
    view = await live_store.message(failed[0])
    assert any("answers again" in d for d in _details(view))
    assert _copies(simulator, VPCP) == 6


async def test_a_probe_notices_a_recovered_axis_when_nothing_new_is_sent(
    live_store: Store, simulator: AxisSimulator, tmp_path: Path
) -> None:
    """No new document comes to prove the axis is back: the probe does, and the waiting
    deliveries go at once instead of after their hour."""
    blobs = BlobStore(tmp_path / "blobs")
    hourly = RetryPolicy(delays_seconds=(3600,), jitter=0.0)
    failed = [await _accept(live_store, blobs, number) for number in range(1, 6)]
    simulator.faults.set(FaultPlan(outage_seconds=0.6))
    async with client_for(simulator, "00.42.W00") as axis:
        dispatcher = Dispatcher(live_store, blobs, {"axis": AxisDestination(axis)}, retry=hourly)
        stop = asyncio.Event()
        watcher = asyncio.create_task(dispatcher.watch_recovery(stop=stop, every_seconds=0.2))
        try:

            async def drained() -> bool:
                return (await live_store.counts_by_state()) == {"sent": 5}

            await _run_embedded(dispatcher, drained)
        finally:
            stop.set()
            await watcher
    view = await live_store.message(failed[0])
    details = _details(view)
    assert any("failed" in d for d in details)  # it did wait on the schedule first
    assert any("answers again" in d for d in details)
    assert _copies(simulator, VPCP) == 5


async def test_a_failing_axis_opens_its_circuit_and_a_probe_closes_it(
    live_store: Store, simulator: AxisSimulator, tmp_path: Path
) -> None:
    """After three failures in a row the axis is not called (one trial per interval); the
    operator's probe, once it is back, closes the circuit and the waiting deliveries go at
    once; the dashboard shows the circuit and the probe's answer."""
    from aiohttp import web

    from adapters.redis.feed import LocalFeed
    from gateway.http.dashboard.accounts import create_user
    from gateway.http.dashboard.web import DashboardContext, build_dashboard

    from .flows import serving

    blobs = BlobStore(tmp_path / "blobs")
    slow_retry = RetryPolicy(delays_seconds=(2.0, 2.0, 2.0, 2.0), jitter=0.0)
    for number in range(1, 9):
        await _accept(live_store, blobs, number)
    simulator.faults.set(FaultPlan(outage_seconds=3600))
    async with client_for(simulator, "00.42.W00") as axis:
        dispatcher = Dispatcher(
            live_store, blobs, {"axis": AxisDestination(axis)}, retry=slow_retry,
            circuit_failures=3, limit_per_destination=1,
        )  # fmt: skip

        async def waiting() -> bool:
            return (await live_store.counts_by_state()) == {"retry_wait": 8}

        await _run_embedded(dispatcher, waiting)
        assert dispatcher.circuits.is_open("axis")
        details = [d for i in range(1, 9) for d in _details(await _view(live_store, i))]
        called = [d for d in details if "failed:" in d and "circuit open" not in d]
        assert len(called) == 3  # the rest never reached the axis
        assert sum("circuit open" in d for d in details) == 5
        assert (await live_store.circuits())["axis"]["state"] == "open"

        await create_user(
            live_store, username="binhtt.vp", full_name="Bình", unit="VP", role="clerk",
            agencies=["*.H42"], password="mat-khau-thu-nghiem",
        )  # fmt: skip
        app = web.Application()
        context = DashboardContext(live_store, blobs, LocalFeed(), probe=dispatcher.probe_now)
        app.add_subapp("/dashboard", build_dashboard(context))
        simulator.faults.set(FaultPlan())  # the axis is back
        async with (
            serving(app) as url,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
        ):
            async with http.get(f"{url}/dashboard/login") as page:
                csrf = (await page.text()).split('name="csrf" value="', 1)[1].split('"', 1)[0]
            form = {"csrf": csrf, "username": "binhtt.vp", "password": "mat-khau-thu-nghiem"}
            async with http.post(f"{url}/dashboard/login", data=form) as page:
                overview = await page.text()
            assert "đang ngắt" in overview.split('id="destinations"', 1)[1]
            csrf = overview.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            async with http.post(
                f"{url}/dashboard/destinations/axis/probe", data={"csrf": csrf}
            ) as r:
                page = await r.text()
            assert "các lượt đang chờ được gửi ngay" in page
            assert "trả lời bình thường" in page.split('id="destinations"', 1)[1]

        async def drained() -> bool:
            return (await live_store.counts_by_state()) == {"sent": 8}

        await _run_embedded(dispatcher, drained)  # at once: no wait for the schedule
    assert not dispatcher.circuits.is_open("axis")
    assert (await live_store.circuits())["axis"]["state"] == "closed"


async def _view(store: Store, number: int) -> object:
    ids = await store.sent_ids(["*"], SentSearch(text=f"{number:02d}/UBND-VP"))
    view = await store.message(ids[0])
    assert view is not None
    return view
