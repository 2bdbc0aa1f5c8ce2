"""The nine AppSync scalars, validated on input (variables and literals) and on output.

AppSync rejects a malformed `AWSDateTime` before any resolver runs; so do we, with a message
that names the scalar and shows the expected form. Formats follow the AppSync developer guide
("Scalar types in GraphQL"):

- AWSDate `YYYY-MM-DD`, AWSTime `hh:mm[:ss[.sss]]`, both with an optional offset
  (`Z`, `±hh:mm` or `±hh:mm:ss`); AWSDateTime is both joined by `T` and its offset is
  *compulsory*. The fraction may carry 1-9 digits; years may be negative (`-YYYY`).
- AWSTimestamp is an integer count of seconds in AppSync. Syncline also carries epoch
  *milliseconds* in it (`lastSync`, `startedAt`, `_lastChangedAt`), so it holds any signed
  64-bit integer, unlike GraphQL's 32-bit `Int`.
- AWSJSON is a JSON *string* on the wire; resolvers see the parsed value.
- AWSEmail, AWSURL (a scheme is required, no `//` in the path), AWSPhone (digits,
  optionally `+country`, grouped by spaces or hyphens), AWSIPAddress (IPv4 or IPv6, with an
  optional `/prefix`).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import json
import re
from typing import Any, Callable
from urllib.parse import urlsplit

from ariadne import ScalarType
from graphql import GraphQLError
from graphql.language import IntValueNode, StringValueNode, ValueNode, print_ast

__all__ = [
    "AWS_SCALARS",
    "AWS_SCALAR_NAMES",
    "INT64_MAX",
    "INT64_MIN",
    "SCALARS_SDL",
    "parse_aws_date",
    "parse_aws_date_time",
    "parse_aws_email",
    "parse_aws_ip_address",
    "parse_aws_json",
    "parse_aws_phone",
    "parse_aws_time",
    "parse_aws_timestamp",
    "parse_aws_url",
    "serialize_aws_json",
    "serialize_aws_json_value",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_OFFSET = r"(?:Z|[+-](?P<oh>\d{2}):(?P<om>\d{2})(?::(?P<os>\d{2}))?)"
_DATE = r"(?P<y>-?\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
_TIME = r"(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<ns>\d{1,9}))?)?"
_DATE_RE = re.compile(rf"{_DATE}(?P<off>{_OFFSET})?")
_TIME_RE = re.compile(rf"{_TIME}(?P<off>{_OFFSET})?")
_DATE_TIME_RE = re.compile(rf"{_DATE}T{_TIME}(?P<off>{_OFFSET})")
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}"
)
_PHONE_RE = re.compile(r"\+?\(?\d[\d\s()-]*\d")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


class _Invalid(GraphQLError):
    """A scalar value in the wrong format; graphql-core prefixes it with the variable/argument."""


def _need_str(scalar: str, value: Any, example: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{scalar} must be a string like {example!r}, got {_show(value)}.")
    return value


def _show(value: Any) -> str:
    text = json.dumps(value, default=repr) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_offset(scalar: str, value: str, m: re.Match[str]) -> None:
    if m.group("oh") is not None and (int(m.group("oh")) > 23 or int(m.group("om")) > 59):
        raise _Invalid(f"{scalar} {value!r} has an out-of-range time zone offset.")
    if m.group("os") is not None and int(m.group("os")) > 59:
        raise _Invalid(f"{scalar} {value!r} has an out-of-range time zone offset.")


def _check_date(scalar: str, value: str, m: re.Match[str]) -> None:
    year, month, day = int(m.group("y")), int(m.group("mo")), int(m.group("d"))
    # Python's date stops at year 1; negative years only get a month/day range check.
    probe_year = year if year >= 1 else 2000
    try:
        dt.date(probe_year, month, day)
    except ValueError:
        raise _Invalid(f"{scalar} {value!r} is not a calendar date.") from None


def _check_time(scalar: str, value: str, m: re.Match[str]) -> None:
    if int(m.group("h")) > 23 or int(m.group("mi")) > 59 or int(m.group("s") or 0) > 59:
        raise _Invalid(f"{scalar} {value!r} is not a valid time of day.")


def parse_aws_date(value: Any) -> str:
    """`YYYY-MM-DD` with an optional offset, e.g. `1970-01-01Z`, `1970-01-01+05:30`."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    text = _need_str("AWSDate", value, "2024-05-31")
    m = _DATE_RE.fullmatch(text)
    if m is None:
        raise _Invalid(f"AWSDate must look like YYYY-MM-DD (optionally with Z or ±hh:mm), got {text!r}.")
    _check_date("AWSDate", text, m)
    _check_offset("AWSDate", text, m)
    return text


