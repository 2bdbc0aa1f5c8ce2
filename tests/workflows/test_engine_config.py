"""Workflow settings, trigger names and templates, and `syncline executions` on a real workflows.db."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from server.cli import main as syncline
from server.errors import ConfigError
from server.settings import load_settings
from server.workflows.engine import WorkflowEngine
from server.workflows.persistence import WorkflowStore
from server.workflows.resources import Resources
from server.workflows.triggers import render_input, trigger_name


def write_toml(tmp_path: Path, text: str) -> Path:
    (tmp_path / "syncline.toml").write_text(text)
    return tmp_path


def test_workflow_tables(tmp_path: Path) -> None:
    project = write_toml(
        tmp_path,
        """
[workflows]
functions = "steps"
region = "eu-west-1"

[workflows.fulfil]
type = "EXPRESS"
triggers = [{ mutation = "Mutation.createOrder", input = { "id.$" = "$.result.id" } }]
""",
    )
    wf = load_settings(project).workflows
    assert (wf.functions, wf.region) == ("steps", "eu-west-1")
    fulfil = wf.machines["fulfil"]
    assert fulfil.type == "EXPRESS"
    assert fulfil.triggers[0].mutation == "createOrder" and fulfil.triggers[0].input == {"id.$": "$.result.id"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[workflows]\nfunctons = "x"', "did you mean 'functions'"),
        ('[workflows.a]\ntyp = "STANDARD"', "did you mean 'type'"),
        ('[workflows.a]\ntype = "express"', "did you mean 'EXPRESS'"),
        ('[workflows.a]\ntriggers = [{ mutaton = "createX" }]', "did you mean 'mutation'"),
        ("[workflows.a]\ntriggers = [{ input = {} }]", 'needs mutation = "<Mutation field>"'),
        ('[workflows]\ngraphql_identity = "ROOT"', '"SYSTEM" or "API_KEY"'),
    ],
)
def test_bad_workflow_settings_are_refused_with_a_hint(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write_toml(tmp_path, text))


def test_trigger_names_derive_from_the_mutation() -> None:
    tagged = trigger_name("createOrder", {"id": "o1", "_version": 1}, "phone-1", 7)
    assert tagged == trigger_name("createOrder", {"id": "other", "_version": 9}, "phone-1", 7)
    assert tagged != trigger_name("createOrder", {"id": "o1", "_version": 1}, "phone-1", 8)
    assert trigger_name("createOrder", {"id": "o 1/x", "_version": 2}, None, None) == "createOrder-o_1_x-2"
    assert len(trigger_name("createOrder", {"id": "x" * 200, "_version": 1}, None, None)) <= 80
    assert render_input({"who.$": "$.result.id", "fixed": 1}, {"result": {"id": "o1"}}) == {"who": "o1", "fixed": 1}
    assert render_input(None, {"result": {}}) == {"result": {}}


async def run_one(data: Path) -> str:
    store = WorkflowStore(data / "workflows.db")
    await store.open()
    engine = WorkflowEngine(store=store, resources=Resources(functions=lambda name: (_ for _ in ()).throw(LookupError(name))))
    await engine.add_machine("m", {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 7, "End": True}}})
    arn: str = (await engine.start_execution("m", {}, "cli-run"))["executionArn"]
    await engine.wait(arn)
    await engine.close()
    await store.close()
    return arn


def test_executions_cli_lists_describes_and_prints_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / ".syncline"
    data.mkdir()
    arn = asyncio.run(run_one(data))

    assert syncline(["executions", "list", "--project", str(tmp_path)]) == 0
    [line] = capsys.readouterr().out.splitlines()
    listed = json.loads(line)
    assert (listed["executionArn"], listed["status"], listed["output"]) == (arn, "SUCCEEDED", "7")
    assert syncline(["executions", "describe", arn, "--project", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "cli-run"
    assert syncline(["executions", "history", arn, "--project", str(tmp_path)]) == 0
    types = [json.loads(line)["type"] for line in capsys.readouterr().out.splitlines()]
    assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert syncline(["executions", "describe", arn + "x", "--project", str(tmp_path)]) == 1
    assert "Execution Does Not Exist" in capsys.readouterr().err
