"""Reconnecting: after a server restart the client resubscribes on its own and receives remote
changes again; credentials the server refuses keep the client offline, never dead-lettering."""

from __future__ import annotations

import asyncio
from pathlib import Path

from client_sdk import ApiKey, SyncClient

from .conftest import TODO, Server


async def wait_for(pred, timeout: float = 15) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await pred():
            await asyncio.sleep(0.05)


async def test_resubscribes_after_a_server_restart(server: Server, tmp_path: Path) -> None:
    c = SyncClient(server.url, database=str(tmp_path / "a.db"), auth=ApiKey("da2-testkeytestkeytestkeytestke"),
                   models=[TODO], poll_interval=3600, backoff_base=0.05, backoff_cap=0.3)
    async with c:
        await asyncio.wait_for(c.sync(), 20)
        todos = c.model("Todo")
        await server.gql('mutation { createTodo(input: {id: "one", title: "before"}) { id } }')
        await wait_for(lambda: _has(todos, "one"))  # through the subscription: no poll for an hour
        await server.stop()
        async with asyncio.timeout(10), c.status() as statuses:
            async for st in statuses:
                if st.state == "offline":
                    break
        await server.start()
        async with asyncio.timeout(15), c.status() as statuses:
            async for st in statuses:
                if st.state == "ready":
                    break
        await server.gql('mutation { createTodo(input: {id: "two", title: "after"}) { id } }')
        await wait_for(lambda: _has(todos, "two"))


async def _has(todos, id: str) -> bool:  # type: ignore[no-untyped-def]
    return await todos.get(id) is not None


async def test_refused_credentials_keep_the_outbox(server: Server, tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    async with SyncClient(server.url, database=db, auth=ApiKey("da2-wrongwrongwrongwrongwrongwr"), models=[TODO],
                          backoff_base=0.05, backoff_cap=0.2) as c:
        item = await c.model("Todo").save({"title": "kept"})
        async with asyncio.timeout(10), c.status() as statuses:
            async for st in statuses:
                if st.state == "offline" and st.error and "401" in st.error:
                    break
        await asyncio.sleep(0.5)  # several refused attempts
        assert await c.pending() == 1 and await c.dead_letters() == []
    async with SyncClient(server.url, database=db, auth=ApiKey("da2-testkeytestkeytestkeytestke"), models=[TODO]) as c:
        await asyncio.wait_for(c.sync(), 20)
        assert await c.pending() == 0
    assert (await server.items())[item["id"]]["title"] == "kept"
