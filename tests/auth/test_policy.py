"""Rule evaluation: AppSync directives and Amplify @auth (owner, groups, public, private),
checked against items with the real filter language and a real SQLiteStore."""

from __future__ import annotations

import pytest

from server.auth.identity import SYSTEM, Identity
from server.auth.policy import (
    AuthDirective,
    ModelPolicy,
    can,
    check_field_access,
    combine_filters,
    directive_allows,
    owner_value_for_create,
    owner_values,
    parse_directives,
    row_filter,
)
from server.errors import BadRequest, ConfigError, Unauthorized
from server.filters import matches
from server.models import FieldSpec, ModelSpec


def cognito(sub: str, username: str, *groups: str) -> Identity:
    return Identity(
        auth_mode="AMAZON_COGNITO_USER_POOLS", sub=sub, username=username, groups=groups,
        claims={"sub": sub, "cognito:username": username, "cognito:groups": list(groups)},
    )


ALICE = cognito("a-sub", "alice")
BOB = cognito("b-sub", "bob")
ADMIN = cognito("z-sub", "zed", "Admins")
HR = cognito("h-sub", "hana", "HR")
APIKEY = Identity(auth_mode="API_KEY", api_key_id="da2-xxxx")
IAM = Identity(auth_mode="AWS_IAM", username="ci-bot")
OIDC = Identity(auth_mode="OPENID_CONNECT", sub="o-1", username="o-1", claims={"sub": "o-1"})
LAMBDA = Identity(auth_mode="AWS_LAMBDA", denied_fields=("Mutation.deleteTodo",))


def S(name: str, *, is_list: bool = False) -> FieldSpec:
    return FieldSpec(name=name, type_name="String", kind="scalar", is_list=is_list)


TODO = ModelSpec(
    name="Todo",
    plural="Todos",
    fields=(S("title"), S("owner"), S("salary"), S("editors", is_list=True)),
    auth_rules=(
        {"allow": "owner"},
        {"allow": "groups", "groups": ["Admins"], "operations": ["read", "delete"]},
        {"allow": "public", "provider": "apiKey", "operations": ["read"]},
    ),
)


def row(id: str, owner: str | None, **kw) -> dict:
    return {"id": id, "title": f"t-{id}", "owner": owner, **kw}


ROWS = [row("1", "a-sub::alice"), row("2", "b-sub::bob"), row("3", "alice"), row("4", "a-sub"), row("5", None)]


def visible(identity: Identity, spec: ModelSpec = TODO, rows=ROWS, op: str = "list") -> list[str]:
    f = row_filter(identity, spec, op)
    return [r["id"] for r in rows if matches(f, r)]


# -- owners -------------------------------------------------------------------------------


def test_owner_values_follow_amplify_sub_username() -> None:
    assert owner_values(ALICE) == ("a-sub::alice", frozenset({"a-sub::alice", "a-sub", "alice"}))
    assert owner_values(ALICE, "sub") == ("a-sub", frozenset({"a-sub"}))
    assert owner_values(ALICE, "username") == ("alice", frozenset({"alice"}))
    assert owner_values(OIDC, "email") == (None, frozenset())


def test_two_owners_never_see_each_others_rows() -> None:
    assert visible(ALICE) == ["1", "3", "4"]  # her sub::username row plus legacy sub / username rows
    assert visible(BOB) == ["2"]
    for op in ("get", "list", "sync", "listen"):
        for r in ROWS:
            assert not (can(ALICE, TODO, op, r) and can(BOB, TODO, op, r))
    assert can(ALICE, TODO, "get", ROWS[0]) and not can(BOB, TODO, "get", ROWS[0])


def test_owners_cannot_update_or_delete_others_rows_and_the_filter_is_a_condition() -> None:
    assert can(ALICE, TODO, "update", ROWS[0]) and can(ALICE, TODO, "delete", ROWS[0])
    assert not can(BOB, TODO, "update", ROWS[0]) and not can(BOB, TODO, "delete", ROWS[0])
    policy = ModelPolicy(TODO)
    with pytest.raises(Unauthorized, match="Not Authorized to update Todo"):
        policy.authorize(BOB, "update", ROWS[0])
    cond = row_filter(BOB, TODO, "update")
    assert not matches(cond, ROWS[0]) and matches(cond, ROWS[1])


def test_a_client_filter_cannot_widen_the_row_filter() -> None:
    evil = {"or": [{"owner": {"eq": "a-sub::alice"}}, {"owner": {"ne": "x"}}]}
    combined = combine_filters(evil, row_filter(BOB, TODO))
    assert [r["id"] for r in ROWS if matches(combined, r)] == ["2"]
    assert combine_filters(None, None) is None and combine_filters({"a": 1}, None) == {"a": 1}


