"""The workflow GraphQL API: SDL appended to the project's schema, and its resolvers.

The SDL extends the root types, so a project schema needs nothing for it; `bind_api` attaches
the resolvers after `build_schema`. Names follow the Step Functions API (startExecution,
describeExecution, ...). Payloads (input, output, details) are JSON *text*, as in AWS.

Subscriptions go through the real-time layer like any AppSync subscription: the engine
publishes each committed history event as the result of the internal mutation
`publishExecutionEvent` and each status change as `publishExecutionStatusChange`; the
`@aws_subscribe` subscriptions `onExecutionEvent(executionArn)` and
`onExecutionStatusChange(stateMachine)` filter on those fields (AppSync's argument filtering).
Clients cannot call the two publish mutations: only the engine publishes.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from graphql import GraphQLObjectType, GraphQLSchema

from server.errors import BadRequest, Unauthorized
from server.realtime.bus import MutationEvent
from server.workflows.asl.validate import has_errors, validate_definition
from server.workflows.engine import ExecutionNotice, WorkflowEngine

API_SDL = '''
type WorkflowExecution {
  executionArn: String!
  stateMachineArn: String!
  stateMachineVersion: Int
  name: String!
  status: String!
  startDate: String!
  stopDate: String
  input: String
  output: String
  error: String
  cause: String
  redriveCount: Int
  redriveDate: String
}

type WorkflowExecutionList {
  executions: [WorkflowExecution!]!
  nextToken: String
}

type WorkflowHistoryEvent {
  id: Int!
  previousEventId: Int!
  timestamp: String!
  type: String!
  "The event's details object (e.g. stateEnteredEventDetails) as JSON text."
  details: String
}

type WorkflowHistory {
  events: [WorkflowHistoryEvent!]!
  nextToken: String
}

type WorkflowTask {
  taskToken: String!
  executionArn: String!
  stateMachine: String!
  stateName: String!
  input: String
  startDate: String!
}

type WorkflowStartResult {
  executionArn: String!
  startDate: String
}

type WorkflowSyncResult {
  executionArn: String!
  stateMachineArn: String
  name: String
  status: String!
  startDate: String
  stopDate: String
  input: String
  output: String
  error: String
  cause: String
}

type WorkflowStateMachine {
  stateMachineArn: String!
  name: String!
  type: String!
  version: Int!
  definition: String!
  "file (workflows/NAME.asl.json) or api (createStateMachine)"
  source: String!
}

type WorkflowDiagnostic {
  severity: String!
  code: String!
  message: String!
  location: String!
}

type WorkflowValidation {
  "OK or FAIL (warnings alone give OK), as ValidateStateMachineDefinition"
  result: String!
  diagnostics: [WorkflowDiagnostic!]!
}

type WorkflowActivityTask {
  taskToken: String!
  input: String
}

type WorkflowDateResult {
  date: String
}

type WorkflowNotice {
  executionArn: String!
  stateMachine: String!
  status: String!
  event: WorkflowHistoryEvent
}

extend type Query {
  describeExecution(executionArn: String!): WorkflowExecution
  listExecutions(stateMachine: String, status: String, limit: Int, nextToken: String): WorkflowExecutionList!
  getExecutionHistory(executionArn: String!, limit: Int, nextToken: String, reverseOrder: Boolean): WorkflowHistory!
  "Tasks waiting for sendTaskSuccess/Failure (.waitForTaskToken), e.g. human approvals."
  listPendingTasks(stateMachine: String): [WorkflowTask!]!
  listStateMachines: [WorkflowStateMachine!]!
  describeStateMachine(stateMachine: String!): WorkflowStateMachine
  validateStateMachineDefinition(definition: String!, type: String): WorkflowValidation!
}

extend type Mutation {
  createStateMachine(name: String!, definition: String!, type: String): WorkflowStateMachine!
  "A new version; running executions keep the version they started with."
  updateStateMachine(stateMachine: String!, definition: String, type: String): WorkflowStateMachine!
  deleteStateMachine(stateMachine: String!): Boolean!
  startExecution(stateMachine: String!, input: String, name: String): WorkflowStartResult!
  startSyncExecution(stateMachine: String!, input: String, name: String): WorkflowSyncResult!
  stopExecution(executionArn: String!, error: String, cause: String): WorkflowDateResult!
  redriveExecution(executionArn: String!): WorkflowDateResult!
  sendTaskSuccess(taskToken: String!, output: String!): Boolean!
  sendTaskFailure(taskToken: String!, error: String, cause: String): Boolean!
  sendTaskHeartbeat(taskToken: String!): Boolean!
  "An activity worker takes the next task of an activity (null when none came within waitSeconds, at most 60)."
  getActivityTask(activityArn: String!, workerName: String, waitSeconds: Int): WorkflowActivityTask
  "Internal: the engine publishes history events through this field; clients cannot call it."
  publishExecutionEvent(executionArn: String!): WorkflowNotice
  "Internal: the engine publishes status changes through this field; clients cannot call it."
  publishExecutionStatusChange(stateMachine: String!): WorkflowNotice
}

extend type Subscription {
  onExecutionEvent(executionArn: String): WorkflowNotice @aws_subscribe(mutations: ["publishExecutionEvent"])
  onExecutionStatusChange(stateMachine: String): WorkflowNotice @aws_subscribe(mutations: ["publishExecutionStatusChange"])
}
'''

Publish = Callable[[MutationEvent], Awaitable[None]]


def notice_result(notice: ExecutionNotice) -> dict[str, Any]:
    """A notice as the WorkflowNotice object subscribers select from."""
    return {
        "executionArn": notice.execution_arn,
        "stateMachine": notice.state_machine,
        "status": notice.status,
        "event": None if notice.event is None else history_event(dict(notice.event)),
    }


def publisher(publish: Publish) -> Callable[[ExecutionNotice], Awaitable[None]]:
    """The engine's `notify`: events and status changes onto the real-time bus."""

    async def notify(notice: ExecutionNotice) -> None:
        mutation = "publishExecutionEvent" if notice.event is not None else "publishExecutionStatusChange"
        await publish(MutationEvent(mutation=mutation, result=notice_result(notice)))

    return notify


