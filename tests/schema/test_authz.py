"""server.schema.authz: AppSync directive semantics compiled per field, on a built schema."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import execute, parse

from server.auth.identity import SYSTEM, Identity
from server.auth.policy import AuthDirective
from server.context import RequestContext
from server.errors import ConfigError, Unauthorized
from server.schema.authz import effective_directives, install_directive_auth
from server.schema.build import build_schema
from server.schema.resolvers import FunctionResolver

SDL = """
type Note @model @auth(rules: [{ allow: owner }, { allow: public, provider: apiKey, operations: [read] }]) {
  title: String
  address: Address
  salary: Int @auth(rules: [{ allow: groups, groups: ["HR"] }])
}
type Address { street: String }
type Stats @aws_api_key @aws_iam @aws_lambda {
  count: Int
  internal: String @aws_iam
}
type Query {
  hello: String
  admins: String @aws_cognito_user_pools(cognito_groups: ["Admins"])
  stats: Stats @aws_api_key @aws_iam @aws_lambda
}
"""

API_KEY = Identity(auth_mode="API_KEY")
IAM = Identity(auth_mode="AWS_IAM", username="ci")
ALICE = Identity(auth_mode="AMAZON_COGNITO_USER_POOLS", sub="a", username="alice")
ADMIN = Identity(auth_mode="AMAZON_COGNITO_USER_POOLS", sub="c", username="carol", groups=("Admins",))
LAMBDA = Identity(auth_mode="AWS_LAMBDA", denied_fields=("Stats.count",))
COGNITO = AuthDirective(mode="AMAZON_COGNITO_USER_POOLS")
APIKEY = AuthDirective(mode="API_KEY")


async def _hello(event: Any) -> str:
    return "hi"


async def _stats(event: Any) -> dict[str, Any]:
    return {"count": 1, "internal": "x"}


async def _admins(event: Any) -> str:
    return "yes"


def bundle():
    return build_schema(
        SDL,
        resolvers={
            "Query.hello": FunctionResolver.of(_hello),
            "Query.stats": FunctionResolver.of(_stats),
            "Query.admins": FunctionResolver.of(_admins),
        },
    )


def test_model_rules_give_their_providers_directives_as_amplify_does() -> None:
    b = bundle()
    d = effective_directives(b.schema, b.models, b.operations)
    model = {APIKEY, COGNITO}
    assert set(d[("Note", "title")]) == model
    assert set(d[("ModelNoteConnection", "items")]) == model
    for root, name in (("Query", "getNote"), ("Query", "listNotes"), ("Query", "syncNotes"), ("Mutation", "createNote"), ("Subscription", "onCreateNote")):
        assert set(d[(root, name)]) == model, name
    # A non-model type stored in the model is read through it.
    assert set(d[("Address", "street")]) == model
    # Field-level rules: the field's directives are its rules' providers.
    assert d[("Note", "salary")] == (COGNITO,)
    # Written directives: the field's replace the type's; none at all means the default mode.
    assert d[("Stats", "internal")] == (AuthDirective(mode="AWS_IAM"),)
    assert {x.mode for x in d[("Stats", "count")]} == {"API_KEY", "AWS_IAM", "AWS_LAMBDA"}
    assert d[("Query", "hello")] == ()
    assert d[("Query", "admins")] == (AuthDirective(mode="AMAZON_COGNITO_USER_POOLS", cognito_groups=("Admins",)),)


def test_one_mode_and_no_directives_wraps_nothing() -> None:
    b = build_schema("type Todo @model { title: String }\ntype Query { hello: String }")
    auth = install_directive_auth(b.schema, default_mode="API_KEY", modes=["API_KEY"], models=b.models, operations=b.operations)
    assert not auth.active
    assert auth.class_key(ALICE) == auth.class_key(API_KEY) == ""


async def run(b: Any, identity: Identity, query: str) -> Any:
    ctx = RequestContext(identity=identity, store=None)  # type: ignore[arg-type]
    result = execute(b.schema, parse(query), context_value=ctx)
    return await result if not hasattr(result, "data") else result


def messages(result: Any) -> list[str]:
    return sorted(e.message for e in result.errors or ())


async def test_wrapped_resolvers_refuse_per_field() -> None:
    b = bundle()
    auth = install_directive_auth(
        b.schema,
        default_mode="API_KEY",
        modes=["API_KEY", "AMAZON_COGNITO_USER_POOLS", "AWS_IAM", "AWS_LAMBDA"],
        models=b.models,
        operations=b.operations,
    )
    assert auth.active
    ok = await run(b, API_KEY, "{ hello stats { count internal } }")
    assert ok.data == {"hello": "hi", "stats": {"count": 1, "internal": None}}
    assert messages(ok) == ["Not Authorized to access internal on type Stats"]
    assert all(isinstance(e.original_error, Unauthorized) for e in ok.errors)

    alice = await run(b, ALICE, "{ hello admins }")
    assert alice.data == {"hello": None, "admins": None}
    assert messages(alice) == ["Not Authorized to access admins on type Query", "Not Authorized to access hello on type Query"]
    assert (await run(b, ADMIN, "{ admins }")).data == {"admins": "yes"}

    iam = await run(b, IAM, "{ stats { count internal } }")
    assert iam.data == {"stats": {"count": 1, "internal": "x"}} and not iam.errors
    # Only fields some caller may be refused are wrapped: a field whose every parent has the
    # same directives was decided by the parent already.
    assert ("Stats", "internal") in auth.wrapped and ("Query", "hello") in auth.wrapped
    assert ("Note", "title") not in auth.wrapped and ("Stats", "count") not in auth.wrapped
    # Lambda deniedFields apply on top of directives, also to fields not wrapped before.
    lam = await run(b, LAMBDA, "{ stats { count internal } }")
    assert lam.data == {"stats": {"count": None, "internal": None}}
    assert messages(lam) == ["Not Authorized to access count on type Stats", "Not Authorized to access internal on type Stats"]
    assert ("Stats", "count") in auth.wrapped
    assert (await run(b, API_KEY, "{ stats { count } }")).data == {"stats": {"count": 1}}
    assert not (await run(b, Identity(auth_mode="AWS_LAMBDA"), "{ stats { count } }")).errors
    # SYSTEM passes everything.
    assert not (await run(b, SYSTEM, "{ hello admins stats { count internal } }")).errors
    # Installing twice does not wrap twice.
    before = {k: b.schema.get_type(k[0]).fields[k[1]].resolve for k in auth.wrapped}
    install_directive_auth(b.schema, default_mode="API_KEY", modes=auth.modes, models=b.models, operations=b.operations)
    assert before == {k: b.schema.get_type(k[0]).fields[k[1]].resolve for k in auth.wrapped}


def test_subscriptions_are_checked_at_subscribe_time_and_grouped_by_decision() -> None:
    b = bundle()
    auth = install_directive_auth(
        b.schema, default_mode="API_KEY", modes=["API_KEY", "AWS_IAM", "AMAZON_COGNITO_USER_POOLS"], models=b.models, operations=b.operations
    )
    doc = parse("subscription S { onCreateNote { title } }")
    auth.check_subscription(ALICE, b.schema, doc, None)
    auth.check_subscription(API_KEY, b.schema, doc, "S")
    with pytest.raises(Unauthorized, match="Not Authorized to access onCreateNote on type Subscription"):
        auth.check_subscription(IAM, b.schema, doc, None)
    assert len({auth.class_key(i) for i in (ALICE, ADMIN, API_KEY, IAM)}) == 4


def test_a_malformed_field_rule_fails_at_build() -> None:
    with pytest.raises(ConfigError, match="Note.secret"):
        build_schema('type Note @model { secret: String @auth(rules: [{ allow: groups }]) }')
