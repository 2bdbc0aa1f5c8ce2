"""The real-time adapter: graphql-transport-ws over aiohttp, feeding the sans-IO core."""

from __future__ import annotations

import asyncio
from typing import Any, Mapping

import aiohttp

from ._auth import Auth, request_headers
from ._errors import NetworkError, SyncTimeout
from ._ws_protocol import Acked, Completed, Next, OpError, Pong, ProtocolError, TransportWsClient

__all__ = ["Subscription"]


class Subscription:
    """One WebSocket carrying the model subscriptions; events land in `events` as
    (operation id, payload); the socket closing puts `None`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._core = TransportWsClient()
        self.events: asyncio.Queue[tuple[str, Mapping[str, Any]] | None] = asyncio.Queue()
        self.errors: dict[str, list[Any]] = {}
        self._pongs: asyncio.Queue[Any] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, url: str, auth: Auth | None, *, timeout: float | None
    ) -> "Subscription":
        # SigV4: the server checks a signed GET of the WebSocket URL, body empty (docs/auth.md).
        headers = await request_headers(auth, "GET", url, {}, b"")
        try:
            async with asyncio.timeout(timeout):
                ws = await session.ws_connect(url, protocols=["graphql-transport-ws"], heartbeat=None)
                self = cls(ws)
                self._core.init(headers)
                await self._flush()
                while not self._core.acked:
                    msg = await ws.receive()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        await ws.close()
                        raise NetworkError(f"WebSocket closed before connection_ack ({msg.type.name}, {msg.data!r})")
                    self._core.receive(msg.data)
                    await self._flush()
        except TimeoutError as exc:
            raise SyncTimeout(f"no connection_ack from {url} within {timeout} s") from exc
        except (aiohttp.ClientError, OSError, ProtocolError) as exc:
            raise NetworkError(f"{url} (WebSocket): {exc!r}") from exc
        self._reader = asyncio.create_task(self._read())
        return self

    async def _flush(self) -> None:
        for frame in self._core.data_to_send():
            await self._ws.send_str(frame)

    async def subscribe(self, id: str, query: str) -> None:
        self._core.subscribe(id, query)
        await self._flush()

    async def barrier(self, timeout: float | None) -> None:
        """Ping and wait for the pong: the server has read every frame sent before it."""
        self._core.ping({"barrier": True})
        await self._flush()
        try:
            async with asyncio.timeout(timeout):
                await self._pongs.get()
        except TimeoutError as exc:
            raise SyncTimeout("no pong on the WebSocket") from exc

    async def _read(self) -> None:
        try:
            async for msg in self._ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                for ev in self._core.receive(msg.data):
                    if isinstance(ev, Next):
                        self.events.put_nowait((ev.id, ev.payload))
                    elif isinstance(ev, Pong):
                        self._pongs.put_nowait(ev.payload)
                    elif isinstance(ev, OpError):
                        self.errors[ev.id] = ev.errors
                    elif isinstance(ev, (Acked, Completed)):
                        pass
                await self._flush()
        except (aiohttp.ClientError, OSError, ProtocolError):
            pass
        finally:
            self.events.put_nowait(None)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                if (t := asyncio.current_task()) is not None and t.cancelling():
                    raise
        try:
            await self._ws.close()
        except (aiohttp.ClientError, OSError):
            pass
