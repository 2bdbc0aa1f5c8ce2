"""aiohttp WebSocket ↔ amqtt stream adapters (MQTT over WebSocket on the server's own port).

amqtt's broker reads and writes through `ReaderAdapter` / `WriterAdapter`; these feed it an
aiohttp `WebSocketResponse`. The reader waits on the socket with no timeout of its own: MQTT's
keep-alive (enforced by amqtt from the CONNECT's keep_alive) is the only idle limit, so an idle
subscriber is never dropped for being quiet (amqtt's integration sample used a 0.5 s read
timeout, which disconnects every quiet subscriber).

The writer bounds what one connection may hold: packets whose send has not finished and bytes
buffered in the transport. Past either limit the connection is a slow consumer: it is aborted,
its pending packets dropped, so a subscriber that stops reading never grows the server's memory.
`on_drop(n, closing)` hears how many packets a slow consumer lost: its backlog when it is found
out (`closing`), then each packet amqtt writes to it while it closes.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from aiohttp import WSMsgType, web
from amqtt.adapters import ReaderAdapter, WriterAdapter

__all__ = ["StreamReader", "WebSocketReader", "WebSocketWriter"]

log = logging.getLogger("syncline.mqtt")


class WebSocketReader(ReaderAdapter):  # type: ignore[misc]
    """Binary WebSocket frames → the byte stream amqtt parses (frames may split packets)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self._ws = ws
        self._buf = bytearray()
        self._eof = False

    async def read(self, n: int = -1) -> bytes:
        while not self._eof and (len(self._buf) < n if n > 0 else not self._buf):
            msg = await self._ws.receive()  # no timeout: MQTT keep-alive is the idle limit
            if msg.type is WSMsgType.BINARY:
                self._buf.extend(msg.data)
            elif msg.type is WSMsgType.TEXT:
                log.warning("MQTT over WebSocket takes binary frames only; closing")
                self._eof = True
            else:  # CLOSE, CLOSING, CLOSED, ERROR
                self._eof = True
        if n < 0 or n >= len(self._buf):
            data = bytes(self._buf)
            self._buf.clear()
        else:
            data = bytes(self._buf[:n])
            del self._buf[:n]
        return data

    def feed_eof(self) -> None:
        self._eof = True

    def unread(self, data: bytes) -> None:
        """Put back bytes read before the broker took over (the CONNECT the adapter checked)."""
        self._buf[:0] = data


class StreamReader(ReaderAdapter):  # type: ignore[misc]
    """An asyncio stream for amqtt (the TCP listener), with bytes put back in front."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buf = bytearray()

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            data = bytes(self._buf) + await self._reader.read(65536)
            self._buf.clear()
            return data
        if len(self._buf) >= n:
            data = bytes(self._buf[:n])
            del self._buf[:n]
            return data
        head = bytes(self._buf)
        self._buf.clear()
        try:
            return head + await self._reader.readexactly(n - len(head))
        except asyncio.IncompleteReadError as exc:
            return head + exc.partial
        except (ConnectionError, OSError):
            return head

    def feed_eof(self) -> None:
        self._reader.feed_eof()

    def unread(self, data: bytes) -> None:
        self._buf[:0] = data


class WebSocketWriter(WriterAdapter):  # type: ignore[misc]
    """amqtt's packets → binary frames, with a bounded send queue (see the module docstring)."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        *,
        max_pending: int,
        max_bytes: int,
        on_drop: Callable[[int, bool], None] | None = None,
    ) -> None:
        self._ws = ws
        self._request = request
        self._buf = bytearray()
        self._buf_packets = 0  # amqtt writes one whole packet per write()
        self._on_drop = on_drop
        self._max_pending = max_pending
        self._max_bytes = max_bytes
        self._pending = 0
        self._flusher: asyncio.Task[None] | None = None
        self.slow = False

    def write(self, data: bytes) -> None:
        if self.slow or self._ws.closed:
            self._dropped(1, False)
            return
        self._buf.extend(data)
        self._buf_packets += 1
        transport = self._request.transport
        buffered = transport.get_write_buffer_size() if transport is not None else 0
        if self._pending >= self._max_pending or buffered + len(self._buf) > self._max_bytes:
            self._slow_consumer(buffered)

    async def drain(self) -> None:
        while self._buf and not self.slow:
            data = bytes(self._buf)
            self._buf.clear()
            self._buf_packets = 0
            self._pending += 1
            try:
                await self._ws.send_bytes(data)
            except (ConnectionError, RuntimeError):  # closed meanwhile: the reader sees EOF
                self._buf.clear()
                self._buf_packets = 0
            finally:
                self._pending -= 1

    def write_now(self, frame: bytes) -> bool:
        """Send one whole packet without a task (the broker's QoS 0 fan-out).

        With nothing queued and an empty transport buffer, aiohttp writes the frame before its
        only await point (flow control), so driving `send_bytes` one step sends it. Otherwise
        the packet joins the bounded buffer, after what is queued, and one flush task sends it.
        False: not sent because this connection is a slow consumer (the caller counts it).
        """
        if self.slow or self._ws.closed:
            return not self.slow  # the broker counts what a slow consumer is not sent
        transport = self._request.transport
        if not self._buf and not self._pending and transport is not None and transport.get_write_buffer_size() == 0:
            coro = self._ws.send_bytes(frame)
            try:
                coro.send(None)
            except StopIteration:
                return True
            except Exception as exc:  # noqa: BLE001 - the peer went away; the reader sees EOF
                log.debug("direct MQTT write failed: %s", exc)
                return True
            coro.close()  # stopped at the drain after writing: the next packet queues
            return True
        self.write(frame)  # past a limit this drops the backlog, this frame included, and counts it
        if not self.slow and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.ensure_future(self.drain())
        return True

    def get_peer_info(self) -> tuple[str, int] | None:
        transport = self._request.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        if isinstance(peer, (tuple, list)) and len(peer) >= 2:
            return str(peer[0]), int(peer[1])
        return ("unknown", 0)

    def get_ssl_info(self) -> ssl.SSLObject | None:
        transport = self._request.transport
        obj = transport.get_extra_info("ssl_object") if transport is not None else None
        return obj if isinstance(obj, ssl.SSLObject) else None

    async def close(self) -> None:
        self._buf.clear()
        self._buf_packets = 0
        if not self._ws.closed:
            await self._ws.close()

    def _slow_consumer(self, buffered: int) -> None:
        log.warning(
            "disconnecting a slow MQTT consumer from %s: %d packets in flight, %d bytes buffered",
            self._request.remote,
            self._pending,
            buffered + len(self._buf),
        )
        self.slow = True
        self._dropped(self._buf_packets, True)
        self._buf.clear()
        self._buf_packets = 0
        transport = self._request.transport
        if transport is not None:
            transport.abort()

    def _dropped(self, n: int, closing: bool) -> None:
        if self.slow and self._on_drop is not None and (n or closing):
            self._on_drop(n, closing)
