"""`SQLiteStore`: the default Store, one SQLite file in WAL mode.

Tables (one set for all models; items are JSON so additive schema changes rewrite nothing):

    items     (model, id) PK, WITHOUT ROWID; version, deleted, lca (= _lastChangedAt),
              data = the whole item as JSON, metadata included. Index (model, lca) serves
              delta sync; the PK order serves list pagination (stable, keyset on id); a
              partial index over tombstones serves GC.
    changes   the change log, append-only: at (= the write's stamp) INTEGER PK -> model,
              item_id, version, op, prev (the stamp of the item's previous version), data.
              Kept delta_ttl. Walking `prev` from the item's current stamp finds the version
              a stale client edited: a conflict record's `base`. Keyed by stamp so a group of
              writes appends to one page instead of dirtying one random page per write.
    conflicts every resolved or rejected `_version` conflict (audit), newest = highest id.
    ledger    (client_id, seq, key) PK (+ index on at) -> model, op, ok, result JSON, at: exactly-once
              mutation ids; a failed mutation records its error here too. Kept (like the
              conflict log) for tombstone_ttl: a client offline longer may replay its queue.
    meta      key/value; `schema` = the model snapshot `migrate` compares against;
              `last_stamp` = the last stamp, saved by GC (and close) before old changes go.
              At open the last stamp is max(meta, newest change): it survives restarts and
              GC, so stamps stay strictly increasing even if the clock goes backwards.

Writes run as one function per transaction on a dedicated writer thread (see `_worker`):
one thread hop per write, writes serialised by that thread, concurrent writes group-committed
(each in its own SAVEPOINT; acknowledged only after the shared COMMIT). A write that fails
(validation, condition, conflict, NotFound) writes nothing but its conflict record and ledger
row. Reads go through two aiosqlite connections (point reads; scans) and never wait for
the writer (WAL); WAL checkpoints run on a helper thread. Filters are judged by
`server.filters.matches`; a SQL pre-filter (`_prefilter`) only spares decoding rows that
cannot match. Only one process may write a file.

`_lastChangedAt` = max(clock(), last + 1) inside the write transaction: store-wide strictly
increasing, so it is an exact delta cursor. A sync's `startedAt` is the last stamp committed
when its first page is read; every page is capped at it, so a whole pagination plus the next
delta from `startedAt` neither misses nor repeats a write.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from functools import partial
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import aiosqlite

from server import errors
from server.auth.identity import Identity
from server.errors import (
    BadRequest,
    ClientError,
    ConditionalCheckFailed,
    ConfigError,
    ConflictUnhandled,
    LimitExceeded,
    NotFound,
    SchemaMigrationError,
    StoreError,
    SynclineError,
)
from server.filters import check_filter, matches
from server.models import Item, ModelSpec
from server.store._migrate import plan, snapshot
from server.store._prefilter import prefilter
from server.store._validate import InputValidator
from server.store._worker import SQLiteThread
from server.store.base import (
    ChangeEvent,
    ChangeListener,
    ConflictRecord,
    MutationId,
    Operation,
    Page,
    Store,
    SyncPage,
    WriteResult,
)
from server.sync.conflict import (
    REJECT,
    ConflictHandler,
    Decision,
    Remove,
    Resolve,
    check_decision,
    outcome_name,
    resolve_builtin,
)
from server.sync.cursor import CursorCodec, query_hash

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "SQLiteStore"]

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    model TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
    deleted INTEGER NOT NULL, lca INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (model, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_lca ON items (model, lca);
CREATE TABLE IF NOT EXISTS changes (
    at INTEGER PRIMARY KEY, model TEXT NOT NULL, item_id TEXT NOT NULL, version INTEGER NOT NULL,
    op TEXT NOT NULL, prev INTEGER, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, item_id TEXT NOT NULL,
    strategy TEXT NOT NULL, outcome TEXT NOT NULL, base TEXT, local TEXT NOT NULL,
    remote TEXT NOT NULL, result TEXT, at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    client_id TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL,
    model TEXT NOT NULL, op TEXT NOT NULL, ok INTEGER NOT NULL, result TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (client_id, seq, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ledger_by_at ON ledger (at);
CREATE INDEX IF NOT EXISTS tombstones_by_lca ON items (model, lca) WHERE deleted = 1;
"""

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


_iso_second: tuple[int, str] = (-1, "")


def _iso(ms: int) -> str:
    """AWSDateTime for an epoch-ms stamp: `2026-11-25T08:46:26.123Z` (cached per second)."""
    global _iso_second
    secs, millis = divmod(ms, 1000)
    cached = _iso_second  # one tuple, swapped atomically: safe across writer threads
    if cached[0] != secs:
        cached = _iso_second = (secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)))
    return f"{cached[1]}.{millis:03d}Z"


@dataclass(frozen=True)
class _Model:
    spec: ModelSpec
    validator: InputValidator
    handler: ConflictHandler | None


