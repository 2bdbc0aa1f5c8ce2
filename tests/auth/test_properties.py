"""Invariants, checked with hypothesis.

1. `row_filter` (what the store applies) and `can` (what per-item checks use: get, update,
   delete, real-time fan-out) agree on every identity × item × operation: no row is visible
   through one and hidden by the other.
2. Any headers at all either authenticate or raise Unauthorized: never another exception.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.auth.authenticate import AuthConfig, Authenticator
from server.auth.identity import Identity
from server.auth.policy import ModelPolicy
from server.errors import Unauthorized
from server.filters import matches
from server.models import FieldSpec, ModelSpec

NAMES = st.sampled_from(["alice", "bob", "carol"])
SUBS = st.sampled_from(["s1", "s2", "s3"])
GROUPS = st.lists(st.sampled_from(["Admins", "HR", "Dev"]), max_size=2, unique=True).map(tuple)
MODES = st.sampled_from(["AMAZON_COGNITO_USER_POOLS", "OPENID_CONNECT", "API_KEY", "AWS_IAM", "AWS_LAMBDA"])
OPS = st.sampled_from(["get", "list", "sync", "listen", "update", "delete"])


@st.composite
def identities(draw) -> Identity:
    sub, name = draw(SUBS), draw(NAMES)
    return Identity(
        auth_mode=draw(MODES), sub=sub, username=name, groups=draw(GROUPS),
        claims={"sub": sub, "cognito:username": name},
    )


def owner_value() -> st.SearchStrategy:
    return st.one_of(st.none(), NAMES, SUBS, st.builds(lambda s, n: f"{s}::{n}", SUBS, NAMES))


@st.composite
def items(draw) -> dict:
    return {
        "id": "x",
        "owner": draw(owner_value()),
        "owners": draw(st.lists(owner_value().filter(lambda v: v is not None), max_size=3)),
        "editors": draw(st.lists(st.sampled_from(["Admins", "HR", "Dev"]), max_size=2)),
        "team": draw(st.one_of(st.none(), st.sampled_from(["Admins", "HR", "Dev"]))),
    }


RULES = st.lists(
    st.one_of(
        st.just({"allow": "owner"}),
        st.just({"allow": "owner", "provider": "oidc", "identityClaim": "sub"}),
        st.just({"allow": "owner", "ownerField": "owners", "identityClaim": "username", "operations": ["read", "update"]}),
        st.just({"allow": "groups", "groups": ["Admins"], "operations": ["read"]}),
        st.just({"allow": "groups", "groupsField": "editors"}),
        st.just({"allow": "groups", "groupsField": "team", "operations": ["get", "list"]}),
        st.just({"allow": "public", "operations": ["list", "listen"]}),
        st.just({"allow": "private", "provider": "iam", "operations": ["delete"]}),
        st.just({"allow": "custom", "operations": ["sync"]}),
    ),
    min_size=1,
    max_size=4,
)


def S(name: str, is_list: bool = False) -> FieldSpec:
    return FieldSpec(name=name, type_name="String", kind="scalar", is_list=is_list)


@settings(max_examples=200, deadline=None)
@given(rules=RULES, identity=identities(), item=items(), op=OPS)
def test_row_filter_and_can_agree(rules, identity, item, op) -> None:
    """matches(row_filter(identity), item) == can(identity, item) for every op (invariant 1)."""
    spec = ModelSpec(
        name="T", fields=(S("owner"), S("owners", True), S("editors", True), S("team")), auth_rules=tuple(rules)
    )
    policy = ModelPolicy(spec)
    allowed = policy.can(identity, op, item)
    try:
        flt = policy.row_filter(identity, op)
    except Unauthorized:
        assert not allowed
        return
    assert matches(flt, item) == allowed


HEADER_NAMES = st.sampled_from(["x-api-key", "Authorization", "authorization", "X-Amz-Date", "host", "x-amz-content-sha256"])
HEADER_VALUES = st.one_of(
    st.text(max_size=60),
    st.just("AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/appsync/aws4_request, SignedHeaders=host, Signature=" + "0" * 64),
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", *(st.text("abcXYZ_-019", max_size=20),) * 3),
    st.builds(lambda t: "Bearer " + t, st.text(max_size=30)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4), body=st.binary(max_size=40))
def test_any_headers_authenticate_or_raise_unauthorized(tmp_path, headers, body) -> None:
    """Garbage in → Unauthorized, never a crash (invariant 2)."""
    cfg = AuthConfig.from_mapping(
        {
            "default_mode": "API_KEY",
            "additional_modes": ["OPENID_CONNECT", "AWS_IAM", "AWS_LAMBDA"],
            "oidc": {"issuer": "https://x", "hmac_secret": "k" * 32, "algorithms": ["HS256"]},
            "iam": {"access_keys": [{"access_key_id": "A", "secret_access_key": "s", "principal": "p"}]},
            "lambda": {"function": "x:y", "ttl": 0},
        }
    )
    auth = Authenticator(cfg, data_dir=tmp_path, lambda_function=lambda e: {"isAuthorized": False})

    async def run() -> None:
        try:
            await auth.authenticate(headers, body=body, query="a=%zz&b", path="/../g%2")
        except Unauthorized:
            pass
        finally:
            await auth.close()

    asyncio.run(run())
