"""Several clients, random writes, random offline/online periods and server restarts.

Invariant (at quiescence: server up, every client online and synced): every replica equals the
server row for row (fields and `_version`); no write the server acknowledged is lost (every
id created and not deleted by the test is on the server, live or as a tombstone); no mutation is applied twice (no create is
refused as a duplicate, and the server's total of versions never exceeds the writes made).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk import SyncClient

from .conftest import Server, client, free_port, make_project

N_CLIENTS = 3
step = st.one_of(
    st.tuples(st.just("create"), st.integers(0, N_CLIENTS - 1), st.text("abc", max_size=3)),
    st.tuples(st.just("update"), st.integers(0, N_CLIENTS - 1), st.integers(0, 20), st.text("xyz", max_size=3),
              st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, N_CLIENTS - 1), st.integers(0, 20)),
    st.tuples(st.just("toggle"), st.integers(0, N_CLIENTS - 1)),
    st.tuples(st.just("restart")),
    st.tuples(st.just("settle"), st.integers(0, N_CLIENTS - 1)),
)


class Harness:
    def __init__(self, tmp: Path) -> None:
        self.srv = Server(make_project(tmp), free_port())
        self.dead_url = f"http://127.0.0.1:{free_port()}/graphql"
        self.dbs = [tmp / f"c{i}.db" for i in range(N_CLIENTS)]
        self.clients: list[SyncClient | None] = [None] * N_CLIENTS
        self.online = [True] * N_CLIENTS
        self.created: set[str] = set()
        self.writes = 0

    async def open(self, i: int) -> SyncClient:
        c = self.clients[i]
        if c is None:
            c = client(self.srv.url if self.online[i] else self.dead_url, self.dbs[i], seed=i)
            await c.open()
            self.clients[i] = c
        return c

    async def close(self, i: int) -> None:
        c, self.clients[i] = self.clients[i], None
        if c is not None:
            await c.close()

    async def run(self, steps: list[tuple[Any, ...]]) -> None:
        await self.srv.start()
        try:
            for s in steps:
                await self.step(s)
            await self.quiesce()
        finally:
            for i in range(N_CLIENTS):
                await self.close(i)
            await self.srv.stop()

    async def step(self, s: tuple[Any, ...]) -> None:
        kind = s[0]
        if kind == "restart":
            await self.srv.stop()
            await self.srv.start()
            return
        i = s[1]
        c = await self.open(i)
        todos = c.model("Todo")
        if kind == "create":
            item = await todos.save({"title": s[2] or "t", "tags": [s[2]]})
            self.created.add(item["id"])
            self.writes += 1
            return
        if kind == "toggle":
            self.online[i] = not self.online[i]
            await self.close(i)
            return
        if kind == "settle":
            if self.online[i]:
                await asyncio.wait_for(c.sync(), 30)
            return
        rows = await todos.query(order_by="createdAt")
        if not rows:
            return
        row = rows[s[2] % len(rows)]
        if kind == "update":
            await todos.update(row["id"], {"title": s[3], "done": s[4], "tags": [*(row["tags"] or []), s[3]]})
        else:
            await todos.delete(row["id"])
            self.created.discard(row["id"])  # a create deleted before it was sent never reaches the server
        self.writes += 1

    async def quiesce(self) -> None:
        self.online = [True] * N_CLIENTS
        for i in range(N_CLIENTS):
            await self.close(i)
        for i in range(N_CLIENTS):
            await self.open(i)
        for _ in range(2):
            for c in self.clients:
                assert c is not None
                await asyncio.wait_for(c.sync(), 30)
        everything = await self.srv.items(deleted=True)
        live = {k: v for k, v in everything.items() if not v["_deleted"]}
        for c in self.clients:
            assert c is not None
            assert await c.pending() == 0
            assert await c.dead_letters() == []
            local = {r["id"]: r for r in await c.model("Todo").query()}
            assert set(local) == set(live)
            for id, item in live.items():
                for k in ("title", "done", "tags", "_version"):
                    assert local[id][k] == item[k], (id, k, local[id], item)
        assert self.created <= set(everything)
        assert sum(i["_version"] for i in everything.values()) <= self.writes


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(step, min_size=3, max_size=14))
def test_replicas_converge(tmp_path_factory: Any, steps: list[tuple[Any, ...]]) -> None:
    tmp = tmp_path_factory.mktemp("stateful")
    asyncio.run(Harness(tmp).run(steps))
