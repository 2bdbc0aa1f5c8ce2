"""GraphQL execution with a fast path for long lists of flat objects (a sync or list page).

graphql-core completes every field of every object on its own (resolve info, resolver call,
awaitable checks, leaf coercion): about 25 µs per 12-field item, most of the cost of serving a
1,000-item sync page. When every field selected on a list's object type is a leaf (or a list
of leaves) that the default resolver reads from a dict, or that a resolver marked
`item_only` computes from the item alone, `FastListExecutor` builds the list's objects directly,
with the same leaf coercions. Anything else (another resolver, a non-dict item, a coercion that
fails, a null in a non-null field, middleware, @stream/@defer) sends the whole list down
graphql-core's own path, so results and errors are exactly graphql-core's.

A single object (what `createTodo` or `getTodo` returns) is built the same way, with its plan
kept across requests: clients repeat the same few documents, and planning costs as much as
completing four fields. Only selections whose fields do not depend on variables are kept (no
directives, no fragment spreads), and a kept plan is dropped if a field's resolver changes.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from graphql import (
    DocumentNode,
    FieldNode,
    ExecutionResult,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    SelectionSetNode,
    Undefined,
    default_field_resolver,
)
from graphql import execute as _graphql_execute
from graphql.pyutils import AwaitableOrValue, Path

__all__ = ["FastListExecutor", "execute", "item_only"]

_ITEM_ONLY = "_syncline_item_only"
_F = TypeVar("_F", bound=Callable[..., Any])


def item_only(resolve: _F) -> _F:
    """Mark a field resolver that depends on its parent item only (it is called with
    info=None on the fast path), is synchronous and has no side effects."""
    setattr(resolve, _ITEM_ONLY, True)
    return resolve


#: Leaf values as JSON decodes them; anything else (a callable the default resolver would call,
#: an Exception graphql-core would raise, a datetime, ...) takes graphql-core's path.
_PLAIN = frozenset({str, int, float, bool})


class _Fallback(Exception):
    """The fast path cannot produce exactly graphql-core's answer for this list."""


#: One selected field: (response key, field name, item-only resolver or None, the handler that
#: turns the field's value into its completed value or raises _Fallback).
_Plan = tuple[str, str, Callable[..., Any] | None, Callable[[Any], Any]]

#: graphql-core's String, ID and Boolean give back a str (str, bool) value unchanged.
_SAME: dict[Any, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}
#: Coerced through graphql-core as they are (cheap, and Int/Float have range checks).
_BUILTIN = (GraphQLString, GraphQLID, GraphQLBoolean, GraphQLInt, GraphQLFloat)

try:  # graphql-core >= 3.3 (Executor classes); older versions execute without the fast path
    from graphql.execution.incremental.incremental_executor import IncrementalExecutor as _Base
except ImportError:  # pragma: no cover
    _Base = None  # type: ignore[misc,assignment]


