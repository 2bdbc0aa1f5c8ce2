"""The Store protocol: what the GraphQL layer, sync and workflows may ask of persistence.

Every call takes the caller's `Identity` (row rules hook in here, see the authorization
issue). Every write is one transaction that bumps `_version`, stamps `_lastChangedAt`
(store-wide strictly increasing epoch milliseconds), appends to the change log, records
the mutation id when one was sent, and records a conflict when one was resolved.
After the commit the store calls its change listeners (the real-time layer subscribes).
"""

from __future__ import annotations

import builtins

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal, Mapping, Protocol, Sequence

from server.auth.identity import Identity
from server.models import Item, ModelSpec

Operation = Literal["create", "update", "delete"]


@dataclass(frozen=True, kw_only=True)
class MutationId:
    """A client's exactly-once tag: `(client_id, seq)`, plus the response key in the document."""

    client_id: str
    seq: int
    key: str = ""


@dataclass(frozen=True, kw_only=True)
class Page:
    items: list[Item]
    next_token: str | None = None


@dataclass(frozen=True, kw_only=True)
class SyncPage(Page):
    #: Cursor for the next delta sync: pass it back as `lastSync`.
    started_at: int
    #: True when this is a base sync (every row, tombstones included) rather than a delta:
    #: `lastSync` was 0/None, older than delta_ttl, or from another timeline. A client then
    #: drops local rows the base sync did not return.
    base: bool = False


@dataclass(frozen=True, kw_only=True)
class WriteResult:
    item: Item
    #: True when this was a replay of an already-applied mutation id (nothing was written).
    replayed: bool = False
    #: The conflict that was resolved on the way, if any (strategy, outcome).
    conflict: "ConflictRecord | None" = None


@dataclass(frozen=True, kw_only=True)
class ChangeEvent:
    """Published after a write commits; carries the item as stored (tombstones included)."""

    model: str
    op: Operation
    item: Item
    previous: Item | None
    identity: Identity
    mutation_id: MutationId | None = None


@dataclass(frozen=True, kw_only=True)
class ConflictRecord:
    id: int
    model: str
    item_id: str
    strategy: str
    outcome: str  # "RESOLVED" | "REJECTED" | "REMOVED" | "LOCAL_WINS" ...
    base: Item | None
    local: Mapping[str, Any]
    remote: Item
    result: Item | None
    at: int


ChangeListener = Callable[[ChangeEvent], Awaitable[None] | None]


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def migrate(self, models: Sequence[ModelSpec]) -> list[str]:
        """Adopt `models`; returns human-readable changes; raises SchemaMigrationError."""
        ...

    def add_listener(self, listener: ChangeListener) -> None: ...

    async def ping(self) -> None:
        """Raise unless the store can take a write now (readiness checks)."""
        ...

    async def get(self, model: str, id: str, *, identity: Identity) -> Item | None: ...

    async def list(
        self,
        model: str,
        *,
        identity: Identity,
        filter: Mapping[str, Any] | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> Page: ...

    async def sync(
        self,
        model: str,
        *,
        identity: Identity,
        last_sync: int | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> SyncPage: ...

    async def create(
        self,
        model: str,
        input: Mapping[str, Any],
        *,
        identity: Identity,
        condition: Mapping[str, Any] | None = None,
        mutation_id: MutationId | None = None,
    ) -> WriteResult: ...

    async def update(
        self,
        model: str,
        input: Mapping[str, Any],
        *,
        identity: Identity,
        condition: Mapping[str, Any] | None = None,
        mutation_id: MutationId | None = None,
    ) -> WriteResult: ...

    async def delete(
        self,
        model: str,
        input: Mapping[str, Any],
        *,
        identity: Identity,
        condition: Mapping[str, Any] | None = None,
        mutation_id: MutationId | None = None,
    ) -> WriteResult: ...

    async def conflicts(
        self, *, model: str | None = None, limit: int = 100, next_token: str | None = None
    ) -> tuple[builtins.list[ConflictRecord], str | None]: ...

    async def collect_garbage(self, *, now_ms: int | None = None) -> dict[str, int]:
        """Drop tombstones older than tombstone_ttl and change-log rows older than delta_ttl."""
        ...
