"""Schema migration: additive changes migrate in place, destructive ones are refused."""

from __future__ import annotations

import pytest

from server.errors import SchemaMigrationError
from server.models import FieldSpec, ModelSpec

from .conftest import USER

TITLE = FieldSpec(name="title", type_name="String", kind="scalar", required=True)
NOTE = FieldSpec(name="note", type_name="String", kind="scalar")


def todo(*fields, conflict="AUTOMERGE"):
    return ModelSpec(name="Todo", fields=(TITLE, *fields), conflict=conflict)


async def test_first_migration_then_additive_changes_keep_data(make_store):
    store = await make_store(models=None)
    assert await store.migrate([todo()]) == ["created model Todo"]
    item = (await store.create("Todo", {"title": "keep me"}, identity=USER)).item
    await store.close()

    store = await make_store(models=None)
    changes = await store.migrate(
        [
            todo(NOTE, FieldSpec(name="tags", type_name="String", kind="scalar", is_list=True), conflict="LAST_WRITER_WINS"),
            ModelSpec(name="Tag", fields=(FieldSpec(name="label", type_name="String", kind="scalar", required=True),)),
        ]
    )
    assert changes == [
        "added model Tag",
        "Todo: conflict strategy AUTOMERGE -> LAST_WRITER_WINS",
        "added field Todo.note: String",
        "added field Todo.tags: [String]",
    ]
    assert await store.get("Todo", item["id"], identity=USER) == item
    updated = await store.update("Todo", {"id": item["id"], "note": "new field", "_version": 1}, identity=USER)
    assert updated.item["note"] == "new field" and updated.item["title"] == "keep me"
    await store.create("Tag", {"label": "x"}, identity=USER)
    assert await store.migrate(
        [todo(NOTE, FieldSpec(name="tags", type_name="String", kind="scalar", is_list=True), conflict="LAST_WRITER_WINS"),
         ModelSpec(name="Tag", fields=(FieldSpec(name="label", type_name="String", kind="scalar", required=True),))]
    ) == []


@pytest.mark.parametrize(
    ("new_fields", "fragments"),
    [
        ((TITLE,), ["Todo.note", "removed", "Restore the field"]),
        ((TITLE, FieldSpec(name="note", type_name="Int", kind="scalar")), ["Todo.note", "from String to Int"]),
        ((TITLE, FieldSpec(name="note", type_name="String", kind="scalar", is_list=True)), ["Todo.note", "between list and single value"]),
        ((TITLE, NOTE, FieldSpec(name="due", type_name="AWSDateTime", kind="scalar", required=True)), ["Todo.due", "non-null field", "Add it as nullable first"]),
    ],
)
async def test_destructive_changes_are_refused_naming_type_and_field(make_store, new_fields, fragments):
    store = await make_store(models=[todo(NOTE)])
    await store.create("Todo", {"title": "a", "note": "has data"}, identity=USER)
    with pytest.raises(SchemaMigrationError) as info:
        await store.migrate([ModelSpec(name="Todo", fields=new_fields)])
    for fragment in fragments:
        assert fragment in info.value.message
    assert "1 stored item(s)" in info.value.message
    # nothing changed: the old schema still applies after a restart
    await store.close()
    store = await make_store(models=None)
    assert await store.migrate([todo(NOTE)]) == []


async def test_nullable_to_non_null_is_refused_only_when_rows_hold_null(make_store):
    store = await make_store(models=[todo(NOTE)])
    await store.create("Todo", {"title": "a"}, identity=USER)
    required_note = FieldSpec(name="note", type_name="String", kind="scalar", required=True)
    with pytest.raises(SchemaMigrationError, match=r"Todo\.note: the field became non-null"):
        await store.migrate([todo(required_note)])
    page = await store.list("Todo", identity=USER)
    await store.update("Todo", {"id": page.items[0]["id"], "note": "filled", "_version": 1}, identity=USER)
    assert await store.migrate([todo(required_note)]) == ["changed field Todo.note: String -> String!"]


async def test_removed_model_with_data_is_refused(make_store):
    other = ModelSpec(name="Tag", fields=(FieldSpec(name="label", type_name="String", kind="scalar"),))
    store = await make_store(models=[todo(), other])
    assert await store.migrate([todo()]) == ["removed model Tag"]  # empty: fine
    await store.migrate([todo(), other])
    await store.create("Tag", {"label": "x"}, identity=USER)
    with pytest.raises(SchemaMigrationError, match=r"Tag: the type was removed .* Restore the type"):
        await store.migrate([todo()])


async def test_changes_to_empty_models_are_free(make_store):
    store = await make_store(models=[todo(NOTE)])
    changes = await store.migrate([todo(FieldSpec(name="note", type_name="Int", kind="scalar", required=True))])
    assert changes == ["changed field Todo.note: String -> Int!"]


async def test_a_dropped_all_null_field_disappears_from_later_writes(make_store):
    store = await make_store(models=[todo(NOTE)])
    item = (await store.create("Todo", {"title": "a", "note": None}, identity=USER)).item
    assert "note" in item
    await store.migrate([todo()])
    updated = (await store.update("Todo", {"id": item["id"], "title": "b", "_version": 1}, identity=USER)).item
    assert "note" not in updated
