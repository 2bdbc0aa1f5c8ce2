"""SyncClient: the app's handle on the replica, and the sync loop that keeps it in step.

The loop (only in the process holding the replica's leader lock):
  subscribe first (onCreate/onUpdate/onDelete per model, graphql-transport-ws; events wait in
  the inbox) → delta sync every model from its cursor → drain the outbox in order → apply the
  buffered events → "ready"; then serve the inbox (events, local-write kicks, sync requests,
  a periodic poll) until the connection fails → "offline", back off with jitter, start again.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Literal, Mapping, Sequence

import aiohttp

from ._auth import Auth, SigningAuth
from ._client_http import HttpTransport
from ._client_ws import Subscription
from ._documents import WireMutation, batch_document, get_document, subscription_documents, sync_document
from ._errors import AuthRejected, LocalError, NetworkError, RemoteError, ServerError
from ._leader import LeaderLock
from ._mqtt import MqttSubscription, check_available
from ._model import INTROSPECTION_QUERY, ModelDef, models_from_introspection
from ._outbox import (
    DISCARD,
    backoff_delay,
    classify_error,
    plan_batch,
    resolve_conflict,
)
from ._replica import Change, ConflictRecord, DeadLetter, Entry, Replica

__all__ = ["ConflictHandler", "ModelHandle", "Status", "SyncClient", "Timeouts"]

log = logging.getLogger("client_sdk")

ConflictHandler = Callable[[Mapping[str, Any] | None, Mapping[str, Any], int], Any]
State = Literal["offline", "syncing", "ready", "follower", "closed"]
Realtime = Literal["websocket", "mqtt"]


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Per-operation timeouts in seconds (None: none). Applied only by the adapters."""

    request: float | None = 30.0
    connect: float | None = 10.0


@dataclass(frozen=True, kw_only=True)
class Status:
    """`state`: offline / syncing / ready (or follower: another process syncs this file);
    `pending`: outbox entries not yet acknowledged; `error`: why we are offline."""

    state: State
    pending: int
    error: str | None = None


class _Stream:
    """An async iterator over a broadcast queue; registered at creation, so nothing that
    happens after `observe()`/`status()` returns is missed. Close it (or `async with`)."""

    def __init__(self, subscribers: list[asyncio.Queue[Any]], accept: Callable[[Any], bool] = lambda _: True) -> None:
        self._subs = subscribers
        self._q: asyncio.Queue[Any] = asyncio.Queue()
        self._accept = accept
        subscribers.append(self._q)

    def put(self, item: Any) -> None:
        self._q.put_nowait(item)

    def __aiter__(self) -> "_Stream":
        return self

    async def __anext__(self) -> Any:
        while True:
            item = await self._q.get()
            if item is _CLOSED:
                raise StopAsyncIteration
            if self._accept(item):
                return item

    async def aclose(self) -> None:
        with contextlib.suppress(ValueError):
            self._subs.remove(self._q)

    async def __aenter__(self) -> "_Stream":
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self.aclose()


_CLOSED = object()


