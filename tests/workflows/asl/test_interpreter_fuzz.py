"""Property: any well-formed state machine on any JSON input ends SUCCEEDED or FAILED.

Invariant (STYLE rule 13): for random definitions built from every state type and the common
fields (paths, templates, intrinsics, JSONata, Retry/Catch, Map/Parallel nesting) and random
JSON input, the interpreter never raises: it ends with an ExecutionResult whose failure is a
named error (States.* or a task's error), and its history is numbered 1..n without gaps.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.workflows.asl.local import LocalDriver
from server.workflows.asl.model import parse_state_machine

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-10, 10, allow_nan=False) | st.sampled_from(["", "a", "2024-01-01T00:00:00Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "items", "n"]), inner, max_size=3),
    max_leaves=8,
)
inputs = st.dictionaries(st.sampled_from(["a", "b", "items", "n"]), json_values, max_size=4) | json_values

paths = st.sampled_from(["$", "$.a", "$.b", "$.a.b", "$.items[0]", "$.items[*]", "$$.Execution.Input", "$x", "$$.State.Name"])
ref_paths = st.sampled_from(["$", "$.r", "$.a.b", "$.items[1]"]) | st.none()
templates = st.sampled_from(
    [
        {"k.$": "$.a"},
        {"k": 1, "n.$": "$.n"},
        {"f.$": "States.Format('{} and {}', $.a, $.b)"},
        {"m.$": "States.MathAdd($.n, 1)"},
        {"arr.$": "States.Array($.a, $$.State.Name)"},
        {"len.$": "States.ArrayLength($.items)"},
        {"v.$": "$x"},
        {"j.$": "States.JsonToString($)"},
    ]
)
jsonata_values = st.sampled_from(
    ["{% $states.input %}", "{% $states.input.a %}", "{% $x %}", "{% $count($states.input.items) %}", "{% 1 + 1 %}",
     {"o": "{% $states.input.n * 2 %}"}, "{% $states.context.State.Name %}", "literal", 3]
)
error_names = st.sampled_from(["States.ALL", "States.TaskFailed", "ValueError", "States.Timeout", "Custom"])


def retry_catch(draw: Any, later: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        fields["Retry"] = [{"ErrorEquals": [draw(error_names)], "MaxAttempts": draw(st.integers(0, 2)),
                            "IntervalSeconds": draw(st.integers(1, 3)), "BackoffRate": 1.5,
                            "JitterStrategy": draw(st.sampled_from(["FULL", "NONE"]))}]
    if later and draw(st.booleans()):
        fields["Catch"] = [{"ErrorEquals": [draw(error_names)], "Next": draw(st.sampled_from(later)),
                            "ResultPath": draw(ref_paths)}]
    return fields


@st.composite
def machines(draw: Any, depth: int = 0, jsonata: bool | None = None) -> dict[str, Any]:
    if jsonata is None:
        jsonata = draw(st.booleans())
    count = draw(st.integers(1, 5))
    names = [f"S{i}" for i in range(count)]
    states: dict[str, Any] = {}
    for i, name in enumerate(names):
        later = names[i + 1 :]
        kinds = ["Pass", "Task", "Wait", "Choice", "Succeed", "Fail"] + (["Parallel", "Map"] if depth < 2 else [])
        kind = draw(st.sampled_from(kinds))
        state: dict[str, Any] = {"Type": kind}
        if kind == "Choice" and not later:
            kind = state["Type"] = "Succeed"
        if kind == "Choice":
            if jsonata:
                rule: dict[str, Any] = {"Condition": draw(st.sampled_from(
                    ["{% $states.input.n > 1 %}", "{% true %}", "{% $exists($states.input.a) %}", "{% $states.input %}"]))}
            else:
                operator, value = draw(st.sampled_from([
                    ("NumericGreaterThan", 1), ("StringEquals", "a"), ("IsPresent", True), ("IsNull", False),
                    ("BooleanEquals", True), ("TimestampLessThan", "2030-01-01T00:00:00Z"), ("StringMatches", "a*"),
                    ("NumericEqualsPath", "$.n"),
                ]))
                rule = {"Variable": draw(paths), operator: value}
                if draw(st.booleans()):
                    rule = {"Not": rule} if draw(st.booleans()) else {"And": [rule, {"Variable": "$", "IsPresent": True}]}
            rule["Next"] = draw(st.sampled_from(later))
            state["Choices"] = [rule]
            if draw(st.booleans()):
                state["Default"] = draw(st.sampled_from(later))
        elif kind == "Fail":
            if jsonata:
                state["Error"] = draw(st.sampled_from(["E", "{% 'Err' & $string($states.input.n) %}"]))
            elif draw(st.booleans()):
                state["ErrorPath"] = draw(paths)
            else:
                state["Error"] = "E"
            state["Cause"] = "c"
        elif kind not in ("Succeed",):
            if later and draw(st.booleans()):
                state["Next"] = draw(st.sampled_from(later))
            else:
                state["End"] = True
        if kind in ("Pass", "Task", "Wait", "Choice", "Succeed", "Parallel", "Map") and not jsonata:
            if draw(st.booleans()):
                state["InputPath"] = draw(paths | st.none())
            if kind != "Choice" and draw(st.booleans()):
                state["OutputPath"] = draw(paths | st.none())
        if kind in ("Pass", "Task", "Parallel", "Map"):
            if jsonata:
                if draw(st.booleans()):
                    state["Output"] = draw(jsonata_values)
            else:
                if draw(st.booleans()):
                    state["ResultPath"] = draw(ref_paths)
                if kind != "Map" and draw(st.booleans()):
                    state["Parameters"] = draw(templates)
        if kind in ("Pass", "Task", "Wait") and draw(st.booleans()):
            state["Assign"] = {"x": draw(jsonata_values)} if jsonata else {"x.$": draw(paths)}
        if kind == "Pass" and not jsonata and draw(st.booleans()):
            state["Result"] = draw(json_values)
        if kind == "Task":
            state["Resource"] = LAMBDA + draw(st.sampled_from(["ok", "boom", "slow", "missing"]))
            if draw(st.booleans()):
                state["TimeoutSeconds"] = draw(st.integers(1, 3))
            state.update(retry_catch(draw, later))
        if kind == "Wait":
            if jsonata:
                state["Seconds"] = draw(st.sampled_from([1, "{% $states.input.n %}", "{% 2 %}"]))
            else:
                state.update(draw(st.sampled_from(
                    [{"Seconds": 2}, {"SecondsPath": "$.n"}, {"Timestamp": "2024-02-01T00:00:00Z"}, {"TimestampPath": "$.a"}])))
        if kind == "Parallel":
            state["Branches"] = [draw(machines(depth + 1, jsonata)) for _ in range(draw(st.integers(1, 2)))]
            state.update(retry_catch(draw, later))
        if kind == "Map":
            state["ItemProcessor"] = draw(machines(depth + 1, jsonata))
            if jsonata:
                state["Items"] = draw(st.sampled_from(["{% $states.input.items %}", [1, 2], "{% $states.input %}"]))
            else:
                state["ItemsPath"] = draw(st.sampled_from(["$.items", "$", "$.a"]))
                if draw(st.booleans()):
                    state["ItemSelector"] = {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"}
            state["MaxConcurrency"] = draw(st.integers(0, 3))
            state.update(retry_catch(draw, later))
        states[name] = state
    machine: dict[str, Any] = {"StartAt": names[0], "States": states}
    if jsonata and depth == 0:
        machine["QueryLanguage"] = "JSONata"
    return machine


def ok(event: Any) -> Any:
    return event


def boom(event: Any) -> Any:
    raise ValueError(f"boom on {json.dumps(event)[:20]}")


def slow(event: Any) -> Any:
    from server.workflows.asl.local import Delayed

    return Delayed(2, event)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definition=machines(), input=inputs)
def test_random_machines_end_in_a_named_state(definition: dict[str, Any], input: Any) -> None:
    machine = parse_state_machine(definition)
    driver = LocalDriver({"ok": ok, "boom": boom, "slow": slow})
    result = driver.run(machine, input)
    assert result.status in ("SUCCEEDED", "FAILED")
    if result.status == "FAILED":
        # Named: a States.* error, a task's error, or what a Fail state's Error/ErrorPath says.
        assert result.error is None or isinstance(result.error, str)
        assert result.cause is None or isinstance(result.cause, str)
    else:
        json.dumps(result.output)
    history = driver.history
    assert [event["id"] for event in history] == list(range(1, len(history) + 1))
    assert history[-1]["type"] in ("ExecutionSucceeded", "ExecutionFailed")


FIELDS = ["Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "ResultSelector",
          "Retry", "Catch", "TimeoutSeconds", "HeartbeatSeconds", "TimeoutSecondsPath", "Seconds", "SecondsPath",
          "Timestamp", "TimestampPath", "Choices", "Default", "Error", "Cause", "ErrorPath", "CausePath",
          "Branches", "ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector", "MaxConcurrency",
          "MaxConcurrencyPath", "ToleratedFailureCount", "ToleratedFailurePercentage", "ItemBatcher", "ItemReader",
          "Assign", "Output", "Arguments", "QueryLanguage", "Resource"]
anything = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True) | st.text(max_size=6)
    | st.sampled_from(["$", "$.a", "S0", "S1", "{% 1 %}", "{% $x %}", "States.ALL", "JSONata", "JSONPath"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS + ["a", "b.$", "k"]), inner, max_size=3),
    max_leaves=10,
)


@st.composite
def loose_machines(draw: Any) -> Any:
    states = {}
    for name in ("S0", "S1"):
        state = {"Type": draw(st.sampled_from(["Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map", "Bogus"]))}
        for field in draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True)):
            state[field] = draw(anything)
        states[name] = state
    return {"StartAt": draw(st.sampled_from(["S0", "S1", "Nope"])), "States": states}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definition=loose_machines() | anything, input=json_values)
def test_any_json_definition_parses_or_is_refused_cleanly_and_never_crashes(definition: Any, input: Any) -> None:
    """Invariant: random JSON is parsed or refused with AslSyntaxError; what parses runs to an end."""
    from server.workflows.asl.errors import AslSyntaxError
    from server.workflows.asl.interpreter import ExecutionConfig

    try:
        machine = parse_state_machine(definition)
    except AslSyntaxError:
        return
    result = LocalDriver({"ok": ok}).run(machine, input, ExecutionConfig(max_history_events=2000))
    assert result.status in ("SUCCEEDED", "FAILED", "TIMED_OUT")
