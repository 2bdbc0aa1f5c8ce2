"""Authorization in the GraphQL layer: AppSync auth directives on every field, @auth field rules.

Two installers wrap field resolvers once, at start, so every execution path (HTTP, queries and
mutations over WebSocket, subscription fan-out) is covered by the schema itself:

- `install_field_rules` (always, from `build_schema`): Amplify field-level `@auth` rules. A
  caller who may not read a field gets null for it; writes are refused by the model resolvers.
- `install_directive_auth` (from the composition root, which knows the enabled modes):
  AppSync's `@aws_api_key @aws_oidc @aws_iam @aws_lambda @aws_cognito_user_pools(cognito_groups)`
  (and `@aws_auth`) with AppSync's semantics — a field's directives replace its type's, none on
  either admits only the default mode — plus the Lambda authorizer's `deniedFields`. A denied
  field resolves to an `Unauthorized` error, "Not Authorized to access <field> on type <Type>".

As Amplify's transformer does, a `@model` with `@auth` rules gets the directives of its rules'
providers on its type, its connection type, its generated root fields and the non-model types
stored in it, so `{allow: owner}` on an API whose default mode is API_KEY admits Cognito users
to those fields (and the rules then decide which rows).

Cost: the effective directives of every field are computed once. A field whose directives
admit every enabled mode without a group condition is not wrapped at all (with one mode and no
directives, nothing is); a wrapped field costs one set lookup for callers whose mode is
admitted outright.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    default_field_resolver,
    get_named_type,
    value_from_ast_untyped,
)

from server.auth.identity import AuthMode, Identity
from server.auth.policy import DIRECTIVE_MODES, AuthDirective, check_field_access, parse_directives, policy_for
from server.models import ModelSpec

__all__ = [
    "DirectiveAuth",
    "effective_directives",
    "install_directive_auth",
    "install_field_rules",
]

FieldKey = tuple[str, str]
_Resolver = Callable[..., Any]


def _node_directives(nodes: Iterable[Any]) -> tuple[AuthDirective, ...]:
    pairs: list[tuple[str, Mapping[str, Any]]] = []
    for node in nodes:
        for d in getattr(node, "directives", None) or ():
            if d.name.value in DIRECTIVE_MODES:
                args = {a.name.value: value_from_ast_untyped(a.value) for a in d.arguments or ()}
                pairs.append((d.name.value, args))
    return parse_directives(pairs)


def _union(*groups: Iterable[AuthDirective]) -> tuple[AuthDirective, ...]:
    out: list[AuthDirective] = []
    for group in groups:
        for d in group:
            if d not in out:
                out.append(d)
    return tuple(out)


def _object_types(schema: GraphQLSchema) -> dict[str, GraphQLObjectType]:
    return {
        name: t
        for name, t in schema.type_map.items()
        if isinstance(t, GraphQLObjectType) and not name.startswith("__")
    }


def effective_directives(
    schema: GraphQLSchema,
    models: Sequence[ModelSpec] = (),
    operations: Mapping[str, Any] | None = None,
) -> dict[FieldKey, tuple[AuthDirective, ...]]:
    """(type, field) → the auth directives that decide it (empty: the default mode only).

    Args:
        schema: the executable schema (directives are read from its SDL nodes).
        models: the @model specs; their @auth rules add their providers' directives.
        operations: model name → its generated root field names (`ModelOperations`).
    """
    types = _object_types(schema)
    type_dirs: dict[str, tuple[AuthDirective, ...]] = {
        name: _node_directives([t.ast_node, *t.extension_ast_nodes]) for name, t in types.items()
    }
    field_dirs: dict[FieldKey, tuple[AuthDirective, ...]] = {
        (name, fname): _node_directives([f.ast_node]) for name, t in types.items() for fname, f in t.fields.items()
    }

    explicit_types = {name for name, dirs in type_dirs.items() if dirs}
    inherited: dict[str, tuple[AuthDirective, ...]] = {}
    for spec in models:
        policy = policy_for(spec)
        modes = sorted(policy.modes())
        derived = tuple(AuthDirective(mode=m) for m in modes)
        if not derived:
            continue
        model_dirs = _union(type_dirs.get(spec.name, ()), derived)
        type_dirs[spec.name] = model_dirs
        connection = f"Model{spec.name}Connection"
        if connection in types and connection not in explicit_types:
            type_dirs[connection] = model_dirs
        for fname, rules in policy.field_rules.items():
            key = (spec.name, fname)
            if key in field_dirs:
                field_dirs[key] = _union(field_dirs[key], (AuthDirective(mode=r.mode) for r in rules))
        ops = (operations or {}).get(spec.name)
        if ops is not None:
            roots = (
                (schema.query_type, (ops.get, ops.list, ops.sync)),
                (schema.mutation_type, (ops.create, ops.update, ops.delete)),
                (schema.subscription_type, (*ops.on_create, *ops.on_update, *ops.on_delete)),
            )
            for root, names in roots:
                if root is None:
                    continue
                for name in names:
                    if name and name in root.fields and not field_dirs.get((root.name, name)):
                        field_dirs[(root.name, name)] = model_dirs
        # Non-model types stored inside the model are read through it: same providers.
        pending = [f.type_name for f in spec.fields if f.kind == "object"]
        seen: set[str] = set()
        while pending:
            tname = pending.pop()
            if tname in seen or tname not in types or tname in explicit_types:
                continue
            seen.add(tname)
            inherited[tname] = _union(inherited.get(tname, ()), model_dirs)
            for f in types[tname].fields.values():
                inner = get_named_type(f.type)
                if isinstance(inner, GraphQLObjectType):
                    pending.append(inner.name)
    type_dirs.update(inherited)

    return {
        (name, fname): field_dirs[(name, fname)] or type_dirs.get(name, ())
        for name, t in types.items()
        for fname in t.fields
    }


class DirectiveAuth:
    """The installed directive checks (`install_directive_auth`), and the checks adapters need
    beyond resolvers: subscribe-time refusal and grouping keys.

    A field is wrapped when some enabled mode may be refused it, unless it is *covered*: every
    field that returns its type has the same directives, so a caller who got to the parent was
    admitted by exactly the directives that decide the field. Lambda `deniedFields` can name any
    field: with AWS_LAMBDA on, root fields are always wrapped, and the first request whose
    identity names a field not yet wrapped wraps it (once, for good) before it resolves.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        default_mode: AuthMode,
        modes: frozenset[AuthMode],
        directives: Mapping[FieldKey, tuple[AuthDirective, ...]],
    ) -> None:
        self.schema = schema
        self.default_mode = default_mode
        self.modes = modes
        self.directives = directives
        #: Fields whose resolver is wrapped.
        self.wrapped: set[FieldKey] = set()
        self._denied_seen: set[tuple[str, ...]] = set()

    @property
    def active(self) -> bool:
        return bool(self.wrapped)

    def wrap(self, type_name: str, field_name: str) -> None:
        """Wrap one field's resolver (idempotent)."""
        t = self.schema.get_type(type_name)
        if not isinstance(t, GraphQLObjectType) or field_name not in t.fields:
            return
        f = t.fields[field_name]
        original = f.resolve or default_field_resolver
        self.wrapped.add((type_name, field_name))
        if getattr(original, "_syncline_auth", False):
            return
        dirs = self.directives.get((type_name, field_name), ())
        f.resolve = _guard(original, self, type_name, field_name, dirs, self._free(dirs))

    def _free(self, dirs: tuple[AuthDirective, ...]) -> frozenset[str]:
        """The enabled modes admitted outright (no group condition)."""
        if not dirs:
            return frozenset({self.default_mode})
        return frozenset(d.mode for d in dirs if d.cognito_groups is None) & self.modes

    def ensure_denied_wrapped(self, denied_fields: tuple[str, ...]) -> None:
        """Wrap the fields a Lambda authorizer denied (short or ARN form), once per list."""
        if denied_fields in self._denied_seen:
            return
        for entry in denied_fields:
            if "/types/" in entry and "/fields/" in entry:
                tail = entry.split("/types/", 1)[1]
                type_name, _, field_name = tail.partition("/fields/")
            else:
                type_name, _, field_name = entry.partition(".")
            if (type_name, field_name) not in self.wrapped:
                self.wrap(type_name, field_name)
        if len(self._denied_seen) > 4096:
            self._denied_seen.clear()
        self._denied_seen.add(denied_fields)

    def check(self, identity: Identity, type_name: str, field_name: str) -> None:
        """Raise Unauthorized unless `identity` may resolve `Type.field`."""
        check_field_access(
            identity,
            default_mode=self.default_mode,
            type_name=type_name,
            field_name=field_name,
            field_directives=self.directives.get((type_name, field_name), ()),
        )

    def class_key(self, identity: Identity) -> str:
        """Identities with equal keys get the same directive decisions on every field.

        The subscription registry adds it to a group's key, so one group's single execution
        is right for all its members.
        """
        if not self.active:
            return ""
        return f"{identity.auth_mode}|{','.join(sorted(identity.groups))}|{','.join(identity.denied_fields)}"

    def check_subscription(self, identity: Identity, schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> None:
        """Refuse a subscription whose root field the identity may not access, at subscribe
        time (as AppSync does) rather than with an error on every event."""
        sub_type = schema.subscription_type
        if sub_type is None:
            return
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        for op in document.definitions:
            if not isinstance(op, OperationDefinitionNode) or op.operation is not OperationType.SUBSCRIPTION:
                continue
            if operation_name is not None and (op.name is None or op.name.value != operation_name):
                continue
            for name in _root_field_names(op.selection_set, fragments):
                if name in sub_type.fields:
                    self.check(identity, sub_type.name, name)


def _root_field_names(selection_set: SelectionSetNode, fragments: Mapping[str, Any], depth: int = 0) -> list[str]:
    names: list[str] = []
    if depth > 10:
        return names
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if not sel.name.value.startswith("__"):
                names.append(sel.name.value)
        elif isinstance(sel, InlineFragmentNode):
            names += _root_field_names(sel.selection_set, fragments, depth + 1)
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
            names += _root_field_names(fragments[sel.name.value].selection_set, fragments, depth + 1)
    return names


def install_directive_auth(
    schema: GraphQLSchema,
    *,
    default_mode: AuthMode,
    modes: Iterable[AuthMode],
    models: Sequence[ModelSpec] = (),
    operations: Mapping[str, Any] | None = None,
) -> DirectiveAuth:
    """Wrap the resolvers of the fields some enabled mode may be refused (see DirectiveAuth).

    Call it once, after every other resolver wrapper (it must be the outermost, so a refused
    mutation never runs). Idempotent per field.

    Args:
        default_mode: the API's default mode (admitted where no directive says otherwise).
        modes: every enabled mode (default + additional).
        models, operations: as for `effective_directives`.

    Returns:
        The decisions, for the checks made outside resolvers (subscribe time, grouping).
    """
    enabled = frozenset(modes) | {default_mode}
    lambda_on = "AWS_LAMBDA" in enabled
    directives = effective_directives(schema, models, operations)
    auth = DirectiveAuth(schema, default_mode=default_mode, modes=enabled, directives=directives)
    types = _object_types(schema)
    roots = {t.name for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t is not None}
    parents: dict[str, list[FieldKey]] = {}
    behind_abstract: set[str] = set()
    for name, t in types.items():
        for fname, f in t.fields.items():
            inner = get_named_type(f.type)
            if isinstance(inner, GraphQLObjectType):
                parents.setdefault(inner.name, []).append((name, fname))
            elif isinstance(inner, (GraphQLInterfaceType, GraphQLUnionType)):
                behind_abstract.update(p.name for p in schema.get_possible_types(inner))
    for name, t in types.items():
        for fname in t.fields:
            dirs = directives[(name, fname)]
            if name in roots:
                if lambda_on or auth._free(dirs) != enabled:
                    auth.wrap(name, fname)
                continue
            if auth._free(dirs) == enabled:
                continue
            via = parents.get(name, [])
            covered = (
                bool(via)
                and name not in behind_abstract
                and all(set(directives[p]) == set(dirs) for p in via)
            )
            if not covered:
                auth.wrap(name, fname)
    return auth


def _guard(
    resolve: _Resolver,
    auth: DirectiveAuth,
    type_name: str,
    field_name: str,
    dirs: tuple[AuthDirective, ...],
    free: frozenset[str],
) -> _Resolver:
    default_mode = auth.default_mode

    def resolver(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        identity = getattr(info.context, "identity", None)
        if identity is not None and (identity.auth_mode not in free or identity.denied_fields):
            if identity.denied_fields:
                auth.ensure_denied_wrapped(identity.denied_fields)
            check_field_access(
                identity,
                default_mode=default_mode,
                type_name=type_name,
                field_name=field_name,
                field_directives=dirs,
            )
        return resolve(source, info, **arguments)

    for attr in ("_syncline_publishes",):
        if getattr(resolve, attr, False):
            setattr(resolver, attr, True)
    resolver._syncline_auth = True  # type: ignore[attr-defined]
    return resolver


def install_field_rules(schema: GraphQLSchema, models: Sequence[ModelSpec]) -> list[FieldKey]:
    """Hide the fields Amplify field-level @auth rules forbid (null), per caller and row.

    Also compiles every model's rules, so a malformed rule fails at start (ConfigError).
    Returns the wrapped fields.
    """
    wrapped: list[FieldKey] = []
    for spec in models:
        policy = policy_for(spec)
        t = schema.get_type(spec.name)
        if not isinstance(t, GraphQLObjectType):
            continue
        for fname in policy.field_rules:
            f = t.fields.get(fname)
            if f is None:
                continue
            original = f.resolve or default_field_resolver
            if getattr(original, "_syncline_redacts", False):
                continue
            f.resolve = _redactor(original, spec, fname)
            wrapped.append((spec.name, fname))
    return wrapped


def _redactor(resolve: _Resolver, spec: ModelSpec, field_name: str) -> _Resolver:
    policy = policy_for(spec)

    def resolver(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        identity = getattr(info.context, "identity", None)
        if identity is not None and isinstance(source, Mapping):
            op = "listen" if info.operation.operation is OperationType.SUBSCRIPTION else "get"
            if field_name in policy.hidden_fields(identity, source, op):
                return None
        return resolve(source, info, **arguments)

    resolver._syncline_redacts = True  # type: ignore[attr-defined]
    return resolver
