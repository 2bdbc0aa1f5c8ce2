"""GraphQL over HTTP against a real server serving examples/todo (real SQLite file in tmp_path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from server.app import Syncline
from server.errors import SchemaMigrationError
from server.settings import load_settings

from .conftest import API_KEY, Served, copy_project, serve_project

CREATE = """mutation($input: CreateTodoInput!) {
  createTodo(input: $input) { id title done priority tags _version _deleted _lastChangedAt createdAt updatedAt }
}"""
UPDATE = """mutation($input: UpdateTodoInput!, $condition: ModelTodoConditionInput) {
  updateTodo(input: $input, condition: $condition) { id title done tags _version _lastChangedAt }
}"""
DELETE = """mutation($input: DeleteTodoInput!) { deleteTodo(input: $input) { id _version _deleted } }"""
GET = "query($id: ID!) { getTodo(id: $id) { id title done _version } }"
LIST = """query($filter: ModelTodoFilterInput, $limit: Int, $nextToken: String) {
  listTodos(filter: $filter, limit: $limit, nextToken: $nextToken) { items { id title done priority } nextToken }
}"""
SYNC = """query($lastSync: AWSTimestamp, $limit: Int, $nextToken: String) {
  syncTodos(lastSync: $lastSync, limit: $limit, nextToken: $nextToken) {
    items { id title _version _deleted _lastChangedAt } nextToken startedAt
  }
}"""


async def create(todo: Served, **fields: Any) -> dict[str, Any]:
    data = await todo.client.ok(CREATE, {"input": fields})
    item: dict[str, Any] = data["createTodo"]
    return item


async def test_crud_round_trip(todo: Served) -> None:
    item = await create(todo, title="milk", tags=["shop"], priority="HIGH")
    assert item["title"] == "milk" and item["_version"] == 1 and not item["_deleted"]
    assert item["tags"] == ["shop"] and item["priority"] == "HIGH"
    assert item["_lastChangedAt"] > 1_600_000_000_000  # epoch milliseconds, beyond 32-bit Int

    got = await todo.client.ok(GET, {"id": item["id"]})
    assert got["getTodo"]["title"] == "milk"

    upd = await todo.client.ok(UPDATE, {"input": {"id": item["id"], "done": True, "_version": 1}})
    assert upd["updateTodo"]["done"] is True and upd["updateTodo"]["_version"] == 2
    assert upd["updateTodo"]["_lastChangedAt"] > item["_lastChangedAt"]

    dele = await todo.client.ok(DELETE, {"input": {"id": item["id"], "_version": 2}})
    assert dele["deleteTodo"]["_deleted"] is True and dele["deleteTodo"]["_version"] == 3
    assert (await todo.client.ok(GET, {"id": item["id"]}))["getTodo"] is None
    listed = await todo.client.ok(LIST)
    assert listed["listTodos"]["items"] == []


async def test_client_generated_id_is_kept(todo: Served) -> None:
    item = await create(todo, id="3f0c3cf2-5a8e-4c55-9a2b-0c6b8f1e2d11", title="offline")
    assert item["id"] == "3f0c3cf2-5a8e-4c55-9a2b-0c6b8f1e2d11"


async def test_filters_and_pagination(todo: Served) -> None:
    for i in range(7):
        await create(todo, title=f"task {i}", done=i % 2 == 0, priority="HIGH" if i < 3 else "LOW")
    r = await todo.client.ok(LIST, {"filter": {"done": {"eq": True}, "priority": {"eq": "HIGH"}}})
    assert sorted(t["title"] for t in r["listTodos"]["items"]) == ["task 0", "task 2"]
    r = await todo.client.ok(LIST, {"filter": {"or": [{"title": {"eq": "task 1"}}, {"title": {"beginsWith": "task 6"}}]}})
    assert sorted(t["title"] for t in r["listTodos"]["items"]) == ["task 1", "task 6"]
    r = await todo.client.ok(LIST, {"filter": {"not": {"title": {"contains": "task"}}}})
    assert r["listTodos"]["items"] == []

    seen: list[str] = []
    token = None
    while True:
        page = (await todo.client.ok(LIST, {"limit": 3, "nextToken": token}))["listTodos"]
        assert len(page["items"]) <= 3
        seen += [t["id"] for t in page["items"]]
        token = page["nextToken"]
        if token is None:
            break
    assert len(seen) == 7 and len(set(seen)) == 7


async def test_forged_next_token_is_refused(todo: Served) -> None:
    await create(todo, title="a")
    await create(todo, title="b")
    page = (await todo.client.ok(LIST, {"limit": 1}))["listTodos"]
    token = page["nextToken"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    body = await todo.client.gql(LIST, {"limit": 1, "nextToken": forged})
    assert body["errors"][0]["errorType"] == "BadRequest"
    assert "nextToken" in body["errors"][0]["message"]
    assert (await todo.client.ok(LIST))["listTodos"]["items"]  # still serving


async def test_limit_over_the_maximum_is_a_clear_error(todo: Served) -> None:
    body = await todo.client.gql(LIST, {"limit": 5000})
    err = body["errors"][0]
    assert "1000" in err["message"]


async def test_delta_sync_with_tombstones(todo: Served) -> None:
    a = await create(todo, title="a")
    b = await create(todo, title="b")
    base = (await todo.client.ok(SYNC, {"lastSync": 0}))["syncTodos"]
    assert {i["id"] for i in base["items"]} == {a["id"], b["id"]}
    cursor = base["startedAt"]
    assert cursor >= b["_lastChangedAt"]

    await todo.client.ok(DELETE, {"input": {"id": a["id"], "_version": 1}})
    c = await create(todo, title="c")
    delta = (await todo.client.ok(SYNC, {"lastSync": cursor}))["syncTodos"]
    by_id = {i["id"]: i for i in delta["items"]}
    assert set(by_id) == {a["id"], c["id"]}
    assert by_id[a["id"]]["_deleted"] is True
    again = (await todo.client.ok(SYNC, {"lastSync": delta["startedAt"]}))["syncTodos"]
    assert again["items"] == []


async def test_conflict_error_carries_the_server_item(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    toml = (project / "syncline.toml").read_text().replace('conflict = "AUTOMERGE"', 'conflict = "OPTIMISTIC_CONCURRENCY"')
    (project / "syncline.toml").write_text(toml)
    async for s in serve_project(project):
        item = await create(s, title="v1")
        await s.client.ok(UPDATE, {"input": {"id": item["id"], "title": "v2", "_version": 1}})
        body = await s.client.gql(UPDATE, {"input": {"id": item["id"], "title": "stale", "_version": 1}})
        err = body["errors"][0]
        assert err["errorType"] == "ConflictUnhandled"
        assert err["data"]["title"] == "v2" and err["data"]["_version"] == 2
        assert body["data"]["updateTodo"] is None


async def test_automerge_keeps_server_scalars_and_merges_lists(todo: Served) -> None:
    item = await create(todo, title="v1", tags=["a"])
    await todo.client.ok(UPDATE, {"input": {"id": item["id"], "title": "server", "_version": 1}})
    merged = (await todo.client.ok(UPDATE, {"input": {"id": item["id"], "title": "client", "tags": ["b"], "_version": 1}}))[
        "updateTodo"
    ]
    assert merged["title"] == "server"
    assert set(merged["tags"]) == {"a", "b"}
    assert merged["_version"] == 3


async def test_condition_failure(todo: Served) -> None:
    item = await create(todo, title="x", done=False)
    body = await todo.client.gql(
        UPDATE, {"input": {"id": item["id"], "title": "y", "_version": 1}, "condition": {"done": {"eq": True}}}
    )
    assert "ConditionalCheckFailed" in body["errors"][0]["errorType"]
    assert (await todo.client.ok(GET, {"id": item["id"]}))["getTodo"]["title"] == "x"


async def test_mutation_id_replay_applies_once(todo: Served) -> None:
    ext = {"mutationId": {"clientId": "phone-1", "seq": 41}}
    first = await todo.client.ok(CREATE, {"input": {"title": "once"}}, extensions=ext)
    replay = await todo.client.ok(CREATE, {"input": {"title": "once"}}, extensions=ext)
    assert replay["createTodo"]["id"] == first["createTodo"]["id"]
    items = (await todo.client.ok(LIST))["listTodos"]["items"]
    assert [i["title"] for i in items] == ["once"]

    # A rejected mutation consumes its id too: the replay gets the same error, nothing applied.
    bad_ext = {"mutationId": {"clientId": "phone-1", "seq": 42}}
    missing = {"input": {"id": "nope", "title": "z", "_version": 1}}
    e1 = await todo.client.gql(UPDATE, missing, extensions=bad_ext)
    e2 = await todo.client.gql(UPDATE, missing, extensions=bad_ext)
    assert e1["errors"][0]["errorType"] == e2["errors"][0]["errorType"]


@pytest.mark.parametrize(
    "extensions, match",
    [
        ({"mutationId": "x"}, "mutationId"),
        ({"mutationId": {"clientId": "", "seq": 1}}, "clientId"),
        ({"mutationId": {"clientId": "a", "seq": -1}}, "seq"),
    ],
)
async def test_bad_mutation_ids(todo: Served, extensions: dict[str, Any], match: str) -> None:
    status, body = await todo.client.raw({"query": CREATE, "variables": {"input": {"title": "t"}}, "extensions": extensions})
    assert match in body["errors"][0]["message"]
    assert (await todo.client.ok(LIST))["listTodos"]["items"] == []


async def test_custom_python_resolver(todo: Served) -> None:
    assert (await todo.client.ok('{ hello(name: "Ada") }'))["hello"] == "Hello, Ada!"


async def test_metadata_fields_cannot_be_written(todo: Served) -> None:
    body = await todo.client.gql(CREATE, {"input": {"title": "t", "_lastChangedAt": 5}})
    assert body["errors"]
    assert (await todo.client.ok(LIST))["listTodos"]["items"] == []


async def test_scalar_formats_are_validated(todo: Served) -> None:
    body = await todo.client.gql(CREATE, {"input": {"title": "t", "due": "25/12/2026"}})
    assert body["errors"] and "due" in json.dumps(body["errors"])
    ok = await create(todo, title="t", due="2026-12-25")
    assert ok["id"]


# -- GraphQL over HTTP: status codes, media types, limits -------------------------------------


async def post(todo: Served, data: bytes | str, headers: dict[str, str]) -> tuple[int, str, Any]:
    h = {"x-api-key": API_KEY, **headers}
    async with todo.client.session.post(todo.running.url, data=data, headers=h) as r:
        text = await r.text()
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            body = text
        return r.status, r.headers.get("Content-Type", ""), body


async def test_malformed_json_is_400_and_server_keeps_serving(todo: Served) -> None:
    status, _, body = await post(todo, b"{not json", {"Content-Type": "application/json"})
    assert status == 400 and "not valid JSON" in body["errors"][0]["message"]
    assert (await todo.client.ok("{ hello }"))["hello"] == "Hello, world!"


async def test_validation_error_status_depends_on_accept(todo: Served) -> None:
    q = json.dumps({"query": "{ nope }"})
    status, ctype, body = await post(todo, q, {"Content-Type": "application/json", "Accept": "application/graphql-response+json"})
    assert status == 400 and ctype.startswith("application/graphql-response+json")
    assert "nope" in body["errors"][0]["message"]
    status, ctype, body = await post(todo, q, {"Content-Type": "application/json", "Accept": "application/json"})
    assert status == 200 and ctype.startswith("application/json") and body["errors"]


async def test_get_queries_and_no_get_mutations(todo: Served) -> None:
    h = {"x-api-key": API_KEY}
    async with todo.client.session.get(todo.running.url, params={"query": "{ hello }"}, headers=h) as r:
        assert r.status == 200 and (await r.json())["data"]["hello"] == "Hello, world!"
    m = 'mutation { createTodo(input: {title: "x"}) { id } }'
    async with todo.client.session.get(todo.running.url, params={"query": m}, headers=h) as r:
        assert r.status == 405 and r.headers["Allow"] == "POST"
    assert (await todo.client.ok(LIST))["listTodos"]["items"] == []


async def test_browser_get_serves_the_explorer(todo: Served) -> None:
    async with todo.client.session.get(todo.running.url, headers={"Accept": "text/html"}) as r:
        assert r.status == 200 and "Syncline GraphQL explorer" in await r.text()


async def test_auth_is_required(todo: Served) -> None:
    for headers in ({}, {"x-api-key": "da2-wrong"}):
        async with todo.client.session.post(todo.running.url, json={"query": "{ hello }"}, headers=headers) as r:
            assert r.status == 401
            assert (await r.json())["errors"][0]["errorType"] == "UnauthorizedException"


async def test_oversized_body_is_refused(todo: Served) -> None:
    big = json.dumps({"query": "{ hello }", "variables": {"pad": "x" * 2_000_000}})
    status, _, body = await post(todo, big, {"Content-Type": "application/json"})
    assert status == 413 and "limit" in body["errors"][0]["message"]


async def test_depth_and_cost_limits(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    async for s in serve_project(project, max_query_depth=2, max_query_cost=50):
        body = await s.client.gql("{ listTodos { items { id } } }")
        assert "depth" in body["errors"][0]["message"]
    async for s in serve_project(project, max_query_cost=50):
        body = await s.client.gql("{ listTodos(limit: 500) { items { id title } } }")
        assert "cost" in body["errors"][0]["message"]
        assert (await s.client.ok("{ listTodos(limit: 5) { items { id title } } }"))["listTodos"]["items"] == []


async def test_introspection_can_be_switched_off(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    async for s in serve_project(project, introspection=False):
        body = await s.client.gql("{ __schema { types { name } } }")
        assert "introspection" in body["errors"][0]["message"].lower()
        assert (await s.client.ok("{ hello }"))["hello"]


async def test_subscriptions_over_http_answer_with_an_mqtt_handshake(todo: Served) -> None:
    """AppSync's MQTT mode (docs/protocol.md "MQTT"); with [mqtt] off, see tests/e2e/test_mqtt.py."""
    body = await todo.client.gql("subscription { onCreateTodo { id } }")
    assert "errors" not in body, body
    assert body["extensions"]["subscription"]["newSubscriptions"]["onCreateTodo"]["topic"]


