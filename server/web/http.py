"""GraphQL over HTTP (aiohttp adapter), following the GraphQL-over-HTTP spec.

POST /graphql with a JSON body, GET /graphql?query=... for queries. A client that accepts
`application/graphql-response+json` gets the spec's status codes (400 when the request never
reached execution); a legacy `application/json` client gets 200 for every well-formed request,
as AppSync answers. A browser GET without a query gets the explorer page.

The adapter owns I/O only: read the body (bounded), authenticate, parse and validate (cached
per document text, since clients repeat the same few documents), execute with a
RequestContext, format errors the AppSync way.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, Protocol

from aiohttp import web
from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule

from server.auth.identity import Identity
from server.context import BASE_SYNC, RequestContext
from server.errors import BadRequest, Unauthorized
from server.schema.execution import execute
from server.store.base import Store
from server.web.limits import check_cost, depth_rule, fragments_of

log = logging.getLogger("syncline.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
EXPLORER_HTML = (Path(__file__).parent / "explorer.html").read_text(encoding="utf-8")
#: `json.dumps(payload, separators=(",", ":"), default=str)`, without a new encoder per call.
_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


class Authenticator(Protocol):
    """Turns request headers into an Identity or raises Unauthorized (server.auth)."""

    async def authenticate(
        self,
        headers: Mapping[str, str],
        *,
        method: str,
        path: str,
        query: str,
        body: bytes,
        source_ip: str | None,
    ) -> Identity: ...


ErrorFormatter = Callable[[GraphQLError, bool], dict[str, Any]]
#: Serves a subscription POSTed over HTTP (AppSync's MQTT mode, server/mqtt/): (request,
#: identity, document, operation, params, format_error) → (status, body).
SubscriptionHandshake = Callable[
    [web.Request, Identity, DocumentNode, OperationDefinitionNode, Mapping[str, Any], ErrorFormatter],
    Awaitable[tuple[int, dict[str, Any]]],
]


@dataclass(frozen=True, kw_only=True)
class HttpLimits:
    max_body_bytes: int = 1_048_576
    max_query_depth: int = 15
    max_query_cost: int = 100_000
    introspection: bool = True
    document_cache_size: int = 512


@dataclass(frozen=True)
class _Prepared:
    document: DocumentNode
    errors: list[GraphQLError]
    fragments: dict[str, FragmentDefinitionNode]


class GraphQLHttpHandler:
    """The POST/GET /graphql endpoint."""

    def __init__(
        self,
        *,
        schema: GraphQLSchema,
        store: Store,
        authenticator: Authenticator,
        format_error: ErrorFormatter,
        limits: HttpLimits = HttpLimits(),
        debug: bool = False,
        on_result: Callable[[str, str, float], None] | None = None,
        throttle: Callable[[Identity, str], float | None] | None = None,
    ) -> None:
        self._schema = schema
        self._store = store
        self._auth = authenticator
        self._format_error = format_error
        self._limits = limits
        self._debug = debug
        self._on_result = on_result
        self._throttle = throttle
        self._cache: OrderedDict[str, _Prepared] = OrderedDict()
        #: Set by the composition root when MQTT serves subscriptions posted over HTTP.
        self.subscription_handshake: SubscriptionHandshake | None = None
        rules: list[Any] = [depth_rule(limits.max_query_depth)]
        if not limits.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        self._extra_rules = rules

    # -- aiohttp entry points -------------------------------------------------------------

    async def get(self, request: web.Request) -> web.StreamResponse:
        if "query" not in request.query:
            if "text/html" in request.headers.get("Accept", ""):
                return web.Response(text=EXPLORER_HTML, content_type="text/html")
            return self._reply(request, 400, _error_body("GET /graphql needs a `query` parameter", "BadRequest"))
        try:
            variables = _json_param(request.query.get("variables"), "variables")
            extensions = _json_param(request.query.get("extensions"), "extensions")
        except BadRequest as exc:
            return self._reply(request, 400, _error_body(exc.message, exc.error_type))
        params = {
            "query": request.query["query"],
            "variables": variables,
            "operationName": request.query.get("operationName"),
            "extensions": extensions,
        }
        return await self._run(request, params, body=b"", allow_mutation=False)

    async def post(self, request: web.Request) -> web.StreamResponse:
        limit = self._limits.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return self._reply(
                request, 413, _error_body(f"request body is {request.content_length} bytes; the limit is {limit}", "LimitExceeded")
            )
        body = await request.content.read(limit + 1)
        if len(body) > limit:
            return self._reply(request, 413, _error_body(f"request body exceeds the limit of {limit} bytes", "LimitExceeded"))
        ctype = request.headers.get("Content-Type", JSON).split(";")[0].strip().lower()
        try:
            if ctype == "application/graphql":
                params: Any = {"query": body.decode("utf-8")}
            elif ctype in (JSON, GRAPHQL_RESPONSE, ""):
                params = json.loads(body)
            else:
                return self._reply(
                    request, 415, _error_body(f"unsupported Content-Type {ctype!r}; send application/json", "BadRequest")
                )
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self._reply(request, 400, _error_body(f"request body is not valid JSON: {exc}", "BadRequest"))
        if isinstance(params, list):
            return self._reply(request, 400, _error_body("batched requests are not supported; send one operation per request", "BadRequest"))
        if not isinstance(params, dict):
            return self._reply(request, 400, _error_body("request body must be a JSON object with a `query`", "BadRequest"))
        return await self._run(request, params, body=body, allow_mutation=True)

    # -- the pipeline ---------------------------------------------------------------------

    async def _run(
        self, request: web.Request, params: Mapping[str, Any], *, body: bytes, allow_mutation: bool
    ) -> web.StreamResponse:
        started = time.perf_counter()
        query = params.get("query")
        variables = params.get("variables")
        op_name = params.get("operationName")
        extensions = params.get("extensions")
        if not isinstance(query, str) or not query.strip():
            return self._reply(request, 400, _error_body("the request has no `query` string", "BadRequest"))
        if variables is not None and not isinstance(variables, dict):
            return self._reply(request, 400, _error_body("`variables` must be a JSON object", "BadRequest"))
        if op_name is not None and not isinstance(op_name, str):
            return self._reply(request, 400, _error_body("`operationName` must be a string", "BadRequest"))
        if extensions is not None and not isinstance(extensions, dict):
            return self._reply(request, 400, _error_body("`extensions` must be a JSON object", "BadRequest"))

        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            identity = await self._auth.authenticate(
                headers,
                method=request.method,
                path=request.rel_url.raw_path,  # SigV4 signs the path as sent
                query=request.query_string,
                body=body,
                source_ip=request.remote,
            )
        except Unauthorized as exc:
            log.warning("unauthorized request from %s: %s", request.remote, exc.message)
            return self._reply(
                request,
                401,
                {"errors": [{"errorType": "UnauthorizedException", "message": "You are not authorized to make this call."}]},
            )

        prepared = self._prepare(query)
        if prepared.errors:
            return self._finish(request, started, "invalid", 400, {"errors": [self._format(e) for e in prepared.errors]})
        operation = select_operation(prepared.document, op_name)
        if operation is None:
            msg = (
                f"no operation named {op_name!r} in the document"
                if op_name
                else "the document has several operations; send `operationName`"
            )
            return self._finish(request, started, "invalid", 400, _error_body(msg, "BadRequest"))
        if operation.operation == OperationType.SUBSCRIPTION and self.subscription_handshake is None:
            return self._finish(
                request,
                started,
                "invalid",
                400,
                _error_body("subscriptions are served over WebSocket at /graphql, not over HTTP", "BadRequest"),
            )
        if operation.operation == OperationType.MUTATION and not allow_mutation:
            return self._reply(
                request, 405, _error_body("mutations must be sent with POST", "BadRequest"), allow="POST"
            )
        if self._throttle is not None:
            retry_after = self._throttle(identity, operation.operation.value)
            if retry_after is not None:
                return self._finish(
                    request,
                    started,
                    "throttled",
                    429,
                    _error_body(f"Rate exceeded: retry after {retry_after:.2f} s", "ThrottlingException"),
                    operation=operation,
                    headers={"Retry-After": str(max(1, round(retry_after)))},
                )
        cost_error = check_cost(operation, prepared.fragments, variables or {}, self._limits.max_query_cost)
        if cost_error is not None:
            return self._finish(request, started, "invalid", 400, {"errors": [self._format(cost_error)]})
        if operation.operation == OperationType.SUBSCRIPTION and self.subscription_handshake is not None:
            # AppSync's MQTT mode (server/mqtt/): validated, throttled and costed like any operation.
            status, answer = await self.subscription_handshake(
                request, identity, prepared.document, operation, params, self._format_error
            )
            outcome = "ok" if status == 200 and "errors" not in answer else "error"
            return self._finish(request, started, outcome, status, answer, operation=operation)

        try:
            client_id, seq = parse_mutation_id(extensions)
        except BadRequest as exc:
            return self._finish(request, started, "invalid", 400, _error_body(exc.message, exc.error_type))
        context = RequestContext(
            identity=identity,
            store=self._store,
            headers=headers,
            client_id=client_id,
            seq=seq,
        )
        result = execute(
            self._schema,
            prepared.document,
            variable_values=variables,
            operation_name=op_name,
            context_value=context,
        )
        if not isinstance(result, ExecutionResult):
            result = await result
        payload: dict[str, Any] = {}
        if result.errors:
            payload["errors"] = [self._format(e) for e in result.errors]
        payload["data"] = result.data
        base_sync = context.stash.get(BASE_SYNC)
        if base_sync:
            payload["extensions"] = {"baseSync": sorted(base_sync)}
        if result.data is None and result.errors and _is_request_error(result.errors):
            # Variable coercion failed: the request never reached execution.
            return self._finish(request, started, "invalid", 400, payload)
        outcome = "error" if result.errors else "ok"
        return self._finish(request, started, outcome, 200, payload, operation=operation)

    def prepare(
        self, query: str
    ) -> tuple[DocumentNode, list[GraphQLError], dict[str, FragmentDefinitionNode]]:
        """Parse and validate `query` with this endpoint's rules, through its document cache.

        Public so that the WebSocket adapter validates exactly as HTTP does (one cache).
        Returns the document, the validation errors and the document's fragments.
        """
        p = self._prepare(query)
        return p.document, p.errors, p.fragments

    def _prepare(self, query: str) -> _Prepared:
        cached = self._cache.get(query)
        if cached is not None:
            self._cache.move_to_end(query)
            return cached
        try:
            document = parse(query)
        except GraphQLError as exc:
            prepared = _Prepared(DocumentNode(definitions=()), [exc], {})
        else:
            errors = validate(self._schema, document)
            if not errors:
                errors = validate(self._schema, document, self._extra_rules)
            prepared = _Prepared(document, list(errors), fragments_of(document))
        self._cache[query] = prepared
        if len(self._cache) > self._limits.document_cache_size:
            self._cache.popitem(last=False)
        return prepared

    def _format(self, error: GraphQLError) -> dict[str, Any]:
        return self._format_error(error, self._debug)

    def _finish(
        self,
        request: web.Request,
        started: float,
        outcome: str,
        status: int,
        payload: dict[str, Any],
        *,
        operation: OperationDefinitionNode | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        if self._on_result is not None:
            name = operation.name.value if operation is not None and operation.name else "anonymous"
            self._on_result(name, outcome, time.perf_counter() - started)
        if status == 400 and GRAPHQL_RESPONSE not in request.headers.get("Accept", ""):
            # A well-formed request whose document failed: legacy JSON clients get 200 (spec §7.1.1).
            status = 200
        return self._reply(request, status, payload, headers=headers)

    def _reply(
        self,
        request: web.Request,
        status: int,
        payload: Mapping[str, Any],
        *,
        allow: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        modern = GRAPHQL_RESPONSE in request.headers.get("Accept", "")
        extra = dict(headers) if headers else None
        if allow or status >= 400:
            extra = extra or {}
            if allow:
                extra["Allow"] = allow
            error_type = _error_type(payload) if status >= 400 else None
            if error_type:
                # As AppSync does: Amplify JS names its error after this header (a 401 becomes
                # "Unauthorized" with a hint); without it every failed request is "Unknown error".
                extra["x-amzn-ErrorType"] = error_type
        return web.Response(
            body=_encode(payload).encode(),
            status=status,
            content_type=GRAPHQL_RESPONSE if modern else JSON,
            headers=extra or None,
        )


def _error_body(message: str, error_type: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "errorType": error_type, "extensions": {"errorType": error_type}}]}


def _json_param(raw: str | None, name: str) -> Any:
    if raw is None or raw == "":
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the `{name}` parameter is not valid JSON: {exc}") from exc


def select_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation to run: the named one, or the only one (None when ambiguous or absent)."""
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return ops[0] if len(ops) == 1 else None
    for op in ops:
        if op.name is not None and op.name.value == name:
            return op
    return None


