"""Conflict strategies for a `_version` mismatch, sans-IO.

A conflict is an update or delete whose `_version` is not the server's current one (or any
write against a tombstone). The store detects it inside its write transaction and asks this
module what to do; the answer is one of three decisions, the same three AppSync's Lambda
conflict handler returns:

    Resolve(item)   write `item` (user fields; the server restamps the metadata)
    REJECT          refuse: ConflictUnhandled with `data` = the server's item
    REMOVE          delete the item (a tombstone)

Strategies (per model, `ModelSpec.conflict`):

- OPTIMISTIC_CONCURRENCY: always REJECT; the client merges and retries.
- AUTOMERGE (AppSync's rules, "Conflict detection and resolution"), per incoming field:
    * the server lacks the field, or holds null there -> the incoming value is taken;
    * both hold lists -> the lists merge: the server's list, then every incoming element the
      server list does not already hold (counted with multiplicity). AppSync concatenates and
      so duplicates every element both sides share (usually the whole common base list); we
      keep its order and never drop an element of either side, but a merge replayed or
      repeated no longer grows the list — the merge is idempotent;
    * both hold objects (maps) -> these rules apply per attribute, recursively;
    * otherwise (a scalar conflict) -> the server's value is kept.
  Fields the incoming write omits keep the server value. A *delete* with a stale version is
  rejected (AppSync's Automerge only merges updates; Amplify surfaces it as ConflictUnhandled).
- LAST_WRITER_WINS: the incoming fields are written on top of the server item; a stale delete
  deletes.
- CUSTOM: a user function shaped like AppSync's Lambda conflict handler,
  `handler(existing, new, arguments, identity)`, sync or async, returning Resolve(item),
  REJECT or REMOVE. `new` is the item the write would produce without a conflict.

Writes against a tombstone (the item was deleted meanwhile) are rejected by every built-in
strategy — a delete is never silently undone by a stale update; CUSTOM handlers see the
tombstone (`_deleted: true`) and may resurrect it with Resolve(item).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Literal, Mapping, Union

from server.auth.identity import Identity
from server.errors import ConfigError
from server.models import METADATA_FIELDS, ConflictStrategy, Item

__all__ = [
    "ConflictHandler",
    "Decision",
    "REJECT",
    "REMOVE",
    "Reject",
    "Remove",
    "Resolve",
    "automerge",
    "check_decision",
    "last_writer_wins",
    "merge_lists",
    "outcome_name",
    "resolve_builtin",
    "user_fields",
]

WriteOp = Literal["update", "delete"]
_META = frozenset(METADATA_FIELDS)


@dataclass(frozen=True, slots=True)
class Resolve:
    """Write `item` (its metadata fields are ignored; the server sets them)."""

    item: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Reject:
    def __repr__(self) -> str:
        return "REJECT"


@dataclass(frozen=True, slots=True)
class Remove:
    def __repr__(self) -> str:
        return "REMOVE"


REJECT = Reject()
REMOVE = Remove()

Decision = Union[Resolve, Reject, Remove]

ConflictHandler = Callable[
    [Item, Item, Mapping[str, Any], Identity], Union[Decision, Awaitable[Decision]]
]
"""`handler(existing, new, arguments, identity) -> Resolve(item) | REJECT | REMOVE` (or awaitable)."""


def user_fields(item: Mapping[str, Any]) -> Item:
    """The item without server-managed metadata."""
    return {k: v for k, v in item.items() if k not in _META}


def outcome_name(decision: Decision) -> str:
    """The conflict log's `outcome` for a decision."""
    if isinstance(decision, Resolve):
        return "RESOLVED"
    if isinstance(decision, Remove):
        return "REMOVED"
    return "REJECTED"


def resolve_builtin(
    strategy: ConflictStrategy, *, op: WriteOp, server: Mapping[str, Any], incoming: Mapping[str, Any]
) -> Decision:
    """Decide a conflict under a built-in strategy (not CUSTOM).

    Args:
        strategy: the model's strategy.
        op: "update" or "delete".
        server: the server's current item (possibly a tombstone).
        incoming: the mutation's input (metadata fields are ignored).

    Returns:
        Resolve(item) with the item's user fields, REJECT or REMOVE.
    """
    if strategy == "CUSTOM":
        raise ValueError("CUSTOM conflicts are decided by the model's handler")
    if strategy == "OPTIMISTIC_CONCURRENCY" or server.get("_deleted"):
        return REJECT
    if op == "delete":
        return REMOVE if strategy == "LAST_WRITER_WINS" else REJECT
    if strategy == "AUTOMERGE":
        return Resolve(automerge(server, incoming))
    return Resolve(last_writer_wins(server, incoming))


def last_writer_wins(server: Mapping[str, Any], incoming: Mapping[str, Any]) -> Item:
    """The incoming user fields on top of the server's item (user fields only)."""
    merged = user_fields(server)
    merged.update(user_fields(incoming))
    return merged


def automerge(server: Mapping[str, Any], incoming: Mapping[str, Any]) -> Item:
    """AppSync Automerge of two items' user fields (see the module docstring)."""
    return _merge_maps(user_fields(server), user_fields(incoming))


def _merge_maps(server: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(server)
    for key, new in incoming.items():
        old = server.get(key)
        if old is None:
            merged[key] = new
        elif isinstance(old, list) and isinstance(new, list):
            merged[key] = merge_lists(old, new)
        elif isinstance(old, dict) and isinstance(new, dict):
            merged[key] = _merge_maps(old, new)
        # else: a scalar conflict keeps the server's value
    return merged


def merge_lists(server: list[Any], incoming: list[Any]) -> list[Any]:
    """The server's list, then each incoming element not already there (with multiplicity).

    `merge_lists(s, i)` holds every element of `s` and of `i`, keeps `s` as its prefix, and
    `merge_lists(merge_lists(s, i), i) == merge_lists(s, i)`.
    """
    available: dict[str, int] = {}
    for element in server:
        k = _key(element)
        available[k] = available.get(k, 0) + 1
    merged = list(server)
    for element in incoming:
        k = _key(element)
        if available.get(k, 0) > 0:
            available[k] -= 1
        else:
            merged.append(element)
    return merged


def _key(value: Any) -> str:
    # Canonical JSON: equal values (maps with reordered keys, 1 and 1.0) share a key, while
    # 1 / True / "1" stay distinct, as they are distinct DynamoDB values.
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), default=str)


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


def check_decision(decision: object, *, model: str) -> Decision:
    """Validate what a CUSTOM handler returned.

    Raises:
        ConfigError: the handler returned something else (a bug in resolvers.py).
    """
    if isinstance(decision, (Reject, Remove)):
        return decision
    if isinstance(decision, Resolve):
        if not isinstance(decision.item, Mapping):
            raise ConfigError(
                f"conflict handler for {model} returned Resolve({decision.item!r}); Resolve takes the item as a dict"
            )
        return decision
    raise ConfigError(
        f"conflict handler for {model} returned {decision!r}; return Resolve(item), REJECT or REMOVE "
        "(from server.sync import Resolve, REJECT, REMOVE)"
    )
