"""The 18 intrinsic functions: parsing, AWS's recorded results, limits and failures."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.workflows.asl.errors import AslError, AslSyntaxError
from server.workflows.asl.intrinsics import (
    FUNCTION_ARITY,
    Call,
    IntrinsicArgumentError,
    Literal,
    PathArgument,
    evaluate_intrinsic,
    format_value,
    intrinsic_problems,
    is_intrinsic,
    parse_intrinsic,
)


def ev(text: str, input: Any = None, **kw: Any) -> Any:
    return evaluate_intrinsic(text, input=input if input is not None else {}, **kw)


def test_all_eighteen_functions_are_known() -> None:
    assert len(FUNCTION_ARITY) == 18


# ------------------------------------------------------------------------------ recorded by AWS


@pytest.mark.parametrize(
    ("text", "input", "expected"),
    [
        ("States.Format('Formatting argument {}.', $.v)", {"v": None}, "Formatting argument null."),
        ("States.Format('Formatting argument {}.', $.v)", {"v": 1.1}, "Formatting argument 1.1."),
        ("States.Format('x={}', $.v)", {"v": {"Arg1": 1, "Arg2": []}}, "x={Arg1=1, Arg2=[]}"),
        ("States.StringToJson($.v)", {"v": " "}, None),
        ("States.StringToJson($.v)", {"v": "-0"}, 0),
        ("States.StringToJson($.v)", {"v": '{"Arg1": 1, "Arg2": []}'}, {"Arg1": 1, "Arg2": []}),
        ("States.JsonToString($.v)", {"v": {"Arg1": 1, "Arg2": []}}, '{"Arg1":1,"Arg2":[]}'),
        ("States.JsonToString($.v)", {"v": "HelloWorld"}, '"HelloWorld"'),
        ("States.Array()", {}, []),
        ("States.ArrayContains($.a, $.v)", {"a": [[1, 2, 3], 2], "v": [1, 2, 3]}, True),
        ("States.ArrayContains($.a, $.v)", {"a": [{"1": 2, "2": []}], "v": []}, False),
        ("States.ArrayContains($.a, $.v)", {"a": [True, False], "v": False}, True),
        ("States.ArrayPartition($.a, $.n)", {"a": [0, 1, 2, 3], "n": 3}, [[0, 1, 2], [3]]),
        ("States.ArrayPartition($.a, $.n)", {"a": [], "n": 2}, []),
        ("States.ArrayRange($.a, $.b, $.c)", {"a": 0, "b": 10, "c": 3}, [0, 3, 6, 9]),
        ("States.ArrayRange($.a, $.b, $.c)", {"a": 1, "b": 9, "c": 9}, [1]),
        ("States.ArrayGetItem($.a, $.i)", {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "i": 5}, 6),
        ("States.ArrayLength($.a)", {"a": [None, [], {}]}, 3),
        ("States.ArrayUnique($.a)", {"a": [1, 2, 3, 3, 3, 3, 3, 3, 4]}, [1, 2, 3, 4]),
        ("States.Base64Encode($.v)", {"v": "Data to encode"}, "RGF0YSB0byBlbmNvZGU="),
        ("States.Base64Decode($.v)", {"v": "RGF0YSB0byBlbmNvZGU="}, "Data to encode"),
        ("States.Hash($.v, 'SHA-256')", {"v": "input data"}, "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
        ("States.MathAdd($.a, $.b)", {"a": 1.49, "b": 1.5}, 3),
        ("States.MathAdd($.a, $.b)", {"a": -1.5, "b": 0}, -1),
        ("States.MathAdd($.a, $.b)", {"a": -2.5, "b": 0}, -2),
        ("States.MathAdd($.a, $.b)", {"a": 2.5, "b": 0}, 3),
        ("States.StringSplit($.s, $.d)", {"s": ", , ,", "d": ","}, [" ", " "]),
        ("States.StringSplit($.s, $.d)", {"s": "This.is+a,test=string", "d": ".+,="}, ["This", "is", "a", "test", "string"]),
        ("States.StringSplit('Hello\nWorld', '\n')", {}, ["Hello", "World"]),
        (
            "States.JsonMerge(States.StringToJson('{\"c\": \"false\"}'), $.x, false)",
            {"x": {"d": 1}},
            {"c": "false", "d": 1},
        ),
        (
            "States.JsonMerge($.a, $.b, false)",
            {"a": {"a": {"a1": 1}, "b": 2, "d": 3}, "b": {"a": {"a3": 1}, "c": 3, "d": 4}},
            {"a": {"a3": 1}, "b": 2, "c": 3, "d": 4},
        ),
    ],
)
def test_recorded_results(text: str, input: Any, expected: Any) -> None:
    assert ev(text, input) == expected


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_hash_algorithms(algorithm: str) -> None:
    name = algorithm.replace("-", "").lower()
    assert ev(f"States.Hash('abc', '{algorithm}')") == hashlib.new(name, b"abc").hexdigest()


# ------------------------------------------------------------------------------ syntax


def test_parse_tree() -> None:
    call = parse_intrinsic("States.Format('a{}b', $.x, States.Array(1, -2.5, true, null), $$.c, $v)")
    assert call.name == "States.Format"
    first, path, nested, ctx, var = call.args
    assert first == Literal("a{}b", (1,))
    assert isinstance(path, PathArgument) and path.path.text == "$.x"
    assert isinstance(nested, Call) and [a.value for a in nested.args if isinstance(a, Literal)] == [1, -2.5, True, None]
    assert isinstance(ctx, PathArgument) and ctx.path.root == "context"
    assert isinstance(var, PathArgument) and var.path.variable == "v"


def test_escapes() -> None:
    """AWS: escape ' { } and \\ with a backslash; an escaped {} is text, not a placeholder."""
    assert ev("States.Format('It\\'s \\{\\} {}', 'x')") == "It's {} x"
    assert ev("States.Format('back\\\\slash {}', 1)") == "back\\slash 1"
    assert ev("States.StringToJson('{\"a\": 1}')") == {"a": 1}  # bare braces fine outside Format


