"""An in-memory driver for the interpreter on a *virtual clock*.

Waits, retry delays and task timeouts complete at once, while the timestamps the interpreter
sees advance as if the time had really passed: a machine that waits a day runs in microseconds
and its history says it waited a day. Sans-IO like the interpreter: tasks are plain Python
callables (`functions`, keyed by Lambda function name); nothing here sleeps or reads a clock
(the caller picks `start_ms`).

Resources:
- `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`: calls `functions[NAME](input)`;
  the return value is the task result.
- `arn:aws:states:::lambda:invoke` (also `.waitForTaskToken`): `input` is
  `{"FunctionName": NAME-or-ARN, "Payload": ...}`; the result is wrapped as AWS wraps it,
  `{"ExecutedVersion": "$LATEST", "Payload": <return value>, "StatusCode": 200, ...}`.
- A function that raises fails the task with error = the exception's class name and cause = its
  message. A function that returns `Delayed(seconds, value)` takes that long on the virtual
  clock (so TimeoutSeconds can fire: the task then fails with States.Timeout).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .effects import Await, Cancel, Completion, Effect, InvokeTask, ReadItems, RecordEvent, Wait
from .history import HistoryEvent, HistoryEventDict
from .interpreter import Execution, ExecutionConfig, ExecutionResult
from .model import StateMachine

# 2024-01-01T00:00:00Z: a fixed default start, so runs are reproducible.
DEFAULT_START_MS = 1_704_067_200_000

TaskFunction = Callable[[Any], Any]
ItemSource = Callable[[str, Any, Any], Any]


@dataclass(frozen=True, slots=True)
class Delayed:
    """A task result that arrives `seconds` later on the virtual clock."""

    seconds: float
    value: Any


class LocalDriver:
    """Performs effects in memory: tasks call Python functions, time is virtual.

    Args:
        functions: Lambda function name -> callable(payload) -> result.
        start_ms: the virtual clock's start (epoch milliseconds).
        item_source: reads a distributed Map's ItemReader: (resource, parameters, reader_config)
            -> list of items; absent, ItemReader fails with States.ItemReaderFailed.
        keep_history: collect the history events (`history`); off for benchmarks.
    """

    def __init__(
        self,
        functions: Mapping[str, TaskFunction] | None = None,
        *,
        start_ms: int = DEFAULT_START_MS,
        item_source: ItemSource | None = None,
        keep_history: bool = True,
    ) -> None:
        self.functions = dict(functions or {})
        self.now_ms = start_ms
        self.item_source = item_source
        self.keep_history = keep_history
        self.events: list[tuple[HistoryEvent, int]] = []
        self.invocations: list[tuple[int, InvokeTask]] = []
        self._pending: dict[int, Completion] = {}
        self._queue: list[tuple[int, int]] = []

    @property
    def history(self) -> list[HistoryEventDict]:
        """The recorded events in AWS's GetExecutionHistory shape."""
        return [event.formatted(timestamp) for event, timestamp in self.events]

    def run(self, machine: StateMachine, input: Any, config: ExecutionConfig | None = None) -> ExecutionResult:
        """Run one execution to its end on the virtual clock."""
        execution = Execution(machine, input, config)
        gen = execution.run()
        perform = self.perform
        try:
            effect = next(gen)
            while True:
                effect = gen.send(perform(effect))
        except StopIteration as stop:
            result: ExecutionResult = stop.value
            return result

    def perform(self, effect: Effect) -> Any:
        """Perform one effect and return the interpreter's reply (see effects.py)."""
        if isinstance(effect, RecordEvent):
            if self.keep_history:
                self.events.append((effect.event, self.now_ms))
            return self.now_ms
        if isinstance(effect, Await):
            return self._next_completion(effect.ids)
        if isinstance(effect, InvokeTask):
            self.invocations.append((self.now_ms, effect))
            self.complete(self._invoke(effect))
            return None
        if isinstance(effect, Wait):
            self.complete(Completion(id=effect.id, at_ms=max(effect.until_ms, self.now_ms)))
            return None
        if isinstance(effect, ReadItems):
            self.complete(self._read_items(effect))
            return None
        if isinstance(effect, Cancel):
            for effect_id in effect.ids:
                self._pending.pop(effect_id, None)
            return None
        raise TypeError(f"unknown effect {effect!r}")

    # --- internals ---------------------------------------------------------------------------

    def complete(self, completion: Completion) -> None:
        """Queue the outcome of a started effect (also for outcomes that arrive from outside:
        an activity worker, SendTaskSuccess for a task token)."""
        self._pending[completion.id] = completion
        heapq.heappush(self._queue, (completion.at_ms, completion.id))

    def _next_completion(self, ids: frozenset[int]) -> Completion:
        # The earliest-finishing of the awaited effects; others stay queued for a later Await.
        skipped: list[tuple[int, int]] = []
        try:
            while self._queue:
                at_ms, effect_id = heapq.heappop(self._queue)
                if effect_id not in self._pending:
                    continue
                if effect_id in ids:
                    completion = self._pending.pop(effect_id)
                    self.now_ms = max(self.now_ms, at_ms)
                    return completion
                skipped.append((at_ms, effect_id))
        finally:
            for entry in skipped:
                heapq.heappush(self._queue, entry)
        raise RuntimeError(f"awaited effects {sorted(ids)} were never started")

    def _invoke(self, task: InvokeTask) -> Completion:
        resource = task.resource
        wrap = False
        if resource.startswith("arn:aws:lambda:"):
            name = _function_name(resource)
            payload = task.input
        elif resource.startswith("arn:aws:states:::lambda:invoke"):
            wrap = True
            if not isinstance(task.input, dict) or not isinstance(task.input.get("FunctionName"), str):
                return self._failure(
                    task, "States.Runtime", "lambda:invoke needs a FunctionName string in its Parameters/Arguments"
                )
            name = _function_name(task.input["FunctionName"])
            payload = task.input.get("Payload", {})
        else:
            return self._failure(
                task,
                "States.TaskFailed",
                f"The local driver cannot run resource {resource!r}: only Lambda functions from --functions",
            )
        function = self.functions.get(name)
        if function is None:
            return self._failure(task, "Lambda.ResourceNotFoundException", f"Function not found: {name}")
        try:
            value = function(payload)
        except Exception as exc:  # a task function's failure is the task's failure
            return self._failure(task, type(exc).__name__, str(exc))
        seconds = 0.0
        if isinstance(value, Delayed):
            seconds, value = value.seconds, value.value
        if task.timeout_seconds is not None and seconds > task.timeout_seconds:
            return Completion(
                id=task.id,
                at_ms=self.now_ms + task.timeout_seconds * 1000,
                ok=False,
                error="States.Timeout",
                cause=None,
            )
        if wrap:
            value = {
                "ExecutedVersion": "$LATEST",
                "Payload": value,
                "SdkHttpMetadata": {"HttpStatusCode": 200},
                "SdkResponseMetadata": {},
                "StatusCode": 200,
            }
        return Completion(id=task.id, at_ms=self.now_ms + int(seconds * 1000), output=value)

    def _failure(self, task: InvokeTask, error: str, cause: str) -> Completion:
        return Completion(id=task.id, at_ms=self.now_ms, ok=False, error=error, cause=cause)

    def _read_items(self, effect: ReadItems) -> Completion:
        if self.item_source is None:
            return Completion(
                id=effect.id,
                at_ms=self.now_ms,
                ok=False,
                error="States.ItemReaderFailed",
                cause=f"No item source is configured for {effect.resource}",
            )
        try:
            items = self.item_source(effect.resource, effect.parameters, effect.reader_config)
        except Exception as exc:  # the source's failure is the reader's failure
            return Completion(
                id=effect.id, at_ms=self.now_ms, ok=False, error="States.ItemReaderFailed", cause=str(exc)
            )
        return Completion(id=effect.id, at_ms=self.now_ms, output=items)


def _function_name(reference: str) -> str:
    """NAME from a function name, `arn:aws:lambda:R:A:function:NAME`, or `...:NAME:QUALIFIER`."""
    parts = reference.split(":")
    if len(parts) >= 7 and parts[5] == "function":
        return parts[6]
    return reference


__all__ = ["DEFAULT_START_MS", "Delayed", "LocalDriver"]
