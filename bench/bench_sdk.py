"""Client SDK throughput against a real Syncline server (examples/todo), in rows/s.

    .venv/bin/python bench/bench_sdk.py [--rows 100000] [--changes 1000] [--mutations 10000]

1. initial sync: N rows seeded through the server's Store API, synced into an empty replica;
2. delta sync: C rows changed on the server, synced into that replica;
3. outbox drain: M creates written offline, then drained (batched as aliased mutations, one
   (clientId, seq) per batch).
Targets (issue 6): 100k initial sync ≤ 10 s; drain ≥ 1,000 mutations/s. The peer figure is the
server's own Store writing the same rows in-process (no HTTP, no GraphQL, no replica).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from client_sdk import ApiKey, ModelDef, SyncClient  # noqa: E402
from client_sdk._documents import WireMutation, batch_document, sync_document  # noqa: E402
from server.app import running  # noqa: E402
from server.auth.identity import SYSTEM  # noqa: E402
from server.settings import load_settings  # noqa: E402

KEY = "da2-benchbenchbenchbenchbenchb"
TODO = ModelDef.of(
    "Todo",
    {"title": "String!", "done": "Boolean", "priority": "Priority", "tags": "[String]", "due": "AWSDate", "notes": "AWSJSON"},
)


def cpu_seconds(pid: int | None = None) -> float | None:
    """User + system CPU time of a process (this one by default), from /proc; None elsewhere.
    On a loaded machine the wall time says more about the neighbours than about the sync."""
    try:
        fields = Path(f"/proc/{pid or 'self'}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def gather_chunks(coros: list, size: int = 500) -> None:  # type: ignore[type-arg]
    for i in range(0, len(coros), size):
        await asyncio.gather(*coros[i : i + size])


SERVER = r"""
import asyncio, sys
sys.path.insert(0, sys.argv[3])
from server.app import running
from server.settings import load_settings
async def main():
    settings = load_settings(sys.argv[1], env={"SYNCLINE_API_KEY": sys.argv[4]})
    async with running(settings, host="127.0.0.1", port=int(sys.argv[2])):
        print("ready", flush=True)
        await asyncio.Event().wait()
try:
    asyncio.run(main())
except KeyboardInterrupt:
    pass
"""


async def seed(project: Path, make: list[dict[str, object]], update: list[dict[str, object]] = []) -> float:
    """Write rows through the server's Store API, in-process (the server is not serving)."""
    settings = load_settings(project, env={"SYNCLINE_API_KEY": KEY})
    async with running(settings, host="127.0.0.1", port=0) as srv:
        store = srv.syncline.store
        t = time.perf_counter()
        await gather_chunks([store.create("Todo", it, identity=SYSTEM) for it in make])
        await gather_chunks([store.update("Todo", it, identity=SYSTEM) for it in update])
        return time.perf_counter() - t


