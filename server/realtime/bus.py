"""The event bus: committed mutations in, subscription fan-out out.

A small interface so that one node runs the in-process `LocalBus` and several nodes can later
share Redis or NATS behind the same two calls. Events are published *after* the write
committed (the publisher wraps the mutation resolvers, see `server.realtime.publish`), so a
subscriber never sees a write that was rolled back.

`LocalBus` hands every event to each subscriber through a bounded queue: a publisher waits when a
consumer is `max_pending` events behind (back-pressure on writers, never unbounded memory).
The real-time registry is the only consumer in practice, and it is fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.auth.identity import Identity

__all__ = ["EventBus", "LocalBus", "MutationEvent", "Subscription"]


@dataclass(frozen=True, kw_only=True, slots=True)
class MutationEvent:
    """One committed mutation field: what `@aws_subscribe(mutations: [...])` subscribers receive.

    `result` is the value the mutation's resolver returned (the stored item for generated
    mutations, whatever a custom resolver returned otherwise); it becomes the root value of the
    subscription field.
    """

    mutation: str
    result: Any
    arguments: Mapping[str, Any] = field(default_factory=dict)
    identity: Identity | None = None
    #: `time.perf_counter()` at publication, for latency metrics (None when not measured).
    published_at: float | None = None


class EventBus(Protocol):
    """Publish committed mutations; iterate over them (each subscriber sees every event once)."""

    async def publish(self, event: MutationEvent) -> None: ...

    def subscribe(self) -> AsyncIterator[MutationEvent]:
        """An iterator of the events published from now on; close it (`aclose`) to leave."""
        ...


class LocalBus:
    """In-process bus: one bounded queue per subscriber, events in publication order."""

    def __init__(self, *, max_pending: int = 10_000) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self._max_pending = max_pending
        self._queues: list[asyncio.Queue[MutationEvent | None]] = []
        self.published = 0

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    async def publish(self, event: MutationEvent) -> None:
        self.published += 1
        for q in list(self._queues):
            await q.put(event)

    def subscribe(self) -> Subscription:
        # Registered now, not at the first iteration: no event published after this call is missed.
        q: asyncio.Queue[MutationEvent | None] = asyncio.Queue(self._max_pending)
        self._queues.append(q)
        return Subscription(self._queues, q)


class Subscription:
    """A `LocalBus` subscriber's iterator; it leaves the bus on `aclose()` or when it is garbage
    collected, started or not. Not an async generator on purpose: a generator that was never
    started runs no `finally` on either, so its queue stayed registered and, once
    `max_pending` events filled it, blocked every publisher for good."""

    def __init__(self, queues: list[asyncio.Queue[MutationEvent | None]], q: asyncio.Queue[MutationEvent | None]) -> None:
        self._queues: list[asyncio.Queue[MutationEvent | None]] | None = queues
        self._q = q

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> MutationEvent:
        if self._queues is None:
            raise StopAsyncIteration
        event = await self._q.get()
        if event is None:  # closed while waiting
            raise StopAsyncIteration
        return event

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        """Leave the bus (idempotent); a pending `__anext__` ends with StopAsyncIteration."""
        if self._leave() and not self._q.full():  # a reader waits only on an empty queue: wake it
            self._q.put_nowait(None)

    def _leave(self) -> bool:
        queues, self._queues = self._queues, None
        if queues is None:
            return False
        queues.remove(self._q)
        return True

    def __del__(self) -> None:
        # Garbage: nobody waits on it (a waiting reader holds a reference), and its loop may be
        # closed already, so leave the bus without waking anyone.
        self._leave()
