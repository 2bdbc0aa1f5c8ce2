"""Errors of the ASL engine: runtime failures carry a States.* name, syntax errors a message.

    Exception
    ├── AslError                   a runtime failure an execution can Retry/Catch or fail with;
    │                              `error` is the ASL error name ("States.Runtime",
    │                              "States.IntrinsicFailure", ...), `cause` AWS's cause text
    └── ValueError
        └── AslSyntaxError         a definition-time problem (bad JSONPath, bad intrinsic call,
                                   bad JSONata); the validator turns it into a diagnostic

The ASL spec ("Errors"): "Errors are identified by case-sensitive strings [...] States.ALL
[...] States.Runtime [...] States.IntrinsicFailure". The names below are the predefined ones;
a Task may also fail with any custom name (the exception class name of a Python task), so
`error` is a plain string, not an enum.

Who writes which part of a cause: the expression layer (jsonpath, intrinsics, jsonata, payload)
raises AslError with the *detail* only, e.g. "Invalid path '$.x' : No results for path: $['x']".
The interpreter, which knows the state and its entered event, prefixes it with
`state_error_cause(...)`, giving AWS's full text:
"An error occurred while executing the state 'pass' (entered at the event id #2). Invalid path ...".
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "AslError",
    "AslSyntaxError",
    "STATES_ALL",
    "STATES_BRANCH_FAILED",
    "STATES_DATA_LIMIT_EXCEEDED",
    "STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD",
    "STATES_HEARTBEAT_TIMEOUT",
    "STATES_INTRINSIC_FAILURE",
    "STATES_ITEM_READER_FAILED",
    "STATES_NO_CHOICE_MATCHED",
    "STATES_PARAMETER_PATH_FAILURE",
    "STATES_PERMISSIONS",
    "STATES_QUERY_EVALUATION_ERROR",
    "STATES_REFERENCE_PATH_CONFLICT",
    "STATES_RESULT_PATH_MATCH_FAILURE",
    "STATES_RESULT_WRITER_FAILED",
    "STATES_RUNTIME",
    "STATES_TASK_FAILED",
    "STATES_TIMEOUT",
    "state_error_cause",
]

# The predefined error names (ASL spec, "Errors"; plus the JSONata-mode and Map ones AWS added).
STATES_ALL: Final = "States.ALL"
STATES_RUNTIME: Final = "States.Runtime"
STATES_TIMEOUT: Final = "States.Timeout"
STATES_HEARTBEAT_TIMEOUT: Final = "States.HeartbeatTimeout"
STATES_TASK_FAILED: Final = "States.TaskFailed"
STATES_PERMISSIONS: Final = "States.Permissions"
STATES_RESULT_PATH_MATCH_FAILURE: Final = "States.ResultPathMatchFailure"
# Not in the ASL spec's list, but what AWS raises when a Reference Path (ResultPath, ItemsPath)
# cannot be applied: 'Unable to apply step "objects" to input {...}' (seen in published AWS
# execution failures; the spec's States.ResultPathMatchFailure is not what AWS reports).
STATES_REFERENCE_PATH_CONFLICT: Final = "States.ReferencePathConflict"
STATES_PARAMETER_PATH_FAILURE: Final = "States.ParameterPathFailure"
STATES_QUERY_EVALUATION_ERROR: Final = "States.QueryEvaluationError"
STATES_BRANCH_FAILED: Final = "States.BranchFailed"
STATES_NO_CHOICE_MATCHED: Final = "States.NoChoiceMatched"
STATES_INTRINSIC_FAILURE: Final = "States.IntrinsicFailure"
STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD: Final = "States.ExceedToleratedFailureThreshold"
STATES_ITEM_READER_FAILED: Final = "States.ItemReaderFailed"
STATES_RESULT_WRITER_FAILED: Final = "States.ResultWriterFailed"
STATES_DATA_LIMIT_EXCEEDED: Final = "States.DataLimitExceeded"


class AslError(Exception):
    """A runtime failure inside an execution, named as AWS names it.

    Retriers and catchers match on `error`; the execution's failure event carries
    `error` and `cause` verbatim, so `cause` uses AWS's wording.
    """

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause

    def __repr__(self) -> str:
        return f"AslError({self.error!r}, {self.cause!r})"


class AslSyntaxError(ValueError):
    """A definition is malformed: the message says which expression and what is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def state_error_cause(state_name: str, entered_event_id: int, detail: str) -> str:
    """AWS's cause for a States.Runtime/IntrinsicFailure/QueryEvaluationError raised in a state.

    Recorded: "An error occurred while executing the state 'WaitState' (entered at the event
    id #2). The SecondsPath parameter references a negative value: $.input.waitSeconds == -1".
    """
    return (
        f"An error occurred while executing the state '{state_name}' "
        f"(entered at the event id #{entered_event_id}). {detail}"
    )
