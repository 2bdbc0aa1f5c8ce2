"""The 18 intrinsic functions of JSONPath mode: parse a call once, evaluate it per state entry.

    States.Format('Hello, {}!', $.name)      States.StringToJson / JsonToString / JsonMerge
    States.Array / ArrayPartition / ArrayContains / ArrayRange / ArrayGetItem / ArrayLength /
    ArrayUnique      States.Base64Encode / Base64Decode      States.Hash      States.MathRandom /
    MathAdd      States.StringSplit      States.UUID

Arguments are string literals in single quotes (escape `'` `{` `}` `\\` with a backslash),
numbers, `true` `false` `null`, paths (`$.x`, `$$.x`, `$var.x`) or nested calls (AWS: "You
can nest up to 10 intrinsic functions within a field"). A malformed call is a definition
problem (AslSyntaxError, reported by the validator); a call whose arguments turn out wrong at
run time fails the state with States.IntrinsicFailure.

Randomness (MathRandom, UUID) comes from the caller, so tests and replays are deterministic.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random as _random
import re
import uuid as _uuid
from dataclasses import dataclass
from typing import Any, Callable, Final, Mapping, Union

from .errors import STATES_INTRINSIC_FAILURE, AslError, AslSyntaxError
from .jsonpath import Path, parse_path, resolve

__all__ = [
    "Call",
    "FUNCTION_ARITY",
    "Literal",
    "PathArgument",
    "evaluate_intrinsic",
    "format_value",
    "is_intrinsic",
    "parse_intrinsic",
]

MAX_NESTING: Final = 10
MAX_ARRAY_RANGE: Final = 1000
MAX_STRING_INPUT: Final = 10_000  # Base64Encode/Decode and Hash: "up to 10,000 characters"
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1

# name -> (min args, max args or None for "any number")
FUNCTION_ARITY: Final[Mapping[str, tuple[int, int | None]]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}

_HASHES: Final[Mapping[str, str]] = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}

_IS_INTRINSIC: Final = re.compile(r"\s*States\.[A-Za-z0-9]+\s*\(")
_NAME: Final = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER: Final = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal argument. For strings, `placeholders` are the offsets in `value` of the
    unescaped `{}` pairs, so States.Format can tell `'\\{}'` (text) from `'{}'` (a slot)."""

    value: Any
    placeholders: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class PathArgument:
    path: Path


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Argument, ...]
    text: str


Argument = Union[Literal, PathArgument, Call]


def is_intrinsic(text: object) -> bool:
    """True if `text` looks like an intrinsic call (`States.Name(`); it may still not parse."""
    return isinstance(text, str) and _IS_INTRINSIC.match(text) is not None


