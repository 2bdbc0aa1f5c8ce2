"""User resolvers: Python functions (the local Lambda) and HTTP data sources get AppSync's
direct-Lambda event; their failures become GraphQL errors naming what failed."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from aiohttp import web

from server.auth.identity import Identity
from server.context import RequestContext
from server.errors import ConfigError, NotFound
from server.schema import FunctionResolver, HttpResolver, build_schema, load_resolvers

from .conftest import open_store, runner

SDL = """
type Todo @model { title: String! }
type Weather { city: String temp: Float }
type Query {
  hello(name: String!): String
  slow: String
  count: Int
  boom: String
  notFound: String
  weather(city: String!): Weather
  raw(v: AWSJSON): AWSJSON
}
extend type Todo { shout: String }
"""

OIDC = Identity(auth_mode="OPENID_CONNECT", sub="u-1", username="ann", claims={"iss": "https://idp", "sub": "u-1"})


def hello(event: dict[str, Any]) -> str:
    # a plain function runs in a worker thread, never on the event loop
    assert threading.current_thread() is not threading.main_thread()
    return f"hello {event['arguments']['name']}"


async def count(event: dict[str, Any], ctx: RequestContext) -> int:
    page = await ctx.store.list("Todo", identity=ctx.identity)
    return len(page.items)


def boom(event: dict[str, Any]) -> str:
    raise KeyError("no such thing")


def not_found(event: dict[str, Any]) -> str:
    raise NotFound("nothing here")


def shout(event: dict[str, Any]) -> str:
    return str(event["source"]["title"]).upper()


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Any]:
    events: list[dict[str, Any]] = []

    def spy(event: dict[str, Any]) -> Any:
        events.append(event)
        return event["arguments"].get("v")

    bundle = build_schema(
        SDL,
        resolvers={
            "Query.hello": FunctionResolver.of(hello),
            "Query.count": FunctionResolver.of(count),
            "Query.boom": FunctionResolver.of(boom),
            "Query.notFound": FunctionResolver.of(not_found),
            "Query.raw": FunctionResolver.of(spy),
            "Todo.shout": FunctionResolver.of(shout),
        },
    )
    store = await open_store(tmp_path / "u.db", bundle)
    try:
        yield runner(bundle, store), events
    finally:
        await store.close()


async def test_sync_and_async_functions_and_the_context_parameter(app: Any) -> None:
    run, _ = app
    assert (await run('{ hello(name: "ann") }'))["data"] == {"hello": "hello ann"}
    await run('mutation { createTodo(input: {title: "a"}) { id } }')
    await run('mutation { createTodo(input: {title: "b"}) { id } }')
    assert (await run("{ count }"))["data"] == {"count": 2}
    listed = await run("{ listTodos { items { title shout } } }")
    assert sorted(i["shout"] for i in listed["data"]["listTodos"]["items"]) == ["A", "B"]


async def test_event_has_the_appsync_lambda_shape(app: Any) -> None:
    run, events = app
    doc = 'query Q($v: AWSJSON) { raw(v: $v) }'
    r = await run(doc, {"v": '{"k": [1]}'}, identity=OIDC, headers={"x-trace": "t1"}, stash={"s": 1})
    assert json.loads(r["data"]["raw"]) == {"k": [1]}
    (event,) = events
    assert set(event) == {"arguments", "identity", "source", "info", "request", "prev", "stash"}
    assert event["arguments"] == {"v": {"k": [1]}}  # AWSJSON arrives parsed
    assert event["identity"]["sub"] == "u-1" and event["identity"]["issuer"] == "https://idp"
    assert event["source"] is None and event["prev"] is None and event["stash"] == {"s": 1}
    assert event["info"]["fieldName"] == "raw" and event["info"]["parentTypeName"] == "Query"
    assert event["info"]["variables"] == {"v": {"k": [1]}}
    assert event["request"] == {"headers": {"x-trace": "t1"}}


async def test_selection_set_list_follows_fragments(tmp_path: Path) -> None:
    seen: list[Any] = []
    graphql_text: list[str] = []

    def weather(event: dict[str, Any]) -> Any:
        seen.append(event["info"]["selectionSetList"])
        graphql_text.append(event["info"]["selectionSetGraphQL"])
        return {"city": event["arguments"]["city"], "temp": 21.5}

    bundle = build_schema(SDL, resolvers={"Query.weather": FunctionResolver.of(weather)})
    store = await open_store(tmp_path / "w.db", bundle)
    try:
        run = runner(bundle, store)
        r = await run('{ weather(city: "Oslo") { city ...T __typename } } fragment T on Weather { temp }')
        assert r["data"] == {"weather": {"city": "Oslo", "temp": 21.5, "__typename": "Weather"}}
        assert seen == [["city", "temp"]]
        assert "...T" in graphql_text[0] and "city" in graphql_text[0]
    finally:
        await store.close()


async def test_exceptions_become_errors_typed_by_class(app: Any) -> None:
    run, _ = app
    r = await run("{ boom }")
    (err,) = r["errors"]
    assert r["data"] == {"boom": None}
    assert err["errorType"] == "KeyError" and "no such thing" in err["message"] and err["path"] == ["boom"]
    r = await run("{ notFound }")
    assert r["errors"][0]["errorType"] == "NotFound" and r["errors"][0]["message"] == "nothing here"


# --------------------------------------------------------------------------- HTTP data source


@pytest.fixture
async def http_source() -> AsyncIterator[tuple[str, list[Any]]]:
    received: list[Any] = []
    release = asyncio.Event()

    async def weather(request: web.Request) -> web.Response:
        event = await request.json()
        received.append({"event": event, "auth": request.headers.get("authorization")})
        return web.json_response({"city": event["arguments"]["city"], "temp": 3.5})

    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=502, text="upstream is down")

    async def lambda_error(request: web.Request) -> web.Response:
        return web.json_response({"errorType": "CityUnknown", "errorMessage": "no such city"}, status=400)

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(text="<html>oops</html>", content_type="text/html")

    async def slow(request: web.Request) -> web.Response:
        await release.wait()  # answers only after the test is over
        return web.json_response("late")

    app = web.Application()
    app.router.add_post("/weather", weather)
    app.router.add_post("/fail", fail)
    app.router.add_post("/lambda-error", lambda_error)
    app.router.add_post("/garbage", garbage)
    app.router.add_post("/slow", slow)
    runner_ = web.AppRunner(app)
    await runner_.setup()
    site = web.TCPSite(runner_, "127.0.0.1", 0)
    await site.start()
    port = runner_.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        release.set()
        await runner_.cleanup()


async def test_http_data_source(http_source: Any, tmp_path: Path) -> None:
    base, received = http_source
    bundle = build_schema(
        SDL,
        resolvers={
            "Query.weather": HttpResolver(url=f"{base}/weather", headers={"authorization": "Bearer t"}),
            "Query.hello": HttpResolver(url=f"{base}/fail"),
            "Query.boom": HttpResolver(url=f"{base}/lambda-error"),
            "Query.notFound": HttpResolver(url=f"{base}/garbage"),
            "Query.slow": HttpResolver(url=f"{base}/slow", timeout=0.3),
        },
    )
    store = await open_store(tmp_path / "h.db", bundle)
    try:
        run = runner(bundle, store)
        r = await run('{ weather(city: "Oslo") { city temp } }')
        assert r == {"data": {"weather": {"city": "Oslo", "temp": 3.5}}}
        (got,) = received
        assert got["auth"] == "Bearer t"
        assert got["event"]["arguments"] == {"city": "Oslo"} and got["event"]["info"]["fieldName"] == "weather"
        assert got["event"]["info"]["selectionSetList"] == ["city", "temp"]

        err = (await run('{ hello(name: "x") }'))["errors"][0]
        assert err["errorType"] == "DataSourceError"
        assert "Query.hello" in err["message"] and "502" in err["message"] and "upstream is down" in err["message"]
        err = (await run("{ boom }"))["errors"][0]
        assert err["errorType"] == "CityUnknown" and err["message"] == "no such city"
        err = (await run("{ notFound }"))["errors"][0]
        assert "Query.notFound" in err["message"] and "invalid JSON" in err["message"]
        err = (await run("{ slow }"))["errors"][0]
        assert err["errorType"] == "DataSourceTimeout" and "Query.slow" in err["message"]
    finally:
        await store.close()


async def test_unreachable_http_data_source(tmp_path: Path) -> None:
    bundle = build_schema(SDL, resolvers={"Query.slow": HttpResolver(url="http://127.0.0.1:9/nothing", timeout=2)})
    store = await open_store(tmp_path / "x.db", bundle)
    try:
        err = (await runner(bundle, store)("{ slow }"))["errors"][0]
        assert err["errorType"] == "DataSourceError" and "could not be reached" in err["message"]
    finally:
        await store.close()


# --------------------------------------------------------------------------- load_resolvers


def test_load_resolvers_from_the_project_folder(tmp_path: Path) -> None:
    (tmp_path / "resolvers.py").write_text(
        "def hello(event):\n    return 'hi'\n\nasync def with_ctx(event, ctx):\n    return 1\n"
    )
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "more.py").write_text("def f(event):\n    return 2\n")
    out = load_resolvers(
        {
            "Query.hello": "resolvers:hello",
            "Query.count": {"function": "resolvers:with_ctx"},
            "Query.slow": "pkg.more:f",
            "Query.weather": {"http": "https://example.com/w", "headers": {"x-k": "v"}, "timeout": 3},
        },
        tmp_path,
    )
    hello_b = out["Query.hello"]
    assert isinstance(hello_b, FunctionResolver) and hello_b.fn({"arguments": {}}) == "hi" and not hello_b.wants_context
    ctx_b = out["Query.count"]
    assert isinstance(ctx_b, FunctionResolver) and ctx_b.wants_context
    assert out["Query.weather"] == HttpResolver(url="https://example.com/w", headers={"x-k": "v"}, timeout=3.0)
    build_schema(SDL, resolvers=out)  # all bind


@pytest.mark.parametrize(
    "spec,needle",
    [
        ({"Query.hello": "nomodule:hello"}, "Query.hello"),
        ({"Query.hello": "resolvers:missing"}, "missing"),
        ({"Query.hello": "resolvers"}, "module:function"),
        ({"hello": "resolvers:hello"}, "Type.field"),
        ({"Query.hello": {"http": "ftp://x"}}, "http"),
        ({"Query.hello": {"http": "https://x", "timeout": -1}}, "timeout"),
        ({"Query.hello": {"http": "https://x", "retries": 3}}, "retries"),
        ({"Query.hello": {"http": "https://x", "function": "resolvers:hello"}}, "exactly one"),
        ({"Query.hello": 42}, "module:function"),
    ],
)
def test_load_resolvers_errors_name_the_field(tmp_path: Path, spec: dict[str, Any], needle: str) -> None:
    (tmp_path / "resolvers.py").write_text("def hello(event):\n    return 'hi'\n")
    with pytest.raises(ConfigError) as err:
        load_resolvers(spec, tmp_path)
    assert needle in err.value.message and "[resolvers]" in err.value.message


async def test_amplify_function_directive_needs_and_uses_a_binding(tmp_path: Path) -> None:
    sdl = (
        'type Todo @model { title: String! score: Int @function(name: "scorer-${env}") }\n'
        'type Query { echo(msg: String): String @function(name: "echoFunction") }'
    )
    with pytest.raises(ConfigError, match=r'Query.echo: @function\(name: .echoFunction.\).*"Query.echo" = "resolvers:echoFunction"'):
        build_schema(sdl, resolvers={"Todo.score": FunctionResolver.of(lambda e: 1)})
    bundle = build_schema(
        sdl,
        resolvers={
            "Todo.score": FunctionResolver.of(lambda e: len(e["source"]["title"])),
            "Query.echo": FunctionResolver.of(lambda e: e["arguments"]["msg"]),
        },
    )
    assert bundle.model("Todo").field_names == ("title",)  # type: ignore[union-attr]  # computed, not stored
    store = await open_store(tmp_path / "f.db", bundle)
    try:
        run = runner(bundle, store)
        assert (await run('{ echo(msg: "hi") }'))["data"] == {"echo": "hi"}
        r = await run('mutation { createTodo(input: {title: "four"}) { title score } }')
        assert r["data"]["createTodo"] == {"title": "four", "score": 4}
    finally:
        await store.close()


def test_function_binding_detects_the_context_parameter() -> None:
    async def two(event: Any, ctx: Any) -> None: ...

    def one(event: Any) -> None: ...

    assert FunctionResolver(fn=two).wants_context is True
    assert FunctionResolver(fn=one).wants_context is False
    assert FunctionResolver(fn=one).ref.endswith("one")
    with pytest.raises(ConfigError):
        FunctionResolver(fn="not callable")  # type: ignore[arg-type]
