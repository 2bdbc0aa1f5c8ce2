"""Suite-wide guard: a leaked non-daemon thread fails the run instead of hanging it.

Python joins every non-daemon thread at exit, so one leaked aiosqlite connection (its worker
thread is not a daemon) turns a finished, green pytest run into a CI timeout. At the end of the
session we name any such thread, mark the run failed, and exit without waiting for it.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

_status: dict[str, int] = {"exit": 0}


def _leaked() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    deadline = time.monotonic() + 5
    while _leaked() and time.monotonic() < deadline:
        time.sleep(0.1)
    leaked = _leaked()
    if leaked:
        names = ", ".join(t.name for t in leaked)
        sys.stderr.write(f"\nconftest: non-daemon threads still running after the suite (a leak): {names}\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    _status["exit"] = int(session.exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _leaked():
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(_status["exit"] or 1)