@dataclass
class _Write:
    """One write on its way through the writer thread."""

    model: _Model
    op: Operation
    input: Mapping[str, Any]
    identity: Identity
    condition: Mapping[str, Any] | None
    mutation_id: MutationId | None
    #: CUSTOM only: (server _version the handler saw, its decision)
    decision: tuple[int, Decision] | None = None
    #: filled in when a conflict was met, recorded even if the write fails
    conflict: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Applied:
    op: Operation
    item: Item
    previous: Item | None
    conflict: ConflictRecord | None
    replayed: bool = False
    #: the item's JSON as stored (reused for the ledger row)
    data: str = ""


@dataclass(frozen=True)
class _NeedsHandler:
    server: Item
    new: Item


@dataclass(frozen=True)
class _Failed:
    error: ClientError


class SQLiteStore:
    """The Store protocol on one SQLite file (see the module docstring for the layout).

    Args:
        path: the database file (created if missing).
        secret: HMAC key for nextTokens (>= 16 bytes; keep it stable across restarts or
            outstanding tokens become invalid).
        tombstone_ttl_ms: how long deleted items (and ledger/conflict rows) are kept.
        delta_ttl_ms: how long the change log is kept; an older `lastSync` gets a base sync.
        conflict_handlers: CUSTOM conflict handlers by model name.
        clock: epoch milliseconds (tests pass a fake one).
        durability: "normal" (WAL + synchronous=NORMAL: survives a process crash) or
            "full" (synchronous=FULL: also survives power loss).
        max_scan: rows a filtered list/sync examines per call before returning a short page.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        secret: bytes,
        tombstone_ttl_ms: int = 30 * DAY_MS,
        delta_ttl_ms: int = DAY_MS,
        conflict_handlers: Mapping[str, ConflictHandler] | None = None,
        clock: Callable[[], int] = _epoch_ms,
        durability: str = "normal",
        max_scan: int = 10_000,
    ) -> None:
        if durability not in ("normal", "full"):
            raise ConfigError(f"durability must be 'normal' or 'full', not {durability!r}")
        self.path = str(path)
        self._codec = CursorCodec(secret)
        self.tombstone_ttl_ms = tombstone_ttl_ms
        self.delta_ttl_ms = delta_ttl_ms
        self._handlers = dict(conflict_handlers or {})
        self._clock = clock
        self._durability = durability
        self._max_scan = max(1, max_scan)
        self._models: dict[str, _Model] = {}
        self._listeners: list[ChangeListener] = []
        self._orphans: set[asyncio.Task[None]] = set()
        self._writer: SQLiteThread | None = None
        #: point reads (get) and scans (list, sync, conflicts) on separate connections, so a
        #: long filtered scan never queues the gets behind it
        self._reader: aiosqlite.Connection | None = None
        self._scanner: aiosqlite.Connection | None = None
        #: Point reads by primary key run inline on the event loop's thread: a keyed lookup in
        #: WAL mode takes a few microseconds, far less than a hop to a reader thread and back
        #: (~50 µs), and WAL readers never wait for the writer.
        self._point: sqlite3.Connection | None = None
        #: last stamp assigned (writer thread only)
        self._stamp = 0
        #: last stamp whose transaction committed (read on the loop for `startedAt`)
        self._committed_stamp = 0

    # ------------------------------------------------------------------ lifecycle

    def _connect_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self._durability == 'full' else 'NORMAL'}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA wal_autocheckpoint=0")  # the writer's helper thread checkpoints
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA journal_size_limit=67108864")  # truncate a grown WAL on reset
        _upgrade_layout(conn)
        conn.executescript(_DDL)
        row = conn.execute(
            "SELECT MAX(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key='last_stamp'), 0), "
            "COALESCE((SELECT MAX(at) FROM changes), 0))"
        ).fetchone()
        self._stamp = self._committed_stamp = int(row[0])
        return conn

    def _connect_checkpointer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute(f"PRAGMA synchronous={'FULL' if self._durability == 'full' else 'NORMAL'}")
        return conn

    async def open(self) -> None:
        """Open (creating if needed) the database file."""
        try:
            self._writer = SQLiteThread(
                self._connect_writer, name="syncline-sqlite-writer", checkpoint=self._connect_checkpointer
            )
            await self._writer.start()
            self._reader = await self._open_reader()
            self._scanner = await self._open_reader()
            self._point = sqlite3.connect(self.path, isolation_level=None)
            for pragma in ("busy_timeout=1000", "query_only=1", "cache_size=-16384"):
                self._point.execute(f"PRAGMA {pragma}")
        except sqlite3.Error as exc:
            await self.close()
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc

    async def _open_reader(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in ("busy_timeout=5000", "query_only=1", "cache_size=-32768", "mmap_size=268435456"):
            await conn.execute(f"PRAGMA {pragma}")
        return conn

    async def close(self) -> None:
        """Finish queued writes (publishing them), then close the connections."""
        if self._writer is not None:
            try:
                # drain (queued writes commit first), then save the last stamp
                await self._writer.run(lambda conn: _save_stamp(conn, self._stamp))
            except (RuntimeError, sqlite3.Error):
                pass  # never started, or the connection failed: nothing to drain
        if self._orphans:
            await asyncio.gather(*self._orphans, return_exceptions=True)
        for reader in (self._reader, self._scanner):
            if reader is not None:
                await reader.close()
        self._reader = self._scanner = None
        if self._point is not None:
            self._point.close()
            self._point = None
        if self._writer is not None:
            await self._writer.close()
            self._writer = None

    async def __aenter__(self) -> "SQLiteStore":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    async def ping(self) -> None:
        """Readiness: the writer thread answers and the file accepts a write transaction."""
        if self._writer is None:
            raise StoreError("the store is not open")

        def txn(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")

        await self._writer.run(txn)

    @property
    def last_stamp(self) -> int:
        """The last committed `_lastChangedAt` (the next sync's `startedAt`)."""
        return self._committed_stamp

    # ------------------------------------------------------------------ migration

    async def migrate(self, models: Sequence[ModelSpec], *, dry_run: bool = False) -> list[str]:
        """Adopt `models`; returns human-readable change lines.

        With `dry_run`, check and report without changing anything (`syncline check`).

        Raises:
            SchemaMigrationError: a destructive change against existing data (names type and
                field, says what to do); nothing is changed then.
            ConfigError: a CUSTOM model without a conflict handler.
        """
        for spec in models:
            if spec.conflict == "CUSTOM" and spec.name not in self._handlers:
                raise ConfigError(
                    f"model {spec.name} uses conflict = \"CUSTOM\" but no conflict handler is "
                    f"registered for it; define one in resolvers.py or pick another strategy"
                )
        new = snapshot(models)

        def txn(conn: sqlite3.Connection) -> list[str]:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                old = _loads(row[0]) if row else None
                changes, risks = plan(old, new)
                problems = []
                for risk in risks:
                    count = _count_risk(conn, risk.model, risk.field, risk.rows)
                    if count:
                        problems.append(risk.message(count))
                if problems:
                    raise SchemaMigrationError(
                        "schema change refused (it would lose or invalidate stored data):\n  "
                        + "\n  ".join(problems)
                    )
                if dry_run:
                    conn.execute("ROLLBACK")
                    return changes
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (_dumps(new),),
                )
                conn.execute("COMMIT")
                return changes
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        changes: list[str] = await self._run(txn)
        if dry_run:
            return changes
        self._models = {
            spec.name: _Model(spec, InputValidator(spec), self._handlers.get(spec.name))
            for spec in models
        }
        return changes

    # ------------------------------------------------------------------ reads

    def _model(self, model: str) -> _Model:
        m = self._models.get(model)
        if m is None:
            raise BadRequest(f"unknown model {model!r} (models: {', '.join(sorted(self._models)) or 'none'})")
        return m

    async def _read(self, sql: str, params: Sequence[Any], *, scan: bool = True) -> builtins.list[Any]:
        conn = self._scanner if scan else self._reader
        if conn is None:
            raise StoreError("the store is not open")
        try:
            return list(await conn.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from exc

    async def get(self, model: str, id: str, *, identity: Identity) -> Item | None:
        """The live item (metadata included), or None if missing or deleted."""
        self._model(model)
        if self._point is None:
            raise StoreError("the store is not open")
        try:
            row = self._point.execute(
                "SELECT data FROM items WHERE model=? AND id=? AND deleted=0", (model, id)
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from exc
        return _loads(row[0]) if row else None

    async def list(
        self,
        model: str,
        *,
        identity: Identity,
        filter: Mapping[str, Any] | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> Page:
        """One page of live items in id order.

        Args:
            filter: AppSync filter (see server.filters); pages are filled past non-matching rows.
            limit: page size, default 100, at most 1000.
            next_token: the previous page's token, unchanged.

        Raises:
            BadRequest: unknown model, bad filter, invalid/foreign nextToken.
            LimitExceeded: limit over 1000.
        """
        spec = self._model(model).spec
        check_filter(spec, filter)
        n = _limit(limit)
        query = query_hash("list", filter or None)
        after = ""
        if next_token:
            after = str(self._codec.decode(next_token, model=model, query=query)["k"])
        items, last, more = await self._scan(
            "SELECT id, {data} FROM items WHERE model=? AND deleted=0 AND id>? ORDER BY id LIMIT ?",
            spec,
            after,
            (),
            filter,
            n,
        )
        token = self._codec.encode(model=model, query=query, state={"k": last}) if more else None
        return Page(items=items, next_token=token)

    async def sync(
        self,
        model: str,
        *,
        identity: Identity,
        last_sync: int | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> SyncPage:
        """Items changed after `last_sync` (tombstones included), oldest change first.

        Args:
            last_sync: a previous `started_at` (epoch ms). 0/None, a cursor older than
                delta_ttl, or one newer than anything stored gets a base sync (every row,
                unexpired tombstones included).
            filter, limit, next_token: as for `list`; every page of one pagination reports
                the first page's `started_at` and stops at it.

        Returns:
            SyncPage; pass `started_at` as the next `last_sync`.
        """
        spec = self._model(model).spec
        check_filter(spec, filter)
        n = _limit(limit)
        query = query_hash("sync", filter or None)
        if next_token:
            state = self._codec.decode(next_token, model=model, query=query)
            started, after = int(state["s"]), int(state["k"])
            base = bool(state.get("b", False))
        else:
            if last_sync is not None and (not isinstance(last_sync, int) or isinstance(last_sync, bool) or last_sync < 0):
                raise BadRequest(f"lastSync must be epoch milliseconds (an integer >= 0), got {last_sync!r}")
            started = self._committed_stamp
            after = last_sync or 0
            # A cursor older than the change log's retention, or from another timeline (a
            # restored database), gets a base sync: everything, tombstones included.
            if after and (after < self._clock() - self.delta_ttl_ms or after > started):
                after = 0
            base = after == 0
        items, last, more = await self._scan(
            "SELECT lca, {data} FROM items WHERE model=? AND lca>? AND lca<=? ORDER BY lca LIMIT ?",
            spec,
            after,
            (started,),
            filter,
            n,
        )
        token = (
            self._codec.encode(model=model, query=query, state={"k": last, "s": started, "b": base})
            if more
            else None
        )
        return SyncPage(items=items, next_token=token, started_at=started, base=base)

    async def _scan(
        self,
        sql: str,
        spec: ModelSpec,
        after: Any,
        extra: tuple[Any, ...],
        filter: Mapping[str, Any] | None,
        limit: int,
    ) -> tuple[builtins.list[Item], Any, bool]:
        """Keyset scan filling a page; returns (items, last key examined, more rows may follow).

        A filter fills the page from further rows, examining at most `max_scan` rows per call;
        when that budget runs out the page is short and the token resumes after the last row
        examined (as DynamoDB's scan limit does). A SQL pre-filter (see `_prefilter`) returns
        the data only of rows that may match, so the others are never decoded.
        """
        model = spec.name
        if not filter:
            rows = await self._read(sql.format(data="data"), (model, after, *extra, limit + 1))
            more = len(rows) > limit
            rows = rows[:limit]
            last = rows[-1][0] if rows else after
            # One decode for the page: a thousand json.loads calls cost half as much again.
            return _loads("[" + ",".join([r[1] for r in rows]) + "]"), last, more
        items: builtins.list[Item] = []
        scanned = 0
        last = after
        batch = min(max(2 * limit, 200), self._max_scan)
        pre = prefilter(spec, filter)
        if pre is None:
            sql, pre_params = sql.format(data="data"), ()
        else:
            sql, pre_params = sql.format(data=f"CASE WHEN {pre[0]} THEN data END"), pre[1]
        while True:
            rows = await self._read(sql, (*pre_params, model, last, *extra, batch))
            for key, data in rows:
                scanned += 1
                last = key
                if data is None:
                    continue  # the pre-filter ruled it out
                item = _loads(data)
                if matches(filter, item):
                    items.append(item)
                    if len(items) == limit:
                        return items, last, True
            if len(rows) < batch:
                return items, last, False
            if scanned >= self._max_scan:
                return items, last, True

    async def conflicts(
        self, *, model: str | None = None, limit: int = 100, next_token: str | None = None
    ) -> tuple[builtins.list[ConflictRecord], str | None]:
        """Conflict records, newest first."""
        n = _limit(limit)
        query = query_hash("conflicts")
        scope = model or "*"
        before = 2**62
        if next_token:
            before = int(self._codec.decode(next_token, model=scope, query=query)["k"])
        where = "id<?" + (" AND model=?" if model else "")
        params: tuple[Any, ...] = (before, model) if model else (before,)
        rows = await self._read(
            "SELECT id, model, item_id, strategy, outcome, base, local, remote, result, at "
            f"FROM conflicts WHERE {where} ORDER BY id DESC LIMIT ?",
            (*params, n + 1),
        )
        more = len(rows) > n
        records = [_conflict_record(r) for r in rows[:n]]
        token = (
            self._codec.encode(model=scope, query=query, state={"k": records[-1].id})
            if more
            else None
        )
        return records, token

    # ------------------------------------------------------------------ writes

    async def create(
        self,
        model: str,
        input: Mapping[str, Any],
        *,
        identity: Identity,
        condition: Mapping[str, Any] | None = None,
        mutation_id: MutationId | None = None,
    ) -> WriteResult:
        """Create an item (`input.id` optional: clients may bring their own ids).

        Raises:
            BadRequest: unknown/metadata fields, missing or null non-null fields, wrong types.
            ConditionalCheckFailed: the id exists (even as a tombstone), or `condition` failed.
        Replays of `mutation_id` return the recorded result (`replayed=True`) or error.
        """
        return await self._write("create", model, input, identity, condition, mutation_id)

    async def update(
        self,
        model: str,
        input: Mapping[str, Any],
        *,
        identity: Identity,
        condition: Mapping[str, Any] | None = None,
        mutation_id: MutationId | None = None,
    ) -> WriteResult:
        """Update the fields in `input` (`id` required, `_version` = the version the client read).

        Raises:
            NotFound: no such id. ConditionalCheckFailed: `condition` does not hold.
            ConflictUnhandled: a `_version` conflict the model's strategy refused (`data` =
                the server item). BadRequest: as for create; `_version` missing under
                OPTIMISTIC_CONCURRENCY (other strategies treat a missing one as "no check").
        """
        return await self._write("update", model, input, identity, condition, mutation_id)

    async def delete(
        self,
        model: str,
        input: Mapping[str, Any],
        *,
        identity: Identity,
        condition: Mapping[str, Any] | None = None,
        mutation_id: MutationId | None = None,
    ) -> WriteResult:
        """Delete (write a tombstone: `_deleted: true`, version bumped); errors as for update."""
        return await self._write("delete", model, input, identity, condition, mutation_id)

    async def _run(self, fn: Callable[[sqlite3.Connection], Any], *, batch: bool = False) -> Any:
        if self._writer is None:
            raise StoreError("the store is not open")
        try:
            return await self._writer.run(fn, batch=batch)
        except sqlite3.Error as exc:
            raise StoreError(f"write failed: {exc}") from exc
        except RuntimeError as exc:
            raise StoreError("the store is not open (closing)") from exc

    async def _run_write(self, w: _Write) -> _Applied | _NeedsHandler | _Failed:
        """One write job; if the caller is cancelled meanwhile, the write still completes
        and, once committed, is still published (subscribers must not miss a stored change)."""
        if self._writer is None:
            raise StoreError("the store is not open")
        try:
            fut = self._writer.submit(partial(self._txn_write, w), batch=True, orphan=partial(self._orphan_done, w))
        except RuntimeError as exc:
            raise StoreError("the store is not open (closing)") from exc
        try:
            result: _Applied | _NeedsHandler | _Failed = await fut
        except asyncio.CancelledError:
            # Cancelled while waiting: the writer hands the result to `_orphan_done`. Cancelled
            # after the result arrived (before this task resumed): hand it over here.
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._orphan_done(w, fut.result())
            raise
        except sqlite3.Error as exc:
            raise StoreError(f"write failed: {exc}") from exc
        return result

    def _orphan_done(self, w: _Write, result: _Applied | _NeedsHandler | _Failed) -> None:
        if isinstance(result, _Applied) and not result.replayed:
            task = asyncio.get_running_loop().create_task(self._committed(w, result))
            self._orphans.add(task)
            task.add_done_callback(self._orphans.discard)

    async def _committed(self, w: _Write, result: _Applied) -> None:
        # Committed: later syncs may start from this stamp.
        self._committed_stamp = max(self._committed_stamp, int(result.item["_lastChangedAt"]))
        await self._publish(
            ChangeEvent(
                model=w.model.spec.name,
                op=result.op,
                item=result.item,
                previous=result.previous,
                identity=w.identity,
                mutation_id=w.mutation_id,
            )
        )

    async def _write(
        self,
        op: Operation,
        model: str,
        input: Mapping[str, Any],
        identity: Identity,
        condition: Mapping[str, Any] | None,
        mutation_id: MutationId | None,
    ) -> WriteResult:
        w = _Write(self._model(model), op, input, identity, condition, mutation_id)
        if mutation_id is not None:
            _check_mutation_id(mutation_id)
        for _ in range(10):
            result = await self._run_write(w)
            if isinstance(result, _Failed):
                raise result.error
            if isinstance(result, _NeedsHandler):
                decision = await self._call_handler(w, result)
                w.decision = (int(result.server["_version"]), decision)
                continue
            break
        else:  # pragma: no cover - needs 10 concurrent writers racing one item
            raise ConflictUnhandled(
                f"{model} {input.get('id')!r} kept changing while its conflict handler ran; retry",
                data=getattr(result, "server", None),
            )
        assert isinstance(result, _Applied)
        if not result.replayed:
            await self._committed(w, result)
        return WriteResult(item=result.item, replayed=result.replayed, conflict=result.conflict)

    async def _call_handler(self, w: _Write, need: _NeedsHandler) -> Decision:
        handler = w.model.handler
        name = w.model.spec.name
        if handler is None:  # pragma: no cover - migrate() refuses this
            raise ConfigError(f"no conflict handler registered for {name}")
        arguments = {"input": dict(w.input), "condition": w.condition}
        try:
            decision: Any = handler(need.server, need.new, arguments, w.identity)
            if isawaitable(decision):
                decision = await decision
        except SynclineError:
            raise
        except Exception as exc:
            raise ConfigError(f"conflict handler for {name} raised {type(exc).__name__}: {exc}") from exc
        return check_decision(decision, model=name)

    async def _publish(self, event: ChangeEvent) -> None:
        for listener in self._listeners:
            try:
                outcome = listener(event)
                if isawaitable(outcome):
                    await outcome
            except Exception:  # the write is committed; a listener must not undo its ack
                log.exception("change listener %r failed for %s %s", listener, event.model, event.op)

    # -- writer thread ------------------------------------------------------------------

    def _next_stamp(self) -> int:
        self._stamp = max(int(self._clock()), self._stamp + 1)
        return self._stamp

    def _txn_write(self, w: _Write, conn: sqlite3.Connection) -> _Applied | _NeedsHandler | _Failed:
        """The body of one write; runs inside the writer's (possibly shared) transaction.

        A ClientError is *returned*, not raised: the body has written nothing when one
        arises, and its audit trail (conflict record, ledger row) must commit with the group.
        """
        mid = w.mutation_id
        if mid is not None:
            row = conn.execute(
                "SELECT model, op, ok, result FROM ledger WHERE client_id=? AND seq=? AND key=?",
                (mid.client_id, mid.seq, mid.key),
            ).fetchone()
            if row is not None:
                try:
                    return _replay(w, row)
                except ClientError as err:
                    return _Failed(err)
        try:
            applied = self._apply(conn, w)
        except ClientError as err:
            self._record_failure(conn, w, err)
            return _Failed(err)
        if isinstance(applied, _NeedsHandler):
            return applied
        if mid is not None:
            conn.execute(
                "INSERT INTO ledger (client_id, seq, key, model, op, ok, result, at) "
                "VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                (mid.client_id, mid.seq, mid.key, w.model.spec.name, w.op,
                 applied.data or _dumps(applied.item), applied.item["_lastChangedAt"]),
            )
        return applied

    def _record_failure(self, conn: sqlite3.Connection, w: _Write, err: ClientError) -> None:
        """Record a failed write's audit trail: the conflict record and the ledger row."""
        mid = w.mutation_id
        if mid is None and w.conflict is None:
            return
        now = self._clock()
        if w.conflict is not None:
            self._insert_conflict(conn, w.conflict, now)
        if mid is not None:
            conn.execute(
                "INSERT OR IGNORE INTO ledger (client_id, seq, key, model, op, ok, result, at) "
                "VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                (mid.client_id, mid.seq, mid.key, w.model.spec.name, w.op,
                 _dumps({"type": type(err).__name__, "message": err.message, "data": err.data}), now),
            )

    @staticmethod
    def _insert_conflict(conn: sqlite3.Connection, c: dict[str, Any], at: int) -> int:
        cur = conn.execute(
            "INSERT INTO conflicts (model, item_id, strategy, outcome, base, local, remote, result, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (c["model"], c["item_id"], c["strategy"], c["outcome"],
             None if c["base"] is None else _dumps(c["base"]), _dumps(c["local"]),
             _dumps(c["remote"]), None if c["result"] is None else _dumps(c["result"]), at),
        )
        return int(cur.lastrowid or 0)

    def _apply(self, conn: sqlite3.Connection, w: _Write) -> _Applied | _NeedsHandler:
        spec, validator = w.model.spec, w.model.validator
        name = spec.name
        if w.condition is not None:
            check_filter(spec, w.condition, what="condition")
        if w.op == "create":
            item_id, fields = validator.create(w.input)
            if item_id is None:
                item_id = str(uuid.uuid4())
            else:
                row = conn.execute(
                    "SELECT data FROM items WHERE model=? AND id=?", (name, item_id)
                ).fetchone()
                if row is not None:
                    existing = _loads(row[0])
                    state = "was deleted; ids are not reused" if existing.get("_deleted") else "already exists; use update" + name
                    raise ConditionalCheckFailed(f"create{name}: {name} {item_id!r} {state}", data=existing)
            if w.condition and not matches(w.condition, {}):
                raise ConditionalCheckFailed(f"create{name}: the condition does not hold (there is no item yet)")
            stamp = self._next_stamp()
            iso = _iso(stamp)
            item = {"id": item_id, **fields, "createdAt": iso, "updatedAt": iso,
                    "_version": 1, "_deleted": False, "_lastChangedAt": stamp}
            data = _encode(item, f"create{name}")
            conn.execute(
                "INSERT INTO items (model, id, version, deleted, lca, data) VALUES (?, ?, 1, 0, ?, ?)",
                (name, item_id, stamp, data),
            )
            self._log_change(conn, name, item_id, 1, "create", stamp, None, data)
            return _Applied("create", item, None, None, data=data)

        item_id, version, fields = validator.update(w.input, w.op)
        row = conn.execute("SELECT data FROM items WHERE model=? AND id=?", (name, item_id)).fetchone()
        if row is None:
            raise NotFound(f"{w.op}{name}: {name} {item_id!r} does not exist")
        server: Item = _loads(row[0])
        server_version = int(server["_version"])
        deleted = bool(server.get("_deleted"))
        if version is None and spec.conflict == "OPTIMISTIC_CONCURRENCY":
            raise BadRequest(
                f"{w.op}{name}: '_version' is required ({name} uses OPTIMISTIC_CONCURRENCY); "
                f"send the _version you last read"
            )
        if not deleted and w.condition and not matches(w.condition, server):
            raise ConditionalCheckFailed(f"{w.op}{name}: the condition does not hold for {name} {item_id!r}", data=server)
        op: Operation = w.op
        record: ConflictRecord | None = None
        if deleted or (version is not None and version != server_version):
            if w.op == "update":
                new = {**server, **fields}
            else:
                new = {**server, "_deleted": True}
            if spec.conflict == "CUSTOM":
                if w.decision is None or w.decision[0] != server_version:
                    return _NeedsHandler(server, new)
                decision = w.decision[1]
            else:
                decision = resolve_builtin(spec.conflict, op=w.op, server=server, incoming=w.input)
            base = None
            if version is not None:
                base = _find_base(conn, int(server["_lastChangedAt"]), version)
            w.conflict = {"model": name, "item_id": item_id, "strategy": spec.conflict,
                          "outcome": outcome_name(decision), "base": base,
                          "local": dict(w.input), "remote": server, "result": None}
            if decision is REJECT or not isinstance(decision, (Resolve, Remove)):
                why = "the item was deleted" if deleted else (
                    f"it is at _version {server_version}, the input has {version}")
                raise ConflictUnhandled(
                    f"Conflict resolver rejects mutation: {name} {item_id!r} {why} ({spec.conflict})",
                    data=server,
                )
            if isinstance(decision, Remove):
                op = "delete"
                fields = validator.known(server)
            else:
                op = "update"
                try:
                    fields = validator.check_item(decision.item, f"conflict resolution for {name} {item_id!r}")
                except BadRequest:
                    w.conflict["outcome"] = "INVALID_RESOLUTION"
                    raise
        elif w.op == "update":
            fields = {**validator.known(server), **fields}
        else:
            fields = validator.known(server)
        if deleted and op == "delete" and w.conflict is None:  # pragma: no cover - deleted implies conflict
            raise ConflictUnhandled(f"{name} {item_id!r} is already deleted", data=server)
        stamp = self._next_stamp()
        new_version = server_version + 1
        item = {"id": item_id, **fields, "createdAt": server["createdAt"], "updatedAt": _iso(stamp),
                "_version": new_version, "_deleted": op == "delete", "_lastChangedAt": stamp}
        data = _encode(item, f"{w.op}{name}")
        conn.execute(
            "UPDATE items SET version=?, deleted=?, lca=?, data=? WHERE model=? AND id=?",
            (new_version, op == "delete", stamp, data, name, item_id),
        )
        self._log_change(conn, name, item_id, new_version, op, stamp, int(server["_lastChangedAt"]), data)
        if w.conflict is not None:
            w.conflict["result"] = item
            cid = self._insert_conflict(conn, w.conflict, stamp)
            record = _record_from(cid, w.conflict, stamp)
        return _Applied(op, item, server, record, data=data)

    @staticmethod
    def _log_change(
        conn: sqlite3.Connection, model: str, item_id: str, version: int, op: str, stamp: int,
        prev: int | None, data: str,
    ) -> None:
        conn.execute(
            "INSERT INTO changes (at, model, item_id, version, op, prev, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (stamp, model, item_id, version, op, prev, data),
        )

    # ------------------------------------------------------------------ maintenance

    async def collect_garbage(self, *, now_ms: int | None = None, chunk: int = 5000) -> dict[str, int]:
        """Drop expired tombstones, change-log rows, ledger and conflict rows; returns counts.

        Deletes at most `chunk` rows per table per transaction, each its own writer job, so
        writes keep flowing while a large backlog is collected. Every delete walks an index.
        """
        now = self._clock() if now_ms is None else now_ms
        tomb_cut = now - self.tombstone_ttl_ms
        delta_cut = now - self.delta_ttl_ms
        # The last stamp is saved before any change row goes (see the module docstring).
        await self._run(lambda conn: _save_stamp(conn, self._stamp))
        statements: list[tuple[str, str, tuple[Any, ...]]] = [
            (
                "tombstones",
                "DELETE FROM items WHERE model=? AND id IN (SELECT id FROM items "
                "INDEXED BY tombstones_by_lca WHERE model=? AND deleted=1 AND lca<? LIMIT ?)",
                (name, name, tomb_cut),
            )
            for name in sorted(self._models)
        ]
        statements += [
            ("changes", "DELETE FROM changes WHERE at IN (SELECT at FROM changes WHERE at<? ORDER BY at LIMIT ?)", (delta_cut,)),
            (
                "ledger",
                "DELETE FROM ledger WHERE (client_id, seq, key) IN "
                "(SELECT client_id, seq, key FROM ledger WHERE at<? ORDER BY at LIMIT ?)",
                (tomb_cut,),
            ),
            ("conflicts", "DELETE FROM conflicts WHERE id IN (SELECT id FROM conflicts WHERE at<? LIMIT ?)", (tomb_cut,)),
        ]
        counts = {"tombstones": 0, "changes": 0, "ledger": 0, "conflicts": 0}
        for what, sql, params in statements:
            while True:
                n: int = await self._run(partial(_delete_chunk, sql, (*params, chunk)))
                counts[what] += n
                if n < chunk:
                    break
        return counts


# ---------------------------------------------------------------------- helpers


def _upgrade_layout(conn: sqlite3.Connection) -> None:
    """Files written by the first cut of this store kept the change log keyed by item and a
    separate stamp table: carry the stamp over and rebuild the (expendable) change log."""
    cols = {r[1] for r in conn.execute("PRAGMA table_info(changes)")}
    if not cols or "prev" in cols:
        return
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    last = conn.execute("SELECT MAX(at) FROM changes").fetchone()[0] or 0
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name='stamp'").fetchone():
        last = max(last, conn.execute("SELECT MAX(last) FROM stamp").fetchone()[0] or 0)
        conn.execute("DROP TABLE stamp")
    _save_stamp(conn, int(last))
    conn.execute("DROP TABLE changes")
    conn.execute("COMMIT")


def _check_mutation_id(mid: MutationId) -> None:
    if not isinstance(mid.client_id, str) or not 0 < len(mid.client_id) <= 256:
        raise BadRequest("mutation id: clientId must be a non-empty string of at most 256 characters")
    if not isinstance(mid.seq, int) or isinstance(mid.seq, bool) or not 0 <= mid.seq < 2**63:
        raise BadRequest(f"mutation id: seq must be an integer from 0 to 2^63-1, got {mid.seq!r}")
    if not isinstance(mid.key, str) or len(mid.key) > 1024:
        raise BadRequest("mutation id: key must be a string of at most 1024 characters")


def _delete_chunk(sql: str, params: tuple[Any, ...], conn: sqlite3.Connection) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        n = conn.execute(sql, params).rowcount
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(n)


def _save_stamp(conn: sqlite3.Connection, stamp: int) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('last_stamp', ?) "
        "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        (str(stamp),),
    )


