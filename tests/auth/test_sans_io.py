"""policy and sigv4 are pure (STYLE rule 1): the MQTT ACL plugin and the real-time fan-out
call them per subscriber without pulling in an I/O stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", ["server.auth.policy", "server.auth.sigv4", "server.auth.identity"])
def test_pure_modules_import_no_io(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = [m for m in ('asyncio', 'aiohttp', 'socket', 'jwt', 'sqlite3') if m in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
