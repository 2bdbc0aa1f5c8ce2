"""MQTT end to end: real paho-mqtt clients against the real server's embedded broker.

Clients connect over WebSocket at /mqtt (and TCP when enabled), receive the events of HTTP
mutations on handshake topics (a subscription POSTed to /graphql) and on model topics, and are
refused what the ACL forbids.
"""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import threading
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import paho.mqtt.client as mqtt
import pytest

from tests.e2e.conftest import API_KEY, Served, copy_project, serve_project

CREATE = "mutation($input: CreateTodoInput!) { createTodo(input: $input) { id title } }"
ON_CREATE = "subscription { onCreateTodo { id title } }"


class Paho:
    """A paho-mqtt client on its own network thread; what it receives lands in a queue."""

    def __init__(
        self,
        port: int,
        *,
        username: str | None = "API_KEY",
        password: str | None = API_KEY,
        client_id: str = "",
        clean_session: bool = True,
        transport: str = "websockets",
    ) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.connack: queue.Queue[int] = queue.Queue()
        self.disconnected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"t-{uuid.uuid4().hex[:12]}",
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
            transport=transport,  # type: ignore[arg-type]
        )
        if transport == "websockets":
            self.client.ws_set_options(path="/mqtt")
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.client.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put([int(getattr(rc, "value", rc)) for rc in rcs])
        self.client.on_connect = lambda c, u, flags, rc, props: self.connack.put(int(getattr(rc, "value", rc)))
        self.client.on_disconnect = lambda c, u, flags, rc, props: self.disconnected.set()
        self.port = port

    async def connect(self) -> int:
        # connect() does the WebSocket handshake synchronously: off the loop that serves it
        await asyncio.to_thread(self.client.connect, "127.0.0.1", self.port, 30)
        self.client.loop_start()
        return await asyncio.to_thread(self.connack.get, True, 10)

    async def subscribe(self, topic: str, qos: int = 0) -> list[int]:
        self.client.subscribe(topic, qos)
        return await asyncio.to_thread(self.subacks.get, True, 10)

    async def next(self, timeout: float = 10) -> tuple[str, Any]:
        topic, payload = await asyncio.to_thread(self.messages.get, True, timeout)
        return topic, json.loads(payload)

    async def close(self) -> None:
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)


@pytest.fixture
async def todo(tmp_path: Path) -> AsyncIterator[Served]:
    project = copy_project("todo", tmp_path)
    async for served in serve_project(project):
        yield served


async def test_model_topic_over_websocket_receives_http_mutations(todo: Served) -> None:
    sub = Paho(todo.running.port)
    assert await sub.connect() == 0
    try:
        assert await sub.subscribe("models/Todo/create", qos=1) == [1]
        data = await todo.client.ok(CREATE, {"input": {"title": "over mqtt"}})
        topic, item = await sub.next()
        assert topic == "models/Todo/create"
        assert item["id"] == data["createTodo"]["id"] and item["title"] == "over mqtt"
    finally:
        await sub.close()


async def test_handshake_topic_receives_the_group_payload(todo: Served) -> None:
    body = await todo.client.gql(ON_CREATE)
    ext = body["extensions"]["subscription"]
    conn = ext["mqttConnections"][0]
    assert conn["url"] == f"ws://127.0.0.1:{todo.running.port}/mqtt"
    topic = ext["newSubscriptions"]["onCreateTodo"]["topic"]
    assert conn["topics"] == [topic]
    sub = Paho(todo.running.port, client_id=conn["client"])
    assert await sub.connect() == 0
    try:
        assert await sub.subscribe(topic, qos=1) == [1]
        await todo.client.ok(CREATE, {"input": {"title": "grouped"}})
        got_topic, payload = await sub.next()
        assert got_topic == topic
        assert payload["data"]["onCreateTodo"]["title"] == "grouped"
    finally:
        await sub.close()


async def serve_with(tmp_path: Path, mqtt_toml: str) -> AsyncIterator[Served]:
    project = copy_project("todo", tmp_path)
    with (project / "syncline.toml").open("a", encoding="utf-8") as f:
        f.write("\n[mqtt]\n" + mqtt_toml + "\n")
    async for served in serve_project(project):
        yield served


