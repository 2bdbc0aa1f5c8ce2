"""Execution history events, shaped like AWS GetExecutionHistory.

The interpreter numbers events (`id`, `previousEventId`) because the numbering is part of AWS's
observable behaviour: runtime causes say "(entered at the event id #2)". The driver stamps the
time when it records the event, so `HistoryEvent` has no timestamp and `formatted(timestamp)`
produces the wire dict:

    {"id": 2, "previousEventId": 1, "timestamp": "2024-...Z", "type": "PassStateEntered",
     "stateEnteredEventDetails": {"name": "A", "input": "{}", "inputDetails": {"truncated": false}}}

Payloads inside details are JSON *strings*, as in AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Mapping, TypedDict

# Which details key each event type carries (AWS HistoryEvent shape). Types absent here carry none.
_DETAILS_KEY: dict[str, str] = {
    "ExecutionStarted": "executionStartedEventDetails",
    "ExecutionSucceeded": "executionSucceededEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "TaskScheduled": "taskScheduledEventDetails",
    "TaskStarted": "taskStartedEventDetails",
    "TaskSubmitted": "taskSubmittedEventDetails",
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "LambdaFunctionScheduled": "lambdaFunctionScheduledEventDetails",
    "LambdaFunctionSucceeded": "lambdaFunctionSucceededEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "ActivityScheduled": "activityScheduledEventDetails",
    "ActivityStarted": "activityStartedEventDetails",
    "ActivitySucceeded": "activitySucceededEventDetails",
    "ActivityFailed": "activityFailedEventDetails",
    "ActivityTimedOut": "activityTimedOutEventDetails",
    "MapStateStarted": "mapStateStartedEventDetails",
    "MapIterationStarted": "mapIterationStartedEventDetails",
    "MapIterationSucceeded": "mapIterationSucceededEventDetails",
    "MapIterationFailed": "mapIterationFailedEventDetails",
    "MapIterationAborted": "mapIterationAbortedEventDetails",
    "MapRunStarted": "mapRunStartedEventDetails",
    "MapRunFailed": "mapRunFailedEventDetails",
    "EvaluationFailed": "evaluationFailedEventDetails",
}


class HistoryEventDict(TypedDict, total=False):
    """The wire shape (GetExecutionHistory `events[]`), details under a per-type key."""

    id: int
    previousEventId: int
    timestamp: str
    type: str


@dataclass(frozen=True, kw_only=True, slots=True)
class HistoryEvent:
    """One event as the interpreter emits it (no timestamp: the driver's clock stamps it)."""

    id: int
    previous_event_id: int
    type: str
    details: Mapping[str, Any] | None = None

    def formatted(self, timestamp_ms: int) -> HistoryEventDict:
        """The AWS-shaped dict, with `timestamp` as ISO-8601 UTC."""
        event: dict[str, Any] = {
            "id": self.id,
            "previousEventId": self.previous_event_id,
            "timestamp": iso_timestamp(timestamp_ms),
            "type": self.type,
        }
        if self.details is not None:
            key = _DETAILS_KEY.get(self.type)
            if key is None:
                key = _state_details_key(self.type)
            event[key] = dict(self.details)
        return event  # type: ignore[return-value]


def _state_details_key(event_type: str) -> str:
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


@lru_cache(maxsize=4096)
def iso_timestamp(epoch_ms: int) -> str:
    """AWS's ISO-8601 form with milliseconds and a Z, e.g. 2024-11-06T09:42:03.123Z."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def to_json(value: Any) -> str:
    """JSON text as AWS writes payloads into events and outputs (compact separators)."""
    return _ENCODE(value)


def payload_details(key: str, value: Any) -> dict[str, Any]:
    """`{"input": "...", "inputDetails": {"truncated": false}}` (or output/outputDetails)."""
    return {key: to_json(value), f"{key}Details": {"truncated": False}}
