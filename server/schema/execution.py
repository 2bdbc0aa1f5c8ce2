"""GraphQL execution with a fast path for long lists of flat objects (a sync or list page).

graphql-core completes every field of every object on its own (resolve info, resolver call,
awaitable checks, leaf coercion): about 25 µs per 12-field item, most of the cost of serving a
1,000-item sync page. When every field selected on a list's object type is a leaf (or a list
of leaves) that the default resolver reads from a dict, or that a resolver marked
`item_only` computes from the item alone, `FastListExecutor` builds the list's objects directly,
with the same leaf coercions. Anything else (another resolver, a non-dict item, a coercion that
fails, a null in a non-null field, middleware, @stream/@defer) sends the whole list down
graphql-core's own path, so results and errors are exactly graphql-core's.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
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


#: One selected field: (response key, field name or None for __typename, item-only resolver,
#: non-null, list of leaves, list items non-null, coercion)
_Plan = tuple[str, str | None, Callable[..., Any] | None, bool, bool, bool, Callable[[Any], Any]]

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
            plan = self._plan(item_type, field_details_list)
            if plan is None:
                return None
            try:
                return [_build(item, plan, nullable_items) for item in items]
            except Exception:  # _Fallback, or a coercion/resolver error: graphql-core reports it
                return None

        def _plan(self, parent: GraphQLObjectType, field_details_list: Any) -> list[_Plan] | None:
            grouped, new_defer_usages, *_ = self.collect_subfields(parent, field_details_list)
            if new_defer_usages:
                return None
            plan: list[_Plan] = []
            for key, details in grouped.items():
                if any(d.defer_usage is not None for d in details):
                    return None
                node = details[0].node
                name = node.name.value
                if name == "__typename":
                    plan.append((key, None, None, True, False, False, _constant(parent.name)))
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
                plan.append((key, name, resolve, non_null, is_list, inner_non_null, t.coerce_output_value))
            return plan

    def _constant(value: str) -> Callable[[Any], str]:
        return lambda _: value

    def _build(item: Any, plan: list[_Plan], nullable: bool) -> Any:
        if item is None and nullable:
            return None
        if type(item) is not dict:
            raise _Fallback
        get = item.get
        out: dict[str, Any] = {}
        for key, name, resolve, non_null, is_list, inner_non_null, coerce in plan:
            if name is None:
                out[key] = coerce(None)
                continue
            value = get(name) if resolve is None else resolve(item, None)
            if value is None:
                if non_null:
                    raise _Fallback
                out[key] = None
                continue
            if is_list:
                if type(value) is not list:
                    raise _Fallback
                done: list[Any] = []
                for v in value:
                    if v is None:
                        if inner_non_null:
                            raise _Fallback
                        done.append(None)
                        continue
                    if type(v) not in _PLAIN:
                        raise _Fallback
                    c = coerce(v)
                    if c is None or c is Undefined:
                        raise _Fallback
                    done.append(c)
                out[key] = done
                continue
            if type(value) not in _PLAIN:
                raise _Fallback
            c = coerce(value)
            if c is None or c is Undefined:
                raise _Fallback
            out[key] = c
        return out

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
