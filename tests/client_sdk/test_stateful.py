"""Several clients, random writes, random offline/online periods and server restarts.

Invariant (at quiescence: server up, every client online and synced): every replica equals the
server row for row (fields and `_version`); no write the server acknowledged is lost (every
id created and not deleted by the test is on the server, live or as a tombstone); no mutation is applied twice (no create is
refused as a duplicate, and the server's total of versions never exceeds the writes made).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from client_sdk import SyncClient

from .conftest import Server, client, free_port, make_project

N_CLIENTS = 3
clients = st.integers(0, N_CLIENTS - 1)


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


class SyncMachine(RuleBasedStateMachine):
    """Rules are the steps above; teardown brings everyone online and checks the invariant."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="sdk-stateful-"))
        self.h = Harness(self.tmp)
        self.loop.run_until_complete(self.h.srv.start())

    def run(self, s: tuple[Any, ...]) -> None:
        self.loop.run_until_complete(self.h.step(s))

    @rule(i=clients, title=st.text("abc", max_size=3))
    def create(self, i: int, title: str) -> None:
        self.run(("create", i, title))

    @rule(i=clients, pick=st.integers(0, 20), title=st.text("xyz", max_size=3), done=st.booleans())
    def update(self, i: int, pick: int, title: str, done: bool) -> None:
        self.run(("update", i, pick, title, done))

    @rule(i=clients, pick=st.integers(0, 20))
    def delete(self, i: int, pick: int) -> None:
        self.run(("delete", i, pick))

    @rule(i=clients)
    def go_offline_or_online(self, i: int) -> None:
        self.run(("toggle", i))

    @rule()
    def restart_server(self) -> None:
        self.run(("restart",))

    @rule(i=clients)
    def settle(self, i: int) -> None:
        self.run(("settle", i))

    def teardown(self) -> None:
        h = self.h

        async def finish() -> None:
            try:
                await h.quiesce()
            finally:
                for i in range(N_CLIENTS):
                    await h.close(i)
                await h.srv.stop()

        try:
            self.loop.run_until_complete(finish())
        finally:
            self.loop.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


SyncMachine.TestCase.settings = settings(
    max_examples=6, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
)
test_replicas_converge = SyncMachine.TestCase
