"""Each auth module's `__all__` is sorted and complete (STYLE rule 6): a public name that is
defined in the module but not exported, or exported but missing, fails here."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = ["api_keys", "authenticate", "lambda_authorizer", "oidc", "policy", "sigv4", "tls"]


@pytest.mark.parametrize("name", MODULES)
def test_export_list_is_sorted_and_complete(name: str) -> None:
    mod = importlib.import_module(f"server.auth.{name}")
    exported = list(mod.__all__)
    assert exported == sorted(exported)
    assert all(hasattr(mod, n) for n in exported)
    defined = {
        n for n, v in vars(mod).items()
        if not n.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v)) and v.__module__ == mod.__name__
    }
    assert defined <= set(exported), f"public but not exported: {sorted(defined - set(exported))}"
