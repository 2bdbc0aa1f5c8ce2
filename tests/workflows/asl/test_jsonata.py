"""JSONata mode: `$states`, variables, Step Functions' functions, AWS's recorded causes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.workflows.asl.errors import AslError, AslSyntaxError, state_error_cause
from server.workflows.asl.jsonata import (
    evaluate_jsonata,
    evaluate_jsonata_template,
    expression_text,
    is_jsonata_expression,
    jsonata_type_name,
    parse_jsonata,
    require_type,
)

from .expression_cases import CASES_DIR, context_for, jsonata_cases

RECORDED = jsonata_cases()
STATES: dict[str, Any] = {
    "input": {"a": [1, 2, 3], "s": "text", "n": None},
    "context": {"State": {"Name": "S", "EnteredTime": "2024-05-06T07:08:09.123Z"}},
}


def ev(text: str, **kw: Any) -> Any:
    kw.setdefault("states", STATES)
    return evaluate_jsonata(text, **kw)


@pytest.mark.skipif(not CASES_DIR.is_dir(), reason=f"conformance cases not found at {CASES_DIR}")
def test_recorded_cases_were_found() -> None:
    assert len(RECORDED) >= 40


@pytest.mark.parametrize("case", RECORDED, ids=[c["name"] for c in RECORDED])
def test_recorded_single_pass_output(case: dict) -> None:
    """A one-state JSONata Pass machine outputs its evaluated Output, as AWS recorded."""
    name, state = next(iter(case["definition"]["States"].items()))
    expected = case["expected"]
    try:
        output = evaluate_jsonata_template(
            state["Output"],
            states={"input": case["input"], "context": context_for(case, name)},
            variables={},
        )
    except AslError as exc:
        assert expected["status"] == "FAILED", exc
        # the interpreter adds the state prefix; the state was entered at event #2
        assert exc.error == expected["error"]
        assert state_error_cause(name, 2, exc.cause) == expected["cause"]
        return
    assert expected["status"] == "SUCCEEDED"
    assert output == expected["output"]


def test_states_and_variables_are_bound() -> None:
    states = dict(STATES, result={"r": 1}, errorOutput={"Error": "E"})
    assert ev("{% $states.input.a[1] %}") == 2
    assert ev("{% $states.result.r + $x %}", states=states, variables={"x": 41}) == 42
    assert ev("{% $states.errorOutput.Error %}", states=states) == "E"
    assert ev("{% $states.context.State.Name %}") == "S"
    assert ev("{% $y %}", variables={"$y": "dollar-prefixed names work too"}).startswith("dollar")
    assert ev("{% $states.input.n %}") is None  # JSON null is a value, not undefined


def test_null_variables_are_null_not_undefined() -> None:
    """Recorded: Items `{% $ItemsVar %}` with ItemsVar = null fails as "was 'null'", so the
    variable must evaluate to null rather than to nothing."""
    assert ev("{% $v %}", variables={"v": None}) is None
    assert ev("{% [$v, 1] %}", variables={"v": None}) == [None, 1]
    assert ev("{% $states.input %}", states={"input": None}) is None


def test_step_functions_functions() -> None:
    assert ev("{% $partition([1, 2, 3], 2) %}") == [[1, 2], [3]]
    assert ev("{% $range(0, 4, 2) %}") == [0, 2, 4]
    assert ev("{% $range(1, 9, 9) %}") == 1  # recorded: a one-item sequence is a scalar
    assert ev("{% $range(-1.2, 2.8, 1.9) %}") == [-1, 0, 1, 2]  # fractions truncated
    assert len(ev("{% $range(0, 1000, 1) %}")) == 1001  # no 1000-item cap, unlike ArrayRange
    assert ev("{% $append([], $range(3, 1, 1)) %}") == []
    assert ev("{% $hash(123, 'MD5') %}") == "202cb962ac59075b964b07152d234b70"  # md5("123")
    assert ev("{% $hash('input data', 'SHA-1') %}") == "aaff4a450a104cd177d28d18d74485e8cae074b7"
    assert ev("{% $parse('{\"a\": [1, null]}') %}") == {"a": [1, None]}
    assert ev("{% $parse('null') %}") is None
    assert ev("{% $uuid() %}", uuid=lambda: "u-1") == "u-1"
    assert ev("{% $random() %}", random=lambda: 0.25) == 0.25
    seeded = ev("{% $random(7) %}")
    assert seeded == ev("{% $random(7) %}") and 0 <= seeded < 1


def test_now_and_millis_come_from_the_caller() -> None:
    """Sans-IO: the clock is the state's EnteredTime (or an explicit now_millis)."""
    assert ev("{% $now() %}") == "2024-05-06T07:08:09.123Z"
    assert ev("{% $millis() %}") == 1714979289123
    assert ev("{% $millis() %}", now_millis=5) == 5


