"""Offline writes reach the server exactly once when it comes up; observe() and status() report it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from client_sdk import Status

from .conftest import Server, free_port, make_project, opened


async def test_offline_writes_drain_exactly_once_when_the_server_starts(tmp_path: Path) -> None:
    srv = Server(make_project(tmp_path), free_port())
    async with opened(srv.url, tmp_path / "a.db") as c:
        todos = c.model("Todo")
        statuses = c.status()
        changes = todos.observe()
        milk = await todos.save({"title": "milk", "tags": ["shop"]})
        eggs = await todos.save({"title": "eggs"})
        bread = await todos.save({"title": "bread", "priority": "HIGH"})
        await todos.update(milk["id"], {"done": True})
        await todos.update(milk["id"], {"title": "oat milk"})
        await todos.delete(eggs["id"])
        # Local reads see the writes at once, offline.
        rows = await todos.query(order_by="title")
        assert [r["title"] for r in rows] == ["bread", "oat milk"]
        assert (await todos.query(where={"done": {"eq": True}}))[0]["id"] == milk["id"]
        # Coalesced: milk's create+updates are one entry, eggs' create+delete cancel out.
        assert await c.pending() == 2
        await srv.start()
        try:
            await asyncio.wait_for(c.sync(), 20)
            items = await srv.items(deleted=True)
            assert set(items) == {milk["id"], bread["id"]}
            assert items[milk["id"]]["title"] == "oat milk" and items[milk["id"]]["done"] is True
            assert items[milk["id"]]["tags"] == ["shop"]
            assert items[milk["id"]]["_version"] == 1 and items[bread["id"]]["_version"] == 1
            assert await c.pending() == 0
            local = await todos.get(milk["id"])
            assert local is not None and local["_version"] == 1 and local["_lastChangedAt"]

            # A remote write arrives through the subscription (or the poll) and is observed.
            body = await srv.gql('mutation { createTodo(input: {id: "remote-1", title: "from elsewhere"}) { id } }')
            assert "errors" not in body
            async with asyncio.timeout(10):
                while await todos.get("remote-1") is None:
                    await asyncio.sleep(0.05)
        finally:
            await srv.stop()

        seen = []
        while not changes._q.empty():
            seen.append(changes._q.get_nowait())
        assert [(ch.op, ch.source) for ch in seen[:6]] == [("create", "local")] * 3 + [("update", "local")] * 2 + [
            ("delete", "local")
        ]
        assert any(ch.source == "remote" and ch.item["id"] == "remote-1" for ch in seen)
        # The server's acknowledgement of an offline create is observed as a create (with the
        # server's version), not as an update of a row that never existed there.
        acked = [ch for ch in seen if ch.source == "remote" and ch.item["id"] == bread["id"]]
        assert acked and all(ch.op == "create" and ch.item["_version"] == 1 for ch in acked)

        got: list[Status] = []
        while not statuses._q.empty():
            got.append(statuses._q.get_nowait())
        states = [s.state for s in got]
        assert states[0] == "offline"
        assert "syncing" in states and "ready" in states
        assert states.index("syncing") < states.index("ready")
        before_ready = got[: states.index("ready")]
        assert max(s.pending for s in before_ready) == 3  # milk, eggs, bread before the delete coalesced
        assert [s for s in got if s.state == "ready"][0].pending == 0


async def test_writes_survive_reopening_the_replica(tmp_path: Path) -> None:
    """The outbox is on disk: a client closed offline resumes draining in its next life."""
    srv = Server(make_project(tmp_path), free_port())
    db = tmp_path / "a.db"
    async with opened(srv.url, db) as c:
        item = await c.model("Todo").save({"title": "persisted"})
        client_id = c.client_id
    await srv.start()
    try:
        async with opened(srv.url, db) as c:
            assert c.client_id == client_id
            await asyncio.wait_for(c.sync(), 20)
            assert await c.pending() == 0
        assert (await srv.items())[item["id"]]["title"] == "persisted"
    finally:
        await srv.stop()


async def test_introspection_gives_the_models_without_definitions(server: Server, tmp_path: Path) -> None:
    async with opened(server.url, tmp_path / "b.db", models=[]) as c:
        await asyncio.wait_for(c.sync(), 20)
        m = c.models["Todo"]
        assert m.plural == "Todos"
        assert {f.name: f.type for f in m.fields} == {
            "title": "String!", "done": "Boolean", "priority": "Priority", "tags": "[String]", "due": "AWSDate",
            "notes": "AWSJSON",
        }
        await c.model("Todo").save({"title": "typed", "done": False})
        await asyncio.wait_for(c.sync(), 20)
    assert [i["title"] for i in (await server.items()).values()] == ["typed"]


async def test_offline_status_says_why_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    async with opened(f"http://127.0.0.1:{port}/graphql", tmp_path / "a.db") as c:
        async with asyncio.timeout(10), c.status() as statuses:
            async for status in statuses:
                if status.state == "offline" and status.error:
                    break
    assert f"cannot connect to 127.0.0.1:{port}" in status.error
    assert "ConnectionKey" not in status.error  # not aiohttp's nested repr
