#!/usr/bin/env python3
"""Two offline replicas edit the same todo, come back, and converge.

    python examples/todo/converge.py

It serves a temporary copy of examples/todo with `conflict = "OPTIMISTIC_CONCURRENCY"` (the
server refuses a stale write, so the *client's* handler resolves it; under the example's
AUTOMERGE the server would merge by itself) on 127.0.0.1, port 0, with a temporary data
directory. Phone and laptop (two SyncClients, two replica files) sync one todo; the server
stops; each edits the todo differently; the server comes back on the same port and both sync.
One of them gets the conflict, and app.py's handler merges it. Exits 0 only when both replicas
and the server hold the same todo.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from app import TODO, describe, resolve_conflict
from client_sdk import ApiKey, SyncClient
from server.app import Running, running
from server.settings import load_settings

HERE = Path(__file__).resolve().parent
FIELDS = ("title", "done", "tags", "priority", "due", "notes", "_version", "_deleted")
TIMEOUT = 30.0


def project_copy(tmp: Path) -> Path:
    """examples/todo, with the model's conflict strategy switched to OPTIMISTIC_CONCURRENCY."""
    project = tmp / "todo"
    shutil.copytree(HERE, project, ignore=shutil.ignore_patterns(".syncline", "__pycache__", "*.db*"))
    toml = project / "syncline.toml"
    text, n = re.subn(r'(?m)^conflict = "\w+"', 'conflict = "OPTIMISTIC_CONCURRENCY"', toml.read_text())
    if n != 1:
        raise SystemExit(f"{toml}: expected one `conflict = ...` line under [models.Todo]")
    toml.write_text(text)
    return project


class Server:
    """The server, stoppable and restartable on the same port with the same data."""

    def __init__(self, project: Path, data: Path) -> None:
        # An explicit env: the caller's SYNCLINE_* variables must not move this demo's server.
        self.settings = load_settings(project, env={}, overrides={"data_dir": data, "host": "127.0.0.1"})
        self.port = 0
        self._cm: Any = None
        self.running: Running | None = None

    async def start(self) -> None:
        self._cm = running(self.settings, port=self.port)
        self.running = await self._cm.__aenter__()
        self.port = self.running.port

    async def stop(self) -> None:
        cm, self._cm = self._cm, None
        if cm is not None:
            await cm.__aexit__(None, None, None)

    async def todos(self, key: str) -> dict[str, dict[str, Any]]:
        assert self.running is not None
        query = "query { syncTodos(lastSync: 0, limit: 1000) { items { id %s } } }" % " ".join(FIELDS)
        async with aiohttp.ClientSession() as s:
            async with s.post(self.running.url, json={"query": query}, headers={"x-api-key": key}) as r:
                body: dict[str, Any] = await r.json()
        return {it["id"]: it for it in body["data"]["syncTodos"]["items"]}


async def wait_state(client: SyncClient, state: str) -> None:
    async with asyncio.timeout(TIMEOUT), client.status() as statuses:
        async for st in statuses:
            if st.state == state:
                return


async def main() -> int:
    with tempfile.TemporaryDirectory(prefix="syncline-converge-") as tmp_name:
        tmp = Path(tmp_name)
        server = Server(project_copy(tmp), tmp / "data")
        await server.start()
        try:
            return await demo(server, tmp)
        finally:
            await server.stop()


async def demo(server: Server, tmp: Path) -> int:
    assert server.running is not None and server.running.syncline.api_key is not None
    url, key = server.running.url, server.running.syncline.api_key
    print(f"server: {url} (Todo conflict = OPTIMISTIC_CONCURRENCY)")
    resolved: list[str] = []

    def client(name: str) -> SyncClient:
        def handler(local: Any, remote: Any, attempt: int) -> Any:
            decision = resolve_conflict(local, remote, attempt, who=f"{name}: ")  # prints what it resolved
            resolved.append(f"{name}: " + (describe(decision) if isinstance(decision, dict) else repr(decision)))
            return decision

        return SyncClient(
            url, database=str(tmp / f"{name}.db"), auth=ApiKey(key), models=[TODO],
            conflict_handler=handler, backoff_base=0.05, backoff_cap=1.0,
        )

    async with client("phone") as phone, client("laptop") as laptop:
        row = await phone.model("Todo").save({"title": "buy milk", "done": False, "tags": []})
        await asyncio.wait_for(phone.sync(), TIMEOUT)
        await asyncio.wait_for(laptop.sync(), TIMEOUT)
        rid = row["id"]
        print(f"both online:    phone {describe(await get(phone, rid))}, laptop {describe(await get(laptop, rid))}")

        await server.stop()
        await asyncio.gather(wait_state(phone, "offline"), wait_state(laptop, "offline"))
        print("server stopped: both offline")
        await phone.model("Todo").update(rid, {"done": True, "tags": ["dairy"]})
        await laptop.model("Todo").update(rid, {"title": "buy oat milk", "tags": ["shop"]})
        print(f"offline edits:  phone {describe(await get(phone, rid))}, laptop {describe(await get(laptop, rid))}")
        print(f"pending:        phone {await phone.pending()}, laptop {await laptop.pending()}")

        await server.start()
        print(f"server back on port {server.port}: both sync")
        # Both send their edit; whichever reaches the server second gets the conflict. Two
        # more rounds bring the merged item back to the first one.
        for _ in range(3):
            await asyncio.wait_for(asyncio.gather(phone.sync(), laptop.sync()), TIMEOUT)

        on_server = (await server.todos(key))[rid]
        want = {k: on_server.get(k) for k in FIELDS}
        ok = True
        for name, c in (("phone", phone), ("laptop", laptop)):
            item = await get(c, rid)
            same = {k: item.get(k) for k in FIELDS} == want and await c.pending() == 0
            ok = ok and same
            print(f"{name:<7} {describe(item)} v{item.get('_version')}  {'= server' if same else '!= server'}")
        print(f"server  {describe(on_server)} v{on_server['_version']}")
    if not resolved:
        print("no conflict reached the handler: the demo did not show what it is for")
        return 1
    print(f"conflicts resolved by the handler: {len(resolved)} -> {'; '.join(resolved)}")
    print("converged" if ok else "NOT converged")
    return 0 if ok else 1


async def get(client: SyncClient, rid: str) -> dict[str, Any]:
    item = await client.model("Todo").get(rid)
    assert item is not None, rid
    return item


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
