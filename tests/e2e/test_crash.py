"""Crash safety: SIGKILL the server while a client streams mutations.

After a restart every acknowledged write is there, and resending everything (as an offline
client does after a crash) applies each mutation exactly once thanks to the mutation ledger.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from .conftest import API_KEY, ROOT, copy_project

CREATE = "mutation($input: CreateTodoInput!) { createTodo(input: $input) { id _version } }"


async def start_server(project: Path) -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, "SYNCLINE_API_KEY": API_KEY, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "serve", str(project), "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=ROOT,
    )
    assert proc.stdout is not None
    lines = []
    async with asyncio.timeout(60):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise AssertionError("server exited early:\n" + "".join(lines))
            lines.append(line)
            m = re.search(r"Syncline serving .* at (http://\S+)", line)
            if m:
                break

    async def drain() -> None:
        assert proc.stdout is not None
        while await proc.stdout.readline():
            pass

    asyncio.get_running_loop().create_task(drain())
    return proc, m.group(1)


async def send(session: aiohttp.ClientSession, url: str, seq: int) -> dict:
    payload = {
        "query": CREATE,
        "variables": {"input": {"id": f"item-{seq}", "title": f"t{seq}"}},
        "extensions": {"mutationId": {"clientId": "crash-client", "seq": seq}},
    }
    async with session.post(url, json=payload, headers={"x-api-key": API_KEY}) as r:
        body = await r.json()
        assert "errors" not in body, body
        return body["data"]["createTodo"]


async def test_sigkill_loses_no_acknowledged_write_and_applies_nothing_twice(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    proc, url = await start_server(project)
    acked: set[int] = set()
    sent: set[int] = set()
    counter = iter(range(10_000))

    async def writer(session: aiohttp.ClientSession) -> None:
        while True:
            seq = next(counter)
            sent.add(seq)
            await send(session, url, seq)
            acked.add(seq)

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(writer(session)) for _ in range(8)]
        while len(acked) < 300:
            await asyncio.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, Exception) for r in results)  # every writer saw the crash

    proc, url = await start_server(project)
    try:
        async with aiohttp.ClientSession() as session:
            listed: dict[str, int] = {}
            token = None
            while True:
                body = await (await session.post(
                    url,
                    json={"query": "query($t: String) { listTodos(limit: 1000, nextToken: $t) { items { id _version } nextToken } }",
                          "variables": {"t": token}},
                    headers={"x-api-key": API_KEY},
                )).json()
                page = body["data"]["listTodos"]
                listed.update({i["id"]: i["_version"] for i in page["items"]})
                token = page["nextToken"]
                if token is None:
                    break
            missing = [s for s in acked if f"item-{s}" not in listed]
            assert not missing, f"acknowledged writes lost: {missing[:10]}"
            assert set(listed.values()) == {1}

            # The client resends everything it sent (it cannot know what the server applied).
            for seq in sorted(sent):
                item = await send(session, url, seq)
                assert item["id"] == f"item-{seq}" and item["_version"] == 1
            body = await (await session.post(
                url, json={"query": "{ syncTodos(limit: 1000) { items { id _version } } }"}, headers={"x-api-key": API_KEY}
            )).json()
            items = body["data"]["syncTodos"]["items"]
            assert sorted(i["id"] for i in items) == sorted(f"item-{s}" for s in sent)
            assert {i["_version"] for i in items} == {1}
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.wait()
        assert proc.returncode == 0
