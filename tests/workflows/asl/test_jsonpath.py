"""Step Functions' JSONPath (Jayway semantics and error texts, as recorded against AWS)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.workflows.asl.errors import AslError, AslSyntaxError
from server.workflows.asl.jsonpath import (
    PathNotFoundError,
    is_path,
    parse_path,
    parse_reference_path,
    resolve,
    select,
    select_reference,
    set_path,
)

DOC: dict[str, Any] = {
    "items": [
        {"price": 5, "name": "a", "tags": ["x"]},
        {"price": 15, "name": "b", "tags": []},
        {"price": 25, "name": "c", "on": False},
    ],
    "obj": {"k": 1, "n": None},
    "s": "text",
    "with space": 1,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOC),
        ("$.s", "text"),
        ("$.obj.n", None),
        ("$['with space']", 1),
        ("$.items[0].name", "a"),
        ("$.items[-1].name", "c"),
        ("$.items[*].name", ["a", "b", "c"]),
        ("$.items[1:].price", [15, 25]),
        ("$.items[:1].price", [5]),
        ("$.items[0,2].name", ["a", "c"]),
        ("$.items[?(@.price > 10)].name", ["b", "c"]),
        ("$.items[?(@.price >= 15 && @.name != 'c')].name", ["b"]),
        ("$.items[?(@.name == 'a' || @.price == 25)].price", [5, 25]),
        ("$.items[?(@.on)].name", ["c"]),
        ("$.items[?(!(@.price < 10))].name", ["b", "c"]),
        ("$.items[?(@.name =~ /[ab]/)].name", ["a", "b"]),
        ("$.items[?(@.name in ['a', 'c'])].name", ["a", "c"]),
        ("$.items[?(@.tags size 1)].name", ["a"]),
        ("$.items[?(@.tags empty true)].name", ["b"]),
        ("$.items[?(@.price > $.obj.k)].price", [5, 15, 25]),
        ("$..price", [5, 15, 25]),
        ("$..k", [1]),
        ("$.obj.*", [1, None]),
        ("$['obj','s']", {"obj": {"k": 1, "n": None}, "s": "text"}),
        ("$.items.length()", 3),
        ("$.s.length()", 4),
    ],
)
def test_select(path: str, expected: Any) -> None:
    assert select(path, DOC) == expected


@pytest.mark.parametrize(
    "path", ["$.nothing[*]", "$.nothing[1:5].x", "$[*]", "$.items[?(@.price > 100)]", "$..zzz"]
)
def test_indefinite_paths_over_missing_data_give_empty_list(path: str) -> None:
    """Recorded: `$.item.items[1:5]` on `{}` outputs [] (no States.Runtime)."""
    data: Any = {} if path == "$[*]" else DOC
    assert select(path, data) == []


@pytest.mark.parametrize(
    ("path", "data", "detail"),
    [
        # recorded (scenarios test_invalid_jsonpath / test_catch_states_runtime)
        ("$.NoSuchInputPath", {}, "No results for path: $['NoSuchInputPath']"),
        ("$.no.such.result.path", {}, "Missing property in path $['no']"),
        ("$.items[10]", DOC, "No results for path: $['items'][10]"),
        ("$.obj.missing", DOC, "No results for path: $['obj']['missing']"),
        ("$.obj[0]", DOC, "Filter: [0] can only be applied to arrays. Current context is: {k=1, n=null}"),
        ("$.obj.n[0]", DOC, "The path $['obj']['n'] is null"),
    ],
)
def test_definite_path_failures_have_jayway_text(path: str, data: Any, detail: str) -> None:
    with pytest.raises(PathNotFoundError) as info:
        select(path, data)
    assert info.value.error == "States.Runtime"
    assert info.value.cause == f"Invalid path '{path}' : {detail}"
    assert info.value.detail == detail


def test_property_of_a_string_names_the_java_type() -> None:
    with pytest.raises(AslError, match=r"Expected to find an object with property \['x'\] in path \$\['s'\] but found 'java.lang.String'"):
        select("$.s.x", DOC)


def test_recorded_escaped_bracket_name_keeps_backslash() -> None:
    """Recorded: `$['Test\\""Name"']` selects the key `Test\\""Name"` (backslash kept)."""
    data = {'Test\\""Name"': 'Value"\\'}
    assert select("$['Test\\\"\"Name\"']", data) == 'Value"\\'
    assert select("$['it\\'s']", {"it's": 1}) == 1


def test_roots_context_and_variables() -> None:
    context = {"Execution": {"Id": "e1"}, "Map": {"Item": {"Index": 2}}}
    variables = {"answer": {"x": [10, 20]}, "n": 5}
    assert resolve("$$.Execution.Id", input={}, context=context) == "e1"
    assert resolve("$$", input={}, context=context) is context
    assert resolve("$answer.x[1]", input={}, variables=variables) == 20
    assert resolve("$n", input={}, variables=variables) == 5
    assert resolve("$.a", input={"a": 1}, variables=variables) == 1
    with pytest.raises(PathNotFoundError, match="The variable 'missing' is not defined"):
        resolve("$missing", input={}, variables=variables)
    assert parse_path("$$.Map.Item.Index").root == "context"
    path = parse_path("$answer.x")
    assert (path.root, path.variable) == ("variable", "answer")


@pytest.mark.parametrize(
    "text",
    ["", "x", "$.", "$[", "$..", "$.a b", "$[1:2:3]", "$.a[?(@.b", "$.a[?(@.b ==)]", "$.a.length().b", "$.a.foo()", "$['a"],
)
def test_bad_paths_raise_syntax_errors(text: str) -> None:
    with pytest.raises(AslSyntaxError) as info:
        parse_path(text)
    assert text in info.value.message
    assert not is_path(text)


def test_definiteness() -> None:
    assert parse_path("$.a[0].b").definite
    assert parse_path("$['a','b']").definite  # merged object, Jayway
    for text in ("$.a[*]", "$..a", "$.a[?(@.x)]", "$.a[1:2]", "$.a[0,1]"):
        assert not parse_path(text).definite


# ------------------------------------------------------------------------------ ResultPath


@pytest.mark.parametrize(
    ("data", "path", "value", "expected"),
    [
        ({"a": 1}, "$", {"r": 1}, {"r": 1}),
        ({"a": 1}, "$.b", 2, {"a": 1, "b": 2}),
        ({"a": 1}, "$.a", 2, {"a": 2}),
        ({"a": 1}, "$.x.y.z", 3, {"a": 1, "x": {"y": {"z": 3}}}),
        ({"a": {"keep": 1}}, "$.a.new", 2, {"a": {"keep": 1, "new": 2}}),
        ({"a": [1, 2, 3]}, "$.a[1]", 9, {"a": [1, 9, 3]}),
        ({"a": [{"b": 1}]}, "$.a[0].c", 2, {"a": [{"b": 1, "c": 2}]}),
        ("scalar", "$", 1, 1),
        ({"a": 1}, None, 5, {"a": 1}),
    ],
)
def test_set_path(data: Any, path: str | None, value: Any, expected: Any) -> None:
    assert set_path(data, path, value) == expected


def test_set_path_does_not_mutate_input() -> None:
    data = {"a": {"b": 1}}
    set_path(data, "$.a.c", 2)
    assert data == {"a": {"b": 1}}


@pytest.mark.parametrize(
    ("data", "path", "step"),
    [
        ("text", "$.a", "a"),
        ({"a": 1}, "$.a.b", "b"),
        ({"a": None}, "$.a.b", "b"),
        ({"a": [1]}, "$.a[3]", "3"),
        ({"a": {}}, "$.a[0]", "0"),
        ([{"messageId": "m"}], "$.x", "x"),
    ],
)
def test_set_path_into_non_object_fails(data: Any, path: str, step: str) -> None:
    """AWS reports these as States.ReferencePathConflict (published failures, e.g. a ResultPath
    write on an array input), with the whole input as compact JSON."""
    with pytest.raises(AslError) as info:
        set_path(data, path, 1)
    assert info.value.error == "States.ReferencePathConflict"
    assert info.value.cause.startswith(f'Unable to apply step "{step}" to input ')


def test_select_reference_reads_like_items_path() -> None:
    data = {"discovery": {"statusCode": 500, "body": "..."}, "list": [[1], [2]]}
    assert select_reference("$.list[1]", data) == [2]
    assert select_reference("$", data) is data
    with pytest.raises(AslError) as info:
        select_reference("$.discovery.objects", data)
    # published AWS failure of `ItemsPath: $.discovery.objects`
    assert info.value.error == "States.ReferencePathConflict"
    assert info.value.cause == (
        'Unable to apply step "objects" to input {"discovery":{"statusCode":500,"body":"..."},'
        '"list":[[1],[2]]}'
    )
    with pytest.raises(AslError, match='step "9"'):
        select_reference("$.list[9]", data)


@pytest.mark.parametrize("text", ["$.a[*]", "$..a", "$$.Execution", "$var.x", "$.a[?(@.x)]", "$.a[0:1]"])
def test_reference_paths_reject_operators(text: str) -> None:
    with pytest.raises(AslSyntaxError):
        parse_reference_path(text)


# ------------------------------------------------------------------------------ properties


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_random_text_parses_or_raises_syntax_error(text: str) -> None:
    """Invariant: any string either parses as a path or raises AslSyntaxError, never crashes."""
    try:
        path = parse_path(text)
    except AslSyntaxError:
        return
    assert path.text == text


_PATH_ALPHABET = st.sampled_from(
    ["$", "$$", ".", "..", "[", "]", "*", "?", "(", ")", "@", "'", '"', "0", "1", "-1", ":", ",",
     "a", "b", "==", "<", "&&", "||", "!", " ", "/x/", "in", "length()", "true", "\\"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PATH_ALPHABET, max_size=14).map("".join))
def test_path_like_text_parses_or_raises_and_evaluates_safely(text: str) -> None:
    """Invariant: path-shaped junk parses or raises AslSyntaxError; a parsed path evaluates to a
    value or raises AslError (States.Runtime) — never a Python exception."""
    try:
        path = parse_path(text)
    except AslSyntaxError:
        return
    try:
        resolve(path, input=DOC, context=DOC, variables={"a": DOC, "b": 1})
    except AslError as exc:
        assert exc.error == "States.Runtime"


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text("abc", max_size=3),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text("abcd", min_size=1, max_size=2), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    _json,
    st.lists(st.one_of(st.text("abcd", min_size=1, max_size=2), st.integers(0, 2)), min_size=1, max_size=4),
    _json,
)
def test_set_then_select_round_trips(data: Any, steps: list[str | int], value: Any) -> None:
    """Invariant: after set_path(data, p, v) succeeds, select(p) and select_reference(p) give v
    back; on failure the error is States.ReferencePathConflict."""
    text = "$" + "".join(f"['{s}']" if isinstance(s, str) else f"[{s}]" for s in steps)
    try:
        new = set_path(data, text, value)
    except AslError as exc:
        assert exc.error == "States.ReferencePathConflict"
        return
    assert select(text, new) == value
    assert select_reference(text, new) == value


@pytest.mark.parametrize("value", [None, 3, ["$.a"], {"a": 1}])
def test_non_string_paths_are_syntax_errors(value: Any) -> None:
    from server.workflows.asl.intrinsics import parse_intrinsic
    from server.workflows.asl.jsonata import parse_jsonata

    for parse in (parse_path, parse_intrinsic, parse_jsonata):
        with pytest.raises(AslSyntaxError, match="must be a string"):
            parse(value)
