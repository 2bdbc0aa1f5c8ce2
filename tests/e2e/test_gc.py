"""The server collects expired tombstones by itself ([sync].gc_interval)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .conftest import copy_project, serve_project

SYNC = "{ syncTodos(lastSync: 0) { items { id _deleted } } }"


async def test_expired_tombstones_are_collected_periodically(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    toml = project / "syncline.toml"
    toml.write_text(toml.read_text() + '\n[sync]\ntombstone_ttl = "200ms"\ngc_interval = "100ms"\n')
    async for s in serve_project(project):
        item = (await s.client.ok('mutation { createTodo(input: {title: "x"}) { id } }'))["createTodo"]
        await s.client.ok(f'mutation {{ deleteTodo(input: {{id: "{item["id"]}", _version: 1}}) {{ id }} }}')
        assert (await s.client.ok(SYNC))["syncTodos"]["items"] == [{"id": item["id"], "_deleted": True}]
        for _ in range(100):
            await asyncio.sleep(0.05)
            if not (await s.client.ok(SYNC))["syncTodos"]["items"]:
                break
        assert (await s.client.ok(SYNC))["syncTodos"]["items"] == []