if _Base is not None:

    class FastListExecutor(_Base):
        def complete_list_value(
            self,
            return_type: GraphQLList[GraphQLOutputType],
            field_details_list: Any,
            info: GraphQLResolveInfo[Any],
            path: Path,
            result: Any,
            position_context: Any,
        ) -> AwaitableOrValue[list[Any]]:
            if type(result) is list and len(result) > 1:
                fast = self._fast_list(return_type.of_type, field_details_list, path, result)
                if fast is not None:
                    return fast
            return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)

        def complete_object_value(
            self,
            return_type: GraphQLObjectType,
            field_details_list: Any,
            info: GraphQLResolveInfo[Any],
            path: Path,
            result: Any,
            position_context: Any,
        ) -> AwaitableOrValue[dict[str, Any]]:
            if type(result) is dict and return_type.is_type_of is None and self.middleware_manager is None:
                fast: dict[str, Any] | None = self._fast_object(return_type, field_details_list, result)
                if fast is not None:
                    return fast
            return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)

        def _fast_object(self, parent: GraphQLObjectType, field_details_list: Any, item: dict[str, Any]) -> Any:
            if self.field_resolver is not default_field_resolver:
                return None
            key = (id(self.schema), id(parent), *[id(d.node) for d in field_details_list])
            entry = _OBJECT_PLANS.get(key)
            if entry is None:
                entry = self._object_plan(parent, field_details_list)
                if len(_OBJECT_PLANS) >= _MAX_OBJECT_PLANS:
                    _OBJECT_PLANS.clear()
                _OBJECT_PLANS[key] = entry
            _pins, plan, resolvers = entry
            if plan is None:
                return None
            for field, resolve in resolvers:
                if field.resolve is not resolve:  # re-wrapped since (e.g. a Lambda's deniedFields)
                    _OBJECT_PLANS.pop(key, None)
                    return None
            try:
                return _build(item, plan, False)
            except Exception:  # _Fallback, or a coercion/resolver error: graphql-core reports it
                return None

        def _object_plan(self, parent: GraphQLObjectType, field_details_list: Any) -> _ObjectPlan:
            # The entry keeps the schema, type and nodes alive, so the ids in its key stay theirs.
            pins = (self.schema, parent, [d.node for d in field_details_list])
            if not all(_static(d) for d in field_details_list):
                return pins, None, ()
            try:
                plan = self._plan(parent, field_details_list, memoize=False)
            except Exception:
                plan = None
            if plan is None:
                return pins, None, ()
            fields = [(parent.fields[name], resolve) for _key, name, resolve, _c in plan if name != "__typename"]
            return pins, plan, tuple(fields)

        def _fast_list(self, item_type: GraphQLOutputType, field_details_list: Any, path: Path, items: list[Any]) -> list[Any] | None:
            nullable_items = not isinstance(item_type, GraphQLNonNull)
            if isinstance(item_type, GraphQLNonNull):
                item_type = item_type.of_type
            if (
                not isinstance(item_type, GraphQLObjectType)
                or item_type.is_type_of is not None
                or self.middleware_manager is not None
                or self.get_stream_usage(field_details_list, path) is not None
            ):
                return None
            try:
                plan = self._plan(item_type, field_details_list)
                if plan is None:
                    return None
                return [_build(item, plan, nullable_items) for item in items]
            except Exception:  # _Fallback, or a coercion/resolver error: graphql-core reports it
                return None

        def _plan(self, parent: GraphQLObjectType, field_details_list: Any, memoize: bool = True) -> list[_Plan] | None:
            grouped, new_defer_usages, *_ = self.collect_subfields(parent, field_details_list)
            if new_defer_usages:
                return None
            plan: list[_Plan] = []
            memos: dict[GraphQLScalarType, Callable[[Any], Any]] = {}
            for key, details in grouped.items():
                if any(d.defer_usage is not None for d in details):
                    return None
                node = details[0].node
                name = node.name.value
                if name == "__typename":
                    plan.append((key, name, _constant(parent.name), _leaf(True, str, _unused)))
                    continue
                field = self.schema.get_field(parent, name)
                if field is None or field.args or node.arguments:
                    return None
                resolve = field.resolve
                if resolve is None:
                    if self.field_resolver is not default_field_resolver:
                        return None
                elif not getattr(resolve, _ITEM_ONLY, False):
                    return None
                t: Any = field.type
                non_null = isinstance(t, GraphQLNonNull)
                if non_null:
                    t = t.of_type
                is_list = isinstance(t, GraphQLList)
                inner_non_null = False
                if is_list:
                    t = t.of_type
                    inner_non_null = isinstance(t, GraphQLNonNull)
                    if inner_non_null:
                        t = t.of_type
                if not isinstance(t, (GraphQLScalarType, GraphQLEnumType)):
                    return None
                coerce = t.coerce_output_value
                if memoize and not (t in _BUILTIN or isinstance(t, GraphQLEnumType)):
                    # AWSDateTime & co. validate by regex: once per distinct text per list and
                    # scalar (createdAt and updatedAt are often equal).
                    coerce = memos.get(t) or memos.setdefault(t, _memoized(coerce))
                leaf = _leaf(inner_non_null if is_list else non_null, _SAME.get(t), coerce)
                plan.append((key, name, resolve, _list(non_null, leaf) if is_list else leaf))
            return plan

    #: Single-object plans by (schema, type, field nodes): (what the key's ids refer to, the
    #: plan or None when the fast path does not apply, the (field, resolver) pairs planned).
    _ObjectPlan = tuple[Any, "list[_Plan] | None", tuple[tuple[Any, Any], ...]]
    _OBJECT_PLANS: dict[tuple[int, ...], _ObjectPlan] = {}
    _MAX_OBJECT_PLANS = 2048

    def _static(details: Any) -> bool:
        """Whether the fields collected under this node are the same for any variables."""
        if details.defer_usage is not None or getattr(details, "fragment_variable_values", None) is not None:
            return False
        return details.node.selection_set is not None and _plain(details.node.selection_set)

    def _plain(selection_set: SelectionSetNode) -> bool:
        for sel in selection_set.selections:
            if sel.directives:
                return False
            if isinstance(sel, InlineFragmentNode):
                if not _plain(sel.selection_set):
                    return False
            elif not isinstance(sel, FieldNode):  # a fragment spread
                return False
        return True

    def _unused(value: Any) -> Any:  # pragma: no cover
        raise _Fallback

    def _constant(value: str) -> Callable[[Any, Any], str]:
        return lambda _item, _info: value

    def _memoized(coerce: Callable[[Any], Any]) -> Callable[[Any], Any]:
        memo: dict[str, Any] = {}

        def coerce_text(value: Any) -> Any:
            if type(value) is not str:
                return coerce(value)
            out = memo.get(value)
            if out is None:
                out = memo[value] = coerce(value)
            return out

        return coerce_text

    def _leaf(non_null: bool, same: type | None, coerce: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """graphql-core's completion of a leaf value, or _Fallback where it would not simply
        coerce it (a null in a non-null field, a callable, an Exception, a failed coercion)."""

        def complete(value: Any) -> Any:
            if type(value) is same:
                return value
            if value is None:
                if non_null:
                    raise _Fallback
                return None
            if type(value) not in _PLAIN:
                raise _Fallback
            out = coerce(value)
            if out is None or out is Undefined:
                raise _Fallback
            return out

        return complete

    def _list(non_null: bool, leaf: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def complete(value: Any) -> Any:
            if value is None:
                if non_null:
                    raise _Fallback
                return None
            if type(value) is not list:
                raise _Fallback
            return [leaf(v) for v in value]

        return complete

    def _build(item: Any, plan: list[_Plan], nullable: bool) -> Any:
        if type(item) is not dict:
            if item is None and nullable:
                return None
            raise _Fallback
        get = item.get
        return {key: complete(get(name) if resolve is None else resolve(item, None)) for key, name, resolve, complete in plan}

else:  # pragma: no cover
    FastListExecutor = None  # type: ignore[misc,assignment]


def execute(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    variable_values: dict[str, Any] | None = None,
    operation_name: str | None = None,
    context_value: Any = None,
) -> AwaitableOrValue[ExecutionResult]:
    """graphql-core's `execute`, through `FastListExecutor` when graphql-core has executors."""
    if FastListExecutor is None:  # pragma: no cover
        return _graphql_execute(
            schema, document, variable_values=variable_values, operation_name=operation_name, context_value=context_value
        )
    return _graphql_execute(
        schema,
        document,
        variable_values=variable_values,
        operation_name=operation_name,
        context_value=context_value,
        executor_class=FastListExecutor,
    )
