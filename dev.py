#!/usr/bin/env python3
"""One entry point for a fresh machine that has only python3.

    python3 dev.py serve examples/todo   # run the server on the todo example
    python3 dev.py test                  # mypy --strict, then the whole test suite

It creates `.venv` on first use (and again whenever pyproject.toml changes),
installs Syncline with its test extras into it, then runs the command there.
Any other arguments are passed to the `syncline` command.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".syncline-installed"


def _ensure_env() -> None:
    """Create or refresh the virtual environment; skip when nothing changed."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not (BIN / "python").exists():
        print("dev.py: creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("dev.py: installing syncline and its test dependencies ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(digest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    _ensure_env()
    python = str(BIN / "python")
    if argv[0] == "test":
        mypy = subprocess.run([python, "-m", "mypy"], cwd=ROOT)
        if mypy.returncode != 0:
            print("dev.py: mypy --strict failed", flush=True)
            return mypy.returncode
        return subprocess.run([python, "-m", "pytest", *argv[1:]], cwd=ROOT).returncode
    return subprocess.run([str(BIN / "syncline"), *argv]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
