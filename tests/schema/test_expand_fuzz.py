"""Property: any SDL either builds or fails with a ConfigError (never a crash), and every
model that builds gets its full set of generated operations."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.errors import ConfigError
from server.schema import build_schema

NAMES = st.sampled_from(["title", "id", "done", "_version", "createdAt", "tags", "owner", "meta", "n", "Query", "x"])
TYPES = st.sampled_from(
    ["String", "String!", "ID!", "Int", "[String]", "[String!]!", "AWSJSON", "AWSDateTime", "AWSTimestamp",
     "Color", "[Color]", "Box", "Todo", "Shape", "Missing", "[[Int]]", "BoxInput", "Float!", "Boolean"]
)
DIRECTIVES = st.sampled_from(
    ["", " @deprecated", " @aws_iam", " @hasMany", ' @aws_subscribe(mutations: ["createTodo"])', " @auth(rules: [{allow: public}])"]
)
TYPE_DIRECTIVES = st.sampled_from(
    ["@model", "@model @auth(rules: [{allow: owner}])", "@model(subscriptions: null)", '@model(queries: {get: "one"})',
     "@model(bogus: 1)", "@model @aws_api_key", "", "@model @key(fields: [\"id\"])"]
)
PRELUDE = "enum Color { RED BLUE }\ntype Box { w: Int }\ninput BoxInput { w: Int }\nunion Shape = Box\n"


@st.composite
def sdl(draw: st.DrawFn) -> str:
    fields = draw(st.lists(st.tuples(NAMES, TYPES, DIRECTIVES), max_size=5, unique_by=lambda t: t[0]))
    body = "\n".join(f"  {n}: {t}{d}" for n, t, d in fields)
    extra = draw(st.sampled_from(["", "type Query { hi: String }", "type Todo2 @model { a: String }", "type Subscription { s: Todo }"]))
    return f"{PRELUDE}type Todo {draw(TYPE_DIRECTIVES)} {{\n{body}\n}}\n{extra}\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sdl())
def test_any_sdl_builds_or_raises_config_error(text: str) -> None:
    """Invariant: build_schema never raises anything but ConfigError, and a built model has its operations."""
    try:
        bundle = build_schema(text)
    except ConfigError as exc:
        assert exc.message  # says what is wrong
        return
    for model in bundle.models:
        ops = bundle.operations[model.name]
        q = bundle.schema.query_type
        assert q is not None and ops.list in q.fields
        assert model.field_names and not {"_version", "_deleted", "_lastChangedAt"} & set(model.field_names)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_any_text_builds_or_raises_config_error(text: str) -> None:
    """Invariant: random text is a ConfigError (or, rarely, a valid schema), never a crash."""
    try:
        build_schema(text + "\ntype Note @model { body: String }")
    except ConfigError:
        pass
