"""`syncline asl validate|run|test`, run as a user runs it: a subprocess on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).parents[3]

FUNCTIONS = '''
def double(event):
    if event["n"] < 0:
        raise ValueError("n must not be negative")
    return {"n": event["n"] * 2}
'''

MACHINE = {
    "StartAt": "Double",
    "States": {
        "Double": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double",
            "Next": "Nap",
        },
        "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Again"},
        "Again": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "double", "Payload.$": "$"},
            "OutputPath": "$.Payload",
            "End": True,
        },
    },
}


def asl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.workflows.asl.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(path: Path, value: Any) -> Path:
    path.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
    return path


def test_run_succeeds_with_functions_and_a_virtual_hour_wait(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.json", MACHINE)
    functions = write(tmp_path / "fns.py", FUNCTIONS)
    done = asl("run", str(machine), "--input", '{"n": 3}', "--functions", str(functions))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "SUCCEEDED", "output": {"n": 12}}


def test_run_reports_a_python_exception_as_the_task_error(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.json", MACHINE)
    functions = write(tmp_path / "fns.py", FUNCTIONS)
    done = asl("run", str(machine), "--input", '{"n": -1}', "--functions", str(functions), "--history")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert (report["status"], report["error"], report["cause"]) == ("FAILED", "ValueError", "n must not be negative")
    types = [event["type"] for event in report["history"]]
    assert types[-2:] == ["LambdaFunctionFailed", "ExecutionFailed"]


def test_run_refuses_an_invalid_definition_with_diagnostics(tmp_path: Path) -> None:
    machine = write(tmp_path / "bad.json", {"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": True}}})
    done = asl("run", str(machine))
    assert done.returncode == 1
    assert "ERROR" in done.stdout and "Nowhere" in done.stdout


def test_run_rejects_bad_input_json_with_a_clear_message(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.json", MACHINE)
    done = asl("run", str(machine), "--input", "{not json")
    assert done.returncode == 2
    assert "--input is not valid JSON" in done.stderr


def test_validate_exit_codes(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", MACHINE)
    bad = write(tmp_path / "bad.json", {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}})
    assert asl("validate", str(good)).returncode == 0
    done = asl("validate", str(good), str(bad))
    assert done.returncode == 1
    assert "bad.json" in done.stdout and "ERROR" in done.stdout


def case(name: str, expected: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "definition": MACHINE, "input": {"n": 1}, "expected": expected, **extra}


def test_test_command_reports_each_case_and_a_summary(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    write(cases / "a.json", case("doubles", {"status": "SUCCEEDED", "output": {"n": 4}}))
    write(cases / "b.json", case("wrong", {"status": "SUCCEEDED", "output": {"n": 5}}))
    functions = write(tmp_path / "fns.py", FUNCTIONS)
    done = asl("test", str(cases), "--functions", str(functions))
    assert done.returncode == 1
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "PASS doubles"
    assert lines[1].startswith("FAIL wrong: output")
    assert lines[-1] == "1 passed, 1 failed"


def test_test_command_json_lines(tmp_path: Path) -> None:
    file = write(tmp_path / "a.json", case("doubles", {"status": "SUCCEEDED", "output": {"n": 4}}))
    functions = write(tmp_path / "fns.py", FUNCTIONS)
    done = asl("test", str(file), "--functions", str(functions), "--json")
    assert done.returncode == 0
    assert [json.loads(line) for line in done.stdout.strip().splitlines()] == [
        {"name": "doubles", "passed": True, "actual": {"status": "SUCCEEDED", "output": {"n": 4}}}
    ]
    assert done.stderr.strip() == "1 passed, 0 failed"


def test_test_command_honours_case_lambdas_semantics(tmp_path: Path) -> None:
    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:hello", "End": True}},
    }
    write(
        tmp_path / "c.json",
        {
            "name": "hello",
            "definition": definition,
            "input": {},
            "expected": {"status": "SUCCEEDED", "output": {"Return": "HelloWorld"}},
            "lambdas": {"arn:aws:lambda:us-east-1:111111111111:function:hello": {"semantics": 'return {"Return": "HelloWorld"}'}},
        },
    )
    done = asl("test", str(tmp_path))
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip().endswith("1 passed, 0 failed")


def test_test_command_rejects_a_file_that_is_not_a_case(tmp_path: Path) -> None:
    write(tmp_path / "x.json", {"hello": 1})
    done = asl("test", str(tmp_path / "x.json"))
    assert done.returncode == 2
    assert "not a test case" in done.stderr


def test_run_reads_distributed_map_items_from_a_directory(tmp_path: Path) -> None:
    (tmp_path / "items" / "bucket").mkdir(parents=True)
    write(tmp_path / "items" / "bucket" / "list.json", [{"n": 1}, {"n": 2}])
    machine = write(
        tmp_path / "m.json",
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                                   "ReaderConfig": {"InputType": "JSON"},
                                   "Parameters": {"Bucket": "bucket", "Key": "list.json"}},
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                      "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                    "End": True,
                }
            },
        },
    )
    done = asl("run", str(machine), "--items-dir", str(tmp_path / "items"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {"status": "SUCCEEDED", "output": [{"n": 1}, {"n": 2}]}
