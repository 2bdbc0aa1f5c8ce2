"""Generated model operations executed against a real SQLiteStore file: CRUD, filters,
pagination, delta sync, conflicts and errors in the shape Amplify DataStore reads."""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLError

from server.errors import ConflictUnhandled
from server.schema import format_error

from .conftest import Run

FIELDS = "id title done priority tags due meta address { street city } createdAt updatedAt _version _deleted _lastChangedAt"

CREATE = f"mutation($input: CreateTodoInput!, $condition: ModelTodoConditionInput) {{ createTodo(input: $input, condition: $condition) {{ {FIELDS} }} }}"
UPDATE = f"mutation($input: UpdateTodoInput!, $condition: ModelTodoConditionInput) {{ updateTodo(input: $input, condition: $condition) {{ {FIELDS} }} }}"
DELETE = f"mutation($input: DeleteTodoInput!) {{ deleteTodo(input: $input) {{ {FIELDS} }} }}"
GET = f"query($id: ID!) {{ getTodo(id: $id) {{ {FIELDS} }} }}"
LIST = "query($filter: ModelTodoFilterInput, $limit: Int, $nextToken: String) { listTodos(filter: $filter, limit: $limit, nextToken: $nextToken) { items { id title } nextToken startedAt } }"
SYNC = "query($lastSync: AWSTimestamp, $limit: Int, $nextToken: String, $filter: ModelTodoFilterInput) { syncTodos(lastSync: $lastSync, limit: $limit, nextToken: $nextToken, filter: $filter) { items { id title _version _deleted _lastChangedAt } nextToken startedAt } }"


async def _create(run: Run, **input: Any) -> dict[str, Any]:
    r = await run(CREATE, {"input": input})
    assert "errors" not in r, r
    return r["data"]["createTodo"]  # type: ignore[no-any-return]


async def test_crud_round_trip(todo: Any) -> None:
    _, _, run = todo
    created = await _create(
        run,
        id="client-made-uuid",
        title="milk",
        priority="HIGH",
        tags=["a", "b"],
        due="2024-05-31T12:00:00Z",
        meta=json.dumps({"n": [1, 2], "x": None}),
        address={"street": "Main 1"},
    )
    assert created["id"] == "client-made-uuid"  # DataStore makes ids offline
    assert created["_version"] == 1 and created["_deleted"] in (None, False)
    assert created["priority"] == "HIGH" and created["tags"] == ["a", "b"]
    assert json.loads(created["meta"]) == {"n": [1, 2], "x": None}  # AWSJSON out is a string again
    assert created["address"] == {"street": "Main 1", "city": None}
    assert created["_lastChangedAt"] > 10**12  # epoch milliseconds (13 digits), beyond Int

    got = (await run(GET, {"id": "client-made-uuid"}))["data"]["getTodo"]
    assert got == created

    updated = (await run(UPDATE, {"input": {"id": "client-made-uuid", "done": True, "_version": 1}}))["data"]["updateTodo"]
    assert updated["done"] is True and updated["title"] == "milk" and updated["_version"] == 2
    assert updated["_lastChangedAt"] > created["_lastChangedAt"]

    deleted = (await run(DELETE, {"input": {"id": "client-made-uuid", "_version": 2}}))["data"]["deleteTodo"]
    assert deleted["_deleted"] is True and deleted["_version"] == 3
    assert (await run(GET, {"id": "client-made-uuid"}))["data"]["getTodo"] is None
    listed = (await run(LIST))["data"]["listTodos"]
    assert listed["items"] == []


async def test_awsjson_values_round_trip_exactly_through_the_store(todo: Any) -> None:
    _, _, run = todo
    for i, text in enumerate(['"123"', '"plain"', "123", "[1, {\"a\": null}]", '{"k": "v"}', "true"]):
        created = await _create(run, id=f"j{i}", title="t", meta=text)
        assert json.loads(created["meta"]) == json.loads(text), text
        got = (await run(GET, {"id": f"j{i}"}))["data"]["getTodo"]
        assert json.loads(got["meta"]) == json.loads(text), text


