"""Real-time end to end: the real server on 127.0.0.1 port 0, real gql clients on all three
protocols, and raw aiohttp WebSocket clients where a test needs to misbehave (stop reading,
never init, cycle connections)."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from gql import Client, gql
from gql.transport.aiohttp_websockets import AIOHTTPWebsocketsTransport
from gql.transport.appsync_auth import AppSyncApiKeyAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from gql.transport.websockets import WebsocketsTransport

from server.app import running
from server.settings import load_settings
from server.web.realtime import RealtimeConnection
from tests.e2e.conftest import API_KEY, Served, copy_project, serve_project

EXTRA_SDL = """
type Mutation { bump(title: String!): Todo }
type Subscription { onBump(title: String): Todo @aws_subscribe(mutations: ["bump"]) }
"""
EXTRA_RESOLVERS = '''

def bump(event):
    """A custom mutation resolved in Python, not backed by the store."""
    title = event["arguments"]["title"]
    return {"id": "bump-" + title, "title": title}
'''
CREATE = "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id title } }"


def realtime_project(tmp_path: Path, **realtime: Any) -> Path:
    project = copy_project("todo", tmp_path)
    with (project / "schema.graphql").open("a") as f:
        f.write(EXTRA_SDL)
    with (project / "resolvers.py").open("a") as f:
        f.write(EXTRA_RESOLVERS)
    lines = ['"Mutation.bump" = "resolvers:bump"', "", "[realtime]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in realtime.items()]
    with (project / "syncline.toml").open("a") as f:
        f.write("\n".join(lines) + "\n")
    return project


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Served]:
    project = realtime_project(tmp_path, send_queue=8, max_subscriptions=5)
    async for served in serve_project(project):
        yield served


def ws_url(served: Served) -> str:
    return served.running.url.replace("http://", "ws://")


def registry(served: Served) -> Any:
    assert served.running.syncline.realtime is not None
    return served.running.syncline.realtime.registry


async def until(cond: Any, what: str, timeout: float = 10.0) -> None:
    """Wait for a condition the server reaches asynchronously (not a timing assertion)."""
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


class RawTWS:
    """A hand-driven graphql-transport-ws client on aiohttp."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, url: str, *, key: str | None = API_KEY, init: bool = True
    ) -> "RawTWS":
        ws = await session.ws_connect(url, protocols=("graphql-transport-ws",))
        raw = cls(ws)
        if init:
            await ws.send_json({"type": "connection_init", "payload": {"x-api-key": key} if key else {}})
            if key == API_KEY:
                assert (await raw.recv())["type"] == "connection_ack"
        return raw

    async def recv(self) -> Any:
        msg = await self.ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
        return json.loads(msg.data)

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any] | None = None, **extra: Any) -> None:
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        payload.update(extra)
        await self.ws.send_json({"id": op_id, "type": "subscribe", "payload": payload})

    async def sync(self) -> None:
        """Ping/pong: the server handled everything sent before."""
        await self.ws.send_json({"type": "ping"})
        while (await self.recv())["type"] != "pong":
            pass

    async def next_data(self) -> Any:
        while True:
            msg = await self.recv()
            if msg["type"] in ("next", "error"):
                return msg


# --------------------------------------------------------------------------- all protocols


async def test_one_http_mutation_reaches_subscribers_on_every_protocol(rt: Served) -> None:
    url = ws_url(rt)
    sub = gql("subscription { onCreateTodo { id title } }")
    transports = {
        "graphql-transport-ws": WebsocketsTransport(url=url, init_payload={"x-api-key": API_KEY}),
        "graphql-ws": WebsocketsTransport(
            url=url, init_payload={"x-api-key": API_KEY}, subprotocols=[WebsocketsTransport.APOLLO_SUBPROTOCOL]
        ),
        "aiohttp graphql-transport-ws": AIOHTTPWebsocketsTransport(url=url, init_payload={"x-api-key": API_KEY}),
        "appsync": AppSyncWebsocketsTransport(
            url=url + "/realtime", auth=AppSyncApiKeyAuthentication(host=f"127.0.0.1:{rt.running.port}", api_key=API_KEY)
        ),
    }
    got: dict[str, Any] = {}

    async def listen(name: str, transport: Any) -> None:
        async with Client(transport=transport) as session:
            async for result in session.subscribe(sub):
                got[name] = result
                return

    tasks = [asyncio.create_task(listen(n, t)) for n, t in transports.items()]
    try:
        await until(lambda: registry(rt).subscribers == 4, "4 subscribers")
        assert registry(rt).groups == 1  # same field, document, variables and view: one group
        data = await rt.client.ok(CREATE, {"i": {"title": "hello"}})
        async with asyncio.timeout(10):
            await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
    assert got == {name: {"onCreateTodo": data["createTodo"]} for name in transports}
    await until(lambda: registry(rt).subscribers == 0, "clients gone")


