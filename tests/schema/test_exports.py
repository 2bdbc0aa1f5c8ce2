"""The package's export list is sorted and every name in it exists (STYLE rule 6)."""

from __future__ import annotations

import server.schema as pkg
import server.schema.build as build


def test_all_is_sorted_and_complete() -> None:
    assert list(pkg.__all__) == sorted(pkg.__all__)
    for name in pkg.__all__:
        assert hasattr(pkg, name), name
    assert set(pkg.__all__) >= {
        "AWS_SCALARS", "ResolverBinding", "SchemaBundle", "build_schema", "format_error", "load_resolvers"
    }


def test_build_module_exposes_what_the_app_imports() -> None:
    # server/app.py: from server.schema.build import SchemaBundle, build_schema, format_error, load_resolvers
    assert set(build.__all__) == {"SchemaBundle", "build_schema", "format_error", "load_resolvers"}
    for name in build.__all__:
        assert getattr(build, name) is getattr(pkg, name)