def test_paths_with_commas_and_parentheses_inside_brackets() -> None:
    data = {"items": [{"n": "a,b"}, {"n": "c"}], "a,b": 1}
    assert ev("States.Array($.items[?(@.n == 'a,b')].n, $['a,b'])", data) == [["a,b"], 1]


def test_nesting_limit() -> None:
    ok = "States.Array(" * 10 + ")" * 10
    value, depth = ev(ok), 0
    while value != []:
        value, depth = value[0], depth + 1
    assert depth == 9  # ten calls: the innermost States.Array() is []
    with pytest.raises(AslSyntaxError, match="nest at most 10"):
        parse_intrinsic("States.Array(" * 11 + ")" * 11)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("States.Nope()", "unknown intrinsic function 'States.Nope'"),
        ("States.Array('x)", "unterminated string"),
        ("States.Array(", "unexpected end"),
        ("States.Array() extra", "unexpected"),
        ("States.Array($.a b)", "expected ',' or ')'"),
        ("States.Array($.[)", "bad path argument"),
        ("States.Array(\"x\")", "unexpected '\"'"),
        ("Format('x')", "expected a function name"),
        ("States.Array(1.)", "expected ',' or ')'"),
        ("States.Array(.5)", "unexpected '.'"),
        ("States.Array([1,2])", "unexpected '['"),
    ],
)
def test_syntax_errors(text: str, fragment: str) -> None:
    with pytest.raises(AslSyntaxError) as info:
        parse_intrinsic(text)
    assert fragment in info.value.message
    assert text in info.value.message


def test_is_intrinsic() -> None:
    assert is_intrinsic("States.Array()")
    assert is_intrinsic("  States.Format ('x')")
    assert not is_intrinsic("$.a")
    assert not is_intrinsic("States.Array")
    assert not is_intrinsic(3)