# ---------------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str) -> AslSyntaxError:
        return AslSyntaxError(
            f"Invalid intrinsic function call '{self.text}': {what} (at position {self.pos})"
        )

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def parse(self) -> Call:
        self.skip_ws()
        call = self.parse_call(depth=1)
        self.skip_ws()
        if self.pos != len(self.text):
            raise self.error(f"unexpected '{self.text[self.pos:]}' after the call")
        return call

    def parse_call(self, depth: int) -> Call:
        if depth > MAX_NESTING:
            raise self.error(f"intrinsic functions nest at most {MAX_NESTING} deep")
        start = self.pos
        m = _NAME.match(self.text, self.pos)
        if not m:
            raise self.error("expected a function name such as States.Format")
        name = m.group()
        if name not in FUNCTION_ARITY:
            raise self.error(f"unknown intrinsic function '{name}'")
        self.pos = m.end()
        self.skip_ws()
        if self.text[self.pos : self.pos + 1] != "(":
            raise self.error(f"expected '(' after {name}")
        self.pos += 1
        args: list[Argument] = []
        self.skip_ws()
        if self.text[self.pos : self.pos + 1] == ")":
            self.pos += 1
        else:
            while True:
                self.skip_ws()
                args.append(self.parse_argument(depth))
                self.skip_ws()
                c = self.text[self.pos : self.pos + 1]
                if c == ",":
                    self.pos += 1
                    continue
                if c == ")":
                    self.pos += 1
                    break
                raise self.error("expected ',' or ')'")
        call = Call(name, tuple(args), self.text[start : self.pos])
        _check_call(call, self)
        return call

    def parse_argument(self, depth: int) -> Argument:
        c = self.text[self.pos : self.pos + 1]
        if c == "'":
            return self.parse_string()
        if c == "$":
            return PathArgument(self.parse_path_argument())
        if self.text.startswith("States.", self.pos):
            return self.parse_call(depth + 1)
        m = _NUMBER.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            t = m.group()
            return Literal(float(t) if any(ch in t for ch in ".eE") else int(t))
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                end = self.pos + len(word)
                if end == len(self.text) or not (self.text[end].isalnum() or self.text[end] == "_"):
                    self.pos = end
                    return Literal(value)
        if c == "":
            raise self.error("unexpected end of the call")
        raise self.error(
            f"unexpected '{c}': an argument is a 'string', a number, true, false, null, "
            "a path or an intrinsic function"
        )

    def parse_string(self) -> Literal:
        self.pos += 1  # opening quote
        out: list[str] = []
        placeholders: list[int] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated string literal")
            c = self.text[self.pos]
            if c == "\\":
                if self.pos + 1 >= len(self.text):
                    raise self.error("a backslash ends the call")
                nxt = self.text[self.pos + 1]
                # AWS: "escape the characters ' { } \ with a backslash"; anything else stays.
                out.append(nxt if nxt in "'{}\\" else c + nxt)
                self.pos += 2
                continue
            if c == "'":
                self.pos += 1
                return Literal("".join(out), tuple(placeholders))
            if c == "{" and self.text[self.pos + 1 : self.pos + 2] == "}":
                placeholders.append(sum(len(s) for s in out))
                out.append("{}")
                self.pos += 2
                continue
            out.append(c)
            self.pos += 1

    def parse_path_argument(self) -> Path:
        """A path runs to the first ',' or ')' outside brackets, parentheses and quotes."""
        start = self.pos
        depth = 0
        quote: str | None = None
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if quote:
                if c == "\\":
                    self.pos += 1
                elif c == quote:
                    quote = None
            elif c in "'\"" and depth > 0:
                quote = c
            elif c in "[(":
                depth += 1
            elif c in "])":
                if depth == 0:
                    break
                depth -= 1
            elif c == "," and depth == 0:
                break
            elif c in " \t\r\n" and depth == 0:
                break
            self.pos += 1
        text = self.text[start : self.pos]
        try:
            return parse_path(text)
        except AslSyntaxError as exc:
            raise self.error(f"bad path argument: {exc.message}") from None


def _check_call(call: Call, parser: _Parser) -> None:
    """Arity and literal-type checks AWS makes when it validates a definition."""
    low, high = FUNCTION_ARITY[call.name]
    n = len(call.args)
    if n < low or (high is not None and n > high):
        want = (
            f"{low}" if low == high else f"at least {low}" if high is None else f"{low} to {high}"
        )
        raise parser.error(f"{call.name} takes {want} argument(s), got {n}")
    if call.name == "States.Format":
        first = call.args[0]
        if isinstance(first, Literal) and not isinstance(first.value, str):
            raise parser.error("the first argument of States.Format must be a string")
    if call.name == "States.JsonMerge":
        third = call.args[2]
        if isinstance(third, Literal) and third.value is not False:
            raise parser.error(
                "States.JsonMerge only supports shallow merging: its third argument must be false"
            )
    if call.name == "States.Hash":
        algo = call.args[1]
        if isinstance(algo, Literal) and algo.value not in _HASHES:
            raise parser.error(
                f"unknown hash algorithm {algo.value!r}; use one of {', '.join(_HASHES)}"
            )


_CACHE: dict[str, Call] = {}


def parse_intrinsic(text: str) -> Call:
    """Parse an intrinsic function call such as `States.Format('{}', $.a)`.

    Args:
        text: the value of a `.$` field.

    Returns:
        The `Call` tree (cached per text).

    Raises:
        AslSyntaxError: unknown function, wrong number of arguments, bad quoting, bad path,
            nesting deeper than 10.
    """
    cached = _CACHE.get(text)
    if cached is not None:
        return cached
    if not isinstance(text, str):
        raise AslSyntaxError(f"An intrinsic function call must be a string, got {type(text).__name__}")
    call = _Parser(text).parse()
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[text] = call
    return call


# ---------------------------------------------------------------------------------------------
# Evaluation


class _Failure(Exception):
    """Raised inside a function; wrapped into States.IntrinsicFailure with the call's text."""


def _fail(call: Call, detail: str) -> AslError:
    return AslError(
        STATES_INTRINSIC_FAILURE, f"The function '{call.text}' had the following error: {detail}"
    )