async def test_acl_refuses_wildcards_ungranted_topics_and_client_publishes(todo: Served) -> None:
    sub = Paho(todo.running.port)
    assert await sub.connect() == 0
    try:
        assert await sub.subscribe("#") == [0x80]
        assert await sub.subscribe("models/#") == [0x80]
        assert await sub.subscribe("+/Todo/create") == [0x80]
        assert await sub.subscribe("graphql/0123456789abcdef0123456789abcdef") == [0x80]
        assert await sub.subscribe("models/Todo/create", qos=1) == [1]
        sub.client.publish("models/Todo/create", json.dumps({"id": "forged"}), qos=1)
        await todo.client.ok(CREATE, {"input": {"title": "real"}})
        topic, item = await sub.next()
        assert item["title"] == "real"  # the forged publish was dropped, not delivered first
        assert sub.messages.empty()
    finally:
        await sub.close()
    assert todo.running.syncline.mqtt is not None and todo.running.syncline.mqtt.refusals >= 5


@pytest.mark.parametrize("username,password", [("API_KEY", "da2-wrongwrongwrongwrongwrongwr"), (None, None), ("OPENID_CONNECT", "not-a-token")])
async def test_connect_with_bad_credentials_is_refused(todo: Served, username: str | None, password: str | None) -> None:
    sub = Paho(todo.running.port, username=username, password=password)
    try:
        assert await sub.connect() != 0
    finally:
        await sub.close()


async def test_persistent_session_gets_qos1_messages_published_while_down(todo: Served) -> None:
    client_id = f"dash-{uuid.uuid4().hex[:8]}"
    first = Paho(todo.running.port, client_id=client_id, clean_session=False)
    assert await first.connect() == 0
    assert await first.subscribe("models/Todo/create", qos=1) == [1]
    await first.close()
    titles = [f"while down {i}" for i in range(3)]
    for t in titles:
        await todo.client.ok(CREATE, {"input": {"title": t}})
    again = Paho(todo.running.port, client_id=client_id, clean_session=False)
    assert await again.connect() == 0  # no SUBSCRIBE: the session kept it
    try:
        got = sorted([(await again.next())[1]["title"] for _ in titles])
        assert got == sorted(titles)
    finally:
        await again.close()


async def test_a_refused_connect_does_not_disturb_the_session_it_names(todo: Served) -> None:
    """amqtt applies clean_session and take-over before refusing credentials; Syncline checks
    CONNECT first, so a wrong password cannot kick a client off or wipe its stored session."""
    client_id = f"victim-{uuid.uuid4().hex[:8]}"
    victim = Paho(todo.running.port, client_id=client_id, clean_session=False)
    assert await victim.connect() == 0
    assert await victim.subscribe("models/Todo/create", qos=1) == [1]
    for clean in (True, False):
        thief = Paho(todo.running.port, client_id=client_id, password="da2-wrongwrongwrongwrongwrongwr", clean_session=clean)
        try:
            assert await thief.connect() != 0
        finally:
            await thief.close()
    assert not victim.disconnected.is_set()
    await todo.client.ok(CREATE, {"input": {"title": "still mine"}})
    try:
        assert (await victim.next())[1]["title"] == "still mine"
    finally:
        await victim.close()


async def test_grant_expires_and_posting_again_renews_it(tmp_path: Path) -> None:
    async for s in serve_with(tmp_path, 'grant_ttl = "1s"'):
        svc = s.running.syncline.mqtt
        assert svc is not None
        ext = (await s.client.gql(ON_CREATE))["extensions"]["subscription"]
        client, topic = ext["mqttConnections"][0]["client"], ext["newSubscriptions"]["onCreateTodo"]["topic"]
        sub = Paho(s.running.port, client_id=client)
        assert await sub.connect() == 0
        try:
            assert await sub.subscribe(topic) == [0]
            for _ in range(100):  # wait for the expiry task, not for a fixed time
                if topic not in svc.grants.topics():
                    break
                await asyncio.sleep(0.05)
            assert topic not in svc.grants.topics()
            await s.client.ok(CREATE, {"input": {"title": "after expiry"}})
            with pytest.raises(queue.Empty):
                await sub.next(timeout=1)
            assert await sub.subscribe(topic) == [0x80]
            renewed = (await s.client.gql(ON_CREATE, extensions={"subscription": {"client": client}}))["extensions"]["subscription"]
            assert renewed["newSubscriptions"]["onCreateTodo"]["topic"] == topic
            assert await sub.subscribe(topic) == [0]
            await s.client.ok(CREATE, {"input": {"title": "renewed"}})
            assert (await sub.next())[1]["data"]["onCreateTodo"]["title"] == "renewed"
        finally:
            await sub.close()


