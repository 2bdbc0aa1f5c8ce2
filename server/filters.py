"""AppSync's filter and condition language over items (plain dicts), sans-IO.

One grammar serves three callers, so it is implemented once here:
`listXs/syncXs(filter:)`, mutation `condition:` (evaluated against the current server item
inside the write transaction) and subscription filters (`in`, `notIn`, `containsAny` are the
enhanced-filter extras).

    filter := { <field>: { <op>: value, ... }, ..., and: [filter], or: [filter], not: filter }

Several keys in one object are AND-ed. Semantics follow DynamoDB expressions, which AppSync
compiles filters into:

- A comparison (eq lt le gt ge between beginsWith contains in) on a missing attribute is false;
  its negations (`ne`, `notContains`, `notIn`) are true, as DynamoDB's `<>` and `NOT contains()`
  are on a missing attribute.
- Values of different DynamoDB types never compare equal or ordered (`"1"` is not `1`,
  `true` is not `1`); `ne` between different types is true.
- `contains` is substring on strings and membership on lists; `size` is the length of a
  string, list or map (`size` of a number or boolean matches nothing).
- `attributeType` takes DynamoDB type names (S N BOOL NULL L M SS NS BS B); JSON items hold
  lists as `L`, so the set types never match.
- An operator given `null` (GraphQL variables often are): `eq: null` / `ne: null` test for a
  null-or-missing attribute; other operators with `null` are ignored.
- An empty `and`/`or` list is neutral (matches), so generated predicate groups cannot empty a page.
"""

from __future__ import annotations

from typing import Any, Mapping

from server.errors import BadRequest
from server.models import FieldSpec, ModelSpec

__all__ = [
    "COMPARISON_OPERATORS",
    "DYNAMODB_TYPES",
    "METADATA_FIELD_SPECS",
    "check_filter",
    "dynamodb_type",
    "matches",
]

COMPARISON_OPERATORS: frozenset[str] = frozenset(
    {
        "eq",
        "ne",
        "le",
        "lt",
        "ge",
        "gt",
        "contains",
        "notContains",
        "between",
        "beginsWith",
        "attributeExists",
        "attributeType",
        "size",
        "in",
        "notIn",
        "containsAny",
    }
)
_SIZE_OPERATORS = frozenset({"eq", "ne", "le", "lt", "ge", "gt", "between"})
_LOGICAL = frozenset({"and", "or", "not"})
DYNAMODB_TYPES: frozenset[str] = frozenset({"S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"})

#: The server-managed fields are filterable like declared ones.
METADATA_FIELD_SPECS: dict[str, FieldSpec] = {
    "id": FieldSpec(name="id", type_name="ID", kind="scalar", required=True),
    "createdAt": FieldSpec(name="createdAt", type_name="AWSDateTime", kind="scalar", required=True),
    "updatedAt": FieldSpec(name="updatedAt", type_name="AWSDateTime", kind="scalar", required=True),
    "_version": FieldSpec(name="_version", type_name="Int", kind="scalar", required=True),
    "_deleted": FieldSpec(name="_deleted", type_name="Boolean", kind="scalar"),
    "_lastChangedAt": FieldSpec(
        name="_lastChangedAt", type_name="AWSTimestamp", kind="scalar", required=True
    ),
}

_STRING_TYPES = frozenset(
    {
        "String",
        "ID",
        "AWSDate",
        "AWSTime",
        "AWSDateTime",
        "AWSEmail",
        "AWSURL",
        "AWSPhone",
        "AWSIPAddress",
    }
)
_INT_TYPES = frozenset({"Int", "AWSTimestamp"})


# --------------------------------------------------------------------------- validation


def check_filter(spec: ModelSpec, filter: Mapping[str, Any] | None, *, what: str = "filter") -> None:
    """Validate a filter or condition against a model before it is used.

    Args:
        spec: the model the filter applies to.
        filter: the filter object (None is allowed and matches everything).
        what: "filter" or "condition", for messages.

    Raises:
        BadRequest: naming the path, field or operator at fault and what to send instead.
    """
    if filter is None:
        return
    _check_object(spec, filter, what)


