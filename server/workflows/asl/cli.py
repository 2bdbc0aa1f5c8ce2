"""`syncline asl validate|run|test`: the ASL engine on local files, without a server.

    syncline asl validate FILE...
    syncline asl run FILE [--input JSON|@FILE] [--functions module.py] [--history]
    syncline asl test PATH... [--functions module.py] [--json]
    syncline asl graph FILE [-o out.svg]

`run` and `test` use the in-memory driver on a virtual clock (local.py): Waits, retries and
timeouts complete at once while timestamps advance as if real. Exit codes: 0 success, 1 a
definition error / failed execution / failed case, 2 bad usage (unreadable file, bad JSON).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import inspect
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from .errors import AslSyntaxError
from .interpreter import ExecutionConfig
from .local import LocalDriver
from .model import parse_state_machine
from .testing import load_cases, run_case
from .validate import format_diagnostics, has_errors, validate_definition


class UsageError(Exception):
    """Bad command-line input: the message says what to fix."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syncline asl", description="Amazon States Language engine")
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="validate definitions; exit 1 on any error")
    validate.add_argument("files", nargs="+", type=Path)
    run = sub.add_parser("run", help="run a definition locally on a virtual clock")
    run.add_argument("file", type=Path)
    run.add_argument("--input", default="{}", help="execution input: JSON text, or @FILE")
    run.add_argument("--functions", type=Path, help="a Python file whose functions serve Lambda ARNs")
    run.add_argument("--history", action="store_true", help="include the execution history")
    run.add_argument(
        "--items-dir",
        type=Path,
        help="serve a distributed Map's ItemReader (s3:getObject / s3:listObjectsV2) from DIR/<Bucket>/<Key>",
    )
    test = sub.add_parser("test", help="run test case files (definition, input, expected)")
    test.add_argument("paths", nargs="+", type=Path)
    test.add_argument("--functions", type=Path, help="a Python file whose functions serve Lambda ARNs")
    test.add_argument("--json", action="store_true", help="one JSON object per case per line")
    graph = sub.add_parser("graph", help="draw a definition as an SVG graph (the console's layout)")
    graph.add_argument("file", type=Path)
    graph.add_argument("-o", "--output", type=Path, help="write the SVG here (default: stdout)")
    return parser


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run `syncline asl ...`.

    Args:
        argv: the arguments after `asl` (default sys.argv[1:]).

    Returns:
        The exit code.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "validate":
            return _validate(args.files, out)
        if args.command == "run":
            return _run(args, out)
        if args.command == "graph":
            return _graph(args.file, args.output, out)
        return _test(args, out, err)
    except UsageError as exc:
        print(f"syncline asl: {exc}", file=err)
        return 2


def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} {path} is not valid JSON: {exc}") from exc


def _validate(files: list[Path], out: TextIO) -> int:
    failed = False
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read definition {path}: {exc.strerror or exc}") from exc
        diagnostics = validate_definition(text)
        print(format_diagnostics(diagnostics, source=str(path)), file=out)
        failed = failed or has_errors(diagnostics)
    return 1 if failed else 0


