"""The local replica: one SQLite file (aiosqlite, WAL) holding the model tables, the outbox,
the sync cursors, the conflict log and the dead letters.

Every local write and its outbox entry commit in one transaction, so a crash never leaves a
change without its entry or an entry without its change. Remote items never overwrite a row
that still has outbox entries (checked inside the applying transaction).
"""

from __future__ import annotations

import asyncio
import json
import operator
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

import aiosqlite

from ._errors import InvalidItem, RecordNotFound, UnknownModel
from ._model import METADATA, ModelDef
from ._outbox import Append, Drop, Pending, Replace, coalesce, should_apply_remote
from ._query import order_sql, where_sql

__all__ = ["Change", "ConflictRecord", "DeadLetter", "Entry", "Replica"]

Op = Literal["create", "update", "delete"]
_META_COLS = ("createdAt", "updatedAt", "_version", "_lastChangedAt", "_deleted")
_INTERNAL = """
CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _cursors (model TEXT PRIMARY KEY, last_sync INTEGER NOT NULL, synced_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS _outbox (
    entry INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, record_id TEXT NOT NULL,
    op TEXT NOT NULL, payload TEXT NOT NULL, wire_seq INTEGER, wire_input TEXT, wire_key TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS _outbox_record ON _outbox (model, record_id, entry);
CREATE TABLE IF NOT EXISTS _dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, record_id TEXT NOT NULL, op TEXT NOT NULL,
    payload TEXT NOT NULL, error_type TEXT, message TEXT NOT NULL, data TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS _conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, record_id TEXT NOT NULL, local TEXT,
    remote TEXT, attempt INTEGER NOT NULL, decision TEXT NOT NULL, at REAL NOT NULL, merged TEXT);
"""


@dataclass(frozen=True, kw_only=True)
class Change:
    """One change to a replica row, as `observe()` yields it."""

    model: str
    op: Op
    item: Mapping[str, Any]
    source: Literal["local", "remote"]


@dataclass(frozen=True, kw_only=True)
class Entry:
    entry: int
    model: str
    record_id: str
    op: Op
    payload: dict[str, Any]
    wire_seq: int | None
    wire_input: dict[str, Any] | None
    attempts: int
    wire_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeadLetter:
    """A mutation the server refused, kept with its reason until the app retries or drops it."""

    id: int
    model: str
    record_id: str
    op: Op
    payload: Mapping[str, Any]
    error_type: str | None
    message: str
    data: Mapping[str, Any] | None
    created_at: float


@dataclass(frozen=True, kw_only=True)
class ConflictRecord:
    """One conflict the server raised and what the client decided: `resend` (with `merged`,
    the changes sent again over the server's version), `discard` (the server's row won) or
    `dead` (attempts ran out, or the handler gave up)."""

    id: int
    model: str
    record_id: str
    local: Mapping[str, Any] | None
    remote: Mapping[str, Any]
    attempt: int
    decision: str
    merged: Mapping[str, Any] | None
    at: float


def _columns(m: ModelDef) -> list[str]:
    return ["id", *(f.name for f in m.fields), *_META_COLS]


def _row_plan(m: ModelDef) -> tuple[Callable[[Mapping[str, Any]], tuple[Any, ...]], list[tuple[int, Callable[[Any], Any]]]]:
    """An itemgetter of a row's columns, and the positions of the values to convert for SQL."""
    cols = _columns(m)
    convert = [(1 + i, conv) for i, (_, conv) in enumerate(m.converters) if conv is not None]
    return operator.itemgetter(*cols), convert




def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dumps(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), sort_keys=True)


