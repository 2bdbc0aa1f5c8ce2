"""The writer thread: FIFO jobs, group commit with per-job rollback, errors delivered."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from server.store._worker import SQLiteThread


def _connect(path):
    def connect():
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")
        return conn

    return connect


async def test_group_commit_rolls_back_only_the_failing_job(tmp_path):
    path = str(tmp_path / "w.sqlite")
    worker = SQLiteThread(_connect(path), name="test-writer", checkpoint=_connect(path), checkpoint_every=3)
    await worker.start()
    try:
        def insert(k, fail=False):
            def job(conn):
                conn.execute("INSERT INTO t (k, v) VALUES (?, 'x')", (k,))
                if fail:
                    raise ValueError(f"job {k} failed after writing")
                return k

            return job

        futs = [worker.submit(insert(k, fail=(k % 4 == 0)), batch=True) for k in range(1, 21)]
        # a non-batch job queued behind them runs after they committed, in order
        count = worker.submit(lambda c: c.execute("SELECT COUNT(*) FROM t").fetchone()[0])
        results = await asyncio.gather(*futs, return_exceptions=True)
        assert [r for r in results if not isinstance(r, Exception)] == [k for k in range(1, 21) if k % 4]
        assert all(isinstance(r, ValueError) for r in results if isinstance(r, Exception))
        assert await count == 15
        # the failing jobs' rows were rolled back; a later job can use their keys
        assert await worker.run(insert(4), batch=True) == 4
    finally:
        await worker.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 16
    conn.close()


async def test_jobs_submitted_in_one_turn_of_the_loop_share_one_commit(tmp_path):
    """Requests served in one turn submit their writes between socket writes, which release
    the GIL: the thread must not start (and commit) a group with the first of them alone."""
    path = str(tmp_path / "w.sqlite")
    worker = SQLiteThread(_connect(path), name="test-writer")
    await worker.start()
    try:
        async def request(k):
            time.sleep(0.002)  # releases the GIL, as a socket write does
            return await worker.run(lambda conn: conn.execute("INSERT INTO t (k, v) VALUES (?, 'x')", (k,)).rowcount, batch=True)

        assert await asyncio.gather(*(request(k) for k in range(8))) == [1] * 8
        assert worker._commits == 1
        assert await worker.run(lambda c: c.execute("SELECT COUNT(*) FROM t").fetchone()[0]) == 8
    finally:
        await worker.close()


async def test_a_failed_connect_is_reported_and_a_closed_worker_refuses(tmp_path):
    def broken():
        raise sqlite3.OperationalError("cannot open")

    worker = SQLiteThread(broken, name="broken")
    with pytest.raises(sqlite3.OperationalError, match="cannot open"):
        await worker.start()
    await worker.close()
    with pytest.raises(RuntimeError, match="not open"):
        await worker.run(lambda c: None)