def test_create_sets_the_owner_and_refuses_creating_for_someone_else() -> None:
    out = owner_value_for_create(ALICE, TODO, {"title": "x"})
    assert out == {"title": "x", "owner": "a-sub::alice"}
    assert owner_value_for_create(ALICE, TODO, {"title": "x", "owner": "alice"})["owner"] == "alice"
    with pytest.raises(Unauthorized, match="another owner"):
        owner_value_for_create(ALICE, TODO, {"title": "x", "owner": "b-sub::bob"})
    with pytest.raises(Unauthorized, match="Not Authorized to create Todo"):
        owner_value_for_create(APIKEY, TODO, {"title": "x"})  # public rule is read-only
    assert owner_value_for_create(SYSTEM, TODO, {"title": "x"}) == {"title": "x"}


def test_static_groups_and_public_rules() -> None:
    assert visible(ADMIN) == ["1", "2", "3", "4", "5"] and row_filter(ADMIN, TODO) is None
    assert can(ADMIN, TODO, "delete", ROWS[1]) and not can(ADMIN, TODO, "update", ROWS[1])
    assert row_filter(APIKEY, TODO) is None and not can(APIKEY, TODO, "update", ROWS[0])
    for ident in (IAM, OIDC, LAMBDA):  # no rule names their provider
        assert not can(ident, TODO, "get", ROWS[0])
        with pytest.raises(Unauthorized):
            row_filter(ident, TODO)
    assert row_filter(SYSTEM, TODO) is None


def test_multi_owner_list_field_and_dynamic_groups() -> None:
    spec = ModelSpec(
        name="Doc",
        fields=(S("owners", is_list=True), S("editors", is_list=True), S("team")),
        auth_rules=(
            {"allow": "owner", "ownerField": "owners", "identityClaim": "username"},
            {"allow": "groups", "groupsField": "editors", "operations": ["read", "update"]},
            {"allow": "groups", "groupsField": "team", "operations": ["read"]},
        ),
    )
    rows = [
        {"id": "d1", "owners": ["alice", "bob"]},
        {"id": "d2", "owners": ["bob"], "editors": ["HR"]},
        {"id": "d3", "owners": ["carol"], "team": "HR"},
    ]
    assert visible(ALICE, spec, rows) == ["d1"]
    assert visible(BOB, spec, rows) == ["d1", "d2"]
    assert visible(HR, spec, rows) == ["d2", "d3"]
    assert can(HR, spec, "update", rows[1]) and not can(HR, spec, "update", rows[2])
    assert owner_value_for_create(ALICE, spec, {})["owners"] == ["alice"]


def test_private_provider_matching_and_custom() -> None:
    spec = ModelSpec(
        name="Note",
        fields=(S("title"),),
        auth_rules=(
            {"allow": "private"},
            {"allow": "private", "provider": "iam", "operations": ["read"]},
            {"allow": "custom", "operations": ["read"]},
        ),
    )
    assert can(ALICE, spec, "update", {"id": "1"}) and row_filter(ALICE, spec) is None
    assert can(IAM, spec, "list") and not can(IAM, spec, "update", {"id": "1"})
    assert can(LAMBDA, spec, "get", {"id": "1"})
    assert not can(OIDC, spec, "get", {"id": "1"}) and not can(APIKEY, spec, "get", {"id": "1"})


def test_models_without_rules_are_open() -> None:
    spec = ModelSpec(name="Open", fields=(S("title"),))
    assert can(APIKEY, spec, "delete", {"id": "1"}) and row_filter(IAM, spec) is None


def test_operations_are_fine_grained() -> None:
    spec = ModelSpec(
        name="Feed",
        fields=(S("title"),),
        auth_rules=({"allow": "public", "operations": ["get", "list"]}, {"allow": "public", "provider": "iam", "operations": ["sync", "listen"]}),
    )
    assert can(APIKEY, spec, "get", {}) and can(APIKEY, spec, "list") and not can(APIKEY, spec, "sync")
    assert not can(APIKEY, spec, "listen") and can(IAM, spec, "listen") and not can(IAM, spec, "get", {})


# -- field level --------------------------------------------------------------------------


