"""Resolvers: the generated model operations over the Store, and user data sources.

A user resolver is bound to any `Type.field` from syncline.toml:

- a Python function (`"resolvers:hello"`), the local stand-in for an AppSync direct-Lambda data
  source: it gets the same event a Lambda would (`arguments`, `identity`, `source`, `info`,
  `request`, `prev`, `stash`), and the RequestContext too if it takes a second parameter;
- an HTTP data source (`{http = URL, method, headers, timeout}`), which receives that event as
  a JSON body and answers with the field's value as JSON.

Errors raised here (all reach the client through `format_error`):

    SynclineError (server.errors)
    └── ServerError
        └── DataSourceError          a user function or HTTP data source failed
            └── DataSourceTimeout    ... and did not answer in time (also a TimeoutError)
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, TypedDict, Union

import aiohttp
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    print_ast,
)
from graphql import GraphQLResolveInfo as _GraphQLResolveInfo

from server.auth.policy import combine_filters, policy_for
from server.context import BASE_SYNC, REPLAYED, RequestContext
from server.errors import BadRequest, ConfigError, LimitExceeded, ServerError, SynclineError, Unauthorized
from server.filters import check_filter
from server.loader import load_callable
from server.models import ModelSpec
from server.schema.expand import Relation
from server.schema.scalars import serialize_aws_json_value

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "DataSourceError",
    "DataSourceTimeout",
    "FunctionResolver",
    "HttpResolver",
    "LambdaEvent",
    "ResolverBinding",
    "appsync_event",
    "load_resolvers",
    "model_resolver",
    "relation_resolver",
    "user_resolver",
]

log = logging.getLogger("syncline.resolvers")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Resolver = Callable[..., Awaitable[Any]]
GraphQLResolveInfo = _GraphQLResolveInfo[Any]


class DataSourceError(ServerError):
    """A user function or HTTP data source failed; `error_type` is what it reported."""

    error_type = "DataSourceError"

    def __init__(self, message: str, *, error_type: str | None = None, data: Any = None) -> None:
        super().__init__(message, data=data)
        if error_type:
            self.error_type = error_type


class DataSourceTimeout(DataSourceError, TimeoutError):
    error_type = "DataSourceTimeout"


# --------------------------------------------------------------------------- bindings


@dataclass(frozen=True, kw_only=True)
class FunctionResolver:
    """A Python function data source (sync or async)."""

    fn: Callable[..., Any]
    #: Where it came from, for messages (`"resolvers:hello"`).
    ref: str = ""
    #: Whether it takes a second parameter (the RequestContext); None: look at its signature.
    wants_context: bool | None = None

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ConfigError(f"resolver {self.ref or self.fn!r} is not callable")
        if self.wants_context is None:
            object.__setattr__(self, "wants_context", _wants_context(self.fn))
        if not self.ref:
            object.__setattr__(self, "ref", getattr(self.fn, "__qualname__", repr(self.fn)))

    @classmethod
    def of(cls, fn: Callable[..., Any], ref: str = "") -> "FunctionResolver":
        return cls(fn=fn, ref=ref)


@dataclass(frozen=True, kw_only=True)
class HttpResolver:
    """An HTTP data source: the Lambda-style event is POSTed as JSON, the JSON reply is the value."""

    url: str
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds for the whole exchange; None waits forever.
    timeout: float | None = 10.0


ResolverBinding = Union[FunctionResolver, HttpResolver]


def _wants_context(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def load_resolvers(spec: Mapping[str, Any], project_dir: Path | str) -> dict[str, ResolverBinding]:
    """Turn syncline.toml's `[resolvers]` table into bindings.

    Args:
        spec: `"Type.field"` → `"module:function"` (imported from the project folder), or a
            table `{http = URL, method = "POST", headers = {...}, timeout = 10}`, or
            `{function = "module:function"}`.
        project_dir: the project folder the modules live in.

    Returns:
        `"Type.field"` → binding. Whether the field exists is checked by `build_schema`.

    Raises:
        ConfigError: naming the `[resolvers]` key when the key, module, function or table is wrong.
    """
    out: dict[str, ResolverBinding] = {}
    for key, value in spec.items():
        what = f"[resolvers] {key!r}"
        type_name, dot, field_name = key.partition(".")
        if not dot or not type_name.isidentifier() or not field_name.isidentifier():
            raise ConfigError(f"{what}: keys are \"Type.field\", e.g. \"Query.hello\"")
        if isinstance(value, str):
            out[key] = FunctionResolver.of(load_callable(value, Path(project_dir), what=what), value)
            continue
        if not isinstance(value, Mapping):
            raise ConfigError(f"{what}: expected \"module:function\" or a table with `http` or `function`")
        unknown = set(value) - {"http", "method", "headers", "timeout", "function"}
        if unknown:
            raise ConfigError(
                f"{what}: unknown key(s) {', '.join(sorted(unknown))} (known: function, http, method, headers, timeout)"
            )
        if ("http" in value) == ("function" in value):
            raise ConfigError(f"{what}: give exactly one of `http = \"https://...\"` or `function = \"module:function\"`")
        if "function" in value:
            ref = value["function"]
            if not isinstance(ref, str):
                raise ConfigError(f"{what}: `function` must be a \"module:function\" string")
            out[key] = FunctionResolver.of(load_callable(ref, Path(project_dir), what=what), ref)
            continue
        url = value["http"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{what}: `http` must be an http:// or https:// URL, got {url!r}")
        method = value.get("method", "POST")
        if not isinstance(method, str) or method.upper() not in ("POST", "PUT", "PATCH"):
            raise ConfigError(f"{what}: `method` must be POST, PUT or PATCH (the event is sent as the body)")
        headers = value.get("headers", {})
        if not isinstance(headers, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise ConfigError(f"{what}: `headers` must be a table of strings")
        timeout = value.get("timeout", 10.0)
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ConfigError(f"{what}: `timeout` must be a positive number of seconds")
        out[key] = HttpResolver(
            url=url, method=method.upper(), headers=dict(headers), timeout=float(timeout) if timeout is not None else None
        )
    return out


# --------------------------------------------------------------------------- model resolvers


def _context(info: GraphQLResolveInfo) -> RequestContext:
    ctx = info.context
    if not isinstance(ctx, RequestContext):
        raise TypeError(f"info.context must be a RequestContext, got {type(ctx).__name__}")
    return ctx


def _limit(value: Any) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if value < 1:
        raise BadRequest(f"limit must be at least 1, got {value}")
    if value > MAX_LIMIT:
        raise LimitExceeded(f"limit {value} is above the maximum of {MAX_LIMIT}; page with nextToken instead")
    return int(value)


def model_resolver(spec: ModelSpec, op: str, *, defaults: Mapping[str, Any] | None = None) -> Resolver:
    """The resolver of one generated root field (`op`: get list sync create update delete).

    `defaults` (from `@default`) fill fields a `create` input leaves out. The model's `@auth`
    rules are enforced here (server.auth.policy): reads AND the caller's row filter into the
    store query, so paging, nextTokens and client filters only ever see permitted rows; a
    create gets its owner field set; an update or delete of a row the caller may not touch
    fails with Unauthorized before anything is written.
    """
    model = spec.name
    fill = dict(defaults or {}) if op == "create" else {}
    policy = policy_for(spec)

    async def get(_: Any, info: GraphQLResolveInfo, *, id: str) -> Any:
        ctx = _context(info)
        if not policy.may_attempt(ctx.identity, "get"):
            raise Unauthorized(f"Not Authorized to access {info.field_name} on type {info.parent_type.name}")
        item = await ctx.store.get(model, id, identity=ctx.identity)
        if item is not None and not policy.can(ctx.identity, "get", item):
            raise Unauthorized(f"Not Authorized to access {info.field_name} on type {info.parent_type.name}")
        return item

    async def list_(
        _: Any, info: GraphQLResolveInfo, *, filter: Any = None, limit: Any = None, nextToken: Any = None
    ) -> Any:
        ctx = _context(info)
        check_filter(spec, filter, what="filter")
        rows = policy.row_filter(ctx.identity, "list")
        page = await ctx.store.list(
            model, identity=ctx.identity, filter=combine_filters(filter, rows), limit=_limit(limit), next_token=nextToken
        )
        return {"items": page.items, "nextToken": page.next_token, "startedAt": None}

    async def sync(
        _: Any,
        info: GraphQLResolveInfo,
        *,
        filter: Any = None,
        limit: Any = None,
        nextToken: Any = None,
        lastSync: Any = None,
    ) -> Any:
        ctx = _context(info)
        check_filter(spec, filter, what="filter")
        rows = policy.row_filter(ctx.identity, "sync")
        page = await ctx.store.sync(
            model,
            identity=ctx.identity,
            last_sync=lastSync,
            filter=combine_filters(filter, rows),
            limit=_limit(limit),
            next_token=nextToken,
        )
        if page.base:
            ctx.stash.setdefault(BASE_SYNC, set()).add(str(info.path.key))
        return {"items": page.items, "nextToken": page.next_token, "startedAt": page.started_at}

    def prepared(input: Mapping[str, Any]) -> dict[str, Any]:
        return _with_defaults(input, fill) if fill else dict(input)

    async def authorized_input(ctx: RequestContext, name: str, input: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        """The input to write and the extra condition that keeps the check atomic (only
        called for models with @auth rules and callers other than the system)."""
        identity = ctx.identity
        data = prepared(input)
        if name == "create":
            data = policy.owner_value_for_create(identity, data)
            if not policy.rules:  # with model rules, owner_value_for_create checked the fields
                policy.check_input_fields(identity, "create", data, existing=None)
            return data, None
        if not policy.may_attempt(identity, name):
            raise Unauthorized(f"Not Authorized to {name} {model}")
        existing = await ctx.store.get(model, str(data.get("id")), identity=identity)
        if existing is None:
            return data, None  # the store answers for a missing item
        policy.authorize(identity, name, existing)
        if name == "update":
            policy.check_input_fields(identity, "update", data, existing=existing)
        # The row may change hands between this read and the write: the store re-checks.
        return data, policy.row_filter(identity, name)

    def write(name: str) -> Resolver:
        async def resolve(_: Any, info: GraphQLResolveInfo, *, input: Any, condition: Any = None) -> Any:
            ctx = _context(info)
            check_filter(spec, condition, what="condition")
            method = getattr(ctx.store, name)
            if unguarded or ctx.identity.is_system:  # no @auth rules: no read, no coroutine
                data, guard = prepared(input), None
            else:
                data, guard = await authorized_input(ctx, name, input)
            try:
                result = await method(
                    model,
                    data,
                    identity=ctx.identity,
                    condition=combine_filters(condition, guard),
                    mutation_id=ctx.mutation_id_for(str(info.path.key)),
                )
            except SynclineError as exc:
                if isinstance(exc.data, Mapping):
                    # A conflict carries the stored row: only what this caller may read of it.
                    if not policy.can(ctx.identity, "get", exc.data):
                        exc.data = None
                    elif policy.field_rules:
                        exc.data = policy.redact(ctx.identity, dict(exc.data))
                if isinstance(exc.data, Mapping) and json_fields:
                    exc.data = _as_wire(exc.data, json_fields)
                raise
            if result.replayed:
                # Answered from the exactly-once ledger: subscribers already had this event.
                ctx.stash.setdefault(REPLAYED, set()).add(str(info.path.key))
            return result.item

        return resolve

    unguarded = not (policy.rules or policy.field_rules)
    # A conflict's `data` is the server item as stored; AWSJSON fields go out as JSON text,
    # as they would in a query result (DataStore merges `data` into a model instance).
    json_fields = tuple(f.name for f in spec.fields if f.type_name == "AWSJSON")

    table: dict[str, Resolver] = {
        "get": get,
        "list": list_,
        "sync": sync,
        "create": write("create"),
        "update": write("update"),
        "delete": write("delete"),
    }
    return table[op]


def relation_resolver(target: ModelSpec, relation: Relation) -> Resolver:
    """Resolve a relationship field from the parent item's id or foreign key.

    The target model's @auth rules apply as to a list or get of it: rows the caller may not
    read are never joined in.
    """
    fk = relation.fk
    policy = policy_for(target)

    async def many(
        parent: Any,
        info: GraphQLResolveInfo,
        *,
        filter: Any = None,
        sortDirection: Any = None,
        limit: Any = None,
        nextToken: Any = None,
    ) -> Any:
        ctx = _context(info)
        check_filter(target, filter, what="filter")
        join = {fk: {"eq": parent["id"]}}
        page = await ctx.store.list(
            target.name,
            identity=ctx.identity,
            filter=combine_filters(join, filter, policy.row_filter(ctx.identity, "list")),
            limit=_limit(limit),
            next_token=nextToken,
        )
        return {"items": page.items, "nextToken": page.next_token, "startedAt": None}

    async def one_by_reference(parent: Any, info: GraphQLResolveInfo) -> Any:
        ctx = _context(info)
        rows = policy.row_filter(ctx.identity, "get")
        page = await ctx.store.list(
            target.name, identity=ctx.identity, filter=combine_filters({fk: {"eq": parent["id"]}}, rows), limit=1
        )
        return page.items[0] if page.items else None

    async def one_by_key(parent: Any, info: GraphQLResolveInfo) -> Any:
        key = parent.get(fk) if isinstance(parent, Mapping) else None
        if key is None:
            return None
        ctx = _context(info)
        item = await ctx.store.get(target.name, str(key), identity=ctx.identity)
        if item is not None and not policy.can(ctx.identity, "get", item):
            raise Unauthorized(f"Not Authorized to access {info.field_name} on type {info.parent_type.name}")
        return item

    if relation.kind == "hasMany":
        return many
    return one_by_reference if relation.fk_on_target else one_by_key


def _with_defaults(input: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Amplify's @default applies when a field is left out or sent as null."""
    out = dict(input)
    for name, value in defaults.items():
        if out.get(name) is None:
            out[name] = value
    return out