async def test_queries_and_mutations_over_graphql_transport_ws(rt: Served) -> None:
    transport = WebsocketsTransport(url=ws_url(rt), init_payload={"x-api-key": API_KEY})
    async with Client(transport=transport) as session:
        created = await session.execute(gql('mutation { createTodo(input: {title: "over ws"}) { id title } }'))
        listed = await session.execute(gql("query { listTodos { items { id title } } }"))
        hello = await session.execute(gql('query { hello(name: "ws") }'))
    assert created["createTodo"]["title"] == "over ws"
    assert listed["listTodos"]["items"] == [created["createTodo"]]
    assert hello == {"hello": "Hello, ws!"}


async def test_a_mutation_sent_over_the_socket_reaches_subscribers(rt: Served) -> None:
    async with aiohttp.ClientSession() as s:
        listener = await RawTWS.connect(s, ws_url(rt))
        await listener.subscribe("s", "subscription { onCreateTodo { title } }")
        await listener.sync()
        writer = await RawTWS.connect(s, ws_url(rt))
        await writer.subscribe("m", 'mutation { createTodo(input: {title: "via socket"}) { id } }')
        reply = await writer.next_data()
        assert reply["type"] == "next" and reply["payload"]["data"]["createTodo"]["id"]
        assert (await writer.recv()) == {"id": "m", "type": "complete"}
        assert (await listener.next_data())["payload"] == {"data": {"onCreateTodo": {"title": "via socket"}}}


# --------------------------------------------------------------------------- filters


async def test_filters_and_enhanced_filters_select_exactly(rt: Served) -> None:
    q = "subscription($f: ModelSubscriptionTodoFilterInput) { onCreateTodo(filter: $f) { title } }"
    async with aiohttp.ClientSession() as s:
        c = await RawTWS.connect(s, ws_url(rt))
        await c.subscribe("filter", q, {"f": {"priority": {"eq": "HIGH"}}})
        await c.subscribe(
            "enhanced",
            "subscription { onCreateTodo { title } }",
            extensions={
                "filterGroup": [
                    {"filters": [{"fieldName": "tags", "operator": "containsAny", "value": ["red", "blue"]}]},
                    {"filters": [{"fieldName": "title", "operator": "beginsWith", "value": "z"}]},
                ]
            },
        )
        await c.subscribe("bad", "subscription { onCreateTodo { title } }", extensions={"filterGroup": [{"filters": []}]})
        refused = await c.next_data()
        assert refused["id"] == "bad" and refused["type"] == "error"
        assert "must not be empty" in refused["payload"][0]["message"]
        await c.sync()
        items = [
            {"title": "a", "priority": "HIGH"},
            {"title": "b", "tags": ["red"]},
            {"title": "c", "priority": "LOW", "tags": ["green"]},
            {"title": "zed", "priority": "HIGH"},
            {"title": "zlast", "priority": "HIGH"},  # matches both: the marker that all arrived
        ]
        for item in items:
            await rt.client.ok(CREATE, {"i": item})
        seen: dict[str, list[str]] = {"filter": [], "enhanced": []}
        while not all(titles[-1:] == ["zlast"] for titles in seen.values()):
            msg = await c.next_data()
            seen[msg["id"]].append(msg["payload"]["data"]["onCreateTodo"]["title"])
    assert seen == {"filter": ["a", "zed", "zlast"], "enhanced": ["b", "zed", "zlast"]}


def _appsync_url(served: Served) -> str:
    header = base64.b64encode(json.dumps({"host": "127.0.0.1", "x-api-key": API_KEY}).encode()).decode()
    return f"{ws_url(served)}/realtime?header={header}&payload=e30="


