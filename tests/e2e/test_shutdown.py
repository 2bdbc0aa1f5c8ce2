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


async def slow_add(event, ctx):
    import asyncio
    await asyncio.sleep(float(event["arguments"]["seconds"]))
    result = await ctx.store.create("Todo", {"title": event["arguments"]["title"]}, identity=ctx.identity)
    return result.item
'''


def slow_project(tmp_path: Path) -> Path:
    project = copy_project("todo", tmp_path)
    (project / "resolvers.py").write_text((project / "resolvers.py").read_text() + SLOW_RESOLVER)
    schema = project / "schema.graphql"
    schema.write_text(
        schema.read_text().replace("hello(name: String): String", "hello(name: String): String\n  slow(seconds: Float!): String")
        + "\ntype Mutation {\n  slowAdd(title: String!, seconds: Float!): Todo\n}\n"
    )
    toml = project / "syncline.toml"
    toml.write_text(toml.read_text() + '"Query.slow" = "resolvers:slow"\n"Mutation.slowAdd" = "resolvers:slow_add"\n')
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


async def test_sigterm_closes_subscribers_with_1001_and_the_in_flight_mutation_commits(tmp_path: Path) -> None:
    project = slow_project(tmp_path)
    proc, url = await start_server(project)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url, protocols=["graphql-transport-ws"])
        await ws.send_json({"type": "connection_init", "payload": {"x-api-key": API_KEY}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "subscription { onCreateTodo { id } }"}})
        mutation = asyncio.create_task(
            session.post(
                url,
                json={"query": 'mutation { slowAdd(title: "in flight", seconds: 1.0) { id title } }'},
                headers={"x-api-key": API_KEY},
            )
        )
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001
        resp = await mutation
        body = await resp.json()
        assert resp.status == 200 and body["data"]["slowAdd"]["title"] == "in flight"
        async with asyncio.timeout(20):
            assert await proc.wait() == 0
    proc, url = await start_server(project)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json={"query": "{ listTodos { items { title } } }"}, headers={"x-api-key": API_KEY}) as r:
                assert (await r.json())["data"]["listTodos"]["items"] == [{"title": "in flight"}]
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