def _as_wire(item: Mapping[str, Any], json_fields: tuple[str, ...]) -> dict[str, Any]:
    out = dict(item)
    for name in json_fields:
        value = out.get(name)
        if value is None:
            continue
        if isinstance(value, list):
            out[name] = [serialize_aws_json_value(v) if v is not None else None for v in value]
        else:
            out[name] = serialize_aws_json_value(value)
    return out


# --------------------------------------------------------------------------- user resolvers


def _selection_set_list(info: GraphQLResolveInfo) -> list[str]:
    """AppSync's `info.selectionSetList`: field paths below this field, `a`, `a/b`, ..."""
    out: dict[str, None] = {}

    def walk(sel: SelectionSetNode | None, prefix: str) -> None:
        if sel is None:
            return
        for node in sel.selections:
            if isinstance(node, FieldNode):
                name = node.name.value
                if name == "__typename":
                    continue
                path = f"{prefix}{name}"
                out[path] = None
                walk(node.selection_set, path + "/")
            elif isinstance(node, InlineFragmentNode):
                walk(node.selection_set, prefix)
            elif isinstance(node, FragmentSpreadNode):
                frag = info.fragments.get(node.name.value)
                if frag is not None:
                    walk(frag.selection_set, prefix)

    for field_node in info.field_nodes:
        walk(field_node.selection_set, "")
    return list(out)