def history_event(event: dict[str, Any]) -> dict[str, Any]:
    base = {k: event.pop(k) for k in ("id", "previousEventId", "timestamp", "type")}
    details = next(iter(event.values()), None)
    base["details"] = None if details is None else json.dumps(details, separators=(",", ":"))
    return base


def bind_api(schema: GraphQLSchema, engine: WorkflowEngine) -> None:
    """Attach the resolvers of API_SDL's fields (the SDL must be part of `schema`)."""
    query, mutation = schema.query_type, schema.mutation_type
    assert isinstance(query, GraphQLObjectType) and isinstance(mutation, GraphQLObjectType)

    async def describe_execution(_: Any, __: Any, executionArn: str) -> Any:
        return await engine.describe(executionArn)

    async def list_executions(
        _: Any, __: Any, stateMachine: str | None = None, status: str | None = None, limit: int | None = None,
        nextToken: str | None = None,
    ) -> Any:
        return await engine.list_executions(stateMachine, status=status, limit=limit or 100, next_token=nextToken)

    async def get_history(
        _: Any, __: Any, executionArn: str, limit: int | None = None, nextToken: str | None = None,
        reverseOrder: bool | None = None,
    ) -> Any:
        page = await engine.history(executionArn, limit=limit or 1000, next_token=nextToken, reverse=bool(reverseOrder))
        return {"events": [history_event(dict(e)) for e in page["events"]], "nextToken": page["nextToken"]}

    def pending(_: Any, __: Any, stateMachine: str | None = None) -> Any:
        return engine.pending_tasks(stateMachine)

    def list_machines(_: Any, __: Any) -> Any:
        return [engine.describe_machine(m) for _, m in sorted(engine.machines.items())]

    def describe_machine(_: Any, __: Any, stateMachine: str) -> Any:
        return engine.describe_machine(engine.machine(stateMachine))

    def validate(_: Any, __: Any, definition: str, type: str | None = None) -> Any:
        machine_type = type or "STANDARD"
        if machine_type not in ("STANDARD", "EXPRESS"):
            raise BadRequest(f"type must be STANDARD or EXPRESS, got {machine_type!r}")
        diagnostics = validate_definition(definition, machine_type=machine_type)  # type: ignore[arg-type]
        return {
            "result": "FAIL" if has_errors(diagnostics) else "OK",
            "diagnostics": [d.formatted for d in diagnostics],
        }

    async def create_machine(_: Any, __: Any, name: str, definition: str, type: str | None = None) -> Any:
        return engine.describe_machine(await engine.create_state_machine(name, definition, type or "STANDARD"))

    async def update_machine(
        _: Any, __: Any, stateMachine: str, definition: str | None = None, type: str | None = None
    ) -> Any:
        return engine.describe_machine(await engine.update_state_machine(stateMachine, definition, type))

    async def delete_machine(_: Any, __: Any, stateMachine: str) -> bool:
        await engine.delete_state_machine(stateMachine)
        return True

    async def start(_: Any, __: Any, stateMachine: str, input: str | None = None, name: str | None = None) -> Any:
        return await engine.start_execution(stateMachine, _json(input, "input"), name)

    async def start_sync(_: Any, __: Any, stateMachine: str, input: str | None = None, name: str | None = None) -> Any:
        return await engine.start_sync_execution(stateMachine, _json(input, "input"), name)

    async def stop(_: Any, __: Any, executionArn: str, error: str | None = None, cause: str | None = None) -> Any:
        return {"date": (await engine.stop(executionArn, error, cause))["stopDate"]}

    async def redrive(_: Any, __: Any, executionArn: str) -> Any:
        return {"date": (await engine.redrive(executionArn))["redriveDate"]}

    def success(_: Any, __: Any, taskToken: str, output: str) -> bool:
        engine.send_task_success(taskToken, _json(output, "output"))
        return True

    def failure(_: Any, __: Any, taskToken: str, error: str | None = None, cause: str | None = None) -> bool:
        engine.send_task_failure(taskToken, error, cause)
        return True

    def heartbeat(_: Any, __: Any, taskToken: str) -> bool:
        engine.send_task_heartbeat(taskToken)
        return True

    async def activity_task(
        _: Any, __: Any, activityArn: str, workerName: str | None = None, waitSeconds: int | None = None
    ) -> Any:
        return await engine.get_activity_task(activityArn, workerName, waitSeconds or 0)

    def internal(_: Any, __: Any, **___: Any) -> Any:
        raise Unauthorized("Only the workflow engine publishes execution events")

    queries: tuple[tuple[str, Callable[..., Any]], ...] = (
        ("describeExecution", describe_execution),
        ("listExecutions", list_executions),
        ("getExecutionHistory", get_history),
        ("listPendingTasks", pending),
        ("listStateMachines", list_machines),
        ("describeStateMachine", describe_machine),
        ("validateStateMachineDefinition", validate),
    )
    for name, fn in queries:
        query.fields[name].resolve = fn
    mutations: tuple[tuple[str, Callable[..., Any]], ...] = (
        ("createStateMachine", create_machine),
        ("updateStateMachine", update_machine),
        ("deleteStateMachine", delete_machine),
        ("startExecution", start),
        ("startSyncExecution", start_sync),
        ("stopExecution", stop),
        ("redriveExecution", redrive),
        ("sendTaskSuccess", success),
        ("sendTaskFailure", failure),
        ("sendTaskHeartbeat", heartbeat),
        ("getActivityTask", activity_task),
        ("publishExecutionEvent", internal),
        ("publishExecutionStatusChange", internal),
    )
    for name, fn in mutations:
        mutation.fields[name].resolve = fn


def _json(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"{what} must be JSON text: {exc}") from exc