class Replica:
    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self.models: dict[str, ModelDef] = {}
        self.client_id = ""
        self._row_plans: dict[str, tuple[ModelDef, Callable[[Mapping[str, Any]], tuple[Any, ...]], list[tuple[int, Callable[[Any], Any]]]]] = {}

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "replica is not open"
        return self._db

    async def open(self) -> None:
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        self._db.row_factory = aiosqlite.Row
        await self._db.execute("PRAGMA busy_timeout=10000")
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        for stmt in _INTERNAL.split(";"):
            if stmt.strip():
                await self._db.execute(stmt)
        columns = {r[1] for r in await (await self._db.execute("PRAGMA table_info(_conflicts)")).fetchall()}
        if "merged" not in columns:  # a replica made before conflicts kept what was resent
            await self._db.execute("ALTER TABLE _conflicts ADD COLUMN merged TEXT")
        async with self._tx() as db:
            rows = await (await db.execute("SELECT key, value FROM _meta")).fetchall()
            meta = {r["key"]: r["value"] for r in rows}
            if "client_id" not in meta:
                meta["client_id"] = f"py-{uuid.uuid4()}"
                await db.execute("INSERT INTO _meta VALUES ('client_id', ?)", (meta["client_id"],))
                await db.execute("INSERT OR IGNORE INTO _meta VALUES ('next_seq', '1')")
        self.client_id = meta["client_id"]
        for raw in json.loads(meta.get("models", "[]")):
            m = ModelDef.from_json(raw)
            self.models[m.name] = m

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    class _Tx:
        def __init__(self, replica: "Replica") -> None:
            self.r = replica

        async def __aenter__(self) -> aiosqlite.Connection:
            await self.r._lock.acquire()
            try:
                await self.r.db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.r._lock.release()
                raise
            return self.r.db

        async def __aexit__(self, et: Any, *_: Any) -> None:
            try:
                await self.r.db.execute("COMMIT" if et is None else "ROLLBACK")
            finally:
                self.r._lock.release()

    def _tx(self) -> "Replica._Tx":
        return Replica._Tx(self)

    # --- models -----------------------------------------------------------------------------

    async def ensure_models(self, models: Iterable[ModelDef]) -> list[str]:
        """Add models and fields (never drop any); returns the DDL run."""
        ddl: list[str] = []
        async with self._tx() as db:
            for m in models:
                old = self.models.get(m.name)
                merged = old.merged_with(m) if old else m
                cols = {
                    r["name"] for r in await (await db.execute(f'PRAGMA table_info("{merged.table}")')).fetchall()
                }
                if not cols:
                    defs = ", ".join(f'"{f.name}" {f.sql_type}' for f in merged.fields)
                    stmt = (
                        f'CREATE TABLE "{merged.table}" (id TEXT PRIMARY KEY, {defs + ", " if defs else ""}'
                        '"createdAt" TEXT, "updatedAt" TEXT, "_version" INTEGER, "_lastChangedAt" INTEGER, '
                        '"_deleted" INTEGER NOT NULL DEFAULT 0)'
                    )
                    ddl.append(stmt)
                    await db.execute(stmt)
                else:
                    for f in merged.fields:
                        if f.name not in cols:
                            stmt = f'ALTER TABLE "{merged.table}" ADD COLUMN "{f.name}" {f.sql_type}'
                            ddl.append(stmt)
                            await db.execute(stmt)
                self.models[m.name] = merged
            await db.execute(
                "INSERT OR REPLACE INTO _meta VALUES ('models', ?)",
                (_dumps([m.to_json() for m in self.models.values()]),),
            )
        return ddl

    def model(self, name: str) -> ModelDef:
        m = self.models.get(name)
        if m is None:
            raise UnknownModel(name, list(self.models))
        return m

    # --- rows -------------------------------------------------------------------------------

    def _row_item(self, m: ModelDef, row: Any) -> dict[str, Any]:
        item: dict[str, Any] = {"id": row["id"]}
        for f in m.fields:
            item[f.name] = f.from_sql(row[f.name])
        item["createdAt"] = row["createdAt"]
        item["updatedAt"] = row["updatedAt"]
        item["_version"] = row["_version"]
        item["_lastChangedAt"] = row["_lastChangedAt"]
        item["_deleted"] = bool(row["_deleted"])
        return item

    async def _get_row(self, db: aiosqlite.Connection, m: ModelDef, id: str) -> dict[str, Any] | None:
        row = await (await db.execute(f'SELECT * FROM "{m.table}" WHERE id=?', (id,))).fetchone()
        return self._row_item(m, row) if row is not None else None

    def _values(self, m: ModelDef, item: Mapping[str, Any]) -> list[Any]:
        """The row's column values, in `_columns(m)` order (the remote apply's hot path)."""
        cached = self._row_plans.get(m.name)
        if cached is None or cached[0] is not m:
            cached = self._row_plans[m.name] = (m, *_row_plan(m))
        _, getter, convert = cached
        try:
            vals = list(getter(item))  # one C call when the item has every column (a sync page's do)
        except KeyError:
            get = item.get
            vals = [item["id"], *(get(c) for c in _columns(m)[1:])]
        for i, conv in convert:
            v = vals[i]
            if v is not None:
                vals[i] = conv(v)
        vals[-1] = 1 if vals[-1] else 0
        return vals

    async def _put_row(self, db: aiosqlite.Connection, m: ModelDef, item: Mapping[str, Any]) -> None:
        cols = ["id", *(f.name for f in m.fields), *_META_COLS]
        vals = self._values(m, item)
        await db.execute(
            f'INSERT OR REPLACE INTO "{m.table}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
            f'VALUES ({", ".join("?" * len(cols))})',
            vals,
        )

    async def get(self, model: str, id: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        m = self.model(model)
        item = await self._get_row(self.db, m, id)
        if item is None or (item["_deleted"] and not include_deleted):
            return None
        return item

    async def query(
        self,
        model: str,
        *,
        where: Mapping[str, Any] | None = None,
        order_by: str | list[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        include_deleted: bool = False,
    ) -> list[dict[str, Any]]:
        m = self.model(model)
        cond, params = where_sql(m, where)
        deleted = "" if include_deleted else '"_deleted" = 0 AND '
        sql = f'SELECT * FROM "{m.table}" WHERE {deleted}({cond}) ORDER BY {order_sql(m, order_by)}'
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        rows = await (await self.db.execute(sql, params)).fetchall()
        return [self._row_item(m, r) for r in rows]

    # --- local writes -----------------------------------------------------------------------

    def _clean(self, m: ModelDef, values: Mapping[str, Any]) -> dict[str, Any]:
        fm = m.field_map
        out: dict[str, Any] = {}
        for k, v in values.items():
            if k == "id" or k in METADATA:
                continue
            if k not in fm:
                raise InvalidItem(f"{m.name} has no field {k!r}; fields: {', '.join(fm)}")
            out[k] = v
        return out

    async def _last_entry(self, db: aiosqlite.Connection, model: str, id: str) -> tuple[int, Pending] | None:
        row = await (
            await db.execute(
                "SELECT entry, op, payload, wire_seq FROM _outbox WHERE model=? AND record_id=? "
                "ORDER BY entry DESC LIMIT 1",
                (model, id),
            )
        ).fetchone()
        if row is None:
            return None
        return row["entry"], Pending(op=row["op"], payload=json.loads(row["payload"]), sent=row["wire_seq"] is not None)

    async def local_write(self, model: str, op: Op, values: Mapping[str, Any], id: str | None = None) -> Change:
        """Apply a local change and enqueue it, in one transaction."""
        m = self.model(model)
        clean = self._clean(m, values)
        async with self._tx() as db:
            now = _now_iso()
            fresh = op == "create" and not id  # a new uuid4: no row and no outbox entry to look up
            if op == "create":
                rid = id or str(uuid.uuid4())
                if not isinstance(rid, str) or not rid:
                    raise InvalidItem(f"id must be a non-empty string, got {rid!r}")
                if not fresh and await self._get_row(db, m, rid) is not None:
                    raise InvalidItem(f"{m.name} {rid!r} already exists in the replica; use update")
                item: dict[str, Any] = {"id": rid, **{f.name: None for f in m.fields}, **clean}
                item.update(createdAt=now, updatedAt=now, _version=None, _lastChangedAt=None, _deleted=False)
                payload: dict[str, Any] = {"id": rid, **clean}
            else:
                assert id is not None
                rid = id
                cur = await self._get_row(db, m, rid)
                if cur is None or cur["_deleted"]:
                    raise RecordNotFound(m.name, rid)
                item = dict(cur)
                if op == "update":
                    item.update(clean)
                    item["updatedAt"] = now
                    payload = {"id": rid, **clean}
                else:
                    item["_deleted"] = True
                    payload = {"id": rid}
            last = None if fresh else await self._last_entry(db, m.name, rid)
            decision = coalesce(last[1] if last else None, op, payload)
            if isinstance(decision, Append):
                await db.execute(
                    "INSERT INTO _outbox (model, record_id, op, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                    (m.name, rid, decision.op, _dumps(decision.payload), time.time()),
                )
            elif isinstance(decision, Replace):
                assert last is not None
                await db.execute(
                    "UPDATE _outbox SET op=?, payload=? WHERE entry=?", (decision.op, _dumps(decision.payload), last[0])
                )
            elif isinstance(decision, Drop):
                assert last is not None
                await db.execute("DELETE FROM _outbox WHERE entry=?", (last[0],))
            if isinstance(decision, Drop):
                await db.execute(f'DELETE FROM "{m.table}" WHERE id=?', (rid,))
            else:
                await self._put_row(db, m, item)
        return Change(model=m.name, op=op, item=item, source="local")

    # --- outbox -----------------------------------------------------------------------------

    async def pending_count(self) -> int:
        row = await (await self.db.execute("SELECT count(*) FROM _outbox")).fetchone()
        return int(row[0]) if row else 0

    async def pending_ids(self, model: str) -> set[str]:
        rows = await (await self.db.execute("SELECT DISTINCT record_id FROM _outbox WHERE model=?", (model,))).fetchall()
        return {r[0] for r in rows}

    def _entry(self, r: Any) -> Entry:
        return Entry(
            entry=r["entry"],
            model=r["model"],
            record_id=r["record_id"],
            op=r["op"],
            payload=json.loads(r["payload"]),
            wire_seq=r["wire_seq"],
            wire_input=json.loads(r["wire_input"]) if r["wire_input"] else None,
            attempts=r["attempts"],
            wire_key=r["wire_key"],
        )

    async def head(self, limit: int) -> list[Entry]:
        rows = await (await self.db.execute("SELECT * FROM _outbox ORDER BY entry LIMIT ?", (limit,))).fetchall()
        return [self._entry(r) for r in rows]

    async def entries_of(self, seq: int) -> list[Entry]:
        rows = await (
            await self.db.execute("SELECT * FROM _outbox WHERE wire_seq=? ORDER BY entry", (seq,))
        ).fetchall()
        return [self._entry(r) for r in rows]

    async def _rows(self, db: aiosqlite.Connection, m: ModelDef, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for k in range(0, len(ids), 500):
            chunk = list(ids[k : k + 500])
            rows = await (
                await db.execute(f'SELECT * FROM "{m.table}" WHERE id IN ({",".join("?" * len(chunk))})', chunk)
            ).fetchall()
            out.update({r["id"]: self._row_item(m, r) for r in rows})
        return out

    async def assign_wire(self, entries: Sequence[int]) -> tuple[int, list[Entry]]:
        """Freeze these entries as one wire batch: a new seq and the exact inputs, committed
        before anything is sent, so a resend after a crash is the same request."""
        async with self._tx() as db:
            row = await (await db.execute("SELECT value FROM _meta WHERE key='next_seq'")).fetchone()
            seq = int(row[0]) if row else 1
            await db.execute("INSERT OR REPLACE INTO _meta VALUES ('next_seq', ?)", (str(seq + 1),))
            rows = await (
                await db.execute(
                    f"SELECT * FROM _outbox WHERE entry IN ({','.join('?' * len(entries))}) ORDER BY entry", list(entries)
                )
            ).fetchall()
            ents = [self._entry(r) for r in rows]
            current: dict[tuple[str, str], dict[str, Any]] = {}
            for name in {e.model for e in ents if e.op != "create"}:
                m = self.model(name)
                for rid, item in (await self._rows(db, m, [e.record_id for e in ents if e.model == name])).items():
                    current[(name, rid)] = item
            out: list[Entry] = []
            updates: list[tuple[int, str, str, int]] = []
            for pos, ent in enumerate(ents):
                # The response key is the entry's position, so every full batch is the same
                # document text (the server caches parsed, validated documents by text); it is
                # stored, because a resend of what is left of a batch must keep each key.
                key = f"m{pos}"
                m = self.model(ent.model)
                wire: dict[str, Any] = {"id": ent.record_id}
                if ent.op != "delete":
                    wire.update(m.input_fields(ent.payload))
                if ent.op != "create":
                    wire["_version"] = current.get((ent.model, ent.record_id), {}).get("_version") or 0
                updates.append((seq, _dumps(wire), key, ent.entry))
                out.append(Entry(**{**ent.__dict__, "wire_seq": seq, "wire_input": wire, "wire_key": key}))
            await db.executemany("UPDATE _outbox SET wire_seq=?, wire_input=?, wire_key=? WHERE entry=?", updates)
        return seq, out

    async def unfreeze(self, entries: Sequence[int], *, bump: bool = False) -> None:
        """Forget the wire batch of entries the server provably did not apply."""
        async with self._tx() as db:
            for e in entries:
                await db.execute(
                    "UPDATE _outbox SET wire_seq=NULL, wire_input=NULL, wire_key=NULL, attempts=attempts+? WHERE entry=?",
                    (1 if bump else 0, e),
                )

    async def ack(self, ent: Entry, item: Mapping[str, Any]) -> Change | None:
        return (await self.ack_many([(ent, item)]))[0]

    async def ack_many(self, acks: Sequence[tuple[Entry, Mapping[str, Any]]]) -> list[Change | None]:
        """The server applied these entries and answered these items: drop the entries and
        take the server's rows (only their metadata while later local changes still queue).
        One transaction for a whole batch: per-entry round trips dominated the drain."""
        if not acks:
            return []
        out: list[Change | None] = []
        async with self._tx() as db:
            await db.executemany("DELETE FROM _outbox WHERE entry=?", [(e.entry,) for e, _ in acks])
            by_model: dict[str, list[tuple[Entry, Mapping[str, Any]]]] = {}
            for e, it in acks:
                by_model.setdefault(e.model, []).append((e, it))
            results: dict[int, Change | None] = {}
            for name, pairs in by_model.items():
                m = self.model(name)
                ids = [e.record_id for e, _ in pairs]
                more: set[str] = set()
                for k in range(0, len(ids), 500):
                    chunk = ids[k : k + 500]
                    rows = await (
                        await db.execute(
                            f"SELECT DISTINCT record_id FROM _outbox WHERE model=? AND record_id IN "
                            f"({','.join('?' * len(chunk))})",
                            [name, *chunk],
                        )
                    ).fetchall()
                    more.update(r[0] for r in rows)
                current = await self._rows(db, m, ids)
                cols = ["id", *(f.name for f in m.fields), *_META_COLS]
                puts: list[list[Any]] = []
                for e, item in pairs:
                    cur = current.get(e.record_id)
                    if e.record_id in more and cur is not None:
                        new = dict(cur)
                        for k2 in METADATA:
                            if k2 != "_deleted":
                                new[k2] = item.get(k2, cur.get(k2))
                        results[e.entry] = None
                    else:
                        new = {**(cur or {}), **item}
                        same = cur is not None and all(cur.get(k2) == v for k2, v in new.items())
                        op: Op = "delete" if new.get("_deleted") else ("create" if e.op == "create" else "update")
                        results[e.entry] = None if same else Change(model=m.name, op=op, item=new, source="remote")
                    current[e.record_id] = new
                    puts.append(self._values(m, new))
                await db.executemany(
                    f'INSERT OR REPLACE INTO "{m.table}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
                    f'VALUES ({", ".join("?" * len(cols))})',
                    puts,
                )
            out = [results[e.entry] for e, _ in acks]
        return out

    async def resend(self, ent: Entry, *, payload: Mapping[str, Any], remote: Mapping[str, Any], local_fields: bool) -> None:
        """Re-queue `ent` (a new wire seq) over the server's version after a conflict."""
        m = self.model(ent.model)
        async with self._tx() as db:
            await db.execute(
                "UPDATE _outbox SET payload=?, wire_seq=NULL, wire_input=NULL, wire_key=NULL, attempts=attempts+1 WHERE entry=?",
                (_dumps(dict(payload)), ent.entry),
            )
            cur = await self._get_row(db, m, ent.record_id)
            if cur is not None:
                cur["_version"] = remote.get("_version")
                cur["_lastChangedAt"] = remote.get("_lastChangedAt")
                if local_fields and ent.op != "delete":
                    cur.update(self._clean(m, payload))
                await self._put_row(db, m, cur)

    async def discard(self, ent: Entry, remote: Mapping[str, Any]) -> Change | None:
        """Drop the entry and take the server's item (its metadata only, if more changes queue)."""
        return await self.ack(ent, remote)

    async def dead_letter(
        self, ent: Entry, *, error_type: str | None, message: str, data: Mapping[str, Any] | None
    ) -> bool:
        """Move `ent` to dead letters; True when the record has no other queued change."""
        async with self._tx() as db:
            await db.execute("DELETE FROM _outbox WHERE entry=?", (ent.entry,))
            await db.execute(
                "INSERT INTO _dead_letters (model, record_id, op, payload, error_type, message, data, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ent.model,
                    ent.record_id,
                    ent.op,
                    _dumps(ent.payload),
                    error_type,
                    message,
                    _dumps(dict(data)) if data is not None else None,
                    time.time(),
                ),
            )
            more = await (
                await db.execute(
                    "SELECT 1 FROM _outbox WHERE model=? AND record_id=? LIMIT 1", (ent.model, ent.record_id)
                )
            ).fetchone()
        return more is None

    async def dead_letters(self) -> list[DeadLetter]:
        rows = await (await self.db.execute("SELECT * FROM _dead_letters ORDER BY id")).fetchall()
        return [
            DeadLetter(
                id=r["id"],
                model=r["model"],
                record_id=r["record_id"],
                op=r["op"],
                payload=json.loads(r["payload"]),
                error_type=r["error_type"],
                message=r["message"],
                data=json.loads(r["data"]) if r["data"] else None,
                created_at=r["created_at"],
            )
            for r in rows
        ]

    async def take_dead_letter(self, id: int) -> DeadLetter | None:
        for d in await self.dead_letters():
            if d.id == id:
                async with self._tx() as db:
                    await db.execute("DELETE FROM _dead_letters WHERE id=?", (id,))
                return d
        return None

    async def record_conflict(
        self,
        ent: Entry,
        local: Mapping[str, Any] | None,
        remote: Mapping[str, Any],
        attempt: int,
        decision: str,
        merged: Mapping[str, Any] | None = None,
    ) -> None:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO _conflicts (model, record_id, local, remote, attempt, decision, at, merged) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    ent.model, ent.record_id, _dumps(local), _dumps(dict(remote)), attempt, decision, time.time(),
                    None if merged is None else _dumps(dict(merged)),
                ),
            )

    async def conflicts(self, model: str | None = None) -> list[ConflictRecord]:
        sql, args = "SELECT * FROM _conflicts", []
        if model is not None:
            sql, args = sql + " WHERE model=?", [model]
        rows = await (await self.db.execute(sql + " ORDER BY id", args)).fetchall()
        return [
            ConflictRecord(
                id=r["id"],
                model=r["model"],
                record_id=r["record_id"],
                local=json.loads(r["local"]) if r["local"] else None,
                remote=json.loads(r["remote"]) if r["remote"] else {},
                attempt=r["attempt"],
                decision=r["decision"],
                merged=json.loads(r["merged"]) if r["merged"] else None,
                at=r["at"],
            )
            for r in rows
        ]

    # --- remote -----------------------------------------------------------------------------

    async def apply_remote(
        self, model: str, items: Sequence[Mapping[str, Any]], *, force: bool = False, changes: bool = True
    ) -> list[Change]:
        """Apply server items that are newer than the local rows, skipping rows with queued
        local changes (unless `force`: the caller knows the record has none)."""
        m = self.model(model)
        if not items:
            return []
        out: list[Change] = []
        async with self._tx() as db:
            pending = set() if force else {
                r[0]
                for r in await (
                    await db.execute("SELECT DISTINCT record_id FROM _outbox WHERE model=?", (m.name,))
                ).fetchall()
            }
            ids = [it["id"] for it in items if it and it.get("id") not in pending]
            local: dict[str, tuple[int | None, int | None]] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                rows = await (
                    await db.execute(
                        f'SELECT id, "_version", "_lastChangedAt" FROM "{m.table}" WHERE id IN ({",".join("?" * len(chunk))})',
                        chunk,
                    )
                ).fetchall()
                local.update({r[0]: (r[1], r[2]) for r in rows})
            cols = ["id", *(f.name for f in m.fields), *_META_COLS]
            batch: list[list[Any]] = []
            for it in items:
                if not it or it.get("id") in pending:
                    continue
                if not force and not should_apply_remote(local.get(it["id"]), it):
                    continue
                batch.append(self._values(m, it))
                if changes:
                    op: Op = "delete" if it.get("_deleted") else ("update" if it["id"] in local else "create")
                    out.append(Change(model=m.name, op=op, item=dict(it), source="remote"))
            if batch:
                await db.executemany(
                    f'INSERT OR REPLACE INTO "{m.table}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
                    f'VALUES ({", ".join("?" * len(cols))})',
                    batch,
                )
        return out

    async def remove_missing(self, model: str, seen: set[str], started_at: int) -> list[Change]:
        """After a base sync: drop rows the server did not return, except rows with queued
        changes and rows written after the base sync started."""
        m = self.model(model)
        changes: list[Change] = []
        async with self._tx() as db:
            rows = await (
                await db.execute(
                    f'SELECT * FROM "{m.table}" WHERE ("_lastChangedAt" IS NULL OR "_lastChangedAt" <= ?) '
                    f"AND id NOT IN (SELECT record_id FROM _outbox WHERE model=?)",
                    (started_at, m.name),
                )
            ).fetchall()
            gone = [r for r in rows if r["id"] not in seen]
            for r in gone:
                await db.execute(f'DELETE FROM "{m.table}" WHERE id=?', (r["id"],))
                if not r["_deleted"]:
                    changes.append(Change(model=m.name, op="delete", item=self._row_item(m, r), source="remote"))
        return changes

    async def remove_row(self, model: str, id: str) -> list[Change]:
        m = self.model(model)
        async with self._tx() as db:
            cur = await self._get_row(db, m, id)
            await db.execute(f'DELETE FROM "{m.table}" WHERE id=?', (id,))
        if cur is None or cur["_deleted"]:
            return []
        return [Change(model=m.name, op="delete", item=cur, source="remote")]

    async def cursor(self, model: str) -> tuple[int, float]:
        row = await (await self.db.execute("SELECT last_sync, synced_at FROM _cursors WHERE model=?", (model,))).fetchone()
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    async def set_cursor(self, model: str, last_sync: int) -> None:
        async with self._tx() as db:
            await db.execute("INSERT OR REPLACE INTO _cursors VALUES (?, ?, ?)", (model, last_sync, time.time()))