def _selection_set_graphql(info: GraphQLResolveInfo) -> str:
    """AppSync's `info.selectionSetGraphQL`: the field's selection set as GraphQL text."""
    return "\n".join(print_ast(n.selection_set) for n in info.field_nodes if n.selection_set is not None)


def _variables(info: GraphQLResolveInfo) -> dict[str, Any]:
    values: Any = info.variable_values
    # graphql-core 3.3 wraps them in VariableValues(.coerced); 3.2 passed a plain dict.
    return dict(getattr(values, "coerced", values) or {})


class EventInfo(TypedDict):
    fieldName: str
    parentTypeName: str
    variables: dict[str, Any]
    selectionSetList: list[str]
    selectionSetGraphQL: str


class EventRequest(TypedDict):
    headers: dict[str, str]


class LambdaEvent(TypedDict):
    """What an AppSync direct-Lambda resolver receives; user functions get the same."""

    arguments: dict[str, Any]
    identity: dict[str, Any] | None
    source: Any
    info: EventInfo
    request: EventRequest
    prev: None
    stash: dict[str, Any]


def appsync_event(source: Any, info: GraphQLResolveInfo, arguments: Mapping[str, Any]) -> LambdaEvent:
    """The AppSync direct-Lambda event for this field."""
    ctx = _context(info)
    return {
        "arguments": dict(arguments),
        "identity": ctx.identity.to_appsync(),
        "source": source,
        "info": {
            "fieldName": info.field_name,
            "parentTypeName": info.parent_type.name,
            "variables": _variables(info),
            "selectionSetList": _selection_set_list(info),
            "selectionSetGraphQL": _selection_set_graphql(info),
        },
        "request": {"headers": dict(ctx.headers)},
        "prev": None,
        "stash": ctx.stash,
    }


