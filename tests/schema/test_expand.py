"""@model expansion: the generated schema has exactly the shapes AWS's clients send
(introspected from the built schema), and bad SDL fails with a ConfigError naming type and field."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)

from server.errors import ConfigError
from server.schema import build_schema, expand, pluralize

SDL = """
enum Priority { LOW HIGH }
type Address { street: String! city: String geo: Geo }
type Geo { lat: Float lng: Float }
interface Named { name: String }
type Person implements Named { name: String }
union SearchResult = Person | Address

type Todo @model {
  id: ID!
  title: String!
  done: Boolean
  priority: Priority
  labels: [Priority!]
  tags: [String]
  count: Int
  score: Float
  due: AWSDateTime
  remindAt: AWSTimestamp
  meta: AWSJSON
  address: Address
  createdAt: AWSDateTime
}

type Category @model { name: String! }
type Address2 @model { line: String }

type Query {
  hello(name: String): String
  search(q: String): [SearchResult]
  me: Named
}

type Subscription {
  onAnything: Todo @aws_subscribe(mutations: ["createTodo", "updateTodo"])
}
"""


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(SDL, model_settings={"Todo": {"conflict": "OPTIMISTIC_CONCURRENCY"}}).schema


def _args(schema: GraphQLSchema, root: str, field: str) -> dict[str, str]:
    t = schema.get_type(root)
    assert isinstance(t, GraphQLObjectType)
    return {name: str(arg.type) for name, arg in t.fields[field].args.items()}


def _input(schema: GraphQLSchema, name: str) -> dict[str, str]:
    t = schema.get_type(name)
    assert isinstance(t, GraphQLInputObjectType), name
    return {k: str(v.type) for k, v in t.fields.items()}


def _fields(schema: GraphQLSchema, name: str) -> dict[str, str]:
    t = schema.get_type(name)
    assert isinstance(t, GraphQLObjectType), name
    return {k: str(v.type) for k, v in t.fields.items()}


def test_model_type_gets_metadata_fields(schema: GraphQLSchema) -> None:
    fields = _fields(schema, "Todo")
    assert {k: fields[k] for k in ("id", "createdAt", "updatedAt", "_version", "_deleted", "_lastChangedAt")} == {
        "id": "ID!",
        "createdAt": "AWSDateTime!",
        "updatedAt": "AWSDateTime!",
        "_version": "Int!",
        "_deleted": "Boolean",
        "_lastChangedAt": "AWSTimestamp!",
    }
    assert fields["title"] == "String!" and fields["labels"] == "[Priority!]" and fields["address"] == "Address"


def test_query_fields_have_amplify_argument_types(schema: GraphQLSchema) -> None:
    assert _args(schema, "Query", "getTodo") == {"id": "ID!"}
    assert _args(schema, "Query", "listTodos") == {"filter": "ModelTodoFilterInput", "limit": "Int", "nextToken": "String"}
    assert _args(schema, "Query", "syncTodos") == {
        "filter": "ModelTodoFilterInput",
        "limit": "Int",
        "nextToken": "String",
        "lastSync": "AWSTimestamp",
    }
    q = _fields(schema, "Query")
    assert q["getTodo"] == "Todo" and q["listTodos"] == q["syncTodos"] == "ModelTodoConnection"
    assert q["hello"] == "String"  # the user's own fields are kept
    assert _fields(schema, "ModelTodoConnection") == {"items": "[Todo]!", "nextToken": "String", "startedAt": "AWSTimestamp"}


def test_mutation_inputs(schema: GraphQLSchema) -> None:
    for verb in ("create", "update", "delete"):
        assert _args(schema, "Mutation", f"{verb}Todo") == {
            "input": f"{verb.capitalize()}TodoInput!",
            "condition": "ModelTodoConditionInput",
        }
    create = _input(schema, "CreateTodoInput")
    assert create["id"] == "ID" and create["title"] == "String!" and create["_version"] == "Int"
    assert create["labels"] == "[Priority!]" and create["address"] == "AddressInput" and create["meta"] == "AWSJSON"
    assert not {"createdAt", "updatedAt", "_deleted", "_lastChangedAt"} & set(create)
    update = _input(schema, "UpdateTodoInput")
    assert update["id"] == "ID!" and update["title"] == "String" and update["_version"] == "Int"
    assert all(not t.endswith("!") for k, t in update.items() if k != "id")
    assert _input(schema, "DeleteTodoInput") == {"id": "ID!", "_version": "Int"}
    # nested object types are stored as JSON and get an input of the same shape, recursively
    assert _input(schema, "AddressInput") == {"street": "String!", "city": "String", "geo": "GeoInput"}
    assert _input(schema, "GeoInput") == {"lat": "Float", "lng": "Float"}


def test_filter_input_per_field_type(schema: GraphQLSchema) -> None:
    f = _input(schema, "ModelTodoFilterInput")
    assert f["id"] == "ModelIDInput"
    assert f["title"] == f["due"] == f["meta"] == f["tags"] == "ModelStringInput"
    assert f["done"] == "ModelBooleanInput" and f["count"] == "ModelIntInput" and f["score"] == "ModelFloatInput"
    assert f["priority"] == "ModelPriorityInput" and f["labels"] == "ModelPriorityListInput"
    assert f["remindAt"] == f["_lastChangedAt"] == "ModelTimestampInput"
    assert f["_version"] == "ModelIntInput" and f["_deleted"] == "ModelBooleanInput"
    assert f["createdAt"] == f["updatedAt"] == "ModelStringInput"
    assert f["and"] == "[ModelTodoFilterInput]" and f["or"] == "[ModelTodoFilterInput]" and f["not"] == "ModelTodoFilterInput"
    assert "address" not in f  # object fields are not filterable, as in Amplify
    c = _input(schema, "ModelTodoConditionInput")
    assert "id" not in c and c["title"] == "ModelStringInput" and c["_deleted"] == "ModelBooleanInput"
    assert c["not"] == "ModelTodoConditionInput"


def test_operator_sets_match_appsync(schema: GraphQLSchema) -> None:
    string_ops = {"ne", "eq", "le", "lt", "ge", "gt", "contains", "notContains", "between", "beginsWith",
                  "attributeExists", "attributeType", "size"}
    assert set(_input(schema, "ModelStringInput")) == string_ops
    assert set(_input(schema, "ModelIDInput")) == string_ops
    numeric = {"ne", "eq", "le", "lt", "ge", "gt", "between", "attributeExists", "attributeType"}
    assert set(_input(schema, "ModelIntInput")) == numeric and set(_input(schema, "ModelFloatInput")) == numeric
    assert _input(schema, "ModelIntInput")["between"] == "[Int]"
    assert _input(schema, "ModelTimestampInput")["eq"] == "AWSTimestamp"
    assert _input(schema, "ModelBooleanInput") == {
        "ne": "Boolean", "eq": "Boolean", "attributeExists": "Boolean", "attributeType": "ModelAttributeTypes"
    }
    assert set(_input(schema, "ModelSizeInput")) == {"ne", "eq", "le", "lt", "ge", "gt", "between"}
    assert _input(schema, "ModelPriorityInput") == {"eq": "Priority", "ne": "Priority"}
    assert _input(schema, "ModelPriorityListInput") == {
        "eq": "[Priority]", "ne": "[Priority]", "contains": "Priority", "notContains": "Priority"
    }
    attr = schema.get_type("ModelAttributeTypes")
    assert isinstance(attr, GraphQLEnumType)
    assert set(attr.values) == {"binary", "binarySet", "bool", "list", "map", "number", "numberSet", "string", "stringSet", "_null"}
    assert set(_input(schema, "ModelSubscriptionIntInput")) == {"ne", "eq", "le", "lt", "ge", "gt", "between", "in", "notIn"}
    assert set(_input(schema, "ModelSubscriptionBooleanInput")) == {"ne", "eq"}


def test_subscription_filter_input(schema: GraphQLSchema) -> None:
    sub = _input(schema, "ModelSubscriptionTodoFilterInput")
    assert sub["id"] == "ModelSubscriptionIDInput" and sub["title"] == "ModelSubscriptionStringInput"
    assert sub["done"] == "ModelSubscriptionBooleanInput" and sub["count"] == "ModelSubscriptionIntInput"
    assert sub["priority"] == "ModelSubscriptionStringInput" and sub["remindAt"] == "ModelSubscriptionTimestampInput"
    assert sub["_deleted"] == "ModelBooleanInput"
    assert sub["and"] == sub["or"] == "[ModelSubscriptionTodoFilterInput]" and "not" not in sub
    assert set(_input(schema, "ModelSubscriptionStringInput")) == {
        "ne", "eq", "le", "lt", "ge", "gt", "contains", "notContains", "between", "beginsWith", "in", "notIn"
    }


def test_subscription_fields_carry_aws_subscribe(schema: GraphQLSchema) -> None:
    sub = schema.subscription_type
    assert sub is not None
    for verb in ("Create", "Update", "Delete"):
        field = sub.fields[f"on{verb}Todo"]
        assert {k: str(a.type) for k, a in field.args.items()} == {"filter": "ModelSubscriptionTodoFilterInput"}
        assert str(field.type) == "Todo"
        assert field.ast_node is not None
        (directive,) = [d for d in field.ast_node.directives if d.name.value == "aws_subscribe"]
        assert directive.arguments[0].name.value == "mutations"
        assert [v.value for v in directive.arguments[0].value.values] == [f"{verb.lower()}Todo"]  # type: ignore[attr-defined]
    assert "onAnything" in sub.fields  # user subscription fields are merged with generated ones


def test_bundle_records_subscription_bindings_and_models() -> None:
    bundle = build_schema(SDL, model_settings={"Todo": {"conflict": "OPTIMISTIC_CONCURRENCY"}})
    assert bundle.subscribe_to["onAnything"] == ("createTodo", "updateTodo")
    assert bundle.subscribe_to["onDeleteTodo"] == ("deleteTodo",)
    assert bundle.subscriptions_for("createTodo") == ("onCreateTodo", "onAnything")
    assert bundle.subscriptions_for("deleteTodo") == ("onDeleteTodo",)
    todo = bundle.model("Todo")
    assert todo is not None and todo.conflict == "OPTIMISTIC_CONCURRENCY" and todo.plural == "Todos"
    assert "id" not in todo.field_names and "createdAt" not in todo.field_names
    address = todo.field("address")
    assert address is not None and address.kind == "object"
    labels = todo.field("labels")
    assert labels is not None and labels.kind == "enum" and labels.is_list and labels.item_required
    assert bundle.model("Category").conflict == "AUTOMERGE"  # type: ignore[union-attr]
    assert "type Todo @model" in bundle.sdl and "@aws_subscribe" in bundle.sdl


def test_non_model_types_interfaces_and_unions_survive(schema: GraphQLSchema) -> None:
    assert get_named_type(schema.get_type("Query").fields["search"].type).name == "SearchResult"  # type: ignore[union-attr]
    assert get_named_type(schema.get_type("Query").fields["me"].type).name == "Named"  # type: ignore[union-attr]
    assert "_version" not in _fields(schema, "Address")


@pytest.mark.parametrize(
    "name,plural",
    [
        ("Todo", "Todos"), ("Category", "Categories"), ("Address", "Addresses"), ("Post", "Posts"),
        ("Person", "People"), ("Box", "Boxes"), ("Church", "Churches"), ("Wish", "Wishes"), ("Day", "Days"),
        ("Status", "Statuses"), ("Leaf", "Leaves"), ("Hero", "Heroes"), ("Photo", "Photos"), ("Analysis", "Analyses"),
        ("OrderItem", "OrderItems"), ("BlogCategory", "BlogCategories"), ("Child", "Children"), ("Data", "Data"),
        ("Matrix", "Matrices"), ("Quiz", "Quizzes"), ("Bus", "Buses"), ("Key", "Keys"),
    ],
)
def test_pluralisation_like_amplify(name: str, plural: str) -> None:
    assert pluralize(name) == plural


def test_generated_names_use_the_plural() -> None:
    ex = expand("type Category @model { name: String }\ntype Address @model { line: String }")
    assert ex.operations["Category"].list == "listCategories" and ex.operations["Category"].sync == "syncCategories"
    assert ex.operations["Address"].list == "listAddresses"


def test_model_directive_can_rename_and_drop_operations() -> None:
    bundle = build_schema(
        'type Note @model(queries: {get: "note"}, mutations: {delete: null}, subscriptions: null) { body: String }'
    )
    q = bundle.schema.query_type
    m = bundle.schema.mutation_type
    assert q is not None and m is not None
    assert "note" in q.fields and "getNote" not in q.fields and "listNotes" in q.fields
    assert "deleteNote" not in m.fields and "createNote" in m.fields
    assert bundle.schema.subscription_type is None


def test_owner_auth_rule_adds_owner_field_and_subscription_argument() -> None:
    bundle = build_schema("type Doc @model @auth(rules: [{allow: owner}, {allow: public, operations: [read]}]) { body: String }")
    doc = bundle.model("Doc")
    assert doc is not None and doc.field("owner") is not None
    assert doc.auth_rules == ({"allow": "owner"}, {"allow": "public", "operations": ["read"]})
    sub = bundle.schema.subscription_type
    assert sub is not None and set(sub.fields["onCreateDoc"].args) == {"filter", "owner"}


def test_custom_root_type_names_and_extend_type() -> None:
    bundle = build_schema(
        "schema { query: Root mutation: Change }\ntype Root { ping: String }\ntype Change { noop: Boolean }\n"
        "extend type Root { pong: String }\ntype Item @model { name: String }"
    )
    q = bundle.schema.query_type
    assert q is not None and q.name == "Root" and {"ping", "pong", "getItem", "listItems"} <= set(q.fields)
    assert bundle.schema.mutation_type is not None and "createItem" in bundle.schema.mutation_type.fields


def test_schema_definition_without_mutation_root_still_gets_generated_roots() -> None:
    bundle = build_schema("schema { query: Root }\ntype Root { ping: String }\ntype Item @model { name: String }")
    assert bundle.schema.mutation_type is not None and "createItem" in bundle.schema.mutation_type.fields
    assert bundle.schema.subscription_type is not None and "onCreateItem" in bundle.schema.subscription_type.fields


def test_extend_type_adds_computed_fields_that_are_not_stored() -> None:
    bundle = build_schema("type Todo @model { title: String }\nextend type Todo { shout: String }")
    assert bundle.model("Todo").field_names == ("title",)  # type: ignore[union-attr]
    assert "shout" in bundle.schema.get_type("Todo").fields  # type: ignore[union-attr]
    assert "shout" not in bundle.schema.get_type("CreateTodoInput").fields  # type: ignore[union-attr]


def test_pasted_amplify_schema_with_explicit_timestamps_and_aws_directives() -> None:
    bundle = build_schema(
        "type Todo @model @aws_api_key @aws_cognito_user_pools(cognito_groups: [\"admin\"]) {\n"
        "  id: ID! @primaryKey\n  name: String! @aws_iam\n  createdAt: AWSDateTime!\n  updatedAt: AWSDateTime!\n}"
    )
    assert bundle.model("Todo").field_names == ("name",)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "sdl,needles",
    [
        ("type Todo @model { _version: Int title: String }", ["Todo._version", "metadata"]),
        ("type Todo @model { id: String title: String }", ["Todo.id", "metadata"]),
        ("type Todo @model { _lastChangedAt: AWSTimestamp }", ["Todo._lastChangedAt"]),
        ("type Todo @model { id: ID! }", ["Todo", "at least one field"]),
        ("type Todo @model(foo: true) { title: String }", ["Todo", "@model", "'foo'"]),
        ("type Todo @model { title: String @aws_subscribe(nope: []) }", ["Todo.title", "'nope'"]),
        ("type Todo @model { title: String @hasMany }", ["Todo.title", "@hasMany", "@model"]),
        ("type Todo @model { title: String @manyToMany(relationName: \"x\") }", ["Todo.title", "@manyToMany", "not support"]),
        ("type Todo @model { title: String @whatever }", ["Todo.title", "@whatever"]),
        ("type Todo @model @auth(rules: [{allow: everyone}]) { title: String }", ["Todo", "@auth", "everyone"]),
        ("type Post @model { title: String }\ntype Todo @model { post: Post }", ["Todo.post", "Post", "@belongsTo"]),
        ("union U = A | B\ntype A { a: Int }\ntype B { b: Int }\ntype Todo @model { u: U }", ["Todo.u", "union"]),
        ("type Todo @model { title: Strin }", ["Todo.title", "Strin"]),
        ("type Todo @model { list: [[String]] }", ["Todo.list", "lists of lists"]),
        ("type Todo @model { title(x: Int): String }", ["Todo.title", "arguments"]),
        ("type Todo @model { title: String", ["syntax error", "line 1"]),
        ("type Query @model { title: String }", ["Query", "root"]),
        ("enum E { A }", ["Query"]),
        ("type Todo @model { title: String }\ntype Query { getTodo(id: ID!): String }", ["getTodo"]),
        ('type Todo @model { t: String }\ntype Subscription { onX: Todo @aws_subscribe(mutations: ["nope"]) }', ["Subscription.onX", "'nope'"]),
        ('type Note @model { t: String }\ntype Todo @model { t: String }\ntype Subscription { onX: Todo @aws_subscribe(mutations: ["createNote"]) }', ["Subscription.onX", "Note", "same type"]),
        ("enum Size { S M }\ntype Todo @model { size: Size }", ["enum Size", "ModelSizeInput", "rename"]),
        ('type Todo @model { n: Int @default(value: "many") }', ["Todo.n", "@default", "Int"]),
        ('enum E { A }\ntype Todo @model { e: E @default(value: "B") }', ["Todo.e", "@default", "no value 'B'"]),
        ('type Todo @model { d: AWSDate @default(value: "tomorrow") }', ["Todo.d", "AWSDate"]),
        ('type Todo @model { t: [String] @default(value: "x") }', ["Todo.t", "@default", "[String]"]),
        ("type Todo @model { email: String! @primaryKey }", ["Todo.email", "primary key"]),
        ('type Todo @model { id: ID! @primaryKey(sortKeyFields: ["n"]) n: String }', ["Todo.id", "primary key"]),
        ("type Todo @model(timestamps: {createdAt: \"born\"}) { title: String }", ["Todo", "timestamps"]),
    ],
)
def test_bad_sdl_is_a_config_error_naming_the_place(sdl: str, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        build_schema(sdl)
    for needle in needles:
        assert needle in err.value.message, err.value.message


def test_bad_conflict_setting_names_the_model() -> None:
    with pytest.raises(ConfigError, match=r"\[models.Todo\].*MOSTLY_RIGHT"):
        build_schema("type Todo @model { t: String }", model_settings={"Todo": {"conflict": "MOSTLY_RIGHT"}})


def test_user_binding_to_missing_field_or_type_is_a_config_error() -> None:
    from server.schema import FunctionResolver

    b = FunctionResolver.of(lambda event: "x")
    with pytest.raises(ConfigError, match=r"'Query.nope'.*no field 'nope'"):
        build_schema("type Query { hello: String }", resolvers={"Query.nope": b})
    with pytest.raises(ConfigError, match=r"'Nope.hello'.*no type 'Nope'"):
        build_schema("type Query { hello: String }", resolvers={"Nope.hello": b})


