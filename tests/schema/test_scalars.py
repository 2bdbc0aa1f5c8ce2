"""The nine AppSync scalars: valid values pass (as variables and as literals), invalid ones are
refused with a message that names the scalar, before any resolver runs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ariadne import QueryType, make_executable_schema
from graphql import graphql_sync

from server.schema.scalars import AWS_SCALAR_NAMES, AWS_SCALARS, SCALARS_SDL, serialize_aws_json

VALID: dict[str, list[Any]] = {
    "AWSDate": ["1970-01-01", "1970-01-01Z", "1970-01-01-07:00", "1970-01-01+05:30", "2024-02-29", "-2017-01-01", "2024-01-01+05:30:15"],
    "AWSTime": ["12:30", "12:30Z", "12:30:24-07:00", "12:30:24.500+05:30", "23:59:59.123456789", "00:00:00"],
    "AWSDateTime": [
        "1970-01-01T12:00:00.2Z",
        "1970-01-01T12:00:00.277Z",
        "1970-01-01T12:00:00.123456789Z",
        "2024-05-31T12:30Z",
        "2024-05-31T12:30:00+05:30",
        "2024-05-31T12:30:00-07:00:00",
        "-2017-01-01T00:00Z",
    ],
    "AWSTimestamp": [0, 1, -1, 1700000000, 1732520000123, 2**63 - 1, -(2**63)],
    "AWSEmail": ["username@example.com", "first.last+tag@sub.example.co.uk", "a_b@x-y.io"],
    "AWSJSON": ['{"upvotes": 10}', "[1,2,3]", '"AWSJSON example string"', "1", "true", "null"],
    "AWSURL": ["https://www.amazon.com/dp/B000NZW3KC/", "mailto:example@example.com", "http://localhost/", "ftp://h.example/a/b?q=1#f"],
    "AWSPhone": ["+1 206-555-0100", "206-555-0100", "+44 20 7946 0958", "2065550100", "+61 (02) 1234 5678"],
    "AWSIPAddress": ["127.0.0.1", "192.0.2.0/24", "::1", "2001:db8::ff00:42:8329", "2001:db8::/32"],
}

INVALID: dict[str, list[Any]] = {
    "AWSDate": ["1970-1-1", "1970-13-01", "2023-02-29", "19700101", "1970-01-01T00:00Z", "1970-01-01+25:00", 20240101],
    "AWSTime": ["24:00", "12:60", "12:30:24.", "12:30:24.1234567890", "1230", "12:30+5", 1230],
    "AWSDateTime": [
        "2024-05-31T12:30:00",  # the offset is compulsory
        "2024-05-31 12:30:00Z",
        "2024-05-31",
        "2024-05-31T25:00Z",
        "2024-02-30T12:00Z",
        "yesterday",
        1717158600,
    ],
    "AWSTimestamp": ["1700000000", 1.5, True, 2**63, -(2**63) - 1, None if False else [1]],
    "AWSEmail": ["plainaddress", "@example.com", "a@b", "a b@example.com", "a@example..com", 42],
    "AWSJSON": ["{a: 1}", "{'a': 1}", "Unquoted string", "", {"a": 1}],
    "AWSURL": ["www.example.com", "https://example.com//double", "http://", "not a url", "https://exa mple.com", 7],
    "AWSPhone": ["phone", "12", "+1 206 555 01OO", "206_555_0100", 2065550100],
    "AWSIPAddress": ["256.0.0.1", "1.2.3", "::g", "10.0.0.0/33", "localhost", 127001],
}


def _schema() -> Any:
    fields = "\n".join(f"  echo{n}(v: {n}): {n}" for n in AWS_SCALAR_NAMES)
    sdl = "\n".join(f"scalar {n}" for n in AWS_SCALAR_NAMES) + f"\ntype Query {{\n{fields}\n}}\n"
    query = QueryType()
    for n in AWS_SCALAR_NAMES:
        query.set_field(f"echo{n}", lambda _obj, _info, v=None: v)
    return make_executable_schema(sdl, query, *AWS_SCALARS)


SCHEMA = _schema()


def _wire(name: str, value: Any) -> str:
    return json.dumps(value)


@pytest.mark.parametrize("name,value", [(n, v) for n, vs in VALID.items() for v in vs])
def test_valid_values_pass_as_variables_and_come_back(name: str, value: Any) -> None:
    result = graphql_sync(SCHEMA, f"query($v: {name}) {{ echo{name}(v: $v) }}", variable_values={"v": value})
    assert result.errors is None, result.errors
    out = result.data["echo" + name]  # type: ignore[index]
    if name == "AWSJSON" and value == "null":
        assert out is None  # JSON null is GraphQL null
    elif name == "AWSJSON":
        assert json.loads(out) == json.loads(value)
    else:
        assert out == value


@pytest.mark.parametrize("name,value", [(n, v) for n, vs in VALID.items() for v in vs])
def test_valid_values_pass_as_literals(name: str, value: Any) -> None:
    result = graphql_sync(SCHEMA, f"{{ echo{name}(v: {_wire(name, value)}) }}")
    assert result.errors is None, result.errors


@pytest.mark.parametrize("name,value", [(n, v) for n, vs in INVALID.items() for v in vs])
def test_invalid_variables_are_refused_naming_the_scalar(name: str, value: Any) -> None:
    result = graphql_sync(SCHEMA, f"query($v: {name}) {{ echo{name}(v: $v) }}", variable_values={"v": value})
    assert result.data is None and result.errors
    message = result.errors[0].message
    assert "$v" in message and name in message, message


@pytest.mark.parametrize("name,value", [(n, v) for n, vs in INVALID.items() for v in vs if v is not None])
def test_invalid_literals_fail_validation(name: str, value: Any) -> None:
    result = graphql_sync(SCHEMA, f"{{ echo{name}(v: {_literal(value)}) }}")
    assert result.errors, f"{name} accepted literal {value!r}"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{a: 1}"
    if isinstance(value, list):
        return "[" + ", ".join(map(_literal, value)) + "]"
    return json.dumps(value)


def test_timestamp_holds_13_digit_milliseconds_where_int_cannot() -> None:
    ms = 1732520000123
    ok = graphql_sync(SCHEMA, f"{{ echoAWSTimestamp(v: {ms}) }}")
    assert ok.errors is None and ok.data == {"echoAWSTimestamp": ms}
    int_schema = make_executable_schema("type Query { f(v: Int): Int }")
    assert graphql_sync(int_schema, f"{{ f(v: {ms}) }}").errors  # why AWSTimestamp must be 64-bit


def test_date_time_without_offset_says_the_offset_is_required() -> None:
    result = graphql_sync(
        SCHEMA, "query($v: AWSDateTime) { echoAWSDateTime(v: $v) }", variable_values={"v": "2024-05-31T12:30:00"}
    )
    assert result.errors and "offset" in result.errors[0].message


def test_json_round_trip_parses_for_resolvers_and_serializes_back() -> None:
    seen: list[Any] = []
    query = QueryType()

    @query.field("echo")
    def echo(_obj: Any, _info: Any, v: Any) -> Any:
        seen.append(v)
        return v

    schema = make_executable_schema(SCALARS_SDL + "type Query { echo(v: AWSJSON): AWSJSON }", query, *AWS_SCALARS)
    doc = {"a": [1, 2.5, None, True], "b": {"c": "ü"}}
    result = graphql_sync(schema, "query($v: AWSJSON) { echo(v: $v) }", variable_values={"v": json.dumps(doc)})
    assert result.errors is None
    assert seen == [doc]  # the resolver sees the parsed value, not a string
    assert isinstance(result.data["echo"], str) and json.loads(result.data["echo"]) == doc  # type: ignore[index]


def test_json_serializer_encodes_values_and_passes_json_text_through() -> None:
    assert serialize_aws_json({"a": 1}) == '{"a":1}'
    assert serialize_aws_json('{"a": 1}') == '{"a": 1}'  # a Lambda may return json.dumps(...)
    assert serialize_aws_json("plain text") == '"plain text"'


def test_output_values_are_checked_too() -> None:
    query = QueryType()
    query.set_field("bad", lambda *_: "not-a-date")
    schema = make_executable_schema(SCALARS_SDL + "type Query { bad: AWSDate }", query, *AWS_SCALARS)
    result = graphql_sync(schema, "{ bad }")
    assert result.data == {"bad": None} and result.errors and "AWSDate" in result.errors[0].message


# --------------------------------------------------------------------------- properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from graphql import GraphQLError  # noqa: E402

from server.schema import scalars as sc  # noqa: E402

PARSERS = [
    sc.parse_aws_date, sc.parse_aws_time, sc.parse_aws_date_time, sc.parse_aws_timestamp, sc.parse_aws_email,
    sc.parse_aws_json, sc.parse_aws_url, sc.parse_aws_phone, sc.parse_aws_ip_address,
]
ANY_VALUE = st.one_of(
    st.text(max_size=40), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(value=ANY_VALUE, which=st.integers(min_value=0, max_value=len(PARSERS) - 1))
def test_any_value_parses_or_raises_a_graphql_error(value: Any, which: int) -> None:
    """Invariant: every scalar parser either accepts a value or raises GraphQLError (never another exception)."""
    try:
        PARSERS[which](value)
    except GraphQLError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.datetimes(timezones=st.timezones()))
def test_aware_datetimes_in_iso_form_are_valid_aws_date_times(value: Any) -> None:
    """Invariant: Python's ISO form of any aware datetime (year >= 1) is a valid AWSDateTime, and so is its date."""
    text = value.isoformat()
    assert sc.parse_aws_date_time(text) == text
    assert sc.parse_aws_date(value.date().isoformat())


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=sc.INT64_MIN, max_value=sc.INT64_MAX))
def test_every_int64_is_an_aws_timestamp(value: int) -> None:
    """Invariant: AWSTimestamp accepts exactly the signed 64-bit range."""
    assert sc.parse_aws_timestamp(value) == value


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(
        st.integers(0, 9999), st.integers(0, 19), st.integers(0, 39), st.integers(0, 29), st.integers(0, 69),
        st.one_of(st.none(), st.integers(0, 69)), st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=9)),
    )
)
def test_the_utc_shortcut_agrees_with_the_full_date_time_check(parts: tuple[Any, ...]) -> None:
    """Stored timestamps (`...T12:30:00.123Z`) skip most of the check: same verdict either way."""
    y, mo, d, h, mi, s, frac = parts
    text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}" + ("" if s is None else f":{s:02d}" + (f".{frac}" if frac else "")) + "Z"
    m = sc._DATE_TIME_RE.fullmatch(text)
    assert m is not None
    try:
        sc._check_date("AWSDateTime", text, m)
        sc._check_time("AWSDateTime", text, m)
        expected = True
    except GraphQLError:
        expected = False
    try:
        assert sc.parse_aws_date_time(text) == text
        got = True
    except GraphQLError:
        got = False
    assert got == expected, text
