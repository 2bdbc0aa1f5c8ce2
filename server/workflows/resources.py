"""Task resources for served workflows: what a Task state's `Resource` does.

    arn:aws:lambda:REGION:ACCOUNT:function:NAME          NAME(payload[, context]) from [workflows].functions
    arn:aws:states:::lambda:invoke[.waitForTaskToken]    the same, {"FunctionName", "Payload"} in, AWS's wrapper out
    arn:aws:states:::syncline:graphql                    {"query", "variables"?, "operationName"?} against
                                                         Syncline's own schema → the operation's `data`
    arn:aws:states:::http:invoke                         {"ApiEndpoint", "Method", "Headers"?, "QueryParameters"?,
                                                         "RequestBody"?} → {"StatusCode", "StatusText", "Headers",
                                                         "ResponseBody"}
    arn:aws:states:::states:startExecution[.sync[:2]]    {"StateMachineArn", "Input"?, "Name"?} (nested execution)

A function may be sync (run in a thread, so it never blocks the loop) or async. Its optional
second argument is the task context, a dict: `executionArn`, `stateName`, `taskToken` (for
`.waitForTaskToken`) and `idempotencyToken`, which is the same every time *this* attempt of
*this* state is run again after a crash — task side effects are at-least-once, so a function
that must not repeat one keys it on that token.

A failing resource raises `TaskFailed(error, cause)`; a Python exception from a function
becomes error = its class name, cause = its message, as `syncline asl run` does.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

import aiohttp
from graphql import GraphQLSchema, graphql

from server.auth.identity import Identity
from server.context import RequestContext
from server.store.base import Store

GRAPHQL_RESOURCE = "arn:aws:states:::syncline:graphql"
HTTP_RESOURCE = "arn:aws:states:::http:invoke"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
START_EXECUTION = "arn:aws:states:::states:startExecution"

FunctionLookup = Callable[[str], Callable[..., Any]]
StartNested = Callable[[str, Any, str | None, str, bool], Awaitable[Any]]


class TaskFailed(Exception):
    """A task's failure as ASL sees it: the error name Retry/Catch match, and a cause."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass(frozen=True, kw_only=True, slots=True)
class GraphQLTarget:
    """Syncline's own schema, the store its resolvers use, and the identity a step acts as."""

    schema: GraphQLSchema
    store: Store
    identity: Identity


