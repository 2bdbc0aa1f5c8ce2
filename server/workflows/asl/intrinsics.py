"""The 18 intrinsic functions of JSONPath mode: parse a call once, evaluate it per state entry.

    States.Format('Hello, {}!', $.name)      States.StringToJson / JsonToString / JsonMerge
    States.Array / ArrayPartition / ArrayContains / ArrayRange / ArrayGetItem / ArrayLength /
    ArrayUnique      States.Base64Encode / Base64Decode      States.Hash      States.MathRandom /
    MathAdd      States.StringSplit      States.UUID

Arguments are string literals in single quotes (escape `'` `{` `}` `\\` with a backslash),
numbers, `true` `false` `null`, paths (`$.x`, `$$.x`, `$var.x`) or nested calls (AWS: "You
can nest up to 10 intrinsic functions within a field"). A malformed call (bad quoting, unknown
function, bad path) is a definition problem: AslSyntaxError, reported by the validator.

Wrong arguments are a *run-time* failure, as on AWS: wrong arity, wrong types or a broken limit
fail the state with States.Runtime and the cause "Invalid arguments in States.MathAdd" (AWS
does not raise States.IntrinsicFailure for these; seen in published AWS executions and
third-party characterisations run against AWS). `intrinsic_problems` lists the arity and literal
problems a validator can warn about ahead of time; `IntrinsicArgumentError.detail` says which
argument was wrong, for local debugging.

AWS's numeric quirks are kept: MathAdd rounds half up (Java Math.round: -1.5 -> -1, recorded),
while ArrayRange, ArrayPartition, ArrayGetItem and MathRandom truncate fractions (2.6 -> 2);
ArrayContains compares values by their Java string form, so `true` matches "true" and key
order matters; Base64Decode ignores characters outside the alphabet (Java's MIME decoder);
Hash stringifies non-string data.

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

from .errors import STATES_RUNTIME, AslError, AslSyntaxError
from .jsonpath import Path, parse_path, resolve

__all__ = [
    "Call",
    "FUNCTION_ARITY",
    "IntrinsicArgumentError",
    "Literal",
    "PathArgument",
    "evaluate_intrinsic",
    "format_value",
    "intrinsic_problems",
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
    lone_braces: bool = False  # an unescaped `{` or `}` outside a `{}` pair (bad Format template)


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
        return Call(name, tuple(args), self.text[start : self.pos])

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
        lone = False
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
                return Literal("".join(out), tuple(placeholders), lone)
            if c == "{" and self.text[self.pos + 1 : self.pos + 2] == "}":
                placeholders.append(sum(len(s) for s in out))
                out.append("{}")
                self.pos += 2
                continue
            if c in "{}":
                lone = True
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


def intrinsic_problems(call: Call) -> list[str]:
    """Arity and literal-argument problems in a parsed call and its nested calls.

    AWS accepts such definitions and fails at run time ("Invalid arguments in States.X"), so
    the parser does not reject them; a validator can report these as warnings.
    """
    problems: list[str] = []
    low, high = FUNCTION_ARITY[call.name]
    n = len(call.args)
    if n < low or (high is not None and n > high):
        want = (
            f"{low}" if low == high else f"at least {low}" if high is None else f"{low} to {high}"
        )
        problems.append(f"{call.name} takes {want} argument(s), got {n}")
    elif call.name == "States.Format":
        first = call.args[0]
        if isinstance(first, Literal):
            if not isinstance(first.value, str):
                problems.append("the first argument of States.Format must be a string")
            elif first.lone_braces:
                problems.append("the States.Format template has a '{' or '}' outside a '{}' pair")
            elif len(first.placeholders) != n - 1:
                problems.append(
                    f"the States.Format template has {len(first.placeholders)} placeholder(s) "
                    f"but {n - 1} value(s)"
                )
    elif call.name == "States.JsonMerge":
        third = call.args[2]
        if isinstance(third, Literal) and third.value is True:
            problems.append("States.JsonMerge only supports shallow merging (third argument false)")
    elif call.name == "States.Hash":
        algo = call.args[1]
        if isinstance(algo, Literal) and algo.value not in _HASHES:
            problems.append(
                f"unknown hash algorithm {json.dumps(algo.value)}; use one of {', '.join(_HASHES)}"
            )
    for arg in call.args:
        if isinstance(arg, Call):
            problems.extend(intrinsic_problems(arg))
    return problems


_CACHE: dict[str, Call] = {}


def parse_intrinsic(text: str) -> Call:
    """Parse an intrinsic function call such as `States.Format('{}', $.a)`.

    Args:
        text: the value of a `.$` field.

    Returns:
        The `Call` tree (cached per text).

    Raises:
        AslSyntaxError: unknown function, bad quoting, bad number or path, nesting deeper
            than 10. (Wrong arity is a run-time failure, as on AWS: see intrinsic_problems.)
    """
    if not isinstance(text, str):
        raise AslSyntaxError(f"An intrinsic function call must be a string, got {type(text).__name__}")
    cached = _CACHE.get(text)
    if cached is not None:
        return cached
    call = _Parser(text).parse()
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[text] = call
    return call


# ---------------------------------------------------------------------------------------------
# Evaluation


class _Failure(Exception):
    """Raised inside a function; becomes IntrinsicArgumentError naming the function."""


class IntrinsicArgumentError(AslError):
    """States.Runtime "Invalid arguments in States.X", as AWS words it; `detail` says what
    exactly was wrong (not part of the cause, which stays AWS's)."""

    def __init__(self, function: str, detail: str) -> None:
        super().__init__(STATES_RUNTIME, f"Invalid arguments in {function}")
        self.function = function
        self.detail = detail


def format_value(value: Any) -> str:
    """The Java string form AWS uses: strings bare, `null`, objects `{a=1, b=[]}` (recorded in
    States.Format), also what States.ArrayContains compares and States.Hash hashes."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={format_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _json_equal(a: Any, b: Any) -> bool:
    """JSON value equality as AWS's ArrayUnique applies it: `true` is not `1`, `1` is `1.0`,
    objects by content whatever the key order (third-party AWS characterisation)."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Failure(f"The {what} must be a number, but was {json.dumps(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Failure(f"The {what} must be a finite number")
    return value


def _rounded(value: Any, what: str) -> int:
    """Java's Math.round (half up towards +inf): MathAdd(-1.5, 0) is -1, (2.5, 0) is 3 (recorded)."""
    number = _number(value, what)
    return number if isinstance(number, int) else math.floor(number + 0.5)


def _truncated(value: Any, what: str) -> int:
    """A Java (int) cast: 2.6 -> 2, -0.6 -> 0 (ArrayRange, ArrayPartition, MathRandom on AWS)."""
    return int(_number(value, what))


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
    if isinstance(first, Literal) and isinstance(first.value, str):
        slots = list(first.placeholders)
        lone = first.lone_braces
    else:
        template = _string(template, "format string")
        slots = [m.start() for m in re.finditer(r"\{\}", template)]
        lone = "{" in template.replace("{}", "") or "}" in template.replace("{}", "")
    if lone:
        raise _Failure("The format string has a '{' or '}' outside a '{}' placeholder")
    values = args[1:]
    if len(slots) != len(values):
        raise _Failure(
            f"The format string has {len(slots)} placeholder(s) but {len(values)} value(s)"
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
    chunk = _truncated(size, "chunk size")
    if chunk <= 0:
        raise _Failure(f"The chunk size must be a positive integer, but was {chunk}")
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _array_range(first: Any, last: Any, step: Any) -> list[int]:
    a = _truncated(first, "start")
    b = _truncated(last, "end")
    s = _truncated(step, "step")
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
    position = _truncated(index, "index")  # AWS: index 1.2 reads item 1
    if not items:
        return None  # AWS returns null for any index into an empty array
    if not 0 <= position < len(items):
        raise _Failure(
            f"The index {position} is out of bounds for an array of length {len(items)}"
        )
    return items[position]


def _array_contains(array: Any, value: Any) -> bool:
    # AWS compares Java string forms: ["true"] contains true, {"a":1,"b":2} is not {"b":2,"a":1}.
    wanted = format_value(value)
    return any(format_value(item) == wanted for item in _array(array, "first argument"))


def _array_unique(array: Any) -> list[Any]:
    out: list[Any] = []
    for item in _array(array, "argument"):
        if not any(_json_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _limited(text: str, what: str) -> str:
    if len(text) > MAX_STRING_INPUT:
        raise _Failure(
            f"The {what} can have at most {MAX_STRING_INPUT} characters, but has {len(text)}"
        )
    return text


_B64_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _base64_decode(value: Any) -> str:
    """Java's MIME decoder, which AWS uses: characters outside the alphabet are skipped,
    decoding stops at the first '=', missing padding is fine; one stray 6-bit unit is not."""
    text = _limited(_string(value, "argument"), "input string")
    data = "".join(c for c in text.split("=", 1)[0] if c in _B64_ALPHABET)
    if len(data) % 4 == 1:
        raise _Failure(f"The input is not valid Base64: {text}")
    raw = base64.b64decode(data + "=" * (-len(data) % 4))
    return raw.decode("utf-8", errors="replace")


def _hash(value: Any, algorithm: Any) -> str:
    data = _limited(format_value(value), "input data")  # AWS hashes 123 as "123"
    algo = _string(algorithm, "algorithm")
    if algo not in _HASHES:
        raise _Failure(f"The algorithm {algo} is not supported; use one of {', '.join(_HASHES)}")
    return hashlib.new(_HASHES[algo], data.encode("utf-8")).hexdigest()


def _json_merge(a: Any, b: Any, deep: Any) -> dict[str, Any]:
    if deep is True:
        raise _Failure("Only shallow merging is supported: the third argument must be false")
    if not isinstance(a, dict) or not isinstance(b, dict):
        raise _Failure("Both arguments must be JSON objects")
    merged = dict(a)
    merged.update(b)
    return merged


def _int32(value: int, what: str) -> int:
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise _Failure(f"The {what} {value} is outside the integer range [{_INT32_MIN}, {_INT32_MAX}]")
    return value


def _math_add(a: Any, b: Any) -> int:
    x = _int32(_rounded(a, "first argument"), "first argument")
    y = _int32(_rounded(b, "second argument"), "second argument")
    return _int32(x + y, "sum")


def _math_random(args: list[Any], source: Callable[[], float]) -> int:
    start = _truncated(args[0], "start")
    end = _truncated(args[1], "end")
    if start >= end:
        raise _Failure(f"The start ({start}) must be less than the end ({end})")
    if len(args) == 3:
        seed = _truncated(args[2], "seed")
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
    low, high = FUNCTION_ARITY[name]
    if len(args) < low or (high is not None and len(args) > high):
        raise _Failure(f"{name} takes {low if low == high else f'{low} or more'} argument(s)")
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
        return _array_contains(args[0], args[1])
    if name == "States.ArrayRange":
        return _array_range(args[0], args[1], args[2])
    if name == "States.ArrayGetItem":
        return _array_get_item(args[0], args[1])
    if name == "States.ArrayLength":
        return len(_array(args[0], "argument"))
    if name == "States.ArrayUnique":
        return _array_unique(args[0])
    if name == "States.Base64Encode":
        text = _limited(_string(args[0], "argument"), "input string")
        return base64.b64encode(text.encode("utf-8")).decode("ascii")
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
        raise IntrinsicArgumentError(call.name, str(exc)) from None


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
        IntrinsicArgumentError: (an AslError) States.Runtime "Invalid arguments in States.X"
            when the arity is wrong, an argument has the wrong type or breaks a limit.
        PathNotFoundError: (an AslError) States.Runtime when a path argument selects nothing.
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
