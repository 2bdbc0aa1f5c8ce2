"""JSONPath-mode payload templates: Parameters, ItemSelector, ResultSelector, Assign.

The ASL spec ("Payload Template"): "fields whose names end in ".$" [...] the value is a
Path [...] or an intrinsic function, and the field name is stripped of ".$" in the result.
[...] Payload templates may be nested (objects within objects or arrays)."
Everything else is copied literally: a plain "$.x" string under a key without ".$" stays text.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

from .errors import STATES_RUNTIME, AslError, AslSyntaxError
from .intrinsics import evaluate_intrinsic, is_intrinsic, parse_intrinsic
from .jsonpath import PathNotFoundError, parse_path, resolve

__all__ = ["compile_check", "evaluate_payload_template", "evaluate_template_value"]


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def evaluate_template_value(
    field: str,
    expression: Any,
    *,
    input: Any,
    context: Any = None,
    variables: Mapping[str, Any] | None = None,
    random: Callable[[], float] | None = None,
    uuid: Callable[[], str] | None = None,
) -> Any:
    """Evaluate the value of one `.$` field: a path (`$`, `$$`, `$var`) or an intrinsic call.

    Args:
        field: the key as written (with `.$`), for the error message.

    Raises:
        AslSyntaxError: the value is not a string, path or intrinsic call.
        AslError: States.Runtime "The JSONPath '$.x' specified for the field 'x.$' could not
            be found in the input '{...}'"; States.Runtime "Invalid arguments in States.X"
            when an intrinsic function's arguments are wrong.
    """
    if not isinstance(expression, str):
        raise AslSyntaxError(
            f"The value for the field '{field}' must be a JSONPath or an intrinsic function "
            f"call, got {_compact(expression)}"
        )
    try:
        if is_intrinsic(expression):
            return evaluate_intrinsic(
                expression,
                input=input,
                context=context,
                variables=variables,
                random=random,
                uuid=uuid,
            )
        path = parse_path(expression)
        return resolve(path, input=input, context=context, variables=variables)
    except PathNotFoundError as exc:
        document = input
        if exc.path.startswith("$$"):
            document = context
        # Recorded on AWS (execution histories published by users):
        # "The JSONPath '$.JobName' specified for the field 'JobName.$' could not be found in
        # the input '{}'"
        raise AslError(
            STATES_RUNTIME,
            f"The JSONPath '{exc.path}' specified for the field '{field}' could not be found "
            f"in the input '{_compact(document)}'",
        ) from None


def evaluate_payload_template(
    template: Any,
    *,
    input: Any,
    context: Any = None,
    variables: Mapping[str, Any] | None = None,
    random: Callable[[], float] | None = None,
    uuid: Callable[[], str] | None = None,
) -> Any:
    """Build a payload from a template against the effective input.

    Args:
        template: the field's JSON value (usually an object).
        input: what `$` refers to (the effective input; for ResultSelector, the task result).
        context: the context object (`$$`); variables: the variables in scope (`$name`).
        random, uuid: sources for States.MathRandom / States.UUID (see intrinsics).

    Returns:
        A new JSON value; the template is not modified.

    Raises:
        AslSyntaxError: a `.$` field holds something other than a path or intrinsic call.
        AslError: States.Runtime when a path finds nothing or an intrinsic function's
            arguments are wrong ("Invalid arguments in States.X", as AWS).
    """
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = evaluate_template_value(
                    key,
                    value,
                    input=input,
                    context=context,
                    variables=variables,
                    random=random,
                    uuid=uuid,
                )
            else:
                out[key] = evaluate_payload_template(
                    value,
                    input=input,
                    context=context,
                    variables=variables,
                    random=random,
                    uuid=uuid,
                )
        return out
    if isinstance(template, list):
        return [
            evaluate_payload_template(
                v, input=input, context=context, variables=variables, random=random, uuid=uuid
            )
            for v in template
        ]
    return template


def compile_check(template: Any, *, where: str = "") -> list[str]:
    """Every syntax problem in a template's `.$` fields, as messages naming the field.

    For the validator: parses each path and intrinsic call without evaluating anything.
    """
    problems: list[str] = []

    def walk(node: Any, at: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{at}/{key}"
                if key.endswith(".$"):
                    if not isinstance(value, str):
                        problems.append(
                            f"{here}: the value of a '.$' field must be a JSONPath or an "
                            "intrinsic function call"
                        )
                        continue
                    try:
                        if is_intrinsic(value):
                            parse_intrinsic(value)
                        else:
                            parse_path(value)
                    except AslSyntaxError as exc:
                        problems.append(f"{here}: {exc.message}")
                else:
                    walk(value, here)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{at}[{i}]")

    walk(template, where)
    return problems
