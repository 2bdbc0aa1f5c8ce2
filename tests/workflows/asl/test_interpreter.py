"""Interpreter behaviour the recorded conformance cases do not cover.

Retry timing, timeouts, MaxConcurrency and tolerated failures are observed on the local
driver's virtual clock (what the driver saw and when), history through its recorded events,
and the effect protocol by driving the generator by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from server.workflows.asl.effects import Await, Cancel, Completion, InvokeTask, RecordEvent, Wait
from server.workflows.asl.interpreter import Execution, ExecutionConfig, drive
from server.workflows.asl.local import DEFAULT_START_MS, Delayed, LocalDriver
from server.workflows.asl.model import MAX_NESTING, parse_state_machine

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def run(definition: dict[str, Any], input: Any = None, functions: dict[str, Any] | None = None, **config: Any):
    driver = LocalDriver(functions or {})
    result = driver.run(parse_state_machine(definition), {} if input is None else input, ExecutionConfig(**config))
    return result, driver


def event_types(driver: LocalDriver) -> list[str]:
    return [event["type"] for event in driver.history]


def flaky(failures: int, error: type[Exception] = RuntimeError):
    calls = {"n": 0}

    def function(event: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise error(f"attempt {calls['n']} failed")
        return {"attempts": calls["n"]}

    return function


def task(name: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA + name, **fields}


# --- Retry and Catch ------------------------------------------------------------------------


def test_retry_backoff_advances_the_virtual_clock() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                "f",
                Retry=[{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}],
                End=True,
            )
        },
    }
    result, driver = run(definition, functions={"f": flaky(3)})
    assert result.status == "SUCCEEDED" and result.output == {"attempts": 4}
    offsets = [at - DEFAULT_START_MS for at, _ in driver.invocations]
    # IntervalSeconds * BackoffRate ** n: 2 s, 6 s, 18 s between attempts.
    assert offsets == [0, 2_000, 8_000, 26_000]


def test_retry_max_delay_caps_the_backoff() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                "f",
                Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "BackoffRate": 10,
                        "MaxAttempts": 3, "MaxDelaySeconds": 15}],
                End=True,
            )
        },
    }
    _, driver = run(definition, functions={"f": flaky(3)})
    assert [at - DEFAULT_START_MS for at, _ in driver.invocations] == [0, 10_000, 25_000, 40_000]


def test_full_jitter_is_bounded_and_reproducible_per_seed() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                "f",
                Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 100, "MaxAttempts": 1,
                        "JitterStrategy": "FULL"}],
                End=True,
            )
        },
    }
    delays = []
    for seed in (1, 1, 2):
        _, driver = run(definition, functions={"f": flaky(1)}, seed=seed)
        delays.append(driver.invocations[1][0] - driver.invocations[0][0])
    assert all(0 <= delay <= 100_000 for delay in delays)
    assert delays[0] == delays[1] != delays[2]


def test_retries_exhausted_then_caught_with_result_path() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                "f",
                Retry=[{"ErrorEquals": ["ValueError"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Done"}],
                End=True,
            ),
            "Done": {"Type": "Pass", "End": True},
        },
    }
    result, driver = run(definition, {"keep": 1}, functions={"f": flaky(10, ValueError)})
    assert len(driver.invocations) == 3
    assert result.output == {"keep": 1, "error": {"Error": "ValueError", "Cause": "attempt 3 failed"}}


def test_first_matching_retrier_decides_even_when_exhausted() -> None:
    """ASL spec: the first retrier whose ErrorEquals matches applies; later ones are not consulted."""
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                "f",
                Retry=[
                    {"ErrorEquals": ["ValueError"], "MaxAttempts": 0},
                    {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5},
                ],
                End=True,
            )
        },
    }
    result, driver = run(definition, functions={"f": flaky(10, ValueError)})
    assert result.status == "FAILED" and result.error == "ValueError"
    assert len(driver.invocations) == 1


def test_retry_count_is_in_the_context_object() -> None:
    seen: list[int] = []

    def record(event: Any) -> Any:
        seen.append(event["retry"])
        if len(seen) < 3:
            raise RuntimeError("again")
        return event

    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                "f",
                Parameters={"retry.$": "$$.State.RetryCount"},
                Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}],
                End=True,
            )
        },
    }
    run(definition, functions={"f": record})
    assert seen == [0, 1, 2]


# --- timeouts ---------------------------------------------------------------------------------


def test_task_timeout_fails_with_states_timeout_at_the_deadline() -> None:
    definition = {"StartAt": "T", "States": {"T": task("slow", TimeoutSeconds=5, End=True)}}
    result, driver = run(definition, functions={"slow": lambda e: Delayed(60, e)})
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert "LambdaFunctionTimedOut" in event_types(driver)
    assert driver.now_ms - DEFAULT_START_MS == 5_000


def test_task_failed_does_not_catch_a_timeout_but_states_all_does() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                "slow",
                TimeoutSeconds=1,
                Catch=[
                    {"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"},
                    {"ErrorEquals": ["States.ALL"], "Next": "Right"},
                ],
                End=True,
            ),
            "Wrong": {"Type": "Pass", "Result": "wrong", "End": True},
            "Right": {"Type": "Pass", "Result": "right", "End": True},
        },
    }
    result, _ = run(definition, functions={"slow": lambda e: Delayed(2, e)})
    assert result.output == "right"


def test_timeout_seconds_path_and_a_fast_task_succeeds() -> None:
    definition = {"StartAt": "T", "States": {"T": task("f", TimeoutSecondsPath="$.t", End=True)}}
    result, _ = run(definition, {"t": 10}, functions={"f": lambda e: Delayed(3, "ok")})
    assert result.output == "ok"
    result, _ = run(definition, {"t": 2}, functions={"f": lambda e: Delayed(3, "ok")})
    assert result.error == "States.Timeout"


def test_wait_seconds_advances_time_without_sleeping() -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 86_400, "End": True}}}
    result, driver = run(definition)
    assert result.status == "SUCCEEDED"
    assert driver.now_ms - DEFAULT_START_MS == 86_400_000
    assert driver.history[-1]["timestamp"] == "2024-01-02T00:00:00.000Z"


# --- Map and Parallel concurrency ----------------------------------------------------------


def map_definition(**fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "T", "States": {"T": task("work", End=True)}},
                "End": True,
                **fields,
            }
        },
    }


@pytest.mark.parametrize(("limit", "starts"), [(2, [0, 0, 10, 10, 20, 20]), (0, [0] * 6), (4, [0, 0, 0, 0, 10, 10])])
def test_map_max_concurrency_bounds_tasks_in_flight(limit: int, starts: list[int]) -> None:
    result, driver = run(
        map_definition(MaxConcurrency=limit), list(range(6)), functions={"work": lambda e: Delayed(10, e * 2)}
    )
    assert result.output == [0, 2, 4, 6, 8, 10]
    assert [(at - DEFAULT_START_MS) // 1000 for at, _ in driver.invocations] == starts


def test_parallel_branches_run_concurrently_on_the_virtual_clock() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 30, "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 50, "End": True}}},
                ],
                "End": True,
            }
        },
    }
    result, driver = run(definition, {"x": 1})
    assert result.output == [{"x": 1}, {"x": 1}]
    assert driver.now_ms - DEFAULT_START_MS == 50_000


def test_a_failing_branch_cancels_its_running_siblings() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Slow", "States": {"Slow": task("slow", End=True)}},
                    {"StartAt": "Boom", "States": {"Boom": {"Type": "Wait", "Seconds": 1, "Next": "F"},
                                                   "F": {"Type": "Fail", "Error": "Boom"}}},
                ],
                "End": True,
            }
        },
    }
    driver = LocalDriver({"slow": lambda e: Delayed(100, e)})
    effects: list[Any] = []

    def perform(effect: Any) -> Any:
        effects.append(effect)
        return driver.perform(effect)

    result = drive(Execution(parse_state_machine(definition), {}).run(), perform)
    assert (result.status, result.error) == ("FAILED", "Boom")
    invoke_ids = {e.id for e in effects if isinstance(e, InvokeTask)}
    cancels = [e for e in effects if isinstance(e, Cancel)]
    assert cancels and invoke_ids <= cancels[0].ids


def test_tolerated_failure_count_in_a_distributed_map() -> None:
    def work(item: Any) -> Any:
        if item % 3 == 0:
            raise ValueError(f"bad {item}")
        return item

    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                 "StartAt": "T", "States": {"T": task("work", End=True)}}
    ok = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor,
                                           "ToleratedFailureCount": 2, "End": True}}}
    result, _ = run(ok, [1, 2, 3, 4, 6], functions={"work": work})
    assert result.status == "SUCCEEDED"
    assert result.output[0:2] == [1, 2] and result.output[2] == {"Error": "ValueError", "Cause": "bad 3"}
    result, _ = run(ok, [3, 6, 9, 1], functions={"work": work})
    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    by_percent = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor,
                                                   "ToleratedFailurePercentage": 50, "End": True}}}
    assert run(by_percent, [3, 1, 2, 4], functions={"work": work})[0].status == "SUCCEEDED"
    assert run(by_percent, [3, 6, 9, 1], functions={"work": work})[0].status == "FAILED"


def test_item_batcher_groups_items() -> None:
    definition = map_definition(ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"k": 1}})
    definition["States"]["M"]["ItemProcessor"] = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    result, _ = run(definition, [1, 2, 3])
    assert result.output == [{"BatchInput": {"k": 1}, "Items": [1, 2]}, {"BatchInput": {"k": 1}, "Items": [3]}]


def test_item_reader_reads_through_the_driver() -> None:
    definition = map_definition(
        ItemReader={"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key.$": "$.key"}}
    )
    definition["States"]["M"]["ItemProcessor"] = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}
    }
    reads: list[Any] = []

    def source(resource: str, parameters: Any, config: Any) -> list[Any]:
        reads.append((resource, parameters))
        return [{"n": 1}, {"n": 2}]

    driver = LocalDriver(item_source=source)
    result = driver.run(parse_state_machine(definition), {"key": "items.json"})
    assert result.output == [{"n": 1}, {"n": 2}]
    assert reads == [("arn:aws:states:::s3:getObject", {"Bucket": "b", "Key": "items.json"})]
    failed = LocalDriver().run(parse_state_machine(definition), {"key": "k"})
    assert failed.error == "States.ItemReaderFailed"


# --- history ----------------------------------------------------------------------------------


def test_history_of_a_pass_chain() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
    _, driver = run(definition, {"x": 1})
    history = driver.history
    assert [e["type"] for e in history] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited",
        "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded",
    ]
    assert [e["id"] for e in history] == [1, 2, 3, 4, 5, 6]
    assert [e["previousEventId"] for e in history] == [0, 0, 2, 3, 4, 5]  # as AWS: ExecutionStarted does not chain
    assert history[1]["stateEnteredEventDetails"] == {
        "name": "A", "input": '{"x":1}', "inputDetails": {"truncated": False}
    }
    assert history[-1]["executionSucceededEventDetails"]["output"] == '{"x":1}'


def test_history_of_a_service_task_and_a_failure() -> None:
    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                         "Parameters": {"FunctionName": "f", "Payload": {}}, "End": True}},
    }
    result, driver = run(definition, functions={"f": flaky(1)})
    assert event_types(driver) == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed", "ExecutionFailed"
    ]
    failed = driver.history[4]["taskFailedEventDetails"]
    assert failed == {"resourceType": "lambda", "resource": "invoke", "error": "RuntimeError", "cause": "attempt 1 failed"}
    assert driver.history[-1]["executionFailedEventDetails"] == {"error": "RuntimeError", "cause": "attempt 1 failed"}


def test_lambda_invoke_wraps_the_payload_as_aws() -> None:
    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                         "Parameters": {"FunctionName": LAMBDA + "f", "Payload.$": "$"}, "End": True}},
    }
    result, _ = run(definition, {"a": 1}, functions={"f": lambda e: {"got": e}})
    assert result.output["Payload"] == {"got": {"a": 1}}
    assert result.output["StatusCode"] == 200


def test_history_of_an_inline_map_links_iterations_to_the_map() -> None:
    definition = map_definition(MaxConcurrency=1)
    definition["States"]["M"]["ItemProcessor"] = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    _, driver = run(definition, ["a", "b"])
    types = event_types(driver)
    assert types == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted",
        "MapIterationStarted", "PassStateEntered", "PassStateExited", "MapIterationSucceeded",
        "MapIterationStarted", "PassStateEntered", "PassStateExited", "MapIterationSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded",
    ]
    started = driver.history[2]
    assert started["mapStateStartedEventDetails"] == {"length": 2}
    iteration = driver.history[7]
    assert iteration["mapIterationStartedEventDetails"] == {"name": "M", "index": 1}
    assert iteration["previousEventId"] == started["id"]


def test_history_of_parallel() -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}]}},
    }
    _, driver = run(definition)
    assert event_types(driver) == [
        "ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted", "PassStateEntered",
        "PassStateExited", "ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded",
    ]


def test_assigned_variables_are_in_the_exited_event() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"x": 1, "y.$": "$.v"}, "End": True}}}
    _, driver = run(definition, {"v": "s"})
    exited = driver.history[2]["stateExitedEventDetails"]
    assert exited["assignedVariables"] == {"x": "1", "y": '"s"'}


# --- context object and variables ----------------------------------------------------------------


def test_context_object_fields() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Pass",
                "Parameters": {
                    "id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "start.$": "$$.Execution.StartTime",
                    "role.$": "$$.Execution.RoleArn", "input.$": "$$.Execution.Input", "state.$": "$$.State.Name",
                    "entered.$": "$$.State.EnteredTime", "sm.$": "$$.StateMachine.Name", "smid.$": "$$.StateMachine.Id",
                },
                "Next": "M",
            },
            "M": {
                "Type": "Map",
                "ItemsPath": "$.input.items",
                "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"},
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "ResultPath": "$.items",
                "End": True,
            },
        },
    }
    result, _ = run(definition, {"items": ["a", "b"]}, name="exec-1", state_machine_name="sm-1",
                    execution_arn="arn:aws:states:us-east-1:1:execution:sm-1:exec-1")
    out = result.output
    assert out["id"] == "arn:aws:states:us-east-1:1:execution:sm-1:exec-1"
    assert out["name"] == "exec-1" and out["sm"] == "sm-1" and out["state"] == "A"
    assert out["start"] == out["entered"] == "2024-01-01T00:00:00.000Z"
    assert out["input"] == {"items": ["a", "b"]}
    assert out["items"] == [{"i": 0, "v": "a"}, {"i": 1, "v": "b"}]


def test_task_token_is_passed_for_wait_for_task_token() -> None:
    seen: list[Any] = []
    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                         "Parameters": {"FunctionName": "f", "Payload": {"token.$": "$$.Task.Token"}}, "End": True}},
    }
    driver = LocalDriver({"f": lambda e: seen.append(e) or "done"})
    gen = Execution(parse_state_machine(definition), {}).run()
    effects = []

    def perform(effect: Any) -> Any:
        effects.append(effect)
        return driver.perform(effect)

    drive(gen, perform)
    invoke = next(e for e in effects if isinstance(e, InvokeTask))
    assert invoke.task_token and seen[0]["token"] == invoke.task_token


def test_variables_flow_into_children_but_never_back() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"outer": 1}, "Next": "P"},
            "P": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"inner.$": "$outer"},
                                                               "Parameters": {"seen.$": "$outer"}, "End": True}}}],
                "Next": "C",
            },
            "C": {"Type": "Pass", "Parameters": {"outer.$": "$outer", "branch.$": "$[0]"}, "Next": "D"},
            "D": {"Type": "Pass", "Parameters": {"inner.$": "$inner"}, "End": True},
        },
    }
    result, _ = run(definition)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "inner" in result.cause
    definition["States"]["C"]["End"] = True
    del definition["States"]["C"]["Next"], definition["States"]["D"]
    result, _ = run(definition)
    assert result.output == {"outer": 1, "branch": {"seen": 1}}


def test_a_child_cannot_assign_an_outer_variable() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "P"},
            "P": {"Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"x": 2}, "End": True}}}]},
        },
    }
    result, _ = run(definition)
    assert result.error == "States.Runtime" and "outer scope" in result.cause


def test_assign_and_output_see_the_variables_as_they_were_on_entry() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}"}, "Output": {"old": "{% $x %}"}, "Next": "C"},
            "C": {"Type": "Pass", "Output": {"new": "{% $x %}"}, "End": True},
        },
    }
    result, driver = run(definition)
    assert result.output == {"new": 2}
    assert driver.history[4]["stateExitedEventDetails"]["output"] == '{"old":1}'


# --- limits and bad data ----------------------------------------------------------------------


def test_a_result_over_256_kib_fails_with_data_limit_exceeded() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "x" * 300_000, "End": True}}}
    result, _ = run(definition)
    assert result.error == "States.DataLimitExceeded"
    assert result.cause == (
        "The state/task 'A' returned a result with a size exceeding the maximum number of bytes service limit."
    )


def test_an_execution_input_over_256_kib_is_refused_cleanly() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    result, driver = run(definition, {"big": "y" * 300_000})
    assert result.error == "States.DataLimitExceeded"
    assert event_types(driver) == ["ExecutionStarted", "ExecutionFailed"]


def test_deeply_nested_input_and_definition_give_clean_results() -> None:
    nested: Any = []
    for _ in range(3000):
        nested = [nested]
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "$"}, "End": True}}}
    result, _ = run(definition, nested)
    assert result.status in ("SUCCEEDED", "FAILED")
    def nest(levels: int) -> dict[str, Any]:
        deep: dict[str, Any] = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
        for _ in range(levels):
            deep = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [deep], "End": True}}}
        return deep

    output = run(nest(MAX_NESTING - 1), {"a": 1})[0].output
    for _ in range(MAX_NESTING - 1):
        output = output[0]  # each Parallel wraps its branch's output in a list
    assert output == {"a": 1}
    from server.workflows.asl.errors import AslSyntaxError

    with pytest.raises(AslSyntaxError, match="nested too deeply"):
        parse_state_machine(nest(MAX_NESTING + 1))
    with pytest.raises(AslSyntaxError, match="nested too deeply"):
        parse_state_machine(nest(5000))


def test_wait_too_far_ahead_fails_at_once() -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2080-01-01T00:00:00Z", "End": True}}}
    assert run(definition)[0].status == "SUCCEEDED"
    definition["States"]["W"]["Timestamp"] = "2200-01-01T00:00:00Z"
    result, driver = run(definition)
    assert result.error == "States.Runtime" and result.cause.endswith("Wait state delay is too long.")
    assert driver.now_ms == DEFAULT_START_MS


# --- the effect protocol -------------------------------------------------------------------------


def test_effects_are_deterministic_so_a_durable_engine_can_replay_them() -> None:
    """Feeding the recorded replies to a fresh Execution reproduces the same effects in order."""
    definition = map_definition(MaxConcurrency=2, ResultPath="$.out")
    definition["States"]["M"]["ItemsPath"] = "$.items"
    definition["States"]["M"]["Retry"] = [{"ErrorEquals": ["States.ALL"], "JitterStrategy": "FULL"}]
    machine = parse_state_machine(definition)
    driver = LocalDriver({"work": flaky(1)})
    log: list[tuple[Any, Any]] = []

    def perform(effect: Any) -> Any:
        reply = driver.perform(effect)
        log.append((effect, reply))
        return reply

    first = drive(Execution(machine, {"items": [1, 2, 3]}, ExecutionConfig(seed=7)).run(), perform)
    replies = iter(log)

    def replay(effect: Any) -> Any:
        recorded_effect, reply = next(replies)
        assert effect == recorded_effect
        return reply

    second = drive(Execution(machine, {"items": [1, 2, 3]}, ExecutionConfig(seed=7)).run(), replay)
    assert first == second and first.status == "SUCCEEDED"
    assert next(replies, None) is None


def test_driving_by_hand_shows_the_protocol() -> None:
    definition = {"StartAt": "T", "States": {"T": task("f", Next="W"),
                                              "W": {"Type": "Wait", "Seconds": 5, "End": True}}}
    gen = Execution(parse_state_machine(definition), {"n": 1}).run()
    effect = next(gen)
    clock = 1_000
    seen = []
    while True:
        seen.append(type(effect).__name__)
        if isinstance(effect, RecordEvent):
            reply: Any = clock
        elif isinstance(effect, (InvokeTask, Wait)):
            pending = effect
            reply = None
        elif isinstance(effect, Await):
            assert effect.ids == {pending.id}
            if isinstance(pending, Wait):
                clock = pending.until_ms
                reply = Completion(id=pending.id, at_ms=clock)
            else:
                reply = Completion(id=pending.id, at_ms=clock, output={"done": True})
        try:
            effect = gen.send(reply)
        except StopIteration as stop:
            result = stop.value
            break
    assert result.output == {"done": True}
    assert clock == 1_000 + 5_000
    assert seen.count("InvokeTask") == 1 and seen.count("Wait") == 1 and seen.count("Await") == 2


def test_execution_timeout_seconds_times_the_whole_execution_out() -> None:
    definition = {
        "TimeoutSeconds": 30,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 20, "Next": "T"}, "T": task("slow", End=True)},
    }
    result, driver = run(definition, functions={"slow": lambda e: Delayed(60, e)})
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert driver.now_ms - DEFAULT_START_MS == 30_000
    assert event_types(driver)[-1] == "ExecutionTimedOut"
    definition["States"]["W"]["Seconds"] = 1
    result, _ = run(definition, functions={"slow": lambda e: Delayed(5, e)})
    assert result.status == "SUCCEEDED"


def test_a_loop_that_never_ends_stops_at_the_history_limit() -> None:
    definition = {
        "StartAt": "Loop",
        "States": {
            "Loop": {"Type": "Pass", "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$", "IsPresent": True, "Next": "Loop"}],
                      "Default": "Loop"},
        },
    }
    result, driver = run(definition, max_history_events=500)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "maximum number of history events (500)" in result.cause
    assert len(driver.history) <= 500


def test_jsonata_catch_sees_error_output_and_assigns() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": task(
                "boom",
                Catch=[{"ErrorEquals": ["States.ALL"], "Next": "After",
                        "Assign": {"failed": "{% $states.errorOutput.Error %}"},
                        "Output": {"why": "{% $states.errorOutput.Cause %}", "in": "{% $states.input.n %}"}}],
                End=True,
            ),
            "After": {"Type": "Pass", "Output": {"caught": "{% $states.input %}", "failed": "{% $failed %}"}, "End": True},
        },
    }

    def boom(event: Any) -> Any:
        raise KeyError("no such key")

    result, _ = run(definition, {"n": 5}, functions={"boom": boom})
    assert result.output == {"caught": {"why": "'no such key'", "in": 5}, "failed": "KeyError"}


def test_jsonpath_result_selector_result_path_output_path() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": task("f", InputPath="$.in", Parameters={"v.$": "$.v", "const": 1},
                      ResultSelector={"doubled.$": "$.v2"}, ResultPath="$.res", OutputPath="$.res", End=True)
        },
    }
    seen: list[Any] = []

    def f(event: Any) -> Any:
        seen.append(event)
        return {"v2": event["v"] * 2, "noise": True}

    result, _ = run(definition, {"in": {"v": 21}, "other": 0}, functions={"f": f})
    assert seen == [{"v": 21, "const": 1}]
    assert result.output == {"doubled": 42}


def test_null_paths_discard_as_the_spec_says() -> None:
    """ASL spec: InputPath null gives {} as input, ResultPath null keeps the input, OutputPath null gives {}."""
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "InputPath": None, "Parameters": {"saw.$": "$"}, "ResultPath": "$.r", "Next": "B"},
            "B": {"Type": "Pass", "Result": "dropped", "ResultPath": None, "Next": "C"},
            "C": {"Type": "Pass", "OutputPath": None, "End": True},
        },
    }
    result, driver = run(definition, {"x": 1})
    assert driver.history[2]["stateExitedEventDetails"]["output"] == '{"x":1,"r":{"saw":{}}}'
    assert result.output == {}


def test_no_choice_matched_without_default() -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "D"}]},
            "D": {"Type": "Succeed"},
        },
    }
    result, _ = run(definition, {"n": 2})
    assert result.error == "States.NoChoiceMatched"
    assert run(definition, {"n": 1})[0].status == "SUCCEEDED"


def test_heartbeat_and_timeout_reach_the_driver() -> None:
    definition = {"StartAt": "T", "States": {"T": task("f", TimeoutSeconds=30, HeartbeatSeconds=10, End=True)}}
    _, driver = run(definition, functions={"f": lambda e: e})
    invocation = driver.invocations[0][1]
    assert (invocation.timeout_seconds, invocation.heartbeat_seconds) == (30, 10)
    scheduled = driver.history[2]["lambdaFunctionScheduledEventDetails"]
    assert scheduled["timeoutInSeconds"] == 30


def test_unknown_function_and_unsupported_resource_fail_clearly() -> None:
    result, _ = run({"StartAt": "T", "States": {"T": task("nope", End=True)}})
    assert (result.error, result.cause) == ("Lambda.ResourceNotFoundException", "Function not found: nope")
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                                                   "End": True}}}
    result, _ = run(definition)
    assert result.status == "FAILED" and "cannot run resource" in result.cause


def test_activity_tasks_record_activity_events() -> None:
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "HeartbeatSeconds": 5,
                                                   "Resource": "arn:aws:states:us-east-1:1:activity:approve", "End": True}}}
    driver = LocalDriver()

    def perform(effect: Any) -> Any:
        if isinstance(effect, InvokeTask):  # a worker polled GetActivityTask and answered
            driver.complete(Completion(id=effect.id, at_ms=driver.now_ms + 60_000, output={"approved": True}))
            return None
        return driver.perform(effect)

    result = drive(Execution(parse_state_machine(definition), {}).run(), perform)
    assert result.output == {"approved": True}
    assert event_types(driver)[2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    assert driver.history[2]["activityScheduledEventDetails"]["heartbeatInSeconds"] == 5


def test_a_failed_iteration_aborts_the_iterations_in_flight() -> None:
    def work(item: Any) -> Any:
        if item == 1:
            raise ValueError("one")
        return Delayed(10, item)

    result, driver = run(map_definition(MaxConcurrency=0), [0, 1, 2], functions={"work": work})
    assert (result.status, result.error) == ("FAILED", "ValueError")
    aborted = [e["mapIterationAbortedEventDetails"]["index"] for e in driver.history if e["type"] == "MapIterationAborted"]
    assert aborted == [0, 2]
    assert event_types(driver)[-2:] == ["MapStateFailed", "ExecutionFailed"]
