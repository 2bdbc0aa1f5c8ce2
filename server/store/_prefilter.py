"""Translate a filter into a SQL *pre*-filter over the stored JSON, sans-IO.

`server.filters.matches` stays the judge; this only spares decoding rows that cannot match.
The SQL predicate is therefore a superset of the filter: every item the filter matches makes
it true (items it wrongly lets through are rejected by `matches`). Anything not translated
exactly enough becomes TRUE: `not`, negations (ne, notContains, notIn), size,
attributeType, list and object fields, booleans compared with `lt`, nulls.

Why a superset is safe with SQLite's typing: `json_extract` yields TEXT for strings, INTEGER
or REAL for numbers, 1/0 for booleans and NULL for null or missing. Equal SQL values are
equal JSON values except true/1 and false/0 (let through, then rejected by `matches`);
SQLite orders numbers before text, so a range test on a value of the other type may pass
(again rejected by `matches`) but never fails for a value of the compared type.
"""

from __future__ import annotations

from typing import Any, Mapping

from server.filters import METADATA_FIELD_SPECS
from server.models import ModelSpec

TRUE = ("1", ())
_ORDER = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}

Sql = tuple[str, tuple[Any, ...]]


def prefilter(spec: ModelSpec, filter: Mapping[str, Any] | None) -> Sql | None:
    """A SQL predicate over the `data` column, or None when nothing could be translated."""
    if not filter:
        return None
    sql = _node(spec, filter)
    return None if sql == TRUE else sql


def _node(spec: ModelSpec, node: Mapping[str, Any]) -> Sql:
    parts: list[Sql] = []
    for key, value in node.items():
        if value is None:
            continue
        if key == "and" and isinstance(value, list):
            parts.extend(_node(spec, sub) for sub in value if isinstance(sub, Mapping))
        elif key == "or" and isinstance(value, list):
            subs = [_node(spec, sub) for sub in value if isinstance(sub, Mapping)]
            if subs and all(s != TRUE for s in subs):
                parts.append(
                    ("(" + " OR ".join(s[0] for s in subs) + ")", tuple(p for s in subs for p in s[1]))
                )
        elif key == "not":
            continue  # the negation of a superset is not a superset
        elif isinstance(value, Mapping):
            parts.extend(_field(spec, key, value))
    parts = [p for p in parts if p != TRUE]
    if not parts:
        return TRUE
    return ("(" + " AND ".join(p[0] for p in parts) + ")", tuple(x for p in parts for x in p[1]))


def _scalar(v: Any) -> bool:
    if isinstance(v, int) and not isinstance(v, bool):
        return -(2**63) <= v < 2**63  # SQLite integers are 64-bit
    return isinstance(v, (str, float))


def _field(spec: ModelSpec, name: str, ops: Mapping[str, Any]) -> list[Sql]:
    field = spec.field(name) or METADATA_FIELD_SPECS.get(name)
    if field is None or field.is_list or field.kind == "object" or field.type_name == "AWSJSON":
        return []
    path = '$."' + name.replace('"', '""') + '"'
    x = "json_extract(data, ?)"
    out: list[Sql] = []
    for op, v in ops.items():
        if v is None:
            continue
        if op == "eq":
            if isinstance(v, bool):
                out.append(("json_type(data, ?) = ?", (path, "true" if v else "false")))
            elif _scalar(v):
                out.append((f"{x} = ?", (path, v)))
        elif op in _ORDER and _scalar(v):
            out.append((f"{x} {_ORDER[op]} ?", (path, v)))
        elif op == "between" and isinstance(v, list) and len(v) == 2 and all(_scalar(b) for b in v):
            out.append((f"{x} BETWEEN ? AND ?", (path, v[0], v[1])))
        elif op == "beginsWith" and isinstance(v, str):
            out.append((f"substr({x}, 1, ?) = ?", (path, len(v), v)))
        elif op == "contains" and isinstance(v, str):
            out.append((f"instr({x}, ?) > 0", (path, v)))
        elif op == "attributeExists" and isinstance(v, bool):
            out.append((f"json_type(data, ?) IS {'NOT ' if v else ''}NULL", (path,)))
        elif op == "in" and isinstance(v, list) and v and all(_scalar(e) for e in v):
            out.append((f"{x} IN ({', '.join('?' * len(v))})", (path, *v)))
    return out
