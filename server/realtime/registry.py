"""The subscription registry: committed mutations → grouped, filtered, executed, serialised once.

Subscribers with the same subscription field, document, operation name, variables, enhanced
filter and *authorization view* form one group (DESIGN §4). Per event, a group's filters are
evaluated once, its selection executed once (graphql-core `execute` of the subscription document
with the mutation's result as the subscription field's root value, so the payload is exactly
what GraphQL produces for that selection) and serialised once; the same JSON text is then handed
to every subscriber's sink. Per-subscriber work is one `sink.deliver(op_id, payload_json)`.

Filters, all AND-ed (docs/protocol.md "Subscriptions: events, groups, filters, limits"):

1. subscription arguments other than `filter`: equality on the same-named field of the result
   (null/absent arguments do not filter), as AppSync's basic filtering;
2. the generated `filter` argument (`server.filters`, the list queries' language);
3. an AppSync enhanced filter `{"filterGroup": [{"filters": [{fieldName, operator, value}]}]}`
   sent in the request's `extensions`: groups are OR-ed, the filters inside one group AND-ed;
4. the authorization view: the rows the subscriber's identity may read (`row_filter` of the
   model's @auth rules for `listen`), and the fields it may see (`redact`).

Errors:

    SynclineError
    └── ClientError
        └── SubscriptionError   the subscription cannot be registered; carries GraphQL `errors`
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    get_named_type,
)
from graphql.execution.values import get_argument_values, get_variable_values

from server.auth.identity import Identity
from server.auth.policy import ModelPolicy, policy_for, row_filter
from server.context import RequestContext
from server.errors import BadRequest, ClientError, Unauthorized
from server.filters import check_filter, matches
from server.models import ModelSpec
from server.realtime.bus import MutationEvent
from server.store.base import Store

__all__ = [
    "AuthView",
    "ENHANCED_OPERATORS",
    "Sink",
    "Subscriber",
    "SubscriptionError",
    "SubscriptionRegistry",
    "ViewFunction",
    "compile_filter_group",
    "model_view",
]

log = logging.getLogger("syncline.realtime")

#: AppSync enhanced-filter operators (`filterGroup[].filters[].operator`).
ENHANCED_OPERATORS: frozenset[str] = frozenset(
    {"eq", "ne", "le", "lt", "ge", "gt", "contains", "notContains", "beginsWith", "in", "notIn", "between", "containsAny"}
)
#: Limits on enhanced filters. The value-count and field-path limits are AppSync's published
#: ones; the group and condition counts are Syncline's caps (docs/protocol.md).
MAX_FILTER_GROUPS = 10
MAX_CONDITIONS = 5
MAX_IN_VALUES = 5
MAX_CONTAINS_ANY_VALUES = 20
MAX_PATH_DEPTH = 5
MAX_PATH_CHARS = 256
#: Fan-out yields to the event loop after this many deliveries.
YIELD_EVERY = 256


class SubscriptionError(ClientError):
    """A subscription request cannot be registered. `errors` are GraphQL-formatted errors."""

    error_type = "BadRequest"

    def __init__(self, message: str, *, error_type: str | None = None, errors: Sequence[Mapping[str, Any]] | None = None) -> None:
        super().__init__(message)
        if error_type:
            self.error_type = error_type
        self.errors: list[dict[str, Any]] = [dict(e) for e in errors] if errors else [
            {"message": message, "errorType": self.error_type, "extensions": {"errorType": self.error_type}}
        ]


class Sink(Protocol):
    """A connection that takes a payload serialised once per group (the WebSocket adapter)."""

    def deliver(self, op_id: str, payload_json: str) -> None:
        """Queue `payload_json` (`{"data": ..., "errors"?: ...}`) for operation `op_id`; never blocks.

        Every member of a group receives the same `payload_json` object for one event, so a
        sink may encode its frame once per event (keyed on the object's identity).
        """
        ...


@dataclass(frozen=True, kw_only=True)
class AuthView:
    """What one identity may see of a subscription's rows; equal `key`s see exactly the same.

    `rows` is an AppSync filter of the readable rows (None: all); `redact` hides fields from an
    item (None: nothing hidden). Identities with equal keys share a fan-out group.
    """

    key: str = "*"
    rows: Mapping[str, Any] | None = None
    redact: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None


#: (identity, model of the subscription's type or None) → AuthView; raises Unauthorized to refuse.
ViewFunction = Callable[[Identity, ModelSpec | None], AuthView]


def model_view(identity: Identity, spec: ModelSpec | None) -> AuthView:
    """The default view: the model's @auth rules for `listen` (server.auth.policy).

    Row rules become a filter (owners and dynamic groups see their rows only); a non-model
    type is visible to whoever passed the field's directives. Field-level rules are applied by
    `ModelPolicy.redact` when the policy has any.
    """
    if spec is None:
        return AuthView()
    rows = row_filter(identity, spec, "listen")
    policy = policy_for(spec)
    redact = _redactor(policy, identity) if policy.field_rules else None
    key = "*" if rows is None else json.dumps(rows, sort_keys=True, default=str)
    if redact is not None:
        key += "|" + json.dumps([identity.auth_mode, identity.sub, identity.username, sorted(identity.groups)], default=str)
    return AuthView(key=key, rows=rows, redact=redact)


def _redactor(policy: ModelPolicy, identity: Identity) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    def redact(item: Mapping[str, Any]) -> Mapping[str, Any]:
        return policy.redact(identity, dict(item), "listen")

    return redact


# --------------------------------------------------------------------------- enhanced filters

Condition = tuple[tuple[str, ...], str, Any]


def compile_filter_group(spec: Any) -> tuple[tuple[Condition, ...], ...] | None:
    """Validate an AppSync enhanced filter `{"filterGroup": [{"filters": [...]}, ...]}`.

    Returns the groups as tuples of `(path, operator, value)` (None when `spec` is None).

    Raises:
        BadRequest: naming the part at fault and what to send instead.
    """
    if spec is None:
        return None
    where = "extensions.filterGroup"
    if not isinstance(spec, list) or not spec:
        raise BadRequest(f'{where} must be a non-empty list like [{{"filters": [{{"fieldName": "priority", "operator": "eq", "value": "HIGH"}}]}}]')
    if len(spec) > MAX_FILTER_GROUPS:
        raise BadRequest(f"{where} has {len(spec)} filters; the limit is {MAX_FILTER_GROUPS}")
    groups: list[tuple[Condition, ...]] = []
    for i, group in enumerate(spec):
        w = f"{where}[{i}]"
        if not isinstance(group, Mapping) or set(group) != {"filters"} or not isinstance(group["filters"], list):
            raise BadRequest(f'{w} must be an object {{"filters": [...]}}')
        conditions = group["filters"]
        if not conditions:
            raise BadRequest(f"{w}.filters must not be empty")
        if len(conditions) > MAX_CONDITIONS:
            raise BadRequest(f"{w}.filters has {len(conditions)} conditions; the limit is {MAX_CONDITIONS}")
        compiled: list[Condition] = []
        for j, cond in enumerate(conditions):
            compiled.append(_condition(cond, f"{w}.filters[{j}]"))
        groups.append(tuple(compiled))
    return tuple(groups)


def _condition(cond: Any, w: str) -> Condition:
    if not isinstance(cond, Mapping):
        raise BadRequest(f"{w} must be an object {{fieldName, operator, value}}")
    extra = set(cond) - {"fieldName", "operator", "value"}
    if extra:
        raise BadRequest(f"{w} has unknown keys {sorted(extra)}; use fieldName, operator, value")
    name, op = cond.get("fieldName"), cond.get("operator")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{w}.fieldName must be a non-empty string (a field, or a dotted path like \"a.b\")")
    if len(name) > MAX_PATH_CHARS:
        raise BadRequest(f"{w}.fieldName is {len(name)} characters; the limit is {MAX_PATH_CHARS}")
    path = tuple(name.split("."))
    if len(path) > MAX_PATH_DEPTH or not all(path):
        raise BadRequest(f"{w}.fieldName {name!r} must be at most {MAX_PATH_DEPTH} non-empty dotted parts")
    if op not in ENHANCED_OPERATORS:
        raise BadRequest(f"{w}.operator must be one of {', '.join(sorted(ENHANCED_OPERATORS))}, got {op!r}")
    if "value" not in cond:
        raise BadRequest(f"{w} needs a value")
    value = cond["value"]
    if op in ("in", "notIn", "containsAny", "between"):
        limit = {"in": MAX_IN_VALUES, "notIn": MAX_IN_VALUES, "containsAny": MAX_CONTAINS_ANY_VALUES, "between": 2}[op]
        if not isinstance(value, list) or not value:
            raise BadRequest(f"{w}: {op} takes a non-empty list of values")
        if op == "between" and len(value) != 2:
            raise BadRequest(f"{w}: between takes a list of exactly two values [low, high]")
        if len(value) > limit:
            raise BadRequest(f"{w}: {op} takes at most {limit} values, got {len(value)}")
    elif isinstance(value, (list, dict)):
        raise BadRequest(f"{w}: {op} takes a single value (string, number, boolean or null)")
    return path, op, value


_MISSING = object()


def _path_value(item: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = item
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _group_matches(groups: tuple[tuple[Condition, ...], ...], item: Mapping[str, Any]) -> bool:
    for conditions in groups:
        ok = True
        for path, op, value in conditions:
            actual = _path_value(item, path)
            probe = {} if actual is _MISSING else {"v": actual}
            if not matches({"v": {op: value}}, probe):
                ok = False
                break
        if ok:
            return True
    return False


# --------------------------------------------------------------------------- groups


@dataclass(eq=False)
class Subscriber:
    """One registered operation on one connection; pass it back to `unsubscribe`."""

    group: "_Group"
    sink: Sink
    op_id: str


@dataclass(eq=False)
class _Group:
    key: tuple[str, ...]
    field_name: str
    document: DocumentNode
    operation_name: str | None
    variables: dict[str, Any]
    identity: Identity
    equalities: dict[str, Any]
    filter: Mapping[str, Any] | None
    filter_group: tuple[tuple[Condition, ...], ...] | None
    view: AuthView
    members: dict[Subscriber, None] = field(default_factory=dict)

    def accepts(self, item: Mapping[str, Any]) -> bool:
        for name, expected in self.equalities.items():
            if item.get(name, _MISSING) != expected:
                return False
        if self.view.rows is not None and not matches(self.view.rows, item):
            return False
        if self.filter and not matches(self.filter, item):
            return False
        if self.filter_group is not None and not _group_matches(self.filter_group, item):
            return False
        return True


class SubscriptionRegistry:
    """Live subscriptions grouped for fan-out; `dispatch` delivers one committed mutation.

    Args:
        schema: the executable schema (subscription documents are executed against it).
        subscribe_to: subscription field → the mutation fields that feed it (@aws_subscribe).
        models: the @model specs (a subscription returning a model gets its filters checked
            and its @auth rules applied).
        store: handed to nested resolvers through the RequestContext.
        format_error: GraphQL error → AppSync-shaped dict (as HTTP formats them).
        view: identity → AuthView; the default applies the model's @auth rules.
    """

    def __init__(
        self,
        *,
        schema: GraphQLSchema,
        subscribe_to: Mapping[str, Sequence[str]],
        models: Sequence[ModelSpec],
        store: Store,
        format_error: Callable[[GraphQLError, bool], dict[str, Any]],
        view: ViewFunction = model_view,
        on_groups: Callable[[int, int], None] | None = None,
    ) -> None:
        self._schema = schema
        self._store = store
        self._format_error = format_error
        self._view = view
        self._on_groups = on_groups
        self._models = {m.name: m for m in models}
        self._fields_by_mutation: dict[str, list[str]] = {}
        for sub_field, mutations in subscribe_to.items():
            for m in mutations:
                self._fields_by_mutation.setdefault(m, []).append(sub_field)
        self._groups: dict[tuple[str, ...], _Group] = {}
        self._groups_by_field: dict[str, dict[tuple[str, ...], _Group]] = {}
        self.subscribers = 0
        #: Selection executions so far (one per group per matching event): the grouping test counts them.
        self.executions = 0
        self.deliveries = 0

    @property
    def groups(self) -> int:
        return len(self._groups)

    # -- registration ---------------------------------------------------------------------

    def subscribe(
        self,
        *,
        sink: Sink,
        op_id: str,
        document: DocumentNode,
        query: str,
        identity: Identity,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        filter_group: Any = None,
    ) -> Subscriber:
        """Register a validated subscription document for `sink`/`op_id`.

        Raises:
            SubscriptionError: not a subscription, bad variables or filters, or the identity
                may read none of the subscription's rows (`UnauthorizedException`).
        """
        operation = _operation(document, operation_name)
        if operation.operation is not OperationType.SUBSCRIPTION:
            raise SubscriptionError(
                f"this connection only accepts subscriptions here, got a {operation.operation.value}"
            )
        sub_type = self._schema.subscription_type
        if sub_type is None:
            raise SubscriptionError("the schema has no Subscription type")
        node = _root_field(operation.selection_set, _fragments(document))
        field_name = node.name.value
        field_def = sub_type.fields.get(field_name)
        if field_def is None:  # pragma: no cover - validation refuses unknown fields
            raise SubscriptionError(f"Subscription has no field {field_name!r}")
        coerced = get_variable_values(self._schema, operation.variable_definitions or (), dict(variables or {}))
        if isinstance(coerced, list):
            raise SubscriptionError(
                coerced[0].message, errors=[self._format_error(e, False) for e in coerced]
            )
        try:
            arguments = get_argument_values(field_def, node, coerced)
        except GraphQLError as exc:
            raise SubscriptionError(exc.message, errors=[self._format_error(exc, False)]) from exc
        spec = self._models.get(get_named_type(field_def.type).name)
        sub_filter = arguments.pop("filter", None) if spec is not None else None
        try:
            if spec is not None:
                check_filter(spec, sub_filter, what="filter")
            compiled = compile_filter_group(filter_group)
        except BadRequest as exc:
            raise SubscriptionError(exc.message) from exc
        try:
            view = self._view(identity, spec)
        except Unauthorized as exc:
            raise SubscriptionError(exc.message, error_type="Unauthorized") from exc
        equalities = {k: v for k, v in arguments.items() if v is not None}
        raw_vars = dict(variables or {})
        key = (
            field_name,
            query,
            operation_name or "",
            json.dumps(raw_vars, sort_keys=True, default=str),
            json.dumps(filter_group, sort_keys=True, default=str),
            view.key,
        )
        group = self._groups.get(key)
        if group is None:
            group = _Group(
                key=key,
                field_name=field_name,
                document=document,
                operation_name=operation_name,
                variables=raw_vars,
                identity=identity,
                equalities=equalities,
                filter=sub_filter,
                filter_group=compiled,
                view=view,
            )
            self._groups[key] = group
            self._groups_by_field.setdefault(field_name, {})[key] = group
        subscriber = Subscriber(group=group, sink=sink, op_id=op_id)
        group.members[subscriber] = None
        self.subscribers += 1
        self._changed()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget `subscriber` (idempotent); an emptied group goes too."""
        group = subscriber.group
        if group.members.pop(subscriber, _MISSING) is _MISSING:
            return
        self.subscribers -= 1
        if not group.members:
            self._groups.pop(group.key, None)
            by_field = self._groups_by_field.get(group.field_name)
            if by_field is not None:
                by_field.pop(group.key, None)
                if not by_field:
                    del self._groups_by_field[group.field_name]
        self._changed()

    def _changed(self) -> None:
        if self._on_groups is not None:
            self._on_groups(self.subscribers, len(self._groups))

    # -- fan-out --------------------------------------------------------------------------

    async def run(self, events: AsyncIterator[MutationEvent]) -> None:
        """Dispatch every event of `events` (the bus) until cancelled; one bad event is logged."""
        async with aclosing(events) as it:  # type: ignore[type-var]
            async for event in it:
                try:
                    await self.dispatch(event)
                except Exception:  # noqa: BLE001 - fan-out must survive one failing event
                    log.exception("subscription fan-out failed for mutation %s", event.mutation)

    async def dispatch(self, event: MutationEvent) -> int:
        """Deliver one committed mutation to every matching group. Returns the deliveries."""
        fields = self._fields_by_mutation.get(event.mutation)
        if not fields:
            return 0
        item = event.result if isinstance(event.result, Mapping) else {}
        delivered = 0
        for field_name in fields:
            by_field = self._groups_by_field.get(field_name)
            if not by_field:
                continue
            for group in list(by_field.values()):
                if not group.members or not group.accepts(item):
                    continue
                payload = await self._render(group, event.result)
                members = list(group.members)
                live = group.members
                for start in range(0, len(members), YIELD_EVERY):
                    if start:
                        # A 10,000-member group must not stall every other request for its whole
                        # fan-out; a subscriber that leaves meanwhile is skipped below.
                        await asyncio.sleep(0)
                    for sub in members[start : start + YIELD_EVERY]:
                        if sub in live:
                            # Every member gets the same `payload` object: sinks may key caches on it.
                            sub.sink.deliver(sub.op_id, payload)
                            delivered += 1
        self.deliveries += delivered
        return delivered

    async def _render(self, group: _Group, result: Any) -> str:
        """Execute the group's selection once over `result`; the JSON every member receives."""
        self.executions += 1
        value = result
        if group.view.redact is not None and isinstance(result, Mapping):
            value = group.view.redact(result)
        context = RequestContext(identity=group.identity, store=self._store)
        outcome = execute(
            self._schema,
            group.document,
            root_value={group.field_name: value},
            variable_values=group.variables,
            operation_name=group.operation_name,
            context_value=context,
        )
        if not isinstance(outcome, ExecutionResult):
            outcome = await outcome
        payload: dict[str, Any] = {"data": outcome.data}
        if outcome.errors:
            payload["errors"] = [self._format_error(e, False) for e in outcome.errors]
        return json.dumps(payload, separators=(",", ":"), default=str)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        if len(ops) == 1:
            return ops[0]
        raise SubscriptionError("the document has several operations; send `operationName`")
    for op in ops:
        if op.name is not None and op.name.value == name:
            return op
    raise SubscriptionError(f"no operation named {name!r} in the document")


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _root_field(selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]) -> FieldNode:
    """The single root field of a subscription (validation guarantees there is one)."""
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value == "__typename":
                continue
            return sel
        inner: SelectionSetNode | None = None
        if isinstance(sel, InlineFragmentNode):
            inner = sel.selection_set
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
            inner = fragments[sel.name.value].selection_set
        if inner is not None:
            try:
                return _root_field(inner, fragments)
            except SubscriptionError:
                continue
    raise SubscriptionError("a subscription must select exactly one Subscription field")