# -- schema migration across restarts ----------------------------------------------------------


async def test_additive_migration_keeps_data_and_destructive_change_is_refused(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    async for s in serve_project(project):
        await create(s, title="kept")
    schema = project / "schema.graphql"
    schema.write_text(schema.read_text().replace("done: Boolean", "done: Boolean\n  note: String"))
    async for s in serve_project(project):
        items = (await s.client.ok("{ listTodos { items { title note } } }"))["listTodos"]["items"]
        assert items == [{"title": "kept", "note": None}]
    schema.write_text(schema.read_text().replace("  note: String\n", "").replace("title: String!", "title: Int!"))
    settings = load_settings(project, env={"SYNCLINE_API_KEY": API_KEY})
    with pytest.raises(SchemaMigrationError) as info:
        await Syncline.create(settings)
    assert "Todo" in info.value.message and "title" in info.value.message
    # nothing was changed: the old schema still serves the old data
    schema.write_text(schema.read_text().replace("title: Int!", "title: String!"))
    async for s in serve_project(project):
        items = (await s.client.ok("{ listTodos { items { title } } }"))["listTodos"]["items"]
        assert items == [{"title": "kept"}]


async def test_unknown_model_in_config_is_refused(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    (project / "syncline.toml").write_text('[models.Tdoo]\nconflict = "AUTOMERGE"\n')
    from server.errors import ConfigError

    with pytest.raises(ConfigError, match="Tdoo"):
        await Syncline.create(load_settings(project, env={"SYNCLINE_API_KEY": API_KEY}))


async def test_variables_that_do_not_coerce_are_a_request_error(todo: Served) -> None:
    q = json.dumps({"query": LIST, "variables": {"limit": "ten"}})
    status, _, body = await post(todo, q, {"Content-Type": "application/json", "Accept": "application/graphql-response+json"})
    assert status == 400 and "limit" in body["errors"][0]["message"]


async def test_custom_conflict_handler_from_resolvers_py(tmp_path: Path) -> None:
    project = copy_project("todo", tmp_path)
    (project / "resolvers.py").write_text(
        (project / "resolvers.py").read_text()
        + '''

from server.sync.conflict import REJECT, REMOVE, Resolve


def resolve_todo(existing, new, arguments, identity):
    title = new.get("title")
    if title == "reject me":
        return REJECT
    if title == "remove me":
        return REMOVE
    return Resolve({**new, "title": existing["title"] + " + " + title})
'''
    )
    toml = project / "syncline.toml"
    toml.write_text(toml.read_text().replace('conflict = "AUTOMERGE"', 'conflict = "CUSTOM"\nhandler = "resolvers:resolve_todo"'))
    async for s in serve_project(project):
        item = await create(s, title="a")
        await s.client.ok(UPDATE, {"input": {"id": item["id"], "title": "b", "_version": 1}})
        merged = await s.client.ok(UPDATE, {"input": {"id": item["id"], "title": "c", "_version": 1}})
        assert merged["updateTodo"]["title"] == "b + c" and merged["updateTodo"]["_version"] == 3
        body = await s.client.gql(UPDATE, {"input": {"id": item["id"], "title": "reject me", "_version": 1}})
        assert body["errors"][0]["errorType"] == "ConflictUnhandled" and body["errors"][0]["data"]["title"] == "b + c"
        await s.client.ok(UPDATE, {"input": {"id": item["id"], "title": "remove me", "_version": 1}})
        assert (await s.client.ok(GET, {"id": item["id"]}))["getTodo"] is None
        conflicts, _ = await s.running.syncline.store.conflicts(model="Todo")
        assert [c.outcome for c in conflicts][:3] == ["REMOVED", "REJECTED", "RESOLVED"]
    # the conflict log is listed by the CLI too (newest first)
    import asyncio
    import sys

    from .conftest import ROOT

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "conflicts", "--project", str(project), "--model", "Todo",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert [r["outcome"] for r in rows] == ["REMOVED", "REJECTED", "RESOLVED"]
    assert rows[2]["strategy"] == "CUSTOM" and rows[2]["result"]["title"] == "b + c"


async def test_a_base_sync_is_named_in_extensions(todo: Served) -> None:
    a = await create(todo, title="a")
    await create(todo, title="b")
    body = await todo.client.gql(SYNC, {"lastSync": 0, "limit": 1})
    assert body["extensions"] == {"baseSync": ["syncTodos"]}
    # every page of a base sync says so
    body = await todo.client.gql(SYNC, {"lastSync": 0, "limit": 1, "nextToken": body["data"]["syncTodos"]["nextToken"]})
    assert body["extensions"] == {"baseSync": ["syncTodos"]}
    cursor = body["data"]["syncTodos"]["startedAt"]
    delta = await todo.client.gql(SYNC, {"lastSync": cursor})
    assert "extensions" not in delta
    # a cursor older than delta_ttl (24 h) gets a base sync, even though it is not 0
    expired = await todo.client.gql(SYNC, {"lastSync": a["_lastChangedAt"] - 2 * 86_400_000})
    assert expired["extensions"] == {"baseSync": ["syncTodos"]}
    assert len(expired["data"]["syncTodos"]["items"]) == 2
