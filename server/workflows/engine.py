"""The asyncio workflow engine: durable STANDARD executions, in-memory EXPRESS ones.

The sans-IO interpreter (asl/interpreter.py) yields effects; `_Driver` performs them with
asyncio: tasks run as asyncio tasks (Python functions in a thread when they are sync), Waits
are timers on absolute times, task tokens wait for sendTaskSuccess/Failure, and TimeoutSeconds
and HeartbeatSeconds are `asyncio.timeout`s.

Durability (STANDARD) is replay by history. The driver keeps the events the interpreter records
and the Completions it sends in memory until the interpreter blocks on an `Await` that no
completion answers yet; then it commits them — the transition — in ONE transaction
(`WorkflowStore.append`), and only then waits. After a crash or restart `resume_all` re-creates
every RUNNING execution and feeds it its stored replies without performing anything again, then
goes live at the first Await without a stored Completion: every effect that was started and
never completed is started again (a Wait with its absolute `until_ms`, so timers survive; a task
runs again: side effects are at-least-once, the task context's `idempotencyToken` lets a function
notice). Transitions are exactly once because an event id is stored once (primary key) and
replay never appends what is stored.

EXPRESS executions use the same driver without a store and without history: nothing is written
per transition; `start_sync_execution` returns the output (5-minute limit, as AWS).

Shutdown drains (`close`): no execution and no step starts any more. A STANDARD execution whose
request-response task is running (a Lambda function, GraphQL, HTTP: `_drainable`) lets it finish
and goes on until it ends or must start something new; it stops there, at a checkpoint: the
transition is committed, so the task does not run again after the restart. What only waits
(a Wait, a task token, an activity, a nested `.sync` execution) stops at once; it resumes at the
next start. Whatever still runs at the deadline is cancelled and runs again (at-least-once).
EXPRESS executions cannot resume, so they run on until the deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import random
import secrets
import sqlite3
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, Mapping

from server.errors import ConfigError, ServerError
from server.loader import load_callable
from server.workflows.asl.effects import Await, Cancel, Completion, InvokeTask, ReadItems, RecordEvent, Wait
from server.workflows.asl.errors import AslSyntaxError
from server.workflows.asl.history import HistoryEvent, HistoryEventDict, iso_timestamp, to_json
from server.workflows.asl.interpreter import MAX_PAYLOAD_BYTES, Execution, ExecutionConfig, ExecutionResult
from server.workflows.asl.model import StateMachine, parse_state_machine
from server.workflows.asl.validate import format_diagnostics, has_errors, validate_definition
from server.workflows.errors import (
    ExecutionAlreadyExists,
    ExecutionDoesNotExist,
    ExecutionNotRedrivable,
    InvalidDefinition,
    StateMachineAlreadyExists,
    InvalidExecutionInput,
    StateMachineDoesNotExist,
    StateMachineTypeNotSupported,
    TaskDoesNotExist,
)
from server.workflows.persistence import ExecutionRow, StoredEvent, Transition, WorkflowStore
from server.workflows.resources import Resources, TaskFailed

log = logging.getLogger("syncline.workflows")

WORKFLOWS_DIR = "workflows"
DEFINITION_SUFFIX = ".asl.json"
#: AWS: "Express Workflows [...] can run for up to five minutes."
EXPRESS_LIMIT_SECONDS = 300.0
#: AWS execution names: 1-80 characters, no whitespace, brackets, wildcards or control characters.
_NAME_OK = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, kw_only=True, slots=True)
class MachineInfo:
    """A served state machine at its current version."""

    name: str
    arn: str
    type: str
    version: int
    definition: str
    machine: StateMachine
    #: "file" (workflows/NAME.asl.json) or "api" (createStateMachine).
    source: str = "file"


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionNotice:
    """What the engine tells subscribers: one committed history event, or a status change."""

    execution_arn: str
    state_machine: str
    status: str
    event: HistoryEventDict | None = None


Notify = Callable[[ExecutionNotice], Awaitable[None]]


@dataclass(slots=True)
class _Token:
    """A task waiting for SendTaskSuccess/Failure (a `.waitForTaskToken` resource)."""

    driver: "_Driver"
    effect: InvokeTask
    future: "asyncio.Future[Completion]"
    started_ms: int
    last_beat: float = field(default_factory=time.monotonic)
    worker: str | None = None


class _Stopped(Exception):
    """StopExecution reached the driver while it waited."""


class _StoreFailed(Exception):
    """A transition did not commit (its cause is the store's error)."""


class _Draining(Exception):
    """The engine is closing and nothing this execution awaits is still running."""


class _Driver:
    """Drives one execution's generator; see the module docstring."""

    def __init__(
        self,
        engine: "WorkflowEngine",
        row: ExecutionRow,
        machine: StateMachine,
        *,
        durable: bool,
        events: list[StoredEvent] | None = None,
        completions: list[Completion] | None = None,
        transitions: int = 0,
        parsed_input: Any = None,
    ) -> None:
        self.engine = engine
        self.row = row
        self.machine = machine
        self.durable = durable
        self._replay_events: deque[StoredEvent] = deque(events or ())
        self._replay_completions: deque[Completion] = deque(completions or ())
        self._seq = transitions
        self._last_event_id = events[-1].id if events else 0
        self._last_ts = events[-1].ts if events else 0
        self._pending_events: list[tuple[HistoryEvent, int]] = []
        self._pending_completions: list[tuple[Completion, int]] = []
        self._started: dict[int, InvokeTask | Wait | ReadItems] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._done: dict[int, Completion] = {}
        self._wake = asyncio.Event()
        self._stop: tuple[str | None, str | None] | None = None
        self._deferred: list[InvokeTask | Wait | ReadItems] = []
        self._inline_running = False
        self._inline_effect: InvokeTask | None = None
        self._stop_cancelled = False
        self._broken: BaseException | None = None
        self._publishing: asyncio.Task[None] | None = None
        self._committing: asyncio.Future[None] | None = None
        self._input = parsed_input
        self.finished: asyncio.Future[ExecutionRow] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None

    # --- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        row = self.row
        config = ExecutionConfig(
            execution_arn=row.arn,
            name=row.name,
            state_machine_arn=self.engine.machine_arn(row.state_machine),
            state_machine_name=row.state_machine,
            role_arn=f"arn:aws:iam::{self.engine.account}:role/syncline-workflows",
            region=self.engine.region,
            redrive_count=row.redrive_count,
            seed=row.seed,
            record_history=self.durable,
        )
        input_value = json.loads(row.input) if self._input is None else self._input
        execution = Execution(self.machine, input_value, config)
        if not self.durable:
            # Without history the interpreter hears the time only from Completion.at_ms: seed
            # its clock with the start, or a first Wait would count from the epoch. (A private
            # attribute until the interpreter takes a start time in ExecutionConfig.)
            execution._now_ms = self.row.start_ms
        gen = execution.run()
        replaying = bool(self._replay_events or self._replay_completions)
        reply: Any = None
        try:
            while True:
                try:
                    effect = gen.send(reply)
                except StopIteration as stop:
                    await self._finish(stop.value)
                    return
                if isinstance(effect, RecordEvent):
                    if self._replay_events:
                        stored = self._replay_events.popleft()
                        if stored.type != effect.event.type or stored.id != effect.event.id:
                            raise RuntimeError(
                                f"replay of {row.arn} diverged at event {stored.id}: stored {stored.type}, "
                                f"the interpreter produced {effect.event.type} #{effect.event.id}"
                            )
                        reply = stored.ts
                        continue
                    if replaying:
                        replaying = self._go_live()
                    ts = max(now_ms(), self._last_ts)
                    self._last_ts = ts
                    self._last_event_id = effect.event.id
                    if self.durable:
                        self._pending_events.append((effect.event, ts))
                    reply = ts
                elif isinstance(effect, (InvokeTask, Wait, ReadItems)):
                    self._started[effect.id] = effect
                    if not replaying:
                        self._deferred.append(effect)
                    reply = None
                elif isinstance(effect, Cancel):
                    self._deferred = [e for e in self._deferred if e.id not in effect.ids]
                    for effect_id in effect.ids:
                        self._started.pop(effect_id, None)
                        self._done.pop(effect_id, None)
                        task = self._running.pop(effect_id, None)
                        if task is not None:
                            task.cancel()
                    reply = None
                elif isinstance(effect, Await):
                    if self._replay_completions:
                        completion = self._replay_completions.popleft()
                        self._started.pop(completion.id, None)
                        reply = completion
                        continue
                    if replaying:
                        replaying = self._go_live()
                    await self._flush()
                    try:
                        inline = None if self._draining else self._inline(effect.ids)
                        if inline is not None:
                            # Sequential code (start one task, await it at once): run it right
                            # here, without an asyncio task and a wake-up per transition.
                            await self._run_inline(inline)
                        elif not self._draining:
                            self._launch_deferred()
                        completion = await self._next_completion(effect.ids)
                    except _Stopped:
                        gen.close()
                        await self._aborted()
                        return
                    except _Draining:
                        gen.close()
                        await self._checkpoint()
                        return
                    self._started.pop(completion.id, None)
                    if self.durable:
                        self._pending_completions.append((completion, self._last_event_id))
                    reply = completion
                else:
                    raise TypeError(f"unknown effect {effect!r}")
        except asyncio.CancelledError:
            raise
        except (_StoreFailed, sqlite3.Error) as exc:
            # The store refused a transition: stop driving; the execution stays RUNNING at its
            # last committed transition and resumes from there at the next start.
            log.error("execution %s: the workflow store failed (%s); it will resume at the next start", row.arn,
                      exc.__cause__ or exc)
        except Exception as exc:  # a bug or a diverged replay: fail the execution loudly, keep serving
            log.exception("execution %s crashed", row.arn)
            self._pending_events.clear()
            try:
                await self._end("FAILED", None, "States.Runtime", f"Syncline internal error: {type(exc).__name__}: {exc}")
            except (_StoreFailed, sqlite3.Error):
                log.error("execution %s: could not record the failure", row.arn)
        finally:
            if self._publishing is not None and not self._publishing.done():
                try:
                    await self._publishing
                except asyncio.CancelledError:
                    self._publishing.cancel()
                    raise
            await self._cancel_running()
            if not self.finished.done():
                self.finished.cancel()

    def _inline(self, ids: frozenset[int]) -> InvokeTask | None:
        deferred = self._deferred
        if len(deferred) == 1 and len(ids) == 1 and isinstance(deferred[0], InvokeTask) and deferred[0].id in ids:
            if deferred[0].task_token is None and self._stop is None:
                self._deferred = []
                return deferred[0]
        return None

    async def _run_inline(self, effect: InvokeTask) -> None:
        self._inline_running = True
        self._inline_effect = effect
        try:
            await self._task(effect)
        except asyncio.CancelledError:
            # request_stop cancels the driver to interrupt an inline task; any other
            # cancellation (shutdown) propagates.
            current = asyncio.current_task()
            if not self._stop_cancelled or current is None or current.uncancel() > 0:
                raise
            raise _Stopped() from None
        finally:
            self._inline_running = False
            self._inline_effect = None

    def _launch_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        for effect in deferred:
            if effect.id in self._started:
                self._launch(effect)

    def _go_live(self) -> bool:
        """Replay is over: start again whatever was started and never completed (unless the
        engine is closing: then it starts at the next start)."""
        if not self._draining:
            for effect in list(self._started.values()):
                self._launch(effect)
        return False

    @property
    def _draining(self) -> bool:
        """Closing, and this execution can resume (STANDARD): start nothing new."""
        return self.durable and self.engine._closed

    def _finishing(self) -> bool:
        """Is a drainable task (see `_drainable`) of this execution still running?"""
        return any(
            _drainable(effect) for effect_id in self._running if (effect := self._started.get(effect_id)) is not None
        )

    def drain(self) -> None:
        """The engine is closing: re-check at once; an inline task that only waits is cancelled
        with the driver (it resumes at the next start)."""
        self._wake.set()
        inline = self._inline_effect
        if self.durable and inline is not None and not _drainable(inline) and self.task is not None:
            self.task.cancel()

    async def _checkpoint(self) -> None:
        """Stopped by a drain: wait until the last transition is committed (shielded: a deadline
        that cancels this wait leaves the commit to finish on the writer thread)."""
        if self._committing is not None:
            try:
                await asyncio.shield(self._committing)
            except Exception:  # noqa: BLE001 - `_committed` saw it; the execution resumes from the last commit
                pass

    async def _next_completion(self, ids: frozenset[int]) -> Completion:
        while True:
            if self._broken is not None:
                raise _StoreFailed() from self._broken
            for effect_id in self._done:
                if effect_id in ids:
                    return self._done.pop(effect_id)
            if self._stop is not None:
                raise _Stopped()
            if self._draining and not self._finishing():
                raise _Draining()
            self._wake.clear()
            await self._wake.wait()

    def complete(self, completion: Completion) -> None:
        if completion.id in self._started and completion.id not in self._done:
            self._done[completion.id] = completion
            self._wake.set()

    def request_stop(self, error: str | None, cause: str | None) -> None:
        self._stop = (error, cause)
        self._wake.set()
        if self._inline_running and self.task is not None and not self._stop_cancelled:
            self._stop_cancelled = True
            self.task.cancel()

    # --- effects -------------------------------------------------------------------------------

    def _launch(self, effect: InvokeTask | Wait | ReadItems) -> None:
        if isinstance(effect, ReadItems):
            self.complete(
                Completion(
                    id=effect.id, at_ms=now_ms(), ok=False, error="States.ItemReaderFailed",
                    cause=f"Syncline has no item reader for {effect.resource}; pass the items in the input",
                )
            )
            return
        coro = self._timer(effect) if isinstance(effect, Wait) else self._task(effect)
        task = asyncio.get_running_loop().create_task(coro)
        self._running[effect.id] = task
        effect_id = effect.id

        def forget(_: asyncio.Task[None]) -> None:
            self._running.pop(effect_id, None)
            if self._draining:
                self._wake.set()  # a drain waits for running tasks, even one that ended without a result

        task.add_done_callback(forget)

    async def _timer(self, effect: Wait) -> None:
        delay = (effect.until_ms - now_ms()) / 1000
        if delay > 0:
            await asyncio.sleep(delay)
        self.complete(Completion(id=effect.id, at_ms=max(effect.until_ms, now_ms())))

    async def _task(self, effect: InvokeTask) -> None:
        engine = self.engine
        started = time.perf_counter()
        context = _TaskContext(self.row.arn, self.row.redrive_count, effect)
        token: _Token | None = None
        try:
            if effect.timeout_seconds is None:
                completion = await self._attempt(effect, context)
            else:
                async with asyncio.timeout(effect.timeout_seconds) as deadline:
                    completion = await self._attempt(effect, context)
        except TimeoutError:
            if effect.timeout_seconds is None or not deadline.expired():
                raise
            completion = Completion(id=effect.id, at_ms=now_ms(), ok=False, error="States.Timeout", cause=None)
        finally:
            if effect.task_token is not None:
                token = engine._tokens.get(effect.task_token)
                if token is not None and token.effect is effect:
                    engine._tokens.pop(effect.task_token, None)
        if engine.metrics is not None:
            engine.metrics.task_latency.labels(_resource_label(effect.resource)).observe(time.perf_counter() - started)
        self.complete(completion)

    async def _attempt(self, effect: InvokeTask, context: Mapping[str, Any]) -> Completion:
        engine = self.engine
        try:
            activity = _activity_name(effect.resource)
            if activity is not None:
                # An activity: a worker takes the task with getActivityTask and answers with
                # sendTask*; the token derives from the secret seed, so it is unguessable and
                # the same when a restart offers the task again.
                secret = f"{self.row.seed}#{self.row.arn}#{self.row.redrive_count}#{effect.id}"
                token_text = hashlib.sha256(secret.encode()).hexdigest()
                token = _Token(
                    driver=self, effect=effect, future=asyncio.get_running_loop().create_future(), started_ms=now_ms()
                )
                engine._tokens[token_text] = token
                engine._offer_activity(activity, token_text)
                try:
                    return await self._callback(token, effect)
                finally:
                    if engine._tokens.get(token_text) is token:
                        del engine._tokens[token_text]
            if effect.task_token is not None:
                token = _Token(
                    driver=self, effect=effect, future=asyncio.get_running_loop().create_future(), started_ms=now_ms()
                )
                engine._tokens[effect.task_token] = token
                if not _is_pure_callback(effect.resource):
                    await engine.resources.invoke(effect.resource, effect.input, context)
                return await self._callback(token, effect)
            output = await engine.resources.invoke(effect.resource, effect.input, context)
            return Completion(id=effect.id, at_ms=now_ms(), output=output)
        except TaskFailed as failed:
            return Completion(id=effect.id, at_ms=now_ms(), ok=False, error=failed.error, cause=failed.cause)

    async def _callback(self, token: _Token, effect: InvokeTask) -> Completion:
        beat = effect.heartbeat_seconds
        while True:
            if beat is None:
                return await token.future
            remaining = token.last_beat + beat - time.monotonic()
            if remaining <= 0:
                return Completion(id=effect.id, at_ms=now_ms(), ok=False, error="States.HeartbeatTimeout", cause=None)
            done, _ = await asyncio.wait({token.future}, timeout=remaining)
            if done:
                return token.future.result()

    async def _cancel_running(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()

    # --- persistence ---------------------------------------------------------------------------

    async def _flush(self, **status: Any) -> None:
        """Commit the pending transition.

        Pipelined: a RUNNING transition is queued on the writer thread and the driver goes on
        (the next task may start before the commit: side effects are at-least-once anyway);
        commits stay in order (one FIFO thread) and a transition whose predecessor did not
        commit is refused (`seq` check), so the store always holds a prefix that replay can
        resume. A failed commit stops driving the execution (`_StoreFailed`). The final
        transition (a status) is awaited, after every earlier one. Subscribers are notified
        only after the commit, in order.
        """
        events, completions = self._pending_events, self._pending_completions
        if not self.durable or (not events and not completions and not status):
            return
        self._pending_events, self._pending_completions = [], []
        transition = Transition(arn=self.row.arn, events=events, completions=completions, seq=self._seq, **status)
        self._seq += 1
        future = self.engine.store_required.submit_append(transition)
        self._committing = future
        entered = sum(1 for e, _ in events if e.type.endswith("StateEntered"))
        future.add_done_callback(lambda f: self._committed(f, entered))
        notify = self.engine.notify
        if not status:
            if notify is not None and events:
                previous = self._publishing
                self._publishing = asyncio.get_running_loop().create_task(self._publish(previous, future, events))
            return
        await future
        if self._broken is not None:
            raise _StoreFailed() from self._broken
        if notify is not None:
            await self._publish(self._publishing, future, events, status["status"])

    def _committed(self, future: "asyncio.Future[None]", entered: int) -> None:
        if future.cancelled() or future.exception() is not None:
            if self._broken is None:
                self._broken = future.exception() if not future.cancelled() else asyncio.CancelledError()
                self._wake.set()
            return
        engine = self.engine
        if engine.metrics is not None and entered:
            engine.metrics.transitions.labels(self.row.state_machine).inc(entered)
        engine.transitions += entered

    async def _publish(
        self,
        previous: "asyncio.Task[None] | None",
        committed: "asyncio.Future[None]",
        events: list[tuple[HistoryEvent, int]],
        state: str = "RUNNING",
    ) -> None:
        if previous is not None:
            await previous
        try:
            await committed
        except Exception:
            return  # not committed: nothing to tell (the driver stops on its own)
        notify = self.engine.notify
        assert notify is not None
        for event, ts in events:
            await notify(
                ExecutionNotice(
                    execution_arn=self.row.arn, state_machine=self.row.state_machine, status=state,
                    event=event.formatted(ts),
                )
            )

    async def _finish(self, result: ExecutionResult) -> None:
        output = None
        if result.status == "SUCCEEDED":
            output = to_json(result.output)
        await self._end(result.status, output, result.error, result.cause)

    async def _aborted(self) -> None:
        await self._cancel_running()
        error, cause = self._stop or (None, None)
        if self.durable:
            details: dict[str, Any] = {}
            if error is not None:
                details["error"] = error
            if cause is not None:
                details["cause"] = cause
            event = HistoryEvent(
                id=self._last_event_id + 1, previous_event_id=self._last_event_id, type="ExecutionAborted", details=details
            )
            self._last_event_id = event.id
            self._pending_events.append((event, max(now_ms(), self._last_ts)))
        await self._end("ABORTED", None, error, cause)

    async def _end(self, status: str, output: str | None, error: str | None, cause: str | None) -> None:
        stop = max(now_ms(), self._last_ts)
        await self._flush(status=status, stop_ms=stop, output=output, error=error, cause=cause)
        self.row = replace(self.row, status=status, stop_ms=stop, output=output, error=error, cause=cause,
                           events=self._last_event_id)
        engine = self.engine
        if engine.metrics is not None:
            engine.metrics.executions.labels(self.row.state_machine, status).inc()
        if engine.notify is not None and self.durable:
            await engine.notify(
                ExecutionNotice(execution_arn=self.row.arn, state_machine=self.row.state_machine, status=status)
            )
        if not self.finished.done():
            self.finished.set_result(self.row)


class _TaskContext(Mapping[str, Any]):
    """The task context a function may take as its second argument (built only if it does)."""

    __slots__ = ("_arn", "_redrive", "_effect", "_data")

    def __init__(self, arn: str, redrive: int, effect: InvokeTask) -> None:
        self._arn, self._redrive, self._effect = arn, redrive, effect
        self._data: dict[str, Any] | None = None

    def _build(self) -> dict[str, Any]:
        if self._data is None:
            effect = self._effect
            token = hashlib.sha256(f"{self._arn}#{self._redrive}#{effect.id}".encode()).hexdigest()[:32]
            self._data = {
                "executionArn": self._arn,
                "stateName": effect.state_name,
                "taskToken": effect.task_token,
                "idempotencyToken": token,
            }
        return self._data

    def __getitem__(self, key: str) -> Any:
        if key == "executionArn":
            return self._arn
        return self._build()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build())

    def __len__(self) -> int:
        return 4


def _activity_name(resource: str) -> str | None:
    parts = resource.split(":")
    if len(parts) >= 7 and parts[2] == "states" and parts[5] == "activity":
        return parts[6]
    return None


def _drainable(effect: InvokeTask | Wait | ReadItems) -> bool:
    """Does a drain wait for this effect? A request-response task, yes; a Wait, a task token, an
    activity or a nested `.sync` execution only wait for something else: they resume later."""
    if not isinstance(effect, InvokeTask) or effect.task_token is not None or _activity_name(effect.resource) is not None:
        return False
    return not (effect.resource.startswith("arn:aws:states:::states:startExecution") and ".sync" in effect.resource)


def _is_pure_callback(resource: str) -> bool:
    """`arn:aws:states:::syncline:callback.waitForTaskToken`: only wait for the token."""
    return resource.removesuffix(".waitForTaskToken") == "arn:aws:states:::syncline:callback"


def _resource_label(resource: str) -> str:
    parts = resource.split(":")
    if len(parts) >= 7 and parts[5] == "function":
        return "lambda:" + parts[6]
    return resource.removeprefix("arn:aws:states:::")


class WorkflowEngine:
    """Serves the project's state machines.

    Args:
        store: the durable store (STANDARD executions need it; None: EXPRESS only).
        resources: runs task resources.
        region, account: used in ARNs.
        notify: awaited after every committed event and status change (the real-time layer).
        metrics: server.metrics.Metrics (optional).
        express_limit_seconds: how long an EXPRESS execution may run (AWS: 5 minutes); None: no limit.
        drain_timeout: how long `close` lets running tasks finish (seconds; 0: cancel at once).
    """

    def __init__(
        self,
        *,
        store: WorkflowStore | None,
        resources: Resources,
        region: str = "us-east-1",
        account: str = "123456789012",
        notify: Notify | None = None,
        metrics: Any = None,
        express_limit_seconds: float | None = EXPRESS_LIMIT_SECONDS,
        drain_timeout: float = 0.0,
    ) -> None:
        self.store = store
        self.drain_timeout = drain_timeout
        self.express_limit_seconds = express_limit_seconds
        self.resources = resources
        self.region = region
        self.account = account
        self.notify = notify
        self.metrics = metrics
        self.machines: dict[str, MachineInfo] = {}
        self._by_version: dict[tuple[str, int], StateMachine] = {}
        self._drivers: dict[str, _Driver] = {}
        self._tokens: dict[str, _Token] = {}
        self._express: set[asyncio.Task[Any]] = set()
        self._activities: dict[str, deque[str]] = {}
        self._activity_wake: dict[str, asyncio.Event] = {}
        self._closed = False  # set when `close` begins: the engine drains from then on
        #: State transitions committed since start (StateEntered events), for benchmarks.
        self.transitions = 0

    @property
    def store_required(self) -> WorkflowStore:
        if self.store is None:
            raise StateMachineTypeNotSupported("STANDARD executions need the workflows store")
        return self.store

    # --- ARNs ----------------------------------------------------------------------------------

    def machine_arn(self, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"

    def execution_arn(self, machine: str, name: str, *, express: bool = False) -> str:
        kind = "express" if express else "execution"
        return f"arn:aws:states:{self.region}:{self.account}:{kind}:{machine}:{name}"

    # --- state machines ------------------------------------------------------------------------

    async def add_machine(self, name: str, definition: str | Mapping[str, Any], type: str = "STANDARD", *, source: str | None = None) -> MachineInfo:
        """Validate and register a definition; a changed definition becomes a new version.

        Raises:
            InvalidDefinition: validation errors (the message lists each with its location).
        """
        text = definition if isinstance(definition, str) else json.dumps(definition)
        where = source or f"state machine {name!r}"
        if type not in ("STANDARD", "EXPRESS"):
            raise InvalidDefinition(f"{where}: type must be STANDARD or EXPRESS, got {type!r}")
        diagnostics = validate_definition(text, machine_type=type)  # type: ignore[arg-type]
        if has_errors(diagnostics):
            raise InvalidDefinition(format_diagnostics(diagnostics, source=where))
        try:
            machine = parse_state_machine(json.loads(text))
        except (AslSyntaxError, ValueError) as exc:
            raise InvalidDefinition(f"{where}: {exc}") from exc
        version = 1
        if self.store is not None:
            version = await self.store.register_version(name, text, type, now_ms())
        info = MachineInfo(
            name=name, arn=self.machine_arn(name), type=type, version=version, definition=text, machine=machine,
            source="api" if source is None else "file",
        )
        self.machines[name] = info
        self._by_version[(name, version)] = machine
        return info

    async def load_project(self, project_dir: Path, machine_types: Mapping[str, str]) -> list[MachineInfo]:
        """Register every `workflows/NAME.asl.json`; `machine_types` comes from [workflows.NAME].type.

        Raises:
            ConfigError: a [workflows.NAME] table names no file; InvalidDefinition for a bad file.
        """
        folder = project_dir / WORKFLOWS_DIR
        files = sorted(folder.glob("*" + DEFINITION_SUFFIX)) if folder.is_dir() else []
        names = {f.name.removesuffix(DEFINITION_SUFFIX): f for f in files}
        for name in machine_types:
            if name not in names:
                raise ConfigError(
                    f"syncline.toml: [workflows.{name}] names no state machine: "
                    f"{folder / (name + DEFINITION_SUFFIX)} does not exist"
                    + (f" (found: {', '.join(sorted(names))})" if names else "")
                )
        loaded = []
        for name, path in names.items():
            loaded.append(
                await self.add_machine(
                    name, path.read_text(encoding="utf-8"), machine_types.get(name, "STANDARD"), source=str(path)
                )
            )
        if self.store is not None:
            for name, _version, definition, type in await self.store.api_machines():
                if name in names:
                    log.warning("state machine %s: workflows/%s%s replaces the one made by createStateMachine",
                                name, name, DEFINITION_SUFFIX)
                    continue
                loaded.append(await self.add_machine(name, definition, type))
        return loaded

    # --- state machine API (createStateMachine, ...) ------------------------------------------

    async def create_state_machine(self, name: str, definition: str, type: str = "STANDARD") -> MachineInfo:
        """CreateStateMachine: a machine kept in workflows.db (not a file).

        Raises:
            StateMachineAlreadyExists: the name is taken; InvalidDefinition: validation errors.
        """
        if not _NAME_OK.match(name):
            raise InvalidExecutionInput(f"Invalid state machine name: {name!r}")
        if name in self.machines:
            raise StateMachineAlreadyExists(f"State Machine Already Exists: '{self.machine_arn(name)}'")
        info = await self.add_machine(name, definition, type)
        await self.store_required.set_api_machine(name, deleted=False)
        return info

    async def update_state_machine(self, name: str, definition: str | None = None, type: str | None = None) -> MachineInfo:
        """UpdateStateMachine: a new version (running executions keep theirs)."""
        info = self.machine(name)
        if info.source == "file":
            raise InvalidDefinition(
                f"state machine {info.name} comes from {WORKFLOWS_DIR}/{info.name}{DEFINITION_SUFFIX}: edit the file"
            )
        return await self.add_machine(info.name, definition or info.definition, type or info.type)

    async def delete_state_machine(self, name: str) -> None:
        """DeleteStateMachine: no new executions; running ones finish with their version."""
        info = self.machine(name)
        if info.source == "file":
            raise InvalidDefinition(
                f"state machine {info.name} comes from {WORKFLOWS_DIR}/{info.name}{DEFINITION_SUFFIX}: delete the file"
            )
        await self.store_required.set_api_machine(info.name, deleted=True)
        del self.machines[info.name]

    def describe_machine(self, info: MachineInfo) -> dict[str, Any]:
        return {
            "stateMachineArn": info.arn, "name": info.name, "type": info.type, "version": info.version,
            "definition": info.definition, "source": info.source,
        }

    def machine(self, name_or_arn: str) -> MachineInfo:
        name = name_or_arn.rsplit(":", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        info = self.machines.get(name)
        if info is None:
            raise StateMachineDoesNotExist(
                f"State Machine Does Not Exist: '{name_or_arn}' (served: {', '.join(sorted(self.machines)) or 'none'})"
            )
        return info

    async def _machine_version(self, name: str, version: int) -> StateMachine:
        machine = self._by_version.get((name, version))
        if machine is None:
            stored = await self.store_required.definition(name, version)
            if stored is None:
                raise StateMachineDoesNotExist(f"{name} version {version} is not stored")
            machine = parse_state_machine(json.loads(stored[0]))
            self._by_version[(name, version)] = machine
        return machine

    # --- lifecycle -----------------------------------------------------------------------------

    async def resume_all(self) -> int:
        """Resume every RUNNING execution (after a restart); returns how many."""
        if self.store is None:
            return 0
        rows = await self.store.open_executions()
        for row in rows:
            await self._resume(row)
        if rows:
            log.info("resumed %d running workflow executions", len(rows))
        return len(rows)

    async def _resume(self, row: ExecutionRow) -> None:
        machine = await self._machine_version(row.state_machine, row.version)
        events, completions, next_seq = await self.store_required.replay_log(row.arn)
        self._spawn(
            _Driver(self, row, machine, durable=True, events=events, completions=completions, transitions=next_seq)
        )

    def _spawn(self, driver: _Driver) -> None:
        if self._closed:
            raise ServerError("The workflow engine is shutting down; the execution starts at the next start")
        self._drivers[driver.row.arn] = driver
        driver.task = asyncio.get_running_loop().create_task(driver.run(), name=f"workflow {driver.row.arn}")

        def done(_: asyncio.Task[None]) -> None:
            if self._drivers.get(driver.row.arn) is driver:
                del self._drivers[driver.row.arn]

        driver.task.add_done_callback(done)

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self, timeout: float | None = None) -> None:
        """Drain, then stop driving (module docstring, "Shutdown drains").

        Running request-response tasks get up to `timeout` seconds (default `drain_timeout`) to
        finish and have their results committed; executions stop at their next checkpoint. What
        is left is cancelled. Executions stay RUNNING in the store and resume at the next start.
        """
        self._closed = True
        limit = self.drain_timeout if timeout is None else timeout
        drivers = list(self._drivers.values())
        tasks = [d.task for d in drivers if d.task is not None] + list(self._express)
        try:
            if tasks and limit > 0:
                for driver in drivers:
                    driver.drain()
                log.info("workflows: draining %d executions (up to %g s)", len(tasks), limit)
                _, pending = await asyncio.wait(tasks, timeout=limit)
                if pending:
                    log.warning(
                        "workflows: %d executions still running after %g s; cancelled (their running tasks run again "
                        "at the next start)", len(pending), limit,
                    )
                tasks = list(pending)
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            await self.resources.close()

    # --- executions ----------------------------------------------------------------------------

    async def start_execution(self, machine: str, input: Any = None, name: str | None = None) -> dict[str, Any]:
        """StartExecution: `{"executionArn", "startDate"}`.

        Idempotent by name: the same name and input while the execution is open give the same
        execution; a different input, or a closed execution, raise ExecutionAlreadyExists.
        """
        info = self.machine(machine)
        input_json = _input_json(input)
        name = _check_name(name or str(uuid.uuid4()))
        if info.type == "EXPRESS":
            arn = self.execution_arn(info.name, name, express=True)
            started = now_ms()
            task = asyncio.get_running_loop().create_task(self._run_express(info, arn, name, input_json, started))
            self._express.add(task)
            task.add_done_callback(self._express.discard)
            return {"executionArn": arn, "startDate": iso_timestamp(started)}
        arn = self.execution_arn(info.name, name)
        row = ExecutionRow(
            arn=arn, state_machine=info.name, name=name, version=info.version, type=info.type, input=input_json,
            status="RUNNING", start_ms=now_ms(), stop_ms=None, output=None, error=None, cause=None,
            seed=secrets.randbits(63), redrive_count=0, redrive_ms=None, events=0,
        )
        stored, created = await self.store_required.create_execution(row)
        if not created:
            if stored.status != "RUNNING" or json.loads(stored.input) != json.loads(input_json):
                raise ExecutionAlreadyExists(
                    f"Execution Already Exists: '{arn}'"
                    + (" (it is closed)" if stored.status != "RUNNING" else " (with a different input)")
                )
            return {"executionArn": arn, "startDate": iso_timestamp(stored.start_ms)}
        if self.metrics is not None:
            self.metrics.executions.labels(info.name, "STARTED").inc()
        if self._closed:  # started during a drain (a task's mutation, a nested start): stored, runs at the next start
            log.info("execution %s is stored and starts at the next start (the engine is closing)", arn)
            return {"executionArn": arn, "startDate": iso_timestamp(row.start_ms)}
        self._spawn(_Driver(self, row, info.machine, durable=True))
        if self.notify is not None:
            await self.notify(ExecutionNotice(execution_arn=arn, state_machine=info.name, status="RUNNING"))
        return {"executionArn": arn, "startDate": iso_timestamp(row.start_ms)}

    async def start_sync_execution(self, machine: str, input: Any = None, name: str | None = None) -> dict[str, Any]:
        """StartSyncExecution (EXPRESS only): runs to the end and returns the result."""
        info = self.machine(machine)
        if info.type != "EXPRESS":
            raise StateMachineTypeNotSupported(
                f"startSyncExecution needs an EXPRESS state machine; {info.name} is STANDARD "
                f"(set type = \"EXPRESS\" in [workflows.{info.name}])"
            )
        value, input_json = _input(input)
        name = _check_name(name or str(uuid.uuid4()))
        arn = self.execution_arn(info.name, name, express=True)
        return await self._run_express(info, arn, name, input_json, now_ms(), value)

    async def _run_express(
        self, info: MachineInfo, arn: str, name: str, input_json: str, started: int, value: Any = None
    ) -> dict[str, Any]:
        row = ExecutionRow(
            arn=arn, state_machine=info.name, name=name, version=info.version, type="EXPRESS", input=input_json,
            status="RUNNING", start_ms=started, stop_ms=None, output=None, error=None, cause=None,
            # EXPRESS refuses .waitForTaskToken, so no task token derives from this seed.
            seed=random.getrandbits(63), redrive_count=0, redrive_ms=None, events=0,
        )
        driver = _Driver(self, row, info.machine, durable=False, parsed_input=value)
        try:
            async with asyncio.timeout(self.express_limit_seconds):
                await driver.run()
            end = driver.row
        except TimeoutError:
            end = replace(row, status="TIMED_OUT", stop_ms=now_ms(), error="States.Timeout",
                          cause=f"Express executions run at most {self.express_limit_seconds:g} seconds")
        out: dict[str, Any] = {
            "executionArn": arn, "stateMachineArn": info.arn, "name": name,
            "startDate": iso_timestamp(started), "stopDate": iso_timestamp(end.stop_ms or now_ms()),
            "status": end.status, "input": input_json,
        }
        if end.status == "SUCCEEDED":
            out["output"] = end.output
        else:
            out["error"], out["cause"] = end.error, end.cause
        return out

    async def _row(self, arn: str) -> ExecutionRow:
        row = None if self.store is None else await self.store.get(arn)
        if row is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return row

    async def describe(self, arn: str) -> dict[str, Any]:
        return self.describe_row(await self._row(arn))

    def describe_row(self, row: ExecutionRow) -> dict[str, Any]:
        """DescribeExecution's shape (payloads as JSON text)."""
        out: dict[str, Any] = {
            "executionArn": row.arn,
            "stateMachineArn": self.machine_arn(row.state_machine),
            "stateMachineVersion": row.version,
            "name": row.name,
            "status": row.status,
            "startDate": iso_timestamp(row.start_ms),
            "stopDate": None if row.stop_ms is None else iso_timestamp(row.stop_ms),
            "input": row.input,
            "output": row.output,
            "error": row.error,
            "cause": row.cause,
            "redriveCount": row.redrive_count,
            "redriveDate": None if row.redrive_ms is None else iso_timestamp(row.redrive_ms),
        }
        return out

    async def list_executions(
        self, machine: str | None = None, *, status: str | None = None, limit: int = 100, next_token: str | None = None
    ) -> dict[str, Any]:
        """ListExecutions: newest first, `nextToken` to page."""
        name = self.machine(machine).name if machine is not None else None
        limit = max(1, min(int(limit), 1000))
        after = None
        if next_token:
            try:
                start_s, arn = next_token.split("|", 1)
                after = (int(start_s), arn)
            except ValueError as exc:
                raise InvalidExecutionInput(f"Invalid nextToken: {next_token!r}") from exc
        rows = await self.store_required.list_executions(state_machine=name, status=status, limit=limit + 1, after=after)
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "executions": [self.describe_row(r) for r in rows],
            "nextToken": f"{rows[-1].start_ms}|{rows[-1].arn}" if more else None,
        }

    async def history(self, arn: str, *, limit: int = 1000, next_token: str | None = None, reverse: bool = False) -> dict[str, Any]:
        """GetExecutionHistory: AWS-shaped events, `nextToken` to page."""
        await self._row(arn)
        after = int(next_token) if next_token and next_token.isdigit() else 0
        limit = max(1, min(int(limit), 1000))
        events = await self.store_required.history(arn, after_id=after, limit=limit + 1, reverse=reverse)
        more = len(events) > limit
        events = events[:limit]
        return {
            "events": [e.as_event().formatted(e.ts) for e in events],
            "nextToken": str(events[-1].id) if more else None,
        }

    async def stop(self, arn: str, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        """StopExecution: the execution ends ABORTED (its running tasks are cancelled)."""
        row = await self._row(arn)
        driver = self._drivers.get(arn)
        if row.status != "RUNNING" or driver is None:
            return {"stopDate": iso_timestamp(row.stop_ms or now_ms())}
        driver.request_stop(error, cause)
        ended = await self.wait(arn)
        return {"stopDate": iso_timestamp(ended.stop_ms or now_ms())}

    async def redrive(self, arn: str) -> dict[str, Any]:
        """RedriveExecution: a FAILED execution resumes at the task that failed (ABORTED: where it stopped)."""
        await self._row(arn)
        try:
            row = await self.store_required.redrive(arn, now_ms())
        except ValueError as exc:
            raise ExecutionNotRedrivable(f"Execution {arn} cannot be redriven: {exc}") from exc
        await self._resume(row)
        return {"redriveDate": iso_timestamp(row.redrive_ms or now_ms())}

    async def wait(self, arn: str) -> ExecutionRow:
        """Until the execution is closed (tests, `.sync` nested executions)."""
        driver = self._drivers.get(arn)
        if driver is not None:
            try:
                return await asyncio.shield(driver.finished)
            except asyncio.CancelledError:
                if driver.finished.cancelled():
                    return await self._row(arn)
                raise
        return await self._row(arn)

    # --- task tokens ---------------------------------------------------------------------------

    def _token(self, token: str) -> _Token:
        entry = self._tokens.get(token)
        if entry is None or entry.future.done():
            raise TaskDoesNotExist("Task Does Not Exist: the task token is unknown or its task already completed")
        return entry

    def send_task_success(self, token: str, output: Any) -> None:
        entry = self._token(token)
        try:
            value = json.loads(output) if isinstance(output, str) else output
            to_json(value)
        except (TypeError, ValueError) as exc:
            raise InvalidExecutionInput(f"sendTaskSuccess: output must be JSON: {exc}") from exc
        entry.future.set_result(Completion(id=entry.effect.id, at_ms=now_ms(), output=value))

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        entry = self._token(token)
        entry.future.set_result(Completion(id=entry.effect.id, at_ms=now_ms(), ok=False, error=error, cause=cause))

    def send_task_heartbeat(self, token: str) -> None:
        self._token(token).last_beat = time.monotonic()

    def _offer_activity(self, activity: str, token: str) -> None:
        self._activities.setdefault(activity, deque()).append(token)
        wake = self._activity_wake.get(activity)
        if wake is not None:
            wake.set()

    async def get_activity_task(self, activity: str, worker: str | None = None, wait_seconds: float = 0) -> dict[str, Any] | None:
        """GetActivityTask: the next task of `activity` (name or ARN), or None after `wait_seconds`.

        Each offered task goes to one worker; a restart offers unfinished ones again.
        """
        name = activity.rsplit(":", 1)[-1]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, min(float(wait_seconds), 60.0))
        while True:
            queue = self._activities.get(name)
            while queue:
                token = queue.popleft()
                entry = self._tokens.get(token)
                if entry is not None and not entry.future.done():
                    entry.worker = worker
                    return {"taskToken": token, "input": to_json(entry.effect.input)}
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            wake = self._activity_wake.setdefault(name, asyncio.Event())
            wake.clear()
            try:
                async with asyncio.timeout(remaining):
                    await wake.wait()
            except TimeoutError:
                return None

    def pending_tasks(self, machine: str | None = None) -> list[dict[str, Any]]:
        """Tasks waiting for a token (human approvals), oldest first."""
        out = []
        for token, entry in sorted(self._tokens.items(), key=lambda kv: kv[1].started_ms):
            if entry.future.done() or (machine is not None and entry.driver.row.state_machine != machine):
                continue
            out.append(
                {
                    "taskToken": token,
                    "executionArn": entry.driver.row.arn,
                    "stateMachine": entry.driver.row.state_machine,
                    "stateName": entry.effect.state_name,
                    "input": to_json(entry.effect.input),
                    "startDate": iso_timestamp(entry.started_ms),
                }
            )
        return out

    # --- nested executions ---------------------------------------------------------------------

    async def start_nested(self, machine_arn: str, input: Any, name: str | None, parent: str, sync: bool) -> Any:
        if isinstance(input, str):
            try:
                input = json.loads(input)
            except ValueError:
                pass
        child_name = name or hashlib.sha256(f"{parent}|{machine_arn}|{to_json(input)}".encode()).hexdigest()[:40]
        try:
            started = await self.start_execution(machine_arn, input, child_name)
        except ExecutionAlreadyExists:
            started = {"executionArn": self.execution_arn(self.machine(machine_arn).name, child_name)}
        except Exception as exc:
            raise TaskFailed("StepFunctions.ExecutionDoesNotExistException" if isinstance(exc, StateMachineDoesNotExist)
                             else "States.TaskFailed", str(exc)) from exc
        if not sync:
            return {"ExecutionArn": started["executionArn"], "StartDate": started.get("startDate")}
        row = await self.wait(started["executionArn"])
        if row.status == "RUNNING":
            # The child stopped without closing (the engine is closing, or its store failed): so
            # does this task, which is cancelled with its execution and runs again at the next
            # start, joining the same child (its name derives from the parent).
            await asyncio.get_running_loop().create_future()
        described = self.describe_row(row)
        if row.status != "SUCCEEDED":
            raise TaskFailed("States.TaskFailed", json.dumps(described))
        return {**{k[0].upper() + k[1:]: v for k, v in described.items()}}


def _input_json(input: Any) -> str:
    return _input(input)[1]


def _input(input: Any) -> tuple[Any, str]:
    """(the parsed input, its JSON text), or InvalidExecutionInput."""
    if input is None:
        input = {}
    if isinstance(input, str):
        try:
            input = json.loads(input)
        except ValueError as exc:
            raise InvalidExecutionInput(f"Invalid State Machine Execution Input: {exc}") from exc
    try:
        text = to_json(input)
    except (TypeError, ValueError) as exc:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: {exc}") from exc
    if len(text) > MAX_PAYLOAD_BYTES // 4 and len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise InvalidExecutionInput("The execution input exceeds 256 KiB")
    return input, text


def _check_name(name: str) -> str:
    if not _NAME_OK.match(name):
        raise InvalidExecutionInput(
            f"Invalid Name: {name!r} (1-80 characters; no whitespace, brackets, wildcards, or any of \"#%\\^|~`$&,;:/)"
        )
    return name


def function_lookup(module: str, project_dir: Path) -> Callable[[str], Callable[..., Any]]:
    """NAME → the callable NAME of the project's `module` (loaded on first use)."""

    def lookup(name: str) -> Callable[..., Any]:
        try:
            return load_callable(f"{module}:{name}", project_dir, what=f"[workflows].functions ({name})")
        except ConfigError as exc:
            raise LookupError(exc.message) from exc

    return lookup
