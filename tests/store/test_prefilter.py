"""The SQL pre-filter never rules out an item the filter matches (it is a superset)."""

from __future__ import annotations

import json
import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from server.filters import check_filter, matches
from server.models import FieldSpec, ModelSpec
from server.store._prefilter import prefilter

SPEC = ModelSpec(
    name="Todo",
    fields=(
        FieldSpec(name="title", type_name="String", kind="scalar", required=True),
        FieldSpec(name="done", type_name="Boolean", kind="scalar"),
        FieldSpec(name="priority", type_name="Int", kind="scalar"),
        FieldSpec(name="score", type_name="Float", kind="scalar"),
        FieldSpec(name="tags", type_name="String", kind="scalar", is_list=True),
    ),
)

texts = st.text(alphabet="ab\u00e9\U0001f600", max_size=3)
ints = st.integers(-3, 3)
values = {
    "title": texts,
    "done": st.booleans(),
    "priority": ints,
    "score": st.floats(-3, 3, allow_nan=False),
    "tags": st.lists(texts, max_size=3),
}
items = st.fixed_dictionaries(
    {"id": texts}, optional={k: st.one_of(st.none(), v) for k, v in values.items()}
)


def leaf(field: str) -> st.SearchStrategy:
    v = values[field]
    if field == "tags":
        return st.fixed_dictionaries({}, optional={"contains": texts, "size": st.fixed_dictionaries({"gt": ints})})
    ops = {
        "eq": v,
        "ne": v,
        "lt": v,
        "ge": v,
        "between": st.lists(v, min_size=2, max_size=2),
        "attributeExists": st.booleans(),
        "in": st.lists(v, max_size=3),
    }
    if field == "title":
        ops.update(beginsWith=texts, contains=texts, notContains=texts)
    if field == "done":
        ops = {"eq": v, "ne": v, "attributeExists": st.booleans()}
    return st.fixed_dictionaries({}, optional=ops)


fields = st.sampled_from(sorted(values))
leaves = fields.flatmap(lambda f: leaf(f).map(lambda ops: {f: ops}))
filters = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: {"and": xs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"or": xs}),
        inner.map(lambda x: {"not": x}),
        st.tuples(inner, inner).map(lambda t: {**t[0], **t[1]}),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(flt=filters, item=items)
def test_prefilter_is_a_superset_of_matches(flt, item):
    """If `matches(filter, item)` then the SQL pre-filter is true for the stored item."""
    check_filter(SPEC, flt)
    sql = prefilter(SPEC, flt)
    if sql is None or not matches(flt, item):
        return
    conn = sqlite3.connect(":memory:")
    try:
        row = conn.execute(f"SELECT {sql[0]} FROM (SELECT ? AS data)", (*sql[1], json.dumps(item))).fetchone()
    finally:
        conn.close()
    assert row[0] == 1, (sql, item)


def test_untranslatable_filters_give_no_prefilter():
    assert prefilter(SPEC, None) is None
    assert prefilter(SPEC, {"not": {"title": {"eq": "a"}}}) is None
    assert prefilter(SPEC, {"title": {"ne": "a"}, "tags": {"contains": "x"}}) is None
    assert prefilter(SPEC, {"or": [{"title": {"eq": "a"}}, {"title": {"ne": "b"}}]}) is None
    assert prefilter(SPEC, {"priority": {"eq": 2**70}}) is None
    sql, params = prefilter(SPEC, {"title": {"eq": "a"}, "done": {"eq": True}})
    assert "json_extract" in sql and params == ('$."title"', "a", '$."done"', "true")
