"""Shared by the fast-path tests: run one document through an executor class and through
graphql-core's own, and count how many answers the fast path served."""

from __future__ import annotations

from typing import Any

from graphql import DocumentNode, ExecutionResult
from graphql import execute as graphql_execute


def formatted(r: ExecutionResult) -> Any:
    return {"data": r.data, "errors": [e.formatted for e in r.errors or []]}


def run_both(
    executor: Any, schema: Any, doc: DocumentNode, root: Any, variables: dict[str, Any] | None = None
) -> tuple[Any, Any, int]:
    """(fast answer, graphql-core's answer, how many times `executor.fast` went up)."""
    before = executor.fast
    fast = graphql_execute(schema, doc, root, variable_values=variables, executor_class=executor)
    plain = graphql_execute(schema, doc, root, variable_values=variables)
    assert isinstance(fast, ExecutionResult) and isinstance(plain, ExecutionResult)
    return formatted(fast), formatted(plain), executor.fast - before
