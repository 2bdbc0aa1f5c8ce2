"""What a `@model` type is, independent of GraphQL: the contract between schema, store and sync.

`server.schema` builds these from the user's SDL and syncline.toml; `server.store` persists
items shaped by them; `server.sync` resolves conflicts by their `conflict` strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any, Literal, Mapping

ConflictStrategy = Literal["OPTIMISTIC_CONCURRENCY", "AUTOMERGE", "LAST_WRITER_WINS", "CUSTOM"]
CONFLICT_STRATEGIES: tuple[ConflictStrategy, ...] = (
    "OPTIMISTIC_CONCURRENCY",
    "AUTOMERGE",
    "LAST_WRITER_WINS",
    "CUSTOM",
)

#: Fields every model item carries, managed by the server (clients may send `id` on create
#: and `_version` on update/delete, nothing else of these).
METADATA_FIELDS: tuple[str, ...] = (
    "id",
    "createdAt",
    "updatedAt",
    "_version",
    "_deleted",
    "_lastChangedAt",
)

FieldKind = Literal["scalar", "enum", "object"]


@dataclass(frozen=True, kw_only=True)
class FieldSpec:
    """One user-declared field of a model, e.g. `tags: [String!]` → is_list, item_required."""

    name: str
    type_name: str
    kind: FieldKind
    required: bool = False
    is_list: bool = False
    item_required: bool = False

    def describe(self) -> str:
        """The field's GraphQL type as written in SDL, for messages (`[String!]!`)."""
        inner = self.type_name + ("!" if self.item_required else "")
        text = f"[{inner}]" if self.is_list else self.type_name
        return text + ("!" if self.required else "")


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A `@model` type and its per-model settings from syncline.toml."""

    name: str
    fields: tuple[FieldSpec, ...]
    conflict: ConflictStrategy = "AUTOMERGE"
    #: Plural used by generated fields (`listTodos`, `syncTodos`).
    plural: str = ""
    #: Amplify @auth rules as parsed dicts (the authorization issue gives them meaning).
    auth_rules: tuple[dict[str, Any], ...] = ()
    #: Field-level Amplify @auth rules: field name → its rules (they replace the model's for
    #: that field; server.auth.policy reads them through `policy_for`).
    field_auth_rules: Mapping[str, tuple[dict[str, Any], ...]] = dc_field(default_factory=dict)

    def field(self, name: str) -> FieldSpec | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


Item = dict[str, Any]
