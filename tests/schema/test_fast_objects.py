"""server/schema/execution.py: a single object of leaf fields (what a mutation or a get
returns) is built from a plan kept across requests, and every answer (data and errors) equals
graphql-core's own."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import ExecutionResult, build_schema, parse
from graphql import execute as graphql_execute

from server.schema.execution import FastListExecutor, item_only

from .fast_harness import run_both

SDL = """
enum Color { RED GREEN }
type Thing { id: ID! name: String n: Int ok: Boolean color: Color tags: [String] child: Thing }
type Query { thing: Thing required: Thing! }
"""


class Counting(FastListExecutor):  # type: ignore[misc,valid-type]
    """Counts the objects served by the fast path, so a test knows which path answered."""

    fast = 0

    def _fast_object(self, *args: Any) -> Any:
        out = super()._fast_object(*args)
        Counting.fast += out is not None
        return out


def _both(schema: Any, doc: Any, root: Any, variables: dict[str, Any] | None = None) -> tuple[Any, Any, int]:
    return run_both(Counting, schema, doc, root, variables)


@pytest.fixture
def schema() -> Any:
    s = build_schema(SDL)
    s.get_type("Color").values["RED"].value = "red"  # type: ignore[union-attr]
    return s


THING = {"id": "1", "name": "a", "n": 1, "ok": True, "color": "red", "tags": ["x", None], "extra": 9}


@pytest.mark.parametrize(
    "query",
    [
        "{ thing { id name n ok color tags } }",
        "{ thing { __typename i: id name ... on Thing { n } } }",
        "{ thing { id } again: thing { name } }",
        "{ required { id name } }",
    ],
)
def test_a_flat_object_takes_the_fast_path_with_graphql_cores_answer(schema: Any, query: str) -> None:
    doc = parse(query)
    for _ in range(2):  # planned, then served from the kept plan
        fast, plain, served = _both(schema, doc, {"thing": THING, "required": THING})
        assert fast == plain and not plain["errors"]
        assert served >= 1


@pytest.mark.parametrize(
    "query",
    [
        "query($s: Boolean!) { thing { id name @include(if: $s) n @skip(if: $s) } }",
        "query($s: Boolean!) { thing { id ... @include(if: $s) { name } } }",
        "{ thing { id ...F } } fragment F on Thing { name }",
    ],
)
def test_selections_that_depend_on_variables_are_not_kept(schema: Any, query: str) -> None:
    doc = parse(query)
    for s in (True, False, True):
        fast, plain, served = _both(schema, doc, {"thing": THING}, {"s": s})
        assert fast == plain and not plain["errors"]
        assert served == 0


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"id": None}, "thing { id }"),  # null in a non-null field
        ({"id": "1", "n": "many"}, "thing { n }"),  # Int cannot represent it
        ({"id": "1", "n": 2**40}, "thing { n }"),  # beyond 32 bits
        ({"id": "1", "color": "blue"}, "thing { color }"),  # no such enum value
        ({"id": "1", "name": lambda info, **_: "called"}, "thing { name }"),  # resolved by calling
        ({"id": "1", "tags": "not a list"}, "thing { tags }"),
        ({"id": "1", "child": {"id": "3"}}, "thing { id child { id } }"),  # a nested object: planned no further
        (ValueError("boom"), "thing { id }"),
        (None, "required { id }"),
    ],
)
def test_anything_unusual_gets_graphql_cores_own_answer(schema: Any, value: Any, field: str) -> None:
    doc = parse("{ " + field + " }")
    for _ in range(2):
        fast, plain, served = _both(schema, doc, {"thing": value, "required": value})
        assert fast == plain
        assert served == (1 if "child" in field else 0)  # the child {"id": "3"} is flat


def test_a_kept_plan_follows_a_resolver_replaced_later(schema: Any) -> None:
    """DirectiveAuth wraps fields at run time (a Lambda's deniedFields): the wrapper must run."""
    doc = parse("{ thing { id name } }")
    fast, _, served = _both(schema, doc, {"thing": THING})
    assert fast["data"] == {"thing": {"id": "1", "name": "a"}} and served == 1

    def denied(_item: Any, _info: Any) -> Any:
        raise PermissionError("Not Authorized to access name on type Thing")

    schema.get_type("Thing").fields["name"].resolve = denied
    fast, plain, served = _both(schema, doc, {"thing": THING})
    assert fast == plain and fast["data"] == {"thing": {"id": "1", "name": None}}
    assert "Not Authorized" in fast["errors"][0]["message"]
    assert served == 0

    schema.get_type("Thing").fields["name"].resolve = item_only(lambda item, _info: item["name"].upper())
    fast, plain, served = _both(schema, doc, {"thing": THING})
    assert fast == plain == {"data": {"thing": {"id": "1", "name": "A"}}, "errors": []}
    assert served == 1


async def test_a_mutation_through_the_syncline_schema(todo: Any) -> None:
    """AWSJSON (an item-only resolver), AWSDateTime, enum, list and metadata fields of a
    created item, through the HTTP adapter's executor."""
    from server.context import RequestContext
    from server.schema.execution import execute

    from .conftest import API_KEY

    bundle, store, _run = todo
    doc = parse(
        "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id title done priority tags meta due "
        "createdAt updatedAt _version _deleted _lastChangedAt } }"
    )
    variables = {"i": {"id": "t1", "title": "n", "priority": "HIGH", "tags": ["a"], "meta": '{"k": 1}'}}
    before = Counting.fast
    r = graphql_execute(
        bundle.schema, doc, variable_values=variables, context_value=RequestContext(identity=API_KEY, store=store),
        executor_class=Counting,
    )
    created = await r if not isinstance(r, ExecutionResult) else r
    assert created.errors is None and Counting.fast - before == 1
    item = created.data["createTodo"]
    assert item["meta"] == '{"k":1}' and item["priority"] == "HIGH" and item["_version"] == 1
    get = parse("query($id: ID!) { getTodo(id: $id) { id title done priority tags meta due createdAt updatedAt _version _deleted _lastChangedAt } }")
    results = []
    for executor in (Counting, None):
        ctx = RequestContext(identity=API_KEY, store=store)
        r = graphql_execute(bundle.schema, get, variable_values={"id": "t1"}, context_value=ctx, executor_class=executor)
        results.append(await r if not isinstance(r, ExecutionResult) else r)
    assert results[0].data == results[1].data == {"getTodo": item}
    r = execute(bundle.schema, get, variable_values={"id": "t1"}, context_value=RequestContext(identity=API_KEY, store=store))
    again = await r if not isinstance(r, ExecutionResult) else r
    assert again.data == {"getTodo": item}