async def test_tcp_listener_when_enabled(tmp_path: Path) -> None:
    async for s in serve_with(tmp_path, "tcp_port = 0"):
        svc = s.running.syncline.mqtt
        assert svc is not None and svc.tcp_port
        sub = Paho(svc.tcp_port, transport="tcp")
        assert await sub.connect() == 0
        try:
            assert await sub.subscribe("models/Todo/+", qos=1) == [1]
            await s.client.ok(CREATE, {"input": {"title": "over tcp"}})
            topic, item = await sub.next()
            assert topic == "models/Todo/create" and item["title"] == "over tcp"
        finally:
            await sub.close()
        ws = Paho(s.running.port)  # /mqtt still serves WebSocket beside TCP
        assert await ws.connect() == 0
        await ws.close()


def _mqtt_str(text: str) -> bytes:
    return len(text).to_bytes(2, "big") + text.encode()


def _packet(first: int, body: bytes) -> bytes:
    assert len(body) < 128
    return bytes([first, len(body)]) + body


@pytest.mark.parametrize("transport", ["websockets", "tcp"])
async def test_a_subscriber_that_stops_reading_is_disconnected(tmp_path: Path, transport: str) -> None:
    """Bounded send queues: a subscriber that never reads is dropped once its backlog passes
    send_queue_bytes, instead of growing the server's memory."""
    async for s in serve_with(tmp_path, "send_queue_bytes = 65536\ntcp_port = 0"):
        svc = s.running.syncline.mqtt
        assert svc is not None and svc.broker is not None and svc.tcp_port
        client_id = f"stuck-{transport}"
        connect = _packet(0x10, _mqtt_str("MQTT") + bytes([4, 0xC2]) + (60).to_bytes(2, "big") + _mqtt_str(client_id) + _mqtt_str("API_KEY") + _mqtt_str(API_KEY))
        subscribe = _packet(0x82, (1).to_bytes(2, "big") + _mqtt_str("models/Todo/create") + b"\x00")
        if transport == "tcp":
            reader, writer = await asyncio.open_connection("127.0.0.1", svc.tcp_port)
            writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            writer.write(connect + subscribe)
            await reader.readexactly(4 + 5)  # CONNACK, SUBACK; then never read again
        else:  # a raw WebSocket client, so that nothing reads on its behalf
            reader, writer = await asyncio.open_connection("127.0.0.1", s.running.port)
            writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            writer.write(
                b"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
            )
            assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
            payload = connect + subscribe
            writer.write(bytes([0x82, 0x80 | len(payload)]) + b"\x00\x00\x00\x00" + payload)  # masked with a zero key
            await reader.readexactly(2 + 4 + 2 + 5)  # one frame each: CONNACK, SUBACK
        try:
            for i in range(400):
                entry = svc.broker._sessions.get(client_id)
                if entry is not None and entry[0].transitions.state != "connected":
                    break
                await s.client.ok(CREATE, {"input": {"title": f"{i} " + "x" * 60_000}})
            entry = svc.broker._sessions.get(client_id)
            assert entry is None or entry[0].transitions.state != "connected"
            metrics = s.running.syncline.metrics
            assert metrics.slow_consumers.labels("mqtt")._value.get() == 1
            assert metrics.mqtt_dropped.labels("slow_consumer")._value.get() >= 1
        finally:
            writer.close()


async def test_mqtt_disabled_keeps_subscriptions_on_websocket(tmp_path: Path) -> None:
    async for s in serve_with(tmp_path, "enabled = false"):
        assert s.running.syncline.mqtt is None
        body = await s.client.gql(ON_CREATE)
        assert "WebSocket" in body["errors"][0]["message"]
        async with s.client.session.get(s.running.url.replace("/graphql", "/mqtt")) as resp:
            assert resp.status == 404


async def test_readiness_reports_the_broker(todo: Served) -> None:
    async with todo.client.session.get(todo.running.url.replace("/graphql", "/readyz")) as resp:
        body = await resp.json(content_type=None)
    assert resp.status == 200, body
    assert "broker" in body["checks"]
    svc = todo.running.syncline.mqtt
    assert svc is not None and svc.broker is not None
    svc.broker.transitions.shutdown()  # the broker leaves "started": readiness must say so
    try:
        async with todo.client.session.get(todo.running.url.replace("/graphql", "/readyz")) as resp:
            body = await resp.json(content_type=None)
        assert resp.status == 503 and "broker" in body["failing"]
    finally:
        svc.broker.transitions.stopping_failure()
        svc.broker.transitions.state = "started"


# -- owner rules (OPENID_CONNECT identities; tests/e2e/auth_world.py's Memo is owner-only by sub) --

