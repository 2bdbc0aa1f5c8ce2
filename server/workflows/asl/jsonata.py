"""JSONata mode: evaluate `{% ... %}` strings with `$states` and variables bound.

AWS ("Transforming data with JSONata in Step Functions"): a string field whose value begins
with `{%` and ends with `%}` is a JSONata expression; `$states.input`, `$states.result`,
`$states.errorOutput` and `$states.context` are reserved, workflow variables are `$name`, and
Step Functions adds `$partition`, `$range`, `$hash`, `$random`, `$uuid` and `$parse`.
A string with anything outside the braces (even a space) is a plain literal (recorded).

The evaluator is jsonata-python. Results are converted to plain JSON (lists, dicts, None);
an *undefined* result is an error (recorded: "... returned nothing (undefined)."), a function
result is "an unsupported result type", and evaluation errors become
States.QueryEvaluationError ("... threw an error during evaluation. T2001: ..."). As on AWS,
`$eval` is unavailable (use `$parse`), `$range` truncates fractions and has no 1000-item cap,
`$random(seed)` is repeatable. `$now()`/`$millis()` return the caller's time (sans-IO): the
state's EnteredTime unless `now_millis` is given. Plain `$states.input.a.b` / `$var.x` paths
through objects skip the evaluator (same result, ~20x faster).
"""

from __future__ import annotations

import hashlib
import json
import math
import random as _random
import re
import uuid as _uuid
from datetime import datetime, timezone
from typing import Any, Callable, Final, Mapping

import jsonata as _jsonata
from jsonata import jexception as _jexception
from jsonata import utils as _jutils

from .errors import STATES_QUERY_EVALUATION_ERROR, AslError, AslSyntaxError
from .model import json_type

__all__ = [
    "evaluate_jsonata",
    "evaluate_jsonata_template",
    "expression_text",
    "is_jsonata_expression",
    "jsonata_type_name",
    "parse_jsonata",
    "require_type",
]

_HASHES: Final[Mapping[str, str]] = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
_SIMPLE_PATH: Final = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
MAX_RANGE: Final = 10_000_000  # jsonata's own cap on range sequences
MAX_HASH_INPUT: Final = 10_000
_SAFE_INT: Final = 2**53


def is_jsonata_expression(value: object) -> bool:
    """True for a string that is exactly `{% ... %}` (no surrounding whitespace)."""
    return (
        isinstance(value, str)
        and len(value) >= 4
        and value.startswith("{%")
        and value.endswith("%}")
    )


def expression_text(value: str) -> str:
    """The expression inside `{% %}`, trimmed, as AWS quotes it in causes."""
    if is_jsonata_expression(value):
        return value[2:-2].strip()
    return value.strip()


_CACHE: dict[str, Any] = {}


def parse_jsonata(value: str) -> Any:
    """Compile a JSONata expression (`{% ... %}` or bare); compiled forms are cached.

    Raises:
        AslSyntaxError: the expression does not parse; the message carries JSONata's code
            (e.g. S0207) and position.
    """
    if not isinstance(value, str):
        raise AslSyntaxError(f"A JSONata expression must be a string, got {type(value).__name__}")
    text = expression_text(value)
    cached = _CACHE.get(text)
    if cached is not None:
        return cached
    if not text:
        raise AslSyntaxError("Invalid JSONata expression '': the expression is empty")
    try:
        compiled = _jsonata.Jsonata(text)
    except _jexception.JException as exc:
        raise AslSyntaxError(
            f"Invalid JSONata expression '{text}': {exc.error}: {exc} (at position {exc.location})"
        ) from None
    except Exception as exc:  # jsonata-python raises plain errors on some malformed input
        raise AslSyntaxError(f"Invalid JSONata expression '{text}': {exc}") from None
    if compiled.errors:
        raise AslSyntaxError(f"Invalid JSONata expression '{text}': {compiled.errors[0]}")
    compiled.set_output_convert_nulls(False)
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[text] = compiled
    return compiled


# ---------------------------------------------------------------------------------------------
# Result conversion


class _Unsupported(Exception):
    """The result holds a function or another non-JSON value."""


def _to_json(value: Any) -> Any:
    """jsonata-python's result → plain JSON; integral floats become ints, as AWS prints them."""
    if value is _jutils.Utils.NULL_VALUE or value is None:
        return None
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Unsupported()
        if value.is_integer() and abs(value) < _SAFE_INT:
            return int(value)
        return value
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    raise _Unsupported()


def jsonata_type_name(value: Any) -> str:
    """The JSON type AWS names in causes: 'array', 'object', 'string', 'number', 'boolean', 'null'."""
    return json_type(value)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def require_type(value: Any, expected: str, *, expression: str, field: str) -> Any:
    """Fail as AWS does when a JSONata field (Items, ...) has the wrong JSON type.

    Recorded: "The JSONata expression 'true' specified for the field 'Items' returned an
    unexpected result type. Expected 'array', but was 'boolean' for value: true".
    """
    actual = jsonata_type_name(value)
    if actual != expected:
        raise AslError(
            STATES_QUERY_EVALUATION_ERROR,
            f"The JSONata expression '{expression_text(expression)}' specified for the field "
            f"'{field}' returned an unexpected result type. Expected '{expected}', but was "
            f"'{actual}' for value: {_compact(value)}",
        )
    return value


