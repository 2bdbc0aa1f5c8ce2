"""Query depth and cost limits as graphql-core validation rules.

Depth is a property of the document alone (cached with it); cost depends on the `limit`
variables, so it is checked per request. Cost counts every field once, multiplied by the
page size of the enclosing list fields (a `limit` argument, 100 when absent), which is what
a query can make the server load.
"""

from __future__ import annotations

from typing import Any, Mapping

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from graphql.validation import ValidationContext, ValidationRule

from server.errors import LimitExceeded

DEFAULT_PAGE = 100


def _depth(selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode], seen: frozenset[str]) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            deepest = max(deepest, 1 + _depth(sel.selection_set, fragments, seen))
        elif isinstance(sel, InlineFragmentNode):
            deepest = max(deepest, _depth(sel.selection_set, fragments, seen))
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            frag = fragments.get(name)
            if frag is not None and name not in seen:
                deepest = max(deepest, _depth(frag.selection_set, fragments, seen | {name}))
    return deepest


def _page(field: FieldNode, variables: Mapping[str, Any]) -> int:
    for arg in field.arguments or ():
        if arg.name.value != "limit":
            continue
        if isinstance(arg.value, IntValueNode):
            return max(1, int(arg.value.value))
        if isinstance(arg.value, VariableNode):
            value = variables.get(arg.value.name.value)
            if isinstance(value, int) and not isinstance(value, bool):
                return max(1, value)
        return DEFAULT_PAGE
    return 1


def _cost(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    seen: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            total += 1 + _page(sel, variables) * _cost(sel.selection_set, fragments, variables, seen)
        elif isinstance(sel, InlineFragmentNode):
            total += _cost(sel.selection_set, fragments, variables, seen)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            frag = fragments.get(name)
            if frag is not None and name not in seen:
                total += _cost(frag.selection_set, fragments, variables, seen | {name})
    return total


def _fragments(context: ValidationContext) -> dict[str, FragmentDefinitionNode]:
    return fragments_of(context.document)


def depth_rule(max_depth: int) -> type[ValidationRule]:
    class DepthLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth = _depth(node.selection_set, _fragments(self.context), frozenset())
            if depth > max_depth:
                message = (
                    f"query depth {depth} exceeds the limit of {max_depth}; flatten the query "
                    "or raise [server].max_query_depth"
                )
                self.report_error(GraphQLError(message, node, original_error=LimitExceeded(message)))

    return DepthLimit


def check_cost(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    max_cost: int,
) -> GraphQLError | None:
    """The cost check on a hot path: a plain AST walk, no validation machinery."""
    cost = _cost(operation.selection_set, fragments, variables, frozenset())
    if cost <= max_cost:
        return None
    message = (
        f"query cost {cost} exceeds the limit of {max_cost}; request smaller pages "
        "(`limit`) or fewer fields, or raise [server].max_query_cost"
    )
    return GraphQLError(message, operation, original_error=LimitExceeded(message))


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