class ModelHandle:
    """CRUD, queries and change streams for one model of the replica."""

    def __init__(self, client: "SyncClient", name: str) -> None:
        self._c = client
        self.name = name

    async def save(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Create `item` (or update it, if its id is already in the replica). Returns the local
        row at once, online or not; the outbox carries the change to the server."""
        rid = item.get("id")
        if rid is not None and await self._c._replica.get(self.name, rid) is not None:
            return await self.update(rid, item)
        ch = await self._c._replica.local_write(self.name, "create", item, rid)
        await self._c._local_change(ch)
        return dict(ch.item)

    async def update(self, id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        ch = await self._c._replica.local_write(self.name, "update", changes, id)
        await self._c._local_change(ch)
        return dict(ch.item)

    async def delete(self, id: str) -> None:
        ch = await self._c._replica.local_write(self.name, "delete", {}, id)
        await self._c._local_change(ch)

    async def get(self, id: str) -> dict[str, Any] | None:
        return await self._c._replica.get(self.name, id)

    async def query(
        self,
        *,
        where: Mapping[str, Any] | None = None,
        order_by: str | list[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Rows of the replica (deleted ones hidden) matching AppSync-style `where` filters.

        Raises:
            InvalidQuery: an unknown field or operator.
        """
        return await self._c._replica.query(self.name, where=where, order_by=order_by, limit=limit, offset=offset)

    def observe(self) -> "_Stream":
        """Changes to this model, local and remote, as they happen."""
        name = self.name
        return _Stream(self._c._observers, lambda ch: ch.model == name)


class SyncClient:
    """An offline-first replica of a Syncline (or AppSync) API in one SQLite file.

    Args:
        url: the GraphQL endpoint, e.g. "http://127.0.0.1:4000/graphql"; the WebSocket uses the same path.
        database: the replica file; the client id is stable per file.
        auth: ApiKey / Jwt / Headers (anything with `async headers()`), or SigV4 (AWS_IAM).
        realtime: how remote changes arrive between delta syncs: "websocket" (graphql-transport-ws),
            "mqtt" (AppSync's MQTT handshake; needs `pip install syncline[mqtt]`), or False to poll.
        models: model definitions given by the app (needed to write before the first connection);
            the server's are merged in by introspection when `introspect` is on.
    """

    def __init__(
        self,
        url: str,
        *,
        database: str,
        auth: Auth | None = None,
        models: Sequence[ModelDef] = (),
        introspect: bool = True,
        realtime: Realtime | bool = "websocket",
        batch_size: int = 50,
        pipeline: int = 2,
        sync_page_size: int | None = None,
        max_conflict_attempts: int = 3,
        max_retry_attempts: int = 5,
        backoff_base: float = 0.25,
        backoff_cap: float = 30.0,
        poll_interval: float = 30.0,
        full_sync_interval: float | None = 86_400.0,
        timeouts: Timeouts = Timeouts(),
        conflict_handler: ConflictHandler | None = None,
        seed: int | None = None,
    ) -> None:
        self.url = url
        self.database = str(database)
        self._auth = auth
        self._given = list(models)
        self._introspect = introspect
        if realtime not in ("websocket", "mqtt", True, False):
            raise LocalError(f"realtime={realtime!r}: choose 'websocket', 'mqtt' or False")
        self._realtime: Realtime | None = "websocket" if realtime is True else None if realtime is False else realtime
        if self._realtime == "mqtt":
            check_available()
            if isinstance(auth, SigningAuth):
                raise LocalError("realtime='mqtt' cannot use SigV4: the server's MQTT CONNECT takes an API key, a JWT or a Lambda token")
        self._mqtt_client: str | None = None
        #: Remote change events received per real-time transport (for metrics and tests).
        self.realtime_events: dict[str, int] = {"websocket": 0, "mqtt": 0}
        self.batch_size = max(1, batch_size)
        self.pipeline = max(1, pipeline)
        self._page_size = sync_page_size
        self._page_limits: dict[str, int] = {}
        self.max_conflict_attempts = max_conflict_attempts
        self.max_retry_attempts = max_retry_attempts
        self._backoff = (backoff_base, backoff_cap)
        self._poll = poll_interval
        self._full_sync = full_sync_interval
        self._timeouts = timeouts
        self._handler = conflict_handler
        self._rng = random.Random(seed)
        self._replica = Replica(self.database)
        self._lock = LeaderLock(self.database)
        self._observers: list[asyncio.Queue[Any]] = []
        self._status_subs: list[asyncio.Queue[Any]] = []
        self._status = Status(state="offline", pending=0)
        self._inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._kicked = False
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._http: HttpTransport | None = None
        self._introspected = False
        self._single_until = 0
        self._last_delta = 0.0
        self._subs_model: dict[str, tuple[str, str]] = {}

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> "SyncClient":
        await self.open()
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self.close()

    async def open(self) -> None:
        await self._replica.open()
        if self._given:
            await self._replica.ensure_models(self._given)
        self._session = aiohttp.ClientSession()
        self._http = HttpTransport(self._session, self.url, self._auth, timeout=self._timeouts.request)
        self._status = Status(state="offline", pending=await self._replica.pending_count())
        self._task = asyncio.create_task(self._run(), name=f"syncline-sync:{self.database}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for w in self._waiters:
            if not w.done():
                w.set_exception(LocalError("the client closed before the sync finished"))
        self._waiters.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._lock.release()
        await self._replica.close()
        for q in self._observers + self._status_subs:
            q.put_nowait(_CLOSED)

    # --- app API --------------------------------------------------------------------------------

    @property
    def client_id(self) -> str:
        return self._replica.client_id

    def model(self, name: str) -> ModelHandle:
        self._replica.model(name)
        return ModelHandle(self, name)

    @property
    def models(self) -> dict[str, ModelDef]:
        return dict(self._replica.models)

    def on_conflict(self, handler: ConflictHandler) -> None:
        """`handler(local, remote, attempt)` returns a merged item, DISCARD or RETRY (may be async)."""
        self._handler = handler

    def observe(self) -> _Stream:
        """Every change to every model, local and remote."""
        return _Stream(self._observers)

    def status(self) -> _Stream:
        """The sync status now, then every time it changes."""
        s = _Stream(self._status_subs)
        s.put(self._status)
        return s

    @property
    def current_status(self) -> Status:
        return self._status

    async def pending(self) -> int:
        return await self._replica.pending_count()

    async def dead_letters(self) -> list[DeadLetter]:
        return await self._replica.dead_letters()

    async def conflicts(self, model: str | None = None) -> list[ConflictRecord]:
        """The conflicts the server raised for this replica's writes, oldest first, with what
        was decided (the handler's merge, a discard, or a dead letter)."""
        return await self._replica.conflicts(model)

    async def retry_dead_letter(self, id: int) -> None:
        """Queue a dead letter's change again over the local row as it is now."""
        d = await self._replica.take_dead_letter(id)
        if d is None:
            raise LocalError(f"no dead letter {id}")
        row = await self._replica.get(d.model, d.record_id)
        if d.op == "create" and row is None:
            ch = await self._replica.local_write(d.model, "create", d.payload, d.record_id)
        elif d.op == "delete":
            ch = await self._replica.local_write(d.model, "delete", {}, d.record_id)
        else:
            ch = await self._replica.local_write(d.model, "update", d.payload, d.record_id)
        await self._local_change(ch)

    async def drop_dead_letter(self, id: int) -> None:
        if await self._replica.take_dead_letter(id) is None:
            raise LocalError(f"no dead letter {id}")

    async def sync(self) -> None:
        """Wait until a full cycle (delta sync + outbox drain) that started after this call
        has completed. Waits through reconnects; wrap it in asyncio.timeout(). Raises
        LocalError at once when the client is not open, or in a process that is not the sync
        leader (it would never sync)."""
        if self._task is None:  # taking the lock now would keep it from the other processes
            raise LocalError(f"the client for {self.database} is not open: use `async with SyncClient(...)`")
        if not self._lock.try_acquire():
            raise LocalError(
                f"another process holds the sync lock ({self._lock.path}): it syncs {self.database}, "
                "including the writes made here; call sync() there, or watch status() here"
            )
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._inbox.put_nowait(("sync", None))
        await fut

    # --- internals: notifications ---------------------------------------------------------------

    def _publish(self, changes: Sequence[Change]) -> None:
        for ch in changes:
            for q in self._observers:
                q.put_nowait(ch)

    async def _local_change(self, ch: Change) -> None:
        self._publish([ch])
        if not self._kicked:
            self._kicked = True
            self._inbox.put_nowait(("kick", None))
        if self._status_subs:  # only pay for the count when someone listens
            self._set_status(self._status.state, await self._replica.pending_count(), self._status.error)

    def _set_status(self, state: State, pending: int | None = None, error: str | None = None) -> None:
        new = Status(state=state, pending=self._status.pending if pending is None else pending, error=error)
        if new != self._status:
            self._status = new
            for q in self._status_subs:
                q.put_nowait(new)

    # --- the loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            if not self._lock.try_acquire():
                self._set_status("follower", await self._replica.pending_count())
                await asyncio.sleep(1.0)
                continue
            self._was_ready = False
            try:
                await self._connection()
            except (RemoteError, aiohttp.ClientError, OSError) as exc:
                log.info("sync offline: %s", exc)
                if self._was_ready:
                    attempt = 0
                self._set_status("offline", await self._replica.pending_count(), str(exc))
                delay = backoff_delay(attempt, base=self._backoff[0], cap=self._backoff[1], jitter=self._rng.random())
                attempt += 1
                await self._wait_inbox(delay)

    _was_ready = False

    async def _wait_inbox(self, delay: float) -> None:
        """Sleep, but let a sync() request cut the backoff short (the app knows better)."""
        try:
            async with asyncio.timeout(delay):
                while True:
                    kind, _ = await self._inbox.get()
                    if kind == "sync":
                        return  # its waiter is resolved by the next full cycle
                    if kind == "kick":
                        self._kicked = False
        except TimeoutError:
            pass

    async def _connection(self) -> None:
        assert self._http is not None and self._session is not None
        self._set_status("syncing", await self._replica.pending_count())
        if self._introspect and not self._introspected:
            await self._introspect_models()
        sub: Subscription | MqttSubscription | None = None
        try:
            if self._realtime and self._replica.models:
                sub = await self._subscribe()
            await self._full_cycle()
            self._set_status("ready", await self._replica.pending_count())
            self._was_ready = True
            while True:
                await self._serve_inbox(sub)
        finally:
            if sub is not None:
                await sub.close()

    async def _full_cycle(self) -> None:
        waiters, self._waiters = self._waiters, []
        try:
            await self._sync_all()
            await self._drain()
        except BaseException:
            self._waiters = waiters + self._waiters
            raise
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def _serve_inbox(self, sub: Subscription | MqttSubscription | None) -> None:
        timeout = min(1.0, self._poll)
        try:
            async with asyncio.timeout(timeout):
                kind, payload = await self._inbox.get()
        except TimeoutError:
            if time.monotonic() - self._last_delta >= self._poll or sub is None and self._poll <= 1.0:
                await self._full_cycle()
            elif await self._replica.pending_count():
                await self._drain()  # written by another process sharing this file
            return
        if kind == "event":
            await self._apply_event(payload)
        elif kind == "closed":
            raise NetworkError("the real-time WebSocket closed")
        elif kind == "kick":
            self._kicked = False
            await self._drain()
        elif kind == "sync":
            await self._full_cycle()
        self._set_status("ready", await self._replica.pending_count())

    async def _introspect_models(self) -> None:
        assert self._http is not None
        body = await self._http.execute(INTROSPECTION_QUERY)
        if body.get("data"):
            models = models_from_introspection(body["data"])
            if models:
                await self._replica.ensure_models(models)
        self._introspected = True

    async def _subscribe(self) -> Subscription | MqttSubscription | None:
        assert self._session is not None and self._http is not None
        sink = self._inbox
        # operation id -> (model, subscription field, document), the same for both transports.
        plan = {
            f"{m.name}:{op}": (m.name, f"on{op.title()}{m.name}", doc)
            for m in self._replica.models.values()
            for op, doc in subscription_documents(m).items()
        }
        self._subs_model = {oid: (name, fld) for oid, (name, fld, _) in plan.items()}
        if self._realtime == "mqtt":
            docs = {oid: (doc, fld) for oid, (_, fld, doc) in plan.items()}
            try:
                msub = await MqttSubscription.connect(
                    self._http, self._auth, docs, _Forward(sink, self.realtime_events, "mqtt").put_nowait,
                    client_id=self._mqtt_client, timeout=self._timeouts.connect,
                )
            except (NetworkError, ServerError, LocalError) as exc:
                log.warning("MQTT real-time unavailable, polling instead: %s", exc)
                return None
            self._mqtt_client = msub.client_id
            return msub
        try:
            sub = await Subscription.connect(self._session, self.url, self._auth, timeout=self._timeouts.connect)
        except NetworkError as exc:
            log.info("real-time unavailable, polling instead: %s", exc)
            return None
        sub.events = _Forward(sink, self.realtime_events, "websocket")  # type: ignore[assignment]
        for oid, (_, _, doc) in plan.items():
            await sub.subscribe(oid, doc)
        await sub.barrier(self._timeouts.connect)
        return sub

    async def _apply_event(self, payload: tuple[str, Mapping[str, Any]]) -> None:
        oid, body = payload
        target = self._subs_model.get(oid)
        if target is None:
            return
        item = (body.get("data") or {}).get(target[1])
        if isinstance(item, Mapping):
            self._publish(await self._replica.apply_remote(target[0], [item]))

    # --- delta sync -----------------------------------------------------------------------------

    def _page_limit(self, m: ModelDef) -> int:
        """The page size: the app's, else the one that last worked, else the protocol's
        maximum (1000); a LimitExceeded answer halves it and the halved size is kept."""
        if self._page_size:
            return self._page_size
        return self._page_limits.get(m.name, 1000)

    async def _sync_all(self) -> None:
        for m in list(self._replica.models.values()):
            await self._sync_model(m)
        self._last_delta = time.monotonic()

    async def _sync_model(self, m: ModelDef) -> None:
        assert self._http is not None
        last, synced_at = await self._replica.cursor(m.name)
        base = last == 0 or (self._full_sync is not None and time.time() - synced_at > self._full_sync)
        last_sync = 0 if base else last
        started: int | None = None
        seen: set[str] = set()
        root = f"sync{m.plural}"
        doc = sync_document(m)
        http = self._http
        # Pages are fetched by their own task, each request sent as soon as the previous page
        # has arrived, while this one applies them: the server's paging and the replica's
        # writes overlap instead of adding up. At most one page waits in the queue.
        pages: asyncio.Queue[tuple[dict[str, Any], Mapping[str, Any]] | Exception] = asyncio.Queue(maxsize=1)

        async def fetch_pages() -> None:
            limit = self._page_limit(m)
            token: str | None = None
            try:
                while True:
                    body = await http.execute(doc, {"lastSync": last_sync, "limit": limit, "nextToken": token})
                    conn = (body.get("data") or {}).get(root)
                    if conn is None:
                        err = ServerError.from_wire((body.get("errors") or [{"message": "no data"}])[0])
                        if err.error_type == "LimitExceeded" and limit > 1:
                            limit = max(1, limit // 2)
                            self._page_limits[m.name] = limit
                            continue
                        raise err
                    await pages.put((body, conn))
                    token = conn.get("nextToken")
                    if not token:
                        return
            except Exception as exc:  # the applying side raises it, after the pages before it
                await pages.put(exc)

        fetcher = asyncio.create_task(fetch_pages(), name=f"syncline-pages:{m.name}")
        try:
            first = True
            while True:
                got = await pages.get()
                if isinstance(got, Exception):
                    raise got
                body, conn = got
                items = [it for it in conn.get("items") or [] if it]
                if first:
                    started = conn.get("startedAt")
                    # An expired cursor is answered with a base sync, which the server names in
                    # `extensions.baseSync` (docs/protocol.md, "The sync contract").
                    if root in ((body.get("extensions") or {}).get("baseSync") or ()):
                        base = True
                    first = False
                if base:
                    seen.update(it["id"] for it in items)
                self._publish(await self._replica.apply_remote(m.name, items, changes=bool(self._observers)))
                if not conn.get("nextToken"):
                    break
        finally:
            if not fetcher.done():
                fetcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await fetcher
        if started is None:
            return
        if base:
            self._publish(await self._replica.remove_missing(m.name, seen, int(started)))
        await self._replica.set_cursor(m.name, int(started))

    # --- outbox drain ---------------------------------------------------------------------------

    async def _drain(self) -> None:
        while True:
            head = await self._replica.head(self.batch_size * self.pipeline + 1)
            if not head:
                break
            frozen = any(e.wire_seq is not None for e in head)
            limit = 1 if head[0].entry <= self._single_until else self.batch_size
            plan = plan_batch([(e.entry, f"{e.model}:{e.record_id}", e.wire_seq) for e in head], limit, self.pipeline)
            batches: list[tuple[int, list[Entry]]] = []
            for ids in plan:
                if frozen:
                    seq = next(e.wire_seq for e in head if e.entry == ids[0])
                    assert seq is not None
                    batches.append((seq, await self._replica.entries_of(seq)))
                else:
                    batches.append(await self._replica.assign_wire(ids))
            # The batches of a round touch disjoint records, so they may be applied in any
            # order: send them concurrently (the server group-commits across requests).
            results = await asyncio.gather(*(self._send(seq, b) for seq, b in batches if b), return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    raise r
        self._set_status(self._status.state, 0 if not self._status.pending else await self._replica.pending_count())

    async def _send(self, seq: int, batch: list[Entry]) -> None:
        assert self._http is not None
        muts = [
            WireMutation(key=e.wire_key or f"e{e.entry}", model=self._replica.model(e.model), op=e.op, input=e.wire_input or {})
            for e in batch
        ]
        doc, variables = batch_document(muts)
        body = await self._http.execute(
            doc, variables, extensions={"mutationId": {"clientId": self._replica.client_id, "seq": seq}}
        )
        data = body.get("data")
        errors = [ServerError.from_wire(e) for e in body.get("errors") or [] if isinstance(e, Mapping)]
        if not isinstance(data, Mapping):
            # The document as a whole was refused (it did not validate, a variable did not
            # coerce, ...): nothing ran. Send its entries one by one to find the culprit.
            err = errors[0] if errors else ServerError("the server answered without data", error_type="BadRequest")
            if len(batch) > 1:
                await self._replica.unfreeze([e.entry for e in batch])
                self._single_until = batch[-1].entry
                return
            await self._field_error(batch[0], err)
            return
        by_key = {str(e.path[0]): e for e in errors if e.path}
        acks = [(ent, item) for ent in batch if isinstance(item := data.get(ent.wire_key or ""), Mapping)]
        self._publish([ch for ch in await self._replica.ack_many(acks) if ch is not None])
        acked = {ent.entry for ent, _ in acks}
        for ent in batch:
            if ent.entry not in acked:
                found = by_key.get(ent.wire_key or "")
                await self._field_error(ent, found or ServerError("no result", error_type="InternalFailure"))

    async def _field_error(self, ent: Entry, err: ServerError) -> None:
        kind = classify_error(err.error_type)
        if kind == "conflict":
            await self._conflict(ent, err)
        elif kind == "retry" and ent.attempts + 1 < self.max_retry_attempts:
            await self._replica.unfreeze([ent.entry], bump=True)
            await asyncio.sleep(
                backoff_delay(ent.attempts, base=self._backoff[0], cap=self._backoff[1], jitter=self._rng.random())
            )
        else:
            await self._dead(ent, err.error_type, err.message, err.data)

    async def _dead(self, ent: Entry, error_type: str | None, message: str, data: Mapping[str, Any] | None) -> None:
        """Dead-letter `ent`, then put the server's truth back into the replica for the record."""
        log.warning("dead letter: %s %s %s: %s %s", ent.op, ent.model, ent.record_id, error_type, message)
        if not await self._replica.dead_letter(ent, error_type=error_type, message=message, data=data):
            return
        assert self._http is not None
        m = self._replica.model(ent.model)
        server = data
        if server is None or "_version" not in server:
            body = await self._http.execute(get_document(m), {"id": ent.record_id})
            server = (body.get("data") or {}).get(f"get{m.name}")
        if server is None:  # the server does not have it: neither should the replica
            self._publish(await self._replica.remove_row(m.name, ent.record_id))
            return
        self._publish(await self._replica.apply_remote(m.name, [server], force=True))

    async def _conflict(self, ent: Entry, err: ServerError) -> None:
        remote = err.data or {}
        local = await self._replica.get(ent.model, ent.record_id)
        attempt = ent.attempts + 1
        handler = self._handler
        decision: Any = DISCARD
        if handler is not None:
            decision = handler(local, remote, attempt)
            if inspect.isawaitable(decision):
                decision = await decision
        action = resolve_conflict(
            decision, op=ent.op, payload=ent.payload, remote=remote, attempt=attempt, max_attempts=self.max_conflict_attempts
        )
        await self._replica.record_conflict(ent, local, remote, attempt, action.kind, action.payload)
        if action.kind == "discard":
            ch = await self._replica.discard(ent, remote) if "_version" in remote else None
            if ch is not None:
                self._publish([ch])
            elif "_version" not in remote:
                await self._dead(ent, err.error_type, err.message, None)
        elif action.kind == "resend":
            assert action.payload is not None
            await self._replica.resend(ent, payload=action.payload, remote=remote, local_fields=True)
        else:
            await self._dead(ent, err.error_type, f"{err.message} ({action.reason})", remote)


@dataclass
class _Forward:
    """Routes the subscription's events into the client's inbox (one queue for the loop)."""

    inbox: "asyncio.Queue[tuple[str, Any]]"
    counts: dict[str, int] = field(default_factory=dict)
    transport: str = "websocket"

    def put_nowait(self, item: tuple[str, Mapping[str, Any]] | None) -> None:
        if item is not None:
            self.counts[self.transport] = self.counts.get(self.transport, 0) + 1
        self.inbox.put_nowait(("closed", None) if item is None else ("event", item))