# ---------------------------------------------------------------------------------------------
# Step Functions' extra functions


class _FunctionError(Exception):
    pass


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _FunctionError(f"{what} must be a number")
    return value


def _as_int(value: Any, what: str) -> int:
    number = _number(value, what)
    if isinstance(number, float):
        if not number.is_integer():
            raise _FunctionError(f"{what} must be an integer")
        return int(number)
    return number


def _partition(array: Any, size: Any) -> Any:
    if not isinstance(array, list):
        array = [] if array is None else [array]
    chunk = _as_int(size, "$partition: the chunk size")
    if chunk <= 0:
        raise _FunctionError("$partition: the chunk size must be a positive integer")
    items = list(array)
    return _jutils.Utils.JList([_jutils.Utils.JList(items[i : i + chunk]) for i in range(0, len(items), chunk)])


def _range(*args: Any) -> Any:
    """$range(start, end, step): inclusive ends, fractions truncated, a wrong-direction or
    zero step gives nothing (undefined), a single item is a scalar ($range(1, 9, 9) is 1,
    recorded); unlike States.ArrayRange there is no 1000-item cap."""
    if len(args) > 3:
        raise _FunctionError(_signature_error("range", 4))
    for position, value in enumerate(args, start=1):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise _FunctionError(_signature_error("range", position))
    if len(args) < 3 or any(value is None for value in args):
        return None
    a, b, s = (int(value) for value in args)
    if s == 0 or (s > 0 and a > b) or (s < 0 and a < b):
        return None
    count = (b - a) // s + 1
    if count > MAX_RANGE:
        raise _FunctionError(f"D2014: The size of the sequence allocated by $range must not exceed {MAX_RANGE}")
    return _jutils.Utils.create_sequence_from_iter(a + i * s for i in range(count))


def _signature_error(function: str, position: int) -> str:
    # jsonata's wording for a bad argument, as AWS reports it
    return f'T0410: Argument {position} of function "{function}" does not match function signature'


def _hash(value: Any, algorithm: Any = "SHA-256") -> str:
    if not isinstance(value, str):
        value = json.dumps(_to_json(value), separators=(",", ":"), ensure_ascii=False)
    if len(value) > MAX_HASH_INPUT:
        raise _FunctionError(f"$hash: the input can have at most {MAX_HASH_INPUT} characters")
    if algorithm not in _HASHES:
        raise _FunctionError(
            f"$hash: the algorithm must be one of {', '.join(_HASHES)}, got {algorithm}"
        )
    return hashlib.new(_HASHES[algorithm], value.encode("utf-8")).hexdigest()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(value: Any) -> Any:
    if not isinstance(value, str):
        raise _FunctionError("$parse: the input must be a string")
    try:
        parsed = json.loads(value, parse_constant=_reject_constant)
    except ValueError:
        raise _FunctionError(f"$parse: the input is not valid JSON: {value}") from None
    return _jutils.Utils.NULL_VALUE if parsed is None else parsed


def _no_eval(*_: Any) -> Any:
    # AWS: "All built-in JSONata functions [...] are supported, with one exception: $eval is
    # not available—use $parse instead."
    raise _FunctionError("$eval is not available in Step Functions; use $parse instead")