class ServerProcess:
    """The server in its own process, so client and server do not share one event loop."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> "ServerProcess":
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(self.project), str(self.port), str(ROOT), KEY],
            stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        return self

    def __exit__(self, *_: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def raw_sync(url: str, limit: int) -> tuple[int, float]:
    doc = sync_document(TODO)
    n, token = 0, None
    async with aiohttp.ClientSession() as s:
        t = time.perf_counter()
        while True:
            body = {"query": doc, "variables": {"lastSync": 0, "limit": limit, "nextToken": token}}
            async with s.post(url, json=body, headers={"x-api-key": KEY}) as r:
                conn = (await r.json())["data"]["syncTodos"]
            n += len(conn["items"])
            token = conn["nextToken"]
            if not token:
                return n, time.perf_counter() - t


async def raw_drain(url: str, mutations: int, batch: int, pipeline: int) -> float:
    seq = 0
    async with aiohttp.ClientSession() as s:

        async def one(k: int) -> None:
            doc, v = batch_document([WireMutation(key=f"m{i}", model=TODO, op="create",
                                                  input={"id": f"peer-{k}-{i}", "title": "x", "tags": ["x"]})
                                     for i in range(batch)])
            body = {"query": doc, "variables": v, "extensions": {"mutationId": {"clientId": "peer", "seq": k}}}
            async with s.post(url, json=body, headers={"x-api-key": KEY}) as r:
                assert "errors" not in await r.json()

        t = time.perf_counter()
        for _ in range(mutations // (batch * pipeline)):
            await asyncio.gather(*(one(seq + j) for j in range(pipeline)))
            seq += pipeline
        return time.perf_counter() - t


async def main(rows: int, changes: int, mutations: int, batch: int, pipeline: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sdk-"))
    project = tmp / "todo"
    shutil.copytree(ROOT / "examples" / "todo", project, ignore=shutil.ignore_patterns(".syncline", "__pycache__"))
    dt = await seed(project, [{"id": f"r{i:06d}", "title": f"row {i}", "done": i % 2 == 0, "tags": ["a", "b"]}
                              for i in range(rows)])
    print(f"peer: the server's Store writing {rows} rows in-process: {dt:.2f} s = {rows / dt:,.0f} rows/s")

    db = tmp / "replica.db"
    kw = dict(database=str(db), auth=ApiKey(KEY), models=[TODO], realtime=False, introspect=False,
              batch_size=batch, pipeline=pipeline, backoff_base=0.05, backoff_cap=0.5)
    with ServerProcess(project) as srv:
        assert srv.proc is not None
        async with SyncClient(srv.url, **kw) as c:  # type: ignore[arg-type]
            cpu = cpu_seconds(), cpu_seconds(srv.proc.pid)
            t = time.perf_counter()
            await c.sync()
            dt = time.perf_counter() - t
            cpu_after = cpu_seconds(), cpu_seconds(srv.proc.pid)
            n = len(await c.model("Todo").query())
            print(f"initial sync: {n} rows in {dt:.2f} s = {n / dt:,.0f} rows/s (target: 100k in <= 10 s)")
            if None not in cpu + cpu_after:
                print(f"  CPU: client {cpu_after[0] - cpu[0]:.2f} s, server {cpu_after[1] - cpu[1]:.2f} s")  # type: ignore[operator]
        n, dt = await raw_sync(srv.url, c._page_limit(TODO))
        print(f"  peer: bare aiohttp paging the same syncTodos, no replica: {n} rows in {dt:.2f} s = {n / dt:,.0f} rows/s")
    await seed(project, [], [{"id": f"r{i:06d}", "title": f"changed {i}", "_version": 1}
                             for i in range(0, changes * 7, 7)])
    with ServerProcess(project) as srv:
        async with SyncClient(srv.url, **kw) as c:  # type: ignore[arg-type]
            t = time.perf_counter()
            await c.sync()
            dt = time.perf_counter() - t
            got = len(await c.model("Todo").query(where={"title": {"beginsWith": "changed"}}))
            print(f"delta sync: {got} changes in {dt:.3f} s = {got / dt:,.0f} rows/s")

        dead = f"http://127.0.0.1:{free_port()}/graphql"
        async with SyncClient(dead, **kw) as c:  # type: ignore[arg-type]
            todos = c.model("Todo")
            t = time.perf_counter()
            for i in range(mutations):
                await todos.save({"title": f"offline {i}", "tags": ["x"]})
            dt = time.perf_counter() - t
            print(f"local writes (offline, replica + outbox): {mutations} in {dt:.2f} s = {mutations / dt:,.0f} writes/s")
        async with SyncClient(srv.url, **kw) as c:  # type: ignore[arg-type]
            t = time.perf_counter()
            await c.sync()
            dt = time.perf_counter() - t
            assert await c.pending() == 0 and await c.dead_letters() == []
            print(f"outbox drain: {mutations} mutations in {dt:.2f} s = {mutations / dt:,.0f} mutations/s "
                  f"(batch {batch} x pipeline {pipeline}; target >= 1,000/s)")
        dt = await raw_drain(srv.url, mutations, batch, pipeline)
        print(f"  peer: bare aiohttp sending the same batched documents, no replica: {mutations / dt:,.0f} mutations/s")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--changes", type=int, default=1_000)
    p.add_argument("--mutations", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--pipeline", type=int, default=2)
    a = p.parse_args()
    asyncio.run(main(a.rows, a.changes, a.mutations, a.batch, a.pipeline))