async def test_list_filters_with_appsync_operators(todo: Any) -> None:
    _, _, run = todo
    for i, (title, done, prio) in enumerate(
        [("buy milk", True, "LOW"), ("buy eggs", False, "HIGH"), ("call mom", False, "HIGH"), ("read", None, None)]
    ):
        await _create(run, id=f"t{i}", title=title, done=done, priority=prio)

    async def titles(filter: dict[str, Any]) -> list[str]:
        r = await run(LIST, {"filter": filter})
        assert "errors" not in r, r
        return sorted(i["title"] for i in r["data"]["listTodos"]["items"])

    assert await titles({"title": {"beginsWith": "buy"}}) == ["buy eggs", "buy milk"]
    assert await titles({"title": {"contains": "m"}, "done": {"eq": False}}) == ["call mom"]
    assert await titles({"or": [{"priority": {"eq": "LOW"}}, {"title": {"eq": "read"}}]}) == ["buy milk", "read"]
    assert await titles({"not": {"priority": {"eq": "HIGH"}}}) == ["buy milk", "read"]
    assert await titles({"done": {"attributeExists": True}, "title": {"between": ["b", "c"]}}) == ["buy eggs", "buy milk"]
    # Amplify's attributeType enum names (string, bool, ...) reach the store as DynamoDB types
    assert await titles({"title": {"attributeType": "string"}, "done": {"attributeType": "bool"}}) == [
        "buy eggs", "buy milk", "call mom"
    ]
    assert await titles({"title": {"size": {"gt": 6}}}) == ["buy eggs", "buy milk", "call mom"]
    assert await titles({"id": {"eq": "t3"}, "_version": {"eq": 1}}) == ["read"]


async def test_pagination_limit_default_cap_and_next_token(todo: Any) -> None:
    _, _, run = todo
    for i in range(5):
        await _create(run, id=f"p{i}", title=f"item {i}")
    seen: list[str] = []
    token = None
    while True:
        r = (await run(LIST, {"limit": 2, "nextToken": token}))["data"]["listTodos"]
        assert len(r["items"]) <= 2
        seen += [i["id"] for i in r["items"]]
        token = r["nextToken"]
        if token is None:
            break
    assert sorted(seen) == [f"p{i}" for i in range(5)] and len(seen) == 5

    too_many = await run(LIST, {"limit": 1001})
    (err,) = too_many["errors"]
    assert err["errorType"] == "LimitExceeded" and "1000" in err["message"] and err["path"] == ["listTodos"]
    forged = await run(LIST, {"nextToken": "not-a-token"})
    assert forged["errors"][0]["errorType"] == "BadRequest"


async def test_delta_sync_with_tombstones_and_64_bit_cursor(todo: Any) -> None:
    _, _, run = todo
    await _create(run, id="a", title="a")
    await _create(run, id="b", title="b")
    first = (await run(SYNC, {"lastSync": 0}))["data"]["syncTodos"]  # DataStore's first sync sends 0
    assert sorted(i["id"] for i in first["items"]) == ["a", "b"]
    started = first["startedAt"]
    assert isinstance(started, int) and started > 10**12

    await run(DELETE, {"input": {"id": "a", "_version": 1}})
    await _create(run, id="c", title="c")
    delta = (await run(SYNC, {"lastSync": started}))["data"]["syncTodos"]
    by_id = {i["id"]: i for i in delta["items"]}
    assert set(by_id) == {"a", "c"} and by_id["a"]["_deleted"] is True
    assert delta["startedAt"] >= started


async def test_conflict_error_carries_server_item(todo: Any) -> None:
    _, _, run = todo
    note = (await run("mutation { createNote(input: {id: \"n1\", body: \"v1\"}) { id _version } }"))["data"]["createNote"]
    assert note == {"id": "n1", "_version": 1}
    ok = await run("mutation { updateNote(input: {id: \"n1\", body: \"v2\", _version: 1}) { _version } }")
    assert ok["data"]["updateNote"] == {"_version": 2}
    stale = await run("mutation { updateNote(input: {id: \"n1\", body: \"mine\", _version: 1}) { id body _version } }")
    (err,) = stale["errors"]
    assert stale["data"] == {"updateNote": None}
    assert err["errorType"] == "ConflictUnhandled" and err["extensions"]["errorType"] == "ConflictUnhandled"
    assert err["data"]["id"] == "n1" and err["data"]["body"] == "v2" and err["data"]["_version"] == 2
    assert err["path"] == ["updateNote"] and err["locations"]


async def test_conflict_data_presents_awsjson_fields_as_json_text(tmp_path: Any) -> None:
    from server.schema import build_schema

    from .conftest import open_store, runner

    bundle = build_schema("type Doc @model { meta: AWSJSON }", model_settings={"Doc": {"conflict": "OPTIMISTIC_CONCURRENCY"}})
    store = await open_store(tmp_path / "d.db", bundle)
    try:
        run = runner(bundle, store)
        doc = "mutation($i: UpdateDocInput!) { updateDoc(input: $i) { _version } }"
        await run('mutation { createDoc(input: {id: "d", meta: "{\\"a\\": 1}"}) { id } }')
        await run(doc, {"i": {"id": "d", "meta": '{"a": 2}', "_version": 1}})
        stale = await run(doc, {"i": {"id": "d", "meta": '{"a": 3}', "_version": 1}})
        err = stale["errors"][0]
        assert err["errorType"] == "ConflictUnhandled"
        assert isinstance(err["data"]["meta"], str) and json.loads(err["data"]["meta"]) == {"a": 2}
    finally:
        await store.close()


