"""MQTT end to end: real paho-mqtt clients against the real server's embedded broker.

Clients connect over WebSocket at /mqtt (and TCP when enabled), receive the events of HTTP
mutations on handshake topics (a subscription POSTed to /graphql) and on model topics, and are
refused what the ACL forbids.
"""

from __future__ import annotations

import asyncio
import json
import queue
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