def parse_aws_time(value: Any) -> str:
    """`hh:mm[:ss[.sss]]` with an optional offset, e.g. `12:30Z`, `12:30:24.500+05:30`."""
    if isinstance(value, dt.time):
        return value.isoformat()
    text = _need_str("AWSTime", value, "12:30:00.000Z")
    m = _TIME_RE.fullmatch(text)
    if m is None:
        raise _Invalid(f"AWSTime must look like hh:mm[:ss[.sss]] (optionally with Z or ±hh:mm), got {text!r}.")
    _check_time("AWSTime", text, m)
    _check_offset("AWSTime", text, m)
    return text


#: The UTC form every stored timestamp has (`2026-11-25T08:46:26.123Z`), ASCII digits, time
#: fields in range: only the calendar date is left to check, and dates repeat (sync pages
#: serve thousands of timestamps; the general check costs ~10 µs each).
_UTC_DATE_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?Z")


@functools.lru_cache(maxsize=1024)
def _is_calendar_date(text: str) -> bool:
    """`YYYY-MM-DD` (ASCII digits) passes `_check_date`."""
    year = int(text[:4])
    try:
        dt.date(year if year >= 1 else 2000, int(text[5:7]), int(text[8:10]))
    except ValueError:
        return False
    return True


def parse_aws_date_time(value: Any) -> str:
    """`YYYY-MM-DDThh:mm[:ss[.sss]]` followed by a compulsory `Z` or `±hh:mm[:ss]`."""
    if type(value) is str and _UTC_DATE_TIME_RE.fullmatch(value) and _is_calendar_date(value[:10]):
        return value
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        return aware.isoformat().replace("+00:00", "Z")
    text = _need_str("AWSDateTime", value, "2024-05-31T12:30:00.000Z")
    m = _DATE_TIME_RE.fullmatch(text)
    if m is None:
        hint = " (the time zone offset Z or ±hh:mm is required)" if _DATE_TIME_RE.fullmatch(text + "Z") else ""
        raise _Invalid(f"AWSDateTime must look like YYYY-MM-DDThh:mm:ss.sssZ{hint}, got {text!r}.")
    _check_date("AWSDateTime", text, m)
    _check_time("AWSDateTime", text, m)
    _check_offset("AWSDateTime", text, m)
    return text


def parse_aws_timestamp(value: Any) -> int:
    """An integer in the signed 64-bit range (epoch seconds, or milliseconds for sync cursors)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"AWSTimestamp must be an integer (epoch seconds or milliseconds), got {_show(value)}.")
    if isinstance(value, float):
        if not value.is_integer():
            raise _Invalid(f"AWSTimestamp must be an integer, got {value!r}.")
        value = int(value)
    assert isinstance(value, int)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _Invalid(f"AWSTimestamp {value} does not fit in a signed 64-bit integer.")
    return value


def parse_aws_email(value: Any) -> str:
    text = _need_str("AWSEmail", value, "someone@example.com")
    if len(text) > 254 or _EMAIL_RE.fullmatch(text) is None:
        raise _Invalid(f"AWSEmail must be an address like someone@example.com, got {text!r}.")
    return text


def parse_aws_json(value: Any) -> Any:
    """A JSON string on the wire → the parsed value resolvers and the store see."""
    text = _need_str("AWSJSON", value, '{"key": "value"}')
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _Invalid(f"AWSJSON must be a string holding valid JSON ({exc.args[0]}), got {_show(text)}.") from None


def serialize_aws_json(value: Any) -> str:
    """Encode a value as a JSON string.

    A `str` that is already valid JSON is passed through: a Lambda-style resolver may return
    `json.dumps(...)` for an AWSJSON field, as AppSync allows.
    """
    if isinstance(value, str):
        try:
            json.loads(value)
            return value
        except ValueError:
            pass
    return serialize_aws_json_value(value)


def serialize_aws_json_value(value: Any) -> str:
    """Encode a parsed value as JSON text, always (a `str` becomes a JSON string)."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"AWSJSON value cannot be encoded as JSON: {exc}.") from None


