"""`syncline executions list|describe|history`: read executions from a project's workflows.db.

Reads the database directly (WAL lets a reader run beside a serving process), so it works
whether or not the server is up. Output is JSON: one execution per line for `list`, one object
for `describe`, one event per line for `history` (AWS's GetExecutionHistory shapes).

    syncline executions list [--project DIR] [--data DATA] [--state-machine M] [--status S] [--limit N]
    syncline executions describe ARN [--project DIR] [--data DATA]
    syncline executions history ARN [--project DIR] [--data DATA] [--reverse]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from server.errors import ClientError, ConfigError
from server.workflows.engine import WorkflowEngine
from server.workflows.persistence import WorkflowStore
from server.workflows.resources import Resources
from server.workflows.service import WORKFLOWS_DB


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syncline executions", description="Inspect workflow executions.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--project", default=".", help="the project folder (default: .)")
        p.add_argument("--data", default=None, help="the data folder (default: from syncline.toml)")

    p = sub.add_parser("list", help="executions, newest first (JSON lines)")
    common(p)
    p.add_argument("--state-machine", default=None)
    p.add_argument("--status", default=None, choices=("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"))
    p.add_argument("--limit", type=int, default=100)
    p = sub.add_parser("describe", help="one execution (JSON)")
    common(p)
    p.add_argument("arn")
    p = sub.add_parser("history", help="an execution's history events (JSON lines)")
    common(p)
    p.add_argument("arn")
    p.add_argument("--reverse", action="store_true")
    return parser


def _db(args: argparse.Namespace) -> Path:
    from server.settings import load_settings

    data = Path(args.data).resolve() if args.data else None
    data_dir = load_settings(args.project, overrides={"data_dir": data}).data_dir
    path = data_dir / WORKFLOWS_DB
    if not path.exists():
        raise ConfigError(f"{path} does not exist: no workflow has run in this project yet")
    return path


async def _run(args: argparse.Namespace) -> int:
    store = WorkflowStore(_db(args))
    await store.open()
    try:
        engine = WorkflowEngine(store=store, resources=Resources(functions=_no_functions))
        if args.command == "list":
            token = None
            printed = 0
            while printed < args.limit:
                rows = await store.list_executions(
                    state_machine=args.state_machine, status=args.status, limit=min(1000, args.limit - printed),
                    after=token,
                )
                for row in rows:
                    print(json.dumps(engine.describe_row(row)))
                printed += len(rows)
                if not rows:
                    break
                token = (rows[-1].start_ms, rows[-1].arn)
        elif args.command == "describe":
            print(json.dumps(await engine.describe(args.arn), indent=2))
        else:
            next_token = None
            while True:
                page = await engine.history(args.arn, next_token=next_token, reverse=args.reverse)
                for event in page["events"]:
                    print(json.dumps(event))
                next_token = page["nextToken"]
                if next_token is None:
                    break
    finally:
        await store.close()
    return 0


def _no_functions(name: str) -> Callable[..., Any]:
    raise LookupError(name)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except ConfigError as exc:
        print(f"syncline executions: {exc.message}", file=sys.stderr)
        return 2
    except ClientError as exc:
        print(f"syncline executions: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