def format_value(value: Any) -> str:
    """How States.Format prints a value (recorded): strings bare, objects `{a=1, b=[]}`."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={format_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: `true` is not `1`, objects compare by content."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def _java_round(x: float) -> int:
    """Java's Math.round (half up towards +inf): MathAdd(-1.5, 0) is -1, (2.5, 0) is 3 (recorded)."""
    return math.floor(x + 0.5)


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Failure(f"The {what} must be a number, but was {json.dumps(value)}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Failure(f"The {what} must be a finite number")
        return _java_round(value)
    return value


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Failure(f"The {what} must be a string, but was {json.dumps(value)}")
    return value


def _array(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Failure(f"The {what} must be an array, but was {json.dumps(value)}")
    return value


def _format(call: Call, args: list[Any]) -> str:
    template = args[0]
    first = call.args[0]
    if isinstance(first, Literal):
        slots = list(first.placeholders)
    else:
        template = _string(template, "first argument (the format string)")
        slots = [m.start() for m in re.finditer(r"\{\}", template)]
    values = args[1:]
    if len(slots) != len(values):
        raise _Failure(
            f"The number of arguments ({len(values)}) does not match the number of "
            f"placeholders ({len(slots)}) in the format string"
        )
    out: list[str] = []
    prev = 0
    for offset, value in zip(slots, values):
        out.append(template[prev:offset])
        out.append(format_value(value))
        prev = offset + 2
    out.append(template[prev:])
    return "".join(out)


def _reject_constant(name: str) -> Any:
    """Python's json accepts NaN/Infinity; JSON (and AWS) do not."""
    raise ValueError(f"{name} is not JSON")


def _string_to_json(value: Any) -> Any:
    text = _string(value, "argument")
    if not text.strip():
        return None  # recorded: '' and ' ' give null
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise _Failure(f"The argument is not valid JSON: {text}") from None


def _array_partition(array: Any, size: Any) -> list[list[Any]]:
    items = _array(array, "first argument")
    chunk = _integer(size, "chunk size")
    if chunk <= 0:
        raise _Failure(f"The chunk size must be a positive integer, but was {chunk}")
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _array_range(first: Any, last: Any, step: Any) -> list[int]:
    a = _integer(first, "start")
    b = _integer(last, "end")
    s = _integer(step, "step")
    if s == 0:
        raise _Failure("The step must not be 0")
    count = max(0, (b - a) // s + 1)
    if count > MAX_ARRAY_RANGE:
        raise _Failure(
            f"The resulting array cannot contain more than {MAX_ARRAY_RANGE} items, but would "
            f"contain {count}"
        )
    return [a + i * s for i in range(count)]


def _array_get_item(array: Any, index: Any) -> Any:
    items = _array(array, "first argument")
    if isinstance(index, bool) or not isinstance(index, int):
        if isinstance(index, float) and index.is_integer():
            index = int(index)
        else:
            raise _Failure(f"The index must be an integer, but was {json.dumps(index)}")
    if not 0 <= index < len(items):
        raise _Failure(f"The index {index} is out of bounds for an array of length {len(items)}")
    return items[index]


def _array_unique(array: Any) -> list[Any]:
    out: list[Any] = []
    for item in _array(array, "argument"):
        if not any(_json_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _limited(value: Any, what: str) -> str:
    text = _string(value, what)
    if len(text) > MAX_STRING_INPUT:
        raise _Failure(
            f"The {what} can have at most {MAX_STRING_INPUT} characters, but has {len(text)}"
        )
    return text


def _base64_decode(value: Any) -> str:
    text = _limited(value, "input string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        raise _Failure(f"The input is not valid Base64: {text}") from None


def _hash(value: Any, algorithm: Any) -> str:
    data = _limited(value, "input data")
    algo = _string(algorithm, "algorithm")
    if algo not in _HASHES:
        raise _Failure(
            f"The algorithm {algo} is not supported; use one of {', '.join(_HASHES)}"
        )
    return hashlib.new(_HASHES[algo], data.encode("utf-8")).hexdigest()


def _json_merge(a: Any, b: Any, deep: Any) -> dict[str, Any]:
    if deep is not False:
        raise _Failure("Only shallow merging is supported: the third argument must be false")
    if not isinstance(a, dict) or not isinstance(b, dict):
        raise _Failure("Both arguments must be JSON objects")
    merged = dict(a)
    merged.update(b)
    return merged


def _math_add(a: Any, b: Any) -> int:
    x = _integer(a, "first argument")
    y = _integer(b, "second argument")
    for v in (x, y):
        if not _INT32_MIN <= v <= _INT32_MAX:
            raise _Failure(f"The value {v} is outside the integer range [{_INT32_MIN}, {_INT32_MAX}]")
    return x + y


def _math_random(args: list[Any], source: Callable[[], float]) -> int:
    start = _integer(args[0], "start")
    end = _integer(args[1], "end")
    if start >= end:
        raise _Failure(f"The start ({start}) must be less than the end ({end})")
    if len(args) == 3:
        seed = _integer(args[2], "seed")
        # A seed gives the same number every time, as on AWS (the value itself differs).
        return _random.Random(seed).randrange(start, end)
    return start + min(int(source() * (end - start)), end - start - 1)


def _string_split(value: Any, delimiters: Any) -> list[str]:
    text = _string(value, "first argument")
    chars = _string(delimiters, "delimiter")
    if not chars:
        return [text] if text else []
    parts = re.split("|".join(re.escape(c) for c in chars), text)
    return [p for p in parts if p]  # recorded: ",,,," splits into []


def _apply(call: Call, args: list[Any], rand: Callable[[], float], new_uuid: Callable[[], str]) -> Any:
    name = call.name
    if name == "States.Format":
        return _format(call, args)
    if name == "States.StringToJson":
        return _string_to_json(args[0])
    if name == "States.JsonToString":
        return json.dumps(args[0], separators=(",", ":"), ensure_ascii=False)
    if name == "States.Array":
        return list(args)
    if name == "States.ArrayPartition":
        return _array_partition(args[0], args[1])
    if name == "States.ArrayContains":
        return any(_json_equal(x, args[1]) for x in _array(args[0], "first argument"))
    if name == "States.ArrayRange":
        return _array_range(args[0], args[1], args[2])
    if name == "States.ArrayGetItem":
        return _array_get_item(args[0], args[1])
    if name == "States.ArrayLength":
        return len(_array(args[0], "argument"))
    if name == "States.ArrayUnique":
        return _array_unique(args[0])
    if name == "States.Base64Encode":
        return base64.b64encode(_limited(args[0], "input string").encode("utf-8")).decode("ascii")
    if name == "States.Base64Decode":
        return _base64_decode(args[0])
    if name == "States.Hash":
        return _hash(args[0], args[1])
    if name == "States.JsonMerge":
        return _json_merge(args[0], args[1], args[2])
    if name == "States.MathRandom":
        return _math_random(args, rand)
    if name == "States.MathAdd":
        return _math_add(args[0], args[1])
    if name == "States.StringSplit":
        return _string_split(args[0], args[1])
    if name == "States.UUID":
        return new_uuid()
    raise AssertionError(f"unhandled intrinsic {name}")  # pragma: no cover - parser rejects


def _default_uuid() -> str:
    return str(_uuid.uuid4())


def _evaluate(
    call: Call,
    input: Any,
    context: Any,
    variables: Mapping[str, Any] | None,
    rand: Callable[[], float],
    new_uuid: Callable[[], str],
) -> Any:
    args: list[Any] = []
    for arg in call.args:
        if isinstance(arg, Literal):
            args.append(arg.value)
        elif isinstance(arg, PathArgument):
            args.append(resolve(arg.path, input=input, context=context, variables=variables))
        else:
            args.append(_evaluate(arg, input, context, variables, rand, new_uuid))
    try:
        return _apply(call, args, rand, new_uuid)
    except _Failure as exc:
        raise _fail(call, str(exc)) from None


def evaluate_intrinsic(
    call_or_text: Call | str,
    *,
    input: Any,
    context: Any = None,
    variables: Mapping[str, Any] | None = None,
    random: Callable[[], float] | None = None,
    uuid: Callable[[], str] | None = None,
) -> Any:
    """Evaluate an intrinsic call against the state's input, context object and variables.

    Args:
        call_or_text: a parsed `Call` or the call's text.
        input: the effective input (`$`); context: the context object (`$$`);
        variables: the variables in scope (`$name`).
        random: returns a float in [0, 1) (States.MathRandom without a seed); default stdlib.
        uuid: returns a version-4 UUID string (States.UUID); default stdlib.

    Returns:
        The function's JSON result.

    Raises:
        AslSyntaxError: the text does not parse.
        AslError: States.IntrinsicFailure when an argument has the wrong type or breaks a
            limit; States.Runtime (jsonpath.PathNotFoundError) when a path argument selects
            nothing.
    """
    call = parse_intrinsic(call_or_text) if isinstance(call_or_text, str) else call_or_text
    return _evaluate(
        call,
        input,
        context,
        variables,
        random if random is not None else _random.random,
        uuid if uuid is not None else _default_uuid,
    )
