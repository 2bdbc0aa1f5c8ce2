"""The filter/condition language: validation messages and DynamoDB-style evaluation."""

from __future__ import annotations

import pytest

from server.errors import BadRequest
from server.filters import check_filter, dynamodb_type, matches
from server.models import FieldSpec, ModelSpec

SPEC = ModelSpec(
    name="Todo",
    fields=(
        FieldSpec(name="title", type_name="String", kind="scalar", required=True),
        FieldSpec(name="done", type_name="Boolean", kind="scalar"),
        FieldSpec(name="priority", type_name="Int", kind="scalar"),
        FieldSpec(name="score", type_name="Float", kind="scalar"),
        FieldSpec(name="tags", type_name="String", kind="scalar", is_list=True, item_required=True),
        FieldSpec(name="status", type_name="Status", kind="enum"),
        FieldSpec(name="meta", type_name="Meta", kind="object"),
        FieldSpec(name="note", type_name="String", kind="scalar"),
        FieldSpec(name="due", type_name="AWSDateTime", kind="scalar"),
    ),
)

ITEM = {
    "id": "a1",
    "title": "Buy milk",
    "done": False,
    "priority": 3,
    "score": 2.5,
    "tags": ["home", "food"],
    "status": "OPEN",
    "meta": {"k": 1},
    "note": None,
    "_version": 2,
    "_deleted": False,
    "_lastChangedAt": 1000,
    "createdAt": "2026-01-01T00:00:00.000Z",
}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"title": {"eq": "Buy milk"}}, True),
        ({"title": {"eq": "buy milk"}}, False),
        ({"title": {"ne": "x"}}, True),
        ({"title": {"ne": "Buy milk"}}, False),
        ({"priority": {"lt": 4}}, True),
        ({"priority": {"lt": 3}}, False),
        ({"priority": {"le": 3}}, True),
        ({"priority": {"gt": 2}}, True),
        ({"priority": {"gt": 3}}, False),
        ({"priority": {"ge": 3}}, True),
        ({"score": {"gt": 2}}, True),
        ({"priority": {"between": [1, 3]}}, True),
        ({"priority": {"between": [4, 9]}}, False),
        ({"title": {"between": ["A", "C"]}}, True),
        ({"title": {"beginsWith": "Buy"}}, True),
        ({"title": {"beginsWith": "milk"}}, False),
        ({"title": {"contains": "milk"}}, True),
        ({"title": {"contains": "bread"}}, False),
        ({"title": {"notContains": "bread"}}, True),
        ({"title": {"notContains": "milk"}}, False),
        ({"tags": {"contains": "home"}}, True),
        ({"tags": {"contains": "hom"}}, False),  # list membership, not substring
        ({"tags": {"notContains": "work"}}, True),
        ({"done": {"eq": False}}, True),
        ({"done": {"eq": True}}, False),
        ({"status": {"eq": "OPEN"}}, True),
        ({"status": {"in": ["DONE", "OPEN"]}}, True),
        ({"status": {"in": ["DONE"]}}, False),
        ({"status": {"notIn": ["DONE"]}}, True),
        ({"status": {"notIn": ["OPEN"]}}, False),
        ({"tags": {"containsAny": ["x", "food"]}}, True),
        ({"tags": {"containsAny": ["x", "y"]}}, False),
        ({"title": {"attributeExists": True}}, True),
        ({"title": {"attributeExists": False}}, False),
        ({"due": {"attributeExists": False}}, True),
        ({"note": {"attributeExists": True}}, True),  # present, holding null
        ({"title": {"attributeType": "S"}}, True),
        ({"priority": {"attributeType": "N"}}, True),
        ({"score": {"attributeType": "N"}}, True),
        ({"done": {"attributeType": "BOOL"}}, True),
        ({"tags": {"attributeType": "L"}}, True),
        ({"tags": {"attributeType": "SS"}}, False),  # JSON lists are L, never sets
        ({"meta": {"attributeType": "M"}}, True),
        ({"note": {"attributeType": "NULL"}}, True),
        ({"title": {"attributeType": "N"}}, False),
        ({"title": {"size": {"eq": 8}}}, True),
        ({"title": {"size": {"gt": 8}}}, False),
        ({"tags": {"size": {"eq": 2}}}, True),
        ({"tags": {"size": {"between": [3, 5]}}}, False),
        ({"tags": {"size": {"ne": 3, "ge": 2, "le": 2, "lt": 3}}}, True),
        ({"meta": {"size": {"eq": 1}}}, True),
        ({"priority": {"size": {"ge": 0}}}, False),  # numbers have no size
        # metadata fields are filterable
        ({"_version": {"eq": 2}}, True),
        ({"_deleted": {"ne": True}}, True),
        ({"_lastChangedAt": {"gt": 999}}, True),
        ({"id": {"beginsWith": "a"}}, True),
        ({"createdAt": {"beginsWith": "2026-01"}}, True),
        # several operators / fields in one object are AND-ed
        ({"priority": {"gt": 1, "lt": 3}}, False),
        ({"title": {"contains": "milk"}, "done": {"eq": False}}, True),
        ({"title": {"contains": "milk"}, "done": {"eq": True}}, False),
        # and / or / not
        ({"and": [{"priority": {"eq": 3}}, {"done": {"eq": False}}]}, True),
        ({"and": [{"priority": {"eq": 3}}, {"done": {"eq": True}}]}, False),
        ({"or": [{"priority": {"eq": 1}}, {"done": {"eq": False}}]}, True),
        ({"or": [{"priority": {"eq": 1}}, {"done": {"eq": True}}]}, False),
        ({"not": {"priority": {"eq": 3}}}, False),
        ({"not": {"priority": {"eq": 1}}}, True),
        ({"or": [{"not": {"title": {"eq": "Buy milk"}}}, {"and": [{"tags": {"contains": "food"}}]}]}, True),
        ({"and": []}, True),
        ({"or": []}, True),
        ({}, True),
    ],
)
def test_operators(flt, expected):
    check_filter(SPEC, flt)
    assert matches(flt, ITEM) is expected


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        # comparisons on a missing attribute are false; their negations are true (DynamoDB <>)
        ({"priority": {"eq": 1}}, False),
        ({"priority": {"ne": 1}}, True),
        ({"priority": {"lt": 100}}, False),
        ({"priority": {"between": [0, 9]}}, False),
        ({"title": {"contains": "x"}}, False),
        ({"title": {"notContains": "x"}}, True),
        ({"title": {"beginsWith": ""}}, False),
        ({"status": {"in": ["OPEN"]}}, False),
        ({"status": {"notIn": ["OPEN"]}}, True),
        ({"title": {"size": {"ge": 0}}}, False),
        ({"title": {"attributeType": "NULL"}}, False),
        # null operands: eq/ne null test null-or-missing
        ({"priority": {"eq": None}}, True),
        ({"priority": {"ne": None}}, False),
    ],
)
def test_missing_attribute_semantics(flt, expected):
    assert matches(flt, {"id": "x"}) is expected