async def test_appsync_enhanced_filter_in_the_start_data(rt: Served) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(_appsync_url(rt), protocols=("graphql-ws",)) as ws:
        await ws.send_json({"type": "connection_init"})
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        data = {
            "query": "subscription { onCreateTodo { title } }",
            "variables": {},
            "extensions": {"filterGroup": [{"filters": [{"fieldName": "title", "operator": "in", "value": ["x", "y"]}]}]},
        }
        await ws.send_json(
            {"id": "1", "type": "start", "payload": {"data": json.dumps(data), "extensions": {"authorization": {"x-api-key": API_KEY, "host": "h"}}}}
        )
        while (msg := await ws.receive_json(timeout=10))["type"] == "ka":
            pass
        assert msg == {"id": "1", "type": "start_ack"}
        for title in ("w", "y", "x"):
            await rt.client.ok(CREATE, {"i": {"title": title}})
        got = []
        while len(got) < 2:
            msg = await ws.receive_json(timeout=10)
            if msg["type"] == "data":
                got.append(msg["payload"]["data"]["onCreateTodo"]["title"])
        assert got == ["y", "x"]


async def test_custom_python_mutation_with_aws_subscribe(rt: Served) -> None:
    transport = WebsocketsTransport(url=ws_url(rt), init_payload={"x-api-key": API_KEY})
    async with Client(transport=transport) as session:
        results: list[Any] = []

        async def listen() -> None:
            async for r in session.subscribe(gql('subscription { onBump(title: "yes") { id title } }')):
                results.append(r)
                return

        task = asyncio.create_task(listen())
        await until(lambda: registry(rt).subscribers == 1, "subscribed")
        await rt.client.ok('mutation { bump(title: "no") { id } }')
        await rt.client.ok('mutation { bump(title: "yes") { id } }')
        await asyncio.wait_for(task, 10)
    assert results == [{"onBump": {"id": "bump-yes", "title": "yes"}}]


# --------------------------------------------------------------------------- grouping and limits


async def test_same_document_subscribers_share_one_execution(rt: Served) -> None:
    n = 30
    async with aiohttp.ClientSession() as s:
        clients = [await RawTWS.connect(s, ws_url(rt)) for _ in range(n // 5)]
        for c in clients:
            for i in range(5):
                await c.subscribe(f"op{i}", "subscription { onCreateTodo { id title } }")
            await c.sync()
        reg = registry(rt)
        assert (reg.subscribers, reg.groups) == (n, 1)
        before = reg.executions
        await rt.client.ok(CREATE, {"i": {"title": "once"}})
        payloads = [await c.next_data() for c in clients for _ in range(5)]
        assert reg.executions - before == 1
        assert {json.dumps(p["payload"]) for p in payloads} == {json.dumps({"data": {"onCreateTodo": payloads[0]["payload"]["data"]["onCreateTodo"]}})}
        assert sorted(p["id"] for p in payloads) == sorted(f"op{i}" for i in range(5) for _ in clients)


async def test_a_group_frame_encoded_once_still_carries_each_subscribers_op_id(rt: Served) -> None:
    """Frames are encoded once per event and op id, and cached for up to FRAME_CACHE op ids:
    more distinct ids than that, over two events, each get their own id and the right event."""
    from server.web.realtime import FRAME_CACHE

    per_conn = 5
    conns = FRAME_CACHE // per_conn + 2
    metrics = rt.running.syncline.metrics
    delivered = metrics.deliveries.labels("graphql-transport-ws")
    async with aiohttp.ClientSession() as s:
        clients = [await RawTWS.connect(s, ws_url(rt)) for _ in range(conns)]
        for n, c in enumerate(clients):
            for i in range(per_conn):
                await c.subscribe(f"c{n}-op{i}", "subscription { onCreateTodo { title } }")
            await c.sync()
        assert registry(rt).groups == 1 and conns * per_conn > FRAME_CACHE
        before = delivered._value.get()
        for title in ("first", "second"):
            await rt.client.ok(CREATE, {"i": {"title": title}})
            for n, c in enumerate(clients):
                got = sorted((m["id"], m["payload"]["data"]["onCreateTodo"]["title"]) for m in [await c.next_data() for _ in range(per_conn)])
                assert got == [(f"c{n}-op{i}", title) for i in range(per_conn)]
        await until(lambda: delivered._value.get() - before == 2 * conns * per_conn, "deliveries counted")


async def test_subscriptions_per_connection_are_limited(rt: Served) -> None:
    async with aiohttp.ClientSession() as s:
        c = await RawTWS.connect(s, ws_url(rt))
        for i in range(6):
            await c.subscribe(str(i), "subscription { onCreateTodo { id } }")
        refused = await c.next_data()
        assert refused["id"] == "5" and refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["errorType"] == "LimitExceeded"
        await c.sync()  # the connection stays up
        assert registry(rt).subscribers == 5


async def test_a_slow_consumer_is_closed_with_4503_while_others_keep_receiving(rt: Served) -> None:
    big = json.dumps("x" * 100_000)
    sub = "subscription { onCreateTodo { title notes } }"
    metrics = rt.running.syncline.metrics
    async with aiohttp.ClientSession() as s:
        slow = await RawTWS.connect(s, ws_url(rt))
        await slow.subscribe("slow", sub)
        await slow.sync()
        fast = await RawTWS.connect(s, ws_url(rt))
        await fast.subscribe("fast", sub)
        await fast.sync()
        received = 0

        async def read_fast() -> None:
            nonlocal received
            while True:
                msg = await fast.next_data()
                received += 1
                if msg["payload"]["data"]["onCreateTodo"]["title"] == "done":
                    return

        reader = asyncio.create_task(read_fast())
        sent = 0
        # `slow` never reads: the kernel buffers fill, then its bounded queue (8) overflows.
        while metrics.slow_consumers.labels("graphql-transport-ws")._value.get() == 0:
            assert sent < 2000, "the slow consumer was never dropped"
            await rt.client.ok(CREATE, {"i": {"title": f"t{sent}", "notes": big}})
            sent += 1
        await rt.client.ok(CREATE, {"i": {"title": "done"}})
        await asyncio.wait_for(reader, 30)
        assert received == sent + 1  # the fast consumer got every event, before and after
        # The slow one, reading again, finds what was buffered, then the 4503 close.
        while True:
            msg = await slow.ws.receive(timeout=10)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4503, (msg.type, msg.data, msg.extra)
        await until(lambda: registry(rt).subscribers == 1, "slow consumer unsubscribed")


async def test_no_task_or_connection_growth_after_many_cycles(rt: Served) -> None:
    """1,000 connect → init → subscribe → disconnect cycles leave no tasks, connections or groups."""
    endpoint = rt.running.syncline.realtime
    assert endpoint is not None

    def live() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, RealtimeConnection))

    async def cycle(s: aiohttp.ClientSession, i: int) -> None:
        c = await RawTWS.connect(s, ws_url(rt))
        await c.subscribe("1", "subscription($f: ModelSubscriptionTodoFilterInput) { onCreateTodo(filter: $f) { id } }", {"f": {"title": {"eq": str(i % 7)}}})
        await c.sync()
        await c.ws.close()

    async with aiohttp.ClientSession() as s:
        for i in range(20):  # warm up (aiohttp and the store start their long-lived tasks)
            await cycle(s, i)
        await until(lambda: not endpoint.connections, "warm-up connections closed")
        tasks_before, live_before = len(asyncio.all_tasks()), live()
        for i in range(1000):
            await cycle(s, i)
        await until(lambda: not endpoint.connections, "connections closed")
        await until(lambda: len(asyncio.all_tasks()) <= tasks_before, "tasks finished")
    assert live() == live_before == 0
    assert (registry(rt).subscribers, registry(rt).groups) == (0, 0)