class Resources:
    """Runs task resources; one instance per engine.

    Args:
        functions: NAME → callable (Lambda function names), raising LookupError when unknown.
        graphql: the GraphQL resource's target (None: the resource fails with a clear cause).
        start_nested: starts a nested execution (state machine arn, input, name, parent arn, sync).
    """

    def __init__(
        self,
        *,
        functions: FunctionLookup,
        graphql: GraphQLTarget | None = None,
        start_nested: StartNested | None = None,
    ) -> None:
        self._functions = functions
        self.graphql = graphql
        self.start_nested = start_nested
        self._session: aiohttp.ClientSession | None = None
        self._kinds: dict[Callable[..., Any], tuple[bool, bool]] = {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def invoke(self, resource: str, payload: Any, context: Mapping[str, Any]) -> Any:
        """Run `resource` with `payload`; the task result, or TaskFailed."""
        base = resource.removesuffix(".waitForTaskToken")
        if resource.startswith("arn:aws:lambda:"):
            return await self._call(_function_name(resource), payload, context)
        if base == LAMBDA_INVOKE:
            if not isinstance(payload, dict) or not isinstance(payload.get("FunctionName"), str):
                raise TaskFailed("States.Runtime", "lambda:invoke needs a FunctionName string in its Parameters/Arguments")
            value = await self._call(_function_name(payload["FunctionName"]), payload.get("Payload", {}), context)
            return {
                "ExecutedVersion": "$LATEST",
                "Payload": value,
                "SdkHttpMetadata": {"HttpStatusCode": 200},
                "SdkResponseMetadata": {},
                "StatusCode": 200,
            }
        if base == GRAPHQL_RESOURCE:
            return await self._graphql(payload)
        if base == HTTP_RESOURCE:
            return await self._http(payload)
        if resource.startswith(START_EXECUTION):
            return await self._start_execution(resource, payload, context)
        raise TaskFailed(
            "States.TaskFailed",
            f"Syncline cannot run resource {resource!r}: use a Lambda ARN (a function of [workflows].functions), "
            f"{GRAPHQL_RESOURCE}, {HTTP_RESOURCE} or {START_EXECUTION}",
        )

    async def _call(self, name: str, payload: Any, context: Mapping[str, Any]) -> Any:
        try:
            fn = self._functions(name)
        except LookupError as exc:
            raise TaskFailed("Lambda.ResourceNotFoundException", f"Function not found: {name} ({exc})") from exc
        kind = self._kinds.get(fn)
        if kind is None:
            kind = self._kinds[fn] = (_takes_two(fn), inspect.iscoroutinefunction(fn))
        args: tuple[Any, ...] = (payload, dict(context)) if kind[0] else (payload,)
        try:
            if kind[1]:
                result = await fn(*args)
            else:
                result = await asyncio.to_thread(fn, *args)
                if inspect.isawaitable(result):
                    result = await result
        except TaskFailed:
            raise
        except Exception as exc:  # the function's failure is the task's failure
            raise TaskFailed(type(exc).__name__, str(exc)) from exc
        try:
            return _json_copy(result)
        except (TypeError, ValueError) as exc:
            raise TaskFailed("States.Runtime", f"Function {name} returned a value that is not JSON: {exc}") from exc

    async def _graphql(self, payload: Any) -> Any:
        target = self.graphql
        if target is None:
            raise TaskFailed("States.TaskFailed", "The GraphQL resource is not available (no served schema)")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            raise TaskFailed("States.Runtime", f"{GRAPHQL_RESOURCE} needs {{\"query\": \"...\", \"variables\": {{...}}}}")
        variables = payload.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise TaskFailed("States.Runtime", f"{GRAPHQL_RESOURCE}: variables must be an object")
        context = RequestContext(identity=target.identity, store=target.store)
        result = await graphql(
            target.schema,
            payload["query"],
            variable_values=variables,
            operation_name=payload.get("operationName"),
            context_value=context,
        )
        if result.errors:
            error_type = "Syncline.GraphQLError"
            ext = result.errors[0].extensions or {}
            original = result.errors[0].original_error
            if getattr(original, "error_type", None):
                error_type = f"Syncline.{getattr(original, 'error_type')}"
            elif isinstance(ext.get("errorType"), str):
                error_type = f"Syncline.{ext['errorType']}"
            raise TaskFailed(error_type, json.dumps([e.message for e in result.errors]))
        return json.loads(json.dumps(result.data, default=str))

    async def _http(self, payload: Any) -> Any:
        if not isinstance(payload, dict) or not isinstance(payload.get("ApiEndpoint"), str):
            raise TaskFailed("States.Runtime", f"{HTTP_RESOURCE} needs an ApiEndpoint string")
        method = str(payload.get("Method", "GET")).upper()
        headers = {str(k): str(v) for k, v in (payload.get("Headers") or {}).items()}
        params = {str(k): str(v) for k, v in (payload.get("QueryParameters") or {}).items()}
        body = payload.get("RequestBody")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        data: bytes | None = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        try:
            async with self._session.request(method, payload["ApiEndpoint"], headers=headers, params=params, data=data) as r:
                text = await r.text()
                status, reason, resp_headers = r.status, r.reason or "", dict(r.headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise TaskFailed("States.Http.Socket", f"{method} {payload['ApiEndpoint']}: {type(exc).__name__}: {exc}") from exc
        try:
            response_body: Any = json.loads(text)
        except ValueError:
            response_body = text
        if not 200 <= status < 300:
            # AWS: "States.Http.StatusCode.<code>" for a non-2xx answer.
            raise TaskFailed(f"States.Http.StatusCode.{status}", json.dumps({"StatusCode": status, "ResponseBody": response_body}))
        return {"StatusCode": status, "StatusText": reason, "Headers": resp_headers, "ResponseBody": response_body}

    async def _start_execution(self, resource: str, payload: Any, context: Mapping[str, Any]) -> Any:
        if self.start_nested is None:
            raise TaskFailed("States.TaskFailed", "Nested executions are not available here")
        if not isinstance(payload, dict) or not isinstance(payload.get("StateMachineArn"), str):
            raise TaskFailed("States.Runtime", "states:startExecution needs a StateMachineArn string")
        sync = ".sync" in resource
        name = payload.get("Name")
        result = await self.start_nested(
            payload["StateMachineArn"], payload.get("Input", {}), name if isinstance(name, str) else None,
            str(context.get("executionArn", "")), sync,
        )
        # `.sync:2` returns the child's Output as JSON, `.sync` as a JSON string (AWS).
        if resource.endswith(".sync:2") and isinstance(result, dict) and isinstance(result.get("Output"), str):
            result = {**result, "Output": json.loads(result["Output"])}
        return result


class _TooBig(Exception):
    pass


def _json_copy(value: Any) -> Any:
    """A copy of a function's result as JSON would give it back (a task must not share mutable
    state with the function). Small plain values are copied directly — most results are a
    handful of fields, and a JSON round trip costs more than the task itself; anything large or
    unusual (tuples, non-string keys, custom types) takes the exact round trip."""
    budget = [256]

    def copy(v: Any) -> Any:
        t = type(v)
        if v is None or t is str or t is int or t is bool:
            return v
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooBig
        if t is dict:
            out = {}
            for k, x in v.items():
                if type(k) is not str:
                    raise _TooBig
                out[k] = copy(x)
            return out
        if t is list:
            return [copy(x) for x in v]
        raise _TooBig  # floats (NaN/inf, repr), tuples, subclasses: let json decide

    try:
        return copy(value)
    except _TooBig:
        return json.loads(json.dumps(value))


def _takes_two(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


def _function_name(reference: str) -> str:
    """NAME from a function name, `arn:aws:lambda:R:A:function:NAME`, or `...:NAME:QUALIFIER`."""
    parts = reference.split(":")
    if len(parts) >= 7 and parts[5] == "function":
        return parts[6]
    return reference
