"""Durable storage of state machine versions, executions, history events and completions.

Why a separate file (`DATA/workflows.db`) with its own `SQLiteThread` and not tables in
syncline.db: workflow transitions are many small writes; on their own writer thread they
group-commit with each other without queueing behind (or in front of) model mutations, and a
runaway workflow cannot stall the data API. Nothing needs a transaction spanning both files:
a GraphQL step writes records through the public API, and triggers start executions *after*
the mutation committed (the execution name derived from the mutation makes that retry-safe).

What is stored is what replay needs (see asl/interpreter.py "Durability: replay by history"):
the history events (their timestamps are the RecordEvent replies) and the Completions in the
order they were sent. A transition is persisted as one `append` job: its events, the
completion that started it and the execution row's new status commit in one transaction.

Tables:
    state_machines(name, version, definition, type, created_ms)    every change is a new version
    executions(arn, state_machine, name, version, type, input, status, ..., seed, redrive_count)
    api_machines(name, deleted)                                      machines made by createStateMachine
    transitions(arn, seq, first_id, last_id, body)                  one row per committed transition
    redriven(arn, redrive, body)                                     what a redrive rewound

One row per transition, not one per event: a Task transition records ~5 events and a
completion, and one INSERT of one JSON body costs a fraction of six (measured with
bench/bench_workflows.py). `body` = {"c": [completion, ...], "e": [event, ...]} where a
completion is [effect_id, at_ms, ok, output, error, cause, events_before] and an event
[id, previous_id, ts, type, details]. History pages read the rows whose id range they need.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from server.store._worker import SQLiteThread
from server.workflows.asl.effects import Completion
from server.workflows.asl.history import HistoryEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state_machines(
  name TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL, type TEXT NOT NULL,
  created_ms INTEGER NOT NULL, PRIMARY KEY(name, version));
CREATE TABLE IF NOT EXISTS executions(
  arn TEXT PRIMARY KEY, state_machine TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
  type TEXT NOT NULL, input TEXT NOT NULL, status TEXT NOT NULL, start_ms INTEGER NOT NULL,
  stop_ms INTEGER, output TEXT, error TEXT, cause TEXT, seed INTEGER NOT NULL,
  redrive_count INTEGER NOT NULL DEFAULT 0, redrive_ms INTEGER, events INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions(status);
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions(state_machine, start_ms);
CREATE TABLE IF NOT EXISTS transitions(
  arn TEXT NOT NULL, seq INTEGER NOT NULL, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL,
  body TEXT NOT NULL, PRIMARY KEY(arn, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_machines(
  name TEXT PRIMARY KEY, deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS redriven(
  arn TEXT NOT NULL, redrive INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY(arn, redrive)) WITHOUT ROWID;
"""

OPEN_STATUSES = ("RUNNING",)


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionRow:
    """One execution as stored (payloads are JSON text, as AWS returns them)."""

    arn: str
    state_machine: str
    name: str
    version: int
    type: str
    input: str
    status: str
    start_ms: int
    stop_ms: int | None
    output: str | None
    error: str | None
    cause: str | None
    seed: int
    redrive_count: int
    redrive_ms: int | None
    events: int


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredEvent:
    id: int
    previous_event_id: int
    ts: int
    type: str
    details: dict[str, Any] | None

    def as_event(self) -> HistoryEvent:
        return HistoryEvent(id=self.id, previous_event_id=self.previous_event_id, type=self.type, details=self.details)


@dataclass(frozen=True, kw_only=True, slots=True)
class Transition:
    """What one commit appends: events (with timestamps), completions, and the new status."""

    arn: str
    events: Sequence[tuple[HistoryEvent, int]]
    completions: Sequence[tuple[Completion, int]]  # (completion, last event id before it)
    seq: int
    status: str = "RUNNING"
    stop_ms: int | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None


_COLUMNS = (
    "arn, state_machine, name, version, type, input, status, start_ms, stop_ms, output, error, cause, "
    "seed, redrive_count, redrive_ms, events"
)


def _row(r: Sequence[Any]) -> ExecutionRow:
    return ExecutionRow(
        arn=r[0], state_machine=r[1], name=r[2], version=r[3], type=r[4], input=r[5], status=r[6],
        start_ms=r[7], stop_ms=r[8], output=r[9], error=r[10], cause=r[11], seed=r[12],
        redrive_count=r[13], redrive_ms=r[14], events=r[15],
    )