# ------------------------------------------------------------------------------ runtime failures


@pytest.mark.parametrize(
    ("text", "input", "detail"),
    [
        # the third-party AWS characterisations this follows assert States.Runtime and
        # "Invalid arguments in States.X" for each of these
        ("States.ArrayRange(1, 1001, 1)", {}, "more than 1000 items"),
        ("States.ArrayRange(1001, 1, -1)", {}, "more than 1000 items"),
        ("States.ArrayRange(1, 10, 0.49)", {}, "step must not be 0"),
        ("States.ArrayRange('a', 5, 1)", {}, "must be a number"),
        ("States.ArrayGetItem($.a, 3)", {"a": [10, 20, 30]}, "out of bounds"),
        ("States.ArrayGetItem($.a, -1)", {"a": [10, 20, 30]}, "out of bounds"),
        ("States.ArrayGetItem($.a, '1')", {"a": [1]}, "must be a number"),
        ("States.ArrayGetItem('not-array', 0)", {}, "must be an array"),
        ("States.ArrayPartition($.a, 0.6)", {"a": [1]}, "positive integer"),
        ("States.ArrayPartition($.a, -1)", {"a": [1]}, "positive integer"),
        ("States.ArrayPartition($.a, null)", {"a": [1]}, "must be a number"),
        ("States.ArrayLength($.a)", {"a": "str"}, "must be an array"),
        ("States.ArrayContains('not-array', 'x')", {}, "must be an array"),
        ("States.Format('{} {}', 1)", {}, "2 placeholder(s) but 1 value(s)"),
        ("States.Format('{}', 1, 2)", {}, "1 placeholder(s) but 2 value(s)"),
        ("States.Format($.t, 1)", {"t": "no slots"}, "0 placeholder(s)"),
        ("States.Format($.t, 1)", {"t": 123}, "must be a string"),
        ("States.Format('Hello {', 1)", {}, "outside a '{}' placeholder"),
        ("States.Format('Hello {{}}', 1)", {}, "outside a '{}' placeholder"),
        ("States.Format('}')", {}, "outside a '{}' placeholder"),
        ("States.StringToJson('{bad')", {}, "not valid JSON"),
        ("States.StringToJson('NaN')", {}, "not valid JSON"),
        ("States.StringSplit($.s, ',')", {"s": None}, "must be a string"),
        ("States.StringSplit($.s, $.d)", {"s": "a,b", "d": [","]}, "must be a string"),
        ("States.Base64Decode('A')", {}, "not valid Base64"),
        ("States.Base64Decode(123)", {}, "must be a string"),
        ("States.Base64Encode($.s)", {"s": "x" * 10_001}, "at most 10000 characters"),
        ("States.Base64Encode($.s)", {"s": ["x"]}, "must be a string"),
        ("States.Hash($.s, 'MD5')", {"s": "x" * 10_001}, "at most 10000 characters"),
        ("States.Hash('data', 'sha-256')", {}, "not supported"),
        ("States.Hash('data', 123)", {}, "must be a string"),
        ("States.MathAdd($.a, 1)", {"a": "1"}, "must be a number"),
        ("States.MathAdd(true, 1)", {}, "must be a number"),
        ("States.MathAdd(3000000000, 1)", {}, "outside the integer range"),
        ("States.MathAdd(2147483647, 1)", {}, "sum 2147483648 is outside"),
        ("States.JsonMerge($.a, $.b, false)", {"a": {}, "b": [1]}, "JSON objects"),
        ("States.JsonMerge($.a, $.b, true)", {"a": {}, "b": {}}, "shallow"),
        ("States.MathRandom(5, 5)", {}, "must be less than"),
        ("States.MathRandom(1.4, 1.6)", {}, "must be less than"),
        ("States.MathRandom(1, 10, null)", {}, "must be a number"),
        ("States.Hash()", {}, "takes 2 argument(s)"),
        ("States.Base64Encode('a', 'b')", {}, "takes 1 argument(s)"),
        ("States.ArrayContains($.a, 2, 999)", {"a": [1]}, "takes 2 argument(s)"),
        ("States.Format()", {}, "1 or more argument(s)"),
        ("States.UUID(1)", {}, "takes 0 argument(s)"),
    ],
)
def test_argument_failures_are_states_runtime(text: str, input: Any, detail: str) -> None:
    name = text.split("(")[0]
    with pytest.raises(IntrinsicArgumentError) as info:
        ev(text, input)
    assert info.value.error == "States.Runtime"
    assert info.value.cause == f"Invalid arguments in {name}"
    assert detail in info.value.detail


