"""AWS_LAMBDA: AppSync's event/response shapes, TTL cache, failures deny (never 500)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from server.auth.lambda_authorizer import LambdaAuthorizer, LambdaConfig, load_function
from server.errors import ConfigError, Unauthorized


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(fn, clock=None, **cfg) -> LambdaAuthorizer:
    return LambdaAuthorizer(LambdaConfig(**cfg), function=fn, clock=clock or Clock())


async def test_event_shape_and_identity_from_response() -> None:
    seen = []

    def authorizer(event):
        seen.append(event)
        return {
            "isAuthorized": event["authorizationToken"] == "custom-ok",
            "resolverContext": {"tenant": "acme", "tier": 3},
            "deniedFields": ["Mutation.deleteTodo"],
            "ttlOverride": 10,
        }

    a = make(authorizer, api_id="api1", account_id="111122223333")
    ident = await a.authorize(
        "custom-ok", headers={"Authorization": "custom-ok", "X-Trace": "t"},
        query_string="query Q { a }", operation_name="Q", variables={"x": 1}, source_ip="1.2.3.4",
    )
    assert ident.auth_mode == "AWS_LAMBDA"
    assert ident.resolver_context == {"tenant": "acme", "tier": 3}
    assert ident.denied_fields == ("Mutation.deleteTodo",)
    assert ident.to_appsync() == {"resolverContext": {"tenant": "acme", "tier": 3}}
    ev = seen[0]
    assert ev["authorizationToken"] == "custom-ok"
    assert ev["requestHeaders"]["x-trace"] == "t"
    rc = ev["requestContext"]
    assert (rc["apiId"], rc["accountId"], rc["queryString"], rc["operationName"], rc["variables"]) == (
        "api1", "111122223333", "query Q { a }", "Q", {"x": 1},
    )
    assert rc["requestId"]


async def test_async_authorizer_and_ttl_cache_with_override() -> None:
    clock = Clock()
    calls = []

    async def authorizer(event):
        calls.append(1)
        return {"isAuthorized": True, "ttlOverride": 5}

    a = make(authorizer, clock, ttl_s=300)
    await a.authorize("t1", headers={})
    await a.authorize("t1", headers={})
    assert len(calls) == 1
    clock.now += 6  # ttlOverride (5 s) wins over the configured 300 s
    await a.authorize("t1", headers={})
    assert len(calls) == 2


async def test_default_ttl_caches_denials_too_and_zero_disables() -> None:
    clock = Clock()
    calls = []

    def deny(event):
        calls.append(1)
        return {"isAuthorized": False}

    a = make(deny, clock)
    for _ in range(3):
        with pytest.raises(Unauthorized, match="denied"):
            await a.authorize("t", headers={})
    assert len(calls) == 1
    clock.now += 301
    with pytest.raises(Unauthorized):
        await a.authorize("t", headers={})
    assert len(calls) == 2
    b = make(deny, clock, ttl_s=0)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await b.authorize("t", headers={})
    assert len(calls) == 5


async def test_sync_authorizer_runs_in_a_thread() -> None:
    threads = []

    def authorizer(event):
        threads.append(threading.get_ident())
        return {"isAuthorized": True}

    await make(authorizer).authorize("t", headers={})
    assert threads and threads[0] != threading.get_ident()


@pytest.mark.parametrize(
    "answer",
    [None, "yes", {"isAuthorized": "true"}, {"isAuthorized": True, "deniedFields": "Query.x"},
     {"isAuthorized": True, "ttlOverride": -1}, {"isAuthorized": True, "resolverContext": [1]}],
)
async def test_nonsense_answers_deny(answer) -> None:
    with pytest.raises(Unauthorized, match="Lambda authorizer"):
        await make(lambda e: answer).authorize("t", headers={})


async def test_raising_and_slow_authorizers_deny() -> None:
    def boom(event):
        raise RuntimeError("db down")

    with pytest.raises(Unauthorized, match="failed: RuntimeError"):
        await make(boom).authorize("t", headers={})

    async def slow(event):
        await asyncio.sleep(5)
        return {"isAuthorized": True}

    with pytest.raises(Unauthorized, match="timed out"):
        await make(slow, timeout_s=0.05).authorize("t", headers={})


async def test_identity_validation_expression_refuses_before_calling() -> None:
    calls = []
    a = make(lambda e: calls.append(1) or {"isAuthorized": True}, identity_validation_expression=r"custom-[a-z]+")
    with pytest.raises(Unauthorized, match="identity_validation_expression"):
        await a.authorize("other", headers={})
    assert calls == []
    await a.authorize("custom-abc", headers={})
    assert calls == [1]


def test_function_loading_and_config_errors(tmp_path) -> None:
    (tmp_path / "authz.py").write_text("def check(event):\n    return {'isAuthorized': True}\n")
    fn = load_function("authz:check", tmp_path)
    assert fn({})["isAuthorized"] is True
    with pytest.raises(ConfigError, match="nope"):
        load_function("authz:nope", tmp_path)
    with pytest.raises(ConfigError, match="module:function"):
        load_function("authz")
    with pytest.raises(ConfigError, match="ttl"):
        LambdaConfig(ttl_s=4000)
    with pytest.raises(ConfigError, match="identity_validation_expression"):
        LambdaConfig(identity_validation_expression="(")


async def test_concurrent_requests_with_one_token_share_one_call_and_keep_their_ip() -> None:
    calls = []

    async def authorizer(event):
        calls.append(1)
        await asyncio.sleep(0.05)
        return {"isAuthorized": True, "resolverContext": {"n": 1}}

    a = make(authorizer)
    idents = await asyncio.gather(*(a.authorize("t", headers={}, source_ip=f"10.0.0.{i}") for i in range(20)))
    assert len(calls) == 1
    assert [i.source_ip for i in idents] == [f"10.0.0.{i}" for i in range(20)]
    with pytest.raises(TypeError):
        idents[0].resolver_context["n"] = 2  # shared through the cache: read-only


async def test_a_cancelled_waiter_does_not_cancel_the_shared_call() -> None:
    gate = asyncio.Event()
    calls = []

    async def authorizer(event):
        calls.append(1)
        await gate.wait()
        return {"isAuthorized": True}

    a = make(authorizer)
    first = asyncio.ensure_future(a.authorize("t", headers={}))
    second = asyncio.ensure_future(a.authorize("t", headers={}))
    await asyncio.sleep(0.01)
    first.cancel()
    gate.set()
    assert (await second).auth_mode == "AWS_LAMBDA" and len(calls) == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_authorizer_exception_text_is_not_logged_at_warning(caplog) -> None:
    import logging

    def leaky(event):
        raise ValueError(f"bad token {event['authorizationToken']}")

    caplog.set_level(logging.WARNING, logger="syncline.auth")
    with pytest.raises(Unauthorized, match="failed: ValueError"):
        await make(leaky).authorize("secret-token-42", headers={})
    assert "secret-token-42" not in caplog.text
