"""Signed nextTokens: round trip, binding to model and query, tamper and forgery detection."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.errors import BadRequest
from server.sync import CursorCodec, query_hash

SECRET = b"s" * 32


def test_round_trip():
    codec = CursorCodec(SECRET)
    q = query_hash("list", {"title": {"eq": "x"}})
    token = codec.encode(model="Todo", query=q, state={"k": "abc", "n": 3})
    assert codec.decode(token, model="Todo", query=q) == {"k": "abc", "n": 3}


def test_query_hash_is_order_insensitive_and_distinguishes_queries():
    assert query_hash("list", {"a": 1, "b": 2}) == query_hash("list", {"b": 2, "a": 1})
    assert query_hash("list", {"a": 1}) != query_hash("list", {"a": 2})
    assert query_hash("list", None) != query_hash("sync", None)


def test_foreign_model_and_query_are_refused():
    codec = CursorCodec(SECRET)
    token = codec.encode(model="Todo", query=query_hash("list", None), state={"k": "a"})
    with pytest.raises(BadRequest, match="issued for 'Todo', not 'Note'"):
        codec.decode(token, model="Note", query=query_hash("list", None))
    with pytest.raises(BadRequest, match="different query"):
        codec.decode(token, model="Todo", query=query_hash("list", {"x": 1}))


def test_other_secret_is_refused():
    token = CursorCodec(b"a" * 32).encode(model="Todo", query="q", state={})
    with pytest.raises(BadRequest, match="signature mismatch"):
        CursorCodec(b"b" * 32).decode(token, model="Todo", query="q")


def test_edited_payload_is_refused():
    codec = CursorCodec(SECRET)
    token = codec.encode(model="Todo", query="q", state={"k": "a"})
    body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["s"]["k"] = "zzz"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode() + "." + sig
    with pytest.raises(BadRequest, match="invalid nextToken"):
        codec.decode(forged, model="Todo", query="q")


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!!.???", "eyJ9.x", 123])
def test_garbage_is_refused(token):
    with pytest.raises(BadRequest, match="invalid nextToken"):
        CursorCodec(SECRET).decode(token, model="Todo", query="q")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_random_text_never_crashes(text):
    """Any string either decodes (never, unless signed by us) or raises BadRequest."""
    with pytest.raises(BadRequest):
        CursorCodec(SECRET).decode(text, model="Todo", query="q")


def test_short_secret_is_refused():
    with pytest.raises(ValueError):
        CursorCodec(b"short")