@pytest.mark.parametrize(
    ("text", "input", "expected"),
    [
        # AWS's numeric quirks, from third-party characterisations run against AWS
        ("States.ArrayRange(1.4, 5.6, 2.2)", {}, [1, 3, 5]),
        ("States.ArrayRange(1.6, 1.4, 1)", {}, [1]),  # truncated, not rounded
        ("States.ArrayRange(5.4, -0.6, -2.4)", {}, [5, 3, 1]),
        ("States.ArrayRange(3, 3, -1)", {}, [3]),
        ("States.ArrayRange(5, 1, 1)", {}, []),
        ("States.ArrayPartition($.a, 2.6)", {"a": [1, 2, 3, 4, 5]}, [[1, 2], [3, 4], [5]]),
        ("States.ArrayPartition($.a, 2147483647)", {"a": [1, 2, 3]}, [[1, 2, 3]]),
        ("States.ArrayGetItem($.a, 1.2)", {"a": [10, 20, 30]}, 20),
        ("States.ArrayGetItem($.a, 999)", {"a": []}, None),
        ("States.ArrayContains($.a, true)", {"a": ["true", "false"]}, True),
        ("States.ArrayContains($.a, $.t)", {"a": ["9007199254740991"], "t": 9007199254740991}, True),
        ("States.ArrayContains($.a, $.t)", {"a": [{"a": 1, "b": 2}], "t": {"b": 2, "a": 1}}, False),
        ("States.ArrayContains($.a, false)", {"a": [0, 1, -1, -1.5]}, False),
        ("States.ArrayContains($.a, null)", {"a": [1, None, 3]}, True),
        ("States.ArrayUnique($.a)", {"a": [1, "1", 1.0, "01"]}, [1, "1", "01"]),
        ("States.ArrayUnique($.a)", {"a": [True, 1, {"a": 1, "b": 2}, {"b": 2, "a": 1}]}, [True, 1, {"a": 1, "b": 2}]),
        ("States.Base64Decode('!!!invalid!!!')", {}, base64.b64decode("invalid=").decode("utf-8", "replace")),
        ("States.Base64Decode(' YWJjZA== ')", {}, "abcd"),
        ("States.Base64Decode('abc')", {}, base64.b64decode("abc=").decode("utf-8", "replace")),
        ("States.Base64Decode('4pyT')", {}, "\u2713"),
        ("States.Hash(123, 'MD5')", {}, hashlib.md5(b"123").hexdigest()),
        ("States.Hash($.o, 'MD5')", {"o": {}}, hashlib.md5(b"{}").hexdigest()),
        ("States.JsonMerge($.a, $.b, $.deep)", {"a": {"x": 1}, "b": {"y": 2}, "deep": "false"}, {"x": 1, "y": 2}),
        ("States.MathAdd(-2147483647, -1)", {}, -2147483648),
        ("States.MathAdd(1.6, 2.7)", {}, 5),
        ("States.MathAdd(0.1, 0.2)", {}, 0),
        ("States.Format('{}|{}|{}', $.n, $.b, $.f)", {"n": None, "b": False, "f": 3.5}, "null|false|3.5"),
        ("States.StringSplit('a,,b', ',')", {}, ["a", "b"]),
        ("States.StringSplit('', ',')", {}, []),
    ],
)
def test_aws_numeric_and_comparison_quirks(text: str, input: Any, expected: Any) -> None:
    assert ev(text, input) == expected


