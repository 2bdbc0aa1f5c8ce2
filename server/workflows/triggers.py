"""Triggers: a committed mutation starts a state machine ([workflows.NAME].triggers).

`install_triggers` wraps the resolver of each triggering root Mutation field, as the real-time
publisher does (server/realtime/publish.py): after the resolver returned a non-null result
without raising — the write committed — it renders the trigger's input template over
`{"arguments", "result", "identity"}` and starts the execution.

The execution name derives from the mutation, so a replayed mutation never starts it twice:
- with `extensions.mutationId` (an offline client's retry): `<field>-<hash of clientId>-<seq>`;
- otherwise the item's id and `_version` (a replayed write returns the same version):
  `<field>-<id>-<_version>`;
- neither (a custom mutation returning no id): a random name — documented as not replay-safe.
StartExecution is idempotent by name, and ExecutionAlreadyExists (already started, maybe even
finished) is exactly the replay case, so it is ignored. A start that fails otherwise is logged;
the mutation has committed and still answers normally.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from graphql import GraphQLResolveInfo, GraphQLSchema, default_field_resolver

from server.errors import ConfigError
from server.workflows.asl.errors import AslError, AslSyntaxError
from server.workflows.asl.payload import evaluate_payload_template
from server.workflows.engine import WorkflowEngine
from server.workflows.errors import ExecutionAlreadyExists

log = logging.getLogger("syncline.workflows")

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


@dataclass(frozen=True, kw_only=True, slots=True)
class Trigger:
    mutation: str
    state_machine: str
    input: Mapping[str, Any] | None = None


def trigger_name(mutation: str, result: Any, client_id: str | None, seq: int | None) -> str:
    """The execution name for one committed mutation (see the module docstring)."""
    if client_id is not None and seq is not None:
        digest = hashlib.sha256(client_id.encode()).hexdigest()[:16]
        return _fit(f"{mutation}-{digest}-{seq}")
    if isinstance(result, Mapping) and result.get("id") is not None:
        version = result.get("_version")
        return _fit(f"{mutation}-{_UNSAFE.sub('_', str(result['id']))}-{version if version is not None else 0}")
    return _fit(f"{mutation}-{uuid.uuid4()}")


def _fit(name: str) -> str:
    if len(name) <= 80:
        return name
    return name[:47] + "-" + hashlib.sha256(name.encode()).hexdigest()[:32]


def render_input(template: Mapping[str, Any] | None, source: Mapping[str, Any]) -> Any:
    if template is None:
        return source
    return evaluate_payload_template(template, input=source)


def check_triggers(schema: GraphQLSchema, triggers: Sequence[Trigger]) -> None:
    """Refuse at start a trigger on a missing mutation or with a broken template."""
    mutation = schema.mutation_type
    fields = mutation.fields if mutation is not None else {}
    for t in triggers:
        where = f"syncline.toml: [workflows.{t.state_machine}].triggers"
        if t.mutation not in fields:
            raise ConfigError(
                f"{where}: mutation {t.mutation!r} is not a Mutation field (fields: {', '.join(sorted(fields)) or 'none'})"
            )
        try:
            render_input(t.input, {"arguments": {}, "result": {}, "identity": {}})
        except AslSyntaxError as exc:
            raise ConfigError(f"{where}: input template: {exc}") from exc
        except AslError:
            pass  # a path that finds nothing in an empty sample is fine


def install_triggers(schema: GraphQLSchema, triggers: Sequence[Trigger], engine: WorkflowEngine) -> None:
    by_field: dict[str, list[Trigger]] = {}
    for t in triggers:
        by_field.setdefault(t.mutation, []).append(t)
    mutation = schema.mutation_type
    if mutation is None:
        return
    for name, field_triggers in by_field.items():
        field = mutation.fields[name]
        field.resolve = _wrap(name, field.resolve or default_field_resolver, field_triggers, engine)


def _wrap(name: str, resolve: Callable[..., Any], triggers: list[Trigger], engine: WorkflowEngine) -> Callable[..., Any]:
    async def resolver(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        result = resolve(source, info, **arguments)
        if inspect.isawaitable(result):
            result = await result
        if result is None or isinstance(result, Exception):
            return result
        context = info.context
        identity = getattr(context, "identity", None)
        source_doc = json.loads(
            json.dumps(
                {
                    "arguments": arguments,
                    "result": result,
                    "identity": identity.to_appsync() if identity is not None else None,
                },
                default=str,
            )
        )
        execution_name = trigger_name(name, result, getattr(context, "client_id", None), getattr(context, "seq", None))
        for trigger in triggers:
            try:
                await engine.start_execution(trigger.state_machine, render_input(trigger.input, source_doc), execution_name)
            except ExecutionAlreadyExists:
                log.debug("trigger %s → %s: %s already started (a replayed mutation)", name, trigger.state_machine, execution_name)
            except Exception:
                log.exception("trigger %s → %s failed to start %s", name, trigger.state_machine, execution_name)
        return result

    resolver._syncline_publishes = getattr(resolve, "_syncline_publishes", False)  # type: ignore[attr-defined]
    return resolver