class WorkflowStore:
    """The workflows database; every method is one job on the writer thread."""

    def __init__(self, path: Path, *, durability: str = "normal") -> None:
        self.path = path
        self._durability = "FULL" if durability == "full" else "NORMAL"
        self._thread = SQLiteThread(self._connect, name="syncline-workflows", max_batch=256)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._durability}")
        conn.executescript(_SCHEMA)
        return conn

    async def open(self) -> None:
        await self._thread.start()

    async def close(self) -> None:
        await self._thread.close()

    async def ping(self) -> None:
        """Readiness: the writer thread answers and the file takes a write transaction."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")

        await self._thread.run(job)

    # --- state machines -----------------------------------------------------------------------

    async def register_version(self, name: str, definition: str, type: str, now_ms: int) -> int:
        """The version number of (definition, type) for `name`: the latest if unchanged, else a new one."""

        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT version, definition, type FROM state_machines WHERE name=? ORDER BY version DESC LIMIT 1",
                (name,),
            ).fetchone()
            if row is not None and row[1] == definition and row[2] == type:
                return int(row[0])
            version = 1 if row is None else int(row[0]) + 1
            conn.execute(
                "INSERT INTO state_machines(name, version, definition, type, created_ms) VALUES (?,?,?,?,?)",
                (name, version, definition, type, now_ms),
            )
            return version

        return await self._thread.run(job, batch=True)

    async def set_api_machine(self, name: str, *, deleted: bool) -> None:
        await self._thread.run(
            lambda conn: conn.execute(
                "INSERT INTO api_machines(name, deleted) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET deleted=excluded.deleted",
                (name, int(deleted)),
            ),
            batch=True,
        )

    async def api_machines(self) -> list[tuple[str, int, str, str]]:
        """(name, version, definition, type) of the latest version of each live API-made machine."""

        def job(conn: sqlite3.Connection) -> list[tuple[str, int, str, str]]:
            return [
                (r[0], int(r[1]), r[2], r[3])
                for r in conn.execute(
                    "SELECT m.name, m.version, m.definition, m.type FROM state_machines m "
                    "JOIN api_machines a ON a.name = m.name AND a.deleted = 0 "
                    "WHERE m.version = (SELECT MAX(version) FROM state_machines WHERE name = m.name) ORDER BY m.name"
                )
            ]

        return await self._thread.run(job)

    async def definition(self, name: str, version: int) -> tuple[str, str] | None:
        def job(conn: sqlite3.Connection) -> tuple[str, str] | None:
            row = conn.execute(
                "SELECT definition, type FROM state_machines WHERE name=? AND version=?", (name, version)
            ).fetchone()
            return None if row is None else (row[0], row[1])

        return await self._thread.run(job)

    async def versions(self, name: str) -> list[tuple[int, int]]:
        """(version, created_ms) of `name`, oldest first."""

        def job(conn: sqlite3.Connection) -> list[tuple[int, int]]:
            return [
                (int(v), int(c))
                for v, c in conn.execute(
                    "SELECT version, created_ms FROM state_machines WHERE name=? ORDER BY version", (name,)
                )
            ]

        return await self._thread.run(job)

    # --- executions ---------------------------------------------------------------------------

    async def create_execution(self, row: ExecutionRow) -> tuple[ExecutionRow, bool]:
        """Insert `row` unless an execution with its arn exists; returns (stored row, created)."""

        def job(conn: sqlite3.Connection) -> tuple[ExecutionRow, bool]:
            existing = conn.execute(f"SELECT {_COLUMNS} FROM executions WHERE arn=?", (row.arn,)).fetchone()
            if existing is not None:
                return _row(existing), False
            conn.execute(
                f"INSERT INTO executions({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    row.arn, row.state_machine, row.name, row.version, row.type, row.input, row.status,
                    row.start_ms, row.stop_ms, row.output, row.error, row.cause, row.seed, row.redrive_count,
                    row.redrive_ms, row.events,
                ),
            )
            return row, True

        return await self._thread.run(job, batch=True)

    async def get(self, arn: str) -> ExecutionRow | None:
        def job(conn: sqlite3.Connection) -> ExecutionRow | None:
            r = conn.execute(f"SELECT {_COLUMNS} FROM executions WHERE arn=?", (arn,)).fetchone()
            return None if r is None else _row(r)

        return await self._thread.run(job)

    async def list_executions(
        self,
        *,
        state_machine: str | None = None,
        status: str | None = None,
        limit: int = 100,
        after: tuple[int, str] | None = None,
    ) -> list[ExecutionRow]:
        """Newest first; `after` = (start_ms, arn) of the last row of the previous page."""

        def job(conn: sqlite3.Connection) -> list[ExecutionRow]:
            where: list[str] = []
            args: list[Any] = []
            if state_machine is not None:
                where.append("state_machine=?")
                args.append(state_machine)
            if status is not None:
                where.append("status=?")
                args.append(status)
            if after is not None:
                where.append("(start_ms < ? OR (start_ms = ? AND arn < ?))")
                args.extend([after[0], after[0], after[1]])
            sql = f"SELECT {_COLUMNS} FROM executions"
            if where:
                sql += " WHERE " + " AND ".join(where)
            sql += " ORDER BY start_ms DESC, arn DESC LIMIT ?"
            args.append(limit)
            return [_row(r) for r in conn.execute(sql, args)]

        return await self._thread.run(job)

    async def open_executions(self) -> list[ExecutionRow]:
        def job(conn: sqlite3.Connection) -> list[ExecutionRow]:
            return [
                _row(r)
                for r in conn.execute(f"SELECT {_COLUMNS} FROM executions WHERE status='RUNNING' ORDER BY start_ms")
            ]

        return await self._thread.run(job)

    async def replay_log(self, arn: str) -> tuple[list[StoredEvent], list[Completion], int]:
        """The stored events (id order), completions (send order) and the next transition seq."""

        def job(conn: sqlite3.Connection) -> tuple[list[StoredEvent], list[Completion], int]:
            events: list[StoredEvent] = []
            completions: list[Completion] = []
            next_seq = 0
            for seq, body in conn.execute("SELECT seq, body FROM transitions WHERE arn=? ORDER BY seq", (arn,)):
                decoded = json.loads(body)
                completions.extend(_completion(c) for c in decoded["c"])
                events.extend(_event(e) for e in decoded["e"])
                next_seq = seq + 1
            return events, completions, next_seq

        return await self._thread.run(job)

    async def history(self, arn: str, *, after_id: int = 0, limit: int = 1000, reverse: bool = False) -> list[StoredEvent]:
        """Events after `after_id` (reverse: before it, newest first), at most `limit`."""

        def job(conn: sqlite3.Connection) -> list[StoredEvent]:
            if reverse:
                cond, args, order = ("first_id<?", (arn, after_id), "DESC") if after_id else ("1", (arn,), "DESC")
            else:
                cond, args, order = "last_id>?", (arn, after_id), "ASC"
            out: list[StoredEvent] = []
            for (body,) in conn.execute(
                f"SELECT body FROM transitions WHERE arn=? AND {cond} ORDER BY seq {order}", args
            ):
                events = [_event(e) for e in json.loads(body)["e"]]
                if reverse:
                    events.reverse()
                for e in events:
                    wanted = (after_id == 0 or e.id < after_id) if reverse else e.id > after_id
                    if wanted:
                        out.append(e)
                        if len(out) >= limit:
                            return out
            return out

        return await self._thread.run(job)

    async def append(self, transition: Transition) -> None:
        """Commit one transition: its events, completions and the execution's status, atomically."""
        await self.submit_append(transition)

    def submit_append(self, transition: Transition) -> "asyncio.Future[None]":
        """Queue `append`; the future settles after the COMMIT (or with the error)."""
        return self._thread.submit(lambda conn: _append(conn, transition), batch=True)

    async def redrive(self, arn: str, now_ms: int) -> ExecutionRow:
        """Rewind a FAILED/ABORTED execution to before the failure; returns the row, now RUNNING.

        FAILED: the last Completion must be the failure (a task's); it and every event after it
        move to `redriven`, so replay re-runs that task. ABORTED: only the ExecutionAborted
        event goes (the driver, not the interpreter, wrote it).

        Raises:
            LookupError: no such execution.
            ValueError: the execution cannot be redriven (reason in the message).
        """

        def job(conn: sqlite3.Connection) -> ExecutionRow:
            r = conn.execute(f"SELECT {_COLUMNS} FROM executions WHERE arn=?", (arn,)).fetchone()
            if r is None:
                raise LookupError(arn)
            row = _row(r)
            rows = [
                (seq, json.loads(body))
                for seq, body in conn.execute("SELECT seq, body FROM transitions WHERE arn=? ORDER BY seq", (arn,))
            ]
            events = [e for _, b in rows for e in b["e"]]
            completions = [(seq, i, c) for seq, b in rows for i, c in enumerate(b["c"])]
            if row.status == "FAILED":
                if not completions or completions[-1][2][2]:
                    raise ValueError(
                        "the execution failed in a state that would fail again (a Fail state or a data error), "
                        "not in a task: nothing to redrive"
                    )
                cut_seq, cut_index, failed = completions[-1]
                keep_events = int(failed[6])
            elif row.status == "ABORTED":
                cut_seq, cut_index = rows[-1][0], len(rows[-1][1]["c"])
                keep_events = max(e[0] for e in events) - 1
            else:
                raise ValueError(f"only FAILED or ABORTED executions can be redriven; this one is {row.status}")
            redrive = row.redrive_count + 1
            removed = {
                "c": [c for seq, i, c in completions if (seq, i) >= (cut_seq, cut_index)],
                "e": [e for e in events if e[0] > keep_events],
            }
            conn.execute(
                "INSERT INTO redriven(arn, redrive, body) VALUES (?,?,?)", (arn, redrive, json.dumps(removed))
            )
            conn.execute("DELETE FROM transitions WHERE arn=? AND seq>=?", (arn, cut_seq))
            cut_body = next(b for seq, b in rows if seq == cut_seq)
            kept = {
                "c": [c for seq, i, c in completions if seq == cut_seq and i < cut_index],
                "e": [e for e in cut_body["e"] if e[0] <= keep_events],
            }
            if kept["c"] or kept["e"]:
                _insert(conn, arn, cut_seq, kept)
            conn.execute(
                "UPDATE executions SET status='RUNNING', stop_ms=NULL, output=NULL, error=NULL, cause=NULL, "
                "redrive_count=?, redrive_ms=?, events=? WHERE arn=?",
                (redrive, now_ms, keep_events, arn),
            )
            return _row(conn.execute(f"SELECT {_COLUMNS} FROM executions WHERE arn=?", (arn,)).fetchone())

        return await self._thread.run(job, batch=True)