CREATE_MEMO = "mutation($input: CreateMemoInput!) { createMemo(input: $input) { id text owner } }"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Any]:
    from tests.e2e.auth_world import serve_auth_project

    async for w in serve_auth_project(tmp_path):
        yield w


async def test_owner_topics_only_for_their_owner(world: Any) -> None:
    from tests.e2e.auth_world import bearer

    alice_token, bob_token = world.tokens.oidc_token("alice"), world.tokens.oidc_token("bob")
    alice = Paho(world.running.port, username="OPENID_CONNECT", password=alice_token)
    assert await alice.connect() == 0
    try:
        assert await alice.subscribe("models/Memo/create/oidc-alice", qos=1) == [1]
        assert await alice.subscribe("models/Memo/+/oidc-alice", qos=1) == [1]
        assert await alice.subscribe("models/Memo/create/oidc-bob") == [0x80]
        assert await alice.subscribe("models/Memo/create") == [0x80]
        assert await alice.subscribe("models/Memo/create/+") == [0x80]
        assert await alice.subscribe("models/Memo/#") == [0x80]
        assert await alice.subscribe("#") == [0x80]
        await world.as_(bearer(bob_token), CREATE_MEMO, {"input": {"text": "bob's"}})
        mine = await world.as_(bearer(alice_token), CREATE_MEMO, {"input": {"text": "alice's"}})
        assert mine["data"]["createMemo"]["owner"] == "oidc-alice", mine
        topic, item = await alice.next()
        assert item["text"] == "alice's" and topic.endswith("/oidc-alice")
        topic, item = await alice.next()  # the same event on the second (overlapping) filter
        assert item["text"] == "alice's"
        assert alice.messages.empty()  # bob's memo never reached alice
    finally:
        await alice.close()


async def test_handshake_grants_are_bound_to_the_identity(world: Any) -> None:
    from tests.e2e.auth_world import bearer

    alice_token, bob_token = world.tokens.oidc_token("alice"), world.tokens.oidc_token("bob")
    sub_doc = "subscription { onCreateMemo { id text } }"
    ext = (await world.as_(bearer(alice_token), sub_doc))["extensions"]["subscription"]
    client, topic = ext["mqttConnections"][0]["client"], ext["newSubscriptions"]["onCreateMemo"]["topic"]
    # bob cannot take over alice's client id, neither by posting with it nor by connecting with it
    status, body = await world.post({"query": sub_doc, "extensions": {"subscription": {"client": client}}}, bearer(bob_token))
    assert status == 403 and body["errors"][0]["errorType"] == "Unauthorized"
    thief = Paho(world.running.port, username="OPENID_CONNECT", password=bob_token, client_id=client)
    try:
        assert await thief.connect() != 0
    finally:
        await thief.close()
    alice = Paho(world.running.port, username="OPENID_CONNECT", password=alice_token, client_id=client)
    assert await alice.connect() == 0
    try:
        assert await alice.subscribe(topic, qos=1) == [1]
        await world.as_(bearer(bob_token), CREATE_MEMO, {"input": {"text": "bob's"}})
        await world.as_(bearer(alice_token), CREATE_MEMO, {"input": {"text": "alice's"}})
        got_topic, payload = await alice.next()
        assert got_topic == topic and payload["data"]["onCreateMemo"]["text"] == "alice's"
        assert alice.messages.empty()
    finally:
        await alice.close()
    # bob's own subscription is another group (another authorization view): another topic
    bob_ext = (await world.as_(bearer(bob_token), sub_doc))["extensions"]["subscription"]
    assert bob_ext["newSubscriptions"]["onCreateMemo"]["topic"] != topic


async def test_an_idle_subscriber_stays_connected(todo: Served) -> None:
    """amqtt's integration sample dropped readers quiet for 0.5 s; ours waits on MQTT keep-alive only."""
    sub = Paho(todo.running.port)
    assert await sub.connect() == 0
    try:
        assert await sub.subscribe("models/Todo/delete", qos=1) == [1]
        await asyncio.sleep(1.5)  # quiet: no packet either way (keep-alive is 30 s)
        assert not sub.disconnected.is_set()
        created = await todo.client.ok(CREATE, {"input": {"title": "to delete"}})
        todo_id = created["createTodo"]["id"]
        await todo.client.ok("mutation($input: DeleteTodoInput!) { deleteTodo(input: $input) { id } }", {"input": {"id": todo_id}})
        topic, item = await sub.next()
        assert topic == "models/Todo/delete" and item["id"] == todo_id
    finally:
        await sub.close()


