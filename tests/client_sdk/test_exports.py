"""The public API is the sorted export list, and client_sdk imports nothing from server."""

from __future__ import annotations

import subprocess
import sys

import client_sdk

from .conftest import ROOT

EXPECTED = [
    "DISCARD", "RETRY", "ApiKey", "Auth", "AuthRejected", "Change", "ConflictHandler", "ConflictRecord", "DeadLetter", "FieldDef",
    "Headers", "InvalidItem", "InvalidQuery", "Jwt", "LocalError", "ModelDef", "ModelHandle", "NetworkError",
    "RecordNotFound", "RemoteError", "ServerError", "SigV4", "Status", "SyncClient", "SyncError", "SyncTimeout", "Timeouts",
    "UnknownModel",
]


def test_exported_members() -> None:
    assert client_sdk.__all__ == EXPECTED
    assert client_sdk.__all__ == sorted(client_sdk.__all__, key=lambda n: (not n.isupper(), n))
    for name in client_sdk.__all__:
        assert getattr(client_sdk, name) is not None


def test_client_sdk_imports_nothing_from_server() -> None:
    code = (
        "import sys, pkgutil, importlib, client_sdk\n"
        "for m in pkgutil.iter_modules(client_sdk.__path__): importlib.import_module('client_sdk.' + m.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'server' or m.startswith('server.'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


CORES = {"_outbox", "_ws_protocol", "_documents", "_query", "_model", "_errors", "_sigv4"}
FORBIDDEN = {"asyncio", "aiohttp", "aiosqlite", "socket", "time", "sqlite3", "random"}


def test_sans_io_cores_import_no_io() -> None:
    """The decision cores import only the standard library's pure parts and each other
    (checked on the source: importing a submodule runs the package's __init__)."""
    import ast

    for core in sorted(CORES):
        tree = ast.parse((ROOT / "client_sdk" / f"{core}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    assert node.module in CORES, f"{core} imports the adapter module {node.module}"
                    continue
                names = [(node.module or "").split(".")[0]]
            else:
                continue
            assert not set(names) & FORBIDDEN, f"{core} imports {names}"
