"""The user's SDL → the full SDL AppSync/Amplify would serve, plus one `ModelSpec` per `@model`.

AWS's own clients (Amplify DataStore, API category, codegen) send documents written against
the schema the Amplify transformer generates, so names and argument types are copied exactly:
`syncTodos(filter: ModelTodoFilterInput, limit: Int, nextToken: String, lastSync:
AWSTimestamp): ModelTodoConnection`, `CreateTodoInput`, `ModelStringInput` and so on. Only
the SDL text is produced here (graphql-core's parser, no ariadne): `build.py` makes it
executable.

Amplify directives understood besides `@model` and `@auth`: `@default(value:)`, and the
`@function` (a field computed by a [resolvers] binding), the
relationships `@hasMany` / `@hasOne` / `@belongsTo` (argument-less with Amplify's implicit
foreign keys such as `postCommentsId`, `references: [...]`, or `indexName` + `@index`).
Relationship fields are not stored; they are joined at read time. `extend type X` on a model
adds computed (unstored) fields for user resolvers. Other Amplify directives (@primaryKey,
@manyToMany, @searchable, @function, custom @primaryKey ...) are refused by name.

One deliberate deviation: filters on `AWSTimestamp` fields (and `_lastChangedAt`) take
`ModelTimestampInput`, whose operands are `AWSTimestamp`, because Syncline stamps epoch
*milliseconds* that do not fit GraphQL's 32-bit `Int` (Amplify uses `ModelIntInput` there).
Clients only name the top-level `Model<X>FilterInput`, so they are unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from graphql import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ScalarTypeDefinitionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    TypeNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
    parse,
    print_ast,
)
from graphql.execution.values import get_directive_values

from server.errors import ConfigError
from server.models import CONFLICT_STRATEGIES, METADATA_FIELDS, FieldSpec, ModelSpec
from server.schema._plural import pluralize
from server.schema.scalars import (
    AWS_SCALAR_NAMES,
    SCALARS_SDL,
    parse_aws_date,
    parse_aws_date_time,
    parse_aws_email,
    parse_aws_ip_address,
    parse_aws_json,
    parse_aws_phone,
    parse_aws_time,
    parse_aws_timestamp,
    parse_aws_url,
)

__all__ = [
    "DIRECTIVES_SDL",
    "Expansion",
    "ModelOperations",
    "Relation",
    "expand",
    "pluralize",
]

BUILTIN_SCALARS = ("ID", "String", "Int", "Float", "Boolean")

_AWS_PARSERS: dict[str, Any] = {
    "AWSDate": parse_aws_date,
    "AWSTime": parse_aws_time,
    "AWSDateTime": parse_aws_date_time,
    "AWSTimestamp": parse_aws_timestamp,
    "AWSEmail": parse_aws_email,
    "AWSJSON": parse_aws_json,
    "AWSURL": parse_aws_url,
    "AWSPhone": parse_aws_phone,
    "AWSIPAddress": parse_aws_ip_address,
}

DIRECTIVES_SDL = '''
directive @model(queries: ModelQueryMap, mutations: ModelMutationMap, subscriptions: ModelSubscriptionMap, timestamps: TimestampConfiguration) on OBJECT
input ModelQueryMap { get: String list: String }
input ModelMutationMap { create: String update: String delete: String }
input ModelSubscriptionMap { onCreate: [String] onUpdate: [String] onDelete: [String] level: ModelSubscriptionLevel }
enum ModelSubscriptionLevel { off public on }
input TimestampConfiguration { createdAt: String updatedAt: String }
directive @auth(rules: [AuthRule!]!) on OBJECT | FIELD_DEFINITION
input AuthRule {
  allow: AuthStrategy!
  provider: AuthProvider
  identityClaim: String
  groupClaim: String
  ownerField: String
  groupsField: String
  groups: [String]
  operations: [ModelOperation]
}
enum AuthStrategy { owner groups private public custom }
enum AuthProvider { apiKey iam oidc userPools function }
enum ModelOperation { create update delete read list get sync listen search }
directive @aws_subscribe(mutations: [String]) on FIELD_DEFINITION
directive @aws_auth(cognito_groups: [String]) on FIELD_DEFINITION
directive @aws_api_key on FIELD_DEFINITION | OBJECT
directive @aws_iam on FIELD_DEFINITION | OBJECT
directive @aws_oidc on FIELD_DEFINITION | OBJECT
directive @aws_lambda on FIELD_DEFINITION | OBJECT
directive @aws_cognito_user_pools(cognito_groups: [String]) on FIELD_DEFINITION | OBJECT
directive @default(value: String) on FIELD_DEFINITION
directive @hasMany(indexName: String, fields: [String!], limit: Int = 100, references: [String!]) on FIELD_DEFINITION
directive @hasOne(fields: [String!], references: [String!]) on FIELD_DEFINITION
directive @belongsTo(fields: [String!], references: [String!]) on FIELD_DEFINITION
directive @index(name: String, sortKeyFields: [String], queryField: String) on FIELD_DEFINITION
directive @primaryKey(sortKeyFields: [String]) on FIELD_DEFINITION
directive @function(name: String!, region: String, accountId: String) repeatable on FIELD_DEFINITION
'''

#: Scalar → filter family: which `Model<Family>Input` filters it (Amplify's mapping).
_FAMILY: dict[str, str] = {
    "ID": "ID",
    "String": "String",
    "Int": "Int",
    "Float": "Float",
    "Boolean": "Boolean",
    "AWSTimestamp": "Timestamp",
    **{s: "String" for s in AWS_SCALAR_NAMES if s != "AWSTimestamp"},
}
_OPERAND = {"ID": "ID", "String": "String", "Int": "Int", "Float": "Float", "Boolean": "Boolean", "Timestamp": "AWSTimestamp"}

_COMPARE = ("ne", "eq", "le", "lt", "ge", "gt")
_STRINGY = _COMPARE + ("contains", "notContains", "between", "beginsWith")
_NUMERIC = _COMPARE + ("between",)
_META_OPS = ("attributeExists", "attributeType")


def _ops_input(name: str, operand: str, ops: Iterable[str]) -> str:
    lines = []
    for op in ops:
        if op in ("between", "in", "notIn"):
            t = f"[{operand}]"
        elif op == "attributeExists":
            t = "Boolean"
        elif op == "attributeType":
            t = "ModelAttributeTypes"
        elif op == "size":
            t = "ModelSizeInput"
        else:
            t = operand
        lines.append(f"  {op}: {t}")
    return f"input {name} {{\n" + "\n".join(lines) + "\n}\n"


def _shared_inputs() -> str:
    """The inputs every Amplify schema carries (operator sets as AppSync defines them)."""
    out = [
        "enum ModelAttributeTypes {\n  binary\n  binarySet\n  bool\n  list\n  map\n  number\n"
        "  numberSet\n  string\n  stringSet\n  _null\n}\n",
        "enum ModelSortDirection {\n  ASC\n  DESC\n}\n",
        _ops_input("ModelSizeInput", "Int", _NUMERIC),
    ]
    for fam in ("String", "ID"):
        out.append(_ops_input(f"Model{fam}Input", _OPERAND[fam], _STRINGY + _META_OPS + ("size",)))
    for fam in ("Int", "Float", "Timestamp"):
        out.append(_ops_input(f"Model{fam}Input", _OPERAND[fam], _NUMERIC + _META_OPS))
    out.append(_ops_input("ModelBooleanInput", "Boolean", ("ne", "eq") + _META_OPS))
    for fam in ("String", "ID"):
        out.append(_ops_input(f"ModelSubscription{fam}Input", _OPERAND[fam], _STRINGY + ("in", "notIn")))
    for fam in ("Int", "Float", "Timestamp"):
        out.append(_ops_input(f"ModelSubscription{fam}Input", _OPERAND[fam], _NUMERIC + ("in", "notIn")))
    out.append(_ops_input("ModelSubscriptionBooleanInput", "Boolean", ("ne", "eq")))
    return "\n".join(out)


SHARED_INPUTS_SDL = _shared_inputs()

_PRELUDE_SCHEMA: GraphQLSchema = build_ast_schema(
    parse(SCALARS_SDL + DIRECTIVES_SDL + "type Query { _: Boolean }\n")
)
#: Types we declare; a pasted Amplify schema that declares them too gets ours.
_PRELUDE_TYPES = frozenset(
    n for n in _PRELUDE_SCHEMA.type_map if not n.startswith("__") and n not in ("Query", *BUILTIN_SCALARS)
) | frozenset(getattr(d, "name").value for d in parse(SHARED_INPUTS_SDL).definitions)
_OUR_DIRECTIVES = frozenset(d.name for d in _PRELUDE_SCHEMA.directives)

#: Amplify directives a pasted schema may carry; named in the error so the user knows why.
_AMPLIFY_UNSUPPORTED = frozenset(
    {
        "manyToMany", "key", "connection",
        "searchable", "http", "predictions", "versioned", "aws_cognito_user_pools_off",
        "mapsTo", "refersTo", "sql", "validate",
    }
)


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True, kw_only=True)
class ModelOperations:
    """Generated root field names of one model; `None` where `@model(...: null)` turned one off."""

    get: str | None
    list: str | None
    sync: str | None
    create: str | None
    update: str | None
    delete: str | None
    on_create: tuple[str, ...] = ()
    on_update: tuple[str, ...] = ()
    on_delete: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Relation:
    """A relationship field of a model (Amplify's @hasMany / @hasOne / @belongsTo).

    The related items are separate items of `target`, joined by the foreign-key field `fk`:
    on the target (`fk_on_target`: target[fk] == this item's id) or on this model
    (this item's fk == target's id). Relationship fields are not stored themselves.
    """

    kind: str  # "hasMany" | "hasOne" | "belongsTo"
    target: str
    fk: str
    fk_on_target: bool


@dataclass(frozen=True, kw_only=True)
class Expansion:
    sdl: str
    models: tuple[ModelSpec, ...]
    operations: Mapping[str, ModelOperations]
    query: str = "Query"
    mutation: str = "Mutation"
    subscription: str = "Subscription"
    #: Subscription fields (any, not only generated) → the mutations their @aws_subscribe names.
    subscribe_to: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Model → field → value that `create` fills in when the input omits it (`@default`).
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Model → relationship field → how it joins.
    relations: Mapping[str, Mapping[str, Relation]] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _TypeRef:
    name: str
    required: bool
    is_list: bool
    item_required: bool


def _unwrap(node: TypeNode, where: str) -> _TypeRef:
    required = isinstance(node, NonNullTypeNode)
    inner = node.type if isinstance(node, NonNullTypeNode) else node
    if isinstance(inner, ListTypeNode):
        item = inner.type
        item_required = isinstance(item, NonNullTypeNode)
        item = item.type if isinstance(item, NonNullTypeNode) else item
        if not isinstance(item, NamedTypeNode):
            raise ConfigError(f"{where}: lists of lists are not supported in a @model; wrap the inner list in an object type")
        return _TypeRef(item.name.value, required, True, item_required)
    assert isinstance(inner, NamedTypeNode)
    return _TypeRef(inner.name.value, required, False, False)



def _directive(node: Any, name: str) -> DirectiveNode | None:
    for d in node.directives or ():
        if d.name.value == name:
            return d  # type: ignore[no-any-return]
    return None


def _directive_args(name: str, host: Any, where: str) -> dict[str, Any]:
    """Coerce one of our directives' arguments with their declared types; ConfigError if wrong."""
    definition = _PRELUDE_SCHEMA.get_directive(name)
    directive = _directive(host, name)
    assert definition is not None and directive is not None
    try:
        values = get_directive_values(definition, _OnlyDirective(directive))  # type: ignore[arg-type]
    except GraphQLError as exc:
        raise ConfigError(f"{where}: @{name}: {exc.message}") from None
    return values or {}


class _OnlyDirective:
    """A node exposing a single directive, for graphql-core's `get_directive_values`."""

    def __init__(self, directive: DirectiveNode) -> None:
        self.directives = (directive,)


def _syntax_error(exc: GraphQLSyntaxError) -> ConfigError:
    loc = f" at line {exc.locations[0].line}, column {exc.locations[0].column}" if exc.locations else ""
    return ConfigError(f"schema.graphql: syntax error{loc}: {exc.message.removeprefix('Syntax Error: ')}")


# --------------------------------------------------------------------------- expansion


class _Expander:
    def __init__(self, doc: DocumentNode, model_settings: Mapping[str, Mapping[str, Any]]) -> None:
        self.doc = doc
        self.model_settings = model_settings
        self.kept: list[Any] = []  # user definitions carried over as written
        self.objects: dict[str, ObjectTypeDefinitionNode] = {}
        self.enums: set[str] = set()
        self.enum_values: dict[str, set[str]] = {}
        self.defaults: dict[str, dict[str, Any]] = {}  # model → field → value from @default
        self.relations: dict[str, dict[str, Relation]] = {}
        self.implicit_fks: dict[str, list[str]] = {}  # model → foreign keys Amplify would add
        self.inputs: set[str] = set()
        self.abstract: set[str] = set()  # interfaces and unions
        self.scalars: set[str] = set(BUILTIN_SCALARS) | set(AWS_SCALAR_NAMES)
        self.user_directives: set[str] = set()
        self.model_nodes: list[ObjectTypeDefinitionNode] = []
        self.root_defined: set[str] = set()
        self.roots = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}
        self.has_schema_definition = False
        self.explicit_roots: set[str] = set()
        self.generated_inputs: dict[str, str] = {}  # non-model object type → its <T>Input name
        self.extra_sdl: list[str] = []

    # -- collection
    def collect(self) -> None:
        for d in self.doc.definitions:
            if isinstance(d, DirectiveDefinitionNode):
                if d.name.value in _OUR_DIRECTIVES:
                    continue  # a pasted Amplify schema may redeclare ours
                self.user_directives.add(d.name.value)
            elif isinstance(d, ScalarTypeDefinitionNode):
                if d.name.value in AWS_SCALAR_NAMES:
                    continue
                self.scalars.add(d.name.value)
            elif isinstance(d, (SchemaDefinitionNode, SchemaExtensionNode)):
                self.has_schema_definition = True
                for op in d.operation_types or ():
                    self.roots[op.operation.value] = op.type.name.value
                    self.explicit_roots.add(op.operation.value)
            elif isinstance(d, ObjectTypeDefinitionNode):
                self.objects[d.name.value] = d
                if _directive(d, "model") is not None:
                    self.model_nodes.append(d)
                    continue
            elif isinstance(d, EnumTypeDefinitionNode):
                if d.name.value in _PRELUDE_TYPES:
                    continue
                self.enums.add(d.name.value)
                self.enum_values[d.name.value] = {v.name.value for v in d.values or ()}
            elif isinstance(d, InputObjectTypeDefinitionNode):
                if d.name.value in _PRELUDE_TYPES:
                    continue
                self.inputs.add(d.name.value)
            elif isinstance(d, (InterfaceTypeDefinitionNode, UnionTypeDefinitionNode)):
                self.abstract.add(d.name.value)
            self.kept.append(d)
        for name in self.roots.values():
            if name in self.objects:
                self.root_defined.add(name)

    def check_directives(self) -> None:
        """Unknown directives and unknown arguments get a message naming type and field."""
        for d in self.doc.definitions:
            type_name = getattr(getattr(d, "name", None), "value", "schema")
            self._check_node_directives(d, type_name)
            for f in getattr(d, "fields", None) or ():
                self._check_node_directives(f, f"{type_name}.{f.name.value}")
                for a in getattr(f, "arguments", None) or ():
                    self._check_node_directives(a, f"{type_name}.{f.name.value}({a.name.value})")
            for v in getattr(d, "values", None) or ():
                self._check_node_directives(v, f"{type_name}.{v.name.value}")

    def _check_node_directives(self, node: Any, where: str) -> None:
        for directive in getattr(node, "directives", None) or ():
            name = directive.name.value
            if name in self.user_directives or name in ("deprecated", "specifiedBy", "oneOf"):
                continue
            definition = _PRELUDE_SCHEMA.get_directive(name)
            if definition is None:
                why = (
                    "is an Amplify directive Syncline does not support yet"
                    if name in _AMPLIFY_UNSUPPORTED
                    else "is not a known directive"
                )
                known = ", ".join(f"@{n}" for n in sorted(_OUR_DIRECTIVES))
                raise ConfigError(f"{where}: @{name} {why} (supported: {known}, @deprecated)")
            for arg in directive.arguments or ():
                if arg.name.value not in definition.args:
                    known_args = ", ".join(definition.args) or "none"
                    raise ConfigError(
                        f"{where}: @{name} has no argument '{arg.name.value}' (arguments: {known_args})"
                    )

    # -- relationships
    def plan_relations(self) -> None:
        """Find every relationship field and its foreign key before any model is expanded,
        since `@hasMany` adds a field to the *other* model."""
        models = {n.name.value: n for n in self.model_nodes}
        pending_belongs: list[tuple[str, Any, str]] = []
        for node in self.model_nodes:
            name = node.name.value
            for f in node.fields or ():
                where = f"{name}.{f.name.value}"
                kinds = [k for k in ("hasMany", "hasOne", "belongsTo") if _directive(f, k) is not None]
                if not kinds:
                    continue
                if len(kinds) > 1:
                    raise ConfigError(f"{where}: use one of @hasMany, @hasOne, @belongsTo, not several")
                kind = kinds[0]
                ref = _unwrap(f.type, where)
                if ref.name not in models:
                    raise ConfigError(f"{where}: @{kind} needs a @model type, and {ref.name} is not one")
                if (kind == "hasMany") != ref.is_list:
                    need = f"a list such as [{ref.name}]" if kind == "hasMany" else f"a single {ref.name}"
                    raise ConfigError(f"{where}: @{kind} needs {need}, not {_type_text(ref.name, ref, optional=False)}")
                args = _directive_args(kind, f, where)
                if kind == "belongsTo":
                    pending_belongs.append((name, f, where))
                    continue
                self.relations.setdefault(name, {})[f.name.value] = self._relation(
                    kind, name, f.name.value, ref.name, args, models[ref.name], where
                )
        for name, f, where in pending_belongs:
            ref = _unwrap(f.type, where)
            args = _directive_args("belongsTo", f, where)
            self.relations.setdefault(name, {})[f.name.value] = self._relation(
                "belongsTo", name, f.name.value, ref.name, args, models[ref.name], where
            )

    def _relation(
        self, kind: str, name: str, fname: str, target: str, args: Mapping[str, Any], target_node: Any, where: str
    ) -> Relation:
        keys = args.get("references") or args.get("fields")
        if keys is not None and len(keys) != 1:
            raise ConfigError(f"{where}: @{kind} with composite keys is not supported; name one field")
        key: str = keys[0] if keys else ""
        implicit = f"{name[0].lower()}{name[1:]}{fname[0].upper()}{fname[1:]}Id"
        if kind == "hasMany":
            if args.get("references"):
                return Relation(kind=kind, target=target, fk=key, fk_on_target=True)
            index = args.get("indexName")
            if index:
                for tf in target_node.fields or ():
                    d = _directive(tf, "index")
                    if d is not None and _directive_args("index", tf, f"{target}.{tf.name.value}").get("name") == index:
                        return Relation(kind=kind, target=target, fk=tf.name.value, fk_on_target=True)
                raise ConfigError(f"{where}: @hasMany(indexName: {index!r}): {target} has no field with @index(name: {index!r})")
            if args.get("fields"):
                raise ConfigError(f"{where}: @hasMany(fields: ...) needs indexName too (or use references: [\"...\"])")
            self.implicit_fks.setdefault(target, []).append(implicit)
            return Relation(kind=kind, target=target, fk=implicit, fk_on_target=True)
        if kind == "hasOne":
            if args.get("references"):
                return Relation(kind=kind, target=target, fk=key, fk_on_target=True)
            if args.get("fields"):
                return Relation(kind=kind, target=target, fk=key, fk_on_target=False)
            self.implicit_fks.setdefault(name, []).append(implicit)
            return Relation(kind=kind, target=target, fk=implicit, fk_on_target=False)
        # belongsTo: the key is on this model; without one, reuse the implicit key of a
        # @hasMany pointing back here, as Amplify does.
        if keys:
            return Relation(kind=kind, target=target, fk=key, fk_on_target=False)
        for back in self.relations.get(target, {}).values():
            if back.kind == "hasMany" and back.target == name and back.fk_on_target:
                return Relation(kind=kind, target=target, fk=back.fk, fk_on_target=False)
        self.implicit_fks.setdefault(name, []).append(implicit)
        return Relation(kind=kind, target=target, fk=implicit, fk_on_target=False)

    # -- models
    def field_kind(self, ref: _TypeRef, where: str) -> str:
        if ref.name in self.scalars:
            return "scalar"
        if ref.name in self.enums:
            return "enum"
        if ref.name in self.objects:
            target = self.objects[ref.name]
            if _directive(target, "model") is not None:
                raise ConfigError(
                    f"{where}: refers to the @model type {ref.name}; mark it as a relationship with "
                    f"@belongsTo or @hasOne (or @hasMany on a list), or store the id instead "
                    f"(e.g. {ref.name[0].lower()}{ref.name[1:]}ID: ID)"
                )
            if ref.name in self.roots.values():
                raise ConfigError(f"{where}: cannot store the root type {ref.name}")
            return "object"
        if ref.name in self.abstract:
            raise ConfigError(
                f"{where}: interface/union type {ref.name} cannot be stored in a @model "
                "(GraphQL has no input for it); use a non-model object type"
            )
        if ref.name in self.inputs:
            raise ConfigError(f"{where}: {ref.name} is an input type; a field needs an output type")
        raise ConfigError(f"{where}: unknown type {ref.name}")

    def object_input(self, type_name: str, trail: tuple[str, ...]) -> str:
        """`Address` (stored as JSON inside an item) → `AddressInput` with the same fields."""
        if type_name in self.generated_inputs:
            return self.generated_inputs[type_name]
        input_name = f"{type_name}Input"
        self.generated_inputs[type_name] = input_name
        if input_name in self.inputs:
            return input_name  # the user declared it already: theirs is used as is
        node = self.objects[type_name]
        lines = []
        for f in node.fields or ():
            where = f"{type_name}.{f.name.value} (stored in {trail[0]})"
            ref = _unwrap(f.type, where)
            kind = self.field_kind(ref, where)
            inner = self.object_input(ref.name, trail) if kind == "object" else ref.name
            lines.append(f"  {f.name.value}: {_type_text(inner, ref, optional=False)}")
        if not lines:
            raise ConfigError(f"{type_name}: an object type stored in a @model needs at least one field")
        self.extra_sdl.append(f"input {input_name} {{\n" + "\n".join(lines) + "\n}\n")
        return input_name

    def model(self, node: ObjectTypeDefinitionNode) -> tuple[ModelSpec, ModelOperations, str]:
        name = node.name.value
        if name in self.roots.values():
            raise ConfigError(f"{name}: a root operation type cannot be a @model")
        settings = dict(self.model_settings.get(name, {}))
        conflict = settings.get("conflict", "AUTOMERGE")
        if conflict not in CONFLICT_STRATEGIES:
            raise ConfigError(
                f"syncline.toml: [models.{name}] conflict = {conflict!r} is not one of {', '.join(CONFLICT_STRATEGIES)}"
            )
        plural = str(settings.get("plural") or pluralize(name))
        model_args = _directive_args("model", node, name)
        auth_rules: tuple[dict[str, Any], ...] = ()
        if _directive(node, "auth") is not None:
            auth_rules = tuple(dict(r) for r in _directive_args("auth", node, name).get("rules") or ())
        ts = model_args.get("timestamps", ...)
        if ts is not ... and (ts is None or any(v not in (None, k) for k, v in ts.items())):
            raise ConfigError(f"{name}: @model(timestamps: ...) cannot rename or drop createdAt/updatedAt in Syncline")

        fields: list[FieldSpec] = []
        field_sdl: list[str] = []
        field_rules: dict[str, tuple[dict[str, Any], ...]] = {}
        for f in node.fields or ():
            fname = f.name.value
            where = f"{name}.{fname}"
            ref = _unwrap(f.type, where)
            if _directive(f, "primaryKey") is not None and (
                fname != "id" or _directive_args("primaryKey", f, where).get("sortKeyFields")
            ):
                raise ConfigError(
                    f"{where}: custom primary keys are not supported yet; items are keyed by `id: ID!` "
                    "(use @index on other fields)"
                )
            if fname in METADATA_FIELDS:
                expected = {"id": "ID", "createdAt": "AWSDateTime", "updatedAt": "AWSDateTime"}.get(fname)
                if expected is not None and ref.name == expected and not ref.is_list and not f.arguments:
                    continue  # Amplify schemas spell these out; the server manages them
                raise ConfigError(
                    f"{where}: '{fname}' is a metadata field the server manages "
                    f"({', '.join(METADATA_FIELDS)}); rename the field"
                )
            relation = self.relations.get(name, {}).get(fname)
            if relation is not None:
                field_sdl.append(self._relation_sdl(f, relation))
                continue
            if _directive(f, "function") is not None:
                field_sdl.append(_indent(print_ast(f)))  # computed by a data source, not stored
                continue
            if f.arguments:
                raise ConfigError(f"{where}: fields of a @model cannot take arguments")
            if _directive(f, "index") is not None:
                if _directive_args("index", f, where).get("queryField"):
                    raise ConfigError(f"{where}: @index(queryField: ...) is not supported yet; use listXs with a filter")
            kind = self.field_kind(ref, where)
            if kind == "object":
                self.object_input(ref.name, (name,))
            fields.append(
                FieldSpec(
                    name=fname,
                    type_name=ref.name,
                    kind=kind,  # type: ignore[arg-type]
                    required=ref.required,
                    is_list=ref.is_list,
                    item_required=ref.item_required,
                )
            )
            field_sdl.append(_indent(print_ast(f)))
            if _directive(f, "auth") is not None:
                field_rules[fname] = tuple(dict(r) for r in _directive_args("auth", f, where).get("rules") or ())
            if _directive(f, "default") is not None:
                raw = _directive_args("default", f, where).get("value")
                self.defaults.setdefault(name, {})[fname] = self._default_value(fields[-1], raw, where)
        for fk in self.implicit_fks.get(name, ()):
            if fk not in {f.name for f in fields}:
                # Amplify adds the foreign key of an argument-less relationship to the model.
                fields.append(FieldSpec(name=fk, type_name="ID", kind="scalar"))
                field_sdl.append(f"  {fk}: ID")
        if not fields:
            raise ConfigError(f"{name}: a @model needs at least one field besides the metadata fields ({', '.join(METADATA_FIELDS)})")
        for rule in auth_rules:
            if rule.get("allow") == "owner":
                owner = rule.get("ownerField") or "owner"
                if owner not in {f.name for f in fields}:
                    # Amplify adds the implicit owner field, so clients can read and filter it.
                    fields.append(FieldSpec(name=owner, type_name="String", kind="scalar"))
                    field_sdl.append(f"  {owner}: String")

        ops = _operations(name, plural, model_args)
        spec = ModelSpec(
            name=name,
            fields=tuple(fields),
            conflict=conflict,  # type: ignore[arg-type]
            plural=plural,
            auth_rules=auth_rules,
            field_auth_rules=field_rules,
        )
        return spec, ops, self._model_sdl(node, spec, field_sdl)

    def _relation_sdl(self, f: Any, relation: Relation) -> str:
        if relation.kind != "hasMany":
            return _indent(print_ast(f))
        t = relation.target
        directives = "".join(" " + print_ast(d) for d in f.directives or ())
        desc = _indent(print_ast(f.description)) + "\n" if f.description is not None else ""
        return (
            f"{desc}  {f.name.value}(filter: Model{t}FilterInput, sortDirection: ModelSortDirection, "
            f"limit: Int, nextToken: String): Model{t}Connection{directives}"
        )

    def _default_value(self, f: FieldSpec, raw: Any, where: str) -> Any:
        """Amplify's `@default(value: "...")`: the string is read as the field's type."""
        if f.is_list or f.kind == "object":
            raise ConfigError(f"{where}: @default works on scalar and enum fields, not on {f.describe()}")
        if raw is None:
            raise ConfigError(f"{where}: @default needs a value, e.g. @default(value: \"...\")")
        t = f.type_name
        try:
            if f.kind == "enum":
                if raw not in self.enum_values.get(t, set()):
                    raise ValueError(f"{t} has no value {raw!r}")
                return raw
            if t == "Int":
                value = int(raw)
                if not -(2**31) <= value < 2**31:
                    raise ValueError("out of the 32-bit range")
                return value
            if t == "Float":
                return float(raw)
            if t == "Boolean":
                if raw not in ("true", "false"):
                    raise ValueError("use true or false")
                return raw == "true"
            if t == "AWSTimestamp":
                return _AWS_PARSERS[t](int(raw))
            if t in _AWS_PARSERS:
                return _AWS_PARSERS[t](raw)
            return raw
        except (ValueError, GraphQLError) as exc:
            why = exc.message if isinstance(exc, GraphQLError) else str(exc)
            raise ConfigError(f"{where}: @default(value: {raw!r}) is not a valid {t} ({why})") from None

    def _model_sdl(self, node: ObjectTypeDefinitionNode, spec: ModelSpec, field_sdl: list[str]) -> str:
        head = ""
        if node.description is not None:
            head += print_ast(node.description) + "\n"
        head += f"type {spec.name}"
        if node.interfaces:
            head += " implements " + " & ".join(i.name.value for i in node.interfaces)
        for d in node.directives or ():
            head += " " + print_ast(d)
        body = [
            "  id: ID!",
            *field_sdl,
            "  createdAt: AWSDateTime!",
            "  updatedAt: AWSDateTime!",
            "  _version: Int!",
            "  _deleted: Boolean",
            "  _lastChangedAt: AWSTimestamp!",
        ]
        return head + " {\n" + "\n".join(body) + "\n}\n"

    def model_inputs(self, spec: ModelSpec) -> str:
        n = spec.name
        out: list[str] = [f"type Model{n}Connection {{\n  items: [{n}]!\n  nextToken: String\n  startedAt: AWSTimestamp\n}}\n"]
        filt, cond, sub = [], [], []
        for f in spec.fields:
            fi = self._filter_input(f, subscription=False)
            if fi is not None:
                filt.append(f"  {f.name}: {fi}")
                cond.append(f"  {f.name}: {fi}")
            si = self._filter_input(f, subscription=True)
            if si is not None:
                sub.append(f"  {f.name}: {si}")
        filt = [
            "  id: ModelIDInput",
            *filt,
            "  createdAt: ModelStringInput",
            "  updatedAt: ModelStringInput",
            "  _version: ModelIntInput",
            "  _deleted: ModelBooleanInput",
            "  _lastChangedAt: ModelTimestampInput",
            f"  and: [Model{n}FilterInput]",
            f"  or: [Model{n}FilterInput]",
            f"  not: Model{n}FilterInput",
        ]
        cond = [
            *cond,
            "  createdAt: ModelStringInput",
            "  updatedAt: ModelStringInput",
            "  _deleted: ModelBooleanInput",
            f"  and: [Model{n}ConditionInput]",
            f"  or: [Model{n}ConditionInput]",
            f"  not: Model{n}ConditionInput",
        ]
        sub = [
            "  id: ModelSubscriptionIDInput",
            *sub,
            "  createdAt: ModelSubscriptionStringInput",
            "  updatedAt: ModelSubscriptionStringInput",
            f"  and: [ModelSubscription{n}FilterInput]",
            f"  or: [ModelSubscription{n}FilterInput]",
            "  _deleted: ModelBooleanInput",
        ]
        out.append(f"input Model{n}FilterInput {{\n" + "\n".join(filt) + "\n}\n")
        out.append(f"input Model{n}ConditionInput {{\n" + "\n".join(cond) + "\n}\n")
        out.append(f"input ModelSubscription{n}FilterInput {{\n" + "\n".join(sub) + "\n}\n")

        create = ["  id: ID"]
        update = ["  id: ID!"]
        defaults = self.defaults.get(n, {})
        for f in spec.fields:
            ref = _TypeRef(f.type_name, f.required, f.is_list, f.item_required)
            inner = self.generated_inputs[f.type_name] if f.kind == "object" else f.type_name
            create.append(f"  {f.name}: {_type_text(inner, ref, optional=f.name in defaults)}")
            update.append(f"  {f.name}: {_type_text(inner, ref, optional=True)}")
        create.append("  _version: Int")
        update.append("  _version: Int")
        out.append(f"input Create{n}Input {{\n" + "\n".join(create) + "\n}\n")
        out.append(f"input Update{n}Input {{\n" + "\n".join(update) + "\n}\n")
        out.append(f"input Delete{n}Input {{\n  id: ID!\n  _version: Int\n}}\n")
        return "\n".join(out)

    def _filter_input(self, f: FieldSpec, *, subscription: bool) -> str | None:
        if f.kind == "object":
            return None
        if f.kind == "enum":
            if subscription:
                return "ModelSubscriptionStringInput"
            name = f"Model{f.type_name}{'List' if f.is_list else ''}Input"
            if name in _PRELUDE_TYPES:
                raise ConfigError(
                    f"enum {f.type_name}: its filter input {name} clashes with an AppSync input of that name; "
                    "rename the enum"
                )
            if name not in self.generated_inputs.values():
                self.generated_inputs[f"enum:{name}"] = name
                t = f.type_name
                body = f"  eq: [{t}]\n  ne: [{t}]\n  contains: {t}\n  notContains: {t}" if f.is_list else f"  eq: {t}\n  ne: {t}"
                self.extra_sdl.append(f"input {name} {{\n{body}\n}}\n")
            return name
        family = _FAMILY.get(f.type_name)
        if family is None:
            return None  # a user-declared custom scalar: not filterable
        return f"ModelSubscription{family}Input" if subscription else f"Model{family}Input"


def _operations(name: str, plural: str, args: Mapping[str, Any]) -> ModelOperations:
    def pick(group: str, key: str, default: str) -> str | None:
        if group not in args:
            return default
        value = args[group]
        if value is None:
            return None
        return value.get(key, default) if key in value else default

    def subs(key: str, default: str) -> tuple[str, ...]:
        if "subscriptions" not in args:
            return (default,)
        value = args["subscriptions"]
        if value is None or value.get("level") == "off":
            return ()
        if key not in value:
            return (default,)
        return tuple(v for v in value[key] or () if v)

    queries_off = "queries" in args and args["queries"] is None
    return ModelOperations(
        get=pick("queries", "get", f"get{name}"),
        list=pick("queries", "list", f"list{plural}"),
        sync=None if queries_off else f"sync{plural}",
        create=pick("mutations", "create", f"create{name}"),
        update=pick("mutations", "update", f"update{name}"),
        delete=pick("mutations", "delete", f"delete{name}"),
        on_create=subs("onCreate", f"onCreate{name}"),
        on_update=subs("onUpdate", f"onUpdate{name}"),
        on_delete=subs("onDelete", f"onDelete{name}"),
    )


def _type_text(inner: str, ref: _TypeRef, *, optional: bool) -> str:
    text = f"[{inner}{'!' if ref.item_required else ''}]" if ref.is_list else inner
    return text + ("!" if ref.required and not optional else "")


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _owner_args(spec: ModelSpec) -> str:
    owners = [r.get("ownerField") or "owner" for r in spec.auth_rules if r.get("allow") == "owner"]
    return "".join(f", {o}: String" for o in dict.fromkeys(owners))


def _check_relation_keys(models: list[ModelSpec], relations: Mapping[str, Mapping[str, Relation]]) -> None:
    by_name = {m.name: m for m in models}
    for owner, rels in relations.items():
        for fname, rel in rels.items():
            holder = rel.target if rel.fk_on_target else owner
            key = by_name[holder].field(rel.fk)
            if key is None:
                raise ConfigError(f"{owner}.{fname}: its key field {rel.fk!r} is not a field of {holder}; declare {rel.fk}: ID")
            if key.is_list or key.kind != "scalar":
                raise ConfigError(f"{owner}.{fname}: its key field {holder}.{rel.fk} must be a scalar (ID), not {key.describe()}")


def _check_clashes(doc: DocumentNode, roots: Mapping[str, str], generated: Mapping[str, list[str]]) -> None:
    """A user root field named like a generated one: say which model generates it."""
    for op, lines in generated.items():
        names = {line.strip().split("(")[0].split(":")[0] for line in lines}
        for d in doc.definitions:
            if isinstance(d, (ObjectTypeDefinitionNode, ObjectTypeExtensionNode)) and d.name.value == roots[op]:
                for f in d.fields or ():
                    if f.name.value in names:
                        raise ConfigError(
                            f"{roots[op]}.{f.name.value}: this field is generated for a @model; rename yours, "
                            f"or bind a resolver to the generated one in syncline.toml [resolvers]"
                        )


def expand(sdl: str, *, model_settings: Mapping[str, Mapping[str, Any]] | None = None) -> Expansion:
    """Expand the user's SDL.

    Args:
        sdl: the text of schema.graphql.
        model_settings: syncline.toml's `[models.<Name>]` tables (`conflict`, optionally
            `plural`; other keys are left to their owners).

    Returns:
        The full SDL (AppSync scalars and directives, shared inputs, the user's types with
        metadata fields, generated root fields and inputs), the models and their field names.

    Raises:
        ConfigError: a syntax error, an unknown directive or argument, a field named like a
            metadata field, a model without fields, ... — naming the type and field.
    """
    try:
        doc = parse(sdl)
    except GraphQLSyntaxError as exc:
        raise _syntax_error(exc) from None
    ex = _Expander(doc, model_settings or {})
    ex.collect()
    ex.check_directives()
    ex.plan_relations()
    # `extend type Todo { shout: String }` adds *computed* fields to a model: not stored, not in
    # its inputs or filters, resolved by a [resolvers] binding ("Todo.shout").
    for d in doc.definitions:
        if isinstance(d, ObjectTypeExtensionNode) and d.name.value in {m.name.value for m in ex.model_nodes}:
            if d.directives:
                raise ConfigError(f"{d.name.value}: put directives of a @model on its type definition, not on `extend type`")

    models: list[ModelSpec] = []
    operations: dict[str, ModelOperations] = {}
    parts: list[str] = [SCALARS_SDL, DIRECTIVES_SDL, SHARED_INPUTS_SDL]
    query_fields: list[str] = []
    mutation_fields: list[str] = []
    subscription_fields: list[str] = []
    subscribe_to: dict[str, tuple[str, ...]] = {}
    seen_plural: dict[str, str] = {}
    for node in ex.model_nodes:
        spec, ops, type_sdl = ex.model(node)
        if spec.plural in seen_plural or spec.plural == spec.name:
            other = seen_plural.get(spec.plural, spec.name)
            raise ConfigError(
                f"{spec.name}: its plural {spec.plural!r} clashes with {other}; set "
                f"[models.{spec.name}] plural = \"...\" in syncline.toml"
            )
        seen_plural[spec.plural] = spec.name
        models.append(spec)
        operations[spec.name] = ops
        parts.append(type_sdl)
        parts.append(ex.model_inputs(spec))
        n = spec.name
        if ops.get:
            query_fields.append(f"  {ops.get}(id: ID!): {n}")
        if ops.list:
            query_fields.append(f"  {ops.list}(filter: Model{n}FilterInput, limit: Int, nextToken: String): Model{n}Connection")
        if ops.sync:
            query_fields.append(
                f"  {ops.sync}(filter: Model{n}FilterInput, limit: Int, nextToken: String, lastSync: AWSTimestamp): Model{n}Connection"
            )
        for verb, op_name in (("Create", ops.create), ("Update", ops.update), ("Delete", ops.delete)):
            if op_name:
                mutation_fields.append(f"  {op_name}(input: {verb}{n}Input!, condition: Model{n}ConditionInput): {n}")
        for subs, mutation in ((ops.on_create, ops.create), (ops.on_update, ops.update), (ops.on_delete, ops.delete)):
            for sub_name in subs:
                bound = f'@aws_subscribe(mutations: ["{mutation}"])' if mutation else ""
                subscription_fields.append(
                    f"  {sub_name}(filter: ModelSubscription{n}FilterInput{_owner_args(spec)}): {n} {bound}".rstrip()
                )
                subscribe_to[sub_name] = (mutation,) if mutation else ()
    _check_relation_keys(models, ex.relations)
    _check_clashes(doc, ex.roots, {"query": query_fields, "mutation": mutation_fields, "subscription": subscription_fields})
    parts.extend(ex.extra_sdl)
    parts.extend(print_ast(d) + "\n" for d in ex.kept)
    for op, fields in (("query", query_fields), ("mutation", mutation_fields), ("subscription", subscription_fields)):
        root = ex.roots[op]
        if fields:
            keyword = "extend type" if root in ex.root_defined else "type"
            parts.append(f"{keyword} {root} {{\n" + "\n".join(fields) + "\n}\n")
            if ex.has_schema_definition and op not in ex.explicit_roots:
                # `schema { query: Q }` lists its roots; the generated ones must join them.
                parts.append(f"extend schema {{ {op}: {root} }}\n")
    if ex.roots["query"] not in ex.root_defined and not query_fields:
        raise ConfigError("schema.graphql: no Query type and no @model type; declare at least one of them")

    # @aws_subscribe on user-written subscription fields binds them too.
    sub_root = ex.objects.get(ex.roots["subscription"])
    user_sub_nodes: list[ObjectTypeDefinitionNode | ObjectTypeExtensionNode] = [sub_root] if sub_root is not None else []
    user_sub_nodes += [
        d for d in doc.definitions if isinstance(d, ObjectTypeExtensionNode) and d.name.value == ex.roots["subscription"]
    ]
    for sub_node in user_sub_nodes:
        for f in sub_node.fields or ():
            directive = _directive(f, "aws_subscribe")
            if directive is not None:
                values = get_directive_values(_PRELUDE_SCHEMA.get_directive("aws_subscribe"), _OnlyDirective(directive))  # type: ignore[arg-type]
                subscribe_to[f.name.value] = tuple(values.get("mutations") or ()) if values else ()

    return Expansion(
        sdl="\n".join(parts),
        models=tuple(models),
        operations=operations,
        query=ex.roots["query"],
        mutation=ex.roots["mutation"],
        subscription=ex.roots["subscription"],
        subscribe_to=subscribe_to,
        defaults=ex.defaults,
        relations=ex.relations,
    )
