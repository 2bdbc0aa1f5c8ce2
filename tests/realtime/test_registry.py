"""The subscription registry: grouping, filters, enhanced filters, authorization views."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from graphql import execute, parse

from server.auth.identity import SYSTEM, Identity
from server.errors import BadRequest, Unauthorized
from server.realtime import AuthView, SubscriptionError, SubscriptionRegistry, compile_filter_group
from server.realtime.registry import MAX_CONTAINS_ANY_VALUES, MAX_FILTER_GROUPS, MAX_IN_VALUES
from server.schema import format_error
from tests.realtime.conftest import API_KEY, ListSink, Realtime

CREATE = "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id } }"
ON_CREATE = "subscription { onCreateTodo { id title priority __typename } }"


async def test_one_execution_per_group_and_one_payload_for_all(rt: Realtime) -> None:
    """N subscribers with the same document: one execution per event, the same JSON text for all."""
    sinks = [rt.subscribe(ON_CREATE, op_id=f"op{i}")[0] for i in range(25)]
    assert rt.registry.groups == 1 and rt.registry.subscribers == 25
    before = rt.registry.executions
    await rt.mutate(CREATE, {"i": {"title": "a", "priority": "HIGH"}})
    await rt.mutate(CREATE, {"i": {"title": "b"}})
    assert rt.registry.executions - before == 2
    texts = {s.got[0][1] for s in sinks}
    assert len(texts) == 1
    assert [s.got[0][0] for s in sinks] == [f"op{i}" for i in range(25)]
    assert all(len(s.got) == 2 for s in sinks)


async def test_payload_is_what_graphql_produces_for_the_selection(rt: Realtime) -> None:
    query = "subscription S { first: onCreateTodo { title ... on Todo { priority } tags } }"
    sink, _ = rt.subscribe(query)
    data = await rt.mutate(CREATE, {"i": {"title": "x", "tags": ["t"], "priority": "LOW"}})
    item = await rt.store.get("Todo", data["createTodo"]["id"], identity=SYSTEM)
    expected = execute(rt.bundle.schema, parse(query), root_value={"onCreateTodo": item})
    assert sink.payloads() == [{"data": expected.data}]  # type: ignore[union-attr]
    assert sink.payloads()[0]["data"]["first"] == {"title": "x", "priority": "LOW", "tags": ["t"]}


async def test_different_documents_variables_and_filters_form_different_groups(rt: Realtime) -> None:
    q = "subscription($f: ModelSubscriptionTodoFilterInput) { onCreateTodo(filter: $f) { id } }"
    rt.subscribe(q, variables={"f": {"title": {"eq": "a"}}})
    rt.subscribe(q, variables={"f": {"title": {"eq": "a"}}})
    rt.subscribe(q, variables={"f": {"title": {"eq": "b"}}})
    rt.subscribe(ON_CREATE)
    rt.subscribe(ON_CREATE, filter_group=[{"filters": [{"fieldName": "title", "operator": "eq", "value": "a"}]}])
    assert rt.registry.groups == 4 and rt.registry.subscribers == 5


async def test_unsubscribe_removes_empty_groups(rt: Realtime) -> None:
    sink, a = rt.subscribe(ON_CREATE)
    _, b = rt.subscribe(ON_CREATE)
    rt.registry.unsubscribe(a)
    rt.registry.unsubscribe(a)  # idempotent
    assert (rt.registry.groups, rt.registry.subscribers) == (1, 1)
    rt.registry.unsubscribe(b)
    assert (rt.registry.groups, rt.registry.subscribers) == (0, 0)
    await rt.mutate(CREATE, {"i": {"title": "a"}})
    assert sink.got == []


async def test_arguments_are_equality_filters_on_the_result(rt: Realtime) -> None:
    q = "subscription($t: String, $d: Boolean) { onTitled(title: $t, done: $d) { title done } }"
    only_a, _ = rt.subscribe(q, variables={"t": "a"})
    a_done, _ = rt.subscribe(q, variables={"t": "a", "d": True})
    every, _ = rt.subscribe(q, variables={})
    await rt.mutate(CREATE, {"i": {"title": "a", "done": False}})
    await rt.mutate(CREATE, {"i": {"title": "b", "done": True}})
    await rt.mutate(CREATE, {"i": {"title": "a", "done": True}})
    assert [p["data"]["onTitled"] for p in only_a.payloads()] == [
        {"title": "a", "done": False},
        {"title": "a", "done": True},
    ]
    assert [p["data"]["onTitled"] for p in a_done.payloads()] == [{"title": "a", "done": True}]
    assert len(every.got) == 3


async def test_one_subscription_field_fed_by_two_mutations(rt: Realtime) -> None:
    sink, _ = rt.subscribe("subscription { onTitled(title: \"t\") { title done } }")
    data = await rt.mutate(CREATE, {"i": {"title": "t"}})
    todo_id = data["createTodo"]["id"]
    await rt.mutate(
        "mutation($i: UpdateTodoInput!) { updateTodo(input: $i) { id } }", {"i": {"id": todo_id, "done": True, "_version": 1}}
    )
    assert [p["data"]["onTitled"]["done"] for p in sink.payloads()] == [None, True]


async def test_custom_python_mutation_reaches_its_subscribers(rt: Realtime) -> None:
    sink, _ = rt.subscribe('subscription { onBump(title: "x") { id title rank } }')
    other, _ = rt.subscribe("subscription { onCreateTodo { id } }")
    await rt.mutate('mutation { bump(title: "x", rank: 3) { id } }')
    await rt.mutate('mutation { bump(title: "y") { id } }')
    assert sink.payloads() == [{"data": {"onBump": {"id": "bump-x", "title": "x", "rank": 3}}}]
    assert other.got == []


async def test_generated_filter_argument(rt: Realtime) -> None:
    q = "subscription($f: ModelSubscriptionTodoFilterInput) { onCreateTodo(filter: $f) { title } }"
    f = {"or": [{"priority": {"eq": "HIGH"}}, {"title": {"beginsWith": "urgent"}}], "done": {"ne": True}}
    sink, _ = rt.subscribe(q, variables={"f": f})
    for title, prio, done in [
        ("a", "HIGH", False),
        ("urgent b", "LOW", None),
        ("c", "LOW", False),
        ("d", "HIGH", True),
        ("urgent e", None, True),
    ]:
        await rt.mutate(CREATE, {"i": {"title": title, "priority": prio, "done": done}})
    assert [p["data"]["onCreateTodo"]["title"] for p in sink.payloads()] == ["a", "urgent b"]


async def test_a_bad_filter_is_refused_with_the_field_named(rt: Realtime) -> None:
    q = "subscription($f: ModelSubscriptionTodoFilterInput) { onCreateTodo(filter: $f) { id } }"
    with pytest.raises(SubscriptionError) as info:
        rt.subscribe(q, variables={"f": {"nope": {"eq": 1}}})
    assert "nope" in info.value.errors[0]["message"]
    with pytest.raises(SubscriptionError) as info:
        rt.subscribe(q, variables={"f": "not an object"})
    assert info.value.errors[0]["message"]
    assert rt.registry.subscribers == 0


async def test_only_subscriptions_register(rt: Realtime) -> None:
    with pytest.raises(SubscriptionError, match="only accepts subscriptions"):
        rt.subscribe("query { listTodos { items { id } } }")


ITEMS: list[dict[str, Any]] = [
    {"title": "alpha", "rank": 1, "tags": ["x", "y"], "priority": "LOW", "meta": {"level": 1, "tag": "m1"}},
    {"title": "beta", "rank": 5, "tags": ["y"], "priority": "HIGH", "meta": {"level": 7, "tag": "m2"}},
    {"title": "gamma", "rank": 9, "tags": [], "priority": "NORMAL"},
    {"title": "alphabet", "rank": 5, "priority": "HIGH", "meta": {"level": 3}},
]

ENHANCED_CASES: list[tuple[list[dict[str, Any]], list[str]]] = [
    ([{"fieldName": "rank", "operator": "eq", "value": 5}], ["beta", "alphabet"]),
    ([{"fieldName": "rank", "operator": "ne", "value": 5}], ["alpha", "gamma"]),
    ([{"fieldName": "rank", "operator": "le", "value": 5}], ["alpha", "beta", "alphabet"]),
    ([{"fieldName": "rank", "operator": "lt", "value": 5}], ["alpha"]),
    ([{"fieldName": "rank", "operator": "ge", "value": 5}], ["beta", "gamma", "alphabet"]),
    ([{"fieldName": "rank", "operator": "gt", "value": 5}], ["gamma"]),
    ([{"fieldName": "title", "operator": "contains", "value": "ph"}], ["alpha", "alphabet"]),
    ([{"fieldName": "tags", "operator": "contains", "value": "y"}], ["alpha", "beta"]),
    ([{"fieldName": "title", "operator": "notContains", "value": "ph"}], ["beta", "gamma"]),
    ([{"fieldName": "title", "operator": "beginsWith", "value": "alpha"}], ["alpha", "alphabet"]),
    ([{"fieldName": "priority", "operator": "in", "value": ["LOW", "NORMAL"]}], ["alpha", "gamma"]),
    ([{"fieldName": "priority", "operator": "notIn", "value": ["LOW", "NORMAL"]}], ["beta", "alphabet"]),
    ([{"fieldName": "rank", "operator": "between", "value": [2, 9]}], ["beta", "gamma", "alphabet"]),
    ([{"fieldName": "tags", "operator": "containsAny", "value": ["x", "z"]}], ["alpha"]),
    ([{"fieldName": "meta.level", "operator": "gt", "value": 2}], ["beta", "alphabet"]),
    ([{"fieldName": "meta.tag", "operator": "eq", "value": "m1"}], ["alpha"]),
    # AND inside one filter, OR across the group
    (
        [{"fieldName": "priority", "operator": "eq", "value": "HIGH"}, {"fieldName": "title", "operator": "beginsWith", "value": "a"}],
        ["alphabet"],
    ),
]


@pytest.mark.parametrize(("filters", "expected"), ENHANCED_CASES)
async def test_enhanced_filters_select_exactly(rt: Realtime, filters: list[dict[str, Any]], expected: list[str]) -> None:
    sink, _ = rt.subscribe("subscription { onCreateTodo { title } }", filter_group=[{"filters": filters}])
    for item in ITEMS:
        await rt.mutate(CREATE, {"i": item})
    assert [p["data"]["onCreateTodo"]["title"] for p in sink.payloads()] == expected


async def test_enhanced_filter_groups_are_ored(rt: Realtime) -> None:
    group = [
        {"filters": [{"fieldName": "rank", "operator": "eq", "value": 1}]},
        {"filters": [{"fieldName": "rank", "operator": "eq", "value": 9}]},
    ]
    sink, _ = rt.subscribe("subscription { onCreateTodo { title } }", filter_group=group)
    for item in ITEMS:
        await rt.mutate(CREATE, {"i": item})
    assert [p["data"]["onCreateTodo"]["title"] for p in sink.payloads()] == ["alpha", "gamma"]


def cond(op: str, value: Any, name: str = "rank") -> list[dict[str, Any]]:
    return [{"filters": [{"fieldName": name, "operator": op, "value": value}]}]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([], "non-empty list"),
        ({"filterGroup": []}, "non-empty list"),
        ([{"filters": []}], "must not be empty"),
        ([{"nope": []}], '{"filters"'),
        ([{"filters": [{"fieldName": "rank", "operator": "eq", "value": 1}]}] * (MAX_FILTER_GROUPS + 1), "the limit is"),
        ([{"filters": [{"fieldName": "rank", "operator": "eq", "value": 1}] * 6}], "the limit is 5"),
        (cond("like", 1), "operator must be one of"),
        (cond("in", list(range(MAX_IN_VALUES + 1))), f"at most {MAX_IN_VALUES}"),
        (cond("containsAny", list(range(MAX_CONTAINS_ANY_VALUES + 1))), f"at most {MAX_CONTAINS_ANY_VALUES}"),
        (cond("between", [1]), "exactly two"),
        (cond("eq", [1, 2]), "single value"),
        (cond("eq", 1, name="a.b.c.d.e.f"), "at most 5"),
        (cond("eq", 1, name="x" * 257), "the limit is 256"),
        ([{"filters": [{"fieldName": "rank", "operator": "eq"}]}], "needs a value"),
        ([{"filters": [{"fieldName": "rank", "operator": "eq", "value": 1, "extra": 2}]}], "unknown keys"),
    ],
)
def test_enhanced_filter_validation_says_what_to_fix(spec: Any, message: str) -> None:
    with pytest.raises(BadRequest, match=message.replace("(", r"\(").replace("[", r"\[").replace("{", r"\{")):
        compile_filter_group(spec)


async def test_bad_enhanced_filter_refuses_the_subscription(rt: Realtime) -> None:
    with pytest.raises(SubscriptionError, match="operator"):
        rt.subscribe(ON_CREATE, filter_group=cond("like", 1))
    assert rt.registry.subscribers == 0


ALICE = Identity(auth_mode="AMAZON_COGNITO_USER_POOLS", sub="a", username="alice")
BOB = Identity(auth_mode="AMAZON_COGNITO_USER_POOLS", sub="b", username="bob")
ALICE_AGAIN = Identity(auth_mode="AMAZON_COGNITO_USER_POOLS", sub="a", username="alice", claims={"jti": "2"})


async def test_owner_rules_apply_per_subscriber(rt: Realtime) -> None:
    """No event reaches a subscriber who could not read the same row by query (@auth owner)."""
    q = "subscription { onCreateNote { body owner } }"
    alice, _ = rt.subscribe(q, identity=ALICE)
    alice2, _ = rt.subscribe(q, identity=ALICE_AGAIN)
    bob, _ = rt.subscribe(q, identity=BOB)
    # Two connections of alice share a group; bob has his own view.
    assert rt.registry.groups == 2
    create = "mutation($i: CreateNoteInput!) { createNote(input: $i) { id } }"
    await rt.mutate(create, {"i": {"body": "for alice", "owner": "a::alice"}}, identity=SYSTEM)
    await rt.mutate(create, {"i": {"body": "for bob", "owner": "b::bob"}}, identity=SYSTEM)
    await rt.mutate(create, {"i": {"body": "nobody's"}}, identity=SYSTEM)
    assert [p["data"]["onCreateNote"]["body"] for p in alice.payloads()] == ["for alice"]
    assert alice2.payloads() == alice.payloads()
    assert [p["data"]["onCreateNote"]["body"] for p in bob.payloads()] == ["for bob"]


async def test_an_identity_no_rule_admits_is_refused(rt: Realtime) -> None:
    with pytest.raises(SubscriptionError) as info:
        rt.subscribe("subscription { onCreateNote { body } }", identity=API_KEY)
    assert info.value.error_type == "Unauthorized"


async def test_a_custom_view_hook_decides_visibility_and_fields(rt: Realtime) -> None:
    """The hook: identity → rows filter + redaction; equal keys share one group."""

    def view(identity: Identity, spec: Any) -> AuthView:
        if identity.api_key_id == "banned":
            raise Unauthorized("banned")
        if identity.api_key_id == "low":
            return AuthView(key="low", rows={"title": {"eq": "a"}}, redact=lambda item: {**item, "priority": None})
        return AuthView()

    registry = SubscriptionRegistry(
        schema=rt.bundle.schema,
        subscribe_to=rt.bundle.subscribe_to,
        models=rt.bundle.models,
        store=rt.store,
        format_error=format_error,
        view=view,
    )
    low, full = ListSink(), ListSink()
    doc = parse(ON_CREATE)
    for sink, key in ((low, "low"), (full, "all")):
        registry.subscribe(sink=sink, op_id="1", document=doc, query=ON_CREATE, identity=Identity(auth_mode="API_KEY", api_key_id=key))
    with pytest.raises(SubscriptionError):
        registry.subscribe(sink=ListSink(), op_id="1", document=doc, query=ON_CREATE, identity=Identity(auth_mode="API_KEY", api_key_id="banned"))
    assert registry.groups == 2
    from server.realtime import MutationEvent

    for title, prio in (("a", "LOW"), ("b", "HIGH")):
        await registry.dispatch(MutationEvent(mutation="createTodo", result={"id": title, "title": title, "priority": prio}))
    assert [p["data"]["onCreateTodo"] for p in low.payloads()] == [
        {"id": "a", "title": "a", "priority": None, "__typename": "Todo"}
    ]
    assert [p["data"]["onCreateTodo"]["title"] for p in full.payloads()] == ["a", "b"]


async def test_execution_errors_reach_subscribers_formatted(rt: Realtime) -> None:
    """A result missing a non-null field gives GraphQL's error, formatted as over HTTP (an internal
    failure with a log reference, since the mutation broke its own type)."""
    sink, _ = rt.subscribe("subscription { onCreateTodo { id title } }")
    from server.realtime import MutationEvent

    await rt.registry.dispatch(MutationEvent(mutation="createTodo", result={"id": "1"}))
    (payload,) = sink.payloads()
    assert payload["data"] == {"onCreateTodo": None}
    assert payload["errors"][0]["path"] == ["onCreateTodo", "title"]
    assert "reference" in payload["errors"][0]["message"]
    json.dumps(payload)


async def test_a_subscriber_leaving_during_a_long_fan_out_gets_nothing_more(rt: Realtime) -> None:
    """Fan-out yields every YIELD_EVERY deliveries; whoever unsubscribes meanwhile is skipped."""
    from server.realtime import MutationEvent
    from server.realtime.registry import YIELD_EVERY

    subs = [rt.subscribe(ON_CREATE, op_id=str(i)) for i in range(YIELD_EVERY * 2)]
    last_sink, last_sub = subs[-1]
    dispatch = asyncio.create_task(
        rt.registry.dispatch(MutationEvent(mutation="createTodo", result={"id": "1", "title": "t"}))
    )
    while not subs[YIELD_EVERY - 1][0].got:
        await asyncio.sleep(0)
    rt.registry.unsubscribe(last_sub)
    assert await dispatch == YIELD_EVERY * 2 - 1
    assert last_sink.got == []
    assert all(len(sink.got) == 1 for sink, _ in subs[:-1])
