"""The ASL validator: each bad definition gets its code at its location; good ones get none.

Locations follow ValidateStateMachineDefinition's format, `/States/<StateName>/<FieldName>`,
with array elements as AWS writes them (`/Choices[0]/Next`, `/Catch[0]/Next`, `/Branches[1]`).
An unsupported field is reported, as AWS does, at the object that holds it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from server.workflows.asl import validate as validate_module
from server.workflows.asl.validate import (
    MAX_DEFINITION_SIZE,
    MAX_JSON_DEPTH,
    MAX_NESTING_DEPTH,
    Diagnostic,
    format_diagnostics,
    has_errors,
    validate_definition,
)

REPO = Path(__file__).resolve().parents[3]
CONFORMANCE = REPO.parent / "shared" / "asl-conformance" / "cases"

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:f"


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


def one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A machine whose only state is `S`."""
    return machine({"S": state}, **top)


def jsonata(state: dict[str, Any]) -> dict[str, Any]:
    return one(state, QueryLanguage="JSONata")


def codes_at(definition: Any) -> set[tuple[str, str]]:
    return {(d.code, d.location) for d in validate_definition(definition) if d.severity == "ERROR"}


def errors(definition: Any) -> list[Diagnostic]:
    return [d for d in validate_definition(definition) if d.severity == "ERROR"]


PASS_END = {"Type": "Pass", "End": True}
TASK = {"Type": "Task", "Resource": LAMBDA, "End": True}


def parallel(*branches: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "Parallel", "Branches": list(branches), "End": True}


def inline_map(states: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Map",
        "ItemProcessor": {"StartAt": next(iter(states)), "States": states},
        "End": True,
        **extra,
    }


def distributed_map(states: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": next(iter(states)),
            "States": states,
        },
        "End": True,
        **extra,
    }


