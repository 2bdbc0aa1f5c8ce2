"""The export lists are sorted and complete (STYLE rule 6), and every module imports alone."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import server.protocols

PACKAGES = ["server.protocols", "server.protocols.transport_ws", "server.protocols.legacy_ws", "server.protocols.appsync"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name):
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__)
    assert len(set(module.__all__)) == len(module.__all__)
    for member in module.__all__:
        assert hasattr(module, member), member


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_is_exported(name):
    module = importlib.import_module(name)
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", "").startswith("server.protocols")
    }
    assert public <= set(module.__all__)


def all_modules():
    names = []
    for info in pkgutil.walk_packages(server.protocols.__path__, "server.protocols."):
        names.append(info.name)
    return names


def test_each_module_imports_alone_and_without_io():
    """A fresh interpreter per module; the cores must not pull in asyncio, aiohttp or socket."""
    code = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "bad = {'aiohttp', 'ariadne', 'amqtt', 'asyncio', 'socket'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    for name in all_modules():
        subprocess.run([sys.executable, "-c", code, name], check=True)