def _event(e: list[Any]) -> StoredEvent:
    return StoredEvent(id=e[0], previous_event_id=e[1], ts=e[2], type=e[3], details=e[4])


def _completion(c: list[Any]) -> Completion:
    return Completion(id=c[0], at_ms=c[1], ok=bool(c[2]), output=c[3], error=c[4], cause=c[5])


def _insert(conn: sqlite3.Connection, arn: str, seq: int, body: dict[str, Any]) -> None:
    ids = [e[0] for e in body["e"]]
    conn.execute(
        "INSERT INTO transitions(arn, seq, first_id, last_id, body) VALUES (?,?,?,?,?)",
        (arn, seq, min(ids, default=0), max(ids, default=0), json.dumps(body, separators=(",", ":"))),
    )


def _append(conn: sqlite3.Connection, t: Transition) -> None:
    last = conn.execute("SELECT MAX(seq) FROM transitions WHERE arn=?", (t.arn,)).fetchone()[0]
    if t.seq != (-1 if last is None else int(last)) + 1:
        # The previous transition did not commit: refuse, so that the stored log stays a
        # prefix that replay can resume from.
        raise sqlite3.IntegrityError(f"transition {t.seq} of {t.arn} does not follow {last}")
    if t.events or t.completions:
        body = {
            "c": [[c.id, c.at_ms, int(c.ok), c.output, c.error, c.cause, before] for c, before in t.completions],
            "e": [
                [e.id, e.previous_event_id, ts, e.type, None if e.details is None else dict(e.details)]
                for e, ts in t.events
            ],
        }
        _insert(conn, t.arn, t.seq, body)
    if t.status == "RUNNING":
        return  # the row changes only with the status
    last_id = t.events[-1][0].id if t.events else None
    conn.execute(
        "UPDATE executions SET status=?, stop_ms=?, output=?, error=?, cause=?, events=COALESCE(?, events) "
        "WHERE arn=?",
        (t.status, t.stop_ms, t.output, t.error, t.cause, last_id, t.arn),
    )


def rows_by_status(rows: Iterable[ExecutionRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts
