"""The MQTT series on /metrics: a real server, real paho-mqtt clients, then a scrape.

Every figure is read from the Prometheus text the server serves, the way an operator's scraper
sees it; values that settle asynchronously (a disconnect, a queued publish) are polled for.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import AsyncIterator, Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Served, copy_project, serve_project
from tests.e2e.test_mqtt import CREATE, Paho

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(served: Served) -> Samples:
    async with served.client.session.get(served.running.url.replace("/graphql", "/metrics")) as resp:
        assert resp.status == 200
        text = await resp.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def until(served: Served, check: Callable[[Samples], bool], timeout: float = 10.0) -> Samples:
    """Scrape until `check` holds (the broker updates some figures after the client hears back)."""
    samples = await scrape(served)
    async with asyncio.timeout(timeout):
        while not check(samples):
            await asyncio.sleep(0.05)
            samples = await scrape(served)
    return samples


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    project = copy_project("todo", tmp_path)
    with (project / "syncline.toml").open("a", encoding="utf-8") as f:
        f.write("\n[mqtt]\ntcp_port = 0\nmax_offline_messages = 2\n")
    async for s in serve_project(project):
        yield s


async def test_connections_subscriptions_publishes_and_refusals_are_scraped(served: Served) -> None:
    svc = served.running.syncline.mqtt
    assert svc is not None and svc.tcp_port
    before = await scrape(served)
    assert value(before, "syncline_mqtt_connections", transport="websocket") == 0
    assert value(before, "syncline_mqtt_connections", transport="tcp") == 0
    assert value(before, "syncline_mqtt_subscriptions") == 0

    ws = Paho(served.running.port)
    tcp = Paho(svc.tcp_port, transport="tcp")
    assert await ws.connect() == 0
    assert await tcp.connect() == 0
    try:
        assert await ws.subscribe("models/Todo/create") == [0]
        assert await tcp.subscribe("models/Todo/+", qos=1) == [1]
        assert await ws.subscribe("models/#") == [0x80]  # covers every model: refused
        ws.client.publish("models/Todo/create", json.dumps({"id": "forged"}))  # clients never publish
        await served.client.ok(CREATE, {"input": {"title": "counted"}})
        assert (await ws.next())[1]["title"] == "counted"
        assert (await tcp.next())[1]["title"] == "counted"
        live = await until(served, lambda s: value(s, "syncline_mqtt_acl_refusals_total", action="publish") >= 1)
        assert value(live, "syncline_mqtt_connections", transport="websocket") == 1
        assert value(live, "syncline_mqtt_connections", transport="tcp") == 1
        assert value(live, "syncline_mqtt_subscriptions") == 2
        assert value(live, "syncline_mqtt_acl_refusals_total", action="subscribe") == 1
        assert value(live, "syncline_mqtt_messages_published_total") >= 2  # one per subscriber
    finally:
        await ws.close()
        await tcp.close()
    after = await until(
        served,
        lambda s: value(s, "syncline_mqtt_connections", transport="websocket") == 0
        and value(s, "syncline_mqtt_connections", transport="tcp") == 0,
    )
    assert value(after, "syncline_mqtt_subscriptions") == 0  # clean sessions drop their filters


async def test_connect_refusals_are_counted_by_reason(served: Served) -> None:
    svc = served.running.syncline.mqtt
    assert svc is not None and svc.tcp_port
    wrong = Paho(served.running.port, password="da2-wrongwrongwrongwrongwrongwr")
    try:
        assert await wrong.connect() != 0
    finally:
        await wrong.close()
    # Not MQTT 3.1.1: a CONNECT with protocol level 5 over plain TCP.
    reader, writer = await asyncio.open_connection("127.0.0.1", svc.tcp_port)
    body = (4).to_bytes(2, "big") + b"MQTT" + bytes([5, 0x02]) + (60).to_bytes(2, "big") + (0).to_bytes(2, "big")
    writer.write(bytes([0x10, len(body)]) + body)
    await reader.read()  # the server closes the connection
    writer.close()
    samples = await until(
        served, lambda s: value(s, "syncline_mqtt_connect_refusals_total", reason="malformed") >= 1
    )
    assert value(samples, "syncline_mqtt_connect_refusals_total", reason="unauthorized") == 1
    assert value(samples, "syncline_mqtt_connect_refusals_total", reason="malformed") == 1
    assert value(samples, "syncline_mqtt_connections", transport="websocket") == 0


async def test_a_full_offline_queue_counts_dropped_messages(served: Served) -> None:
    client_id = f"away-{uuid.uuid4().hex[:8]}"
    first = Paho(served.running.port, client_id=client_id, clean_session=False)
    assert await first.connect() == 0
    assert await first.subscribe("models/Todo/create", qos=1) == [1]
    await first.close()
    await until(served, lambda s: value(s, "syncline_mqtt_connections", transport="websocket") == 0)
    for i in range(5):  # max_offline_messages = 2: three are dropped
        await served.client.ok(CREATE, {"input": {"title": f"while away {i}"}})
    samples = await until(
        served, lambda s: value(s, "syncline_mqtt_messages_dropped_total", reason="offline_queue_full") >= 3
    )
    assert value(samples, "syncline_mqtt_messages_dropped_total", reason="offline_queue_full") == 3
    assert value(samples, "syncline_mqtt_messages_published_total") == 2  # the two it keeps
    assert value(samples, "syncline_mqtt_subscriptions") == 1  # a persistent session keeps its filter
    again = Paho(served.running.port, client_id=client_id, clean_session=False)
    assert await again.connect() == 0
    try:
        got = sorted([(await again.next())[1]["title"] for _ in range(2)])
        assert got == ["while away 0", "while away 1"]
    finally:
        await again.close()