def _check_object(spec: ModelSpec, obj: Any, path: str) -> None:
    if not isinstance(obj, Mapping):
        raise BadRequest(f"{path} must be an object like {{title: {{eq: \"x\"}}}}, got {_show(obj)}")
    for key, value in obj.items():
        where = f"{path}.{key}"
        if key in ("and", "or"):
            if value is None:
                continue
            if not isinstance(value, list):
                raise BadRequest(f"{where} must be a list of {_kind(path)} objects, got {_show(value)}")
            for i, sub in enumerate(value):
                _check_object(spec, sub, f"{where}[{i}]")
        elif key == "not":
            if value is not None:
                _check_object(spec, value, where)
        else:
            field = spec.field(key) or METADATA_FIELD_SPECS.get(key)
            if field is None:
                known = ", ".join(sorted({*spec.field_names, *METADATA_FIELD_SPECS}))
                raise BadRequest(f"{where}: {spec.name} has no field '{key}' (fields: {known})")
            _check_field_ops(field, value, where)


def _check_field_ops(field: FieldSpec, ops: Any, path: str) -> None:
    if ops is None:
        return
    if not isinstance(ops, Mapping):
        raise BadRequest(f"{path} must be an object of operators like {{eq: ...}}, got {_show(ops)}")
    for op, value in ops.items():
        where = f"{path}.{op}"
        if op not in COMPARISON_OPERATORS:
            raise BadRequest(
                f"{where}: unknown operator '{op}' (use one of {', '.join(sorted(COMPARISON_OPERATORS))})"
            )
        if value is None:
            continue
        if op == "attributeExists":
            if not isinstance(value, bool):
                raise BadRequest(f"{where} takes true or false, got {_show(value)}")
        elif op == "attributeType":
            if value not in DYNAMODB_TYPES:
                raise BadRequest(
                    f"{where} takes a DynamoDB type name ({' '.join(sorted(DYNAMODB_TYPES))}), got {_show(value)}"
                )
        elif op == "size":
            _check_size(value, where)
        elif op == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise BadRequest(f"{where} takes a list of two bounds [low, high], got {_show(value)}")
            for bound in value:
                _check_value(field, bound, where, element=field.is_list)
        elif op in ("in", "notIn", "containsAny"):
            if not isinstance(value, list):
                raise BadRequest(f"{where} takes a list of values, got {_show(value)}")
            for v in value:
                _check_value(field, v, where, element=field.is_list or op == "containsAny")
        elif op == "beginsWith":
            if not isinstance(value, str):
                raise BadRequest(f"{where} takes a string, got {_show(value)}")
            if field.is_list or field.type_name in _INT_TYPES or field.type_name in ("Float", "Boolean"):
                raise BadRequest(f"{where}: beginsWith only applies to string fields; {field.name} is {field.describe()}")
        elif op in ("contains", "notContains"):
            if field.is_list:
                _check_value(field, value, where, element=True)
            elif not isinstance(value, str):
                raise BadRequest(f"{where} on {field.describe()} takes a string (substring test), got {_show(value)}")
        else:  # eq ne le lt ge gt
            _check_value(field, value, where, element=False)


def _check_size(value: Any, path: str) -> None:
    if not isinstance(value, Mapping):
        raise BadRequest(f"{path} takes an object like {{gt: 3}} or {{between: [1, 5]}}, got {_show(value)}")
    for op, bound in value.items():
        where = f"{path}.{op}"
        if op not in _SIZE_OPERATORS:
            raise BadRequest(f"{where}: size takes {', '.join(sorted(_SIZE_OPERATORS))}, not '{op}'")
        if bound is None:
            continue
        if op == "between":
            if not isinstance(bound, list) or len(bound) != 2 or not all(_is_int(b) for b in bound):
                raise BadRequest(f"{where} takes two integer bounds [low, high], got {_show(bound)}")
        elif not _is_int(bound):
            raise BadRequest(f"{where} takes an integer, got {_show(bound)}")


def _check_value(field: FieldSpec, value: Any, path: str, *, element: bool) -> None:
    """`element`: compare against one list element rather than the whole field value."""
    if value is None:
        return
    if field.is_list and not element:
        if not isinstance(value, list):
            raise BadRequest(f"{path}: {field.name} is {field.describe()}; compare it with a list, got {_show(value)}")
        for v in value:
            _check_value(field, v, path, element=True)
        return
    t = field.type_name
    ok = True
    if field.kind == "enum":
        ok = isinstance(value, str)
    elif field.kind == "object":
        ok = isinstance(value, Mapping)
    elif t in _STRING_TYPES:
        ok = isinstance(value, str)
    elif t in _INT_TYPES:
        ok = _is_int(value)
    elif t == "Float":
        ok = _is_number(value)
    elif t == "Boolean":
        ok = isinstance(value, bool)
    if not ok:
        raise BadRequest(f"{path}: {field.name} is {field.describe()}, got {_show(value)}")


