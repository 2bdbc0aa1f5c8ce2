"""Graceful shutdown of a real `syncline serve` process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp

from .conftest import API_KEY, copy_project
from .test_crash import start_server

SLOW_RESOLVER = '''

async def slow(event):
    import asyncio
    await asyncio.sleep(float(event["arguments"]["seconds"]))
    return "done"
'''


def slow_project(tmp_path: Path) -> Path:
    project = copy_project("todo", tmp_path)
    (project / "resolvers.py").write_text((project / "resolvers.py").read_text() + SLOW_RESOLVER)
    schema = project / "schema.graphql"
    schema.write_text(schema.read_text().replace("hello(name: String): String", "hello(name: String): String\n  slow(seconds: Float!): String"))
    toml = project / "syncline.toml"
    toml.write_text(toml.read_text() + '"Query.slow" = "resolvers:slow"\n')
    return project


async def test_sigterm_finishes_in_flight_requests(tmp_path: Path) -> None:
    proc, url = await start_server(slow_project(tmp_path))
    async with aiohttp.ClientSession() as session:
        req = asyncio.create_task(
            session.post(url, json={"query": "{ slow(seconds: 1.0) }"}, headers={"x-api-key": API_KEY})
        )
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        resp = await req
        assert resp.status == 200 and (await resp.json())["data"]["slow"] == "done"
        async with asyncio.timeout(20):
            assert await proc.wait() == 0
        # and it no longer accepts connections
        try:
            async with session.post(url, json={"query": "{ hello }"}, headers={"x-api-key": API_KEY}) as r:
                raise AssertionError(f"still serving: {r.status}")
        except aiohttp.ClientConnectionError:
            pass


async def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    proc, url = await start_server(slow_project(tmp_path))
    async with aiohttp.ClientSession() as session:
        req = asyncio.create_task(
            session.post(url, json={"query": "{ slow(seconds: 30) }"}, headers={"x-api-key": API_KEY})
        )
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await proc.wait() == 1
        req.cancel()
