"""The sans-IO ASL interpreter: a generator that yields effects and receives their outcomes.

    execution = Execution(machine, input, config)
    gen = execution.run()
    effect = next(gen)
    while True:
        reply = perform(effect)          # the driver: local.py, or the asyncio engine
        effect = gen.send(reply)         # StopIteration.value is the ExecutionResult

The effect protocol (which reply each effect expects) is in effects.py. The interpreter never
sleeps, never reads a clock and does no I/O: time reaches it only as the timestamps the driver
returns for RecordEvent and in `Completion.at_ms`, randomness only from `ExecutionConfig.seed`.

Durability: replay by history. A generator cannot be pickled, but it is a deterministic function
of (definition, input, config, the sequence of replies). A durable engine therefore persists
each reply as it sends it (the RecordEvent timestamps are already in the history events it
stores; the Completions it stores beside them) and, after a restart, re-creates the Execution
and feeds it the stored replies without performing the effects again (RecordEvent: return the
stored timestamp and do not append; started effects: do not start them again; Await: return the
stored Completion), then continues live from the first effect that has no stored reply. Timers
survive because a Wait carries an absolute `until_ms`. Effect ids and event ids come out the
same on replay because they are allocated in yield order.

Structure (as LocalStack's `_eval_state`, minus its threads and sleeps): one method per state
type; Retry and Catch as one loop (`_with_retry`); Parallel branches and Map iterations are
child generators interleaved by `_gather`, which forwards their effects upward, collects their
`Await`s into one, and honours MaxConcurrency.
"""

from __future__ import annotations

import random as _random
import uuid as _uuid
from collections import ChainMap, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Final, Generator, Literal, Mapping, TypeVar

from .choice import evaluate_condition, parse_timestamp
from .effects import Await, Cancel, Completion, Effect, InvokeTask, ReadItems, RecordEvent, Wait
from .errors import (
    STATES_ALL,
    STATES_DATA_LIMIT_EXCEEDED,
    STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD,
    STATES_INTRINSIC_FAILURE,
    STATES_NO_CHOICE_MATCHED,
    STATES_QUERY_EVALUATION_ERROR,
    STATES_RUNTIME,
    STATES_TASK_FAILED,
    STATES_TIMEOUT,
    AslError,
    AslSyntaxError,
    state_error_cause,
)
from .history import HistoryEvent, iso_timestamp, payload_details, to_json
from .intrinsics import evaluate_intrinsic, is_intrinsic
from .jsonata import evaluate_jsonata_template
from .jsonpath import resolve, set_path
from .model import (
    MISSING,
    Catcher,
    ChoiceState,
    FailState,
    JsonataCondition,
    MapState,
    ParallelState,
    PassState,
    Retrier,
    State,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
    json_type,
)
from .payload import evaluate_payload_template

T = TypeVar("T")
Gen = Generator[Effect, Any, T]

# AWS quota: "Maximum input or output size for a task, state, or execution: 256 KiB of data as a
# UTF-8 encoded string."
MAX_PAYLOAD_BYTES: Final = 256 * 1024
# Wait: AWS rejects delays beyond a Java int of seconds ("Wait state delay is too long").
_MAX_WAIT_SECONDS: Final = 2**31 - 1
# Runtime errors whose cause AWS prefixes with the state and its entered event id.
_DECORATED: Final = frozenset({STATES_RUNTIME, STATES_QUERY_EVALUATION_ERROR, STATES_INTRINSIC_FAILURE})
# ASL spec: "States.Runtime [...] A States.Runtime error isn't retriable" and AWS: "A retry or
# catch on States.ALL won't catch States.Runtime errors" (recorded: not even when named). The
# payload limit is terminal too.
_UNCATCHABLE: Final = frozenset({STATES_RUNTIME, STATES_DATA_LIMIT_EXCEEDED})


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionConfig:
    """Identity of the execution (the context object's $$.Execution / $$.StateMachine) and seed.

    `seed` drives every random choice (retry jitter, States.UUID/$uuid(), $random(), task
    tokens). A durable engine must store it with the execution (replay needs it) and pick it at
    random per execution, keeping it secret: task tokens are derived from it.
    """

    execution_arn: str = "arn:aws:states:us-east-1:123456789012:execution:local:local-execution"
    name: str = "local-execution"
    state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:local"
    state_machine_name: str = "local"
    role_arn: str = "arn:aws:iam::123456789012:role/syncline-local"
    region: str = "us-east-1"
    redrive_count: int = 0
    seed: int = 0
    record_history: bool = True
    # AWS quota: "Maximum execution history size: 25,000 events" (beyond it the execution
    # fails); it also stops a Choice loop that never waits from running forever.
    max_history_events: int | None = 25_000


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionResult:
    """How an execution ended: SUCCEEDED with `output`, or FAILED with `error`/`cause`."""

    status: Literal["SUCCEEDED", "FAILED", "TIMED_OUT"]
    output: Any = None
    error: str | None = None
    cause: str | None = None

    def formatted(self) -> dict[str, Any]:
        """`{"status": "SUCCEEDED", "output": ...}` or `{"status": "FAILED"|"TIMED_OUT", "error", "cause"}`."""
        if self.status == "SUCCEEDED":
            return {"status": self.status, "output": self.output}
        return {"status": self.status, "error": self.error, "cause": self.cause}


class _ExecutionTimedOut(Exception):
    """The top-level TimeoutSeconds fired (not catchable by the machine's own Catchers)."""


class _Final(AslError):
    """A failure whose error and cause are final (task failure, Fail state, child failure).

    `error`/`cause` may be None (a Fail state without Error/Cause); plain AslErrors raised by
    the expression layer get their cause decorated with the state first.
    """

    def __init__(self, error: str | None, cause: str | None) -> None:
        super().__init__(error or "", cause or "")
        self.error_name = error
        self.cause_text = cause


def _final(exc: AslError) -> _Final:
    if isinstance(exc, _Final):
        return exc
    return _Final(exc.error, exc.cause)