def _find_base(conn: sqlite3.Connection, at: int | None, version: int) -> Item | None:
    """The item as it was at `version`, walking the change log back from stamp `at`."""
    for _ in range(10_000):
        if at is None:
            return None
        row = conn.execute("SELECT version, prev, data FROM changes WHERE at=?", (at,)).fetchone()
        if row is None or row[0] < version:
            return None  # expired from the change log (or never existed)
        if row[0] == version:
            return _loads(row[2])  # type: ignore[no-any-return]
        at = row[1]
    return None


def _encode(item: Item, where: str) -> str:
    try:
        return _dumps(item)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"{where}: a value cannot be stored as JSON ({exc})") from exc


def _limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise BadRequest(f"limit must be a positive integer, got {limit!r}")
    if limit > MAX_LIMIT:
        raise LimitExceeded(f"limit {limit} is over the maximum of {MAX_LIMIT}; page with nextToken")
    return limit


def _count_risk(conn: sqlite3.Connection, model: str, field: str | None, rows: str) -> int:
    """Stored items (tombstones included) a destructive schema change would touch."""
    if field is None or rows == "any":
        return int(conn.execute("SELECT COUNT(*) FROM items WHERE model=?", (model,)).fetchone()[0])
    path = '$."' + field.replace('"', '""') + '"'
    cond = "IS NOT NULL" if rows == "non_null" else "IS NULL"
    sql = f"SELECT COUNT(*) FROM items WHERE model=? AND json_extract(data, ?) {cond}"
    return int(conn.execute(sql, (model, path)).fetchone()[0])


