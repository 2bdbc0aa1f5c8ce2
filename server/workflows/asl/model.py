"""Typed, frozen form of an Amazon States Language definition.

`parse_state_machine` turns the JSON object into one class per state type so the interpreter
dispatches on types instead of poking at dicts. Parsing is lenient about *values* (the
validator, `validate.py`, reports those with locations) but strict about *shape*: anything it
cannot represent raises `AslSyntaxError` with the location, never a KeyError.

Transitions are data (STYLE rule 4): every state carries `next`/`end`, Choice rules carry their
`next`, catchers their `next`; the interpreter is the only reader of that table.

Optional JSON-valued fields whose JSON `null` means something (ResultPath null discards the
result, Output null outputs null) use the `MISSING` sentinel for "field absent".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, Mapping

from .errors import AslSyntaxError

QueryLanguage = Literal["JSONPath", "JSONata"]


class _Missing:
    """Sentinel: the field is absent from the definition (distinct from JSON null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

# How deep Parallel/Map may nest. AWS documents no number (only the 1 MB definition limit); we
# refuse deeper machines at parse time so that neither parsing nor the interpreter's generator
# chain can exhaust Python's stack.
MAX_NESTING: Final = 64

# ASL spec, "Choice Rules": the comparison operators. Each takes a literal; the "...Path"
# variants take a path to compare against.
STRING_OPERATORS: Final = (
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
)
NUMERIC_OPERATORS: Final = (
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
)
TIMESTAMP_OPERATORS: Final = (
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
)
COMPARISON_OPERATORS: Final = (
    STRING_OPERATORS
    + NUMERIC_OPERATORS
    + TIMESTAMP_OPERATORS
    + ("BooleanEquals", "StringMatches")
    + tuple(op + "Path" for op in STRING_OPERATORS + NUMERIC_OPERATORS + TIMESTAMP_OPERATORS)
    + ("BooleanEqualsPath",)
)
TYPE_TEST_OPERATORS: Final = (
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
)


# --- Retry / Catch -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Retrier:
    """ASL spec "Retrying after error": defaults IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0."""

    error_equals: tuple[str, ...]
    interval_seconds: Any = 1
    max_attempts: Any = 3
    backoff_rate: Any = 2.0
    max_delay_seconds: Any = None
    jitter_strategy: str = "NONE"


@dataclass(frozen=True, kw_only=True, slots=True)
class Catcher:
    """ASL spec "Fallback states": ResultPath defaults to "$" (the error output replaces the input)."""

    error_equals: tuple[str, ...]
    next: str
    result_path: str | None = "$"
    output: Any = MISSING
    assign: Any = MISSING


# --- Choice rules --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Comparison:
    """`Variable` + one operator; `value` is a literal, or a path when `operator` ends in Path."""

    variable: str
    operator: str
    value: Any


@dataclass(frozen=True, kw_only=True, slots=True)
class AndRule:
    rules: tuple[Condition, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class OrRule:
    rules: tuple[Condition, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class NotRule:
    rule: Condition


@dataclass(frozen=True, kw_only=True, slots=True)
class JsonataCondition:
    """JSONata mode: `Condition` is an expression that must evaluate to a boolean."""

    expression: Any


Condition = Comparison | AndRule | OrRule | NotRule | JsonataCondition


@dataclass(frozen=True, kw_only=True, slots=True)
class ChoiceRule:
    """A top-level rule: its condition, where to go, and (variables era) Assign/Output."""

    condition: Condition
    next: str
    assign: Any = MISSING
    output: Any = MISSING


# --- States --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class _StateBase:
    name: str
    query_language: QueryLanguage
    comment: str | None = None
    next: str | None = None
    end: bool = False
    input_path: str | None = "$"
    output_path: str | None = "$"
    assign: Any = MISSING
    output: Any = MISSING

    @property
    def jsonata(self) -> bool:
        return self.query_language == "JSONata"


@dataclass(frozen=True, kw_only=True, slots=True)
class PassState(_StateBase):
    type: Literal["Pass"] = "Pass"
    result: Any = MISSING
    result_path: str | None = "$"
    parameters: Any = MISSING


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskState(_StateBase):
    type: Literal["Task"] = "Task"
    resource: Any = ""
    parameters: Any = MISSING
    arguments: Any = MISSING
    result_selector: Any = MISSING
    result_path: str | None = "$"
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()
    timeout_seconds: Any = None
    timeout_seconds_path: str | None = None
    heartbeat_seconds: Any = None
    heartbeat_seconds_path: str | None = None
    credentials: Any = MISSING


@dataclass(frozen=True, kw_only=True, slots=True)
class ChoiceState(_StateBase):
    type: Literal["Choice"] = "Choice"
    choices: tuple[ChoiceRule, ...] = ()
    default: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class WaitState(_StateBase):
    type: Literal["Wait"] = "Wait"
    seconds: Any = MISSING
    seconds_path: str | None = None
    timestamp: Any = MISSING
    timestamp_path: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SucceedState(_StateBase):
    type: Literal["Succeed"] = "Succeed"


@dataclass(frozen=True, kw_only=True, slots=True)
class FailState(_StateBase):
    type: Literal["Fail"] = "Fail"
    error: Any = MISSING
    error_path: str | None = None
    cause: Any = MISSING
    cause_path: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ParallelState(_StateBase):
    type: Literal["Parallel"] = "Parallel"
    branches: tuple[StateMachine, ...] = ()
    parameters: Any = MISSING
    arguments: Any = MISSING
    result_selector: Any = MISSING
    result_path: str | None = "$"
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemBatcher:
    max_items_per_batch: Any = None
    max_items_per_batch_path: str | None = None
    max_input_bytes_per_batch: Any = None
    max_input_bytes_per_batch_path: str | None = None
    batch_input: Any = MISSING


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemReader:
    """Where a distributed Map reads its items: `resource` names the source, the driver reads it."""

    resource: str
    parameters: Any = MISSING
    arguments: Any = MISSING
    reader_config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class MapState(_StateBase):
    type: Literal["Map"] = "Map"
    processor: StateMachine | None = None
    mode: Literal["INLINE", "DISTRIBUTED"] = "INLINE"
    execution_type: str | None = None
    items_path: str | None = "$"
    items: Any = MISSING
    item_selector: Any = MISSING  # ItemSelector, or the legacy Parameters
    item_batcher: ItemBatcher | None = None
    item_reader: ItemReader | None = None
    result_writer: Any = MISSING
    max_concurrency: Any = 0
    max_concurrency_path: str | None = None
    tolerated_failure_count: Any = MISSING
    tolerated_failure_count_path: str | None = None
    tolerated_failure_percentage: Any = MISSING
    tolerated_failure_percentage_path: str | None = None
    label: str | None = None
    result_selector: Any = MISSING
    result_path: str | None = "$"
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()


State = PassState | TaskState | ChoiceState | WaitState | SucceedState | FailState | ParallelState | MapState


@dataclass(frozen=True, kw_only=True, slots=True)
class StateMachine:
    """A machine, a Parallel branch or a Map processor: StartAt plus its States table."""

    start_at: str
    states: Mapping[str, State]
    query_language: QueryLanguage = "JSONPath"
    comment: str | None = None
    timeout_seconds: Any = None
    version: str | None = None


# --- parsing -------------------------------------------------------------------------------

_PATH_OR_NULL = object()


def parse_state_machine(definition: Any, *, query_language: QueryLanguage | None = None) -> StateMachine:
    """Parse a definition into typed objects.

    Args:
        definition: the ASL object (already `json.loads`-ed).
        query_language: inherited language for nested machines (Parallel branches, Map
            processors); the top level defaults to JSONPath.

    Returns:
        The StateMachine.

    Raises:
        AslSyntaxError: the definition is not shaped like a state machine; the message names
            the location (e.g. "/States/Foo/Type: ...").
    """
    try:
        return _parse_machine(definition, query_language or "JSONPath", "")
    except RecursionError:
        raise AslSyntaxError(f"/: the definition is nested too deeply (at most {MAX_NESTING} levels)") from None


def _fail(location: str, message: str) -> AslSyntaxError:
    return AslSyntaxError(f"{location or '/'}: {message}")


def _obj(value: Any, location: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _fail(location, f"expected a JSON object, got {type(value).__name__}")
    return value


def _str(value: Any, location: str) -> str:
    if not isinstance(value, str):
        raise _fail(location, f"expected a string, got {json_type(value)}")
    return value


def _opt_str(raw: Mapping[str, Any], key: str, location: str) -> str | None:
    if key not in raw or raw[key] is None:
        return None
    return _str(raw[key], f"{location}/{key}")


def _path_or_null(raw: Mapping[str, Any], key: str, location: str) -> str | None:
    """InputPath/OutputPath/ResultPath: absent means "$", null means null."""
    if key not in raw:
        return "$"
    if raw[key] is None:
        return None
    return _str(raw[key], f"{location}/{key}")


def json_type(value: Any) -> str:
    """The JSON type name of a Python value, as AWS spells it in causes."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _parse_machine(definition: Any, inherited: QueryLanguage, location: str) -> StateMachine:
    if location.count("/States/") > MAX_NESTING:
        raise _fail(location, f"the definition is nested too deeply (at most {MAX_NESTING} levels of Parallel/Map)")
    raw = _obj(definition, location)
    language = raw.get("QueryLanguage", inherited)
    if language not in ("JSONPath", "JSONata"):
        raise _fail(f"{location}/QueryLanguage", f"must be JSONPath or JSONata, got {language!r}")
    start_at = _str(raw.get("StartAt"), f"{location}/StartAt")
    states_raw = _obj(raw.get("States"), f"{location}/States")
    states: dict[str, State] = {}
    for name, state_raw in states_raw.items():
        states[name] = _parse_state(name, state_raw, language, f"{location}/States/{name}")
    if start_at not in states:
        raise _fail(f"{location}/StartAt", f"state {start_at!r} does not exist")
    return StateMachine(
        start_at=start_at,
        states=states,
        query_language=language,
        comment=raw.get("Comment") if isinstance(raw.get("Comment"), str) else None,
        timeout_seconds=raw.get("TimeoutSeconds"),
        version=raw.get("Version") if isinstance(raw.get("Version"), str) else None,
    )


def _common(name: str, raw: Mapping[str, Any], language: QueryLanguage, location: str) -> dict[str, Any]:
    state_language = raw.get("QueryLanguage", language)
    if state_language not in ("JSONPath", "JSONata"):
        raise _fail(f"{location}/QueryLanguage", f"must be JSONPath or JSONata, got {state_language!r}")
    end = raw.get("End", False)
    return {
        "name": name,
        "query_language": state_language,
        "comment": raw.get("Comment") if isinstance(raw.get("Comment"), str) else None,
        "next": _opt_str(raw, "Next", location),
        "end": end is True,
        "input_path": _path_or_null(raw, "InputPath", location),
        "output_path": _path_or_null(raw, "OutputPath", location),
        "assign": raw.get("Assign", MISSING),
        "output": raw.get("Output", MISSING),
    }


def _parse_state(name: str, state_raw: Any, language: QueryLanguage, location: str) -> State:
    raw = _obj(state_raw, location)
    kind = raw.get("Type")
    common = _common(name, raw, language, location)
    state_language: QueryLanguage = common["query_language"]
    if kind == "Pass":
        return PassState(
            **common,
            result=raw.get("Result", MISSING),
            result_path=_path_or_null(raw, "ResultPath", location),
            parameters=raw.get("Parameters", MISSING),
        )
    if kind == "Task":
        return TaskState(
            **common,
            resource=raw.get("Resource", ""),
            parameters=raw.get("Parameters", MISSING),
            arguments=raw.get("Arguments", MISSING),
            result_selector=raw.get("ResultSelector", MISSING),
            result_path=_path_or_null(raw, "ResultPath", location),
            retry=_parse_retry(raw.get("Retry", []), f"{location}/Retry"),
            catch=_parse_catch(raw.get("Catch", []), f"{location}/Catch"),
            timeout_seconds=raw.get("TimeoutSeconds"),
            timeout_seconds_path=_opt_str(raw, "TimeoutSecondsPath", location),
            heartbeat_seconds=raw.get("HeartbeatSeconds"),
            heartbeat_seconds_path=_opt_str(raw, "HeartbeatSecondsPath", location),
            credentials=raw.get("Credentials", MISSING),
        )
    if kind == "Choice":
        choices = raw.get("Choices", [])
        if not isinstance(choices, list):
            raise _fail(f"{location}/Choices", "expected an array of choice rules")
        return ChoiceState(
            **common,
            choices=tuple(
                _parse_choice_rule(rule, state_language, f"{location}/Choices/{index}")
                for index, rule in enumerate(choices)
            ),
            default=_opt_str(raw, "Default", location),
        )
    if kind == "Wait":
        return WaitState(
            **common,
            seconds=raw.get("Seconds", MISSING),
            seconds_path=_opt_str(raw, "SecondsPath", location),
            timestamp=raw.get("Timestamp", MISSING),
            timestamp_path=_opt_str(raw, "TimestampPath", location),
        )
    if kind == "Succeed":
        return SucceedState(**common)
    if kind == "Fail":
        return FailState(
            **common,
            error=raw.get("Error", MISSING),
            error_path=_opt_str(raw, "ErrorPath", location),
            cause=raw.get("Cause", MISSING),
            cause_path=_opt_str(raw, "CausePath", location),
        )
    if kind == "Parallel":
        branches = raw.get("Branches")
        if not isinstance(branches, list):
            raise _fail(f"{location}/Branches", "expected an array of state machines")
        return ParallelState(
            **common,
            branches=tuple(
                _parse_machine(branch, state_language, f"{location}/Branches/{index}")
                for index, branch in enumerate(branches)
            ),
            parameters=raw.get("Parameters", MISSING),
            arguments=raw.get("Arguments", MISSING),
            result_selector=raw.get("ResultSelector", MISSING),
            result_path=_path_or_null(raw, "ResultPath", location),
            retry=_parse_retry(raw.get("Retry", []), f"{location}/Retry"),
            catch=_parse_catch(raw.get("Catch", []), f"{location}/Catch"),
        )
    if kind == "Map":
        return _parse_map(common, raw, state_language, location)
    raise _fail(f"{location}/Type", f"unknown state type {kind!r}")


def _parse_map(common: dict[str, Any], raw: Mapping[str, Any], language: QueryLanguage, location: str) -> MapState:
    processor_key = "ItemProcessor" if "ItemProcessor" in raw else "Iterator"
    processor_raw = _obj(raw.get(processor_key), f"{location}/{processor_key}")
    processor = _parse_machine(processor_raw, language, f"{location}/{processor_key}")
    config = processor_raw.get("ProcessorConfig", {})
    config = config if isinstance(config, dict) else {}
    mode = config.get("Mode", "INLINE")
    batcher_raw = raw.get("ItemBatcher")
    batcher = None
    if isinstance(batcher_raw, dict):
        batcher = ItemBatcher(
            max_items_per_batch=batcher_raw.get("MaxItemsPerBatch"),
            max_items_per_batch_path=_opt_str(batcher_raw, "MaxItemsPerBatchPath", f"{location}/ItemBatcher"),
            max_input_bytes_per_batch=batcher_raw.get("MaxInputBytesPerBatch"),
            max_input_bytes_per_batch_path=_opt_str(
                batcher_raw, "MaxInputBytesPerBatchPath", f"{location}/ItemBatcher"
            ),
            batch_input=batcher_raw.get("BatchInput", MISSING),
        )
    reader_raw = raw.get("ItemReader")
    reader = None
    if isinstance(reader_raw, dict):
        reader_config = reader_raw.get("ReaderConfig", {})
        reader = ItemReader(
            resource=_str(reader_raw.get("Resource"), f"{location}/ItemReader/Resource"),
            parameters=reader_raw.get("Parameters", MISSING),
            arguments=reader_raw.get("Arguments", MISSING),
            reader_config=reader_config if isinstance(reader_config, dict) else {},
        )
    selector = raw.get("ItemSelector", raw.get("Parameters", MISSING))
    return MapState(
        **common,
        processor=processor,
        mode="DISTRIBUTED" if mode == "DISTRIBUTED" else "INLINE",
        execution_type=config.get("ExecutionType"),
        items_path=_path_or_null(raw, "ItemsPath", location),
        items=raw.get("Items", MISSING),
        item_selector=selector,
        item_batcher=batcher,
        item_reader=reader,
        result_writer=raw.get("ResultWriter", MISSING),
        max_concurrency=raw.get("MaxConcurrency", 0),
        max_concurrency_path=_opt_str(raw, "MaxConcurrencyPath", location),
        tolerated_failure_count=raw.get("ToleratedFailureCount", MISSING),
        tolerated_failure_count_path=_opt_str(raw, "ToleratedFailureCountPath", location),
        tolerated_failure_percentage=raw.get("ToleratedFailurePercentage", MISSING),
        tolerated_failure_percentage_path=_opt_str(raw, "ToleratedFailurePercentagePath", location),
        label=raw.get("Label") if isinstance(raw.get("Label"), str) else None,
        result_selector=raw.get("ResultSelector", MISSING),
        result_path=_path_or_null(raw, "ResultPath", location),
        retry=_parse_retry(raw.get("Retry", []), f"{location}/Retry"),
        catch=_parse_catch(raw.get("Catch", []), f"{location}/Catch"),
    )


def _error_equals(raw: Mapping[str, Any], location: str) -> tuple[str, ...]:
    names = raw.get("ErrorEquals")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise _fail(f"{location}/ErrorEquals", "expected an array of error names")
    return tuple(names)


def _parse_retry(value: Any, location: str) -> tuple[Retrier, ...]:
    if not isinstance(value, list):
        raise _fail(location, "expected an array of retriers")
    retriers = []
    for index, item in enumerate(value):
        raw = _obj(item, f"{location}/{index}")
        retriers.append(
            Retrier(
                error_equals=_error_equals(raw, f"{location}/{index}"),
                interval_seconds=raw.get("IntervalSeconds", 1),
                max_attempts=raw.get("MaxAttempts", 3),
                backoff_rate=raw.get("BackoffRate", 2.0),
                max_delay_seconds=raw.get("MaxDelaySeconds"),
                jitter_strategy=raw.get("JitterStrategy", "NONE"),
            )
        )
    return tuple(retriers)


def _parse_catch(value: Any, location: str) -> tuple[Catcher, ...]:
    if not isinstance(value, list):
        raise _fail(location, "expected an array of catchers")
    catchers = []
    for index, item in enumerate(value):
        raw = _obj(item, f"{location}/{index}")
        catchers.append(
            Catcher(
                error_equals=_error_equals(raw, f"{location}/{index}"),
                next=_str(raw.get("Next"), f"{location}/{index}/Next"),
                result_path=_path_or_null(raw, "ResultPath", f"{location}/{index}"),
                output=raw.get("Output", MISSING),
                assign=raw.get("Assign", MISSING),
            )
        )
    return tuple(catchers)


def _parse_choice_rule(value: Any, language: QueryLanguage, location: str) -> ChoiceRule:
    raw = _obj(value, location)
    condition: Condition
    if "Condition" in raw:
        condition = JsonataCondition(expression=raw["Condition"])
    else:
        condition = _parse_condition(raw, location)
    return ChoiceRule(
        condition=condition,
        next=_str(raw.get("Next"), f"{location}/Next"),
        assign=raw.get("Assign", MISSING),
        output=raw.get("Output", MISSING),
    )


def _parse_condition(raw: Mapping[str, Any], location: str) -> Condition:
    if "And" in raw or "Or" in raw:
        key = "And" if "And" in raw else "Or"
        items = raw[key]
        if not isinstance(items, list):
            raise _fail(f"{location}/{key}", "expected an array of choice rules")
        rules = tuple(
            _parse_condition(_obj(item, f"{location}/{key}/{index}"), f"{location}/{key}/{index}")
            for index, item in enumerate(items)
        )
        return AndRule(rules=rules) if key == "And" else OrRule(rules=rules)
    if "Not" in raw:
        return NotRule(rule=_parse_condition(_obj(raw["Not"], f"{location}/Not"), f"{location}/Not"))
    if "Condition" in raw:
        return JsonataCondition(expression=raw["Condition"])
    variable = _str(raw.get("Variable"), f"{location}/Variable")
    for operator in COMPARISON_OPERATORS + TYPE_TEST_OPERATORS:
        if operator in raw:
            return Comparison(variable=variable, operator=operator, value=raw[operator])
    raise _fail(location, "choice rule has no comparison operator")
