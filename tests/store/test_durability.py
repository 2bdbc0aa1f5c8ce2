"""Garbage collection by TTL, and acknowledged writes surviving SIGKILL of the process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from server.store.sqlite import SQLiteStore

from .conftest import MODELS, SECRET, USER

ROOT = Path(__file__).resolve().parents[2]


async def test_ttl_expiry(make_store, clock):
    store = await make_store(tombstone_ttl_ms=10_000, delta_ttl_ms=5_000)
    old = (await store.create("Todo", {"id": "old", "title": "a"}, identity=USER)).item
    await store.delete("Todo", {"id": "old", "_version": 1}, identity=USER)
    await store.create("Todo", {"id": "kept", "title": "b"}, identity=USER)
    clock.advance(6_000)
    young = (await store.create("Todo", {"id": "young", "title": "c"}, identity=USER)).item
    await store.delete("Todo", {"id": "young", "_version": 1}, identity=USER)

    counts = await store.collect_garbage()
    assert counts["tombstones"] == 0 and counts["changes"] == 3  # the first three changes aged out
    clock.advance(5_000)  # "old" tombstone is now 11 s old, "young" 5 s
    counts = await store.collect_garbage()
    assert counts["tombstones"] == 1 and counts["changes"] == 0
    ids = [i["id"] for i in (await store.sync("Todo", identity=USER, last_sync=0)).items]
    assert ids == ["kept", "young"]
    assert old["id"] not in ids and young["id"] in ids
    counts = await store.collect_garbage(now_ms=clock() + 100_000)
    assert counts["tombstones"] == 1 and counts["changes"] == 2 and counts["ledger"] == 0


async def test_ledger_and_conflicts_expire_with_the_tombstone_ttl(make_store, clock):
    from server.store.base import MutationId

    store = await make_store(tombstone_ttl_ms=10_000)
    await store.create("Post", {"id": "p", "title": "a"}, identity=USER, mutation_id=MutationId(client_id="c", seq=1))
    await store.update("Post", {"id": "p", "title": "b", "_version": 1}, identity=USER)
    await store.update("Post", {"id": "p", "title": "c", "_version": 1}, identity=USER)
    assert len((await store.conflicts())[0]) == 1
    counts = await store.collect_garbage(now_ms=clock() + 10_010)
    assert counts["ledger"] == 1 and counts["conflicts"] == 1
    assert (await store.conflicts())[0] == []


async def test_stamps_survive_gc_of_every_row_and_a_restart(make_store, clock):
    store = await make_store(tombstone_ttl_ms=1, delta_ttl_ms=1)
    await store.create("Todo", {"id": "x", "title": "a"}, identity=USER)
    last = (await store.delete("Todo", {"id": "x", "_version": 1}, identity=USER)).item["_lastChangedAt"]
    await store.collect_garbage(now_ms=clock() + 1_000)
    assert (await store.sync("Todo", identity=USER)).items == []
    await store.close()
    clock.advance(-100_000)
    store = await make_store()
    assert (await store.create("Todo", {"title": "b"}, identity=USER)).item["_lastChangedAt"] == last + 1


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, {root!r})
    from server.store.sqlite import SQLiteStore
    from server.store.base import MutationId
    from tests.store.conftest import MODELS, SECRET, USER

    async def main():
        store = SQLiteStore({path!r}, secret=SECRET, conflict_handlers={{"Doc": print}}, durability={durability!r})
        await store.open()
        await store.migrate(MODELS)
        seq = 0
        async def one(i):
            r = await store.create("Todo", {{"id": f"w{{i}}", "title": "t"}}, identity=USER,
                                   mutation_id=MutationId(client_id="crash", seq=i))
            sys.stdout.write(r.item["id"] + "\\n")
            sys.stdout.flush()
        while True:
            await asyncio.gather(*(one(seq + k) for k in range(8)))
            seq += 8

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("durability", ["normal", "full"])
async def test_acknowledged_writes_survive_sigkill(tmp_path, durability):
    path = str(tmp_path / "crash.sqlite")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=str(ROOT), path=path, durability=durability)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    acked = []
    try:
        assert proc.stdout is not None
        while len(acked) < 300:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError("writer died: " + (proc.stderr.read() if proc.stderr else ""))
            acked.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)
        acked += [line.strip() for line in proc.stdout.readlines() if line.endswith("\n")]
    finally:
        proc.kill()
        proc.wait()
    store = SQLiteStore(path, secret=SECRET, conflict_handlers={"Doc": print})
    await store.open()
    try:
        await store.migrate(MODELS)
        stored = {i["id"] for i in (await store.sync("Todo", identity=USER, limit=1000)).items}
        missing = [i for i in acked if i not in stored]
        assert not missing, f"{len(missing)} acknowledged writes lost"
        # a replay of an acknowledged mutation applies nothing
        from server.store.base import MutationId

        replay = await store.create("Todo", {"id": acked[0], "title": "t"}, identity=USER,
                                    mutation_id=MutationId(client_id="crash", seq=int(acked[0][1:])))
        assert replay.replayed
    finally:
        await store.close()


async def test_files_from_the_first_layout_are_upgraded(tmp_path, make_store):
    import sqlite3

    conn = sqlite3.connect(tmp_path / "db.sqlite")
    conn.executescript(
        """
        CREATE TABLE stamp (one INTEGER PRIMARY KEY CHECK (one = 1), last INTEGER NOT NULL);
        INSERT INTO stamp VALUES (1, 4102444800000);
        CREATE TABLE changes (model TEXT, item_id TEXT, version INTEGER, op TEXT, at INTEGER, data TEXT,
                              PRIMARY KEY (model, item_id, version)) WITHOUT ROWID;
        """
    )
    conn.close()
    store = await make_store()
    item = (await store.create("Todo", {"title": "after upgrade"}, identity=USER)).item
    assert item["_lastChangedAt"] == 4102444800001


async def test_gc_works_in_chunks(make_store, clock):
    from server.store.base import MutationId

    store = await make_store(tombstone_ttl_ms=1_000, delta_ttl_ms=1_000)
    for i in range(7):
        await store.create("Todo", {"id": f"g{i}", "title": "x"}, identity=USER, mutation_id=MutationId(client_id="g", seq=i))
        await store.delete("Todo", {"id": f"g{i}", "_version": 1}, identity=USER)
    await store.create("Todo", {"id": "live", "title": "old but alive"}, identity=USER)
    counts = await store.collect_garbage(now_ms=clock() + 5_000, chunk=2)
    assert counts == {"tombstones": 7, "changes": 15, "ledger": 7, "conflicts": 0}
    assert [i["id"] for i in (await store.sync("Todo", identity=USER)).items] == ["live"]