def _replay(w: _Write, row: Any) -> _Applied:
    model, op, ok, result = row
    mid = w.mutation_id
    assert mid is not None
    if model != w.model.spec.name or op != w.op:
        raise BadRequest(
            f"mutation id ({mid.client_id!r}, {mid.seq}) was already used for {op}{model}; "
            "each mutation needs its own sequence number"
        )
    payload = _loads(result)
    if ok:
        return _Applied(op, payload, None, None, replayed=True)
    cls = getattr(errors, str(payload.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, ClientError)):
        cls = BadRequest
    raise cls(payload.get("message", "replayed failure"), data=payload.get("data"))


def _conflict_record(row: Any) -> ConflictRecord:
    cid, model, item_id, strategy, outcome, base, local, remote, result, at = row
    return ConflictRecord(
        id=cid,
        model=model,
        item_id=item_id,
        strategy=strategy,
        outcome=outcome,
        base=None if base is None else _loads(base),
        local=_loads(local),
        remote=_loads(remote),
        result=None if result is None else _loads(result),
        at=at,
    )


def _record_from(cid: int, c: Mapping[str, Any], at: int) -> ConflictRecord:
    return ConflictRecord(
        id=cid,
        model=c["model"],
        item_id=c["item_id"],
        strategy=c["strategy"],
        outcome=c["outcome"],
        base=c["base"],
        local=c["local"],
        remote=c["remote"],
        result=c["result"],
        at=at,
    )


if TYPE_CHECKING:  # mypy proves SQLiteStore satisfies the Store protocol

    def _conforms(store: SQLiteStore) -> Store:
        return store
