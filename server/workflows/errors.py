"""Errors of the workflow API, with the Step Functions API's names as AppSync `errorType`.

    SynclineError (server.errors)
    ├── ClientError
    │   ├── ExecutionAlreadyExists     same name, different input (or the execution is closed)
    │   ├── ExecutionNotRedrivable     not FAILED/ABORTED, or it failed outside a task
    │   ├── InvalidExecutionInput      input is not JSON / too large / the name is invalid
    │   ├── StateMachineTypeNotSupported   e.g. startSyncExecution on a STANDARD machine
    │   ├── StateMachineAlreadyExists      createStateMachine with a name in use
    │   └── NotFound
    │       ├── ExecutionDoesNotExist
    │       ├── StateMachineDoesNotExist
    │       └── TaskDoesNotExist       unknown or already completed task token
    └── ServerError
        └── ConfigError
            └── InvalidDefinition      a workflows/NAME.asl.json does not validate
"""

from __future__ import annotations

from server.errors import ClientError, ConfigError, NotFound


class ExecutionAlreadyExists(ClientError):
    error_type = "ExecutionAlreadyExists"


class ExecutionNotRedrivable(ClientError):
    error_type = "ExecutionNotRedrivable"


class InvalidExecutionInput(ClientError):
    error_type = "InvalidExecutionInput"


class StateMachineTypeNotSupported(ClientError):
    error_type = "StateMachineTypeNotSupported"


class StateMachineAlreadyExists(ClientError):
    error_type = "StateMachineAlreadyExists"


class ExecutionDoesNotExist(NotFound):
    error_type = "ExecutionDoesNotExist"


class StateMachineDoesNotExist(NotFound):
    error_type = "StateMachineDoesNotExist"


class TaskDoesNotExist(NotFound):
    error_type = "TaskDoesNotExist"


class InvalidDefinition(ConfigError):
    error_type = "InvalidDefinition"
