"""The sans-IO cores, without a network: coalescing, batching, conflict decisions, error
classification, filters, and the graphql-transport-ws client wired back to back with the
server's own protocol core."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client_sdk import DISCARD, RETRY, InvalidQuery, ModelDef
from client_sdk._outbox import (
    Append,
    Drop,
    Pending,
    Replace,
    backoff_delay,
    classify_error,
    coalesce,
    plan_batch,
    resolve_conflict,
    should_apply_remote,
)
from client_sdk._query import order_sql, where_sql
from client_sdk._ws_protocol import Acked, Next, OpError, Pong, ProtocolError, TransportWsClient

# --- coalescing --------------------------------------------------------------------------------

ops = st.lists(
    st.tuples(st.sampled_from(["update", "delete", "send"]), st.dictionaries(st.sampled_from("abc"), st.integers(0, 9))),
    max_size=12,
)


def apply(server: dict[str, Any] | None, op: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    if op == "create":
        return {k: v for k, v in payload.items() if k != "id"}
    if op == "update":
        assert server is not None
        return {**server, **{k: v for k, v in payload.items() if k != "id"}}
    return None


@settings(max_examples=200, deadline=None)
@given(first=st.dictionaries(st.sampled_from("abc"), st.integers(0, 9)), seq=ops)
def test_coalescing_preserves_the_final_state(first: dict[str, int], seq: list[tuple[str, dict[str, int]]]) -> None:
    """Invariant: a server applying the coalesced outbox in order ends in the same state as one
    applying every change, and nothing already on the wire is ever modified."""
    plain: list[tuple[str, dict[str, Any]]] = [("create", {"id": "r", **first})]
    outbox: list[list[Any]] = [["create", {"id": "r", **first}, False]]  # op, payload, sent
    deleted = False
    for op, payload in seq:
        if op == "send":
            for e in outbox:
                e[2] = True
            continue
        if deleted:
            continue
        full = {"id": "r", **payload} if op == "update" else {"id": "r"}
        plain.append((op, full))
        last = Pending(op=outbox[-1][0], payload=outbox[-1][1], sent=outbox[-1][2]) if outbox else None
        frozen = [(e[0], dict(e[1])) for e in outbox if e[2]]
        d = coalesce(last, op, full)  # type: ignore[arg-type]
        if isinstance(d, Append):
            outbox.append([d.op, dict(d.payload), False])
        elif isinstance(d, Replace):
            outbox[-1][:2] = [d.op, dict(d.payload)]
        else:
            assert isinstance(d, Drop)
            outbox.pop()
        assert [(e[0], e[1]) for e in outbox if e[2]] == frozen
        deleted = op == "delete"
    expect: dict[str, Any] | None = None
    for op, p in plain:
        expect = apply(expect, op, p)
    got: dict[str, Any] | None = None
    for op, p, _ in outbox:
        got = apply(got, op, p)
    assert got == expect
    # At most one unsent entry per record: coalescing really coalesces.
    assert sum(1 for e in outbox if not e[2]) <= 1


def test_coalesce_never_merges_into_a_sent_entry() -> None:
    sent_create = Pending(op="create", payload={"id": "r", "a": 1}, sent=True)
    assert isinstance(coalesce(sent_create, "update", {"id": "r", "a": 2}), Append)
    assert isinstance(coalesce(sent_create, "delete", {"id": "r"}), Append)
    unsent = Pending(op="create", payload={"id": "r", "a": 1}, sent=False)
    assert coalesce(unsent, "update", {"id": "r", "b": 2}) == Replace(op="create", payload={"id": "r", "a": 1, "b": 2})
    assert isinstance(coalesce(unsent, "delete", {"id": "r"}), Drop)


def test_plan_batch() -> None:
    # Frozen batches are resent exactly, each under its own seq, before anything new.
    assert plan_batch([(1, "a", 7), (2, "b", 7), (3, "c", 8), (4, "d", None)], 10, 4) == [[1, 2], [3]]
    # Unsent: in order, bounded, stopping before a second entry of one record.
    assert plan_batch([(1, "a", None), (2, "b", None), (3, "a", None), (4, "c", None)], 10) == [[1, 2]]
    assert plan_batch([(1, "a", None), (2, "b", None), (3, "c", None)], 2) == [[1, 2]]
    assert plan_batch([(i, str(i), None) for i in range(7)], 2, 3) == [[0, 1], [2, 3], [4, 5]]
    assert plan_batch([(1, "a", None), (2, "b", None), (3, "c", None), (4, "b", None)], 1, 9) == [[1], [2], [3]]
    assert plan_batch([], 5) == []


@pytest.mark.parametrize(
    ("error_type", "outcome"),
    [
        ("ConflictUnhandled", "conflict"),
        ("InternalFailure", "retry"),
        ("BadRequest", "dead"),
        ("ValidationError", "dead"),
        ("Unauthorized", "dead"),
        ("UnauthorizedException", "dead"),
        ("DynamoDB:ConditionalCheckFailedException", "dead"),
        ("NotFound", "dead"),
        (None, "dead"),
    ],
)
def test_classify_error(error_type: str | None, outcome: str) -> None:
    assert classify_error(error_type) == outcome


def test_resolve_conflict() -> None:
    remote = {"id": "r", "title": "server", "_version": 4}
    kw: dict[str, Any] = {"op": "update", "payload": {"id": "r", "title": "mine"}, "remote": remote}
    assert resolve_conflict(DISCARD, attempt=1, max_attempts=3, **kw).kind == "discard"
    r = resolve_conflict(RETRY, attempt=1, max_attempts=3, **kw)
    assert (r.kind, r.payload, r.version) == ("resend", {"id": "r", "title": "mine"}, 4)
    m = resolve_conflict({"title": "merged", "_version": 1, "updatedAt": "x"}, attempt=2, max_attempts=3, **kw)
    assert (m.kind, m.payload, m.version) == ("resend", {"id": "r", "title": "merged"}, 4)
    assert resolve_conflict(RETRY, attempt=3, max_attempts=3, **kw).kind == "dead"
    assert resolve_conflict(DISCARD, attempt=9, max_attempts=3, **kw).kind == "discard"
    with pytest.raises(TypeError, match="DISCARD or RETRY"):
        resolve_conflict(42, attempt=1, max_attempts=3, **kw)


def test_should_apply_remote() -> None:
    assert should_apply_remote(None, {"_version": 1, "_lastChangedAt": 5})
    assert should_apply_remote((1, 5), {"_version": 2, "_lastChangedAt": 9})
    assert not should_apply_remote((2, 9), {"_version": 2, "_lastChangedAt": 9})  # our own echo
    assert not should_apply_remote((3, 12), {"_version": 2, "_lastChangedAt": 9})  # a late event
    assert should_apply_remote((None, None), {"_version": 1, "_lastChangedAt": 1})


@given(attempt=st.integers(0, 100), jitter=st.floats(0, 0.999))
def test_backoff_is_bounded_and_jittered(attempt: int, jitter: float) -> None:
    d = backoff_delay(attempt, base=0.1, cap=5.0, jitter=jitter)
    assert 0.05 <= d <= 5.0 or attempt == 0
    assert d <= backoff_delay(attempt, base=0.1, cap=5.0, jitter=0.999)


# --- filters -----------------------------------------------------------------------------------

TODO = ModelDef.of("Todo", {"title": "String!", "done": "Boolean", "n": "Int", "tags": "[String]"})
ROWS = [
    {"id": "1", "title": "milk", "done": True, "n": 3, "tags": ["shop"]},
    {"id": "2", "title": "mint", "done": False, "n": 1, "tags": []},
    {"id": "3", "title": "eggs", "done": None, "n": 2, "tags": ["shop", "x"]},
]


def run(where: Any, order: Any = None) -> list[str]:
    db = sqlite3.connect(":memory:")
    db.execute('CREATE TABLE t (id TEXT, "title" TEXT, "done" INTEGER, "n" INTEGER, "tags" TEXT)')
    fm = TODO.field_map
    for r in ROWS:
        db.execute("INSERT INTO t VALUES (?,?,?,?,?)", [r["id"], *(fm[k].to_sql(r[k]) for k in ("title", "done", "n", "tags"))])
    sql, params = where_sql(TODO, where)
    return [r[0] for r in db.execute(f"SELECT id FROM t WHERE {sql} ORDER BY {order_sql(TODO, order)}", params)]


def test_filters() -> None:
    assert run({"done": {"eq": True}}) == ["1"]
    assert run({"done": {"eq": False}}) == ["2"]
    assert run({"title": {"beginsWith": "mi"}}, "-n") == ["1", "2"]
    assert run({"tags": {"contains": "shop"}}) == ["1", "3"]
    assert run({"tags": {"notContains": "x"}}) == ["1", "2"]
    assert run({"n": {"between": [2, 3]}}) == ["1", "3"]
    assert run({"or": [{"n": {"eq": 1}}, {"title": {"eq": "eggs"}}]}) == ["2", "3"]
    assert run({"not": {"n": {"gt": 1}}}) == ["2"]
    assert run({"done": {"attributeExists": False}}) == ["3"]
    assert run({"n": {"in": [1, 3]}}, ["title"]) == ["1", "2"]
    assert run(None, "-title") == ["2", "1", "3"]
    with pytest.raises(InvalidQuery, match="no field 'nope'"):
        where_sql(TODO, {"nope": {"eq": 1}})
    with pytest.raises(InvalidQuery, match="unknown operator"):
        where_sql(TODO, {"n": {"like": 1}})


# --- graphql-transport-ws, back to back with the server's core ----------------------------------


def test_ws_client_core_against_the_server_core() -> None:
    from server.protocols import NEED_DATA
    from server.protocols._common import Role
    from server.protocols.transport_ws import ConnectionInit, Next as SNext, Ping, Pong as SPong, Subscribe
    from server.protocols.transport_ws import TransportWSConnection

    srv = TransportWSConnection(Role.SERVER)
    cli = TransportWsClient()

    def to_server() -> list[Any]:
        for f in cli.data_to_send():
            srv.receive_data(f)
        out = []
        while (ev := srv.next_event()) is not NEED_DATA:
            out.append(ev)
        return out

    def to_client() -> list[Any]:
        out = []
        for f in srv.data_to_send():
            out += cli.receive(f)
        return out

    cli.init({"x-api-key": "k"})
    evs = to_server()
    assert isinstance(evs[0], ConnectionInit) and evs[0].payload == {"x-api-key": "k"}
    srv.accept_init()
    assert to_client() == [Acked()] and cli.acked
    cli.subscribe("Todo:create", "subscription { onCreateTodo { id } }")
    evs = to_server()
    assert isinstance(evs[0], Subscribe) and evs[0].id == "Todo:create"
    srv.send(SNext(id="Todo:create", payload={"data": {"onCreateTodo": {"id": "1"}}}))
    assert to_client() == [Next(id="Todo:create", payload={"data": {"onCreateTodo": {"id": "1"}}})]
    srv.send(Ping(payload={"t": 1}))
    assert to_client() == []
    assert isinstance(to_server()[0], SPong)  # answered automatically
    cli.ping({"barrier": True})
    to_server()
    assert to_client() == [Pong(payload={"barrier": True})]
    srv.fail_operation("Todo:create", "boom", error_type="InternalFailure")
    evs = to_client()
    assert isinstance(evs[0], OpError) and evs[0].id == "Todo:create"


def test_ws_client_core_refuses_bad_frames() -> None:
    cli = TransportWsClient()
    with pytest.raises(ProtocolError, match="before connection_ack"):
        cli.subscribe("1", "subscription { x }")
    for bad in ["nope", "[]", json.dumps({"type": "next"}), json.dumps({"type": "weird", "id": "1"})]:
        with pytest.raises(ProtocolError):
            cli.receive(bad)
    cli.receive(json.dumps({"type": "connection_ack"}))
    cli.subscribe("1", "subscription { x }")
    with pytest.raises(ProtocolError, match="already live"):
        cli.subscribe("1", "subscription { x }")
    cli.complete("1")
    # Results for an operation we completed are dropped.
    assert cli.receive(json.dumps({"type": "next", "id": "1", "payload": {}})) == []
