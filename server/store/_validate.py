"""Write-input validation for one model, sans-IO: unknown fields, metadata, nulls, types.

The GraphQL layer already coerces inputs to the SDL's input types; the store checks again
because workflows, the CLI and custom resolvers call it directly, and a bad row written once
breaks every later read. Checks are precomputed per model so a write costs a few dict lookups.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from server.errors import BadRequest
from server.models import METADATA_FIELDS, FieldSpec, ModelSpec

_STRINGS = frozenset(
    {"String", "ID", "AWSDate", "AWSTime", "AWSDateTime", "AWSEmail", "AWSURL", "AWSPhone", "AWSIPAddress"}
)

Check = Callable[[Any], bool]


def _scalar_check(field: FieldSpec) -> Check | None:
    t = field.type_name
    if field.kind == "enum" or t in _STRINGS:
        return lambda v: isinstance(v, str)
    if field.kind == "object":
        return lambda v: isinstance(v, dict)
    if t in ("Int", "AWSTimestamp"):
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if t == "Float":
        return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "Boolean":
        return lambda v: isinstance(v, bool)
    return None  # AWSJSON and custom scalars: the schema layer owns their format


def _field_check(field: FieldSpec) -> Check:
    scalar = _scalar_check(field)
    if not field.is_list:
        if scalar is None:
            return lambda v: True
        return scalar
    item_required = field.item_required

    def check_list(v: Any) -> bool:
        if not isinstance(v, list):
            return False
        for e in v:
            if e is None:
                if item_required:
                    return False
            elif scalar is not None and not scalar(e):
                return False
        return True

    return check_list


class InputValidator:
    """Validates create/update/delete inputs and resolved items of one model."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._fields = {f.name: f for f in spec.fields if f.name not in METADATA_FIELDS}
        self._checks = {name: _field_check(f) for name, f in self._fields.items()}
        self._required = tuple(name for name, f in self._fields.items() if f.required)

    def _fail(self, op: str, msg: str) -> BadRequest:
        return BadRequest(f"{op}{self.spec.name}: {msg}")

    def _check_fields(self, op: str, input: Mapping[str, Any], allowed_meta: frozenset[str]) -> None:
        checks = self._checks
        for key, value in input.items():
            check = checks.get(key)
            if check is None:
                if key in allowed_meta:
                    continue
                if key in METADATA_FIELDS:
                    if value is None:
                        continue  # Amplify's generated inputs may carry explicit nulls
                    raise self._fail(op, f"'{key}' is managed by the server; remove it from the input")
                raise self._fail(
                    op,
                    f"unknown field '{key}' (fields: {', '.join(self._fields) or 'none'})",
                )
            if value is None:
                if self._fields[key].required:
                    raise self._fail(op, f"'{key}' is {self._fields[key].describe()} and cannot be null")
            elif not check(value):
                raise self._fail(
                    op, f"'{key}' must be {self._fields[key].describe()}, got {_show(value)}"
                )

    def create(self, input: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """Returns (client id or None, user fields)."""
        if not isinstance(input, Mapping):
            raise self._fail("create", "input must be an object")
        self._check_fields("create", input, _CREATE_META)
        for name in self._required:
            if input.get(name) is None:
                raise self._fail("create", f"'{name}' is required ({self._fields[name].describe()})")
        item_id = input.get("id")
        if item_id is not None and (not isinstance(item_id, str) or not item_id):
            raise self._fail("create", f"'id' must be a non-empty string, got {_show(item_id)}")
        return item_id, {k: v for k, v in input.items() if k in self._fields}

    def update(self, input: Mapping[str, Any], op: str = "update") -> tuple[str, int | None, dict[str, Any]]:
        """Returns (id, expected _version or None, user fields)."""
        if not isinstance(input, Mapping):
            raise self._fail(op, "input must be an object")
        self._check_fields(op, input, _UPDATE_META)
        item_id = input.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise self._fail(op, "'id' is required (the id of the item to change)")
        version = input.get("_version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise self._fail(op, f"'_version' must be an integer, got {_show(version)}")
        fields = {k: v for k, v in input.items() if k in self._fields}
        if op == "delete" and fields:
            raise self._fail(op, f"the input takes only 'id' and '_version', not {', '.join(fields)}")
        return item_id, version, fields

    def known(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """`fields` without keys the schema no longer declares (left by a migration)."""
        return {k: v for k, v in fields.items() if k in self._fields}

    def check_item(self, item: Mapping[str, Any], origin: str) -> dict[str, Any]:
        """Validates a whole item produced by a conflict resolution; returns its user fields."""
        fields: dict[str, Any] = {}
        for key, value in item.items():
            if key in METADATA_FIELDS:
                continue
            check = self._checks.get(key)
            if check is None:
                if value is None:
                    continue  # a field the schema dropped (migrate allows it only when null)
                raise BadRequest(f"{origin}: {self.spec.name} has no field '{key}'")
            if value is not None and not check(value):
                raise BadRequest(f"{origin}: '{key}' must be {self._fields[key].describe()}, got {_show(value)}")
            fields[key] = value
        for name in self._required:
            if fields.get(name) is None:
                raise BadRequest(f"{origin}: '{name}' is required ({self._fields[name].describe()})")
        return fields


_CREATE_META = frozenset({"id"})
_UPDATE_META = frozenset({"id", "_version"})


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
