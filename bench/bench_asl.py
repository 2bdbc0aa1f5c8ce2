"""State transitions per second: Syncline's ASL interpreter vs moto's Step Functions interpreter.

Four machines (a Pass chain, a Choice loop, Map over 1,000 items, Parallel branches) run in the
same process: on Syncline's in-memory driver (virtual clock, history recorded as events), and on
moto's interpreter (a copy of LocalStack's), which moto runs only with its setting
`execute_state_machine: True` (`mock_aws(config={"stepfunctions": {"execute_state_machine": True}})`),
through a boto3 client, polling DescribeExecution until the execution ends.

A "transition" is one state entered (the count of *StateEntered events in our history, which
is the same machine for both engines).

    .venv/bin/python bench/bench_asl.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.workflows.asl.interpreter import ExecutionConfig  # noqa: E402
from server.workflows.asl.local import LocalDriver  # noqa: E402
from server.workflows.asl.model import parse_state_machine  # noqa: E402


def pass_chain(length: int = 100) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for i in range(length):
        state: dict[str, Any] = {"Type": "Pass", "Result": {"step": i}, "ResultPath": f"$.s{i % 10}"}
        if i == length - 1:
            state["End"] = True
        else:
            state["Next"] = f"P{i + 1}"
        states[f"P{i}"] = state
    return {"StartAt": "P0", "States": states}


def choice_loop(rounds: int = 100) -> dict[str, Any]:
    return {
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Result": 0, "ResultPath": "$.n", "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": rounds, "Next": "Inc"}],
                "Default": "Done",
            },
            "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Check"},
            "Done": {"Type": "Succeed"},
        },
    }


def map_items() -> dict[str, Any]:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 0,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Double",
                    "States": {"Double": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True}},
                },
                "End": True,
            }
        },
    }


def parallel_branches(branches: int = 10, depth: int = 10) -> dict[str, Any]:
    def branch(b: int) -> dict[str, Any]:
        states = {}
        for i in range(depth):
            state: dict[str, Any] = {"Type": "Pass", "Result": {"b": b, "i": i}}
            if i == depth - 1:
                state["End"] = True
            else:
                state["Next"] = f"B{b}S{i + 1}"
            states[f"B{b}S{i}"] = state
        return {"StartAt": f"B{b}S0", "States": states}

    return {"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "Branches": [branch(b) for b in range(branches)], "End": True}}}


MACHINES: list[tuple[str, Callable[[], dict[str, Any]], Any]] = [
    ("pass chain x100", pass_chain, {"x": 1}),
    ("choice loop x100", choice_loop, {}),
    ("map 1,000 items", map_items, {"items": list(range(1000))}),
    ("parallel 10x10", parallel_branches, {"x": 1}),
]


def ours(definition: dict[str, Any], input: Any, repeat: int) -> tuple[int, float, Any]:
    machine = parse_state_machine(definition)
    driver = LocalDriver()
    result = driver.run(machine, input)
    transitions = sum(1 for event, _ in driver.events if event.type.endswith("StateEntered"))
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        LocalDriver(keep_history=True).run(machine, input, ExecutionConfig())
        timings.append(time.perf_counter() - start)
    return transitions, statistics.median(timings), result.output


def moto_runs(definition: dict[str, Any], input: Any, repeat: int) -> tuple[float, Any]:
    import boto3
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name="us-east-1")
        arn = client.create_state_machine(
            name="bench", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/bench"
        )["stateMachineArn"]
        timings = []
        output = None
        for attempt in range(repeat):
            start = time.perf_counter()
            execution = client.start_execution(
                stateMachineArn=arn, name=f"run-{attempt}", input=json.dumps(input)
            )["executionArn"]
            while True:
                described = client.describe_execution(executionArn=execution)
                if described["status"] != "RUNNING":
                    break
                time.sleep(0.0005)
            timings.append(time.perf_counter() - start)
            if described["status"] != "SUCCEEDED":
                raise RuntimeError(f"moto: {described['status']} {described.get('error')} {described.get('cause')}")
            output = json.loads(described["output"])
    return statistics.median(timings), output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'machine':<20} {'transitions':>11} {'syncline tr/s':>14} {'moto tr/s':>11} {'ratio':>7}")
    ratios = []
    for name, build, input in MACHINES:
        definition = build()
        transitions, our_time, our_output = ours(definition, input, args.repeat)
        moto_time, moto_output = moto_runs(definition, input, max(1, args.repeat // 2))
        if our_output != moto_output:
            print(f"  note: outputs differ for {name}", file=sys.stderr)
        ours_rate = transitions / our_time
        moto_rate = transitions / moto_time
        ratios.append(ours_rate / moto_rate)
        print(f"{name:<20} {transitions:>11} {ours_rate:>14,.0f} {moto_rate:>11,.0f} {ours_rate / moto_rate:>6.1f}x")
    print(f"geometric mean ratio: {statistics.geometric_mean(ratios):.1f}x (target >= 10x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
