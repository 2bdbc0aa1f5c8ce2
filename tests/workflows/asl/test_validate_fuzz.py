"""Property tests: the validator never raises, whatever it is given.

Invariant (every test here): `validate_definition(x)` returns a list of well-formed
Diagnostics (severity ERROR or WARNING, a code, a message, a location starting with "/") for
any x: random text, random JSON, ASL-shaped JSON built from the language's own vocabulary,
and valid definitions with one random part replaced. Parsed JSON and its text give the
same diagnostics.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.workflows.asl.validate import Diagnostic, validate_definition

from .test_validate import GOOD

FIELDS = [
    "Type", "Next", "End", "Comment", "QueryLanguage", "InputPath", "OutputPath", "Parameters",
    "ResultSelector", "ResultPath", "Result", "Resource", "TimeoutSeconds", "TimeoutSecondsPath",
    "HeartbeatSeconds", "HeartbeatSecondsPath", "Retry", "Catch", "Choices", "Default",
    "Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Error", "Cause", "ErrorPath",
    "CausePath", "Branches", "ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector",
    "ItemReader", "ItemBatcher", "ResultWriter", "MaxConcurrency", "ToleratedFailureCount",
    "ToleratedFailurePercentage", "ProcessorConfig", "Mode", "ExecutionType", "Arguments",
    "Output", "Assign", "Condition", "Variable", "And", "Or", "Not", "StringEquals",
    "NumericEquals", "BooleanEquals", "TimestampEquals", "IsPresent", "StringEqualsPath",
    "ErrorEquals", "MaxAttempts", "IntervalSeconds", "BackoffRate", "JitterStrategy",
    "MaxDelaySeconds", "StartAt", "States", "Label", "x.$", "Credentials",
]
WORDS = [
    "A", "B", "S", "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
    "JSONPath", "JSONata", "INLINE", "DISTRIBUTED", "STANDARD", "EXPRESS", "FULL", "NONE",
    "States.ALL", "States.Timeout", "$", "$.a", "$$.Execution.Id", "$var", "$.a[*]", "$.[",
    "States.Format('{}', $.a)", "States.Nope(", "States.Array()", "{% 1 + 1 %}", "{% ( %}",
    "{% $states.input %}", "{%%}", "{% %}", "2016-03-14T01:59:00Z", "not a timestamp",
    "arn:aws:lambda:us-east-1:111111111111:function:f", "arn:", "",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(WORDS),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)
ASL = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(FIELDS) | st.sampled_from(WORDS[:4]), inner, max_size=6),
    max_leaves=15,
)
STATE = st.dictionaries(st.sampled_from(FIELDS), ASL, max_size=6).map(
    lambda d: d if "Type" in d else {**d, "Type": "Pass"}
)
MACHINE = st.builds(
    lambda start, states, extra: {"StartAt": start, "States": states, **extra},
    st.sampled_from(["A", "B", "S", 1]),
    st.dictionaries(st.sampled_from(["A", "B", "S", "x" * 81]), STATE, min_size=0, max_size=4),
    st.dictionaries(st.sampled_from(["QueryLanguage", "TimeoutSeconds", "Comment", "Version"]), ASL, max_size=2),
)


def check(definition: Any) -> list[Diagnostic]:
    diagnostics = validate_definition(definition)
    assert isinstance(diagnostics, list)
    for d in diagnostics:
        assert isinstance(d, Diagnostic)
        assert d.severity in ("ERROR", "WARNING")
        assert d.code and d.code.isupper()
        assert d.message
        assert d.location.startswith("/")
    return diagnostics


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_raises(text: str) -> None:
    check(text)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_random_json_never_raises(value: Any) -> None:
    text_result = check(json.dumps(value))
    if not isinstance(value, str):  # a str argument *is* the JSON text, not a JSON string
        assert check(value) == text_result


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MACHINE)
def test_asl_shaped_definitions_never_raise(definition: dict[str, Any]) -> None:
    assert check(definition) == check(json.dumps(definition))


def _containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _containers(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _containers(item, (*path, index))
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([d for _, d in GOOD]), st.data())
def test_mutated_valid_definitions_never_raise(definition: dict[str, Any], data: st.DataObject) -> None:
    mutated = copy.deepcopy(definition)
    path = data.draw(st.sampled_from(_containers(mutated)[1:]))
    parent = mutated
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = data.draw(ASL)
    check(mutated)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([d for _, d in GOOD]), st.data())
def test_dropping_a_field_never_raises(definition: dict[str, Any], data: st.DataObject) -> None:
    mutated = copy.deepcopy(definition)
    paths = [p for p in _containers(mutated)[1:] if isinstance(p[-1], str)]
    path = data.draw(st.sampled_from(paths))
    parent = mutated
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    check(mutated)
