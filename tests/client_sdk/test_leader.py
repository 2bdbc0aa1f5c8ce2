"""One sync leader per replica file: a second client on the same file writes through the shared
outbox and the leader sends it; when the leader goes, the other takes over."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from client_sdk import LocalError

from .conftest import Server, client


async def wait_state(c, state: str) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(10):
        while c.current_status.state != state:
            await asyncio.sleep(0.05)


async def test_one_leader_per_file_and_failover(server: Server, tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    a = client(server.url, db)
    b = client(server.url, db)
    await a.open()
    await wait_state(a, "ready")
    await b.open()
    try:
        await wait_state(b, "follower")
        assert a.client_id == b.client_id  # one replica, one client id, one seq counter
        # sync() in the follower would never complete: it says so at once, naming the lock.
        with pytest.raises(LocalError, match="sync lock"):
            await b.sync()
        item = await b.model("Todo").save({"title": "written by the follower"})
        async with asyncio.timeout(10):  # the leader notices the shared outbox and drains it
            while item["id"] not in await server.items():
                await asyncio.sleep(0.05)
        await a.close()
        await wait_state(b, "ready")
        second = await b.model("Todo").save({"title": "after failover"})
        await asyncio.wait_for(b.sync(), 20)
        items = await server.items()
        assert {item["id"], second["id"]} <= set(items)
        assert all(i["_version"] == 1 for i in items.values())
    finally:
        await b.close()
        await a.close()


async def test_sync_on_a_client_that_is_not_open_takes_no_lock(server: Server, tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    closed = client(server.url, db)
    with pytest.raises(LocalError, match="not open"):
        await closed.sync()
    other = client(server.url, db)
    await other.open()
    try:
        await wait_state(other, "ready")  # the lock was free: this process leads
    finally:
        await other.close()