def parse_mutation_id(extensions: Mapping[str, Any] | None) -> tuple[str | None, int | None]:
    """Validate `extensions.mutationId = {"clientId": str, "seq": int}` (docs/protocol.md)."""
    if not extensions or "mutationId" not in extensions:
        return None, None
    mid = extensions["mutationId"]
    if not isinstance(mid, dict):
        raise BadRequest('extensions.mutationId must be an object {"clientId": "...", "seq": 1}')
    client_id, seq = mid.get("clientId"), mid.get("seq")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= 128:
        raise BadRequest("extensions.mutationId.clientId must be a non-empty string of at most 128 characters")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or seq > 2**63 - 1:
        raise BadRequest("extensions.mutationId.seq must be a non-negative 64-bit integer")
    return client_id, seq


def _is_request_error(errors: list[GraphQLError]) -> bool:
    """True when graphql-core refused the variables before executing any field (no error has a path)."""
    return all(e.path is None for e in errors)


def _error_type(payload: Mapping[str, Any]) -> str | None:
    """The first error's `errorType` (top level or in extensions), for `x-amzn-ErrorType`."""
    errors = payload.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    first = errors[0]
    value = first.get("errorType") or (first.get("extensions") or {}).get("errorType")
    return value if isinstance(value, str) else None