def _graph(path: Path, output: Path | None, out: TextIO) -> int:
    # Imported here: the layout lives beside the engine (server/workflows/graph.py), not in asl/.
    from server.workflows.graph import layout, to_svg

    try:
        svg = to_svg(layout(_read_json(path, "definition")))
    except AslSyntaxError as exc:
        raise UsageError(f"{path}: {exc.message}") from exc
    if output is None:
        print(svg, file=out)
    else:
        try:
            output.write_text(svg + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc
    return 0


def load_functions(path: Path | None) -> dict[str, Callable[[Any], Any]]:
    """The public functions of a Python file, by name (they serve `...:function:NAME`)."""
    if path is None:
        return {}
    if not path.is_file():
        raise UsageError(f"--functions {path}: no such file")
    spec = importlib.util.spec_from_file_location(f"_syncline_asl_functions_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise UsageError(f"--functions {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module failed to import: report it, do not crash
        raise UsageError(f"--functions {path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_") and inspect.isfunction(value) and value.__module__ == module.__name__
    }


def directory_item_source(root: Path) -> Callable[[str, Any, Any], list[Any]]:
    """An ItemReader over local files: `DIR/<Bucket>/<Key>` stands for the S3 object.

    s3:getObject reads the object as a JSON array, JSON Lines (ReaderConfig InputType JSONL)
    or CSV with a header row (InputType CSV); s3:listObjectsV2 lists `DIR/<Bucket>/<Prefix>*`
    as `{"Key", "Size"}` items.
    """

    def read(resource: str, parameters: Any, config: Any) -> list[Any]:
        params = parameters if isinstance(parameters, dict) else {}
        bucket = str(params.get("Bucket", ""))
        base = (root / bucket).resolve()
        if not base.is_relative_to(root.resolve()):
            raise ValueError(f"bucket {bucket!r} is outside {root}")
        if resource.startswith("arn:aws:states:::s3:listObjectsV2"):
            prefix = str(params.get("Prefix", ""))
            return [
                {"Key": str(p.relative_to(base)), "Size": p.stat().st_size}
                for p in sorted(base.rglob("*"))
                if p.is_file() and str(p.relative_to(base)).startswith(prefix)
            ]
        if not resource.startswith("arn:aws:states:::s3:getObject"):
            raise ValueError(f"the local item reader serves s3:getObject and s3:listObjectsV2, not {resource}")
        path = (base / str(params.get("Key", ""))).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            raise ValueError(f"no such object s3://{bucket}/{params.get('Key')} under {root}")
        text = path.read_text(encoding="utf-8")
        kind = (config or {}).get("InputType", "JSON") if isinstance(config, dict) else "JSON"
        if kind == "JSONL":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        if kind == "CSV":
            return list(csv.DictReader(io.StringIO(text)))
        items = json.loads(text)
        if not isinstance(items, list):
            raise ValueError(f"s3://{bucket}/{params.get('Key')} does not hold a JSON array")
        return items

    return read


def _run(args: argparse.Namespace, out: TextIO) -> int:
    definition = _read_json(args.file, "definition")
    diagnostics = validate_definition(definition)
    if has_errors(diagnostics):
        print(format_diagnostics(diagnostics, source=str(args.file)), file=out)
        return 1
    text = args.input
    if text.startswith("@"):
        input_value = _read_json(Path(text[1:]), "input")
    else:
        try:
            input_value = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--input is not valid JSON: {exc}") from exc
    try:
        machine = parse_state_machine(definition)
    except AslSyntaxError as exc:
        print(json.dumps({"status": "FAILED", "error": "States.Runtime", "cause": str(exc)}), file=out)
        return 1
    # The CLI is an adapter: it may read the wall clock to start the virtual one.
    driver = LocalDriver(
        load_functions(args.functions),
        start_ms=int(time.time() * 1000),
        item_source=directory_item_source(args.items_dir) if args.items_dir else None,
    )
    name = args.file.stem or "local"
    result = driver.run(
        machine,
        input_value,
        ExecutionConfig(
            name="local-execution",
            state_machine_name=name,
            state_machine_arn=f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}",
            execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:{name}:local-execution",
            # A fresh seed per run: States.UUID, $uuid() and jitter differ between runs, as on AWS.
            seed=secrets.randbits(64),
        ),
    )
    report: dict[str, Any] = result.formatted()
    if args.history:
        report["history"] = driver.history
    print(json.dumps(report, ensure_ascii=False), file=out)
    return 0 if result.status == "SUCCEEDED" else 1


def _test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    functions = load_functions(args.functions)
    try:
        cases = load_cases(list(args.paths))
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    passed = failed = 0
    for path, case in cases:
        try:
            result = run_case(case, functions, name=str(case.get("name") or path.stem))
        except ValueError as exc:
            raise UsageError(f"{path}: {exc}") from exc
        if result.passed:
            passed += 1
        else:
            failed += 1
        if args.json:
            print(json.dumps(result.formatted(), ensure_ascii=False), file=out)
        elif result.passed:
            print(f"PASS {result.name}", file=out)
        else:
            print(f"FAIL {result.name}: {result.reason}", file=out)
    summary = f"{passed} passed, {failed} failed"
    print(summary, file=err if args.json else out)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