async def test_tls_serves_wss_and_mqtts_with_the_server_certificate(tmp_path: Path) -> None:
    import ssl

    import aiohttp

    from server.app import running
    from server.cli import main
    from server.settings import load_settings

    cert, key = tmp_path / "dev.crt", tmp_path / "dev.key"
    assert main(["dev-cert", "--cert", str(cert), "--key", str(key)]) == 0
    project = copy_project("todo", tmp_path)
    with (project / "syncline.toml").open("a", encoding="utf-8") as f:
        f.write("\n[mqtt]\ntcp_port = 0\n")
    settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY}, overrides={"tls_cert": cert, "tls_key": key})
    trust = ssl.create_default_context(cafile=str(cert))
    async with running(settings, port=0) as srv, aiohttp.ClientSession() as http:
        async with http.post(srv.url, json={"query": ON_CREATE}, headers={"x-api-key": API_KEY}, ssl=trust) as r:
            ext = (await r.json())["extensions"]["subscription"]
        assert ext["mqttConnections"][0]["url"] == f"wss://127.0.0.1:{srv.port}/mqtt"
        svc = srv.syncline.mqtt
        assert svc is not None and svc.tcp_port
        for port, transport in ((srv.port, "websockets"), (svc.tcp_port, "tcp")):
            sub = Paho(port, transport=transport)
            sub.client.tls_set(ca_certs=str(cert))
            assert await sub.connect() == 0
            try:
                assert await sub.subscribe("models/Todo/create") == [0]
                async with http.post(srv.url, json={"query": CREATE, "variables": {"input": {"title": transport}}}, headers={"x-api-key": API_KEY}, ssl=trust) as r:
                    assert "errors" not in await r.json()
                assert (await sub.next())[1]["title"] == transport
            finally:
                await sub.close()


async def test_shutdown_with_connected_subscribers_disconnects_them(tmp_path: Path) -> None:
    subs: list[Paho] = []
    async for s in serve_with(tmp_path, "tcp_port = 0"):
        svc = s.running.syncline.mqtt
        assert svc is not None and svc.tcp_port
        for port, transport in ((s.running.port, "websockets"), (svc.tcp_port, "tcp")):
            sub = Paho(port, transport=transport, clean_session=False, client_id=f"stay-{transport}")
            assert await sub.connect() == 0
            assert await sub.subscribe("models/Todo/create", qos=1) == [1]
            subs.append(sub)
    # the server is gone: every client saw its connection end, and nothing hung on the way out
    try:
        for sub in subs:
            assert await asyncio.to_thread(sub.disconnected.wait, 10)
    finally:
        for sub in subs:
            sub.client.reconnect_delay_set(60, 120)
            await sub.close()


async def test_a_tcp_port_in_use_is_a_clear_config_error(tmp_path: Path) -> None:
    from server.errors import ConfigError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"tcp_port {port}"):
            async for _ in serve_with(tmp_path, f"tcp_port = {port}"):
                pass


async def test_a_failed_start_closes_what_had_started(tmp_path: Path) -> None:
    """When a part fails to start, the store's threads and files are released, not leaked."""
    import threading

    from server.errors import ConfigError

    def writers() -> int:
        return sum(t.name.startswith("syncline-sqlite") for t in threading.enumerate())

    before = writers()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ConfigError):
            async for _ in serve_with(tmp_path, f"tcp_port = {taken.getsockname()[1]}"):
                pass
    for _ in range(50):
        if writers() == before:
            break
        await asyncio.sleep(0.05)
    assert writers() == before


async def test_writes_before_anyone_subscribes_are_skipped_then_delivered_once_someone_does(todo: Served) -> None:
    """The broker skips encoding writes nobody could receive; a new subscriber must not be
    missed because of that (its filter invalidates the cached answer)."""
    mqtt = todo.running.syncline.mqtt
    assert mqtt is not None and mqtt.broker is not None
    await todo.client.ok(CREATE, {"input": {"title": "nobody listens"}})
    assert mqtt.broker.may_match(("models", "Todo")) is False
    sub = Paho(todo.running.port)
    assert await sub.connect() == 0
    try:
        assert await sub.subscribe("models/Todo/create") == [0]
        assert mqtt.broker.may_match(("models", "Todo")) is True
        await todo.client.ok(CREATE, {"input": {"title": "heard"}})
        topic, item = await sub.next()
        assert (topic, item["title"]) == ("models/Todo/create", "heard")
    finally:
        await sub.close()
