"""`syncline check` refuses what `serve` would refuse, without serving or writing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "check", str(project)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )


def copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(ROOT / "examples" / name, target, ignore=shutil.ignore_patterns(".syncline", "__pycache__"))
    return target


@pytest.mark.parametrize("example", ["todo", "orders"])
def test_examples_pass(example: str, tmp_path: Path) -> None:
    project = copy(example, tmp_path)
    r = check(project)
    assert r.returncode == 0, r.stderr
    assert f"{example}: ok" in r.stdout and "schema:" in r.stdout
    assert not (project / ".syncline").exists()  # nothing written


def test_typo_in_config(tmp_path: Path) -> None:
    project = copy("todo", tmp_path)
    (project / "syncline.toml").write_text("[sync]\ndelta_tl = \"1h\"\n")
    r = check(project)
    assert r.returncode == 2 and "did you mean 'delta_ttl'" in r.stderr


def test_invalid_state_machine_names_file_and_location(tmp_path: Path) -> None:
    project = copy("orders", tmp_path)
    machine = next((project / "workflows").glob("*.asl.json"))
    definition = json.loads(machine.read_text())
    first = definition["StartAt"]
    definition["States"][first].pop("Next", None)
    definition["States"][first].pop("End", None)
    definition["States"][first]["Next"] = "Nowhere"
    machine.write_text(json.dumps(definition))
    r = check(project)
    assert r.returncode == 2
    assert machine.name in r.stderr and "Nowhere" in r.stderr


def test_destructive_schema_change_against_data_is_refused(tmp_path: Path) -> None:
    project = copy("todo", tmp_path)
    seed = (
        "import asyncio\n"
        "from server.app import Syncline\nfrom server.settings import load_settings\n"
        "from server.auth.identity import SYSTEM\n"
        "async def main():\n"
        f"    app = await Syncline.create(load_settings({str(project)!r}, env={{'SYNCLINE_API_KEY': 'k'}}))\n"
        "    await app.store.create('Todo', {'title': 'x', 'priority': 'HIGH'}, identity=SYSTEM)\n"
        "    await app.store.close()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", seed], check=True, cwd=ROOT, timeout=120)
    schema = project / "schema.graphql"
    schema.write_text(schema.read_text().replace("  priority: Priority\n", ""))
    r = check(project)
    assert r.returncode == 2 and "Todo" in r.stderr and "priority" in r.stderr
    schema.write_text(schema.read_text().replace("done: Boolean", "done: Boolean\n  priority: Priority\n  note: String"))
    r = check(project)
    assert r.returncode == 0, r.stderr
    assert "note" in r.stdout
