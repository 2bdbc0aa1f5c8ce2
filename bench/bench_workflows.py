"""Durable STANDARD state transitions per second on SQLite, and EXPRESS executions per second.

A "transition" is one state entered (a *StateEntered history event). The durable machine is a
chain of Task states (an async no-op function), so that *every* transition blocks on a task
completion and therefore commits its own transaction (events + completion + status) in
workflows.db — the engine's worst case; a chain of Pass states would commit many transitions in
one transaction. Many executions run concurrently, as on a server, so commits group
(SQLiteThread's group commit). EXPRESS runs the same chain in memory with startSyncExecution.

    .venv/bin/python bench/bench_workflows.py [--executions N] [--states K] [--durability normal|full]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.workflows.engine import WorkflowEngine  # noqa: E402
from server.workflows.persistence import WorkflowStore  # noqa: E402
from server.workflows.resources import Resources  # noqa: E402


async def noop(event: Any) -> Any:
    return event


def chain(states: int) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for i in range(states):
        state: dict[str, Any] = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:noop"}
        if i == states - 1:
            state["End"] = True
        else:
            state["Next"] = f"T{i + 1}"
        table[f"T{i}"] = state
    return {"StartAt": "T0", "States": table}


def lookup(name: str) -> Any:
    if name != "noop":
        raise LookupError(name)
    return noop


async def durable(executions: int, states: int, durability: str) -> tuple[float, int, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = WorkflowStore(Path(tmp) / "workflows.db", durability=durability)
        await store.open()
        engine = WorkflowEngine(store=store, resources=Resources(functions=lookup))
        await engine.add_machine("chain", chain(states))
        t0, c0 = time.perf_counter(), time.process_time()
        started = await asyncio.gather(*(engine.start_execution("chain", {"n": i}) for i in range(executions)))
        rows = await asyncio.gather(*(engine.wait(s["executionArn"]) for s in started))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert all(r.status == "SUCCEEDED" for r in rows), {r.status for r in rows}
        transitions = engine.transitions
        await engine.close()
        await store.close()
        size = (Path(tmp) / "workflows.db").stat().st_size
    return transitions / elapsed, transitions, size / executions, transitions / cpu


async def express(executions: int, states: int) -> tuple[float, float, float]:
    engine = WorkflowEngine(store=None, resources=Resources(functions=lookup))
    await engine.add_machine("chain", chain(states), "EXPRESS")
    t0, c0 = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(engine.start_sync_execution("chain", {"n": i}) for i in range(executions)))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert all(r["status"] == "SUCCEEDED" for r in results)
    await engine.close()
    return executions / elapsed, executions * states / elapsed, executions * states / cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--states", type=int, default=10)
    parser.add_argument("--durability", choices=("normal", "full"), default="normal")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (per CPU-second figures do not depend on it)")
    rate, transitions, bytes_per, per_cpu = await durable(args.executions, args.states, args.durability)
    print(
        f"STANDARD (durable, synchronous={args.durability.upper()}): {rate:,.0f} transitions/s wall, "
        f"{per_cpu:,.0f} per CPU-second ({transitions} transitions, {args.executions} executions x {args.states} "
        f"Task states, ~{bytes_per / 1024:.1f} KiB stored per execution)  target >= 1,500"
    )
    ex_rate, ex_transitions, ex_per_cpu = await express(args.executions * 4, args.states)
    print(
        f"EXPRESS (in memory): {ex_rate:,.0f} executions/s = {ex_transitions:,.0f} transitions/s wall, "
        f"{ex_per_cpu:,.0f} per CPU-second ({args.executions * 4} executions x {args.states} Task states)  "
        f"= {ex_transitions / rate:.1f}x the durable transition rate (target >= 10x)"
    )


if __name__ == "__main__":
    asyncio.run(main())
