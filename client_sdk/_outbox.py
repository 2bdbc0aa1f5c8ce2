"""The sync decisions, as plain functions and frozen values (sans-IO: no I/O, no clock).

The replica and the sync loop ask these what to do; tests drive them without a network.

Coalescing rule (why it is safe): a new local change to a record merges into the record's
*latest* outbox entry only when that entry has never been put on the wire (no wire seq yet).
Once an entry has a wire seq, a resend must be byte-for-byte the same request, because the
server's ledger answers a replayed (clientId, seq) with the recorded outcome and applies
nothing: merging new fields into it would lose them if the first send had already committed.
In particular an update never merges into a create the server may have seen but not yet
acknowledged; it queues behind it and is sent with the `_version` the create's answer brings.
Merges into an unsent entry:
    create + update -> create with the fields merged
    update + update -> update with the patches merged (later fields win)
    create + delete -> nothing at all (the server never heard of the record)
    update + delete -> delete
A change to a record whose latest entry is a delete is refused earlier (the record is gone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

__all__ = [
    "DISCARD",
    "RETRY",
    "Append",
    "Coalesce",
    "ConflictAction",
    "Drop",
    "Pending",
    "Replace",
    "Outcome",
    "backoff_delay",
    "classify_error",
    "coalesce",
    "plan_batch",
    "resolve_conflict",
    "should_apply_remote",
]

Op = Literal["create", "update", "delete"]


@dataclass(frozen=True, kw_only=True)
class Pending:
    """The latest outbox entry of a record."""

    op: Op
    payload: Mapping[str, Any]
    sent: bool


@dataclass(frozen=True, kw_only=True)
class Append:
    type: Literal["append"] = "append"
    op: Op
    payload: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class Replace:
    type: Literal["replace"] = "replace"
    op: Op
    payload: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class Drop:
    """Remove the latest entry and enqueue nothing."""

    type: Literal["drop"] = "drop"


Coalesce = Append | Replace | Drop


def coalesce(last: Pending | None, op: Op, payload: Mapping[str, Any]) -> Coalesce:
    """How a new local change enters the outbox, given the record's latest entry."""
    if last is None or last.sent:
        return Append(op=op, payload=dict(payload))
    if last.op == "delete":
        raise ValueError("a deleted record cannot change")  # callers check the row first
    if op == "create":
        raise ValueError("a record is created once")
    if op == "update":
        return Replace(op=last.op, payload={**last.payload, **payload})
    if last.op == "create":
        return Drop()
    return Replace(op="delete", payload={"id": payload["id"]})


Outcome = Literal["conflict", "retry", "dead"]
_TRANSIENT = {"InternalFailure", "Throttled", "ThrottlingException", "ServiceUnavailable"}


def classify_error(error_type: str | None) -> Outcome:
    """What to do with a mutation the server answered with an error.

    ConflictUnhandled goes to the app's handler; a server fault is retried (with a new seq,
    since the ledger would replay the error); everything else — BadRequest, ValidationError,
    Unauthorized, NotFound, ConditionalCheckFailed, LimitExceeded... — is a rejection that
    retrying cannot fix: it goes to dead letters and the queue moves on.
    """
    if error_type == "ConflictUnhandled":
        return "conflict"
    if error_type in _TRANSIENT:
        return "retry"
    return "dead"


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


DISCARD: Any = _Sentinel("DISCARD")
"""Conflict handler answer: drop the local change and take the server's item."""
RETRY: Any = _Sentinel("RETRY")
"""Conflict handler answer: resend the local change over the server's `_version` (local wins)."""


@dataclass(frozen=True, kw_only=True)
class ConflictAction:
    """`resend` (payload over `version`), `discard`, or `dead` (with `reason`)."""

    kind: Literal["resend", "discard", "dead"]
    payload: Mapping[str, Any] | None = None
    version: int | None = None
    reason: str = ""


def resolve_conflict(
    decision: Any, *, op: Op, payload: Mapping[str, Any], remote: Mapping[str, Any], attempt: int, max_attempts: int
) -> ConflictAction:
    """Turn the handler's answer into an action, bounding the attempts."""
    if decision is DISCARD:
        return ConflictAction(kind="discard")
    if attempt >= max_attempts:
        return ConflictAction(kind="dead", reason=f"conflict unresolved after {attempt} attempts")
    version = remote.get("_version")
    if not isinstance(version, int):
        return ConflictAction(kind="dead", reason="conflict answer carries no server _version")
    if decision is RETRY:
        return ConflictAction(kind="resend", payload=dict(payload), version=version)
    if isinstance(decision, Mapping):
        if op == "delete":
            return ConflictAction(kind="resend", payload={"id": payload["id"]}, version=version)
        merged = {k: v for k, v in decision.items() if not k.startswith("_") and k not in ("createdAt", "updatedAt")}
        merged["id"] = payload["id"]
        return ConflictAction(kind="resend", payload=merged, version=version)
    raise TypeError(f"a conflict handler returns a merged item (dict), DISCARD or RETRY, not {decision!r}")


def should_apply_remote(local: tuple[int | None, int | None] | None, remote: Mapping[str, Any]) -> bool:
    """Is a remote item newer than the local row's (version, lastChangedAt)? Rows with pending
    local changes are never overwritten; the caller checks that inside the same transaction."""
    if local is None:
        return True
    lv, lc = local
    rv, rc = remote.get("_version") or 0, remote.get("_lastChangedAt") or 0
    return (rv, rc) > (lv or 0, lc or 0)


def plan_batch(head: Sequence[tuple[int, str, int | None]], limit: int, count: int = 1) -> list[list[int]]:
    """The next wire batches, from the outbox head `(entry, record key, wire seq)` in order.

    Batches already on the wire (a wire seq) are resent exactly as they went, each with its
    own seq, before anything new. Otherwise take unsent entries in order into at most `count`
    batches of at most `limit`, stopping before a second entry for a record already taken:
    that one needs the `_version` the first one's answer brings, and the batches of one round
    go out concurrently, so no record may appear in two of them.
    """
    frozen: dict[int, list[int]] = {}
    for e, _, s in head:
        if s is not None:
            frozen.setdefault(s, []).append(e)
    if frozen:
        return list(frozen.values())
    out: list[list[int]] = []
    seen: set[str] = set()
    for entry, key, _ in head:
        if key in seen:
            break
        if not out or len(out[-1]) >= limit:
            if len(out) >= count:
                break
            out.append([])
        seen.add(key)
        out[-1].append(entry)
    return out


def backoff_delay(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Exponential backoff with full jitter: `jitter` in [0, 1) comes from the caller's RNG."""
    return float(min(cap, base * (2.0 ** min(attempt, 30)))) * (0.5 + jitter / 2)