def choice(*rules: dict[str, Any], default: str | None = "Done", **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Choice", "Choices": list(rules), **extra}
    if default is not None:
        state["Default"] = default
    return machine({"C": state, "Done": {"Type": "Succeed"}})


# (id, definition, expected code, expected location)
BAD: list[tuple[str, Any, str, str]] = [
    # -- the document -------------------------------------------------------------------------
    ("not-json", "{not json", "INVALID_JSON_DESCRIPTION", "/"),
    ("nan-literal", '{"StartAt": NaN}', "INVALID_JSON_DESCRIPTION", "/"),
    ("empty-string", "   ", "MISSING_DESCRIPTION", "/"),
    ("null", None, "MISSING_DESCRIPTION", "/"),
    ("not-an-object", [1, 2], "SCHEMA_VALIDATION_FAILED", "/"),
    ("json-string-scalar", '"hello"', "SCHEMA_VALIDATION_FAILED", "/"),
    ("not-serialisable", {"StartAt": {1, 2}}, "INVALID_JSON_DESCRIPTION", "/"),
    ("missing-startat", {"States": {"S": PASS_END}}, "SCHEMA_VALIDATION_FAILED", "/"),
    ("missing-states", {"StartAt": "S"}, "SCHEMA_VALIDATION_FAILED", "/"),
    ("states-not-object", {"StartAt": "S", "States": []}, "SCHEMA_VALIDATION_FAILED", "/States"),
    ("states-empty", {"StartAt": "S", "States": {}}, "SCHEMA_VALIDATION_FAILED", "/States"),
    ("startat-not-string", one(PASS_END) | {"StartAt": 3}, "SCHEMA_VALIDATION_FAILED", "/StartAt"),
    ("startat-nowhere", one(PASS_END) | {"StartAt": "Nope"}, "MISSING_TRANSITION_TARGET", "/StartAt"),
    ("bad-query-language", one(PASS_END, QueryLanguage="XPath"), "SCHEMA_VALIDATION_FAILED", "/QueryLanguage"),
    ("top-timeout-zero", one(PASS_END, TimeoutSeconds=0), "SCHEMA_VALIDATION_FAILED", "/TimeoutSeconds"),
    ("version-not-string", one(PASS_END, Version=1), "SCHEMA_VALIDATION_FAILED", "/Version"),
    # -- states in general --------------------------------------------------------------------
    ("state-not-object", one([]), "SCHEMA_VALIDATION_FAILED", "/States/S"),  # type: ignore[arg-type]
    ("missing-type", one({"End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("unknown-type", one({"Type": "Sleep", "End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S/Type"),
    ("next-and-end", machine({"S": {**PASS_END, "Next": "T"}, "T": PASS_END}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("neither-next-nor-end", machine({"S": {"Type": "Pass"}, "T": PASS_END}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("end-false", one({"Type": "Pass", "End": False}), "SCHEMA_VALIDATION_FAILED", "/States/S/End"),
    ("next-not-string", one({"Type": "Pass", "Next": 1}), "SCHEMA_VALIDATION_FAILED", "/States/S/Next"),
    ("next-missing-target", machine({"S": {"Type": "Pass", "Next": "Nope"}, "T": PASS_END}), "MISSING_TRANSITION_TARGET", "/States/S/Next"),
    ("comment-not-string", one({**PASS_END, "Comment": 5}), "SCHEMA_VALIDATION_FAILED", "/States/S/Comment"),
    ("name-too-long", machine({"x" * 81: PASS_END}), "INVALID_STATE_NAME", "/States/" + "x" * 81),
    ("name-empty", machine({"": PASS_END}), "INVALID_STATE_NAME", "/States/"),
    ("unreachable", machine({"S": PASS_END, "Orphan": PASS_END}), "MISSING_TRANSITION_TARGET", "/States/Orphan"),
    ("no-terminal", machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}), "MISSING_END_STATE", "/States"),
    ("unreachable-in-loop-with-exit", machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}, "C": PASS_END}), "MISSING_TRANSITION_TARGET", "/States/C"),
    ("duplicate-in-branches", machine({"P": parallel(machine({"X": PASS_END}), machine({"X": PASS_END}))}), "DUPLICATE_STATE_NAME", "/States/P/Branches[1]/States/X"),
    ("duplicate-outer-and-map", machine({"X": {"Type": "Pass", "Next": "M"}, "M": inline_map({"X": PASS_END})}), "DUPLICATE_STATE_NAME", "/States/M/ItemProcessor/States/X"),
    # -- JSONPath fields ----------------------------------------------------------------------
    ("inputpath-invalid", one({**PASS_END, "InputPath": "$.a["}), "INVALID_JSON_PATH", "/States/S/InputPath"),
    ("outputpath-no-dollar", one({**PASS_END, "OutputPath": "a.b"}), "INVALID_JSON_PATH", "/States/S/OutputPath"),
    ("inputpath-number", one({**PASS_END, "InputPath": 3}), "SCHEMA_VALIDATION_FAILED", "/States/S/InputPath"),
    ("resultpath-not-reference", one({**PASS_END, "ResultPath": "$.a[*]"}), "INVALID_JSON_PATH", "/States/S/ResultPath"),
    ("parameters-bad-path", one({**PASS_END, "Parameters": {"x.$": "$.a[?("}}), "INVALID_JSON_PATH", "/States/S/Parameters/x.$"),
    ("parameters-nested-bad-path", one({**PASS_END, "Parameters": {"a": [{"b.$": "nope"}]}}), "INVALID_JSON_PATH", "/States/S/Parameters/a[0]/b.$"),
    ("parameters-dollar-not-string", one({**PASS_END, "Parameters": {"x.$": 1}}), "SCHEMA_VALIDATION_FAILED", "/States/S/Parameters/x.$"),
    ("parameters-not-object", one({**PASS_END, "Parameters": [1]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Parameters"),
    ("resultselector-bad-path", one({**TASK, "ResultSelector": {"x.$": "$$..["}}), "INVALID_JSON_PATH", "/States/S/ResultSelector/x.$"),
    ("assign-bad-path", one({**PASS_END, "Assign": {"v.$": "$.["}}), "INVALID_JSON_PATH", "/States/S/Assign/v.$"),
    ("intrinsic-unclosed", one({**PASS_END, "Parameters": {"x.$": "States.Format('{}', $.a"}}), "INVALID_INTRINSIC", "/States/S/Parameters/x.$"),
    ("intrinsic-unknown-function", one({**PASS_END, "Parameters": {"x.$": "States.Nope($.a)"}}), "INVALID_INTRINSIC", "/States/S/Parameters/x.$"),
    ("intrinsic-empty-argument", one({**PASS_END, "Parameters": {"x.$": "States.Array(1,,2)"}}), "INVALID_INTRINSIC", "/States/S/Parameters/x.$"),
    ("intrinsic-bad-path-argument", one({**PASS_END, "Parameters": {"x.$": "States.Array($.[)"}}), "INVALID_INTRINSIC", "/States/S/Parameters/x.$"),
    ("intrinsic-nested-too-deep", one({**PASS_END, "Parameters": {"x.$": "States.Array(" * 12 + ")" * 12}}), "INVALID_INTRINSIC", "/States/S/Parameters/x.$"),
    ("intrinsic-in-assign", one({**PASS_END, "Assign": {"v.$": "States.Format('x'"}}), "INVALID_INTRINSIC", "/States/S/Assign/v.$"),
    ("intrinsic-in-itemselector", one(inline_map({"I": PASS_END}, ItemSelector={"v.$": "States.MathAdd(1, 2) x"})), "INVALID_INTRINSIC", "/States/S/ItemSelector/v.$"),
    # -- JSONata ------------------------------------------------------------------------------
    ("jsonata-bad-output", jsonata({**PASS_END, "Output": "{% $states.input. %}"}), "INVALID_JSONATA_EXPRESSION", "/States/S/Output"),
    ("jsonata-bad-nested-argument", jsonata({**TASK, "Arguments": {"a": ["{% 1 + %}"]}}), "INVALID_JSONATA_EXPRESSION", "/States/S/Arguments/a[0]"),
    ("jsonata-bad-assign", jsonata({**PASS_END, "Assign": {"v": "{% ( %}"}}), "INVALID_JSONATA_EXPRESSION", "/States/S/Assign/v"),
    ("jsonata-empty-expression", jsonata({**PASS_END, "Output": "{%  %}"}), "INVALID_JSONATA_EXPRESSION", "/States/S/Output"),
    ("jsonata-bad-catch-output", machine({"S": {**TASK, "Catch": [{"ErrorEquals": ["X"], "Next": "H", "Output": "{% [ %}"}]}, "H": PASS_END}, QueryLanguage="JSONata"), "INVALID_JSONATA_EXPRESSION", "/States/S/Catch[0]/Output"),
    ("jsonata-bad-wait-timestamp", jsonata({"Type": "Wait", "Timestamp": "{% $now( %}", "End": True}), "INVALID_JSONATA_EXPRESSION", "/States/S/Timestamp"),
    ("jsonata-bad-fail-cause", jsonata({"Type": "Fail", "Cause": "{% 'a' & %}"}), "INVALID_JSONATA_EXPRESSION", "/States/S/Cause"),
    ("jsonata-bad-itemselector", jsonata(inline_map({"I": PASS_END}, ItemSelector={"v": "{% $states.context.Map.Item. %}"})), "INVALID_JSONATA_EXPRESSION", "/States/S/ItemSelector/v"),
    ("jsonata-bare-top-level-name", jsonata({**PASS_END, "Output": {"v": "{% phone %}"}}), "UNSUPPORTED_JSONATA_EXPRESSION", "/States/S/Output/v"),
    ("jsonata-bare-name-in-object", jsonata({**PASS_END, "Output": "{% {'k': input.a} %}"}), "UNSUPPORTED_JSONATA_EXPRESSION", "/States/S/Output"),
    ("jsonata-bare-name-in-function-argument", jsonata({**PASS_END, "Assign": {"n": "{% $count(items) %}"}}), "UNSUPPORTED_JSONATA_EXPRESSION", "/States/S/Assign/n"),
    ("jsonata-double-dollar", jsonata({**PASS_END, "Output": "{% $$.a %}"}), "UNSUPPORTED_JSONATA_EXPRESSION", "/States/S/Output"),
    ("jsonata-error-output-outside-catch", jsonata({**TASK, "Output": "{% $states.errorOutput %}"}), "UNSUPPORTED_JSONATA_EXPRESSION", "/States/S/Output"),
    ("jsonata-bad-condition-name", machine({"C": {"Type": "Choice", "Choices": [{"Condition": "{% flag = true %}", "Next": "D"}]}, "D": {"Type": "Succeed"}}, QueryLanguage="JSONata"), "UNSUPPORTED_JSONATA_EXPRESSION", "/States/C/Choices[0]/Condition"),
    ("jsonata-arguments-number", jsonata({**TASK, "Arguments": 3}), "SCHEMA_VALIDATION_FAILED", "/States/S/Arguments"),
    ("state-bad-query-language", one({**PASS_END, "QueryLanguage": "jsonata"}), "SCHEMA_VALIDATION_FAILED", "/States/S/QueryLanguage"),
    ("jsonata-timeout-bad-expression", jsonata({**TASK, "TimeoutSeconds": "{% $x + %}"}), "INVALID_JSONATA_EXPRESSION", "/States/S/TimeoutSeconds"),
    ("jsonata-timeout-plain-string", jsonata({**TASK, "TimeoutSeconds": "10"}), "SCHEMA_VALIDATION_FAILED", "/States/S/TimeoutSeconds"),
    # -- Task ---------------------------------------------------------------------------------
    ("task-no-resource", one({"Type": "Task", "End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("task-resource-not-arn", one({**TASK, "Resource": "my-function"}), "INVALID_RESOURCE", "/States/S/Resource"),
    ("task-timeout-zero", one({**TASK, "TimeoutSeconds": 0}), "SCHEMA_VALIDATION_FAILED", "/States/S/TimeoutSeconds"),
    ("task-timeout-float", one({**TASK, "TimeoutSeconds": 1.5}), "SCHEMA_VALIDATION_FAILED", "/States/S/TimeoutSeconds"),
    ("task-timeout-bool", one({**TASK, "TimeoutSeconds": True}), "SCHEMA_VALIDATION_FAILED", "/States/S/TimeoutSeconds"),
    ("task-timeout-and-path", one({**TASK, "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("task-heartbeat-and-path", one({**TASK, "HeartbeatSeconds": 5, "HeartbeatSecondsPath": "$.t"}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("task-heartbeat-not-below-timeout", one({**TASK, "TimeoutSeconds": 10, "HeartbeatSeconds": 10}), "SCHEMA_VALIDATION_FAILED", "/States/S/HeartbeatSeconds"),
    ("task-timeoutpath-invalid", one({**TASK, "TimeoutSecondsPath": "t"}), "INVALID_JSON_PATH", "/States/S/TimeoutSecondsPath"),
    ("task-credentials-not-object", one({**TASK, "Credentials": "x"}), "SCHEMA_VALIDATION_FAILED", "/States/S/Credentials"),
    # -- Wait ---------------------------------------------------------------------------------
    ("wait-nothing", one({"Type": "Wait", "End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("wait-two", one({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("wait-seconds-negative", one({"Type": "Wait", "Seconds": -1, "End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S/Seconds"),
    ("wait-seconds-string", one({"Type": "Wait", "Seconds": "5", "End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S/Seconds"),
    ("wait-timestamp-bad", one({"Type": "Wait", "Timestamp": "2016-13-14T01:59:00Z", "End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S/Timestamp"),
    ("wait-timestamp-no-zone", one({"Type": "Wait", "Timestamp": "2016-03-14T01:59:00", "End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S/Timestamp"),
    ("wait-timestamppath-bad", one({"Type": "Wait", "TimestampPath": "$.[", "End": True}), "INVALID_JSON_PATH", "/States/S/TimestampPath"),
    # -- Fail ---------------------------------------------------------------------------------
    ("fail-error-and-path", one({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("fail-cause-and-path", one({"Type": "Fail", "Cause": "C", "CausePath": "$.c"}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("fail-error-not-string", one({"Type": "Fail", "Error": 1}), "SCHEMA_VALIDATION_FAILED", "/States/S/Error"),
    ("fail-causepath-bad", one({"Type": "Fail", "CausePath": "cause"}), "INVALID_JSON_PATH", "/States/S/CausePath"),
    ("fail-causepath-bad-intrinsic", one({"Type": "Fail", "CausePath": "States.Format('x'"}), "INVALID_INTRINSIC", "/States/S/CausePath"),
    # -- Choice -------------------------------------------------------------------------------
    ("choice-no-choices", machine({"C": {"Type": "Choice", "Default": "D"}, "D": PASS_END}), "SCHEMA_VALIDATION_FAILED", "/States/C"),
    ("choice-empty-choices", choice(), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices"),
    ("choice-default-missing-target", choice({"Variable": "$.a", "IsNull": True, "Next": "Done"}, default="Nope"), "MISSING_TRANSITION_TARGET", "/States/C/Default"),
    ("rule-no-next", choice({"Variable": "$.a", "IsNull": True}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]"),
    ("rule-next-missing-target", choice({"Variable": "$.a", "IsNull": True, "Next": "Nope"}), "MISSING_TRANSITION_TARGET", "/States/C/Choices[0]/Next"),
    ("rule-no-operator", choice({"Variable": "$.a", "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]"),
    ("rule-two-operators", choice({"Variable": "$.a", "IsNull": True, "IsString": True, "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]"),
    ("rule-no-variable", choice({"StringEquals": "x", "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]"),
    ("rule-bad-variable", choice({"Variable": "a.b", "StringEquals": "x", "Next": "Done"}), "INVALID_JSON_PATH", "/States/C/Choices[0]/Variable"),
    ("rule-numeric-takes-string", choice({"Variable": "$.a", "NumericEquals": "1", "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/NumericEquals"),
    ("rule-numeric-takes-bool", choice({"Variable": "$.a", "NumericEquals": True, "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/NumericEquals"),
    ("rule-string-takes-number", choice({"Variable": "$.a", "StringEquals": 1, "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/StringEquals"),
    ("rule-boolean-takes-string", choice({"Variable": "$.a", "BooleanEquals": "true", "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/BooleanEquals"),
    ("rule-is-takes-bool", choice({"Variable": "$.a", "IsPresent": 1, "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/IsPresent"),
    ("rule-timestamp-takes-string", choice({"Variable": "$.a", "TimestampEquals": 5, "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/TimestampEquals"),
    ("rule-timestamp-not-rfc3339", choice({"Variable": "$.a", "TimestampEquals": "yesterday", "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/TimestampEquals"),
    ("rule-path-operator-bad-path", choice({"Variable": "$.a", "StringEqualsPath": "b", "Next": "Done"}), "INVALID_JSON_PATH", "/States/C/Choices[0]/StringEqualsPath"),
    ("rule-and-empty", choice({"And": [], "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/And"),
    ("rule-or-not-array", choice({"Or": {"Variable": "$.a", "IsNull": True}, "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/Or"),
    ("rule-not-array", choice({"Not": [{"Variable": "$.a", "IsNull": True}], "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/Not"),
    ("rule-nested-next", choice({"And": [{"Variable": "$.a", "IsNull": True, "Next": "Done"}], "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/And[0]/Next"),
    ("rule-nested-bad-type", choice({"Not": {"Variable": "$.a", "NumericLessThan": "x"}, "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/Not/NumericLessThan"),
    ("rule-and-with-variable", choice({"Variable": "$.a", "And": [{"Variable": "$.a", "IsNull": True}], "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/Variable"),
    ("rule-unknown-field", choice({"Variable": "$.a", "IsNull": True, "Next": "Done", "Foo": 1}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/Foo"),
    ("rule-condition-in-jsonpath", choice({"Condition": True, "Next": "Done"}), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/Condition"),
    ("jsonata-rule-no-condition", machine({"C": {"Type": "Choice", "Choices": [{"Next": "D"}]}, "D": {"Type": "Succeed"}}, QueryLanguage="JSONata"), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]"),
    ("jsonata-rule-variable", machine({"C": {"Type": "Choice", "Choices": [{"Condition": True, "Variable": "$.a", "Next": "D"}]}, "D": {"Type": "Succeed"}}, QueryLanguage="JSONata"), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/Variable"),
    ("jsonata-rule-bad-condition", machine({"C": {"Type": "Choice", "Choices": [{"Condition": "{% $x = %}", "Next": "D"}]}, "D": {"Type": "Succeed"}}, QueryLanguage="JSONata"), "INVALID_JSONATA_EXPRESSION", "/States/C/Choices[0]/Condition"),
    ("jsonata-rule-condition-plain-string", machine({"C": {"Type": "Choice", "Choices": [{"Condition": "true", "Next": "D"}]}, "D": {"Type": "Succeed"}}, QueryLanguage="JSONata"), "SCHEMA_VALIDATION_FAILED", "/States/C/Choices[0]/Condition"),
    # -- Retry / Catch ------------------------------------------------------------------------
    ("retry-not-array", one({**TASK, "Retry": {}}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry"),
    ("retry-no-errorequals", one({**TASK, "Retry": [{}]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry[0]"),
    ("retry-empty-errorequals", one({**TASK, "Retry": [{"ErrorEquals": []}]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry[0]/ErrorEquals"),
    ("retry-all-not-alone", one({**TASK, "Retry": [{"ErrorEquals": ["States.ALL", "X"]}]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry[0]/ErrorEquals"),
    ("retry-all-not-last", one({**TASK, "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry[0]/ErrorEquals"),
    ("retry-maxattempts-negative", one({**TASK, "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry[0]/MaxAttempts"),
    ("retry-maxattempts-huge", one({**TASK, "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": 100_000_000}]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry[0]/MaxAttempts"),
    ("retry-backoff-below-one", one({**TASK, "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry[0]/BackoffRate"),
    ("retry-interval-zero", one({**TASK, "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry[0]/IntervalSeconds"),
    ("retry-maxdelay-zero", one({**TASK, "Retry": [{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry[0]/MaxDelaySeconds"),
    ("retry-jitter-bad", one({**TASK, "Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry[0]/JitterStrategy"),
    ("retry-error-not-string", one({**TASK, "Retry": [{"ErrorEquals": [1]}]}), "SCHEMA_VALIDATION_FAILED", "/States/S/Retry[0]/ErrorEquals[0]"),
    ("catch-no-next", machine({"S": {**TASK, "Catch": [{"ErrorEquals": ["States.ALL"]}]}}), "SCHEMA_VALIDATION_FAILED", "/States/S/Catch[0]"),
    ("catch-next-missing", machine({"S": {**TASK, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Nope"}]}}), "MISSING_TRANSITION_TARGET", "/States/S/Catch[0]/Next"),
    ("catch-all-not-last", machine({"S": {**TASK, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}, {"ErrorEquals": ["X"], "Next": "H"}]}, "H": PASS_END}), "SCHEMA_VALIDATION_FAILED", "/States/S/Catch[0]/ErrorEquals"),
    ("catch-resultpath-bad", machine({"S": {**TASK, "Catch": [{"ErrorEquals": ["X"], "Next": "H", "ResultPath": "$.a[*]"}]}, "H": PASS_END}), "INVALID_JSON_PATH", "/States/S/Catch[0]/ResultPath"),
    # -- Parallel -----------------------------------------------------------------------------
    ("parallel-no-branches", one({"Type": "Parallel", "End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("parallel-empty-branches", one({"Type": "Parallel", "Branches": [], "End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S/Branches"),
    ("branch-not-object", one(parallel(5)), "SCHEMA_VALIDATION_FAILED", "/States/S/Branches[0]"),  # type: ignore[arg-type]
    ("branch-missing-startat", one(parallel({"States": {"B": PASS_END}})), "SCHEMA_VALIDATION_FAILED", "/States/S/Branches[0]"),
    ("branch-next-outside", machine({"P": {"Type": "Parallel", "Branches": [machine({"B": {"Type": "Pass", "Next": "After"}})], "Next": "After"}, "After": PASS_END}), "MISSING_TRANSITION_TARGET", "/States/P/Branches[0]/States/B/Next"),
    ("branch-inner-bad-path", one(parallel(machine({"B": {**PASS_END, "InputPath": "x"}}))), "INVALID_JSON_PATH", "/States/S/Branches[0]/States/B/InputPath"),
    ("branch-no-terminal", one(parallel(machine({"B": {"Type": "Pass", "Next": "B"}}))), "MISSING_END_STATE", "/States/S/Branches[0]/States"),
    ("branch-unreachable", one(parallel(machine({"B": PASS_END, "B2": PASS_END}))), "MISSING_TRANSITION_TARGET", "/States/S/Branches[0]/States/B2"),
    # -- Map ----------------------------------------------------------------------------------
    ("map-no-processor", one({"Type": "Map", "End": True}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("map-processor-and-iterator", one({**inline_map({"I": PASS_END}), "Iterator": {"StartAt": "J", "States": {"J": PASS_END}}}), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("map-bad-mode", one({"Type": "Map", "End": True, "ItemProcessor": {"ProcessorConfig": {"Mode": "FAST"}, "StartAt": "I", "States": {"I": PASS_END}}}), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemProcessor/ProcessorConfig/Mode"),
    ("map-bad-execution-type", one({"Type": "Map", "End": True, "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "FAST"}, "StartAt": "I", "States": {"I": PASS_END}}}), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemProcessor/ProcessorConfig/ExecutionType"),
    ("map-distributed-needs-execution-type", one({"Type": "Map", "End": True, "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "I", "States": {"I": PASS_END}}}), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemProcessor/ProcessorConfig"),
    ("map-itembatcher-inline", one(inline_map({"I": PASS_END}, ItemBatcher={"MaxItemsPerBatch": 2})), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemBatcher"),
    ("map-itemreader-inline", one(inline_map({"I": PASS_END}, ItemReader={"Resource": "arn:aws:states:::s3:getObject"})), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemReader"),
    ("map-itembatcher-empty", one(distributed_map({"I": PASS_END}, ItemBatcher={})), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemBatcher"),
    ("map-itembatcher-zero", one(distributed_map({"I": PASS_END}, ItemBatcher={"MaxItemsPerBatch": 0})), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemBatcher/MaxItemsPerBatch"),
    ("map-itemreader-no-resource", one(distributed_map({"I": PASS_END}, ItemReader={})), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemReader"),
    ("map-tolerated-percentage-high", one(inline_map({"I": PASS_END}, ToleratedFailurePercentage=101)), "SCHEMA_VALIDATION_FAILED", "/States/S/ToleratedFailurePercentage"),
    ("map-tolerated-percentage-negative", one(inline_map({"I": PASS_END}, ToleratedFailurePercentage=-1)), "SCHEMA_VALIDATION_FAILED", "/States/S/ToleratedFailurePercentage"),
    ("map-tolerated-count-and-path", one(inline_map({"I": PASS_END}, ToleratedFailureCount=1, ToleratedFailureCountPath="$.c")), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("map-maxconcurrency-negative", one(inline_map({"I": PASS_END}, MaxConcurrency=-1)), "SCHEMA_VALIDATION_FAILED", "/States/S/MaxConcurrency"),
    ("map-itemspath-bad", one(inline_map({"I": PASS_END}, ItemsPath="items")), "INVALID_JSON_PATH", "/States/S/ItemsPath"),
    ("map-items-jsonata-not-array", jsonata(inline_map({"I": PASS_END}, Items={"a": 1})), "SCHEMA_VALIDATION_FAILED", "/States/S/Items"),
    ("map-itemselector-bad-path", one(inline_map({"I": PASS_END}, ItemSelector={"v.$": "$$.Map.Item.Value["})), "INVALID_JSON_PATH", "/States/S/ItemSelector/v.$"),
    ("map-itemselector-and-parameters", one(inline_map({"I": PASS_END}, ItemSelector={}, Parameters={})), "SCHEMA_VALIDATION_FAILED", "/States/S"),
    ("map-maxconcurrencypath-context", one(inline_map({"I": PASS_END}, MaxConcurrencyPath="$$.Execution.Input.n")), "INVALID_JSON_PATH", "/States/S/MaxConcurrencyPath"),
    ("map-toleratedcountpath-wildcard", one(inline_map({"I": PASS_END}, ToleratedFailureCountPath="$.a[*]")), "INVALID_JSON_PATH", "/States/S/ToleratedFailureCountPath"),
    ("map-batcher-path-and-literal", one(distributed_map({"I": PASS_END}, ItemBatcher={"MaxItemsPerBatch": 2, "MaxItemsPerBatchPath": "$.n"})), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemBatcher"),
    ("map-batcher-path-in-jsonata", jsonata(distributed_map({"I": PASS_END}, ItemBatcher={"MaxItemsPerBatchPath": "$.n"})), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemBatcher"),
    ("map-reader-maxitems-too-big", one(distributed_map({"I": PASS_END}, ItemReader={"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"MaxItems": 100_000_001}})), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemReader/ReaderConfig/MaxItems"),
    ("map-reader-maxitems-and-path", one(distributed_map({"I": PASS_END}, ItemReader={"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"MaxItems": 1, "MaxItemsPath": "$.n"}})), "SCHEMA_VALIDATION_FAILED", "/States/S/ItemReader/ReaderConfig"),
    ("map-inner-missing-target", one(inline_map({"I": {"Type": "Pass", "Next": "Nope"}, "J": PASS_END})), "MISSING_TRANSITION_TARGET", "/States/S/ItemProcessor/States/I/Next"),
    ("map-inner-unreachable", one(inline_map({"I": PASS_END, "J": PASS_END})), "MISSING_TRANSITION_TARGET", "/States/S/ItemProcessor/States/J"),
    ("map-iterator-inner-error", one({"Type": "Map", "End": True, "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass"}}}}), "SCHEMA_VALIDATION_FAILED", "/States/S/Iterator/States/I"),
    ("map-label-inline", one(inline_map({"I": PASS_END}, Label="x")), "SCHEMA_VALIDATION_FAILED", "/States/S/Label"),
    ("map-jsonata-bad-items", jsonata(inline_map({"I": PASS_END}, Items="{% [1, %}")), "INVALID_JSONATA_EXPRESSION", "/States/S/Items"),
]


@pytest.mark.parametrize(
    ("definition", "code", "location"),
    [pytest.param(d, c, loc, id=name) for name, d, c, loc in BAD],
)
def test_bad_definition_gets_code_at_location(definition: Any, code: str, location: str) -> None:
    diagnostics = validate_definition(definition)
    found = {(d.code, d.location) for d in diagnostics}
    assert (code, location) in found, format_diagnostics(diagnostics)
    assert has_errors(diagnostics)


# An unsupported field: AWS reports it at the object holding it and names it in the message.
# (id, definition, location of the holder, the field)
UNSUPPORTED: list[tuple[str, Any, str, str]] = [
    ("unknown-top-field", one(PASS_END, Foo=1), "/", "Foo"),
    ("unknown-state-field", one({**PASS_END, "Nxt": "X"}), "/States/S", "Nxt"),
    ("succeed-with-next", machine({"S": {"Type": "Succeed", "Next": "S"}}), "/States/S", "Next"),
    ("fail-with-end", one({"Type": "Fail", "End": True}), "/States/S", "End"),
    ("arguments-in-jsonpath", one({**TASK, "Arguments": {}}), "/States/S", "Arguments"),
    ("output-in-jsonpath", one({**PASS_END, "Output": {}}), "/States/S", "Output"),
    ("jsonata-parameters", jsonata({**PASS_END, "Parameters": {}}), "/States/S", "Parameters"),
    ("jsonata-inputpath", jsonata({**PASS_END, "InputPath": "$"}), "/States/S", "InputPath"),
    ("jsonata-resultpath", jsonata({**TASK, "ResultPath": "$.r"}), "/States/S", "ResultPath"),
    ("jsonata-resultselector", jsonata({**TASK, "ResultSelector": {}}), "/States/S", "ResultSelector"),
    ("jsonata-outputpath", jsonata({**PASS_END, "OutputPath": "$"}), "/States/S", "OutputPath"),
    ("jsonata-secondspath", jsonata({"Type": "Wait", "SecondsPath": "$.s", "End": True}), "/States/S", "SecondsPath"),
    ("jsonata-map-in-jsonpath-machine-inner-is-jsonpath", one({**inline_map({"I": {**PASS_END, "Output": 1}}), "QueryLanguage": "JSONata"}), "/States/S/ItemProcessor/States/I", "Output"),
    ("query-language-on-item-processor", one({"Type": "Map", "End": True, "ItemProcessor": {"QueryLanguage": "JSONata", "StartAt": "I", "States": {"I": PASS_END}}}), "/States/S/ItemProcessor", "QueryLanguage"),
    ("invalid-query-language-reads-as-jsonata", one({**PASS_END, "QueryLanguage": "jsonpath", "InputPath": "$"}), "/States/S", "InputPath"),
    ("jsonata-inherited-by-branch", jsonata(parallel(machine({"B": {**PASS_END, "InputPath": "$"}}))), "/States/S/Branches[0]/States/B", "InputPath"),
    ("jsonata-state-in-jsonpath-machine-ok-but-reverse-not", jsonata({**PASS_END, "QueryLanguage": "JSONPath"}), "/States/S", "QueryLanguage"),
    ("fail-jsonata-errorpath", jsonata({"Type": "Fail", "ErrorPath": "$.e"}), "/States/S", "ErrorPath"),
    ("choice-with-next", choice({"Variable": "$.a", "IsNull": True, "Next": "Done"}, Next="Done"), "/States/C", "Next"),
    ("retry-unknown-field", one({**TASK, "Retry": [{"ErrorEquals": ["X"], "Next": "S"}]}), "/States/S/Retry[0]", "Next"),
    ("catch-jsonata-resultpath", machine({"S": {**TASK, "Catch": [{"ErrorEquals": ["X"], "Next": "H", "ResultPath": "$.e"}]}, "H": PASS_END}, QueryLanguage="JSONata"), "/States/S/Catch[0]", "ResultPath"),
    ("retry-on-pass", one({**PASS_END, "Retry": []}), "/States/S", "Retry"),
    ("branch-unknown-field", one(parallel(machine({"B": PASS_END}, TimeoutSeconds=5))), "/States/S/Branches[0]", "TimeoutSeconds"),
    ("map-processor-config-unknown", one({"Type": "Map", "End": True, "ItemProcessor": {"ProcessorConfig": {"Speed": 1}, "StartAt": "I", "States": {"I": PASS_END}}}), "/States/S/ItemProcessor/ProcessorConfig", "Speed"),
    ("map-items-in-jsonpath", one(inline_map({"I": PASS_END}, Items=[1])), "/States/S", "Items"),
    ("map-itemspath-in-jsonata", jsonata(inline_map({"I": PASS_END}, ItemsPath="$.a")), "/States/S", "ItemsPath"),
]


@pytest.mark.parametrize(
    ("definition", "location", "field"),
    [pytest.param(d, loc, f, id=name) for name, d, loc, f in UNSUPPORTED],
)
def test_unsupported_field_is_reported_at_its_holder(definition: Any, location: str, field: str) -> None:
    diagnostics = validate_definition(definition)
    assert any(
        d.code == "SCHEMA_VALIDATION_FAILED" and d.location == location and f"'{field}'" in d.message
        for d in diagnostics
    ), format_diagnostics(diagnostics)


def test_bad_table_ids_are_unique() -> None:
    names = [name for name, *_ in BAD + UNSUPPORTED]
    assert len(names) == len(set(names))


# -- good definitions ---------------------------------------------------------------------------

GOOD: list[tuple[str, dict[str, Any]]] = [
    ("single-pass", one(PASS_END)),
    (
        "everything-jsonpath",
        machine(
            {
                "Start": {
                    "Type": "Pass",
                    "Parameters": {"a.$": "$.x", "b.$": "States.Format('{}', $.y)", "c": 1},
                    "ResultPath": "$.p",
                    "Assign": {"v.$": "$.x", "w": 2},
                    "Next": "Work",
                },
                "Work": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "InputPath": "$.p",
                    "ResultSelector": {"r.$": "$.Payload"},
                    "ResultPath": "$.r",
                    "OutputPath": "$",
                    "TimeoutSeconds": 30,
                    "HeartbeatSeconds": 10,
                    "Retry": [
                        {"ErrorEquals": ["States.Timeout"], "MaxAttempts": 0},
                        {
                            "ErrorEquals": ["States.ALL"],
                            "IntervalSeconds": 1,
                            "MaxAttempts": 3,
                            "BackoffRate": 2.0,
                            "MaxDelaySeconds": 5,
                            "JitterStrategy": "FULL",
                        },
                    ],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Failed"}],
                    "Next": "Decide",
                },
                "Decide": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "And": [
                                {"Variable": "$.r", "IsPresent": True},
                                {"Not": {"Variable": "$.r.n", "NumericLessThan": 0}},
                                {"Variable": "$.r.s", "StringMatches": "a*"},
                                {"Variable": "$.r.t", "TimestampLessThan": "2020-01-01T00:00:00Z"},
                                {"Variable": "$.r.u", "NumericEqualsPath": "$.r.n"},
                            ],
                            "Next": "Sleep",
                        },
                        {"Variable": "$v", "BooleanEquals": True, "Next": "Fan"},
                    ],
                    "Default": "Failed",
                },
                "Sleep": {"Type": "Wait", "SecondsPath": "$.r.n", "Next": "Fan"},
                "Fan": {
                    "Type": "Parallel",
                    "Branches": [
                        machine({"B1": {"Type": "Wait", "Seconds": 0, "End": True}}),
                        machine({"B2": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00Z", "End": True}}),
                    ],
                    "Next": "Each",
                },
                "Each": {
                    "Type": "Map",
                    "ItemsPath": "$[0]",
                    "ItemSelector": {"item.$": "$$.Map.Item.Value"},
                    "MaxConcurrency": 2,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "INLINE"},
                        "StartAt": "Inner",
                        "States": {"Inner": PASS_END},
                    },
                    "Next": "Done",
                },
                "Done": {"Type": "Succeed"},
                "Failed": {"Type": "Fail", "ErrorPath": "$.err.Error", "CausePath": "$.err.Cause"},
            },
            Comment="all state types",
            TimeoutSeconds=300,
            Version="1.0",
        ),
    ),
    (
        "everything-jsonata",
        machine(
            {
                "Start": {
                    "Type": "Pass",
                    "Output": {"n": "{% $states.input.n %}", "lit": "$.not.a.path"},
                    "Assign": {"v": "{% $states.input.n * 2 %}"},
                    "Next": "Work",
                },
                "Work": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Arguments": {"FunctionName": LAMBDA, "Payload": "{% $states.input %}"},
                    "Output": "{% $states.result.Payload %}",
                    "TimeoutSeconds": "{% 10 %}",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "Failed"}],
                    "Next": "Decide",
                },
                "Decide": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% $v > 2 %}", "Next": "Each", "Assign": {"w": 1}}],
                    "Default": "Done",
                },
                "Each": {
                    "Type": "Map",
                    "Items": "{% [1, 2, 3] %}",
                    "ItemSelector": {"x": "{% $states.context.Map.Item.Value %}"},
                    "ToleratedFailurePercentage": 10,
                    "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Wait", "Seconds": "{% 0 %}", "End": True}}},
                    "Next": "Done",
                },
                "Done": {"Type": "Succeed", "Output": "{% $v %}"},
                "Failed": {"Type": "Fail", "Error": "{% 'E' %}", "Cause": "plain text"},
            },
            QueryLanguage="JSONata",
        ),
    ),
    (
        "jsonata-state-in-jsonpath-machine",
        machine(
            {
                "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}", "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"x.$": "$"}, "End": True},
            }
        ),
    ),
    (
        "distributed-map",
        one(
            distributed_map(
                {"I": PASS_END},
                ItemReader={"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"}},
                ItemBatcher={"MaxItemsPerBatch": 10, "BatchInput": {"f.$": "$.f"}},
                ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}},
                ToleratedFailureCount=2,
                Label="L",
            )
        ),
    ),
]


@pytest.mark.parametrize("definition", [pytest.param(d, id=n) for n, d in GOOD])
def test_good_definition_has_no_errors(definition: dict[str, Any]) -> None:
    diagnostics = validate_definition(definition)
    assert not has_errors(diagnostics), format_diagnostics(diagnostics)
    # The JSON text gives the same answer as the parsed object.
    assert validate_definition(json.dumps(definition)) == diagnostics
    assert validate_definition(json.dumps(definition).encode()) == diagnostics


def test_a_bad_type_does_not_cascade() -> None:
    definition = machine({"A": {"Type": "Sleep", "Next": "B"}, "B": {"Type": "Typo", "End": True}})
    assert codes_at(definition) == {
        ("SCHEMA_VALIDATION_FAILED", "/States/A/Type"),
        ("SCHEMA_VALIDATION_FAILED", "/States/B/Type"),
    }


def test_no_terminal_state_suppresses_the_reachability_walk() -> None:
    # AWS: a bare loop plus an orphan gives only MISSING_END_STATE (floci-io/floci#2786).
    definition = machine(
        {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}, "C": {"Type": "Pass", "Next": "A"}}
    )
    assert codes_at(definition) == {("MISSING_END_STATE", "/States")}


def test_missing_target_and_no_terminal_state_are_both_reported() -> None:
    definition = machine({"A": {"Type": "Pass", "Next": "NOPE"}})
    assert codes_at(definition) == {
        ("MISSING_TRANSITION_TARGET", "/States/A/Next"),
        ("MISSING_END_STATE", "/States"),
    }


def test_aws_messages_for_graph_problems() -> None:
    (missing,) = errors(machine({"A": {"Type": "Pass", "Next": "pass3"}, "B": PASS_END}) | {"StartAt": "A"})[:1]
    assert missing.message == "Missing 'Next' target: pass3"
    (orphan,) = [d for d in errors(machine({"A": PASS_END, "B": PASS_END})) if d.location == "/States/B"]
    assert orphan.message == 'State "B" is not reachable.'


def test_jsonata_references_inside_their_own_context_are_fine() -> None:
    expressions = [
        "{% $states.input.items[price > 3].name %}",
        "{% $map($states.input.xs, function($v) { $v.a }) %}",
        "{% $states.input.people.{'n': name} %}",
        "{% ($x := $states.input.a; $x.b) %}",
        "{% $states.input.xs ~> $count() %}",
        "{% $v %}",
    ]
    definition = jsonata({**PASS_END, "Assign": {"v": 1}, "Output": expressions})
    assert errors(definition) == []


def test_error_output_is_allowed_in_a_catcher() -> None:
    catcher = {
        "ErrorEquals": ["States.ALL"],
        "Output": "{% $states.errorOutput %}",
        "Assign": {"e": "{% $states.errorOutput.Error %}"},
        "Next": "H",
    }
    definition = machine({"S": {**TASK, "Catch": [catcher]}, "H": PASS_END}, QueryLanguage="JSONata")
    assert errors(definition) == []


# -- warnings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "code", "location"),
    [
        pytest.param(one({**PASS_END, "Parameters": {"x": "$.a"}}), "NO_DOLLAR", "/States/S/Parameters/x", id="no-dollar"),
        pytest.param(one({**PASS_END, "Parameters": {"x": "States.Array($.a)"}}), "NO_DOLLAR", "/States/S/Parameters/x", id="no-dollar-intrinsic"),
        pytest.param(one({"Type": "Fail", "Error": "$.error"}), "NO_PATH", "/States/S/Error", id="no-path"),
        pytest.param(one({**PASS_END, "Result": {"x.$": "$.a"}}), "PASS_RESULT_IS_STATIC", "/States/S/Result/x.$", id="pass-result-static"),
        pytest.param(one({**TASK, "Retry": [{"ErrorEquals": ["States.Nope"]}]}), "UNKNOWN_ERROR_NAME", "/States/S/Retry[0]/ErrorEquals[0]", id="unknown-states-error"),
    ],
)
def test_warnings_do_not_fail_the_definition(definition: Any, code: str, location: str) -> None:
    diagnostics = validate_definition(definition)
    assert [(d.severity, d.code, d.location) for d in diagnostics] == [("WARNING", code, location)]
    assert not has_errors(diagnostics)


# -- EXPRESS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::ecs:runTask.sync",
        "arn:aws:states:us-east-1:123456789012:activity:approve",
    ],
)
def test_express_refuses_waiting_integrations(resource: str) -> None:
    definition = one({**TASK, "Resource": resource})
    assert not has_errors(validate_definition(definition))
    found = {(d.code, d.location) for d in validate_definition(definition, machine_type="EXPRESS")}
    assert found == {("SCHEMA_VALIDATION_FAILED", "/States/S/Resource")}


def test_express_accepts_request_response() -> None:
    assert validate_definition(one(TASK), machine_type="EXPRESS") == []
    assert validate_definition(one({**TASK, "Resource": "arn:aws:states:::lambda:invoke"}), machine_type="EXPRESS") == []


def test_bad_machine_type_is_a_caller_bug() -> None:
    with pytest.raises(ValueError):
        validate_definition(one(TASK), machine_type="FAST")  # type: ignore[arg-type]


def test_intrinsic_argument_problems_are_warnings() -> None:
    """AWS accepts a wrong arity and fails the call at run time, so it is not an ERROR."""
    from server.workflows.asl import intrinsics

    if not hasattr(intrinsics, "intrinsic_problems"):
        pytest.skip("intrinsics.intrinsic_problems is not available yet")
    diagnostics = validate_definition(one({**PASS_END, "Parameters": {"x.$": "States.MathAdd(1)"}}))
    assert [(d.severity, d.code, d.location) for d in diagnostics] == [
        ("WARNING", "INVALID_INTRINSIC_ARGUMENTS", "/States/S/Parameters/x.$")
    ]


# -- raw JSON details ---------------------------------------------------------------------------


def test_duplicate_state_key_in_json_text() -> None:
    text = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "A": {"Type": "Succeed"}}}'
    assert ("DUPLICATE_STATE_NAME", "/States/A") in codes_at(text)


def test_duplicate_field_key_in_json_text() -> None:
    text = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "End": true}}}'
    assert ("SCHEMA_VALIDATION_FAILED", "/States/A/End") in codes_at(text)


def test_invalid_utf8_bytes() -> None:
    assert codes_at(b"\xff\xfe{") == {("INVALID_JSON_DESCRIPTION", "/")}


def test_cyclic_object_is_reported_not_raised() -> None:
    definition: dict[str, Any] = {"StartAt": "A"}
    definition["States"] = definition
    assert codes_at(definition) == {("INVALID_JSON_DESCRIPTION", "/")}


def test_definition_size_limit() -> None:
    big = one({**PASS_END, "Result": "x" * MAX_DEFINITION_SIZE})
    assert codes_at(big) == {("DEFINITION_TOO_LARGE", "/")}
    assert codes_at(json.dumps(big)) == {("DEFINITION_TOO_LARGE", "/")}


def test_size_limit_counts_characters_of_the_text() -> None:
    # Just under the limit passes: the limit is on the definition, not on our overhead.
    base = json.dumps(one({**PASS_END, "Result": ""}))
    filler = "x" * (MAX_DEFINITION_SIZE - len(base))
    text = json.dumps(one({**PASS_END, "Result": filler}))
    assert len(text) == MAX_DEFINITION_SIZE
    assert not has_errors(validate_definition(text))


# -- nesting ------------------------------------------------------------------------------------


def nested_parallels(levels: int) -> dict[str, Any]:
    definition: dict[str, Any] = one(PASS_END)
    for level in range(levels):
        definition = machine({f"P{level}": parallel(definition)})
    return definition


def test_ten_thousand_nested_parallels_give_a_clean_diagnostic() -> None:
    definition = nested_parallels(10_000)
    assert codes_at(definition) == {("TOO_DEEPLY_NESTED", "/")}
    text = '{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[' * 10_000
    text += '{"StartAt":"S","States":{"S":{"Type":"Pass","End":true}}}' + "]}}}" * 10_000
    assert codes_at(text) == {("TOO_DEEPLY_NESTED", "/")}


def test_nesting_beyond_the_limit_is_reported_where_it_happens() -> None:
    found = errors(nested_parallels(MAX_NESTING_DEPTH + 1))
    assert [d.code for d in found] == ["TOO_DEEPLY_NESTED"]
    assert found[0].location.count("/Branches[0]") == MAX_NESTING_DEPTH + 1


def test_nesting_at_the_limit_is_accepted() -> None:
    assert errors(nested_parallels(MAX_NESTING_DEPTH)) == []


def test_json_deeper_than_the_limit_is_reported_before_parsing() -> None:
    value: Any = 1
    for _ in range(MAX_JSON_DEPTH + 1):
        value = [value]
    assert codes_at(one({**PASS_END, "Result": value})) == {("TOO_DEEPLY_NESTED", "/")}
    # Brackets inside strings do not count.
    text = json.dumps(one({**PASS_END, "Result": "[" * (MAX_JSON_DEPTH * 3)}))
    assert errors(text) == []


def test_deep_choice_rules_are_bounded() -> None:
    rule: dict[str, Any] = {"Variable": "$.a", "IsNull": True}
    for _ in range(MAX_NESTING_DEPTH + 5):
        rule = {"Not": rule}
    found = codes_at(choice({**rule, "Next": "Done"}))
    assert {code for code, _ in found} == {"TOO_DEEPLY_NESTED"}


def test_deep_payload_template_is_walked_without_recursion() -> None:
    # Just under MAX_JSON_DEPTH: it parses, and the template walk must not recurse per level.
    value: Any = {"x.$": "$.["}
    for _ in range(MAX_JSON_DEPTH - 10):
        value = {"a": value}
    found = codes_at(one({**PASS_END, "Parameters": value}))
    assert len(found) == 1
    ((code, location),) = found
    assert code == "INVALID_JSON_PATH" and location.endswith("/a/x.$")


# -- output ---------------------------------------------------------------------------------


def test_format_diagnostics() -> None:
    diagnostics = validate_definition(machine({"S": {"Type": "Pass", "Next": "Nope"}, "T": PASS_END}))
    text = format_diagnostics(diagnostics, source="m.json")
    lines = text.splitlines()
    assert "m.json: ERROR MISSING_TRANSITION_TARGET at /States/S/Next: " in text
    assert lines[-1].startswith("m.json: FAIL (")
    assert format_diagnostics([]) == "OK (0 errors, 0 warnings)"


def test_diagnostic_shape() -> None:
    (diagnostic,) = validate_definition("{")
    assert diagnostic.formatted == {
        "severity": "ERROR",
        "code": "INVALID_JSON_DESCRIPTION",
        "message": diagnostic.message,
        "location": "/",
    }
    with pytest.raises(ValueError):
        Diagnostic(severity="FATAL", code="X", message="m", location="/")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        diagnostic.code = "Y"  # type: ignore[misc]


def test_exports_are_sorted_and_present() -> None:
    assert validate_module.__all__ == sorted(validate_module.__all__)
    for name in validate_module.__all__:
        assert hasattr(validate_module, name)


def test_input_is_not_mutated() -> None:
    definition = GOOD[1][1]
    before = copy.deepcopy(definition)
    validate_definition(definition)
    assert definition == before


# -- conformance: everything AWS accepted validates ---------------------------------------------


def test_every_conformance_definition_validates() -> None:
    """All 871 recorded definitions were created and executed on AWS, so none may get an ERROR."""
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance cases not found at {CONFORMANCE} (../shared is absent)")
    failures = []
    files = sorted(CONFORMANCE.glob("*.json"))
    assert files
    for path in files:
        case = json.loads(path.read_text())
        found = [
            d
            for d in validate_definition(case["definition"], machine_type=case["state_machine_type"])
            if d.severity == "ERROR"
        ]
        if found:
            failures.append(f"{path.name}:\n{format_diagnostics(found)}")
    assert not failures, "\n".join(failures[:20])