# --------------------------------------------------------------------------- auth and lifecycle


async def test_refused_auth_per_protocol(rt: Served) -> None:
    async with aiohttp.ClientSession() as s:
        tws = await RawTWS.connect(s, ws_url(rt), key="da2-wrong")
        msg = await tws.ws.receive(timeout=10)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4403)

        async with s.ws_connect(ws_url(rt), protocols=("graphql-ws",)) as legacy:
            await legacy.send_json({"type": "connection_init", "payload": {"x-api-key": "da2-wrong"}})
            assert (await legacy.receive_json(timeout=10))["type"] == "connection_error"
            msg = await legacy.receive(timeout=10)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1011)

        header = base64.b64encode(json.dumps({"host": "h", "x-api-key": "da2-wrong"}).encode()).decode()
        async with s.ws_connect(f"{ws_url(rt)}/realtime?header={header}&payload=e30=", protocols=("graphql-ws",)) as aws:
            err = await aws.receive_json(timeout=10)
            assert err["type"] == "connection_error"
            assert err["payload"]["errors"][0]["errorType"] == "UnauthorizedException"
            msg = await aws.receive(timeout=10)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4403)

        # AppSync: a good connection, but a start whose own authorization is refused.
        async with s.ws_connect(_appsync_url(rt), protocols=("graphql-ws",)) as aws:
            data = json.dumps({"query": "subscription { onCreateTodo { id } }", "variables": {}})
            await aws.send_json({"id": "1", "type": "start", "payload": {"data": data, "extensions": {"authorization": {"x-api-key": "bad"}}}})
            while (msg := await aws.receive_json(timeout=10))["type"] in ("ka", "connection_ack"):
                pass
            assert msg["type"] == "error" and msg["id"] == "1"
            assert msg["payload"]["errors"][0]["errorType"] == "UnauthorizedException"
    assert registry(rt).subscribers == 0