def test_integral_numbers_are_ints() -> None:
    assert ev("{% 2 * 1.5 %}") == 3 and isinstance(ev("{% 2 * 1.5 %}"), int)
    assert ev("{% 1 / 4 %}") == 0.25


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("{% $doesNotExist %}", "returned nothing (undefined)."),
        ("{% $states.input.nope %}", "returned nothing (undefined)."),
        ("{% $fn := function($x){$x} %}", "returned an unsupported result type."),
        ("{% 'a' + 1 %}", "threw an error during evaluation. T2001: "),
        ("{% 1 / 0 %}", "threw an error during evaluation. D1001: Number out of range"),
        ("{% $hash('x', 'MD4') %}", "threw an error during evaluation. $hash: the algorithm"),
        ("{% $parse('nope') %}", "threw an error during evaluation. $parse: the input is not valid JSON"),
        ("{% $parse('Infinity') %}", "threw an error during evaluation. $parse: the input is not valid JSON"),
        ("{% $eval('1 + 1') %}", "threw an error during evaluation. $eval is not available"),
        ("{% $partition([1], 0) %}", "threw an error during evaluation. $partition"),
        ("{% $range(0, 20000000, 1) %}", "threw an error during evaluation. D2014"),
        ("{% $range('0', 4, 1) %}", 'threw an error during evaluation. T0410: Argument 1 of function "range" does not match function signature'),
        ("{% $range(0, 4, 1, 2) %}", 'threw an error during evaluation. T0410: Argument 4 of function "range"'),
        ("{% $range(3, 1, 1) %}", "returned nothing (undefined)."),
    ],
)
def test_evaluation_errors(text: str, detail: str) -> None:
    with pytest.raises(AslError) as info:
        ev(text, field="Output/x")
    assert info.value.error == "States.QueryEvaluationError"
    expected_head = f"The JSONata expression '{expression_text(text)}' specified for the field 'Output/x' "
    assert info.value.cause.startswith(expected_head + detail)


def test_template_walks_and_names_fields() -> None:
    template = {"a": ["{% $x %}", " {% $x %}", 3], "b": {"c": "{% $states.input.s %}"}, "d": "plain"}
    out = evaluate_jsonata_template(template, states=STATES, variables={"x": 1})
    assert out == {"a": [1, " {% $x %}", 3], "b": {"c": "text"}, "d": "plain"}
    with pytest.raises(AslError) as info:
        evaluate_jsonata_template({"result": "{% $nope %}"}, states=STATES, field="Assign")
    assert "specified for the field 'Assign/result' returned nothing" in info.value.cause
    with pytest.raises(AslError) as info:
        evaluate_jsonata_template({"l": [0, "{% $nope %}"]}, states=STATES)
    assert "'Output/l/1'" in info.value.cause


@pytest.mark.parametrize(
    ("value", "expected"),
    [("{% 1 %}", True), ("{%%}", True), (" {% 1 %}", False), ("{% 1 %} ", False), ("{%", False), ("$.a", False), (1, False)],
)
def test_is_jsonata_expression(value: object, expected: bool) -> None:
    """Recorded: " {% states.input %} " (with spaces) is a plain string literal."""
    assert is_jsonata_expression(value) is expected


@pytest.mark.parametrize(
    ("value", "type_name", "shown"),
    [(True, "boolean", "true"), (None, "null", "null"), (1, "number", "1"), ({"foo": "bar"}, "object", '{"foo":"bar"}'), ("string", "string", '"string"')],
)
def test_require_type_has_recorded_text(value: Any, type_name: str, shown: str) -> None:
    assert jsonata_type_name(value) == type_name
    with pytest.raises(AslError) as info:
        require_type(value, "array", expression="{% $ItemsVar %}", field="Items")
    assert info.value.cause == (
        "The JSONata expression '$ItemsVar' specified for the field 'Items' returned an unexpected "
        f"result type. Expected 'array', but was '{type_name}' for value: {shown}"
    )
    assert require_type([1], "array", expression="{% x %}", field="Items") == [1]


@pytest.mark.parametrize("text", ["{% ( %}", "{% %}", "{% 1 + %}", "{% $f( %}", "{% [1, 2 %}"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(AslSyntaxError) as info:
        parse_jsonata(text)
    assert "Invalid JSONata expression" in info.value.message


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_random_expressions_parse_or_raise_syntax_error(text: str) -> None:
    """Invariant: any `{% text %}` compiles or raises AslSyntaxError — never another exception."""
    try:
        parse_jsonata("{% " + text + " %}")
    except AslSyntaxError:
        pass


_PIECES = st.sampled_from(
    ["$states.input", ".a", ".s", "[0]", "$x", "+", "-", "*", "/", "&", "=", "1", "'s'", "(", ")",
     "[", "]", "{", "}", ":", ",", "$sum(", "$partition(", "$range(", "$parse(", "$hash(", "null",
     "true", " ", "?", "function($v){$v}", ":="]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES, max_size=10).map("".join))
def test_expression_shaped_text_evaluates_or_fails_cleanly(text: str) -> None:
    """Invariant: a compiled expression evaluates to JSON or raises States.QueryEvaluationError."""
    try:
        parse_jsonata("{% " + text + " %}")
    except AslSyntaxError:
        return
    try:
        ev("{% " + text + " %}", variables={"x": 2})
    except AslError as exc:
        assert exc.error == "States.QueryEvaluationError"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False).map(lambda f: round(f, 1)) | st.text("ab", max_size=2),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c"]), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(_json_values, st.lists(st.sampled_from(["a", "b", "c"]), max_size=3), st.booleans())
def test_fast_path_agrees_with_the_evaluator(doc: Any, steps: list[str], via_variable: bool) -> None:
    """Invariant: `$states.input.a.b` / `$v.a.b` give the same result (or the same error) with
    the object-only fast path as with jsonata-python's full evaluation."""
    from server.workflows.asl import jsonata as module

    text = ("$v" if via_variable else "$states.input") + "".join(f".{s}" for s in steps)
    states = {"input": doc}
    variables = {"v": doc}

    def slow() -> Any:
        bound = module._bindings(states, variables, lambda: 0.5, lambda: "u", 0)
        raw = module.parse_jsonata(text).evaluate(None, bound)
        if raw is None:
            return ("undefined",)
        return module._to_json(raw)

    try:
        fast: Any = evaluate_jsonata("{% " + text + " %}", states=states, variables=variables)
    except AslError as exc:
        assert "returned nothing (undefined)" in exc.cause
        fast = ("undefined",)
    assert fast == slow()
