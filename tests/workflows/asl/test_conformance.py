"""Every execution recorded against real AWS Step Functions, replayed through our engine.

The cases live beside the checkout in ../shared/asl-conformance/cases (871 files; see its
README): definition + input + what AWS answered (status, output, or error and cause). Each
case runs on the local driver's virtual clock and must give the recorded result.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.workflows.asl.testing import run_case

CONFORMANCE = Path(__file__).parents[3] / ".." / "shared" / "asl-conformance"
CASES = sorted((CONFORMANCE / "cases").glob("*.json")) if (CONFORMANCE / "cases").is_dir() else []

# Cases we fail today, with the reason. (Cases we differ on *on purpose* are listed in
# docs/workflows.md, "ASL engine"; there are none.)
KNOWN_FAILURES: dict[str, str] = {}


@pytest.mark.skipif(not CASES, reason=f"no conformance cases at {CONFORMANCE.resolve()}/cases (../shared is absent)")
def test_the_conformance_suite_is_complete() -> None:
    """The README promises 871 cases: a truncated copy must not pass silently."""
    assert len(CASES) == 871


@pytest.mark.skipif(not CASES, reason=f"no conformance cases at {CONFORMANCE.resolve()}/cases (../shared is absent)")
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_recorded_execution(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    result = run_case(case, name=path.stem)
    if path.stem in KNOWN_FAILURES and not result.passed:
        pytest.xfail(KNOWN_FAILURES[path.stem])
    assert result.passed, f"{result.reason}\nactual: {json.dumps(result.actual)[:2000]}"