def test_group_restricted_field_is_hidden_from_others_and_not_writable() -> None:
    policy = ModelPolicy(
        TODO,
        field_rules={"salary": [{"allow": "groups", "groups": ["HR"]}, {"allow": "owner", "operations": ["read"]}]},
    )
    item = row("1", "a-sub::alice", salary="100")
    assert policy.redact(BOB, item)["salary"] is None
    assert policy.redact(ADMIN, item)["salary"] is None  # Admins may read the row, not the field
    assert policy.redact(ALICE, item)["salary"] == "100"  # the owner reads her own salary
    assert policy.redact(HR, item)["salary"] == "100"
    assert item["salary"] == "100"  # redact copies
    with pytest.raises(Unauthorized, match="field salary"):
        policy.check_input_fields(ALICE, "update", {"id": "1", "salary": "999"}, existing=item)
    policy.check_input_fields(ALICE, "update", {"id": "1", "title": "ok"}, existing=item)
    policy.check_input_fields(HR, "update", {"id": "1", "salary": "1"}, existing=item)
    with pytest.raises(Unauthorized, match="field salary"):
        policy.owner_value_for_create(ALICE, {"title": "x", "salary": "5"})


# -- bad rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule, message",
    [
        ({"allow": "everyone"}, "allow must be one of"),
        ({"allow": "owner", "provider": "apiKey"}, "provider 'apiKey' is not valid with allow: owner"),
        ({"allow": "groups"}, "needs groups"),
        ({"allow": "owner", "operations": ["read", "destroy"]}, "unknown operation 'destroy'"),
        ({"allow": "owner", "ownerFeild": "x"}, "unknown key 'ownerFeild'"),
        ({"allow": "owner", "ownerField": ""}, "ownerField must be a non-empty string"),
    ],
)
def test_bad_rules_are_config_errors_naming_the_rule(rule, message) -> None:
    with pytest.raises(ConfigError, match="type Bad @auth rule 0") as info:
        ModelPolicy(ModelSpec(name="Bad", fields=(S("x"),), auth_rules=(rule,)))
    assert message in info.value.message
    with pytest.raises(ConfigError, match="does not have"):
        ModelPolicy(TODO, field_rules={"nope": [{"allow": "private"}]})


# -- AppSync directives -------------------------------------------------------------------

COG_ADMINS = AuthDirective(mode="AMAZON_COGNITO_USER_POOLS", cognito_groups=("Admins",))
D = {
    "api": AuthDirective(mode="API_KEY"),
    "iam": AuthDirective(mode="AWS_IAM"),
    "oidc": AuthDirective(mode="OPENID_CONNECT"),
    "lambda": AuthDirective(mode="AWS_LAMBDA"),
    "cog": AuthDirective(mode="AMAZON_COGNITO_USER_POOLS"),
    "cog_admins": COG_ADMINS,
}


@pytest.mark.parametrize(
    "default, type_d, field_d, identity, allowed",
    [
        # no directives anywhere: only the default mode
        ("API_KEY", (), (), APIKEY, True),
        ("API_KEY", (), (), ALICE, False),
        ("AMAZON_COGNITO_USER_POOLS", (), (), ALICE, True),
        # a type directive replaces the default (the default is not implied)
        ("API_KEY", ("iam",), (), IAM, True),
        ("API_KEY", ("iam",), (), APIKEY, False),
        ("API_KEY", ("iam", "api"), (), APIKEY, True),
        # a field directive overrides the type's
        ("API_KEY", ("iam",), ("oidc",), IAM, False),
        ("API_KEY", ("iam",), ("oidc",), OIDC, True),
        ("API_KEY", (), ("lambda",), LAMBDA, True),
        ("API_KEY", (), ("lambda",), APIKEY, False),
        # cognito groups
        ("API_KEY", ("cog_admins",), (), ADMIN, True),
        ("API_KEY", ("cog_admins",), (), ALICE, False),
        ("API_KEY", ("cog",), (), ALICE, True),
        ("API_KEY", ("cog_admins",), (), OIDC, False),
        # SYSTEM passes everything
        ("API_KEY", ("iam",), ("oidc",), SYSTEM, True),
    ],
)
def test_directive_semantics(default, type_d, field_d, identity, allowed) -> None:
    got = directive_allows(
        identity, default_mode=default, type_directives=[D[n] for n in type_d], field_directives=[D[n] for n in field_d]
    )
    assert got is allowed


def test_parse_directives_and_lambda_denied_fields() -> None:
    parsed = parse_directives(
        [("aws_api_key", {}), ("@aws_cognito_user_pools", {"cognito_groups": ["Admins"]}), ("aws_subscribe", {"mutations": []}), ("aws_auth", {})]
    )
    assert parsed == (AuthDirective(mode="API_KEY"), COG_ADMINS, AuthDirective(mode="AMAZON_COGNITO_USER_POOLS"))
    with pytest.raises(ConfigError, match="cognito_groups"):
        parse_directives([("aws_cognito_user_pools", {"cognito_groups": "Admins"})])
    kw = dict(default_mode="AWS_LAMBDA", type_name="Mutation")
    check_field_access(LAMBDA, field_name="createTodo", **kw)
    with pytest.raises(Unauthorized, match="Not Authorized to access deleteTodo on type Mutation"):
        check_field_access(LAMBDA, field_name="deleteTodo", **kw)
    arn = Identity(auth_mode="AWS_LAMBDA", denied_fields=("arn:aws:appsync:us-east-1:1:apis/x/types/Todo/fields/salary",))
    with pytest.raises(Unauthorized):
        check_field_access(arn, default_mode="AWS_LAMBDA", type_name="Todo", field_name="salary")


