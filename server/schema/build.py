"""`build_schema`: the user's SDL + syncline.toml → an executable, AppSync-compatible schema.

`expand` writes the full SDL; ariadne makes it executable with the AppSync scalars; the
generated model fields get Store-backed resolvers and user bindings are attached last, so a
user function may also replace a generated resolver (`"Mutation.createTodo"`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ariadne import EnumType, make_executable_schema
from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema, get_named_type

from server.errors import ConfigError
from server.models import ModelSpec
from server.schema.authz import install_field_rules
from server.schema.execution import item_only
from server.schema.expand import Expansion, ModelOperations, expand
from server.schema.formatting import format_error
from server.schema.resolvers import ResolverBinding, load_resolvers, model_resolver, relation_resolver, user_resolver
from server.schema.scalars import AWS_SCALARS, serialize_aws_json_value

__all__ = ["SchemaBundle", "build_schema", "format_error", "load_resolvers"]

#: Amplify's `attributeType` enum names → the DynamoDB type names server.filters evaluates.
_ATTRIBUTE_TYPES = EnumType(
    "ModelAttributeTypes",
    {
        "binary": "B",
        "binarySet": "BS",
        "bool": "BOOL",
        "list": "L",
        "map": "M",
        "number": "N",
        "numberSet": "NS",
        "string": "S",
        "stringSet": "SS",
        "_null": "NULL",
    },
)


@dataclass(frozen=True, kw_only=True)
class SchemaBundle:
    schema: GraphQLSchema
    models: tuple[ModelSpec, ...]
    #: The full generated SDL (what AppSync would show as the schema, directives included).
    sdl: str
    #: Model name → its generated root field names.
    operations: Mapping[str, ModelOperations] = field(default_factory=dict)
    #: Subscription field → the mutation fields whose results it delivers (@aws_subscribe).
    subscribe_to: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def subscriptions_for(self, mutation: str) -> tuple[str, ...]:
        """The subscription fields whose `@aws_subscribe` lists `mutation` (in schema order)."""
        return tuple(sub for sub, mutations in self.subscribe_to.items() if mutation in mutations)

    def model(self, name: str) -> ModelSpec | None:
        for m in self.models:
            if m.name == name:
                return m
        return None


def build_schema(
    sdl: str,
    *,
    model_settings: Mapping[str, Mapping[str, Any]] | None = None,
    resolvers: Mapping[str, ResolverBinding] | None = None,
) -> SchemaBundle:
    """Build the executable schema.

    Args:
        sdl: the text of schema.graphql.
        model_settings: `[models.<Name>]` tables from syncline.toml (`conflict`, ...).
        resolvers: `"Type.field"` → binding, from `load_resolvers`.

    Returns:
        The schema (resolvers read `info.context`, a RequestContext), the models and the SDL.

    Raises:
        ConfigError: the SDL is invalid, or a binding names a type or field that does not exist.
    """
    ex = expand(sdl, model_settings=model_settings)
    try:
        schema = make_executable_schema(ex.sdl, *AWS_SCALARS, _ATTRIBUTE_TYPES)
    except (GraphQLError, TypeError, ValueError) as exc:
        raise ConfigError(f"schema.graphql: {_schema_message(exc)}") from exc
    _check_subscriptions(schema, ex)
    _bind_models(schema, ex)
    for key, binding in (resolvers or {}).items():
        _bind_user(schema, ex, key, binding)
    _check_function_fields(schema, resolvers or {})
    install_field_rules(schema, ex.models)
    return SchemaBundle(
        schema=schema, models=ex.models, sdl=ex.sdl, operations=ex.operations, subscribe_to=ex.subscribe_to
    )


def _schema_message(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, GraphQLError) else str(exc)
    return " ".join(text.split())


def _root(schema: GraphQLSchema, name: str) -> GraphQLObjectType:
    t = schema.get_type(name)
    assert isinstance(t, GraphQLObjectType), name
    return t


def _check_subscriptions(schema: GraphQLSchema, ex: Expansion) -> None:
    """`@aws_subscribe(mutations: [...])` must name mutations returning the subscription's type.

    AppSync delivers the mutation's result as the subscription's payload, so it refuses a
    schema where the two types differ; so do we, at start rather than at delivery.
    """
    sub_type = schema.subscription_type
    mut_type = schema.mutation_type
    for sub_name, mutations in ex.subscribe_to.items():
        if sub_type is None or sub_name not in sub_type.fields:
            continue
        sub_returns = get_named_type(sub_type.fields[sub_name].type)
        for m in mutations:
            where = f"{ex.subscription}.{sub_name}: @aws_subscribe(mutations: [...]) names {m!r}"
            if mut_type is None or m not in mut_type.fields:
                raise ConfigError(f"{where}, but {ex.mutation} has no such field")
            mut_returns = get_named_type(mut_type.fields[m].type)
            if mut_returns is not sub_returns:
                raise ConfigError(
                    f"{where}, which returns {mut_returns.name}; the subscription returns {sub_returns.name} "
                    "(they must return the same type)"
                )


def _json_field(name: str, is_list: bool) -> Any:
    """Encode a stored AWSJSON value here, always: a stored JSON string such as "123" must go
    out as the JSON text '"123"', not pass through as if it were the number 123."""

    @item_only  # server/schema/execution.py serves long lists without resolve info
    def resolve(item: Any, _info: Any) -> Any:
        value = item.get(name) if type(item) is dict or isinstance(item, Mapping) else getattr(item, name, None)
        if value is None:
            return None
        if is_list and isinstance(value, list):
            return [None if v is None else serialize_aws_json_value(v) for v in value]
        return serialize_aws_json_value(value)

    return resolve


def _bind_models(schema: GraphQLSchema, ex: Expansion) -> None:
    specs = {m.name: m for m in ex.models}
    for owner, relations in ex.relations.items():
        for rel_field, relation in relations.items():
            _root(schema, owner).fields[rel_field].resolve = relation_resolver(specs[relation.target], relation)
    for spec in ex.models:
        model_type = _root(schema, spec.name)
        for f in spec.fields:
            if f.type_name == "AWSJSON":
                model_type.fields[f.name].resolve = _json_field(f.name, f.is_list)
        ops = ex.operations[spec.name]
        for op, field_name, root in (
            ("get", ops.get, ex.query),
            ("list", ops.list, ex.query),
            ("sync", ops.sync, ex.query),
            ("create", ops.create, ex.mutation),
            ("update", ops.update, ex.mutation),
            ("delete", ops.delete, ex.mutation),
        ):
            if field_name:
                _root(schema, root).fields[field_name].resolve = model_resolver(
                    spec, op, defaults=ex.defaults.get(spec.name)
                )


def _check_function_fields(schema: GraphQLSchema, resolvers: Mapping[str, ResolverBinding]) -> None:
    """Amplify's `@function(name:)` names a Lambda; here the field needs a [resolvers] binding."""
    for type_name, t in schema.type_map.items():
        if not isinstance(t, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for field_name, f in t.fields.items():
            node = f.ast_node
            names = [
                d.arguments[0].value.value  # type: ignore[attr-defined]
                for d in (node.directives if node is not None else ()) or ()
                if d.name.value == "function" and d.arguments
            ]
            key = f"{type_name}.{field_name}"
            if names and key not in resolvers:
                raise ConfigError(
                    f"{key}: @function(name: {names[0]!r}) needs a binding in syncline.toml, e.g. "
                    f'[resolvers] "{key}" = "resolvers:{_identifier(names[0])}"'
                )


def _identifier(name: str) -> str:
    text = "".join(c if c.isalnum() else "_" for c in name.split("-${env}")[0]).strip("_")
    return text if text.isidentifier() else "handler"


def _bind_user(schema: GraphQLSchema, ex: Expansion, key: str, binding: ResolverBinding) -> None:
    type_name, _, field_name = key.partition(".")
    t = schema.get_type(type_name)
    if not isinstance(t, GraphQLObjectType):
        kind = "no type" if t is None else f"{type(t).__name__.removeprefix('GraphQL').removesuffix('Type').lower()} type"
        raise ConfigError(f"[resolvers] {key!r}: schema.graphql has {kind} {type_name!r}; bind object type fields")
    if field_name not in t.fields:
        raise ConfigError(
            f"[resolvers] {key!r}: {type_name} has no field {field_name!r} (fields: {', '.join(sorted(t.fields))})"
        )
    if type_name == ex.subscription:
        raise ConfigError(
            f"[resolvers] {key!r}: subscription fields are fed by mutations (@aws_subscribe); bind the mutation instead"
        )
    t.fields[field_name].resolve = user_resolver(binding, key)