def test_types_never_mix():
    item = {"n": 1, "b": True, "s": "1"}
    assert not matches({"n": {"eq": "1"}}, item)
    assert not matches({"b": {"eq": 1}}, item)
    assert not matches({"n": {"eq": True}}, item)
    assert matches({"n": {"ne": "1"}}, item)
    assert not matches({"s": {"gt": 0}}, item)
    assert matches({"n": {"eq": 1.0}}, item)
    assert dynamodb_type(True) == "BOOL" and dynamodb_type(1) == "N" and dynamodb_type(None) == "NULL"


@pytest.mark.parametrize(
    ("flt", "fragment"),
    [
        ({"nope": {"eq": 1}}, "Todo has no field 'nope'"),
        ({"title": {"like": "x"}}, "unknown operator 'like'"),
        ({"title": {"eq": 5}}, "title is String!"),
        ({"priority": {"eq": "3"}}, "priority is Int"),
        ({"priority": {"eq": True}}, "priority is Int"),
        ({"done": {"eq": "yes"}}, "done is Boolean"),
        ({"priority": {"between": [1]}}, "list of two bounds"),
        ({"priority": {"between": 1}}, "list of two bounds"),
        ({"title": {"attributeExists": "yes"}}, "true or false"),
        ({"title": {"attributeType": "STRING"}}, "DynamoDB type name"),
        ({"title": {"size": 3}}, "size"),
        ({"title": {"size": {"like": 3}}}, "size takes"),
        ({"title": {"size": {"eq": "3"}}}, "integer"),
        ({"priority": {"beginsWith": "1"}}, "only applies to string fields"),
        ({"tags": {"contains": 3}}, "tags is [String!]"),
        ({"status": {"in": "OPEN"}}, "list of values"),
        ({"and": {"title": {"eq": "x"}}}, "must be a list"),
        ({"or": [{"bad": {"eq": 1}}]}, "filter.or[0].bad"),
        ({"not": [1]}, "must be an object"),
        ({"title": "x"}, "object of operators"),
        ("title", "must be an object"),
    ],
)
def test_check_filter_names_the_fault(flt, fragment):
    with pytest.raises(BadRequest) as info:
        check_filter(SPEC, flt)
    assert fragment in info.value.message


def test_check_filter_accepts_nulls_and_none():
    check_filter(SPEC, None)
    check_filter(SPEC, {"title": None, "and": None, "not": None, "priority": {"eq": None}})
    check_filter(SPEC, {"tags": {"eq": ["a", "b"]}, "meta": {"eq": {"k": 1}}})


def test_condition_messages_say_condition():
    with pytest.raises(BadRequest, match=r"condition\.nope"):
        check_filter(SPEC, {"nope": {"eq": 1}}, what="condition")


def test_export_list():
    import server.filters as filters

    assert filters.__all__ == sorted(filters.__all__)
    assert all(hasattr(filters, name) for name in filters.__all__)
