"""Make every committed mutation publish a `MutationEvent`.

`install_publisher` wraps the resolver of each root Mutation field once, at start. The wrapper
awaits the original resolver (generated Store-backed or a user's Python/HTTP resolver alike)
and publishes `(field name, result, arguments, identity)` only when it returned a non-null
result without raising: by then the write committed. A mutation answered from the
exactly-once ledger (a replay) is not published again. So `@aws_subscribe(mutations: [...])`
works for any mutation field, as in AppSync, where the mutation's *result* is what
subscribers receive.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Awaitable, Callable

from graphql import GraphQLResolveInfo, GraphQLSchema, default_field_resolver

from server.context import REPLAYED
from server.realtime.bus import MutationEvent

__all__ = ["install_publisher"]

Publish = Callable[[MutationEvent], Awaitable[None]]


def install_publisher(schema: GraphQLSchema, publish: Publish) -> list[str]:
    """Wrap every root Mutation field of `schema` so that its result is published.

    Idempotent per field (a wrapped resolver is not wrapped twice). Returns the wrapped field
    names.
    """
    mutation = schema.mutation_type
    if mutation is None:
        return []
    wrapped: list[str] = []
    for name, field in mutation.fields.items():
        original = field.resolve
        if getattr(original, "_syncline_publishes", False):
            continue
        field.resolve = _wrap(name, original or default_field_resolver, publish)
        wrapped.append(name)
    return wrapped


def _wrap(name: str, resolve: Callable[..., Any], publish: Publish) -> Callable[..., Any]:
    async def resolver(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        result = resolve(source, info, **arguments)
        if inspect.isawaitable(result):
            result = await result
        stash = getattr(info.context, "stash", None) or {}
        if str(info.path.key) in stash.get(REPLAYED, ()):
            return result  # a replay of an applied mutation: its event went out the first time
        if result is not None and not isinstance(result, Exception):
            identity = getattr(info.context, "identity", None)
            await publish(
                MutationEvent(
                    mutation=name,
                    result=result,
                    arguments=arguments,
                    identity=identity,
                    published_at=time.perf_counter(),
                )
            )
        return result

    resolver._syncline_publishes = True  # type: ignore[attr-defined]
    return resolver
