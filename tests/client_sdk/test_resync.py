"""An expired cursor gets a base sync: rows deleted on the server (tombstones collected) leave
the replica, rows still in the outbox stay and reach the server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .conftest import Server, free_port, make_project, opened


async def test_expired_cursor_resyncs_and_drops_rows_the_server_no_longer_has(tmp_path: Path) -> None:
    srv = Server(make_project(tmp_path, sync='delta_ttl = "1s"\ntombstone_ttl = "1s"'), free_port())
    db = tmp_path / "a.db"
    await srv.start()
    try:
        for i in range(3):
            body = await srv.gql(f'mutation {{ createTodo(input: {{id: "r{i}", title: "row {i}"}}) {{ id }} }}')
            assert "errors" not in body, body
        async with opened(srv.url, db, realtime=False) as c:
            await asyncio.wait_for(c.sync(), 20)
            assert {r["id"] for r in await c.model("Todo").query()} == {"r0", "r1", "r2"}
            await c.model("Todo").update("r2", {"title": "kept locally"})
            await srv.stop()  # r2's update is in the outbox, not on the server
            await asyncio.sleep(0.2)
        await srv.start()
        body = await srv.gql('mutation { deleteTodo(input: {id: "r1", _version: 1}) { id } }')
        assert "errors" not in body, body
        await asyncio.sleep(1.5)  # past delta_ttl and tombstone_ttl
        counts = await srv.running.syncline.store.collect_garbage()
        assert counts["tombstones"] == 1
        # A delta from the old cursor could no longer tell the client that r1 is gone.
        async with opened(srv.url, db, realtime=False) as c:
            await asyncio.wait_for(c.sync(), 20)
            rows = {r["id"]: r for r in await c.model("Todo").query()}
            assert set(rows) == {"r0", "r2"}
            assert rows["r2"]["title"] == "kept locally"
        server = await srv.items()
        assert set(server) == {"r0", "r2"} and server["r2"]["title"] == "kept locally"
    finally:
        await srv.stop()


async def test_base_sync_keeps_unsent_local_rows(tmp_path: Path) -> None:
    """A first (base) sync into a replica holding offline-created rows keeps them."""
    srv = Server(make_project(tmp_path), free_port())
    db = tmp_path / "a.db"
    async with opened(srv.url, db) as c:
        mine = await c.model("Todo").save({"title": "offline"})
    await srv.start()
    try:
        await srv.gql('mutation { createTodo(input: {id: "s", title: "server"}) { id } }')
        async with opened(srv.url, db) as c:
            await asyncio.wait_for(c.sync(), 20)
            assert {r["id"] for r in await c.model("Todo").query()} == {mine["id"], "s"}
        assert set(await srv.items()) == {mine["id"], "s"}
    finally:
        await srv.stop()
