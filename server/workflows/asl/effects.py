"""The effect protocol between the sans-IO interpreter and a driver.

The interpreter (`interpreter.Execution.run`) is a generator. It yields an *effect*; the driver
performs it and sends back the effect's *reply*:

    effect            kind    reply sent back
    ---------------   -----   -----------------------------------------------------------------
    RecordEvent       sync    the event's timestamp (int, epoch milliseconds): the driver's clock
    InvokeTask        start   None (the task is now running; its outcome arrives via Await)
    Wait              start   None (a timer is set; it fires via Await)
    ReadItems         start   None (an ItemReader read is running; its items arrive via Await)
    Cancel            sync    None (the listed started effects are no longer wanted)
    Await             block   a Completion for exactly one of `Await.ids`

"start" effects carry an `id` unique within the execution. Sequential code starts one and awaits
it at once; Parallel branches and Map iterations start several before awaiting, so a driver may
run tasks concurrently and must reply to `Await` with whichever of the ids finished first (on a
virtual clock: the earliest). Time enters the interpreter only through RecordEvent replies and
`Completion.at_ms`, randomness only through the seed the execution is created with; so the
interpreter is a deterministic function of (definition, input, config, replies), which is what
a durable engine replays (see interpreter.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .history import HistoryEvent


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordEvent:
    """Append one history event; reply with its timestamp in epoch milliseconds."""

    event: HistoryEvent
    type: Literal["record_event"] = "record_event"


@dataclass(frozen=True, kw_only=True, slots=True)
class InvokeTask:
    """Run a Task state's resource with `input` (after Parameters/Arguments).

    `timeout_seconds`/`heartbeat_seconds` are the state's TimeoutSeconds/HeartbeatSeconds: the
    driver enforces them and completes with error States.Timeout / States.HeartbeatTimeout.
    `task_token` is set for `.waitForTaskToken` resources: the outcome then is whatever
    SendTaskSuccess/Failure reports for that token.
    """

    id: int
    resource: str
    input: Any
    state_name: str
    timeout_seconds: int | None = None
    heartbeat_seconds: int | None = None
    task_token: str | None = None
    credentials: Any = None
    type: Literal["invoke_task"] = "invoke_task"


@dataclass(frozen=True, kw_only=True, slots=True)
class Wait:
    """Fire at `until_ms` (epoch milliseconds): a Wait state or the delay before a retry."""

    id: int
    until_ms: int
    type: Literal["wait"] = "wait"


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadItems:
    """A distributed Map's ItemReader: read the item list from `resource` with `parameters`."""

    id: int
    resource: str
    parameters: Any
    reader_config: Any
    type: Literal["read_items"] = "read_items"


@dataclass(frozen=True, kw_only=True, slots=True)
class Cancel:
    """The started effects `ids` will never be awaited (a sibling branch failed): stop them."""

    ids: frozenset[int]
    type: Literal["cancel"] = "cancel"


@dataclass(frozen=True, kw_only=True, slots=True)
class Await:
    """Block until one of the started effects `ids` completes; reply with its Completion."""

    ids: frozenset[int]
    type: Literal["await"] = "await"


@dataclass(frozen=True, kw_only=True, slots=True)
class Completion:
    """The outcome of a started effect: `output` when `ok`, else `error` and `cause`.

    `at_ms` is the driver's clock when it completed (virtual on the local driver). A failure's
    error may be None (SendTaskFailure without an error name), hence the explicit `ok`.
    """

    id: int
    at_ms: int
    ok: bool = True
    output: Any = None
    error: str | None = None
    cause: str | None = None


Effect = RecordEvent | InvokeTask | Wait | ReadItems | Cancel | Await
StartedEffect = InvokeTask | Wait | ReadItems
