"""The topic ACL and grants (server/mqtt/_acl.py), sans-IO: no broker, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import server.mqtt
from server.mqtt._acl import OPS, Grants, TopicAcl, group_topic, owner_levels, principal_key

ROOT = Path(__file__).resolve().parents[2]
ACL = TopicAcl(topic_prefix="models", graphql_prefix="graphql", models=["Todo", "Memo"])
GRANTED = "graphql/g1"


def scope(model: str) -> frozenset[str] | None:
    """Alice: sees every Todo, only her own Memos, and no Secret."""
    if model == "Todo":
        return None
    return frozenset({"alice"})


def granted(topic: str) -> bool:
    return topic == GRANTED


def allowed(topic_filter: str) -> bool:
    return ACL.can_subscribe(topic_filter, granted=granted, scope=scope).allowed


def readable(topic: str) -> bool:
    levels = topic.split("/")
    if levels[0] == "graphql":
        return topic == GRANTED
    return levels[1] == "Todo" or (len(levels) == 4 and levels[3] == "alice")


def matches(topic: str, topic_filter: str) -> bool:
    """MQTT 3.1.1 §4.7 topic matching."""
    t, f = topic.split("/"), topic_filter.split("/")
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or level not in ("+", t[i]):
            return False
    return len(t) == len(f)


UNIVERSE = [
    *(f"models/{m}/{op}" for m in ("Todo", "Memo") for op in OPS),
    *(f"models/{m}/{op}/{o}" for m in ("Todo", "Memo") for op in OPS for o in ("alice", "bob")),
    "graphql/g1",
    "graphql/g2",
]
LEVEL = st.sampled_from(["models", "graphql", "Todo", "Memo", "create", "update", "delete", "alice", "bob", "g1", "g2", "+", "#", "x"])


@settings(max_examples=200, deadline=None)
@given(st.lists(LEVEL, min_size=1, max_size=5))
def test_an_allowed_filter_matches_only_readable_topics(levels: list[str]) -> None:
    """Invariant: whatever filter the ACL grants, every server topic it can match is readable."""
    topic_filter = "/".join(levels)
    if allowed(topic_filter):
        leaked = [t for t in UNIVERSE if matches(t, topic_filter) and not readable(t)]
        assert not leaked, (topic_filter, leaked)


@pytest.mark.parametrize(
    "topic_filter,ok",
    [
        ("#", False),
        ("+/Todo/create", False),
        ("models/#", False),
        ("models/+/create", False),
        ("models/Todo/#", True),
        ("models/Todo/create", True),
        ("models/Todo/+/bob", True),
        ("models/Memo/create", False),
        ("models/Memo/create/alice", True),
        ("models/Memo/+/alice", True),
        ("models/Memo/create/bob", False),
        ("models/Memo/create/+", False),
        ("models/Memo/create/alice/x", False),
        ("models/Nope/create", False),
        ("models/Todo/upsert", False),
        ("graphql/g1", True),
        ("graphql/g2", False),
        ("graphql/+", False),
        ("other/topic", False),
    ],
)
def test_subscribe_decisions(topic_filter: str, ok: bool) -> None:
    decision = ACL.can_subscribe(topic_filter, granted=granted, scope=scope)
    assert decision.allowed is ok
    assert ok or decision.reason  # every refusal says why (it is logged)


def test_a_model_the_identity_may_not_read_at_all_is_refused() -> None:
    def nothing(model: str) -> frozenset[str] | None:
        raise LookupError("Not Authorized to listen Memo")

    decision = ACL.can_subscribe("models/Memo/create/alice", granted=granted, scope=nothing)
    assert not decision.allowed and "Not Authorized" in decision.reason


def test_clients_never_publish() -> None:
    for topic in ("models/Todo/create", "graphql/g1", "anything/else"):
        assert not ACL.can_publish(topic).allowed


def test_grants_expire_renew_and_bind_to_one_principal() -> None:
    g = Grants()
    g.grant("c1", "API_KEY:k", "graphql/a", 10.0)
    assert g.allows("c1", "API_KEY:k", "graphql/a", 5.0)
    assert not g.allows("c1", "OPENID_CONNECT:bob", "graphql/a", 5.0)
    assert not g.allows("c2", "API_KEY:k", "graphql/a", 5.0)
    assert not g.allows("c1", "API_KEY:k", "graphql/a", 10.0)
    with pytest.raises(PermissionError):
        g.grant("c1", "OPENID_CONNECT:bob", "graphql/b", 20.0)
    g.grant("c1", "API_KEY:k", "graphql/a", 30.0)  # renewal
    g.grant("c1", "API_KEY:k", "graphql/b", 15.0)
    assert g.next_expiry() == 15.0 and g.count("c1") == 2 and g.count("nobody") == 0
    assert g.expire(16.0) == [("c1", "graphql/b")]
    assert g.topics() == {"graphql/a"} and g.bound_to("c1") == "API_KEY:k"
    assert g.expire(31.0) == [("c1", "graphql/a")]
    assert g.topics() == set() and g.bound_to("c1") is None and g.next_expiry() is None


def test_group_topics_are_stable_per_group_and_distinct_across_groups() -> None:
    a = group_topic("graphql", ("onCreateTodo", "q", "", "{}", "null", "*"))
    assert a == group_topic("graphql", ("onCreateTodo", "q", "", "{}", "null", "*"))
    assert a != group_topic("graphql", ("onCreateTodo", "q", "", "{}", "null", "owner-x"))
    assert a.startswith("graphql/") and "+" not in a and "#" not in a


def test_owner_levels_skip_values_that_are_not_one_topic_level() -> None:
    item = {"owner": "alice", "editors": ["bob", "a/b", "c+d", "#", "", "alice"], "other": 3}
    assert owner_levels(item, ["owner", "editors", "other", "missing"]) == ["alice", "bob"]


def test_principal_key_uses_the_first_present_id() -> None:
    assert principal_key("API_KEY", None, "k1") == "API_KEY:k1"
    assert principal_key("OPENID_CONNECT", None, None) == "OPENID_CONNECT:"


@pytest.mark.parametrize("module", ["_acl.py", "_connect.py"])
def test_mqtt_cores_are_sans_io(module: str) -> None:
    tree = ast.parse((ROOT / "server" / "mqtt" / module).read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"asyncio", "aiohttp", "amqtt", "socket", "time"}


def test_exports() -> None:
    assert server.mqtt.__all__ == sorted(server.mqtt.__all__)
    assert set(server.mqtt.__all__) == {"Grants", "MqttService", "TopicAcl", "group_topic", "principal_key"}