def user_resolver(binding: ResolverBinding, where: str) -> Resolver:
    """Wrap a binding as a graphql-core resolver for the field `where` (`"Query.hello"`)."""
    if isinstance(binding, HttpResolver):
        return _http_resolver(binding, where)
    return _function_resolver(binding, where)


def _function_resolver(binding: FunctionResolver, where: str) -> Resolver:
    fn = binding.fn
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))

    async def resolve(source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Any:
        event = appsync_event(source, info, arguments)
        args: tuple[Any, ...] = (event, _context(info)) if binding.wants_context else (event,)
        try:
            if is_async:
                result = await fn(*args)
            else:
                # A plain function may block (I/O, CPU): keep it off the event loop.
                result = await asyncio.to_thread(fn, *args)
                if inspect.isawaitable(result):
                    result = await result
        except SynclineError:
            raise
        except Exception as exc:
            log.warning("resolver %s (%s) raised %s", where, binding.ref, type(exc).__name__, exc_info=True)
            raise DataSourceError(str(exc) or type(exc).__name__, error_type=type(exc).__name__) from exc
        return result

    return resolve


def _http_resolver(binding: HttpResolver, where: str) -> Resolver:
    label = f"HTTP data source of {where} ({binding.method} {binding.url})"

    async def resolve(source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Any:
        event = appsync_event(source, info, arguments)
        try:
            body = json.dumps(event, default=str).encode()
        except (TypeError, ValueError) as exc:
            raise DataSourceError(f"{label}: the event cannot be encoded as JSON: {exc}") from exc
        headers = {"content-type": "application/json", **binding.headers}
        try:
            # Our timeout, applied here in the adapter; aiohttp's own is switched off.
            async with asyncio.timeout(binding.timeout):
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
                    async with session.request(binding.method, binding.url, data=body, headers=headers) as resp:
                        status = resp.status
                        text = await resp.text(errors="replace")
        except TimeoutError as exc:
            raise DataSourceTimeout(f"{label} did not answer within {binding.timeout:g} s") from exc
        except aiohttp.ClientError as exc:
            raise DataSourceError(f"{label} could not be reached: {type(exc).__name__}: {exc}") from exc
        try:
            payload = json.loads(text) if text.strip() else None
            valid = True
        except ValueError:
            payload, valid = None, False
        if not 200 <= status < 300:
            if isinstance(payload, dict) and isinstance(payload.get("errorMessage"), str):
                # A Lambda-style error body: {"errorType": ..., "errorMessage": ...}.
                raise DataSourceError(
                    payload["errorMessage"], error_type=str(payload.get("errorType") or "DataSourceError")
                )
            raise DataSourceError(f"{label} answered HTTP {status}: {_excerpt(text)}")
        if not valid:
            raise DataSourceError(f"{label} answered with invalid JSON: {_excerpt(text)}")
        return payload

    return resolve


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return (text[:200] + "...") if len(text) > 200 else (text or "(empty body)")