def _millis_from_context(context: Any) -> int | None:
    try:
        entered = context["State"]["EnteredTime"]
    except (KeyError, TypeError):
        return None
    if not isinstance(entered, str):
        return None
    try:
        moment = datetime.fromisoformat(entered.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _iso_millis(millis: int) -> str:
    moment = datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def _bindings(
    states: Mapping[str, Any],
    variables: Mapping[str, Any] | None,
    rand: Callable[[], float],
    new_uuid: Callable[[], str],
    now_millis: int | None,
) -> dict[str, Any]:
    bound: dict[str, Any] = {}
    null = _jutils.Utils.NULL_VALUE
    for name, value in (variables or {}).items():
        # a variable holding JSON null is null, not undefined (recorded: "but was 'null'")
        bound[name[1:] if name.startswith("$") else name] = null if value is None else value
    bound["states"] = dict(states)

    def random_fn(*args: Any) -> float:
        if args and args[0] is not None:
            return _random.Random(_number(args[0], "$random: the seed")).random()
        return rand()

    lam = _jsonata.Jsonata.JLambda
    bound["partition"] = lam(_partition)
    bound["range"] = lam(_range)
    bound["hash"] = lam(_hash)
    bound["random"] = lam(random_fn)
    bound["uuid"] = lam(lambda *_: new_uuid())
    bound["parse"] = lam(_parse)
    bound["eval"] = lam(_no_eval)
    millis = now_millis if now_millis is not None else _millis_from_context(states.get("context"))
    if millis is not None:
        fixed = millis
        bound["millis"] = lam(lambda *_: fixed)
        bound["now"] = lam(lambda *_: _iso_millis(fixed))
    return bound


# ---------------------------------------------------------------------------------------------
# Evaluation


_NOT_SIMPLE: Final = object()


def _simple_lookup(
    text: str, states: Mapping[str, Any], variables: Mapping[str, Any] | None
) -> Any:
    """`$states.input.a.b` / `$var.x` through objects only: the same value JSONata gives,
    without its evaluator (~50x faster). Anything else (arrays on the way, a missing key,
    functions) returns _NOT_SIMPLE and takes the full path."""
    m = _SIMPLE_PATH.fullmatch(text)
    if m is None:
        return _NOT_SIMPLE
    name = m.group(1)
    node: Any
    if name == "states":
        node = states
    elif variables is not None and name in variables:
        node = variables[name]
    elif variables is not None and f"${name}" in variables:
        node = variables[f"${name}"]
    else:
        return _NOT_SIMPLE
    for part in m.group(2).split(".")[1:]:
        if not isinstance(node, Mapping) or part not in node:
            return _NOT_SIMPLE
        node = node[part]
    return node


def evaluate_jsonata(
    expr_text: str,
    *,
    states: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
    field: str = "Output",
    random: Callable[[], float] | None = None,
    uuid: Callable[[], str] | None = None,
    now_millis: int | None = None,
) -> Any:
    """Evaluate one JSONata expression.

    Args:
        expr_text: `{% ... %}` (or a bare expression).
        states: what `$states` holds: `input`, `context`, and where defined `result`,
            `errorOutput`.
        variables: workflow variables in scope (`$name`).
        field: where the expression sits (`Output`, `Assign/x`, `Items`), for the cause.
        random: float source in [0, 1) for `$random()`; uuid: source for `$uuid()`.
        now_millis: what `$millis()`/`$now()` return; default the context's
            `State.EnteredTime`.

    Returns:
        The plain JSON result.

    Raises:
        AslSyntaxError: the expression does not parse.
        AslError: States.QueryEvaluationError for evaluation errors, an undefined result, or
            a result that is not JSON (a function).
    """
    text = expression_text(expr_text)
    compiled = parse_jsonata(expr_text)
    found = _simple_lookup(text, states, variables)
    if found is not _NOT_SIMPLE:
        try:
            return _to_json(found)
        except _Unsupported:
            pass  # the full evaluator words the error
    bound = _bindings(
        states,
        variables,
        random if random is not None else _random.random,
        uuid if uuid is not None else (lambda: str(_uuid.uuid4())),
        now_millis,
    )

    def fail(detail: str) -> AslError:
        return AslError(
            STATES_QUERY_EVALUATION_ERROR,
            f"The JSONata expression '{text}' specified for the field '{field}' {detail}",
        )

    try:
        raw = compiled.evaluate(None, bound)
    except _FunctionError as exc:
        raise fail(f"threw an error during evaluation. {exc}") from None
    except _jexception.JException as exc:
        raise fail(f"threw an error during evaluation. {exc.error}: {exc}") from None
    except ZeroDivisionError:
        raise fail("threw an error during evaluation. D1001: Number out of range") from None
    except RecursionError:
        raise fail("threw an error during evaluation. Stack overflow") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        # jsonata-python lets some Python errors through; they are still evaluation errors.
        raise fail(f"threw an error during evaluation. {exc}") from None
    if raw is None:
        raise fail("returned nothing (undefined).")
    try:
        return _to_json(raw)
    except _Unsupported:
        raise fail("returned an unsupported result type.") from None


def evaluate_jsonata_template(
    value: Any,
    *,
    states: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
    field: str = "Output",
    random: Callable[[], float] | None = None,
    uuid: Callable[[], str] | None = None,
    now_millis: int | None = None,
) -> Any:
    """Evaluate every `{% %}` string inside a JSON value (Arguments, Output, Assign, Items...).

    Objects and arrays are walked; other values are returned as they are. The field path in
    causes grows with each key (`Output/result`, recorded) and array index (`Output/list/0`).
    """
    if isinstance(value, str):
        if is_jsonata_expression(value):
            return evaluate_jsonata(
                value,
                states=states,
                variables=variables,
                field=field,
                random=random,
                uuid=uuid,
                now_millis=now_millis,
            )
        return value
    if isinstance(value, dict):
        return {
            k: evaluate_jsonata_template(
                v,
                states=states,
                variables=variables,
                field=f"{field}/{k}",
                random=random,
                uuid=uuid,
                now_millis=now_millis,
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            evaluate_jsonata_template(
                v,
                states=states,
                variables=variables,
                field=f"{field}/{i}",
                random=random,
                uuid=uuid,
                now_millis=now_millis,
            )
            for i, v in enumerate(value)
        ]
    return value
