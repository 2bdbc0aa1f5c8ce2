"""The replica on a real SQLite file, without a network: writes and outbox entries commit
together, remote items never overwrite pending local changes, tables migrate additively."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from client_sdk import InvalidItem, ModelDef, RecordNotFound
from client_sdk._replica import Replica

TODO = ModelDef.of("Todo", {"title": "String!", "done": "Boolean", "tags": "[String]"})


@pytest.fixture
async def replica(tmp_path: Path):  # type: ignore[no-untyped-def]
    r = Replica(str(tmp_path / "r.db"))
    await r.open()
    await r.ensure_models([TODO])
    yield r
    await r.close()


async def test_remote_items_skip_rows_with_pending_changes(replica: Replica) -> None:
    ch = await replica.local_write("Todo", "create", {"title": "mine"}, "a")
    remote = {"id": "a", "title": "theirs", "done": True, "tags": None, "_version": 5, "_lastChangedAt": 10,
              "_deleted": False, "createdAt": "x", "updatedAt": "y"}
    assert await replica.apply_remote("Todo", [remote]) == []
    assert (await replica.get("Todo", "a"))["title"] == "mine"  # type: ignore[index]
    # Once acknowledged, the server's item is the row.
    seq, batch = await replica.assign_wire([e.entry for e in await replica.head(10)])
    assert batch[0].wire_input == {"id": "a", "title": "mine"} and ch.op == "create"
    await replica.ack(batch[0], {**remote, "_version": 1, "title": "mine"})
    assert await replica.pending_count() == 0
    # Newer remote items now apply; older or equal ones (echoes, late events) do not.
    assert len(await replica.apply_remote("Todo", [remote])) == 1
    assert (await replica.get("Todo", "a"))["title"] == "theirs"  # type: ignore[index]
    assert await replica.apply_remote("Todo", [{**remote, "title": "old", "_version": 4}]) == []


async def test_updates_after_a_sent_create_queue_behind_it(replica: Replica) -> None:
    await replica.local_write("Todo", "create", {"title": "t"}, "a")
    seq, _ = await replica.assign_wire([e.entry for e in await replica.head(10)])
    await replica.local_write("Todo", "update", {"done": True}, "a")
    await replica.local_write("Todo", "update", {"title": "u"}, "a")
    head = await replica.head(10)
    assert [(e.op, e.wire_seq, e.payload) for e in head] == [
        ("create", seq, {"id": "a", "title": "t"}),
        ("update", None, {"id": "a", "done": True, "title": "u"}),
    ]
    # The create's answer gives the update its _version.
    await replica.ack(head[0], {"id": "a", "title": "t", "_version": 1, "_lastChangedAt": 7, "_deleted": False})
    assert (await replica.get("Todo", "a"))["title"] == "u"  # type: ignore[index]  # local fields kept
    _, batch = await replica.assign_wire([head[1].entry])
    assert batch[0].wire_input == {"id": "a", "done": True, "title": "u", "_version": 1}


async def test_bad_local_writes_are_refused(replica: Replica) -> None:
    with pytest.raises(InvalidItem, match="no field 'nope'"):
        await replica.local_write("Todo", "create", {"nope": 1})
    with pytest.raises(RecordNotFound):
        await replica.local_write("Todo", "update", {"title": "x"}, "missing")
    await replica.local_write("Todo", "create", {"title": "x"}, "a")
    with pytest.raises(InvalidItem, match="already exists"):
        await replica.local_write("Todo", "create", {"title": "x"}, "a")
    assert await replica.pending_count() == 1  # refused writes left nothing behind


async def test_tables_migrate_additively(tmp_path: Path) -> None:
    db = str(tmp_path / "m.db")
    r = Replica(db)
    await r.open()
    await r.ensure_models([TODO])
    await r.local_write("Todo", "create", {"title": "x"}, "a")
    await r.close()
    r = Replica(db)
    await r.open()
    assert set(r.models) == {"Todo"}  # remembered in the file
    ddl = await r.ensure_models([ModelDef.of("Todo", {"title": "String!", "priority": "Int"})])
    assert ddl == ['ALTER TABLE "m_Todo" ADD COLUMN "priority" INTEGER']
    assert {f.name for f in r.models["Todo"].fields} == {"title", "done", "tags", "priority"}
    row = await r.get("Todo", "a")
    assert row is not None and row["title"] == "x" and row["priority"] is None
    await r.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