@dataclass(slots=True)
class _Frame:
    """One running machine: the top level, a Parallel branch or a Map iteration.

    Variables (AWS "variable scope"): a child sees its parent's variables read-only (`outer`)
    and keeps its own (`inner`); nothing is written back when it ends.
    """

    inner: dict[str, Any]
    outer: ChainMap[str, Any]
    previous_event_id: int
    record: bool = True
    variables: Mapping[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.variables = ChainMap(self.inner, self.outer) if self.outer else self.inner

    def child(self, previous_event_id: int, *, record: bool | None = None) -> _Frame:
        outer: ChainMap[str, Any] = ChainMap(self.inner, self.outer) if self.outer else ChainMap(dict(self.inner))
        return _Frame(
            inner={},
            outer=outer,
            previous_event_id=previous_event_id,
            record=self.record if record is None else record,
        )


@dataclass(slots=True)
class _StateRun:
    """What a state's evaluation knows: its name, entered event id and the context object."""

    state: State
    entered_id: int
    entered_ms: int
    context: dict[str, Any]
    assigned: dict[str, Any] | None = None
    task_token: str | None = None


class Execution:
    """One execution of a parsed state machine.

    Args:
        machine: the parsed definition (model.parse_state_machine).
        input: the execution input (parsed JSON).
        config: identity and seed; see ExecutionConfig.
    """

    def __init__(self, machine: StateMachine, input: Any, config: ExecutionConfig | None = None) -> None:
        self.machine = machine
        self.input = input
        self.config = config or ExecutionConfig()
        self._random = _random.Random(self.config.seed)
        self._next_event_id = 0
        self._next_effect_id = 0
        self._now_ms = 0
        self._execution_context: dict[str, Any] = {}
        self._json_cache: tuple[Any, str] | None = None
        self._state_machine_context = {
            "Id": self.config.state_machine_arn,
            "Name": self.config.state_machine_name,
        }

    # --- the driver-facing entry point --------------------------------------------------------

    def run(self) -> Gen[ExecutionResult]:
        """Run the execution to its end, yielding effects (see effects.py).

        Returns:
            The ExecutionResult (as the generator's StopIteration value).
        """
        frame = _Frame(inner={}, outer=ChainMap(), previous_event_id=0, record=self.config.record_history)
        try:
            input_json = to_json(self.input)
        except (TypeError, ValueError, RecursionError) as exc:
            return ExecutionResult(
                status="FAILED",
                error=STATES_RUNTIME,
                cause=f"The execution input is not valid JSON: {type(exc).__name__}",
            )
        start_ms = yield from self._record(
            frame,
            "ExecutionStarted",
            {
                "input": input_json,
                "inputDetails": {"truncated": False},
                "roleArn": self.config.role_arn,
            },
            chain=False,
        )
        self._execution_context = {
            "Id": self.config.execution_arn,
            "Input": self.input,
            "Name": self.config.name,
            "RoleArn": self.config.role_arn,
            "StartTime": iso_timestamp(start_ms),
            "RedriveCount": self.config.redrive_count,
        }
        if len(input_json.encode()) > MAX_PAYLOAD_BYTES:
            return (yield from self._failed(frame, STATES_DATA_LIMIT_EXCEEDED, "The execution input exceeds 256 KiB."))
        body = self._run_machine(self.machine, self.input, frame)
        timeout = self.machine.timeout_seconds
        if _is_int(timeout) and timeout > 0:
            body = self._with_deadline(body, start_ms + timeout * 1000)
        try:
            output = yield from body
            output_json = to_json(output)
        except _ExecutionTimedOut:
            cause = f"The execution exceeded the state machine's TimeoutSeconds ({timeout} s)."
            yield from self._record(frame, "ExecutionTimedOut", {"error": STATES_TIMEOUT, "cause": cause})
            return ExecutionResult(status="TIMED_OUT", error=STATES_TIMEOUT, cause=cause)
        except AslError as exc:
            failure = _final(exc)
            return (yield from self._failed(frame, failure.error_name, failure.cause_text))
        except RecursionError:
            return (yield from self._failed(frame, STATES_RUNTIME, "The definition or data is nested too deeply."))
        yield from self._record(
            frame, "ExecutionSucceeded", {"output": output_json, "outputDetails": {"truncated": False}}
        )
        return ExecutionResult(status="SUCCEEDED", output=output)

    def _with_deadline(self, body: Gen[Any], until_ms: int) -> Gen[Any]:
        """Run `body`, racing every Await against a timer: the top-level TimeoutSeconds.

        The ASL spec: "TimeoutSeconds [...] The maximum number of seconds an execution of the
        state machine can run. If it runs longer than the specified time, the execution fails
        with a States.Timeout Error Name."
        """
        timer = Wait(id=self._effect_id(), until_ms=until_ms)
        yield timer
        reply: Any = None
        while True:
            try:
                effect = body.send(reply)
            except StopIteration as stop:
                yield Cancel(ids=frozenset({timer.id}))
                return stop.value
            except AslError:
                yield Cancel(ids=frozenset({timer.id}))
                raise
            if isinstance(effect, Await):
                completion = yield Await(ids=effect.ids | {timer.id})
                if isinstance(completion, Completion) and completion.id == timer.id:
                    body.close()
                    yield Cancel(ids=effect.ids)
                    raise _ExecutionTimedOut()
                reply = completion
            else:
                reply = yield effect

    def _failed(self, frame: _Frame, error: str | None, cause: str | None) -> Gen[ExecutionResult]:
        details: dict[str, Any] = {}
        if error is not None:
            details["error"] = error
        if cause is not None:
            details["cause"] = cause
        yield from self._record(frame, "ExecutionFailed", details)
        return ExecutionResult(status="FAILED", error=error, cause=cause)

    # --- plumbing ----------------------------------------------------------------------------

    def _record(
        self,
        frame: _Frame,
        event_type: str,
        details: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None,
        *,
        chain: bool = True,
    ) -> Gen[int]:
        """Append a history event; returns the driver's timestamp. Ids are allocated here.
        `details` may be a function that builds them, called only when history is recorded
        (EXPRESS records none: its task payloads are then never encoded).

        `previousEventId` is the frame's last *chaining* event. As recorded on AWS, a few
        events do not chain (`chain=False`): ExecutionStarted (so the first state entered has
        previousEventId 0), MapIteration* results and Map/ParallelStateSucceeded.
        """
        if not frame.record:
            return self._now_ms
        if callable(details):
            details = details()
        limit = self.config.max_history_events
        if limit is not None and self._next_event_id >= limit - 1 and not event_type.startswith("Execution"):
            raise _Final(
                STATES_RUNTIME,
                f"The execution reached the maximum number of history events ({limit}).",
            )
        self._next_event_id += 1
        event = HistoryEvent(
            id=self._next_event_id,
            previous_event_id=frame.previous_event_id,
            type=event_type,
            details=details,
        )
        if chain:
            frame.previous_event_id = event.id
        timestamp = yield RecordEvent(event=event)
        if isinstance(timestamp, int) and timestamp > self._now_ms:
            self._now_ms = timestamp
        return self._now_ms

    def _effect_id(self) -> int:
        self._next_effect_id += 1
        return self._next_effect_id

    def _perform(self, effect: InvokeTask | Wait | ReadItems) -> Gen[Completion]:
        """Start one effect and block until it completes."""
        yield effect
        completion = yield Await(ids=frozenset({effect.id}))
        if not isinstance(completion, Completion) or completion.id != effect.id:
            raise AslError(STATES_RUNTIME, f"The driver answered effect {effect.id} with {completion!r}")
        if completion.at_ms > self._now_ms:
            self._now_ms = completion.at_ms
        return completion

    def _context(self, run: _StateRun | None, **extra: Any) -> dict[str, Any]:
        context: dict[str, Any] = {
            "Execution": self._execution_context,
            "StateMachine": self._state_machine_context,
        }
        if run is not None:
            context["State"] = run.context
            if run.task_token is not None:
                context["Task"] = {"Token": run.task_token}
        context.update(extra)
        return context

    def _states(self, run: _StateRun, input: Any, **more: Any) -> dict[str, Any]:
        """JSONata's `$states`: input, context, and (where defined) result / errorOutput."""
        states = {"input": input, "context": self._context(run)}
        states.update(more)
        return states

    # --- machines and states --------------------------------------------------------------------

    def _run_machine(self, machine: StateMachine, input: Any, frame: _Frame) -> Gen[Any]:
        name: str | None = machine.start_at
        data = input
        while name is not None:
            state = machine.states.get(name)
            if state is None:
                raise _Final(STATES_RUNTIME, f"The state '{name}' does not exist in the state machine.")
            data, name = yield from self._run_state(state, data, frame)
        return data

    def _run_state(self, state: State, raw: Any, frame: _Frame) -> Gen[tuple[Any, str | None]]:
        entered_ms = yield from self._record(
            frame,
            f"{state.type}StateEntered",
            {"name": state.name, "input": self._json(raw), "inputDetails": {"truncated": False}},
        )
        run = _StateRun(
            state=state,
            entered_id=frame.previous_event_id,
            entered_ms=entered_ms,
            context={"EnteredTime": iso_timestamp(entered_ms), "Name": state.name},
        )
        try:
            if isinstance(state, PassState):
                output, next_state = self._pass(state, raw, run, frame)
            elif isinstance(state, ChoiceState):
                output, next_state = self._choice(state, raw, run, frame)
            elif isinstance(state, TaskState):
                output, next_state = yield from self._with_retry(state, raw, run, frame, self._task)
            elif isinstance(state, WaitState):
                output, next_state = yield from self._wait(state, raw, run, frame)
            elif isinstance(state, SucceedState):
                output = self._filter_output(state, raw, raw, run, frame)
                next_state = None
            elif isinstance(state, FailState):
                self._fail(state, raw, run, frame)
                raise AssertionError("unreachable")  # pragma: no cover
            elif isinstance(state, ParallelState):
                output, next_state = yield from self._with_retry(state, raw, run, frame, self._parallel)
            else:
                output, next_state = yield from self._with_retry(state, raw, run, frame, self._map)
            output_json = self._check_size(state, output, run)
        except _Final:
            raise
        except AslError as exc:
            raise self._decorate(exc, run) from None
        except AslSyntaxError as exc:
            raise self._decorate(AslError(STATES_RUNTIME, exc.message), run) from None
        if run.assigned:
            self._bind(run.assigned, frame, run)
        details: dict[str, Any] = {
            "name": state.name,
            "output": output_json,
            "outputDetails": {"truncated": False},
        }
        if run.assigned:
            details["assignedVariables"] = {k: to_json(v) for k, v in run.assigned.items()}
            details["assignedVariablesDetails"] = {"truncated": False}
        yield from self._record(frame, f"{state.type}StateExited", details)
        if next_state is None and not (state.end or isinstance(state, SucceedState)) and not isinstance(
            state, ChoiceState
        ):
            next_state = state.next
        return output, next_state

    def _decorate(self, exc: AslError, run: _StateRun) -> _Final:
        if exc.error in _DECORATED:
            return _Final(exc.error, state_error_cause(run.state.name, run.entered_id, exc.cause))
        return _Final(exc.error, exc.cause)

    def _json(self, value: Any) -> str:
        """JSON text of a payload; the last state's output is the next one's input, so the text
        of the most recent value is reused (payloads are never mutated in place)."""
        cached = self._json_cache
        if cached is not None and cached[0] is value:
            return cached[1]
        text = to_json(value)
        self._json_cache = (value, text)
        return text

    def _check_size(self, state: State, output: Any, run: _StateRun) -> str:
        text = self._json(output)
        if len(text) > MAX_PAYLOAD_BYTES // 4 and len(text.encode()) > MAX_PAYLOAD_BYTES:
            raise _Final(
                STATES_DATA_LIMIT_EXCEEDED,
                f"The state/task '{state.name}' returned a result with a size exceeding the "
                "maximum number of bytes service limit.",
            )
        return text

    def _bind(self, assigned: Mapping[str, Any], frame: _Frame, run: _StateRun) -> None:
        for name, value in assigned.items():
            if name in frame.outer:
                raise self._decorate(
                    AslError(
                        STATES_RUNTIME,
                        f"Cannot bind value '{to_json(value)}' to variable '{name}' as it belongs "
                        "to an outer scope.",
                    ),
                    run,
                )
            frame.inner[name] = value

    # --- shared field processing ----------------------------------------------------------------

    def _path(self, path: str, data: Any, run: _StateRun | None, frame: _Frame) -> Any:
        return resolve(path, input=data, context=self._context(run), variables=frame.variables)

    def _input_path(self, state: State, raw: Any, run: _StateRun, frame: _Frame) -> Any:
        if state.input_path is None:
            return {}
        if state.input_path == "$":
            return raw
        return self._path(state.input_path, raw, run, frame)

    def _template(self, template: Any, data: Any, run: _StateRun, frame: _Frame, **context: Any) -> Any:
        return evaluate_payload_template(
            template,
            input=data,
            context=self._context(run, **context),
            variables=frame.variables,
            random=self._random.random,
            uuid=self._uuid,
        )

    def _jsonata(self, value: Any, field: str, states: Mapping[str, Any], frame: _Frame) -> Any:
        return evaluate_jsonata_template(
            value,
            states=states,
            variables=frame.variables,
            field=field,
            random=self._random.random,
            uuid=self._uuid,
        )

    def _result_path(self, result_path: str | None, raw: Any, result: Any) -> Any:
        if result_path == "$":
            return result
        if result_path is None:
            return raw
        return set_path(raw, result_path, result)

    def _output_path(self, state: State, data: Any, run: _StateRun, frame: _Frame) -> Any:
        if state.output_path is None:
            return {}
        if state.output_path == "$":
            return data
        return self._path(state.output_path, data, run, frame)

    def _assign_jsonpath(self, assign: Any, data: Any, run: _StateRun, frame: _Frame) -> None:
        if assign is not MISSING:
            bound = self._template(assign, data, run, frame)
            run.assigned = dict(bound) if isinstance(bound, dict) else {}

    def _finish_jsonata(
        self, state: State, raw: Any, run: _StateRun, frame: _Frame, default: Any, **more: Any
    ) -> Any:
        """JSONata-mode Assign and Output: both see the variables as they were on entry."""
        states = self._states(run, raw, **more)
        if state.assign is not MISSING:
            assigned = self._jsonata(state.assign, "Assign", states, frame)
            run.assigned = dict(assigned) if isinstance(assigned, dict) else {}
        if state.output is not MISSING:
            return self._jsonata(state.output, "Output", states, frame)
        return default

    def _filter_output(self, state: State, raw: Any, effective: Any, run: _StateRun, frame: _Frame) -> Any:
        """Succeed/Wait: JSONPath applies InputPath then OutputPath; JSONata applies Output."""
        if state.jsonata:
            return self._finish_jsonata(state, raw, run, frame, raw)
        effective = self._input_path(state, raw, run, frame)
        self._assign_jsonpath(state.assign, effective, run, frame)
        return self._output_path(state, effective, run, frame)

    # --- Pass ------------------------------------------------------------------------------------

    def _pass(self, state: PassState, raw: Any, run: _StateRun, frame: _Frame) -> tuple[Any, str | None]:
        if state.jsonata:
            return self._finish_jsonata(state, raw, run, frame, raw), None
        effective = self._input_path(state, raw, run, frame)
        if state.parameters is not MISSING:
            effective = self._template(state.parameters, effective, run, frame)
        result = state.result if state.result is not MISSING else effective
        self._assign_jsonpath(state.assign, result, run, frame)
        output = self._result_path(state.result_path, raw, result)
        return self._output_path(state, output, run, frame), None

    # --- Choice ----------------------------------------------------------------------------------

    def _choice(self, state: ChoiceState, raw: Any, run: _StateRun, frame: _Frame) -> tuple[Any, str | None]:
        if state.jsonata:
            states = self._states(run, raw)
            for index, rule in enumerate(state.choices):
                if not isinstance(rule.condition, JsonataCondition):
                    raise AslError(STATES_RUNTIME, f"Choice rule {index} has no Condition (required in JSONata mode)")
                matched = self._jsonata(rule.condition.expression, f"Choices/{index}/Condition", states, frame)
                if not isinstance(matched, bool):
                    raise AslError(
                        STATES_QUERY_EVALUATION_ERROR,
                        f"The JSONata expression '{_strip(rule.condition.expression)}' specified for the "
                        f"field 'Condition' returned an unexpected result type. Expected 'boolean', but "
                        f"was '{json_type(matched)}' for value: {to_json(matched)}",
                    )
                if matched:
                    if rule.assign is not MISSING:
                        assigned = self._jsonata(rule.assign, "Assign", states, frame)
                        run.assigned = dict(assigned) if isinstance(assigned, dict) else {}
                    output = raw
                    if rule.output is not MISSING:
                        output = self._jsonata(rule.output, "Output", states, frame)
                    return output, rule.next
            if state.default is None:
                raise AslError(STATES_NO_CHOICE_MATCHED, "No Matches!")
            return self._finish_jsonata(state, raw, run, frame, raw), state.default
        effective = self._input_path(state, raw, run, frame)
        context = self._context(run)
        for rule in state.choices:
            if evaluate_condition(rule.condition, input=effective, context=context, variables=frame.variables):
                self._assign_jsonpath(rule.assign, effective, run, frame)
                return self._output_path(state, effective, run, frame), rule.next
        if state.default is None:
            raise AslError(STATES_NO_CHOICE_MATCHED, "No Matches!")
        self._assign_jsonpath(state.assign, effective, run, frame)
        return self._output_path(state, effective, run, frame), state.default

    # --- Fail ------------------------------------------------------------------------------------

    def _fail(self, state: FailState, raw: Any, run: _StateRun, frame: _Frame) -> None:
        if state.jsonata:
            states = self._states(run, raw)
            error = self._jsonata(state.error, "Error", states, frame) if state.error is not MISSING else None
            cause = self._jsonata(state.cause, "Cause", states, frame) if state.cause is not MISSING else None
        else:
            error = state.error if state.error is not MISSING else None
            cause = state.cause if state.cause is not MISSING else None
            if state.error_path is not None:
                error = self._path_or_intrinsic(state.error_path, raw, run, frame)
            if state.cause_path is not None:
                cause = self._path_or_intrinsic(state.cause_path, raw, run, frame)
        raise _Final(
            None if error is None else _as_text(error),
            None if cause is None else _as_text(cause),
        )

    def _path_or_intrinsic(self, text: str, data: Any, run: _StateRun, frame: _Frame) -> Any:
        if is_intrinsic(text):
            return evaluate_intrinsic(
                text,
                input=data,
                context=self._context(run),
                variables=frame.variables,
                random=self._random.random,
                uuid=self._uuid,
            )
        return self._path(text, data, run, frame)

    def _uuid(self) -> str:
        return str(_uuid.UUID(int=self._random.getrandbits(128), version=4))

    # --- Wait ------------------------------------------------------------------------------------

    def _wait(self, state: WaitState, raw: Any, run: _StateRun, frame: _Frame) -> Gen[tuple[Any, str | None]]:
        until_ms = self._wait_until(state, raw, run, frame)
        if until_ms - run.entered_ms > _MAX_WAIT_SECONDS * 1000:
            raise AslError(STATES_RUNTIME, "Wait state delay is too long.")
        if until_ms > run.entered_ms:
            yield from self._perform(Wait(id=self._effect_id(), until_ms=until_ms))
        return self._filter_output(state, raw, raw, run, frame), None

    def _wait_until(self, state: WaitState, raw: Any, run: _StateRun, frame: _Frame) -> int:
        seconds: Any = MISSING
        timestamp: Any = MISSING
        if state.jsonata:
            states = self._states(run, raw)
            if state.seconds is not MISSING:
                seconds = self._jsonata(state.seconds, "Seconds", states, frame)
                if not _is_int(seconds) or seconds < 0:
                    raise AslError(
                        STATES_QUERY_EVALUATION_ERROR,
                        f"The JSONata expression '{_strip(state.seconds)}' specified for the field "
                        f"'Seconds' returned an unexpected result type. Expected 'integer', but was "
                        f"'{json_type(seconds)}' for value: {to_json(seconds)}",
                    )
            elif state.timestamp is not MISSING:
                timestamp = self._jsonata(state.timestamp, "Timestamp", states, frame)
                if parse_timestamp(timestamp) is None:
                    raise AslError(
                        STATES_QUERY_EVALUATION_ERROR,
                        f"The JSONata expression '{_strip(state.timestamp)}' specified for the field "
                        f"'Timestamp' returned an unexpected result. Expected an ISO-8601 timestamp, but "
                        f"was: {to_json(timestamp)}",
                    )
        else:
            effective = self._input_path(state, raw, run, frame)
            if state.seconds is not MISSING:
                seconds = state.seconds
            elif state.seconds_path is not None:
                value = self._path(state.seconds_path, effective, run, frame)
                if not _is_int(value):
                    raise AslError(
                        STATES_RUNTIME,
                        "The SecondsPath parameter cannot be parsed as a long value: "
                        f"{state.seconds_path} == {_java_number(value)}",
                    )
                if value < 0:
                    raise AslError(
                        STATES_RUNTIME,
                        f"The SecondsPath parameter references a negative value: {state.seconds_path} == {value}",
                    )
                seconds = value
            elif state.timestamp is not MISSING:
                timestamp = state.timestamp
            elif state.timestamp_path is not None:
                timestamp = self._path(state.timestamp_path, effective, run, frame)
                if parse_timestamp(timestamp) is None:
                    raise AslError(
                        STATES_RUNTIME,
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended "
                        f"offset date-time format string: {state.timestamp_path} == {_java_number(timestamp)}",
                    )
        if seconds is not MISSING:
            if not _is_int(seconds) or seconds < 0:
                raise AslError(STATES_RUNTIME, f"The Seconds field must be a non-negative integer, got {_plain(seconds)}")
            return run.entered_ms + int(seconds) * 1000
        if timestamp is MISSING:
            raise AslError(STATES_RUNTIME, "A Wait state needs one of Seconds, SecondsPath, Timestamp or TimestampPath")
        moment = parse_timestamp(timestamp)
        if moment is None:
            raise AslError(STATES_RUNTIME, f"Invalid timestamp: {_plain(timestamp)}")
        return int(moment.timestamp() * 1000)

    # --- Retry and Catch: one loop ---------------------------------------------------------------

    def _with_retry(
        self,
        state: TaskState | ParallelState | MapState,
        raw: Any,
        run: _StateRun,
        frame: _Frame,
        attempt: Callable[[Any, Any, _StateRun, _Frame], Gen[Any]],
    ) -> Gen[tuple[Any, str | None]]:
        """Run `attempt` until it succeeds, a retrier gives up, or a catcher takes the error.

        The ASL spec ("Retrying after error"): "the interpreter attempts to match the error
        against the retriers [...] the first retrier whose ErrorEquals field matches".
        ("Fallback states"): "When a state reports an error and either there is no Retrier, or
        retries have failed to resolve the error, the interpreter scans through the Catchers".
        """
        counts = [0] * len(state.retry)
        run.context["RetryCount"] = 0
        if state.jsonata:
            effective = raw
        else:
            try:
                effective = self._input_path(state, raw, run, frame)
            except AslError as exc:
                raise self._decorate(exc, run) from None
        while True:
            try:
                return (yield from attempt(state, (raw, effective), run, frame)), None
            except AslError as exc:
                failure = exc if isinstance(exc, _Final) else self._decorate(exc, run)
            except AslSyntaxError as exc:
                failure = self._decorate(AslError(STATES_RUNTIME, exc.message), run)
            error = failure.error_name
            retrier_index = _match_retrier(state.retry, error, isinstance(state, TaskState))
            if retrier_index is not None:
                retrier = state.retry[retrier_index]
                if counts[retrier_index] < _int_or(retrier.max_attempts, 3):
                    delay = _retry_delay(retrier, counts[retrier_index], self._random)
                    counts[retrier_index] += 1
                    run.context["RetryCount"] = run.context["RetryCount"] + 1
                    if delay > 0:
                        yield from self._perform(Wait(id=self._effect_id(), until_ms=self._now_ms + delay))
                    continue
            catcher = _match_catcher(state.catch, error, isinstance(state, TaskState))
            if catcher is None:
                raise failure
            return (yield from self._caught(state, catcher, failure, raw, run, frame)), catcher.next

    def _caught(
        self, state: State, catcher: Catcher, failure: _Final, raw: Any, run: _StateRun, frame: _Frame
    ) -> Gen[Any]:
        # AWS binds an empty string where the failure has no error or cause.
        error_output = {"Error": failure.error_name or "", "Cause": failure.cause_text or ""}
        if state.jsonata:
            states = self._states(run, raw, errorOutput=error_output)
            if catcher.assign is not MISSING:
                assigned = self._jsonata(catcher.assign, "Assign", states, frame)
                run.assigned = dict(assigned) if isinstance(assigned, dict) else {}
            if catcher.output is not MISSING:
                return self._jsonata(catcher.output, "Output", states, frame)
            return error_output
        if catcher.assign is not MISSING:
            self._assign_jsonpath(catcher.assign, error_output, run, frame)
        return self._result_path(catcher.result_path, raw, error_output)
        yield  # pragma: no cover - makes this a generator like its siblings

    # --- Task ------------------------------------------------------------------------------------

    def _task(self, state: Any, data: Any, run: _StateRun, frame: _Frame) -> Gen[Any]:
        assert isinstance(state, TaskState)
        raw, effective = data
        resource = state.resource
        if isinstance(resource, str) and resource.endswith(".waitForTaskToken"):
            # The ASL spec: "$$.Task.Token" is available to Parameters of a .waitForTaskToken task.
            run.task_token = self._uuid()
        if state.jsonata:
            states = self._states(run, raw)
            payload = (
                self._jsonata(state.arguments, "Arguments", states, frame)
                if state.arguments is not MISSING
                else raw
            )
            if isinstance(resource, str) and resource.startswith("{%"):
                resource = self._jsonata(resource, "Resource", states, frame)
            timeout = self._seconds(state.timeout_seconds, "TimeoutSeconds", states, frame)
            heartbeat = self._seconds(state.heartbeat_seconds, "HeartbeatSeconds", states, frame)
        else:
            payload = effective
            if state.parameters is not MISSING:
                payload = self._template(state.parameters, effective, run, frame)
            timeout = state.timeout_seconds
            if state.timeout_seconds_path is not None:
                timeout = self._positive_int_path(state.timeout_seconds_path, "TimeoutSecondsPath", effective, run, frame)
            heartbeat = state.heartbeat_seconds
            if state.heartbeat_seconds_path is not None:
                heartbeat = self._positive_int_path(
                    state.heartbeat_seconds_path, "HeartbeatSecondsPath", effective, run, frame
                )
        if not isinstance(resource, str):
            raise AslError(STATES_RUNTIME, f"The Resource must be a string, got {json_type(resource)}")
        token = run.task_token
        kind = _resource_kind(resource)
        result = yield from self._invoke(state, resource, kind, payload, timeout, heartbeat, token, run, frame)
        if state.jsonata:
            return self._finish_jsonata(state, raw, run, frame, result, result=result)
        self._assign_jsonpath(state.assign, result, run, frame)
        if state.result_selector is not MISSING:
            result = self._template(state.result_selector, result, run, frame)
        output = self._result_path(state.result_path, raw, result)
        return self._output_path(state, output, run, frame)

    def _invoke(
        self,
        state: TaskState,
        resource: str,
        kind: str,
        payload: Any,
        timeout: Any,
        heartbeat: Any,
        token: str | None,
        run: _StateRun,
        frame: _Frame,
    ) -> Gen[Any]:
        region = self.config.region
        # Bare Lambda ARNs and activities have their own event families (LambdaFunction*,
        # Activity*); service integrations use Task* with resourceType/resource.
        family = {"lambda": "LambdaFunction", "activity": "Activity"}.get(kind)
        if family is not None:

            def scheduled() -> dict[str, Any]:
                details: dict[str, Any] = {"resource": resource, **payload_details("input", payload)}
                if timeout is not None:
                    details["timeoutInSeconds"] = timeout
                if heartbeat is not None and kind == "activity":
                    details["heartbeatInSeconds"] = heartbeat
                return details

            yield from self._record(frame, f"{family}Scheduled", scheduled)
            yield from self._record(frame, f"{family}Started", None)
            task_fields: dict[str, Any] = {}
        else:
            service, action = _service_action(resource)

            def scheduled() -> dict[str, Any]:
                details: dict[str, Any] = {
                    "resourceType": service,
                    "resource": action,
                    "region": region,
                    "parameters": to_json(payload),
                }
                if timeout is not None:
                    details["timeoutInSeconds"] = timeout
                if heartbeat is not None:
                    details["heartbeatInSeconds"] = heartbeat
                return details

            yield from self._record(frame, "TaskScheduled", scheduled)
            task_fields = {"resourceType": service, "resource": action}
            yield from self._record(frame, "TaskStarted", task_fields)
            family = "Task"
        completion = yield from self._perform(
            InvokeTask(
                id=self._effect_id(),
                resource=resource,
                input=payload,
                state_name=state.name,
                timeout_seconds=timeout if isinstance(timeout, int) else None,
                heartbeat_seconds=heartbeat if isinstance(heartbeat, int) else None,
                task_token=token,
                credentials=None if state.credentials is MISSING else state.credentials,
            )
        )
        if completion.ok:
            output = completion.output
            yield from self._record(frame, f"{family}Succeeded", lambda: {**task_fields, **payload_details("output", output)})
            return output
        details: dict[str, Any] = dict(task_fields)
        if completion.error is not None:
            details["error"] = completion.error
        if completion.cause is not None:
            details["cause"] = completion.cause
        timed_out = completion.error in (STATES_TIMEOUT, "States.HeartbeatTimeout")
        yield from self._record(frame, f"{family}TimedOut" if timed_out else f"{family}Failed", details)
        raise _Final(completion.error, completion.cause)

    def _seconds(self, value: Any, field: str, states: Mapping[str, Any], frame: _Frame) -> int | None:
        if value is None:
            return None
        evaluated = self._jsonata(value, field, states, frame)
        if not _is_int(evaluated) or evaluated <= 0:
            raise AslError(
                STATES_QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{_strip(value)}' specified for the field '{field}' returned an "
                f"unexpected result type. Expected 'integer', but was '{json_type(evaluated)}' for value: "
                f"{to_json(evaluated)}",
            )
        return int(evaluated)

    def _positive_int_path(self, path: str, field: str, data: Any, run: _StateRun, frame: _Frame) -> int:
        value = self._path(path, data, run, frame)
        if not _is_int(value) or value <= 0:
            raise AslError(
                STATES_RUNTIME,
                f"The {field} field refers to value \"{_plain(value)}\" which is not a valid positive integer: {path}",
            )
        return int(value)

    # --- Parallel --------------------------------------------------------------------------------

    def _parallel(self, state: Any, data: Any, run: _StateRun, frame: _Frame) -> Gen[Any]:
        assert isinstance(state, ParallelState)
        raw, effective = data
        if state.jsonata:
            states = self._states(run, raw)
            branch_input = (
                self._jsonata(state.arguments, "Arguments", states, frame) if state.arguments is not MISSING else raw
            )
        else:
            branch_input = effective
            if state.parameters is not MISSING:
                branch_input = self._template(state.parameters, effective, run, frame)
        yield from self._record(frame, "ParallelStateStarted", None)
        started_id = frame.previous_event_id

        def branch(index: int) -> Gen[Any]:
            child = frame.child(started_id)
            return (yield from self._run_machine(state.branches[index], branch_input, child))

        try:
            outcomes = yield from self._gather(len(state.branches), branch, limit=0, tolerated=lambda failed: False)
        except AslError as exc:
            yield from self._record(frame, "ParallelStateFailed", None)
            raise _final(exc) from None
        yield from self._record(frame, "ParallelStateSucceeded", None, chain=False)
        result = list(outcomes)
        if state.jsonata:
            return self._finish_jsonata(state, raw, run, frame, result, result=result)
        self._assign_jsonpath(state.assign, result, run, frame)
        if state.result_selector is not MISSING:
            result = self._template(state.result_selector, result, run, frame)
        output = self._result_path(state.result_path, raw, result)
        return self._output_path(state, output, run, frame)

    # --- Map -------------------------------------------------------------------------------------

    def _map(self, state: Any, data: Any, run: _StateRun, frame: _Frame) -> Gen[Any]:
        assert isinstance(state, MapState) and state.processor is not None
        processor = state.processor
        raw, effective = data
        states = self._states(run, raw) if state.jsonata else {}
        items = yield from self._map_items(state, raw, effective, states, run, frame)
        limit = self._map_number(state, "MaxConcurrency", state.max_concurrency, state.max_concurrency_path,
                                 effective, states, run, frame)
        tolerated_count = self._map_number(
            state, "ToleratedFailureCount", state.tolerated_failure_count,
            state.tolerated_failure_count_path, effective, states, run, frame,
        )
        tolerated_percentage = self._map_number(
            state, "ToleratedFailurePercentage", state.tolerated_failure_percentage,
            state.tolerated_failure_percentage_path, effective, states, run, frame, percentage=True,
        )
        inputs = [self._item_input(state, index, item, raw, effective, run, frame) for index, item in enumerate(items)]
        inputs = self._batch(state, inputs, effective, run, frame)
        distributed = state.mode == "DISTRIBUTED"
        yield from self._record(frame, "MapStateStarted", {"length": len(inputs)})
        started_id = frame.previous_event_id
        if distributed:
            map_run_arn = (
                self.config.execution_arn.replace(":execution:", ":mapRun:", 1) + f"/{state.label or state.name}"
            )
            yield from self._record(frame, "MapRunStarted", {"mapRunArn": map_run_arn})
        total = len(inputs)

        def tolerated(failed: int) -> bool:
            if not distributed:
                return False
            if tolerated_count is not None and failed <= tolerated_count:
                return True
            if tolerated_percentage is not None and total and failed * 100 <= tolerated_percentage * total:
                return True
            return False

        def iteration(index: int) -> Gen[Any]:
            if distributed:
                child = frame.child(0, record=False)
                return (yield from self._run_machine(processor, inputs[index], child))
            child = frame.child(started_id)
            yield from self._record(child, "MapIterationStarted", {"name": state.name, "index": index})
            try:
                output = yield from self._run_machine(processor, inputs[index], child)
            except AslError:
                yield from self._record(child, "MapIterationFailed", {"name": state.name, "index": index}, chain=False)
                raise
            yield from self._record(
                child, "MapIterationSucceeded", {"name": state.name, "index": index}, chain=False
            )
            return output

        def iteration_aborted(index: int) -> Gen[Any]:
            if not distributed:
                child = frame.child(started_id)
                yield from self._record(
                    child, "MapIterationAborted", {"name": state.name, "index": index}, chain=False
                )

        try:
            outcomes = yield from self._gather(
                total, iteration, limit=limit or 0, tolerated=tolerated, aborted=iteration_aborted
            )
        except AslError as exc:
            if distributed:
                yield from self._record(frame, "MapRunFailed", None)
                if not isinstance(exc, _Final) or exc.error_name != STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD:
                    exc = _Final(
                        STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD,
                        "The specified tolerated failure threshold was exceeded",
                    ) if tolerated_count is not None or tolerated_percentage is not None else _final(exc)
            yield from self._record(frame, "MapStateFailed", None)
            raise _final(exc) from None
        if distributed:
            yield from self._record(frame, "MapRunSucceeded", None)
        yield from self._record(frame, "MapStateSucceeded", None, chain=False)
        result = [
            {"Error": o.error_name or "", "Cause": o.cause_text or ""} if isinstance(o, _Final) else o
            for o in outcomes
        ]
        if state.jsonata:
            return self._finish_jsonata(state, raw, run, frame, result, result=result)
        self._assign_jsonpath(state.assign, result, run, frame)
        if state.result_selector is not MISSING:
            result = self._template(state.result_selector, result, run, frame)
        output = self._result_path(state.result_path, raw, result)
        return self._output_path(state, output, run, frame)

    def _map_items(
        self, state: MapState, raw: Any, effective: Any, states: Mapping[str, Any], run: _StateRun, frame: _Frame
    ) -> Gen[list[Any]]:
        if state.item_reader is not None:
            reader = state.item_reader
            if state.jsonata:
                parameters = (
                    self._jsonata(reader.arguments, "ItemReader/Arguments", states, frame)
                    if reader.arguments is not MISSING
                    else None
                )
            else:
                parameters = (
                    self._template(reader.parameters, effective, run, frame)
                    if reader.parameters is not MISSING
                    else None
                )
            completion = yield from self._perform(
                ReadItems(
                    id=self._effect_id(),
                    resource=reader.resource,
                    parameters=parameters,
                    reader_config=dict(reader.reader_config),
                )
            )
            if not completion.ok:
                raise _Final(completion.error or "States.ItemReaderFailed", completion.cause)
            items = completion.output
            if not isinstance(items, list):
                raise _Final("States.ItemReaderFailed", f"The item reader returned {json_type(items)}, not an array")
            return items
        if state.jsonata:
            if state.items is MISSING:
                items = raw
            else:
                items = self._jsonata(state.items, "Items", states, frame)
                if not isinstance(items, list):
                    expression = _strip(state.items)
                    if not isinstance(items, (dict, str, int, float, bool)) and items is not None:
                        raise AslError(
                            STATES_QUERY_EVALUATION_ERROR,
                            f"The JSONata expression '{expression}' specified for the field 'Items' returned "
                            "an unsupported result type.",
                        )
                    raise AslError(
                        STATES_QUERY_EVALUATION_ERROR,
                        f"The JSONata expression '{expression}' specified for the field 'Items' returned an "
                        f"unexpected result type. Expected 'array', but was '{json_type(items)}' for value: "
                        f"{to_json(items)}",
                    )
            if not isinstance(items, list):
                raise AslError(
                    STATES_QUERY_EVALUATION_ERROR, f"Map state input must be an array but was: {to_json(items)}"
                )
            return items
        items = effective if state.items_path in (None, "$") else self._path(state.items_path, effective, run, frame)
        if not isinstance(items, list):
            raise AslError(STATES_QUERY_EVALUATION_ERROR, f"Map state input must be an array but was: {to_json(items)}")
        return items

    def _item_input(
        self, state: MapState, index: int, item: Any, raw: Any, effective: Any, run: _StateRun, frame: _Frame
    ) -> Any:
        if state.item_selector is MISSING:
            return item
        map_context = {"Item": {"Index": index, "Value": item}}
        if state.jsonata:
            context = self._context(run, Map=map_context)
            return self._jsonata(state.item_selector, "ItemSelector", {"input": raw, "context": context}, frame)
        return self._template(state.item_selector, effective, run, frame, Map=map_context)

    def _batch(self, state: MapState, inputs: list[Any], effective: Any, run: _StateRun, frame: _Frame) -> list[Any]:
        batcher = state.item_batcher
        if batcher is None:
            return inputs
        size = batcher.max_items_per_batch
        if batcher.max_items_per_batch_path is not None:
            size = self._path(batcher.max_items_per_batch_path, effective, run, frame)
        max_bytes = batcher.max_input_bytes_per_batch
        if batcher.max_input_bytes_per_batch_path is not None:
            max_bytes = self._path(batcher.max_input_bytes_per_batch_path, effective, run, frame)
        size = size if _is_int(size) and size > 0 else len(inputs) or 1
        max_bytes = max_bytes if _is_int(max_bytes) and max_bytes > 0 else MAX_PAYLOAD_BYTES
        batch_input: Any = None
        if batcher.batch_input is not MISSING:
            batch_input = (
                self._jsonata(batcher.batch_input, "ItemBatcher/BatchInput", self._states(run, effective), frame)
                if state.jsonata
                else self._template(batcher.batch_input, effective, run, frame)
            )
        batches: list[Any] = []
        current: list[Any] = []
        current_bytes = 0
        for item in inputs:
            item_bytes = len(to_json(item).encode())
            if current and (len(current) >= size or current_bytes + item_bytes > max_bytes):
                batches.append(current)
                current, current_bytes = [], 0
            current.append(item)
            current_bytes += item_bytes
        if current:
            batches.append(current)
        out = []
        for batch in batches:
            entry: dict[str, Any] = {}
            if batch_input is not None:
                entry["BatchInput"] = batch_input
            entry["Items"] = batch
            out.append(entry)
        return out

    def _map_number(
        self,
        state: MapState,
        field: str,
        literal: Any,
        path: str | None,
        effective: Any,
        states: Mapping[str, Any],
        run: _StateRun,
        frame: _Frame,
        *,
        percentage: bool = False,
    ) -> Any:
        """MaxConcurrency / ToleratedFailureCount / ToleratedFailurePercentage (literal, path, JSONata)."""
        if path is not None:
            value = self._path(path, effective, run, frame)
            parsed = _parse_int_like(value) if not percentage else _parse_number_like(value)
            if parsed is None:
                kind = "integer" if not percentage else "number"
                raise AslError(
                    STATES_RUNTIME,
                    f"The {field}Path field refers to value \"{_plain(value)}\" which is not a valid {kind}: {path}",
                )
            value = parsed
        elif literal is MISSING:
            return None
        elif isinstance(literal, str) and state.jsonata:
            value = self._jsonata(literal, field, states, frame)
            if not (_is_int(value) or (percentage and isinstance(value, (int, float)) and not isinstance(value, bool))):
                raise AslError(
                    STATES_QUERY_EVALUATION_ERROR,
                    f"The JSONata expression '{_strip(literal)}' specified for the field '{field}' returned an "
                    f"unexpected result type. Expected 'integer', but was '{json_type(value)}' for value: "
                    f"{to_json(value)}",
                )
        else:
            value = literal
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise AslError(STATES_RUNTIME, f"{field} cannot be negative.")
        if percentage and isinstance(value, (int, float)) and value > 100:
            raise AslError(STATES_RUNTIME, f"{field} cannot be greater than 100.")
        return value

    # --- concurrency -----------------------------------------------------------------------------

    def _gather(
        self,
        count: int,
        child: Callable[[int], Gen[Any]],
        *,
        limit: int,
        tolerated: Callable[[int], bool],
        aborted: Callable[[int], Gen[Any]] | None = None,
    ) -> Gen[list[Any]]:
        """Interleave `count` child generators, at most `limit` at once (0 = no limit).

        Children's RecordEvent and start effects pass straight through; their `Await`s are
        merged into one `Await` over every blocked child's ids, and the Completion is routed to
        the child that awaited it. Children start in index order, so event order (and ids) is
        deterministic. A failed child aborts the rest (Cancel of everything still outstanding)
        unless `tolerated(failures so far)` says to go on; its failure is then kept in its slot.
        """
        results: list[Any] = [None] * count
        generators: dict[int, Gen[Any]] = {}
        outstanding: dict[int, frozenset[int]] = {}  # ids each blocked child awaits
        leftover: dict[int, frozenset[int]] = {}  # ids a resumed child awaited but did not get yet
        owner: dict[int, int] = {}
        ready: deque[tuple[int, Any]] = deque()
        next_index = 0
        running = 0
        failures = 0
        cap = limit if limit and limit > 0 else count

        def start_more() -> None:
            nonlocal next_index, running
            while next_index < count and running < cap:
                generators[next_index] = child(next_index)
                ready.append((next_index, None))
                next_index += 1
                running += 1

        start_more()
        while ready or outstanding:
            while ready:
                index, reply = ready.popleft()
                gen = generators[index]
                while True:
                    try:
                        effect = gen.send(reply)
                    except StopIteration as stop:
                        results[index] = stop.value
                        leftover.pop(index, None)
                        del generators[index]
                        running -= 1
                        start_more()
                        break
                    except AslError as exc:
                        leftover.pop(index, None)
                        del generators[index]
                        running -= 1
                        failures += 1
                        if tolerated(failures):
                            results[index] = _final(exc)
                            start_more()
                            break
                        in_flight = sorted(generators)
                        yield from self._abort(generators, [*outstanding.values(), *leftover.values()])
                        if aborted is not None:
                            for other in in_flight:
                                yield from aborted(other)
                        raise
                    if isinstance(effect, Await):
                        leftover.pop(index, None)
                        outstanding[index] = effect.ids
                        for effect_id in effect.ids:
                            owner[effect_id] = index
                        break
                    reply = yield effect
            if not outstanding:
                break
            waiting = frozenset().union(*outstanding.values())
            completion = yield Await(ids=waiting)
            index = owner.pop(completion.id)
            remaining = outstanding.pop(index) - {completion.id}
            for effect_id in remaining:
                owner.pop(effect_id, None)
            if remaining:
                leftover[index] = remaining
            ready.append((index, completion))
        return results

    def _abort(self, generators: dict[int, Gen[Any]], awaited: list[frozenset[int]]) -> Gen[None]:
        """Close the remaining children and Cancel every effect they started and still await."""
        ids: frozenset[int] = frozenset().union(*awaited)
        for gen in generators.values():
            gen.close()
        generators.clear()
        if ids:
            yield Cancel(ids=ids)


# --- helpers -------------------------------------------------------------------------------------


def _strip(expression: Any) -> str:
    """The JSONata text inside `{% ... %}`, as AWS quotes it in causes."""
    if isinstance(expression, str):
        text = expression.strip()
        if text.startswith("{%") and text.endswith("%}"):
            return text[2:-2].strip()
        return text
    return to_json(expression)


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int)