def test_intrinsic_problems_for_validators() -> None:
    """Definition-time warnings for what AWS only reports at run time."""
    assert intrinsic_problems(parse_intrinsic("States.Format('{}', $.a)")) == []
    assert intrinsic_problems(parse_intrinsic("States.Hash('a')")) == [
        "States.Hash takes 2 argument(s), got 1"
    ]
    problems = intrinsic_problems(
        parse_intrinsic("States.Array(States.Format('{} {}', 1), States.JsonMerge($.a, $.b, true), States.Hash('x', 'MD4'), States.Format(1))")
    )
    assert len(problems) == 4
    assert intrinsic_problems(parse_intrinsic("States.Format('a { b', 1)"))[0].endswith("outside a '{}' pair")


def test_range_limit_boundary() -> None:
    assert len(ev("States.ArrayRange(1, 1000, 1)")) == 1000
    assert ev("States.ArrayRange(1000, 1, -1)")[-1] == 1


def test_failure_names_the_innermost_call() -> None:
    with pytest.raises(IntrinsicArgumentError) as info:
        ev("States.Array(States.ArrayGetItem($.a, 9))", {"a": [1]})
    assert info.value.cause == "Invalid arguments in States.ArrayGetItem"


def test_missing_path_argument_is_states_runtime() -> None:
    with pytest.raises(AslError) as info:
        ev("States.Array($.missing)", {})
    assert info.value.error == "States.Runtime"


# ------------------------------------------------------------------------------ randomness


def test_random_and_uuid_are_injected() -> None:
    assert ev("States.UUID()", uuid=lambda: "u-1") == "u-1"
    assert ev("States.MathRandom(10, 20)", random=lambda: 0.0) == 10
    assert ev("States.MathRandom(10, 20)", random=lambda: 0.999999) == 19


def test_seeded_random_is_stable_and_in_range() -> None:
    first = ev("States.MathRandom(1, 1000, 42)")
    assert first == ev("States.MathRandom(1, 1000, 42)")
    assert 1 <= first < 1000


def test_default_uuid_is_v4() -> None:
    value = ev("States.UUID()")
    assert len(value) == 36 and value[14] == "4"


def test_format_value() -> None:
    assert format_value([1, "a", None, True, {"k": [2]}]) == "[1, a, null, true, {k=[2]}]"


# ------------------------------------------------------------------------------ properties


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_random_text_parses_or_raises_syntax_error(text: str) -> None:
    """Invariant: any string either parses as an intrinsic call or raises AslSyntaxError."""
    try:
        parse_intrinsic(text)
    except AslSyntaxError:
        pass


_TOKENS = st.sampled_from(
    ["States.Format", "States.Array", "States.ArrayGetItem", "States.MathAdd", "States.StringSplit",
     "States.JsonMerge", "States.Hash", "States.ArrayRange", "States.UUID", "(", ")", ",", " ",
     "'", "\\", "{}", "\\'", "\\{", "$.a", "$$.b", "$v", "$.a[0]", "1", "-2.5", "true", "null",
     "'x'", "'MD5'", "[", "]"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_TOKENS, max_size=16).map("".join))
def test_call_shaped_text_parses_or_raises_and_evaluates_safely(text: str) -> None:
    """Invariant: call-shaped junk parses or raises AslSyntaxError; a parsed call evaluates to
    a value or raises AslError (States.Runtime) — never a Python exception."""
    try:
        call = parse_intrinsic(text)
    except AslSyntaxError:
        return
    try:
        evaluate_intrinsic(
            call,
            input={"a": [1, "x"]},
            context={"b": "s"},
            variables={"v": 3},
            random=lambda: 0.5,
            uuid=lambda: "u",
        )
    except AslError as exc:
        assert exc.error == "States.Runtime"
