"""Amplify relationships (@hasMany, @hasOne, @belongsTo; implicit keys, `references`,
`indexName` + @index): the generated shapes, and reads joined through a real SQLiteStore."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from server.errors import ConfigError
from server.schema import build_schema

from .conftest import open_store, runner

SDL = """
type Post @model {
  title: String!
  comments: [Comment] @hasMany
  meta: Meta @hasOne
}
type Comment @model { content: String post: Post @belongsTo }
type Meta @model { views: Int }

type Blog @model { name: String posts: [Article] @hasMany(references: ["blogId"]) }
type Article @model { title: String blogId: ID blog: Blog @belongsTo(references: ["blogId"]) }

type Album @model { name: String tracks: [Track] @hasMany(indexName: "byAlbum", fields: ["id"]) }
type Track @model { albumID: ID! @index(name: "byAlbum", sortKeyFields: ["title"]) title: String }
"""


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Any]:
    bundle = build_schema(SDL)
    store = await open_store(tmp_path / "r.db", bundle)
    try:
        yield runner(bundle, store)
    finally:
        await store.close()


def test_generated_shapes_follow_amplify() -> None:
    bundle = build_schema(SDL)
    schema = bundle.schema
    post = schema.get_type("Post")
    comments = post.fields["comments"]  # type: ignore[union-attr]
    assert str(comments.type) == "ModelCommentConnection"
    assert {k: str(a.type) for k, a in comments.args.items()} == {
        "filter": "ModelCommentFilterInput",
        "sortDirection": "ModelSortDirection",
        "limit": "Int",
        "nextToken": "String",
    }
    # implicit foreign keys, named as Amplify names them, are stored fields with inputs and filters
    assert bundle.model("Comment").field("postCommentsId") is not None  # type: ignore[union-attr]
    assert bundle.model("Post").field("postMetaId") is not None  # type: ignore[union-attr]
    assert "comments" not in bundle.model("Post").field_names  # type: ignore[union-attr]
    assert str(schema.get_type("CreateCommentInput").fields["postCommentsId"].type) == "ID"  # type: ignore[union-attr]
    assert str(schema.get_type("ModelCommentFilterInput").fields["postCommentsId"].type) == "ModelIDInput"  # type: ignore[union-attr]
    assert "comments" not in schema.get_type("CreatePostInput").fields  # type: ignore[union-attr]
    assert "blog" not in schema.get_type("CreateArticleInput").fields  # type: ignore[union-attr]


async def _make(run: Any, model: str, **input: Any) -> str:
    r = await run(f"mutation($i: Create{model}Input!) {{ create{model}(input: $i) {{ id }} }}", {"i": input})
    assert "errors" not in r, r
    return str(r["data"][f"create{model}"]["id"])


async def test_has_many_belongs_to_and_has_one_with_implicit_keys(run: Any) -> None:
    meta = await _make(run, "Meta", views=7)
    post = await _make(run, "Post", title="p", postMetaId=meta)
    other = await _make(run, "Post", title="other")
    for text in ("a", "b", "c"):
        await _make(run, "Comment", content=text, postCommentsId=post)
    await _make(run, "Comment", content="elsewhere", postCommentsId=other)
    r = await run(
        "query($id: ID!) { getPost(id: $id) { title meta { views } comments(limit: 2) { items { content post { title } } nextToken } } }",
        {"id": post},
    )
    got = r["data"]["getPost"]
    assert got["meta"] == {"views": 7}
    first = got["comments"]
    assert len(first["items"]) == 2 and first["nextToken"]
    assert all(c["post"] == {"title": "p"} for c in first["items"])
    rest = await run(
        "query($id: ID!, $t: String) { getPost(id: $id) { comments(limit: 2, nextToken: $t) { items { content } nextToken } } }",
        {"id": post, "t": first["nextToken"]},
    )
    page2 = rest["data"]["getPost"]["comments"]
    assert sorted(c["content"] for c in first["items"] + page2["items"]) == ["a", "b", "c"] and page2["nextToken"] is None
    filtered = await run(
        'query($id: ID!) { getPost(id: $id) { comments(filter: {content: {eq: "b"}}) { items { content } } } }', {"id": post}
    )
    assert filtered["data"]["getPost"]["comments"]["items"] == [{"content": "b"}]
    lonely = await run("query($id: ID!) { getPost(id: $id) { meta { views } } }", {"id": other})
    assert lonely["data"]["getPost"]["meta"] is None


async def test_references_and_index_name_styles(run: Any) -> None:
    blog = await _make(run, "Blog", name="b")
    await _make(run, "Article", title="x", blogId=blog)
    r = await run("query($id: ID!) { getBlog(id: $id) { posts { items { title blog { name } } } } }", {"id": blog})
    assert r["data"]["getBlog"]["posts"]["items"] == [{"title": "x", "blog": {"name": "b"}}]

    album = await _make(run, "Album", name="a")
    await _make(run, "Track", albumID=album, title="t1")
    await _make(run, "Track", albumID="someone-else", title="t2")
    r = await run("query($id: ID!) { getAlbum(id: $id) { tracks { items { title } } } }", {"id": album})
    assert r["data"]["getAlbum"]["tracks"]["items"] == [{"title": "t1"}]


@pytest.mark.parametrize(
    "sdl,needles",
    [
        ("type A @model { n: String bs: B @hasMany }\ntype B @model { n: String }", ["A.bs", "@hasMany", "list"]),
        ("type A @model { n: String b: [B] @hasOne }\ntype B @model { n: String }", ["A.b", "@hasOne", "single"]),
        ("type A @model { n: String bs: [String] @hasMany }", ["A.bs", "String is not one"]),
        ('type A @model { n: String bs: [B] @hasMany(indexName: "byA") }\ntype B @model { n: String }', ["A.bs", "byA"]),
        ('type A @model { n: String bs: [B] @hasMany(references: ["aId"]) }\ntype B @model { n: String }', ["A.bs", "'aId'", "B"]),
        ('type A @model { n: String b: B @belongsTo(fields: ["x", "y"]) }\ntype B @model { n: String }', ["A.b", "composite"]),
        ('type A @model { n: String b: B @belongsTo(fields: ["n2"]) n2: [String] }\ntype B @model { n: String }', ["A.b", "scalar"]),
        ('type A @model { n: String @index(name: "i", queryField: "byN") }', ["A.n", "queryField"]),
        ("type A @model { n: String b: B @hasOne @belongsTo }\ntype B @model { n: String }", ["A.b", "one of"]),
    ],
)
def test_bad_relationships_are_config_errors(sdl: str, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        build_schema(sdl)
    for needle in needles:
        assert needle in err.value.message, err.value.message
