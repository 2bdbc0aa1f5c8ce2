"""A thread that owns one sqlite3 connection and runs whole transactions for the event loop.

Why not aiosqlite for writes: aiosqlite runs *each call* (execute, fetch, commit) as one hop
to its worker thread and back through the event loop, and has no public API to run a
function of ours in that thread. A write is ~7 statements; as 7+ hops it costs several
hundred microseconds of loop wake-ups. Here a whole transaction is one function, so a write
is exactly one hop. Same model as aiosqlite (one thread per connection, FIFO jobs), so writes
are serialised the same way; reads stay on aiosqlite connections (WAL lets them run beside
the writer).

Group commit: the COMMIT of a WAL transaction costs more than the statements in it (a write
syscall per page frame). Jobs submitted with `batch=True` are *bodies* that run inside a
transaction the thread opens; the jobs waiting in the queue when one starts (up to
`max_batch`) share it, each inside its own SAVEPOINT, so a body that raises is rolled back
alone. Nobody's result is delivered before the shared COMMIT succeeds, so an acknowledged
write is always durable; if the COMMIT fails, every job in the group gets the error.

Jobs submitted during one turn of the event loop reach the thread together, at the end of
that turn: one wake-up per turn rather than per job, and the requests served in one turn share
one group commit (handed over one by one, the thread woke for each job and, on one core,
committed most of them alone).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any, Callable, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Job:
    loop: asyncio.AbstractEventLoop
    fut: "asyncio.Future[Any]"
    fn: Callable[[sqlite3.Connection], Any]
    batch: bool
    #: Called with the job's result when its future was cancelled (the caller stopped waiting).
    orphan: Callable[[Any], None] | None = None


def _settle_all(results: list[tuple["asyncio.Future[Any]", bool, Any, Callable[[Any], None] | None]]) -> None:
    for fut, ok, value, orphan in results:
        if fut.done():  # the awaiting task was cancelled; the job ran (and committed) anyway
            if ok and orphan is not None:
                orphan(value)
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


class SQLiteThread:
    """Runs `fn(connection)` jobs one at a time, in order, on a dedicated thread."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        name: str,
        max_batch: int = 64,
        checkpoint: Callable[[], sqlite3.Connection] | None = None,
        checkpoint_every: int = 500,
    ) -> None:
        self._connect = connect
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._max_batch = max(1, max_batch)
        self._started = False
        self._closed = False
        # WAL checkpoints copy pages into the database file and fsync it; run inline they
        # stall one in every ~hundred commits by milliseconds. With `checkpoint` (a connect
        # function for a second connection), a helper thread runs PASSIVE checkpoints every
        # `checkpoint_every` commits instead; PASSIVE never blocks the writer or readers.
        self._ckpt_connect = checkpoint
        self._ckpt_every = max(1, checkpoint_every)
        self._ckpt_wake = threading.Event()
        self._ckpt_stop = False
        self._ckpt_thread = (
            threading.Thread(target=self._checkpointer, name=name + "-checkpoint", daemon=True)
            if checkpoint is not None
            else None
        )
        self._commits = 0
        #: Jobs submitted in the current turn of the event loop, handed over by `_flush`.
        self._pending: list[_Job] = []

    async def start(self) -> None:
        self._thread.start()
        self._started = True
        await self.run(lambda conn: None)
        if self._ckpt_thread is not None:
            self._ckpt_thread.start()

    def _checkpointer(self) -> None:
        assert self._ckpt_connect is not None
        conn = self._ckpt_connect()
        try:
            while True:
                self._ckpt_wake.wait()
                self._ckpt_wake.clear()
                if self._ckpt_stop:
                    break
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # busy or I/O: the next wake-up tries again
                    pass
        finally:
            conn.close()

    def _committed(self) -> None:
        self._commits += 1
        if self._commits >= self._ckpt_every and self._ckpt_thread is not None:
            self._commits = 0
            self._ckpt_wake.set()

    def _main(self) -> None:
        conn: sqlite3.Connection | None = None
        error: BaseException | None = None
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to every job, starting with start()'s
            error = exc
        held: _Job | None = None
        stopping = False
        while not stopping:
            if held is not None:
                job, held = held, None
            else:
                got = self._jobs.get()
                if got is None:
                    break
                job = got
            if error is not None or conn is None:
                _deliver([(job, False, error)])
                continue
            if not job.batch:
                _deliver([_call(job, conn)])
                continue
            group = [job]
            while len(group) < self._max_batch:
                try:
                    nxt = self._jobs.get_nowait()
                except Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                if not nxt.batch:
                    held = nxt
                    break
                group.append(nxt)
            _deliver(_run_group(group, conn))
            self._committed()
        if held is not None and conn is not None:
            _deliver([_call(held, conn)])
        if conn is not None:
            conn.close()

    def submit(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        batch: bool = False,
        orphan: Callable[[T], None] | None = None,
    ) -> "asyncio.Future[T]":
        """Queue `fn`; the future settles after it ran (for batch jobs: after the COMMIT).

        With `batch=True`, `fn` runs inside a write transaction the thread opens and commits
        (possibly shared with other batch jobs); it must not BEGIN/COMMIT itself. A job runs
        even if its future is cancelled meanwhile; `orphan` then gets its result (on the loop).
        """
        if self._closed or not self._started:
            raise RuntimeError("the SQLite connection is not open")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        pending = self._pending
        pending.append(_Job(loop, fut, fn, batch, orphan))
        if len(pending) == 1:
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        """Queue this turn's jobs, in submission order."""
        pending, self._pending = self._pending, []
        put = self._jobs.put
        for job in pending:
            put(job)

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, batch: bool = False) -> T:
        """Run `fn` on the thread; returns its result or raises its exception."""
        return await self.submit(fn, batch=batch)

    async def close(self) -> None:
        """Finish queued jobs, close the connection and join the thread."""
        if self._closed or not self._started:
            self._closed = True
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        if self._ckpt_thread is not None and self._ckpt_thread.is_alive():
            self._ckpt_stop = True
            self._ckpt_wake.set()
            await loop.run_in_executor(None, self._ckpt_thread.join)
        self._flush()  # jobs submitted in this turn still run, before the thread stops
        self._jobs.put(None)
        await loop.run_in_executor(None, self._thread.join)


def _call(job: _Job, conn: sqlite3.Connection) -> tuple[_Job, bool, Any]:
    try:
        return job, True, job.fn(conn)
    except BaseException as exc:
        return job, False, exc


def _run_group(group: list[_Job], conn: sqlite3.Connection) -> list[tuple[_Job, bool, Any]]:
    results: list[tuple[_Job, bool, Any]] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
    except BaseException as exc:
        return [(job, False, exc) for job in group]
    try:
        if len(group) == 1:
            job, ok, value = _call(group[0], conn)
            if not ok:
                conn.execute("ROLLBACK")
                return [(job, ok, value)]
            results.append((job, ok, value))
        else:
            for job in group:
                conn.execute("SAVEPOINT job")
                outcome = _call(job, conn)
                if not outcome[1]:
                    conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                results.append(outcome)
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return [(job, False, exc) for job in group]
    return results


def _deliver(results: list[tuple[_Job, bool, Any]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any, Callable[[Any], None] | None]]] = {}
    for job, ok, value in results:
        by_loop.setdefault(job.loop, []).append((job.fut, ok, value, job.orphan))
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_all, items)
        except RuntimeError:  # the loop is closed; nobody is waiting any more
            pass
