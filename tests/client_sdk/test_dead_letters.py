"""A mutation the server rejects goes to dead letters with its reason; the rest of the queue drains."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .conftest import Server, free_port, make_project, opened


async def test_poisoned_mutation_is_dead_lettered_and_the_queue_moves_on(tmp_path: Path) -> None:
    srv = Server(make_project(tmp_path), free_port())
    async with opened(srv.url, tmp_path / "a.db") as c:
        todos = c.model("Todo")
        first = await todos.save({"title": "first"})
        bad = await todos.save({"title": "bad", "due": "not-a-date"})  # AWSDate refuses it
        ids = [(await todos.save({"title": f"after {i}"}))["id"] for i in range(5)]
        await todos.update(first["id"], {"done": True})
        await srv.start()
        try:
            await asyncio.wait_for(c.sync(), 20)
            assert await c.pending() == 0
            server = await srv.items()
            assert set(server) == {first["id"], *ids}
            assert server[first["id"]]["done"] is True
            dead = await c.dead_letters()
            assert len(dead) == 1
            d = dead[0]
            assert (d.record_id, d.op, d.error_type) == (bad["id"], "create", "ValidationError")
            assert "due" in d.message or "AWSDate" in d.message
            assert d.payload["due"] == "not-a-date"
            # The replica follows the server: the rejected row is gone locally.
            assert await todos.get(bad["id"]) is None
            # Fixed and retried by the app, it goes through.
            await c.drop_dead_letter(d.id)
            assert await c.dead_letters() == []
            fixed = await todos.save({"id": bad["id"], "title": "bad", "due": "2026-12-01"})
            await asyncio.wait_for(c.sync(), 20)
            assert (await srv.items())[fixed["id"]]["due"] == "2026-12-01"
        finally:
            await srv.stop()


async def test_update_of_a_row_deleted_on_the_server_does_not_block(tmp_path: Path) -> None:
    srv = Server(make_project(tmp_path), free_port())
    await srv.start()
    try:
        async with opened(srv.url, tmp_path / "a.db") as c:
            todos = c.model("Todo")
            row = await todos.save({"title": "x"})
            await asyncio.wait_for(c.sync(), 20)
            await srv.stop()
            await todos.update(row["id"], {"title": "edited offline"})
            other = await todos.save({"title": "other"})
            await srv.start()
            body = await srv.gql("mutation($i: DeleteTodoInput!) { deleteTodo(input: $i) { id } }",
                                 {"i": {"id": row["id"], "_version": 1}})
            assert "errors" not in body, body
            await asyncio.wait_for(c.sync(), 20)
            await asyncio.wait_for(c.sync(), 20)
            assert await c.pending() == 0
            assert await todos.get(row["id"]) is None  # the server's delete won (default handler: DISCARD)
            assert set(await srv.items()) == {other["id"]}
    finally:
        await srv.stop()
