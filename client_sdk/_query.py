"""`where`/`order_by` of `Model.query` translated to SQL over a replica table (sans-IO).

The operators are AppSync's filter operators, so an app uses one filter language locally
and on the server: eq ne lt le gt ge between beginsWith contains notContains in
attributeExists, combined with and / or / not.
"""

from __future__ import annotations

from typing import Any, Mapping

from ._errors import InvalidQuery
from ._model import FieldDef, ModelDef

__all__ = ["where_sql", "order_sql"]

_CMP = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_META_TYPES = {"id": "ID", "createdAt": "AWSDateTime", "updatedAt": "AWSDateTime", "_version": "Int", "_lastChangedAt": "AWSTimestamp"}


def _column(model: ModelDef, name: str) -> FieldDef | None:
    fm = model.field_map
    if name in fm:
        return fm[name]
    if name in _META_TYPES:
        return None
    raise InvalidQuery(f"{model.name} has no field {name!r}; fields: {', '.join(['id', *fm])}")


def _conv(f: FieldDef | None, v: Any) -> Any:
    if f is not None and f.base == "Boolean" and not f.is_list:
        return None if v is None else (1 if v else 0)
    return v


def where_sql(model: ModelDef, where: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """(SQL boolean expression, parameters); "1" when there is no filter."""
    if not where:
        return "1", []
    params: list[Any] = []
    sql = _expr(model, where, params)
    return sql, params


def _expr(model: ModelDef, where: Mapping[str, Any], params: list[Any]) -> str:
    if not isinstance(where, Mapping):
        raise InvalidQuery(f"a filter is an object of field conditions, got {where!r}")
    parts: list[str] = []
    for key, cond in where.items():
        if key in ("and", "or"):
            if not isinstance(cond, list) or not cond:
                raise InvalidQuery(f"{key!r} takes a non-empty list of filters")
            subs = [f"({_expr(model, c, params)})" for c in cond]
            parts.append(f" {key.upper()} ".join(subs))
        elif key == "not":
            parts.append(f"NOT ({_expr(model, cond, params)})")
        else:
            f = _column(model, key)
            parts.append(_field(key, f, cond, params))
    return " AND ".join(f"({p})" for p in parts) or "1"


def _field(name: str, f: FieldDef | None, cond: Any, params: list[Any]) -> str:
    if not isinstance(cond, Mapping) or not cond:
        raise InvalidQuery(f"the condition on {name!r} must be an object like {{'eq': value}}")
    col = f'"{name}"'
    out: list[str] = []
    for op, v in cond.items():
        if op in _CMP:
            if v is None and op in ("eq", "ne"):
                out.append(f"{col} IS {'NOT ' if op == 'ne' else ''}NULL")
            else:
                out.append(f"{col} {_CMP[op]} ?")
                params.append(_conv(f, v))
        elif op == "between":
            if not isinstance(v, list) or len(v) != 2:
                raise InvalidQuery(f"between on {name!r} takes [low, high]")
            out.append(f"{col} BETWEEN ? AND ?")
            params.extend([_conv(f, v[0]), _conv(f, v[1])])
        elif op == "beginsWith":
            out.append(f"substr({col}, 1, length(?)) = ?")
            params.extend([v, v])
        elif op in ("contains", "notContains"):
            if f is not None and f.is_list:
                expr = f"EXISTS (SELECT 1 FROM json_each({col}) WHERE value = ?)"
            else:
                expr = f"instr({col}, ?) > 0"
            out.append(expr if op == "contains" else f"NOT coalesce({expr}, 0)")
            params.append(v)
        elif op == "in":
            if not isinstance(v, list) or not v:
                raise InvalidQuery(f"in on {name!r} takes a non-empty list")
            out.append(f"{col} IN ({', '.join('?' * len(v))})")
            params.extend(_conv(f, x) for x in v)
        elif op == "attributeExists":
            out.append(f"{col} IS {'NOT ' if v else ''}NULL")
        else:
            raise InvalidQuery(
                f"unknown operator {op!r} on {name!r}; use eq ne lt le gt ge between beginsWith contains "
                "notContains in attributeExists"
            )
    return " AND ".join(out)


def order_sql(model: ModelDef, order_by: str | list[str] | None) -> str:
    """`"createdAt"`, `"-createdAt"` (descending) or a list of them; ties break by id."""
    keys = [order_by] if isinstance(order_by, str) else list(order_by or [])
    parts: list[str] = []
    for k in keys:
        desc = k.startswith("-")
        name = k[1:] if desc else k
        _column(model, name)
        parts.append(f'"{name}" {"DESC" if desc else "ASC"}')
    parts.append('"id" ASC')
    return ", ".join(parts)
