"""Choice rules in JSONPath mode: the comparison operators, And/Or/Not, the type tests.

The ASL spec ("Choice Rules"): "the comparison is made between the value of the Variable field
and the literal value [...] When a comparison operator is applied to a value of a type other
than the operator's, the comparison is false" (e.g. StringEquals on a number). Hence every
operator first checks the variable's JSON type and answers False on a mismatch, never raises.
The `...Path` variants compare against a value selected by a path; `IsPresent` is the only rule
that tolerates a Variable that selects nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable, Final, Mapping

from .errors import AslError
from .jsonpath import resolve
from .model import AndRule, Comparison, Condition, NotRule, OrRule

# The ASL spec ("Timestamps"): "strings which MUST conform to the RFC3339 profile of ISO 8601,
# with the further restrictions that an uppercase "T" character MUST be used to separate date
# and time, and an uppercase "Z" character MUST be present in the absence of a numeric time
# zone offset".
_TIMESTAMP: Final = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)


def parse_timestamp(value: Any) -> datetime | None:
    """An ASL timestamp as an aware datetime, or None when `value` is not one."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value)
    if match is None:
        return None
    fraction = match.group(7) or ""
    zone = match.group(8)
    text = value[: match.start(7)] if fraction else value[: match.start(8)]
    micros = (fraction[1:] + "000000")[:6] if fraction else "000000"
    try:
        moment = datetime.fromisoformat(text + "." + micros + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    return moment


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ordered(kind: Callable[[Any], bool], key: Callable[[Any], Any]) -> dict[str, Callable[[Any, Any], bool]]:
    def check(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
        def compare(variable: Any, target: Any) -> bool:
            if not kind(variable) or not kind(target):
                return False
            left, right = key(variable), key(target)
            if left is None or right is None:
                return False
            return op(left, right)

        return compare

    return {
        "Equals": check(lambda a, b: a == b),
        "LessThan": check(lambda a, b: a < b),
        "GreaterThan": check(lambda a, b: a > b),
        "LessThanEquals": check(lambda a, b: a <= b),
        "GreaterThanEquals": check(lambda a, b: a >= b),
    }


_STRING: Final = _ordered(lambda v: isinstance(v, str), lambda v: v)
_NUMERIC: Final = _ordered(_is_number, lambda v: v)
_TIMESTAMP_OPS: Final = _ordered(lambda v: isinstance(v, str), parse_timestamp)


def string_matches(value: str, pattern: str) -> bool:
    """ASL StringMatches: `*` matches any run of characters; `\\*` and `\\\\` are literals."""
    regex = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        regex.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.fullmatch("".join(regex), value, flags=re.DOTALL) is not None


def _binary(operator: str, variable: Any, target: Any) -> bool:
    if operator == "BooleanEquals":
        return isinstance(variable, bool) and isinstance(target, bool) and variable is target
    if operator == "StringMatches":
        return isinstance(variable, str) and isinstance(target, str) and string_matches(variable, target)
    for prefix, table in (("String", _STRING), ("Numeric", _NUMERIC), ("Timestamp", _TIMESTAMP_OPS)):
        if operator.startswith(prefix):
            return table[operator[len(prefix) :]](variable, target)
    raise AslError("States.Runtime", f"Unsupported choice operator {operator}")


_TYPE_TESTS: Final[dict[str, Callable[[Any], bool]]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}

_MISSING: Final = object()


def evaluate_condition(
    condition: Condition, *, input: Any, context: Any, variables: Mapping[str, Any]
) -> bool:
    """Evaluate a JSONPath-mode choice rule against the state's effective input.

    Raises:
        AslError: States.Runtime when a Variable (other than under IsPresent) or a `...Path`
            operand selects nothing, with Jayway's "Invalid path" cause.
    """
    if isinstance(condition, AndRule):
        return all(evaluate_condition(r, input=input, context=context, variables=variables) for r in condition.rules)
    if isinstance(condition, OrRule):
        return any(evaluate_condition(r, input=input, context=context, variables=variables) for r in condition.rules)
    if isinstance(condition, NotRule):
        return not evaluate_condition(condition.rule, input=input, context=context, variables=variables)
    if not isinstance(condition, Comparison):
        raise AslError("States.Runtime", "A JSONata Condition cannot be evaluated in JSONPath mode")
    operator = condition.operator
    if operator == "IsPresent":
        try:
            resolve(condition.variable, input=input, context=context, variables=variables)
        except AslError:
            return condition.value is False
        return condition.value is True
    test = _TYPE_TESTS.get(operator)
    if test is not None:
        try:
            variable = resolve(condition.variable, input=input, context=context, variables=variables)
        except AslError:
            return condition.value is False  # an absent value is of no type
        return test(variable) is condition.value
    variable = resolve(condition.variable, input=input, context=context, variables=variables)
    target = condition.value
    if operator.endswith("Path"):
        operator = operator[: -len("Path")]
        target = resolve(target, input=input, context=context, variables=variables)
    return _binary(operator, variable, target)