async def test_connection_init_timeout_closes_with_4408(tmp_path: Path) -> None:
    project = realtime_project(tmp_path, init_timeout="200ms")
    async for served in serve_project(project):
        async with aiohttp.ClientSession() as s:
            c = await RawTWS.connect(s, ws_url(served), init=False)
            msg = await c.ws.receive(timeout=10)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4408)


async def test_keep_alive_on_appsync_and_legacy(tmp_path: Path) -> None:
    project = realtime_project(tmp_path, keep_alive="100ms", connection_timeout="30s")
    async for served in serve_project(project):
        async with aiohttp.ClientSession() as s, s.ws_connect(_appsync_url(served), protocols=("graphql-ws",)) as ws:
            await ws.send_json({"type": "connection_init"})
            ack = await ws.receive_json(timeout=10)
            assert ack == {"type": "connection_ack", "payload": {"connectionTimeoutMs": 30000}}
            kinds = [(await ws.receive_json(timeout=10))["type"] for _ in range(3)]
            assert kinds == ["ka", "ka", "ka"]
        async with aiohttp.ClientSession() as s, s.ws_connect(ws_url(served), protocols=("graphql-ws",)) as legacy:
            await legacy.send_json({"type": "connection_init", "payload": {"x-api-key": API_KEY}})
            kinds = [(await legacy.receive_json(timeout=10))["type"] for _ in range(4)]
            assert kinds == ["connection_ack", "ka", "ka", "ka"]  # ka right after the ack, then periodically


async def test_idle_connections_are_closed_with_1001(tmp_path: Path) -> None:
    project = realtime_project(tmp_path, idle_timeout="300ms")
    async for served in serve_project(project):
        async with aiohttp.ClientSession() as s:
            c = await RawTWS.connect(s, ws_url(served))
            msg = await c.ws.receive(timeout=10)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)


async def test_connection_lifetime_and_message_size_limits(tmp_path: Path) -> None:
    project = realtime_project(tmp_path, max_lifetime="300ms", max_message_bytes=1024)
    async for served in serve_project(project):
        async with aiohttp.ClientSession() as s:
            busy = await RawTWS.connect(s, ws_url(served))
            await busy.subscribe("1", "subscription { onCreateTodo { id } }")
            msg = await busy.ws.receive(timeout=10)  # subscribed, yet closed at the end of its lifetime
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)
            big = await RawTWS.connect(s, ws_url(served))
            await big.subscribe("1", "subscription { onCreateTodo { id } }", {"pad": "x" * 2000})
            msg = await big.ws.receive(timeout=10)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4413)


async def test_server_shutdown_closes_sockets_with_1001(tmp_path: Path) -> None:
    project = realtime_project(tmp_path)
    settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
    async with aiohttp.ClientSession() as s:
        async with running(settings, port=0) as srv:
            url = srv.url.replace("http://", "ws://")
            c = await RawTWS.connect(s, url)
            await c.subscribe("1", "subscription { onCreateTodo { id } }")
            await c.sync()
        msg = await c.ws.receive(timeout=10)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)


async def test_plain_gets_still_reach_the_http_handler(rt: Served) -> None:
    s = rt.client.session
    async with s.get(rt.running.url, params={"query": "{ hello }"}, headers={"x-api-key": API_KEY}) as r:
        assert r.status == 200 and (await r.json()) == {"data": {"hello": "Hello, world!"}}
    async with s.get(rt.running.url, headers={"Accept": "text/html"}) as r:
        assert r.status == 200 and "html" in r.headers["Content-Type"]
    async with s.get(rt.running.url + "/realtime") as r:
        assert r.status == 400
    async with s.get(rt.running.url, headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "mqtt"}) as r:
        assert r.status == 400 and "graphql-transport-ws" in (await r.text())


# --------------------------------------------------------------------------- per-subscriber authorization

NOTE_SDL = """
type Note @model @auth(rules: [{allow: owner, provider: oidc}]) { body: String }
"""
ISSUER = "https://issuer.test"
SECRET = "s" * 32


def _token(sub: str) -> str:
    import time

    import jwt

    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "sub": sub, "username": sub, "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256")