async def test_default_directive_fills_omitted_and_null_fields(tmp_path: Any) -> None:
    from server.schema import build_schema

    from .conftest import open_store, runner

    sdl = """
    enum State { OPEN CLOSED }
    type Task @model {
      title: String! @default(value: "untitled")
      state: State! @default(value: "OPEN")
      points: Int @default(value: "3")
      urgent: Boolean @default(value: "false")
      meta: AWSJSON @default(value: "{\\"v\\": 1}")
      note: String
    }
    """
    bundle = build_schema(sdl)
    create = bundle.schema.get_type("CreateTaskInput")
    assert str(create.fields["title"].type) == "String" and str(create.fields["state"].type) == "State"  # type: ignore[union-attr]
    store = await open_store(tmp_path / "d.db", bundle)
    try:
        run = runner(bundle, store)
        r = await run('mutation { createTask(input: {points: null, note: "n"}) { title state points urgent meta note } }')
        assert r["data"]["createTask"] == {
            "title": "untitled", "state": "OPEN", "points": 3, "urgent": False, "meta": '{"v":1}', "note": "n"
        }
        r = await run('mutation { createTask(input: {title: "mine", state: CLOSED}) { title state } }')
        assert r["data"]["createTask"] == {"title": "mine", "state": "CLOSED"}
    finally:
        await store.close()


async def test_mutation_id_makes_a_replay_apply_nothing(todo: Any) -> None:
    _, _, run = todo
    doc = 'mutation { first: createTodo(input: {title: "once"}) { id _version } }'
    one = await run(doc, client_id="device-1", seq=7)
    two = await run(doc, client_id="device-1", seq=7)
    assert one["data"]["first"] == two["data"]["first"]
    items = (await run(LIST))["data"]["listTodos"]["items"]
    assert [i["title"] for i in items] == ["once"]


async def test_bad_input_is_a_validation_error_with_a_clear_message(todo: Any) -> None:
    _, _, run = todo
    bad_date = await run(CREATE, {"input": {"title": "x", "due": "2024-05-31T12:00:00"}})
    (err,) = bad_date["errors"]
    assert err["errorType"] == "ValidationError" and "AWSDateTime" in err["message"] and "offset" in err["message"]
    unknown = await run(CREATE, {"input": {"title": "x", "colour": "red"}})
    assert unknown["errors"][0]["errorType"] == "ValidationError" and "colour" in unknown["errors"][0]["message"]
    meta = await run(CREATE, {"input": {"title": "x", "_lastChangedAt": 5}})
    assert meta["errors"][0]["errorType"] == "ValidationError" and "_lastChangedAt" in meta["errors"][0]["message"]
    wrong = await run(CREATE, {"input": {"title": 5}})
    assert wrong["errors"][0]["errorType"] == "ValidationError"
    bad_json = await run(CREATE, {"input": {"title": "x", "meta": "{a: 1}"}})
    assert bad_json["errors"][0]["errorType"] == "ValidationError" and "AWSJSON" in bad_json["errors"][0]["message"]
    no_title = await run('mutation { createTodo(input: {done: true}) { id } }')
    assert no_title["errors"][0]["errorType"] == "ValidationError" and "title" in no_title["errors"][0]["message"]
    assert (await run(LIST))["data"]["listTodos"]["items"] == []  # nothing half-written


async def test_condition_failure_and_missing_item(todo: Any) -> None:
    _, _, run = todo
    await _create(run, id="c1", title="x", done=False)
    r = await run(UPDATE, {"input": {"id": "c1", "title": "y", "_version": 1}, "condition": {"done": {"eq": True}}})
    assert r["errors"][0]["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    r = await run(UPDATE, {"input": {"id": "nope", "title": "y", "_version": 1}})
    assert r["errors"][0]["errorType"] in ("NotFound", "ConflictUnhandled", "DynamoDB:ConditionalCheckFailedException")


def test_unexpected_exceptions_become_a_generic_internal_failure() -> None:
    try:
        raise RuntimeError("secret connection string leaked")
    except RuntimeError as exc:
        error = GraphQLError("secret connection string leaked", original_error=exc, path=["getTodo"])
    out = format_error(error)
    assert out["errorType"] == "InternalFailure" and "secret" not in json.dumps(out)
    assert out["path"] == ["getTodo"] and out["data"] is None
    debug = format_error(error, debug=True)
    assert "RuntimeError" in debug["message"] and debug["extensions"]["traceback"]


def test_our_errors_keep_type_data_and_info() -> None:
    error = GraphQLError("x", original_error=ConflictUnhandled("conflict", data={"id": "1", "_version": 3}, info={"k": 1}))
    out = format_error(error)
    assert out["errorType"] == "ConflictUnhandled" and out["message"] == "conflict"
    assert out["data"] == {"id": "1", "_version": 3} and out["errorInfo"] == {"k": 1}
    assert out["extensions"]["data"] == out["data"]