def parse_aws_url(value: Any) -> str:
    text = _need_str("AWSURL", value, "https://example.com/path")
    scheme, sep, rest = text.partition(":")
    if not sep or _SCHEME_RE.fullmatch(scheme) is None or not rest or any(c.isspace() for c in text):
        raise _Invalid(f"AWSURL must be a URL with a scheme, like https://example.com/path, got {text!r}.")
    try:
        parts = urlsplit(text)
    except ValueError:
        raise _Invalid(f"AWSURL {text!r} is not a valid URL.") from None
    if "//" in parts.path:
        raise _Invalid(f"AWSURL {text!r} must not contain '//' in its path.")
    if rest.startswith("//") and not parts.netloc:
        raise _Invalid(f"AWSURL {text!r} has an empty host.")
    return text


def parse_aws_phone(value: Any) -> str:
    text = _need_str("AWSPhone", value, "+1 206-555-0100")
    digits = sum(c.isdigit() for c in text)
    if _PHONE_RE.fullmatch(text) is None or not 3 <= digits <= 15:
        raise _Invalid(
            f"AWSPhone must be a phone number like +1 206-555-0100 (digits, optional +country code, "
            f"spaces or hyphens), got {text!r}."
        )
    return text


def parse_aws_ip_address(value: Any) -> str:
    text = _need_str("AWSIPAddress", value, "192.0.2.1")
    try:
        if "/" in text:
            ipaddress.ip_network(text, strict=False)
        else:
            ipaddress.ip_address(text)
    except ValueError:
        raise _Invalid(f"AWSIPAddress must be an IPv4 or IPv6 address (optionally /prefix), got {text!r}.") from None
    return text


def _literal(name: str, parse: Callable[[Any], Any]) -> Callable[[ValueNode, dict[str, Any] | None], Any]:
    """Literal parser: AWSTimestamp takes an int literal, the others a string literal."""

    def parse_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Any:
        if name == "AWSTimestamp":
            if isinstance(node, IntValueNode):
                return parse(int(node.value))
        elif isinstance(node, StringValueNode):
            return parse(node.value)
        raise _Invalid(f"{name} cannot represent the literal {print_ast(node)}.")

    return parse_literal


def _scalar(name: str, parse: Callable[[Any], Any], serialize: Callable[[Any], Any]) -> ScalarType:
    return ScalarType(name, serializer=serialize, value_parser=parse, literal_parser=_literal(name, parse))


AWS_SCALARS: tuple[ScalarType, ...] = (
    _scalar("AWSDate", parse_aws_date, parse_aws_date),
    _scalar("AWSTime", parse_aws_time, parse_aws_time),
    _scalar("AWSDateTime", parse_aws_date_time, parse_aws_date_time),
    _scalar("AWSTimestamp", parse_aws_timestamp, parse_aws_timestamp),
    _scalar("AWSEmail", parse_aws_email, parse_aws_email),
    _scalar("AWSJSON", parse_aws_json, serialize_aws_json),
    _scalar("AWSURL", parse_aws_url, parse_aws_url),
    _scalar("AWSPhone", parse_aws_phone, parse_aws_phone),
    _scalar("AWSIPAddress", parse_aws_ip_address, parse_aws_ip_address),
)

AWS_SCALAR_NAMES: tuple[str, ...] = tuple(s.name for s in AWS_SCALARS)

SCALARS_SDL = "\n".join(f"scalar {name}" for name in AWS_SCALAR_NAMES) + "\n"
