"""The QLVB's end of the deployed benches' webhooks: a bare HTTP/1.1 stand-in."""

from __future__ import annotations

import asyncio
import threading

__all__ = ["WebhookReceiver"]


class WebhookReceiver:
    """The QLVB's end of the webhooks: counts what it is sent and answers 204, keeping the
    connection open between calls (HTTP/1.1), on a loop of its own in a thread.

    A QLVB's web server runs on its own machine; this stand-in shares the deployment's, so
    it does no more than HTTP needs (the request's head, its ``Content-Length`` body, the
    answer): a full HTTP server here took more CPU per webhook than the gateway's send."""

    def __init__(self) -> None:
        self.received = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            self._loop.create_server(lambda: _WebhookProtocol(self), "127.0.0.1", 0), self._loop
        ).result(timeout=30)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks"

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class _WebhookProtocol(asyncio.Protocol):
    """One connection: each request (head, then ``Content-Length`` bytes) answered 204."""

    NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"

    def __init__(self, receiver: WebhookReceiver) -> None:
        self._receiver = receiver
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in bytes(self._buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return  # the body is still coming
            del self._buffer[: end + 4 + length]
            self._receiver.received += 1
            assert self._transport is not None
            self._transport.write(self.NO_CONTENT)
