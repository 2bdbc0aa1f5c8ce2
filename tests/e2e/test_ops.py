"""Health, readiness, metrics and rate limits on a real server."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from server.app import running
from server.settings import load_settings

from .conftest import API_KEY, Served, copy_project

CREATE = 'mutation Add { createTodo(input: {title: "x"}) { id _version } }'


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_health_and_readiness(todo: Served) -> None:
    base = todo.running.url.removesuffix("/graphql")
    s = todo.client.session
    async with s.get(base + "/healthz") as r:
        assert r.status == 200 and (await r.json())["status"] == "ok"
        assert r.headers["x-request-id"]
    async with s.get(base + "/readyz") as r:
        assert r.status == 200 and "store" in (await r.json())["checks"]
    await todo.running.syncline.store.close()  # the store goes away: not ready, but still answering
    async with s.get(base + "/readyz") as r:
        body = await r.json()
        assert r.status == 503 and "store" in body["failing"]
    async with s.get(base + "/healthz") as r:
        assert r.status == 200


async def test_metrics_after_real_traffic(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    (project / "syncline.toml").write_text('[models.Todo]\nconflict = "OPTIMISTIC_CONCURRENCY"\n')
    settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
    async with running(settings, port=0) as srv, aiohttp.ClientSession() as s:
        h = {"x-api-key": API_KEY}
        ext = {"mutationId": {"clientId": "c", "seq": 1}}
        for _ in range(2):  # the second is a replay
            async with s.post(srv.url, json={"query": CREATE, "extensions": ext}, headers=h) as r:
                item = (await r.json())["data"]["createTodo"]
        stale = f'mutation Stale {{ updateTodo(input: {{id: "{item["id"]}", title: "y", _version: 0}}) {{ id }} }}'
        async with s.post(srv.url, json={"query": stale}, headers=h) as r:
            assert (await r.json())["errors"][0]["errorType"] == "ConflictUnhandled"
        async with s.post(srv.url, json={"query": "{ nope }"}, headers=h) as r:
            pass
        async with s.get(srv.url.removesuffix("/graphql") + "/metrics") as r:
            assert r.status == 200
            m = samples(await r.text())
    assert m[("syncline_graphql_requests_total", (("operation", "Add"), ("outcome", "ok")))] == 2
    assert m[("syncline_graphql_requests_total", (("operation", "Stale"), ("outcome", "error")))] == 1
    assert m[("syncline_graphql_requests_total", (("operation", "anonymous"), ("outcome", "invalid")))] == 1
    assert m[("syncline_replayed_mutations_total", (("model", "Todo"),))] == 1
    key = ("syncline_conflicts_total", (("model", "Todo"), ("outcome", "REJECTED"), ("strategy", "OPTIMISTIC_CONCURRENCY")))
    assert m[key] == 1
    assert m[("syncline_graphql_request_seconds_count", (("operation", "Add"),))] == 2
    assert m[("syncline_store_bytes", ())] > 0


async def test_metrics_token(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    (project / "syncline.toml").write_text('[server]\nmetrics_token = "s3cret"\n')
    settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
    async with running(settings, port=0) as srv, aiohttp.ClientSession() as s:
        url = srv.url.removesuffix("/graphql") + "/metrics"
        async with s.get(url) as r:
            assert r.status == 401
        async with s.get(url, headers={"Authorization": "Bearer s3cret"}) as r:
            assert r.status == 200 and "syncline_graphql_requests" in await r.text()


async def test_a_flooding_key_is_throttled_while_another_is_served(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    toml = project / "syncline.toml"
    toml.write_text(
        toml.read_text()
        + "\n[limits]\nquery_rate = 1\nquery_burst = 5\n"
        + '[auth.api_key]\nkeys = ["da2-floodfloodfloodfloodfloodfl", "da2-calmcalmcalmcalmcalmcalmca"]\n'
    )
    settings = load_settings(project, env={})
    async with running(settings, port=0) as srv, aiohttp.ClientSession() as s:
        statuses = []
        for _ in range(20):
            async with s.post(srv.url, json={"query": "{ hello }"}, headers={"x-api-key": "da2-floodfloodfloodfloodfloodfl"}) as r:
                statuses.append(r.status)
                if r.status == 429:
                    body = await r.json()
                    assert body["errors"][0]["errorType"] == "ThrottlingException"
                    assert int(r.headers["Retry-After"]) >= 1
        assert statuses.count(200) <= 6 and statuses.count(429) >= 14
        async with s.post(srv.url, json={"query": "{ hello }"}, headers={"x-api-key": "da2-calmcalmcalmcalmcalmcalmca"}) as r:
            assert r.status == 200 and (await r.json())["data"]["hello"] == "Hello, world!"


async def test_websocket_connection_and_subscription_rates(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    toml = project / "syncline.toml"
    toml.write_text(
        toml.read_text()
        + "\n[limits]\nconnection_rate = 0.001\nconnection_burst = 2\nsubscription_rate = 0.001\nsubscription_burst = 1\n"
    )
    settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
    async with running(settings, port=0) as srv, aiohttp.ClientSession() as s:
        ws = await s.ws_connect(srv.url, protocols=["graphql-transport-ws"])
        await ws.send_json({"type": "connection_init", "payload": {"x-api-key": API_KEY}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        sub = {"type": "subscribe", "payload": {"query": "subscription { onCreateTodo { id } }"}}
        await ws.send_json({"id": "1", **sub})
        await ws.send_json({"id": "2", **sub})
        msg = await ws.receive_json()
        assert msg["type"] == "error" and msg["id"] == "2"
        assert msg["payload"][0]["errorType"] == "ThrottlingException"
        second = await s.ws_connect(srv.url, protocols=["graphql-transport-ws"])
        await second.close()
        try:
            await s.ws_connect(srv.url, protocols=["graphql-transport-ws"])
            raise AssertionError("a third connection from the same IP was accepted")
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 429
        await ws.close()


async def test_mutation_ids_over_the_socket(todo: Served) -> None:
    """graphql-transport-ws mutations carry `extensions.mutationId` like HTTP ones."""
    ws = await todo.client.session.ws_connect(todo.running.url, protocols=["graphql-transport-ws"])
    await ws.send_json({"type": "connection_init", "payload": {"x-api-key": API_KEY}})
    assert (await ws.receive_json())["type"] == "connection_ack"
    ids = []
    for n in ("1", "2"):
        await ws.send_json(
            {
                "id": n,
                "type": "subscribe",
                "payload": {
                    "query": 'mutation { createTodo(input: {title: "ws"}) { id _version } }',
                    "extensions": {"mutationId": {"clientId": "ws-client", "seq": 7}},
                },
            }
        )
        msg = await ws.receive_json()
        assert msg["type"] == "next", msg
        ids.append(msg["payload"]["data"]["createTodo"]["id"])
        assert (await ws.receive_json())["type"] == "complete"
    assert ids[0] == ids[1]
    items = (await todo.client.ok("{ listTodos { items { id } } }"))["listTodos"]["items"]
    assert [i["id"] for i in items] == ids[:1]
    await ws.close()
