"""Every module imports alone, in a fresh interpreter (no hidden import-order dependencies),
and the sans-IO cores import no I/O frameworks (DESIGN §1, STYLE rule 7)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for pkg in ("server", "client_sdk")
    for p in (ROOT / pkg).rglob("*.py")
)
SANS_IO = ("server.protocols", "server.workflows.asl", "server.sync", "server.filters")
FORBIDDEN = ("asyncio", "aiohttp", "ariadne", "amqtt", "aiosqlite", "socket")


def test_module_list_is_not_empty() -> None:
    assert "server.app" in MODULES and "client_sdk" in MODULES


@pytest.mark.timeout(900)
def test_every_module_imports_alone() -> None:
    def try_import(name: str) -> str | None:
        r = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=ROOT)
        return None if r.returncode == 0 else f"{name}: {(r.stderr.strip().splitlines() or ['?'])[-1]}"

    with ThreadPoolExecutor(max_workers=4) as pool:
        failed = [f for f in pool.map(try_import, MODULES) if f]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("core", SANS_IO)
def test_sans_io_cores_import_no_io(core: str) -> None:
    mods = [m for m in MODULES if m == core or m.startswith(core + ".")]
    if not mods:
        pytest.skip(f"{core} not present")
    code = (
        "import sys\n"
        f"for m in {mods!r}:\n"
        "    __import__(m)\n"
        f"bad = [f for f in {FORBIDDEN!r} if f in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, f"{core} pulls in I/O modules: {r.stdout}{r.stderr}"