# -- with the real store ------------------------------------------------------------------


async def test_two_owners_through_a_real_sqlite_store(tmp_path) -> None:
    from server.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "db.sqlite", secret=b"0123456789abcdef0123456789abcdef")
    await store.open()
    try:
        await store.migrate([TODO])
        for who in (ALICE, BOB):
            for i in range(3):
                item = owner_value_for_create(who, TODO, {"title": f"{who.username}-{i}"})
                await store.create("Todo", item, identity=who)

        async def list_all(who, client_filter=None):
            flt = combine_filters(client_filter, row_filter(who, TODO))
            page = await store.list("Todo", identity=who, filter=flt, limit=2)
            items = list(page.items)
            while page.next_token:
                page = await store.list("Todo", identity=who, filter=flt, limit=2, next_token=page.next_token)
                items += page.items
            return items, flt

        alice_items, alice_flt = await list_all(ALICE)
        bob_items, _ = await list_all(BOB)
        assert sorted(i["title"] for i in alice_items) == ["alice-0", "alice-1", "alice-2"]
        assert sorted(i["title"] for i in bob_items) == ["bob-0", "bob-1", "bob-2"]
        # a client filter aimed at the other owner's rows returns nothing
        stolen, _ = await list_all(BOB, {"owner": {"eq": "a-sub::alice"}})
        assert stolen == []
        # sync (base and delta) is filtered the same way
        synced = await store.sync("Todo", identity=BOB, filter=combine_filters(None, row_filter(BOB, TODO, "sync")))
        assert sorted(i["title"] for i in synced.items) == ["bob-0", "bob-1", "bob-2"]
        # get: the row exists, the policy refuses it to the other owner
        got = await store.get("Todo", alice_items[0]["id"], identity=BOB)
        assert got is not None and not can(BOB, TODO, "get", got) and can(ALICE, TODO, "get", got)
        # Alice's nextToken is bound to her filter: Bob cannot page through it
        page = await store.list("Todo", identity=ALICE, filter=alice_flt, limit=1)
        with pytest.raises(BadRequest):
            await store.list("Todo", identity=BOB, filter=row_filter(BOB, TODO), limit=1, next_token=page.next_token)
    finally:
        await store.close()


def test_rules_parsed_from_real_sdl_by_the_schema_layer() -> None:
    """@auth arguments as server.schema.expand parses them (enum names, nulls) compile as-is."""
    from server.schema import expand

    sdl = """
    type Todo @model @auth(rules: [
      {allow: owner, operations: [create, read, update]},
      {allow: groups, groups: ["Admins"], operations: [read, delete]},
      {allow: public, provider: apiKey, operations: [list]}
    ]) { id: ID! title: String }
    """
    (spec,) = expand(sdl).models
    assert spec.field("owner") is not None  # the implicit owner field
    mine = owner_value_for_create(ALICE, spec, {"title": "x"})
    assert can(ALICE, spec, "update", mine) and not can(BOB, spec, "get", mine)
    assert not can(ALICE, spec, "delete", mine) and can(ADMIN, spec, "delete", mine)
    assert row_filter(APIKEY, spec, "list") is None and not can(APIKEY, spec, "get", mine)
    nulls = ModelSpec(name="N", fields=(S("owner"),), auth_rules=({"allow": "owner", "provider": None, "groupsField": None},))
    assert can(ALICE, nulls, "get", {"owner": "alice"})


def test_policy_for_picks_up_field_rules_when_the_spec_carries_them() -> None:
    from dataclasses import dataclass, field

    from server.auth.policy import policy_for

    @dataclass(frozen=True, kw_only=True)
    class SpecWithFieldRules(ModelSpec):
        field_auth_rules: dict = field(default_factory=dict)

    spec = SpecWithFieldRules(
        name="P", fields=(S("owner"), S("salary")), auth_rules=({"allow": "private"},),
        field_auth_rules={"salary": ({"allow": "groups", "groups": ["HR"]},)},
    )
    item = {"id": "1", "salary": "9"}
    assert policy_for(spec).redact(ALICE, item)["salary"] is None
    assert policy_for(spec).redact(HR, item)["salary"] == "9"
    assert policy_for(TODO).field_rules == {}