async def test_a_subscriber_never_gets_rows_it_may_not_read(tmp_path: Path) -> None:
    """Owner rules apply per subscriber, on graphql-transport-ws and on AppSync (per-start auth)."""
    from server.auth.authenticate import AuthConfig, Authenticator

    project = realtime_project(tmp_path)
    with (project / "schema.graphql").open("a") as f:
        f.write(NOTE_SDL)
    settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
    config = AuthConfig.from_mapping(
        {"default_mode": "API_KEY", "additional_modes": ["OPENID_CONNECT"], "oidc": {"issuer": ISSUER, "hmac_secret": SECRET, "algorithms": ["HS256"]}},
        api_key=API_KEY,
    )
    auth = Authenticator(config, data_dir=tmp_path / "keys")
    alice, bob = _token("alice"), _token("bob")
    sub = "subscription { onCreateNote { body owner } }"
    async with running(settings, port=0, authenticator=auth) as srv, aiohttp.ClientSession() as s:
        url = srv.url.replace("http://", "ws://")
        a = await RawTWS.connect(s, url, key=None, init=False)
        await a.ws.send_json({"type": "connection_init", "payload": {"Authorization": alice}})
        assert (await a.recv())["type"] == "connection_ack"
        await a.subscribe("a", sub)
        await a.sync()
        header = base64.b64encode(json.dumps({"host": "h", "Authorization": bob}).encode()).decode()
        b = await s.ws_connect(f"{url}/realtime?header={header}&payload=e30=", protocols=("graphql-ws",))
        data = json.dumps({"query": sub, "variables": {}})
        await b.send_json({"id": "b", "type": "start", "payload": {"data": data, "extensions": {"authorization": {"Authorization": bob, "host": "h"}}}})
        while (msg := await b.receive_json(timeout=10))["type"] == "ka":
            pass
        assert msg == {"id": "b", "type": "start_ack"}
        reg = srv.syncline.realtime.registry  # type: ignore[union-attr]
        assert reg.groups == 2  # two owners, two authorization views

        async def create(token: str, body: str, owner: str) -> None:
            q = "mutation($i: CreateNoteInput!) { createNote(input: $i) { id } }"
            async with s.post(srv.url, json={"query": q, "variables": {"i": {"body": body, "owner": owner}}}, headers={"Authorization": token}) as r:
                reply = await r.json()
                assert "errors" not in reply, reply

        await create(alice, "alice 1", "alice")
        await create(bob, "bob 1", "bob")
        await create(alice, "alice 2", "alice")
        got_a = [(await a.next_data())["payload"]["data"]["onCreateNote"]["body"] for _ in range(2)]
        got_b = []
        while not got_b:
            msg = await b.receive_json(timeout=10)
            if msg["type"] == "data":
                got_b.append(msg["payload"]["data"]["onCreateNote"]["body"])
        await create(bob, "bob 2", "bob")
        while len(got_b) < 2:
            msg = await b.receive_json(timeout=10)
            if msg["type"] == "data":
                got_b.append(msg["payload"]["data"]["onCreateNote"]["body"])
        await b.close()
    assert got_a == ["alice 1", "alice 2"]
    assert got_b == ["bob 1", "bob 2"]


async def test_a_replayed_mutation_is_not_published_twice(tmp_path: Path) -> None:
    """The exactly-once ledger answers a replay without a write, so no second event goes out."""
    from .conftest import API_KEY, copy_project, serve_project

    project = copy_project("todo", tmp_path)
    async for s in serve_project(project):
        ws = await s.client.session.ws_connect(s.running.url, protocols=["graphql-transport-ws"])
        await ws.send_json({"type": "connection_init", "payload": {"x-api-key": API_KEY}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "s", "type": "subscribe", "payload": {"query": "subscription { onCreateTodo { title } }"}})
        await asyncio.sleep(0.2)
        create = 'mutation($t: String!) { createTodo(input: {title: $t}) { id } }'
        ext = {"mutationId": {"clientId": "c1", "seq": 1}}
        for _ in range(2):
            await s.client.ok(create, {"t": "once"}, extensions=ext)
        await s.client.ok(create, {"t": "next"}, extensions={"mutationId": {"clientId": "c1", "seq": 2}})
        titles = []
        async with asyncio.timeout(10):
            while len(titles) < 2:
                msg = await ws.receive_json()
                if msg["type"] == "next":
                    titles.append(msg["payload"]["data"]["onCreateTodo"]["title"])
        assert titles == ["once", "next"]
        await ws.close()
