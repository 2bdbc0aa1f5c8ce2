"""GraphQL documents for the generated model API (docs/protocol.md), sans-IO."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

from ._model import ModelDef

__all__ = ["WireMutation", "batch_document", "get_document", "subscription_documents", "sync_document"]

Op = Literal["create", "update", "delete"]
_INPUT = {"create": "Create{}Input!", "update": "Update{}Input!", "delete": "Delete{}Input!"}


def sync_document(model: ModelDef) -> str:
    return (
        f"query Sync{model.plural}($lastSync: AWSTimestamp, $limit: Int, $nextToken: String) "
        f"{{ sync{model.plural}(lastSync: $lastSync, limit: $limit, nextToken: $nextToken) "
        f"{{ items {{ {model.selection} }} nextToken startedAt }} }}"
    )


def get_document(model: ModelDef) -> str:
    return f"query Get{model.name}($id: ID!) {{ get{model.name}(id: $id) {{ {model.selection} }} }}"


def subscription_documents(model: ModelDef) -> dict[str, str]:
    """{"create": "subscription { onCreateTodo {...} }", ...}."""
    return {
        op: f"subscription On{op.title()}{model.name} {{ on{op.title()}{model.name} {{ {model.selection} }} }}"
        for op in ("create", "update", "delete")
    }


@dataclass(frozen=True, kw_only=True)
class WireMutation:
    """One mutation field of a batch: its response key, the model, the op and the input."""

    key: str
    model: ModelDef
    op: Op
    input: dict[str, Any]


def batch_document(muts: Sequence[WireMutation]) -> tuple[str, dict[str, Any]]:
    """One mutation document with a field per outbox entry, aliased by its stable response key.

    GraphQL executes top-level mutation fields serially, in order; the server keys each field's
    exactly-once ledger row by (clientId, seq, response key), so a resend of the same batch
    replays every field's recorded outcome.
    """
    params: list[str] = []
    fields: list[str] = []
    variables: dict[str, Any] = {}
    for i, m in enumerate(muts):
        var = f"v{i}"
        params.append(f"${var}: {_INPUT[m.op].format(m.model.name)}")
        fields.append(f"{m.key}: {m.op}{m.model.name}(input: ${var}) {{ {m.model.selection} }}")
        variables[var] = m.input
    return f"mutation Outbox({', '.join(params)}) {{ {' '.join(fields)} }}", variables
