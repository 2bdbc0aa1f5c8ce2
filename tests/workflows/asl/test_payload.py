"""Payload templates (Parameters/ItemSelector/ResultSelector/Assign in JSONPath mode)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.workflows.asl.errors import AslError, AslSyntaxError
from server.workflows.asl.payload import (
    compile_check,
    evaluate_payload_template,
    evaluate_template_value,
)

from .expression_cases import CASES_DIR, context_for, payload_cases

RECORDED = payload_cases()


@pytest.mark.skipif(not CASES_DIR.is_dir(), reason=f"conformance cases not found at {CASES_DIR}")
def test_recorded_cases_were_found() -> None:
    """The table below really runs (the selection finds the intrinsic and path cases)."""
    assert len(RECORDED) >= 130
    assert any("intrinsic" in c["features"] for c in RECORDED)


@pytest.mark.parametrize("case", RECORDED, ids=[c["name"] for c in RECORDED])
def test_recorded_single_pass_parameters(case: dict) -> None:
    """A one-state Pass machine outputs exactly its Parameters: evaluate them as AWS did."""
    name, state = next(iter(case["definition"]["States"].items()))
    expected = case["expected"]
    try:
        output = evaluate_payload_template(
            state["Parameters"],
            input=case["input"],
            context=context_for(case, name),
            variables={},
        )
    except AslError as exc:
        assert expected["status"] == "FAILED", exc
        assert (exc.error, exc.cause) == (expected["error"], expected["cause"])
        return
    assert expected["status"] == "SUCCEEDED"
    assert output == expected["output"]


def test_dollar_keys_are_evaluated_and_renamed_others_copied() -> None:
    template = {
        "literal": "$.not.a.path",
        "path.$": "$.a",
        "ctx.$": "$$.Execution.Id",
        "var.$": "$v.x",
        "fn.$": "States.Format('{}-{}', $.a, $v.x)",
        "nested": {"deep.$": "$.b[1]", "list": [{"item.$": "$.a"}, "$.a", 3]},
    }
    out = evaluate_payload_template(
        template,
        input={"a": "A", "b": [0, 1]},
        context={"Execution": {"Id": "exec-1"}},
        variables={"v": {"x": 7}},
    )
    assert out == {
        "literal": "$.not.a.path",
        "path": "A",
        "ctx": "exec-1",
        "var": 7,
        "fn": "A-7",
        "nested": {"deep": 1, "list": [{"item": "A"}, "$.a", 3]},
    }


def test_template_is_not_mutated() -> None:
    template = {"a.$": "$.x", "b": {"c.$": "$.x"}}
    before = json.dumps(template)
    evaluate_payload_template(template, input={"x": 1})
    assert json.dumps(template) == before


def test_missing_path_has_aws_cause() -> None:
    with pytest.raises(AslError) as info:
        evaluate_payload_template({"value.$": "$.missing"}, input={"present": 1})
    assert info.value.error == "States.Runtime"
    assert info.value.cause == (
        "The JSONPath '$.missing' specified for the field 'value.$' could not be found in the "
        "input '{\"present\":1}'"
    )


def test_missing_nested_path_matches_a_recorded_aws_history() -> None:
    """Published AWS history: "The JSONPath '$.application.address' specified for the field
    'address.$' could not be found in the input '{"flagged":false}'"."""
    with pytest.raises(AslError) as info:
        evaluate_payload_template({"address.$": "$.application.address"}, input={"flagged": False})
    assert info.value.cause == (
        "The JSONPath '$.application.address' specified for the field 'address.$' could not be "
        "found in the input '{\"flagged\":false}'"
    )


def test_missing_context_path_shows_the_context() -> None:
    with pytest.raises(AslError) as info:
        evaluate_payload_template({"v.$": "$$.Nope"}, input={}, context={"State": {}})
    assert "'{\"State\":{}}'" in info.value.cause


def test_missing_path_inside_intrinsic_uses_the_same_cause() -> None:
    with pytest.raises(AslError) as info:
        evaluate_payload_template({"v.$": "States.Array($.missing)"}, input={})
    assert info.value.error == "States.Runtime"
    assert info.value.cause == (
        "The JSONPath '$.missing' specified for the field 'v.$' could not be found in the input '{}'"
    )


def test_intrinsic_failure_propagates() -> None:
    """Bad arguments fail as AWS does: States.Runtime, "Invalid arguments in States.X"."""
    with pytest.raises(AslError) as info:
        evaluate_payload_template({"v.$": "States.ArrayGetItem($.a, 5)"}, input={"a": [1]})
    assert (info.value.error, info.value.cause) == (
        "States.Runtime",
        "Invalid arguments in States.ArrayGetItem",
    )


def test_non_string_dollar_value_is_a_syntax_error() -> None:
    with pytest.raises(AslSyntaxError, match="'v.\\$'"):
        evaluate_template_value("v.$", 3, input={})


def test_injected_randomness_is_used() -> None:
    out = evaluate_payload_template(
        {"id.$": "States.UUID()", "n.$": "States.MathRandom(0, 100)"},
        input={},
        uuid=lambda: "fixed-uuid",
        random=lambda: 0.5,
    )
    assert out == {"id": "fixed-uuid", "n": 50}


def test_compile_check_names_each_bad_field() -> None:
    problems = compile_check(
        {
            "ok.$": "$.a",
            "bad.$": "$.a[",
            "n": {"fn.$": "States.Nope()"},
            "list": [{"x.$": 5}],
            "plain": "States.Nope(",
        },
        where="/States/P/Parameters",
    )
    assert len(problems) == 3
    assert problems[0].startswith("/States/P/Parameters/bad.$: ")
    assert problems[1].startswith("/States/P/Parameters/n/fn.$: ")
    assert problems[2].startswith("/States/P/Parameters/list[0]/x.$: ")


_VALUES = st.sampled_from(
    ["$", "$.a", "$.a[0]", "$.missing", "$$.c", "$$.nope", "$v", "$v.x", "$undefined", "$.a[*]",
     "States.Array($.a)", "States.Format('{}', $.a)", "States.ArrayGetItem($.a, 7)", "States.Nope()",
     "not a path", "", "$[", 3, None]
)
_TEMPLATES = st.recursive(
    st.dictionaries(st.sampled_from(["k", "k.$", "m.$", "n"]), _VALUES, max_size=3),
    lambda children: st.dictionaries(st.sampled_from(["x", "y.$", "z"]), children | _VALUES, max_size=3)
    | st.lists(children, max_size=2),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(_TEMPLATES)
def test_random_templates_evaluate_or_fail_cleanly(template: object) -> None:
    """Invariant: any template yields JSON with no '.$' keys left, or raises AslSyntaxError /
    AslError — never another exception."""
    try:
        out = evaluate_payload_template(
            template, input={"a": [1, 2]}, context={"c": 1}, variables={"v": {"x": 2}}
        )
    except (AslError, AslSyntaxError):
        return

    def no_dollar_keys(node: object) -> bool:
        if isinstance(node, dict):
            return all(not k.endswith(".$") and no_dollar_keys(v) for k, v in node.items())
        if isinstance(node, list):
            return all(no_dollar_keys(v) for v in node)
        return True

    assert no_dollar_keys(out)
    json.dumps(out)
