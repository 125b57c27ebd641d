"""RabbitMQ as the work queue (aio-pika): durable, confirmed, acknowledged, delayed by TTL.

Topology (names under ``prefix``, so test runs and deployments never share queues)::

    <prefix>.work (direct) --"deliveries"--> <prefix>.deliveries --rejected--> <prefix>.dead
    <prefix>.delay.<ms>  (TTL ms, dead-letters back to <prefix>.work/"deliveries")
    <prefix>.dead (direct) --"dead"--> <prefix>.deliveries.dead   (poison messages)

A message carries a delivery id and an attempt number (JSON), never package bytes; it is
persistent, published with ``mandatory=True`` on a channel with publisher confirms and
``on_return_raises=True`` (otherwise an unroutable message vanishes), so
``publish`` returns only once the broker has it. Consumers acknowledge manually after the
store has recorded the outcome; ``prefetch`` bounds what one worker holds. A delay is rounded
down to a tier; a consumer that gets a message early sends it round again for the rest.

Driver errors are mapped here: ``BrokerUnavailable`` (a ``TransportError``) when RabbitMQ
cannot be reached or drops the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aio_pika
import aio_pika.abc
import aiormq.exceptions

from adapters.errors import TransportError

__all__ = ["AmqpBroker", "AmqpSettings", "BrokerUnavailable", "PoisonMessage", "WorkItem"]

log = logging.getLogger(__name__)

ROUTING_KEY = "deliveries"
MAX_PRIORITY = 3
PUBLISH_TIMEOUT = 10.0  # seconds for the broker's confirm
DEFAULT_TIERS = (1.0, 5.0, 30.0, 120.0, 600.0, 1800.0, 7200.0, 21600.0)


class BrokerUnavailable(TransportError):
    """RabbitMQ could not be reached, or refused or lost a message in flight."""


@dataclass(frozen=True, slots=True)
class AmqpSettings:
    url: str  # amqp://guest:guest@127.0.0.1:5672/
    prefix: str = "edxml"
    prefetch: int = 100
    delay_tiers_seconds: tuple[float, ...] = DEFAULT_TIERS


@dataclass(frozen=True, slots=True)
class WorkItem:
    delivery_id: str
    attempt: int
    priority: int = 0  # the document's OtherInfo/Priority (0 normal .. 3 most urgent)


Handler = Callable[[WorkItem], Awaitable[float | None]]
"""Perform one item; return None when done (ack), or seconds after which to see it again."""


_CONNECTION_ERRORS = (
    TimeoutError,
    OSError,
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
)


@dataclass
class _Link:
    connection: aio_pika.abc.AbstractConnection
    channel: aio_pika.abc.AbstractChannel
    work: aio_pika.abc.AbstractExchange
    queue: aio_pika.abc.AbstractQueue


@dataclass(frozen=True, slots=True)
class PoisonMessage:
    """A message of the poison queue, as an operator inspects it."""

    message_id: str | None
    head: bytes  # its first 200 bytes
    timestamp: dt.datetime | None


class AmqpBroker:
    """Publisher and consumer on separate connections, each re-opened after a loss.

    aio-pika's robust connection is not used: after a server-side close its channels could
    not be restored here, so reconnection is explicit (``publish`` reconnects lazily and
    raises ``BrokerUnavailable`` meanwhile; ``run_consumer`` loops until stopped).
    """

    def __init__(self, settings: AmqpSettings) -> None:
        self.settings = settings
        self._publisher: _Link | None = None
        self._tiers = tuple(sorted(settings.delay_tiers_seconds))
        self._publish_lock = asyncio.Lock()
        self._in_flight: set[asyncio.Future[float | None]] = set()

    def _name(self, suffix: str) -> str:
        return f"{self.settings.prefix}.{suffix}"

    def delay_queue(self, seconds: float) -> tuple[str, float]:
        """The tier queue for a delay of ``seconds``: the longest tier not longer than it.

        A message may so come back early, never late; the consumer then finds its delivery
        not yet due and sends it round a shorter tier for the rest (1 s, 5 s ... converge).
        """
        tier = next((t for t in reversed(self._tiers) if t <= seconds), self._tiers[0])
        return self._name(f"delay.{int(tier * 1000)}"), tier

    async def _open(self, *, prefetch: int) -> _Link:
        """A connection and channel with the whole topology declared (idempotent)."""
        try:
            connection = await aio_pika.connect(self.settings.url, timeout=10)
        except _CONNECTION_ERRORS as exc:
            raise BrokerUnavailable(f"RabbitMQ is unreachable: {exc}") from exc
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await channel.set_qos(prefetch_count=prefetch)
            work = await channel.declare_exchange(
                self._name("work"), aio_pika.ExchangeType.DIRECT, durable=True
            )
            dead = await channel.declare_exchange(
                self._name("dead"), aio_pika.ExchangeType.DIRECT, durable=True
            )
            queue = await channel.declare_queue(
                self._name("deliveries"),
                durable=True,
                arguments={
                    "x-dead-letter-exchange": dead.name,
                    "x-dead-letter-routing-key": "dead",
                    # Urgent documents (Priority >= 1) overtake the others in the queue.
                    "x-max-priority": MAX_PRIORITY,
                },
            )
            await queue.bind(work, ROUTING_KEY)
            poison = await channel.declare_queue(self._name("deliveries.dead"), durable=True)
            await poison.bind(dead, "dead")
            for tier in self._tiers:
                await channel.declare_queue(
                    self.delay_queue(tier)[0],
                    durable=True,
                    arguments={
                        "x-message-ttl": int(tier * 1000),
                        "x-dead-letter-exchange": work.name,
                        "x-dead-letter-routing-key": ROUTING_KEY,
                    },
                )
        except _CONNECTION_ERRORS as exc:
            await connection.close()
            raise BrokerUnavailable(f"RabbitMQ refused the topology: {exc}") from exc
        return _Link(connection, channel, work, queue)

    async def connect(self) -> None:
        """Open the publishing connection (and declare the topology) now, not lazily."""
        await self._link()

    async def _link(self) -> _Link:
        link = self._publisher
        if link is None or link.connection.is_closed or link.channel.is_closed:
            link = self._publisher = await self._open(prefetch=self.settings.prefetch)
        return link

    async def close(self) -> None:
        if self._publisher is not None:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await self._publisher.connection.close()
            self._publisher = None

    async def __aenter__(self) -> AmqpBroker:
        await self.connect()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def publish(self, item: WorkItem, *, delay_seconds: float = 0.0) -> None:
        """Hand one item to RabbitMQ; returns once it is confirmed (persisted and routed)."""
        async with self._publish_lock:
            link = await self._link()
        message = aio_pika.Message(
            json.dumps(
                {
                    "delivery_id": item.delivery_id,
                    "attempt": item.attempt,
                    "priority": item.priority,
                }
            ).encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=f"{item.delivery_id}:{item.attempt}",
            priority=max(0, min(item.priority, MAX_PRIORITY)),
        )
        try:
            if delay_seconds <= 0:
                confirmed = link.work.publish(message, routing_key=ROUTING_KEY, mandatory=True)
            else:
                queue, _ = self.delay_queue(delay_seconds)
                confirmed = link.channel.default_exchange.publish(
                    message, routing_key=queue, mandatory=True
                )
            # A connection that died silently must not hold the publisher forever.
            await asyncio.wait_for(confirmed, PUBLISH_TIMEOUT)
        except (aio_pika.exceptions.DeliveryError, aio_pika.exceptions.PublishError) as exc:
            raise BrokerUnavailable(f"RabbitMQ did not take the message: {exc}") from exc
        except _CONNECTION_ERRORS as exc:
            self._publisher = None  # reopened by the next publish
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await link.connection.close()
            raise BrokerUnavailable(f"RabbitMQ connection lost while publishing: {exc}") from exc

    async def publish_many(self, items: Sequence[tuple[WorkItem, float]]) -> None:
        await asyncio.gather(*(self.publish(item, delay_seconds=delay) for item, delay in items))

    async def run_consumer(self, handler: Handler, *, stop: asyncio.Event) -> None:
        """Deliver items to ``handler`` until ``stop``, reconnecting after any loss.

        Each message is acknowledged after the handler returned (and after a delayed copy
        was published when it asked for one); a connection lost before that leaves the
        message unacknowledged, and RabbitMQ delivers it again.
        """
        backoff = 0.2
        while not stop.is_set():
            try:
                link = await self._open(prefetch=self.settings.prefetch)
            except BrokerUnavailable as exc:
                log.warning("consumer: %s; retrying in %.1f s", exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.2
            lost = asyncio.Event()
            link.connection.close_callbacks.add(lambda *_, lost=lost: lost.set())
            try:
                await link.queue.consume(self._on_message(handler), no_ack=False)
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())]
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
            except _CONNECTION_ERRORS as exc:
                log.warning("consumer: connection lost (%s); reconnecting", exc)
            finally:
                with contextlib.suppress(*_CONNECTION_ERRORS):
                    await link.connection.close()
        if self._in_flight:  # let started attempts record their outcome before returning
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _on_message(
        self, handler: Handler
    ) -> Callable[[aio_pika.abc.AbstractIncomingMessage], Awaitable[None]]:
        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            try:
                body = json.loads(message.body)
                item = WorkItem(
                    str(body["delivery_id"]), int(body["attempt"]), int(body.get("priority", 0))
                )
            except (ValueError, KeyError, TypeError):
                log.error("poison message %s: not a work item", message.message_id)
                await message.reject(requeue=False)  # -> <prefix>.deliveries.dead
                return
            # The work runs in its own task, shielded: when the channel dies, aio-pika cancels
            # this callback, but an attempt half-way through a request must finish and record
            # its outcome, or it would be sent again (the redelivered message then finds it
            # done and is dropped).
            work = asyncio.ensure_future(handler(item))
            self._in_flight.add(work)
            work.add_done_callback(self._in_flight.discard)
            try:
                again_in = await asyncio.shield(work)
            except Exception:
                log.exception("work item %s failed; it comes back later", message.message_id)
                again_in = self._tiers[1] if len(self._tiers) > 1 else self._tiers[0]
            try:
                if again_in is not None:
                    await self.publish(item, delay_seconds=again_in)
                await message.ack()
            except (BrokerUnavailable, *_CONNECTION_ERRORS) as exc:
                # Give it back now: unacknowledged on a live channel it would wait for that
                # channel to close before RabbitMQ delivered it again.
                log.warning("work item %s returned to the queue (%s)", item, exc)
                with contextlib.suppress(*_CONNECTION_ERRORS):
                    await message.nack(requeue=True)

        return on_message

    async def poison(self, limit: int = 20) -> list[PoisonMessage]:
        """A look at the poison queue (messages that were not work items): up to ``limit``,
        left where they are. The store is the truth, so none of them is a lost document."""
        link = await self._link()
        channel = await link.connection.channel()
        try:
            queue = await channel.declare_queue(self._name("deliveries.dead"), passive=True)
            taken: list[aio_pika.abc.AbstractIncomingMessage] = []
            while len(taken) < limit:
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                taken.append(message)
            seen = [
                PoisonMessage(message.message_id, bytes(message.body[:200]), message.timestamp)
                for message in taken
            ]
        finally:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await channel.close()  # what was taken and not acknowledged goes back
        return seen

    async def drain_poison(self) -> int:
        """Empty the poison queue; returns how many messages it held."""
        link = await self._link()
        channel = await link.connection.channel()
        drained = 0
        try:
            queue = await channel.declare_queue(self._name("deliveries.dead"), passive=True)
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                await message.ack()
                drained += 1
        finally:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await channel.close()
        return drained

    async def depth(self) -> dict[str, int]:
        """Messages waiting: work queue and poison queue (for health and metrics)."""
        link = await self._link()
        # A fresh passive declare on the underlying channel: aio-pika's Queue objects keep the
        # counts of their first declaration.
        underlay = await link.channel.get_underlay_channel()
        depths = {}
        for suffix in ("deliveries", "deliveries.dead"):
            declared = await underlay.queue_declare(self._name(suffix), passive=True)
            depths[suffix] = int(declared.message_count or 0)
        return depths

    async def delete_all(self) -> None:
        """Remove this prefix's exchanges and queues (tests)."""
        link = await self._link()
        names = ["deliveries", "deliveries.dead"] + [
            self.delay_queue(t)[0].removeprefix(self.settings.prefix + ".") for t in self._tiers
        ]
        for suffix in names:
            await link.channel.queue_delete(self._name(suffix))
        for suffix in ("work", "dead"):
            await link.channel.exchange_delete(self._name(suffix))
