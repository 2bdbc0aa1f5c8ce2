"""Every command in the README is exercised by a test (issue 9), and keeps being.

The README's shell blocks (```sh/bash/console) and its inline command spans (`syncline ...`,
`python3 ...`, `$APP ...`) are parsed; each command must appear in COVERED, which names the test
that runs it, and that test must exist. Commands no other test runs are run here as the README
writes them — the text is read from the README, run through bash in a temporary folder that
holds a copy of the example under the same relative path — with only the port changed (servers
listen on port 0; `127.0.0.1:4000` becomes the real port) and `.venv/bin/python` made
`sys.executable`.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TIMEOUT = 60
CONFORMANCE_CASES = ROOT / ".." / "shared" / "asl-conformance" / "cases"

HERE = "tests/test_readme.py"
TODO_E2E = "tests/e2e/test_example_todo.py"
ORDERS_E2E = "tests/e2e/test_example_orders.py"
MQTT_E2E = "tests/e2e/test_example_mqtt_dashboard.py"

# Every README command -> the test that runs it ("path::function"), or ".ci/run" for what CI
# itself runs. Commands mapped to this file are run here from the README's own text.
COVERED: dict[str, str] = {
    # Quick start. `dev.py serve` runs for real (via `.venv/bin/syncline`, what dev.py runs, when
    # dev.py's install stamp is stale: see dev_py()). `dev.py test` is the CI command itself.
    "python3 dev.py serve examples/todo": f"{HERE}::test_quick_start_serves_todo_and_the_curl_creates_a_todo",
    "python3 dev.py test": ".ci/run",
    "KEY=$(cat examples/todo/.syncline/api-key)": f"{HERE}::test_quick_start_serves_todo_and_the_curl_creates_a_todo",
    "curl -s http://127.0.0.1:4000/graphql -H \"x-api-key: $KEY\" -H 'content-type: application/json' "
    "-d '{\"query\":\"mutation { createTodo(input: {title: \\\"milk\\\"}) { id title _version } }\"}'": (
        f"{HERE}::test_quick_start_serves_todo_and_the_curl_creates_a_todo"
    ),
    ".ci/run": ".ci/run",
    "scripts/install-browser.sh": ".ci/run",
    # A project: the CLI, each subcommand as a subprocess in a temporary folder.
    "syncline init DIR": f"{HERE}::test_project_commands_init_check_import_export_backup_restore",
    "syncline serve [DIR] [--host H] [--port P] [--data DATA_DIR] [--tls-cert F --tls-key F]": (
        f"{HERE}::test_dev_cert_keys_and_serve_with_every_flag"
    ),
    "syncline check [DIR]": f"{HERE}::test_project_commands_init_check_import_export_backup_restore",
    "syncline conflicts": f"{HERE}::test_quick_start_serves_todo_and_the_curl_creates_a_todo",
    "syncline keys create|list|revoke": f"{HERE}::test_dev_cert_keys_and_serve_with_every_flag",
    "syncline dev-cert": f"{HERE}::test_dev_cert_keys_and_serve_with_every_flag",
    "syncline backup|restore|export|import": f"{HERE}::test_project_commands_init_check_import_export_backup_restore",
    # Workflows without a server.
    "syncline asl validate machine.asl.json": f"{HERE}::test_asl_block_validate_run_graph",
    "syncline asl run machine.asl.json --input '{\"order\": 1}' --functions lambdas.py --history": (
        f"{HERE}::test_asl_block_validate_run_graph"
    ),
    "syncline asl test ../shared/asl-conformance/cases": f"{HERE}::test_asl_test_runs_the_conformance_cases_the_readme_counts",
    "syncline asl graph machine.asl.json -o machine.svg": f"{HERE}::test_asl_block_validate_run_graph",
    # Examples.
    "python3 dev.py serve examples/orders": f"{HERE}::test_orders_served_by_dev_py_and_place_order_against_it",
    ".venv/bin/python examples/orders/place_order.py": f"{ORDERS_E2E}::test_place_order_with_its_own_server",
    ".venv/bin/python examples/orders/place_order.py --url http://127.0.0.1:4000/graphql "
    '--api-key "$(cat examples/orders/.syncline/api-key)"': (
        f"{HERE}::test_orders_served_by_dev_py_and_place_order_against_it"
    ),
    "pip install paho-mqtt": f"{HERE}::test_install_commands_name_real_extras",
    # The dashboard's default --url is the quick start's port 4000, which tests may not bind:
    # the e2e test passes --url (and the same API key a served project uses).
    '.venv/bin/python examples/mqtt_dashboard/dashboard.py --api-key "$(cat examples/todo/.syncline/api-key)"': (
        f"{MQTT_E2E}::test_dashboard_prints_model_events_and_subscription_payloads"
    ),
    # The offline todo app: the e2e test runs app.py with these arguments against `syncline serve`.
    'APP=".venv/bin/python examples/todo/app.py --url http://127.0.0.1:4000/graphql '
    '--api-key $(cat examples/todo/.syncline/api-key) --db todo.db"': (
        f"{TODO_E2E}::test_app_add_ls_done_rm_watch_and_an_offline_add"
    ),
    '$APP add "buy milk"': f"{TODO_E2E}::test_app_add_ls_done_rm_watch_and_an_offline_add",
    "$APP ls": f"{TODO_E2E}::test_app_add_ls_done_rm_watch_and_an_offline_add",
    "$APP done 1d6f": f"{TODO_E2E}::test_app_add_ls_done_rm_watch_and_an_offline_add",
    "$APP watch": f"{TODO_E2E}::test_app_add_ls_done_rm_watch_and_an_offline_add",
    '$APP add "offline one"': f"{TODO_E2E}::test_app_add_ls_done_rm_watch_and_an_offline_add",
    "$APP conflicts": f"{TODO_E2E}::test_app_merges_a_conflict_and_lists_conflicts_and_dead_letters",
    "$APP dead-letters [--retry N | --drop N]": f"{TODO_E2E}::test_app_merges_a_conflict_and_lists_conflicts_and_dead_letters",
    ".venv/bin/python examples/todo/converge.py": (
        f"{TODO_E2E}::test_converge_demo_shows_a_conflict_merged_and_both_replicas_converged"
    ),
    # Benchmarks' extra.
    '.venv/bin/pip install -e ".[bench]"': f"{HERE}::test_install_commands_name_real_extras",
}

# --- the README, parsed ---------------------------------------------------------------------

SHELL_LANGS = {"sh", "bash", "shell", "console"}
# An inline code span is a command when it starts with one of these.
COMMAND_PREFIXES = ("syncline ", "python3 ", ".venv/bin/", "$APP ", "pip ", "curl ", ".ci/", "scripts/")


def strip_comment(line: str) -> str:
    """`line` without a shell comment (a `#` starting a word outside quotes)."""
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            i += 1
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
        i += 1
    return line.rstrip()


def shell_blocks(text: str) -> list[list[tuple[str, str]]]:
    """Each shell block as (command, raw source lines) pairs: `\\` continuations joined,
    comments and blank lines dropped; in a console block only `$ ` lines are commands."""
    blocks: list[list[tuple[str, str]]] = []
    lang: str | None = None
    pending, raw = "", ""
    for line in text.splitlines():
        fence = re.match(r"^\s*```\s*([\w-]*)", line)
        if fence:
            if lang is None:
                lang = fence.group(1).lower()
                if lang in SHELL_LANGS:
                    blocks.append([])
            else:
                lang = None
            continue
        if lang not in SHELL_LANGS:
            continue
        if lang == "console" and not pending:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        raw = f"{raw}\n{line}" if pending else line
        if pending:
            line = f"{pending} {line.strip()}"
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1].rstrip()
            continue
        pending = ""
        command = strip_comment(line).strip()
        if command:
            blocks[-1].append((command, raw))
    return blocks


def inline_commands(text: str) -> list[str]:
    """Inline code spans outside fences that are commands, whitespace normalised."""
    prose = re.sub(r"^\s*```.*?^\s*```[^\n]*$", "", text, flags=re.S | re.M)
    spans = (" ".join(m.group(1).split()) for m in re.finditer(r"`([^`\n]+(?:\n[^`\n]+)*)`", prose))
    return [s for s in spans if s.startswith(COMMAND_PREFIXES)]


def readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    found = [cmd for block in shell_blocks(text) for cmd, _ in block] + inline_commands(text)
    return list(dict.fromkeys(found))


def block_with(command: str) -> list[tuple[str, str]]:
    """The README shell block that holds `command` (a README test fails loudly if it is gone)."""
    for block in shell_blocks(README.read_text(encoding="utf-8")):
        if any(cmd == command for cmd, _ in block):
            return block
    raise AssertionError(f"the README no longer has the command {command!r}; update {HERE}")


def readme_has(command: str) -> str:
    assert command in readme_commands(), f"the README no longer has the command {command!r}; update {HERE}"
    return command


# --- running README text ----------------------------------------------------------------------


def syncline_dir(tmp: Path) -> Path:
    """A folder holding `syncline`: the installed console script, else a shim to the module."""
    installed = Path(sys.executable).parent / "syncline"
    if installed.is_file():
        return installed.parent
    shim = tmp / "bin" / "syncline"
    shim.parent.mkdir(exist_ok=True)
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m server.cli "$@"\n')
    shim.chmod(0o755)
    return shim.parent


def dev_py() -> str:
    """How to run `python3 dev.py`: dev.py itself when its install stamp is current (it then
    only runs `.venv/bin/syncline ARGS`); otherwise that same `.venv/bin/syncline`, since a stale
    stamp would make dev.py reinstall the venv the test suite is running in."""
    spec = importlib.util.spec_from_file_location("_syncline_dev_py", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    syncline = dev.BIN / "syncline"
    if dev.STAMP.exists() and dev.STAMP.read_text() == digest and syncline.exists():
        return f"{shlex.quote(sys.executable)} {shlex.quote(str(ROOT / 'dev.py'))}"
    if syncline.exists():
        return shlex.quote(str(syncline))
    return f"{shlex.quote(sys.executable)} -m server.cli"


def localize(command: str, port: int | None = None) -> str:
    """The README command as run here: the real port, this interpreter, dev.py by path."""
    if port is not None:
        command = command.replace("127.0.0.1:4000", f"127.0.0.1:{port}")
    command = re.sub(r"^python3 dev\.py\b", lambda _: dev_py(), command)
    return re.sub(r"(^|[\s=\"'])\.venv/bin/python\b", lambda m: m.group(1) + shlex.quote(sys.executable), command)


def clean_env(tmp: Path) -> dict[str, str]:
    """The environment without SYNCLINE_* settings (they would override the project's), with
    `syncline` first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCLINE_")}
    env["PATH"] = f"{syncline_dir(tmp)}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    return env


def bash(script: str, *, cwd: Path, env: dict[str, str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )
    return done


def ok(script: str, *, cwd: Path, env: dict[str, str], timeout: float = TIMEOUT) -> str:
    done = bash(script, cwd=cwd, env=env, timeout=timeout)
    assert done.returncode == 0, f"{script}\nexit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def copy_example(name: str, tmp: Path) -> Path:
    """examples/NAME copied to TMP/examples/NAME, so the README's relative paths hold in TMP."""
    target = tmp / "examples" / name
    shutil.copytree(ROOT / "examples" / name, target, ignore=shutil.ignore_patterns(".syncline", "__pycache__", "*.db*"))
    return target


class Server:
    """A README serve command in its own process group (dev.py runs the server as its child);
    stdout lines are read by a daemon thread so the test can wait for the URL."""

    def __init__(self, command: str, *, cwd: Path, env: dict[str, str]) -> None:
        self.log = cwd / "server.log"
        self._err = self.log.open("w")
        self.proc = subprocess.Popen(
            shlex.split(command), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=self._err,
            text=True, start_new_session=True,
        )
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)  # every process holding the pipe (dev.py and the server) has exited

    def url(self) -> str:
        while True:
            try:
                line = self._lines.get(timeout=TIMEOUT)
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no 'Syncline serving' line; stdout {self.seen}\n{self.log.read_text()[-3000:]}")
            self.seen.append(line)
            if m := re.search(r"^Syncline serving \S+ at (\S+)$", line):
                return m.group(1)

    def stop(self) -> None:
        """SIGTERM to the group (as a terminal's Ctrl-C would reach both), then wait until the
        server itself has closed its stdout."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=TIMEOUT)
            while self._lines.get(timeout=TIMEOUT) is not None:
                pass
        finally:
            self._err.close()


def post(url: str, key: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json", "x-api-key": key})
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        result: dict[str, Any] = json.load(r)
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]
    return data


def get_html(url: str) -> str:
    req = urllib.request.Request(url, headers={"accept": "text/html"})
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        assert r.status == 200 and r.headers["content-type"].startswith("text/html")
        return str(r.read().decode())


# --- the coverage check -------------------------------------------------------------------------


def test_every_readme_command_is_exercised_by_a_named_test() -> None:
    commands = readme_commands()
    assert len(commands) >= 20, f"the README parser found only {commands}"
    missing = [c for c in commands if c not in COVERED]
    assert not missing, (
        "README commands no test exercises (run them in tests/test_readme.py or map them in COVERED):\n"
        + "\n".join(f"  {c}" for c in missing)
    )
    stale = [c for c in COVERED if c not in commands]
    assert not stale, "COVERED lists commands the README no longer has:\n" + "\n".join(f"  {c}" for c in stale)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_commands = [strip_comment(line).strip() for line in ci.splitlines()]
    for command, where in COVERED.items():
        if where == ".ci/run":
            assert command == ".ci/run" or any(command in line for line in ci_commands), (command, ci)
            continue
        path, _, name = where.partition("::")
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        assert name.startswith("test_") and name in defined, f"{command!r} is mapped to {where}, which does not exist"
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_the_parser_joins_continuations_and_drops_comments() -> None:
    text = (
        "```sh\nfoo a \\\n  -d '{\"x\": \"# not a comment\"}'   # a comment\n# whole line\n\nbar \"b#c\"\n```\n"
        "```console\n$ baz\noutput line\n```\n```python\nnot_a_command()\n```\n"
        "Run `syncline check\n[DIR]` or `syncline.toml`.\n"
    )
    assert [[c for c, _ in b] for b in shell_blocks(text)] == [["foo a -d '{\"x\": \"# not a comment\"}'", 'bar "b#c"'], ["baz"]]
    assert inline_commands(text) == ["syncline check [DIR]"]


# --- commands run here ---------------------------------------------------------------------------


def test_quick_start_serves_todo_and_the_curl_creates_a_todo(tmp_path: Path) -> None:
    """`python3 dev.py serve examples/todo`, the README's KEY/curl lines through bash, the
    console and explorer URLs, and `syncline conflicts` in the project after a stale write."""
    serve = readme_has("python3 dev.py serve examples/todo")
    project = copy_example("todo", tmp_path)
    config = tomllib.loads((project / "syncline.toml").read_text())
    assert (config["server"]["host"], config["server"]["port"]) == ("127.0.0.1", 4000)  # the README's URL
    env = clean_env(tmp_path)
    server = Server(f"{localize(serve)} --port 0", cwd=tmp_path, env=env)
    try:
        url = server.url()
        m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/graphql", url)
        assert m, url
        port = int(m.group(1))
        key_file = project / ".syncline" / "api-key"
        key = key_file.read_text().strip()
        # Where the key is kept is logged; the key itself is redacted like every credential.
        log = server.log.read_text()
        assert f"generated an API key (kept in {key_file})" in log and key not in log

        block = block_with("KEY=$(cat examples/todo/.syncline/api-key)")
        out = ok("\n".join(localize(cmd, port) for cmd, _ in block), cwd=tmp_path, env=env)
        todo = json.loads(out)["data"]["createTodo"]
        assert (todo["title"], todo["_version"]) == ("milk", 1) and todo["id"]

        base = url.removesuffix("/graphql")
        assert "<title>Syncline console</title>" in get_html(f"{base}/console")
        assert "<title>Syncline GraphQL explorer</title>" in get_html(url)

        # Two writers on version 1: the second is a conflict AUTOMERGE resolves and records.
        update = "mutation($i: UpdateTodoInput!) { updateTodo(input: $i) { title _version } }"
        post(url, key, update, {"i": {"id": todo["id"], "title": "oat milk", "_version": 1}})
        merged = post(url, key, update, {"i": {"id": todo["id"], "done": True, "_version": 1}})["updateTodo"]
        assert merged == {"title": "oat milk", "_version": 3}
        out = ok(readme_has("syncline conflicts"), cwd=project, env=env)  # its --project defaults to .
        rows = [json.loads(line) for line in out.splitlines()]
        assert [(r["model"], r["item_id"], r["strategy"], r["outcome"]) for r in rows] == [
            ("Todo", todo["id"], "AUTOMERGE", "RESOLVED")
        ], rows
    finally:
        server.stop()


def test_orders_served_by_dev_py_and_place_order_against_it(tmp_path: Path) -> None:
    """`python3 dev.py serve examples/orders`, then the README's place_order.py line with the
    key the server generated: the order ships and the execution succeeds."""
    serve = readme_has("python3 dev.py serve examples/orders")
    command = next(c for c in readme_commands() if "place_order.py --url" in c)
    copy_example("orders", tmp_path)
    env = clean_env(tmp_path)
    server = Server(f"{localize(serve)} --port 0", cwd=tmp_path, env=env)
    try:
        port = int(server.url().split(":")[2].split("/")[0])
        out = ok(localize(command, port), cwd=tmp_path, env=env, timeout=90)
    finally:
        server.stop()
    statuses = re.findall(r"^  order status: (\S+)", out, re.M)
    assert statuses == ["VALIDATED", "PAID_AND_RESERVED", "AWAITING_APPROVAL", "SHIPPED"], out
    assert re.search(r"^\s*execution createOrder-\S+: SUCCEEDED", out, re.M), out
    assert re.search(r"^order \S+ SHIPPED; execution SUCCEEDED$", out, re.M), out
    assert 'approved (sendTaskSuccess {"approved": true} -> True)' in out


MACHINE = {
    "Comment": "the README's machine.asl.json: price an order with a local Lambda, then wait a virtual day",
    "StartAt": "Price",
    "States": {
        "Price": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:price", "Next": "Settle"},
        "Settle": {"Type": "Wait", "Seconds": 86400, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}
LAMBDAS = 'def price(event):\n    return {"order": event["order"], "total": 42}\n'


def test_asl_block_validate_run_graph(tmp_path: Path) -> None:
    """The README's `syncline asl` lines on a machine.asl.json and lambdas.py of our own."""
    block = [cmd for cmd, _ in block_with("syncline asl validate machine.asl.json")]
    (tmp_path / "machine.asl.json").write_text(json.dumps(MACHINE))
    (tmp_path / "lambdas.py").write_text(LAMBDAS)
    env = clean_env(tmp_path)
    ran = set()
    for command in block:
        words = command.split()
        if words[:3] == ["syncline", "asl", "validate"]:
            ok(command, cwd=tmp_path, env=env)
            assert bash(command.replace("machine.asl.json", "lambdas.py"), cwd=tmp_path, env=env).returncode != 0
        elif words[:3] == ["syncline", "asl", "run"]:
            report = json.loads(ok(command, cwd=tmp_path, env=env))
            assert (report["status"], report["output"]) == ("SUCCEEDED", {"order": 1, "total": 42}), report
            types = [event["type"] for event in report["history"]]
            assert types[0] == "ExecutionStarted" and "LambdaFunctionSucceeded" in types and types[-1] == "ExecutionSucceeded"
        elif words[:3] == ["syncline", "asl", "graph"]:
            ok(command, cwd=tmp_path, env=env)
            svg = (tmp_path / words[-1]).read_text()
            assert svg.startswith("<svg") and all(f">{s}<" in svg for s in MACHINE["States"]), svg[:500]
        elif words[:3] == ["syncline", "asl", "test"]:
            continue  # test_asl_test_runs_the_conformance_cases_the_readme_counts
        else:
            raise AssertionError(f"a new command in the README's asl block: {command!r}; run it here")
        ran.add(words[2])
    assert ran == {"validate", "run", "graph"}


@pytest.mark.skipif(not CONFORMANCE_CASES.is_dir(), reason=f"no conformance cases at {CONFORMANCE_CASES.resolve()} (../shared is absent)")
def test_asl_test_runs_the_conformance_cases_the_readme_counts(tmp_path: Path) -> None:
    """Run from the checkout, as the relative path says; the summary is the one the README's
    comment quotes."""
    block = block_with("syncline asl test ../shared/asl-conformance/cases")
    command, raw = next((c, r) for c, r in block if c.startswith("syncline asl test"))
    claimed = re.search(r"\d+ passed, \d+ failed", raw)
    assert claimed, raw
    out = ok(command, cwd=ROOT, env=clean_env(tmp_path))
    assert out.strip().splitlines()[-1] == claimed.group(0)


def test_project_commands_init_check_import_export_backup_restore(tmp_path: Path) -> None:
    """`syncline init DIR`, `syncline check [DIR]` and `syncline backup|restore|export|import`,
    each a subprocess on a fresh project: rows imported, exported, backed up, restored into
    another data folder and exported again unchanged."""
    for command in ("syncline init DIR", "syncline check [DIR]", "syncline backup|restore|export|import"):
        readme_has(command)
    env = clean_env(tmp_path)
    out = ok("syncline init app", cwd=tmp_path, env=env)
    assert out.strip() == "initialised app (schema.graphql, syncline.toml, resolvers.py); run: syncline serve app"
    out = ok("syncline check app", cwd=tmp_path, env=env)
    assert out.strip().splitlines()[-1] == "app: ok" and "schema: 1 model(s) (Todo)" in out
    assert not (tmp_path / "app" / ".syncline").exists()

    rows = [{"model": "Todo", "item": {"id": f"t{i}", "title": f"todo {i}", "done": i % 2 == 0}} for i in range(3)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = ok("syncline import rows.jsonl --project app", cwd=tmp_path, env=env)
    assert out.strip() == "imported: 3 created, 0 updated"
    exported = ok("syncline export --project app", cwd=tmp_path, env=env)
    items = [json.loads(line) for line in exported.splitlines()]
    assert [(r["model"], r["item"]["id"], r["item"]["title"], r["item"]["_version"]) for r in items] == [
        ("Todo", f"t{i}", f"todo {i}", 1) for i in range(3)
    ]
    out = ok("syncline backup app.backup.db --project app", cwd=tmp_path, env=env)
    assert out.strip() == "backup written to app.backup.db"
    out = ok("syncline restore app.backup.db --project app --data restored", cwd=tmp_path, env=env)
    assert out.strip() == f"restored into {tmp_path / 'restored' / 'syncline.db'}"
    assert ok("syncline export --project app --data restored", cwd=tmp_path, env=env) == exported
    refused = bash("syncline restore app.backup.db --project app", cwd=tmp_path, env=env)  # a store is there
    assert refused.returncode == 2 and "already holds a store" in refused.stderr


def test_dev_cert_keys_and_serve_with_every_flag(tmp_path: Path) -> None:
    """`syncline dev-cert`, `syncline keys create|list|revoke` and `syncline serve DIR --host
    --port --data --tls-cert --tls-key`: HTTPS with the dev certificate, a created key accepted
    until it is revoked."""
    for command in ("syncline dev-cert", "syncline keys create|list|revoke"):
        readme_has(command)
    synopsis = readme_has("syncline serve [DIR] [--host H] [--port P] [--data DATA_DIR] [--tls-cert F --tls-key F]")
    env = clean_env(tmp_path)
    ok("syncline init app", cwd=tmp_path, env=env)
    out = ok("syncline dev-cert", cwd=tmp_path, env=env)
    assert out.startswith("wrote syncline-dev.crt and syncline-dev.key")
    out = ok("syncline keys --project app --data data create --description readme", cwd=tmp_path, env=env)
    key, info = out.splitlines()[:2]
    key_id = info.split()[1].rstrip(",")
    assert key.startswith("da2-") and info.startswith(f"id {key_id}, expires ")

    # The synopsis with every flag filled in.
    filled = {"[DIR]": "app", "[--host H]": "--host 127.0.0.1", "[--port P]": "--port 0", "[--data DATA_DIR]": "--data data",
              "[--tls-cert F --tls-key F]": "--tls-cert syncline-dev.crt --tls-key syncline-dev.key"}
    command = synopsis
    for slot, value in filled.items():
        assert slot in command, (slot, synopsis)
        command = command.replace(slot, value)
    server = Server(command, cwd=tmp_path, env=env)  # `syncline` from env's PATH
    try:
        url = server.url()
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+/graphql", url), url
        assert (tmp_path / "data" / "syncline.db").exists() and not (tmp_path / "app" / ".syncline").exists()
        curl = (
            f"curl -s -o /dev/null -w '%{{http_code}}' --cacert syncline-dev.crt {url} -H \"x-api-key: {key}\" "
            "-H 'content-type: application/json' -d '{\"query\":\"{ listTodos { items { id } } }\"}'"
        )
        assert ok(curl, cwd=tmp_path, env=env) == "200"
        listing = ok("syncline keys --project app --data data list", cwd=tmp_path, env=env)
        assert re.search(rf"^{key_id}\s+active\s+.*readme$", listing, re.M) and key not in listing, listing
        assert ok(f"syncline keys --project app --data data revoke {key_id}", cwd=tmp_path, env=env).strip() == f"revoked {key_id}"
        assert ok(curl, cwd=tmp_path, env=env) == "401"
        listing = ok("syncline keys --project app --data data list", cwd=tmp_path, env=env)
        assert re.search(rf"^{key_id}\s+revoked\s", listing, re.M), listing
    finally:
        server.stop()


def test_install_commands_name_real_extras() -> None:
    """`pip install paho-mqtt` (a test dependency, so the dashboard runs in the test venv) and
    `.venv/bin/pip install -e ".[bench]"` (moto, the ASL benchmark's peer) name what pyproject
    declares."""
    readme_has("pip install paho-mqtt")
    bench = readme_has('.venv/bin/pip install -e ".[bench]"')
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(re.match(r"paho-mqtt\b", dep) for dep in extras["test"]), extras["test"]
    import paho.mqtt.client  # noqa: F401  (the dashboard's import works in the test environment)

    extra = re.search(r"\.\[(\w+)\]", bench)
    assert extra and any(dep.startswith("moto") for dep in extras[extra.group(1)]), extras