def _int_or(value: Any, default: int) -> int:
    return value if _is_int(value) else default


def _parse_int_like(value: Any) -> int | None:
    if _is_int(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _parse_number_like(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _plain(value: Any) -> str:
    """A value as AWS quotes it inside "...": strings bare, everything else as JSON."""
    return value if isinstance(value, str) else to_json(value)


def _java_number(value: Any) -> str:
    return to_json(value) if not isinstance(value, str) else value


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else to_json(value)


def _resource_kind(resource: str) -> str:
    """`lambda` for a bare Lambda ARN, `activity` for an activity ARN, `task` for the rest."""
    if resource.startswith("arn:aws:lambda:"):
        return "lambda"
    parts = resource.split(":")
    if len(parts) >= 7 and parts[2] == "states" and parts[5] == "activity":
        return "activity"
    return "task"


def _service_action(resource: str) -> tuple[str, str]:
    """`arn:aws:states:::lambda:invoke.waitForTaskToken` → ("lambda", "invoke.waitForTaskToken")."""
    parts = resource.split(":")
    if resource.startswith("arn:aws:states:::") and len(parts) >= 7:
        return parts[5], ":".join(parts[6:])
    if len(parts) >= 6 and parts[2] == "states" and parts[5] == "activity":
        return "activity", resource
    return "task", resource


def _matches(names: tuple[str, ...], error: str | None, *, task: bool) -> bool:
    if error in _UNCATCHABLE:
        return False
    for name in names:
        if name == error:
            return True
        if name == STATES_ALL:
            return True
        # ASL spec: "States.TaskFailed [...] acts as a wildcard that matches any known error name
        # except for States.Timeout".
        if name == STATES_TASK_FAILED and task and error != STATES_TIMEOUT:
            return True
    return False


def _match_retrier(retriers: tuple[Retrier, ...], error: str | None, task: bool) -> int | None:
    for index, retrier in enumerate(retriers):
        if _matches(retrier.error_equals, error, task=task):
            return index
    return None


def _match_catcher(catchers: tuple[Catcher, ...], error: str | None, task: bool) -> Catcher | None:
    for catcher in catchers:
        if _matches(catcher.error_equals, error, task=task):
            return catcher
    return None


def _retry_delay(retrier: Retrier, attempt: int, rng: _random.Random) -> int:
    """Milliseconds before retry number `attempt + 1`.

    The ASL spec: "IntervalSeconds [...] the number of seconds before the first retry attempt
    (default 1) [...] BackoffRate [...] the multiplier by which the retry interval increases
    during each attempt (default 2.0)"; AWS adds MaxDelaySeconds (a cap) and JitterStrategy
    FULL (a uniformly random delay between 0 and the computed one).
    """
    interval = retrier.interval_seconds if isinstance(retrier.interval_seconds, (int, float)) else 1
    backoff = retrier.backoff_rate if isinstance(retrier.backoff_rate, (int, float)) else 2.0
    seconds = float(interval) * float(backoff) ** attempt
    if isinstance(retrier.max_delay_seconds, (int, float)) and not isinstance(retrier.max_delay_seconds, bool):
        seconds = min(seconds, float(retrier.max_delay_seconds))
    if retrier.jitter_strategy == "FULL":
        seconds = rng.uniform(0, seconds)
    return int(seconds * 1000)


def drive(gen: Gen[T], perform: Callable[[Effect], Any]) -> T:
    """Run an interpreter generator to completion with a synchronous `perform(effect) -> reply`."""
    try:
        effect = next(gen)
        while True:
            effect = gen.send(perform(effect))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


__all__ = ["Execution", "ExecutionConfig", "ExecutionResult", "MAX_PAYLOAD_BYTES", "drive"]