def _kind(path: str) -> str:
    return "condition" if path.startswith("condition") else "filter"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- evaluation

_MISSING: Any = object()


def matches(filter: Mapping[str, Any] | None, item: Mapping[str, Any]) -> bool:
    """True when `item` satisfies `filter` (None or {} match everything).

    Assumes the filter passed `check_filter`; malformed parts evaluate to False rather than
    raising, so a subscription filter can never crash fan-out.
    """
    if not filter:
        return True
    for key, value in filter.items():
        if key == "and":
            if value and not all(isinstance(f, Mapping) and matches(f, item) for f in value):
                return False
        elif key == "or":
            if value and not any(isinstance(f, Mapping) and matches(f, item) for f in value):
                return False
        elif key == "not":
            if isinstance(value, Mapping) and value and matches(value, item):
                return False
        elif value is not None:
            if not isinstance(value, Mapping):
                return False
            if not _field_matches(value, item.get(key, _MISSING)):
                return False
    return True


def _field_matches(ops: Mapping[str, Any], actual: Any) -> bool:
    for op, expected in ops.items():
        if not _apply(op, expected, actual):
            return False
    return True


def _apply(op: str, expected: Any, actual: Any) -> bool:
    missing = actual is _MISSING
    if expected is None:
        if op == "eq":
            return missing or actual is None
        if op == "ne":
            return not missing and actual is not None
        return True
    if op == "eq":
        return not missing and _equal(actual, expected)
    if op == "ne":
        return missing or not _equal(actual, expected)
    if op in ("lt", "le", "gt", "ge"):
        if missing or not _comparable(actual, expected):
            return False
        if op == "lt":
            return bool(actual < expected)
        if op == "le":
            return bool(actual <= expected)
        if op == "gt":
            return bool(actual > expected)
        return bool(actual >= expected)
    if op == "between":
        if missing or not isinstance(expected, list) or len(expected) != 2:
            return False
        lo, hi = expected
        return (
            _comparable(actual, lo)
            and _comparable(actual, hi)
            and bool(lo <= actual)
            and bool(actual <= hi)
        )
    if op == "beginsWith":
        return isinstance(actual, str) and isinstance(expected, str) and actual.startswith(expected)
    if op == "contains":
        return not missing and _contains(actual, expected)
    if op == "notContains":
        return missing or not _contains(actual, expected)
    if op == "attributeExists":
        return (not missing) is bool(expected)
    if op == "attributeType":
        return not missing and dynamodb_type(actual) == expected
    if op == "size":
        if missing or not isinstance(actual, (str, list, dict)) or not isinstance(expected, Mapping):
            return False
        n = len(actual)
        return all(_apply(sop, bound, n) for sop, bound in expected.items())
    if op == "in":
        return not missing and isinstance(expected, list) and any(_equal(actual, v) for v in expected)
    if op == "notIn":
        return missing or not isinstance(expected, list) or not any(_equal(actual, v) for v in expected)
    if op == "containsAny":
        if missing or not isinstance(expected, list):
            return False
        return any(_contains(actual, v) for v in expected)
    return False


def dynamodb_type(value: Any) -> str:
    """The DynamoDB attribute type a JSON value is stored as."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, (int, float)):
        return "N"
    if isinstance(value, str):
        return "S"
    if isinstance(value, list):
        return "L"
    if isinstance(value, dict):
        return "M"
    return "B"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _comparable(a: Any, b: Any) -> bool:
    """DynamoDB orders only numbers with numbers and strings with strings."""
    if _is_number(a):
        return _is_number(b)
    return isinstance(a, str) and isinstance(b, str)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a):
        return _is_number(b) and bool(a == b)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_equal(a[k], b[k]) for k in a)
        )
    return type(a) is type(b) and bool(a == b)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, list):
        return any(_equal(x, expected) for x in actual)
    return False
