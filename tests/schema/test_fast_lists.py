"""server/schema/execution.py: long lists of flat objects are built without graphql-core's
per-field machinery, and every answer (data and errors) equals graphql-core's own."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import ExecutionResult, build_schema, parse
from graphql import execute as graphql_execute

from server.context import RequestContext
from server.schema.execution import FastListExecutor, execute

from .conftest import API_KEY
from .fast_harness import run_both

SDL = """
enum Color { RED GREEN }
type Thing { id: ID! name: String n: Int f: Float ok: Boolean color: Color tags: [String] strict: [Int!]! child: Thing }
type Query { things: [Thing] required: [Thing!]! computed: [Thing] }
"""


class Counting(FastListExecutor):  # type: ignore[misc,valid-type]
    """Counts the lists served by the fast path, so a test knows which path answered."""

    fast = 0

    def _fast_list(self, *args: Any) -> Any:
        out = super()._fast_list(*args)
        Counting.fast += out is not None
        return out


def _both(schema: Any, query: str, root: Any, variables: dict[str, Any] | None = None) -> tuple[Any, Any, int]:
    return run_both(Counting, schema, parse(query), root, variables)


@pytest.fixture
def schema() -> Any:
    s = build_schema(SDL)
    s.get_type("Color").values["RED"].value = "red"  # type: ignore[union-attr]
    return s


ROWS = [
    {"id": "1", "name": "a", "n": 1, "f": 1.5, "ok": True, "color": "red", "tags": ["x", None], "strict": [1, 2], "extra": 9},
    {"id": 2, "name": None, "n": None, "ok": False, "color": None, "tags": None, "strict": []},
    None,
]


@pytest.mark.parametrize(
    "query",
    [
        "{ things { id name n f ok color tags strict } }",
        "{ things { __typename i: id name ...F } } fragment F on Thing { n tags }",
        "query($s: Boolean!) { things { id name @include(if: $s) n @skip(if: $s) } }",
        "{ things { id } things2: things { name } }",
    ],
)
def test_flat_lists_take_the_fast_path_with_graphql_cores_answer(schema: Any, query: str) -> None:
    fast, plain, served = _both(schema, query, {"things": ROWS}, {"s": True})
    assert fast == plain and not plain["errors"]
    assert served >= 1


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([{"id": "1"}, {"id": None}], "things { id }"),  # null in a non-null field
        ([{"id": "1", "strict": [1]}, {"id": "2", "strict": [None]}], "things { strict }"),  # null non-null item
        ([{"id": "1", "n": 1}, {"id": "2", "n": "many"}], "things { n }"),  # Int cannot represent it
        ([{"id": "1", "n": 1}, {"id": "2", "n": 2**40}], "things { n }"),  # beyond 32 bits
        ([{"id": "1", "color": "red"}, {"id": "2", "color": "blue"}], "things { color }"),  # no such enum value
        ([{"id": "1"}, {"id": "2", "name": lambda info, **_: "called"}], "things { name }"),  # resolved by calling
        ([{"id": "1"}, {"id": "2", "tags": "not a list"}], "things { tags }"),
        ([{"id": "1"}, None], "required { id }"),  # null item in [Thing!]!
        ([{"id": "1"}, {"id": "2", "child": {"id": "3"}}], "things { id child { id } }"),  # a nested object
        ([{"id": "1"}, ValueError("boom")], "things { id }"),
    ],
)
def test_anything_unusual_gets_graphql_cores_own_answer(schema: Any, rows: list[Any], field: str) -> None:
    fast, plain, served = _both(schema, "{ " + field + " }", {"things": rows, "required": rows})
    assert fast == plain
    assert served == 0


def test_a_field_with_its_own_resolver_is_not_served_fast_unless_marked_item_only(schema: Any) -> None:
    from server.schema.execution import item_only

    rows = [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]
    thing = schema.get_type("Thing")
    thing.fields["name"].resolve = lambda item, info: f"{item['name']}@{info.path.prev.key}"
    fast, plain, served = _both(schema, "{ things { name } }", {"things": rows})
    assert fast == plain == {"data": {"things": [{"name": "a@0"}, {"name": "b@1"}]}, "errors": []}
    assert served == 0

    thing.fields["name"].resolve = item_only(lambda item, _info: item["name"].upper())
    fast, plain, served = _both(schema, "{ things { name } }", {"things": rows})
    assert fast == plain == {"data": {"things": [{"name": "A"}, {"name": "B"}]}, "errors": []}
    assert served == 1


async def test_a_sync_page_through_the_syncline_schema(todo: Any) -> None:
    """Enum, list, AWSDateTime, AWSTimestamp and AWSJSON (an item-only resolver) fields."""
    bundle, store, run = todo
    for i in range(3):
        r = await run(
            "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id } }",
            {"i": {"id": f"t{i}", "title": f"n{i}", "priority": "HIGH", "tags": ["a"], "meta": json.dumps({"k": i})}},
        )
        assert "errors" not in r, r
    query = parse(
        "{ syncTodos(limit: 10) { items { id title done priority tags due meta createdAt updatedAt "
        "_version _deleted _lastChangedAt } nextToken startedAt } }"
    )
    before = Counting.fast
    results = []
    for executor in (Counting, None):
        ctx = RequestContext(identity=API_KEY, store=store)
        r = graphql_execute(bundle.schema, query, context_value=ctx, executor_class=executor)
        results.append(await r if not isinstance(r, ExecutionResult) else r)
    fast, plain = results
    assert Counting.fast - before == 1
    assert fast.errors is None and fast.data == plain.data
    items = fast.data["syncTodos"]["items"]
    assert [json.loads(it["meta"]) for it in items] == [{"k": 0}, {"k": 1}, {"k": 2}]
    # The HTTP adapter's entry point runs the same executor.
    r = execute(bundle.schema, query, context_value=RequestContext(identity=API_KEY, store=store))
    again = await r if not isinstance(r, ExecutionResult) else r
    assert again.data == plain.data
