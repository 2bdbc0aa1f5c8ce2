"""Static validation of an ASL definition, shaped like AWS's ValidateStateMachineDefinition.

`validate_definition` never raises: whatever it is given (a JSON string, parsed JSON, or
anything else) it returns a list of `Diagnostic`s, each with a severity, a code, a message
that says what to fix, and a location such as ``/States/FailState/ErrorPath`` (the format of
the API's ``location`` field). An empty list, or warnings only, means AWS would accept it.

Codes. AWS's own where they exist (its API reference lists them under
ValidateStateMachineDefinitionDiagnostic):

    ERROR    INVALID_JSON_DESCRIPTION   not JSON (or not JSON-serialisable)
    ERROR    MISSING_DESCRIPTION        null or empty definition
    ERROR    SCHEMA_VALIDATION_FAILED   unknown/missing fields, wrong types, bad values,
                                        mutually exclusive fields, Choice/Retry/Catch rules
    ERROR    INVALID_RESOURCE           a Task Resource that is not an ARN
    ERROR    MISSING_END_STATE          a (sub-)machine without a terminal state
    ERROR    DUPLICATE_STATE_NAME       a state name used twice anywhere in the machine
    ERROR    INVALID_STATE_NAME         empty or longer than 80 characters
    ERROR    MISSING_TRANSITION_TARGET  Next/Default/StartAt naming no state of its scope
    ERROR    TOO_DEEPLY_NESTED          Parallel/Map/choice-rule nesting beyond MAX_NESTING_DEPTH,
                                        or JSON nesting beyond MAX_JSON_DEPTH
    WARNING  NO_DOLLAR                  a value looks like a path but its key lacks ".$"
    WARNING  NO_PATH                    a value looks like a path but the field is not *Path
    WARNING  PASS_RESULT_IS_STATIC      a Pass Result uses ".$" keys, which are not evaluated

AWS also emits codes its reference does not list; these were measured against the real
API (floci-io/floci#2670, #2735, #2968) and we use them the same way:

    ERROR    MISSING_TRANSITION_TARGET  also for an unreachable state: 'State "X" is not
                                        reachable.' (skipped when MISSING_END_STATE applies)
    ERROR    INVALID_JSONATA_EXPRESSION a "{% ... %}" expression that does not compile
    ERROR    UNSUPPORTED_JSONATA_EXPRESSION  one that compiles but reads what Step Functions
                                        does not offer: a bare top-level name, `$$`,
                                        `$states.errorOutput` outside a catcher

and ours, where AWS folds the problem into SCHEMA_VALIDATION_FAILED but a precise code
helps (AWS warns that codes may change, so nobody should match on them for correctness):

    ERROR    INVALID_JSON_PATH          a path field or ".$" value is not a valid path
    ERROR    INVALID_INTRINSIC          a malformed or unknown intrinsic function call
    ERROR    DEFINITION_TOO_LARGE       over 1,048,576 characters (the API's limit)
    WARNING  UNKNOWN_ERROR_NAME         a "States.*" name in ErrorEquals AWS does not define
    WARNING  INVALID_INTRINSIC_ARGUMENTS  wrong arity or literal type in an intrinsic call:
                                        AWS accepts it and fails the state at run time

Locations follow AWS's: `/States/<Name>/<Field>`, array elements as `Choices[0]`, nested
machines as `/States/P/Branches[0]/States/<Name>`; an unsupported field is reported at the
object that holds it (as AWS does), its name in the message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, TypedDict

from .errors import AslSyntaxError
from . import intrinsics as _intrinsics
from .intrinsics import is_intrinsic, parse_intrinsic
from .jsonata import parse_jsonata
from .jsonpath import parse_path, parse_reference_path
from .model import json_type

__all__ = [
    "Diagnostic",
    "DiagnosticDict",
    "MAX_DEFINITION_SIZE",
    "MAX_JSON_DEPTH",
    "MAX_NESTING_DEPTH",
    "MAX_STATE_NAME_LENGTH",
    "MachineType",
    "Severity",
    "format_diagnostics",
    "has_errors",
    "validate_definition",
]

Severity = Literal["ERROR", "WARNING"]
MachineType = Literal["STANDARD", "EXPRESS"]

# AWS's codes.
INVALID_JSON_DESCRIPTION: Final = "INVALID_JSON_DESCRIPTION"
MISSING_DESCRIPTION: Final = "MISSING_DESCRIPTION"
SCHEMA_VALIDATION_FAILED: Final = "SCHEMA_VALIDATION_FAILED"
INVALID_RESOURCE: Final = "INVALID_RESOURCE"
MISSING_END_STATE: Final = "MISSING_END_STATE"
DUPLICATE_STATE_NAME: Final = "DUPLICATE_STATE_NAME"
INVALID_STATE_NAME: Final = "INVALID_STATE_NAME"
MISSING_TRANSITION_TARGET: Final = "MISSING_TRANSITION_TARGET"
TOO_DEEPLY_NESTED: Final = "TOO_DEEPLY_NESTED"
NO_DOLLAR: Final = "NO_DOLLAR"
NO_PATH: Final = "NO_PATH"
PASS_RESULT_IS_STATIC: Final = "PASS_RESULT_IS_STATIC"
# Ours.
INVALID_JSON_PATH: Final = "INVALID_JSON_PATH"
INVALID_INTRINSIC: Final = "INVALID_INTRINSIC"
INVALID_JSONATA_EXPRESSION: Final = "INVALID_JSONATA_EXPRESSION"
UNSUPPORTED_JSONATA_EXPRESSION: Final = "UNSUPPORTED_JSONATA_EXPRESSION"
DEFINITION_TOO_LARGE: Final = "DEFINITION_TOO_LARGE"
INVALID_INTRINSIC_ARGUMENTS: Final = "INVALID_INTRINSIC_ARGUMENTS"
UNKNOWN_ERROR_NAME: Final = "UNKNOWN_ERROR_NAME"

# The API's Definition shape: "max": 1048576 (characters).
MAX_DEFINITION_SIZE: Final = 1_048_576
# The API's Name shape, which state names share: 1 to 80 characters.
MAX_STATE_NAME_LENGTH: Final = 80
# AWS reports TOO_DEEPLY_NESTED but does not publish its limit. Nested Parallel/Map scopes and
# nested And/Or/Not choice rules each count one level; 40 is far beyond any real workflow.
MAX_NESTING_DEPTH: Final = 40
# JSON nesting (objects and arrays) we parse at all. Checked before parsing so the answer does
# not depend on the interpreter's recursion limit (jsonata-python raises it to 10,000 on
# import); 40 nested Parallels with payloads stay well below it.
MAX_JSON_DEPTH: Final = 512
# Retrier and Wait integers share AWS's upper bound.
_MAX_INT: Final = 99_999_999


class DiagnosticDict(TypedDict):
    """The wire shape of one diagnostic (as in the API's response)."""

    severity: Severity
    code: str
    message: str
    location: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Diagnostic:
    """One problem found in a definition; ERROR blocks creating the machine, WARNING does not."""

    severity: Severity
    code: str
    message: str
    location: str

    def __post_init__(self) -> None:
        if self.severity not in ("ERROR", "WARNING"):
            raise ValueError(f"severity must be ERROR or WARNING, not {self.severity!r}")

    @property
    def formatted(self) -> DiagnosticDict:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "location": self.location,
        }


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    """True when AWS would answer result=FAIL (warnings alone still give OK)."""
    return any(d.severity == "ERROR" for d in diagnostics)


def format_diagnostics(diagnostics: list[Diagnostic], *, source: str | None = None) -> str:
    """Render diagnostics for a terminal, one per line, then a summary line.

    Args:
        diagnostics: what `validate_definition` returned.
        source: a file name to prefix each line with (the CLI validates several files).

    Returns:
        Lines like ``file.json: ERROR MISSING_TRANSITION_TARGET at /States/A/Next: ...``
        and a last line ``file.json: FAIL (1 error, 0 warnings)`` or ``... OK (...)``.
    """
    prefix = f"{source}: " if source else ""
    lines = [f"{prefix}{d.severity} {d.code} at {d.location}: {d.message}" for d in diagnostics]
    errors = sum(1 for d in diagnostics if d.severity == "ERROR")
    warnings = len(diagnostics) - errors
    verdict = "FAIL" if errors else "OK"
    lines.append(
        f"{prefix}{verdict} ({errors} error{'' if errors == 1 else 's'}, "
        f"{warnings} warning{'' if warnings == 1 else 's'})"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Expression syntax. The JSONPath and intrinsic parsers are the interpreter's own, so that
# what validates is what runs.


def _check_path_syntax(text: str, *, reference: bool = False, number: bool = False) -> str | None:
    """The reason `text` is not a valid path, or None.

    `reference`: a ResultPath (input root, fields and indexes only). `number`: a Map number
    field's ...Path, which AWS also wants to be a Reference Path but lets read variables:
    "$$.Execution.Input.n" is refused with "Value is not a Reference Path".
    """
    try:
        if reference:
            parse_reference_path(text)
        elif number:
            path = parse_path(text)
            if path.root == "context" or not path.definite:
                return "Value is not a Reference Path"
        else:
            parse_path(text)
    except AslSyntaxError as exc:
        return exc.message
    except (ValueError, TypeError, IndexError, KeyError, RecursionError) as exc:
        return str(exc) or type(exc).__name__
    return None


def _check_intrinsic_syntax(text: str) -> tuple[str | None, list[str]]:
    """The reason `text` is not a valid intrinsic call (or None), and its argument problems.

    AWS accepts a call with the wrong arity or a wrong literal and fails it at run time, so
    those come back separately, as warnings (`intrinsics.intrinsic_problems`).
    """
    try:
        call = parse_intrinsic(text)
    except AslSyntaxError as exc:
        return exc.message, []
    except (ValueError, TypeError, IndexError, KeyError, RecursionError) as exc:
        return str(exc) or type(exc).__name__, []
    problems = getattr(_intrinsics, "intrinsic_problems", None)
    try:
        return None, [str(p) for p in problems(call)] if problems is not None else []
    except (ValueError, TypeError, IndexError, KeyError, RecursionError):
        return None, []


def _compile_jsonata(value: str) -> tuple[Any, str | None]:
    """The compiled "{% %}" expression, or None and the reason it does not compile."""
    try:
        return parse_jsonata(value), None
    except AslSyntaxError as exc:
        return None, exc.message
    except RecursionError:
        return None, "the expression is nested too deeply"
    except Exception as exc:  # jsonata-python can raise anything on hostile input
        return None, str(exc) or type(exc).__name__


# AST attributes whose nodes are evaluated in the *same* context as their parent; everything
# else (later path steps, predicates, lambda bodies, group-by, sort, transforms) has its own.
_SAME_CONTEXT: Final = (
    "lhs",
    "rhs",
    "lhs_object",
    "expressions",
    "condition",
    "then",
    "_else",
    "arguments",
)
_AST_CHILDREN: Final = (
    *_SAME_CONTEXT,
    "expression",
    "steps",
    "procedure",
    "body",
    "predicate",
    "stages",
    "rhs_object",
    "rhs_terms",
    "terms",
    "pattern",
    "update",
    "delete",
    "group",
)


def _ast_nodes(value: Any) -> Iterator[Any]:
    """The AST nodes in an attribute value (a node, a list of nodes, or a list of pairs)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, (list, tuple)):
            pending.extend(item)
        elif item is not None and hasattr(item, "type"):
            yield item


def _unsupported_jsonata(compiled: Any, *, error_output_allowed: bool) -> list[str]:
    """What Step Functions refuses in an expression that compiles.

    There is no input context in Step Functions' JSONata: data comes from `$states` and
    variables. AWS refuses a bare name read at the top level ("Reference to 'phone' at the top
    level is not supported."), `$$`, and `$states.errorOutput` outside a catcher.
    """
    problems: list[str] = []
    pending: list[tuple[Any, bool]] = [(node, True) for node in _ast_nodes(getattr(compiled, "ast", None))]
    while pending:
        node, at_root = pending.pop()
        kind, value = getattr(node, "type", None), getattr(node, "value", None)
        if kind == "name" and at_root:
            problems.append(
                f"Reference to '{value}' at the top level is not supported. "
                f"Read the input as $states.input.{value}."
            )
        elif kind == "variable" and value == "$":
            problems.append("'$$' is not supported; use $states.input or $states.context.")
        if kind == "path":
            steps = list(_ast_nodes(getattr(node, "steps", None)))[::-1]
            if (
                not error_output_allowed
                and len(steps) >= 2
                and getattr(steps[0], "type", None) == "variable"
                and getattr(steps[0], "value", None) == "states"
                and getattr(steps[1], "value", None) == "errorOutput"
            ):
                problems.append(
                    "$states.errorOutput is only available in a Catch's Output and Assign."
                )
            for index, step in enumerate(steps):
                pending.append((step, at_root and index == 0))
            for attr in _AST_CHILDREN:
                if attr != "steps":
                    pending.extend((child, False) for child in _ast_nodes(getattr(node, attr, None)))
            continue
        for attr in _AST_CHILDREN:
            same = at_root and attr in _SAME_CONTEXT and kind != "lambda"
            pending.extend((child, same) for child in _ast_nodes(getattr(node, attr, None)))
    return problems


_JSONATA_OPEN: Final = "{%"
_JSONATA_CLOSE: Final = "%}"


def _is_jsonata(value: Any) -> bool:
    """A Step Functions JSONata string: "{% expression %}"."""
    return (
        isinstance(value, str)
        and value.startswith(_JSONATA_OPEN)
        and value.endswith(_JSONATA_CLOSE)
        and len(value) >= 4
    )


# RFC 3339 date-time, as the ASL spec requires for Timestamp ("2016-03-14T01:59:00Z").
_TIMESTAMP_RE: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)


_WAITING_PATTERN_RE: Final = re.compile(r"\.(sync(:\d+)?|waitForTaskToken)$")
_ACTIVITY_RE: Final = re.compile(r"^arn:[^:]+:states:[^:]*:[^:]*:activity:")


def _is_timestamp(value: Any) -> bool:
    if not isinstance(value, str) or not _TIMESTAMP_RE.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)



def _names(fields: frozenset[str] | set[str]) -> str:
    return ", ".join(sorted(fields))


# --------------------------------------------------------------------------------------------
# Field tables (AWS developer guide, "States" pages; "Transforming data with JSONata": JSONata
# states drop InputPath, Parameters, ResultSelector, ResultPath, OutputPath and the *Path
# variants, and gain Arguments, Output and JSONata values in the remaining fields).

_JSONPATH: Final = "JSONPath"
_JSONATA: Final = "JSONata"
_QUERY_LANGUAGES: Final = (_JSONPATH, _JSONATA)

_COMMON: Final = frozenset({"Type", "Comment", "QueryLanguage"})
_FLOW: Final = frozenset({"Next", "End"})
_ERROR_HANDLING: Final = frozenset({"Retry", "Catch"})
_JP_IO: Final = frozenset({"InputPath", "OutputPath"})
_JP_RESULT: Final = frozenset({"Parameters", "ResultSelector", "ResultPath"})
_MAP_COMMON: Final = frozenset(
    {
        "ItemSelector",
        "ItemProcessor",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "MaxConcurrency",
        "ToleratedFailurePercentage",
        "ToleratedFailureCount",
        "Label",
        "Assign",
    }
)

_FIELDS: Final[dict[str, dict[str, frozenset[str]]]] = {
    "Pass": {
        _JSONPATH: _COMMON | _FLOW | _JP_IO | {"Parameters", "Result", "ResultPath", "Assign"},
        _JSONATA: _COMMON | _FLOW | {"Output", "Assign"},
    },
    "Task": {
        _JSONPATH: _COMMON
        | _FLOW
        | _ERROR_HANDLING
        | _JP_IO
        | _JP_RESULT
        | {
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Assign",
        },
        _JSONATA: _COMMON
        | _FLOW
        | _ERROR_HANDLING
        | {
            "Resource",
            "Arguments",
            "Output",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "Credentials",
            "Assign",
        },
    },
    "Choice": {
        _JSONPATH: _COMMON | _JP_IO | {"Choices", "Default", "Assign"},
        _JSONATA: _COMMON | {"Choices", "Default", "Output", "Assign"},
    },
    "Wait": {
        _JSONPATH: _COMMON
        | _FLOW
        | _JP_IO
        | {"Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Assign"},
        _JSONATA: _COMMON | _FLOW | {"Seconds", "Timestamp", "Output", "Assign"},
    },
    "Succeed": {
        _JSONPATH: _COMMON | _JP_IO,
        _JSONATA: _COMMON | {"Output"},
    },
    "Fail": {
        _JSONPATH: _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
        _JSONATA: _COMMON | {"Error", "Cause"},
    },
    "Parallel": {
        _JSONPATH: _COMMON | _FLOW | _ERROR_HANDLING | _JP_IO | _JP_RESULT | {"Branches", "Assign"},
        _JSONATA: _COMMON | _FLOW | _ERROR_HANDLING | {"Branches", "Arguments", "Output", "Assign"},
    },
    "Map": {
        _JSONPATH: _COMMON
        | _FLOW
        | _ERROR_HANDLING
        | _JP_IO
        | _JP_RESULT
        | _MAP_COMMON
        | {
            "Iterator",
            "ItemsPath",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCountPath",
        },
        _JSONATA: _COMMON | _FLOW | _ERROR_HANDLING | _MAP_COMMON | {"Items", "Output"},
    },
}
_STATE_TYPES: Final = tuple(_FIELDS)
# States that must say where to go next: exactly one of Next or End.
_NEEDS_FLOW: Final = frozenset({"Pass", "Task", "Wait", "Parallel", "Map"})
_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "Task": ("Resource",),
    "Choice": ("Choices",),
    "Parallel": ("Branches",),
}
# Pairs of which at most one may appear ("A or A-Path, not both").
_EXCLUSIVE: Final = (
    ("TimeoutSeconds", "TimeoutSecondsPath"),
    ("HeartbeatSeconds", "HeartbeatSecondsPath"),
    ("Error", "ErrorPath"),
    ("Cause", "CausePath"),
    ("Items", "ItemsPath"),
    ("ItemProcessor", "Iterator"),
    ("ItemSelector", "Parameters"),
    ("MaxConcurrency", "MaxConcurrencyPath"),
    ("ToleratedFailureCount", "ToleratedFailureCountPath"),
    ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
)

_TOP_FIELDS: Final = frozenset(
    {"Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage"}
)
_BRANCH_FIELDS: Final = frozenset({"Comment", "StartAt", "States"})
_PROCESSOR_FIELDS: Final = frozenset({"Comment", "StartAt", "States", "ProcessorConfig"})

_RETRIER_FIELDS: Final = frozenset(
    {
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    }
)
_CATCHER_FIELDS: Final[dict[str, frozenset[str]]] = {
    _JSONPATH: frozenset({"ErrorEquals", "Next", "ResultPath", "Comment", "Assign"}),
    _JSONATA: frozenset({"ErrorEquals", "Next", "Output", "Comment", "Assign"}),
}
_KNOWN_ERRORS: Final = frozenset(
    {
        "States.ALL",
        "States.Runtime",
        "States.Timeout",
        "States.HeartbeatTimeout",
        "States.TaskFailed",
        "States.Permissions",
        "States.ResultPathMatchFailure",
        "States.ParameterPathFailure",
        "States.QueryEvaluationError",
        "States.BranchFailed",
        "States.NoChoiceMatched",
        "States.IntrinsicFailure",
        "States.ExceedToleratedFailureThreshold",
        "States.ItemReaderFailed",
        "States.ResultWriterFailed",
        "States.DataLimitExceeded",
        "States.Http.Socket",
    }
)

# Choice rule comparison operators and the type of value each takes ("path": a JSONPath).
_COMPARATORS: Final[dict[str, str]] = {
    **{f"String{op}": "string" for op in ("Equals", "LessThan", "GreaterThan")},
    **{f"String{op}": "string" for op in ("LessThanEquals", "GreaterThanEquals")},
    "StringMatches": "string",
    **{f"Numeric{op}": "number" for op in ("Equals", "LessThan", "GreaterThan")},
    **{f"Numeric{op}": "number" for op in ("LessThanEquals", "GreaterThanEquals")},
    "BooleanEquals": "boolean",
    **{f"Timestamp{op}": "timestamp" for op in ("Equals", "LessThan", "GreaterThan")},
    **{f"Timestamp{op}": "timestamp" for op in ("LessThanEquals", "GreaterThanEquals")},
    **{
        f"Is{kind}": "boolean"
        for kind in ("Null", "Present", "Numeric", "String", "Boolean", "Timestamp")
    },
}
for _op in [op for op in _COMPARATORS if not op.startswith(("Is", "StringMatches"))]:
    _COMPARATORS[f"{_op}Path"] = "path"
_LOGICAL: Final = ("And", "Or", "Not")
_RULE_TOP_FIELDS: Final = frozenset({"Next", "Comment", "Assign"})
_JSONATA_RULE_FIELDS: Final = frozenset({"Condition", "Next", "Comment", "Assign", "Output"})

_PROCESSOR_MODES: Final = ("INLINE", "DISTRIBUTED")
_EXECUTION_TYPES: Final = ("STANDARD", "EXPRESS")
_ITEM_BATCHER_FIELDS: Final = frozenset(
    {
        "MaxItemsPerBatch",
        "MaxItemsPerBatchPath",
        "MaxInputBytesPerBatch",
        "MaxInputBytesPerBatchPath",
        "BatchInput",
    }
)
_ITEM_READER_FIELDS: Final = frozenset({"Resource", "ReaderConfig", "Parameters", "Arguments"})
_RESULT_WRITER_FIELDS: Final = frozenset({"Resource", "Parameters", "Arguments", "WriterConfig"})
_DISTRIBUTED_ONLY: Final = ("ItemReader", "ItemBatcher", "ResultWriter", "Label")


# --------------------------------------------------------------------------------------------
# Parsing: duplicate keys survive as a list on the object (json drops them otherwise).


class _Object(dict[str, Any]):
    """A JSON object that remembers keys the text gave more than once."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _duplicates(obj: dict[str, Any]) -> list[str]:
    return list(getattr(obj, "duplicates", ()))


# --------------------------------------------------------------------------------------------


def validate_definition(
    definition: Any, *, machine_type: MachineType = "STANDARD"
) -> list[Diagnostic]:
    """Validate an Amazon States Language definition the way CreateStateMachine would.

    Args:
        definition: the definition as JSON text (str or bytes) or as parsed JSON (a dict).
            Anything else is reported, never raised.
        machine_type: STANDARD or EXPRESS (the API's `type`); EXPRESS refuses the `.sync`
            and `.waitForTaskToken` integration patterns and activities.

    Returns:
        Every problem found, errors and warnings, in document order where possible. An
        empty list means the definition is valid. Use `has_errors` for AWS's OK/FAIL.

    Raises:
        ValueError: `machine_type` is neither STANDARD nor EXPRESS (a caller bug).
    """
    if machine_type not in ("STANDARD", "EXPRESS"):
        raise ValueError(f"machine_type must be STANDARD or EXPRESS, not {machine_type!r}")
    text = _definition_text(definition)
    if isinstance(text, Diagnostic):
        return [text]
    if not text.strip():
        return [_diag("ERROR", MISSING_DESCRIPTION, "/", "The definition is empty.")]
    if len(text) > MAX_DEFINITION_SIZE:
        return [
            _diag(
                "ERROR",
                DEFINITION_TOO_LARGE,
                "/",
                f"The definition is {len(text)} characters long; the maximum is "
                f"{MAX_DEFINITION_SIZE}. Move large constants into the execution input.",
            )
        ]
    if len(text) > 2 * MAX_JSON_DEPTH and _json_depth(text) > MAX_JSON_DEPTH:
        return [_too_deep("/")]
    try:
        root = json.loads(text, object_pairs_hook=_object_pairs, parse_constant=_reject_constant)
    except RecursionError:
        return [_too_deep("/")]
    except ValueError as exc:  # JSONDecodeError is a ValueError
        return [_diag("ERROR", INVALID_JSON_DESCRIPTION, "/", f"The definition is not JSON: {exc}")]
    validator = _Validator(express=machine_type == "EXPRESS")
    try:
        validator.top(root)
    except RecursionError:
        validator.diagnostics.append(_too_deep("/"))
    return validator.diagnostics


_JSON_STRING_RE: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET_RE: Final = re.compile(r"[^\[\]{}]+")


def _json_depth(text: str) -> int:
    """The deepest object/array nesting in JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    for char in _NOT_BRACKET_RE.sub("", _JSON_STRING_RE.sub("", text)):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _definition_text(definition: Any) -> str | Diagnostic:
    """The definition as JSON text; parsed JSON goes through text too, so there is one path."""
    if definition is None:
        return _diag("ERROR", MISSING_DESCRIPTION, "/", "The definition is null.")
    if isinstance(definition, (bytes, bytearray)):
        try:
            return bytes(definition).decode("utf-8")
        except UnicodeDecodeError as exc:
            return _diag(
                "ERROR", INVALID_JSON_DESCRIPTION, "/", f"The definition is not UTF-8: {exc}"
            )
    if isinstance(definition, str):
        return definition
    try:
        return json.dumps(definition, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        return _too_deep("/")
    except (TypeError, ValueError) as exc:
        return _diag(
            "ERROR",
            INVALID_JSON_DESCRIPTION,
            "/",
            f"The definition is not JSON-serialisable: {exc}",
        )


def _diag(severity: Severity, code: str, location: str, message: str) -> Diagnostic:
    return Diagnostic(severity=severity, code=code, message=message, location=location)


def _too_deep(location: str) -> Diagnostic:
    return _diag(
        "ERROR",
        TOO_DEEPLY_NESTED,
        location,
        f"The definition is nested too deeply (more than {MAX_NESTING_DEPTH} levels of "
        f"Parallel/Map/choice rules, or JSON deeper than {MAX_JSON_DEPTH}). Flatten it or "
        "split it into nested executions.",
    )


class _Validator:
    """Walks one definition and collects diagnostics; one instance per validation."""

    def __init__(self, *, express: bool) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._express = express
        # Every state name in the whole machine (names are unique across nested scopes).
        self._seen_names: dict[str, str] = {}
        # States inside Parallel branches and Map processors take the *machine's* language,
        # not their parent state's (measured against AWS: floci-io/floci#2968).
        self._top_language = _JSONPATH

    # -- reporting ---------------------------------------------------------------------------

    def error(self, code: str, location: str, message: str) -> None:
        self.diagnostics.append(_diag("ERROR", code, location, message))

    def warn(self, code: str, location: str, message: str) -> None:
        self.diagnostics.append(_diag("WARNING", code, location, message))

    def schema(self, location: str, message: str) -> None:
        self.error(SCHEMA_VALIDATION_FAILED, location, message)

    # -- machines ----------------------------------------------------------------------------

    def top(self, root: Any) -> None:
        if root is None:
            self.error(MISSING_DESCRIPTION, "/", "The definition is null.")
            return
        if not isinstance(root, dict):
            self.schema(
                "/",
                f"The definition must be a JSON object with StartAt and States, "
                f"not {json_type(root)}.",
            )
            return
        query_language = _JSONPATH
        if "QueryLanguage" in root:
            query_language = self.query_language("/QueryLanguage", root["QueryLanguage"])
        self._top_language = query_language
        if "TimeoutSeconds" in root:
            self.integer("/TimeoutSeconds", root["TimeoutSeconds"], 1, _MAX_INT, _JSONPATH)
        if "Version" in root and not isinstance(root["Version"], str):
            self.schema("/Version", "Version must be a string, such as \"1.0\".")
        self.machine(root, "", _TOP_FIELDS, query_language, 0)

    def machine(
        self,
        machine: Any,
        prefix: str,
        allowed: frozenset[str],
        query_language: str,
        depth: int,
    ) -> None:
        """A state machine, a Parallel branch, or a Map's ItemProcessor/Iterator."""
        location = prefix or "/"
        if depth > MAX_NESTING_DEPTH:
            self.diagnostics.append(_too_deep(location))
            return
        if not isinstance(machine, dict):
            self.schema(
                location,
                f"Expected an object with StartAt and States, not {json_type(machine)}.",
            )
            return
        self.fields(prefix, machine, allowed, "here")
        if "Comment" in machine and not isinstance(machine["Comment"], str):
            self.schema(f"{prefix}/Comment", "Comment must be a string.")
        missing = [name for name in ("StartAt", "States") if name not in machine]
        if missing:
            self.schema(location, f"These fields are required: [{', '.join(missing)}]")
        start_at = machine.get("StartAt")
        if "StartAt" in machine and not isinstance(start_at, str):
            self.schema(f"{prefix}/StartAt", "StartAt must be a string naming a state.")
            start_at = None
        states = machine.get("States")
        if "States" not in machine:
            return
        if not isinstance(states, dict):
            self.schema(f"{prefix}/States", "States must be an object of named states.")
            return
        if not states:
            self.schema(f"{prefix}/States", "States must contain at least one state.")
            return
        for name in _duplicates(states):
            self.error(
                DUPLICATE_STATE_NAME,
                f"{prefix}/States/{name}",
                f"The state name '{name}' appears more than once; state names must be unique.",
            )
        edges: dict[str, list[str]] = {}
        terminal = False
        for name, state in states.items():
            state_location = f"{prefix}/States/{name}"
            self.state_name(name, state_location)
            transitions: list[tuple[str, str]] = []
            terminal |= self.state(state, state_location, query_language, depth, transitions)
            edges[name] = []
            for target, target_location in transitions:
                if target in states:
                    edges[name].append(target)
                else:
                    self.error(
                        MISSING_TRANSITION_TARGET,
                        target_location,
                        f"Missing 'Next' target: {target}",
                    )
        if isinstance(start_at, str):
            if start_at not in states:
                self.error(
                    MISSING_TRANSITION_TARGET, f"{prefix}/StartAt", f"Missing 'Next' target: {start_at}"
                )
        if not terminal:
            # AWS: "Workflow has no terminal state"; it then skips the reachability walk.
            self.error(
                MISSING_END_STATE,
                f"{prefix}/States",
                "Workflow has no terminal state: add a Succeed or Fail state, or "
                "\"End\": true on a state.",
            )
        elif isinstance(start_at, str) and start_at in states:
            self.reachability(start_at, edges, prefix)

    def reachability(self, start_at: str, edges: dict[str, list[str]], prefix: str) -> None:
        reached = {start_at}
        pending = [start_at]
        while pending:
            for target in edges.get(pending.pop(), ()):
                if target not in reached:
                    reached.add(target)
                    pending.append(target)
        for name in edges:
            if name not in reached:
                self.error(
                    MISSING_TRANSITION_TARGET,
                    f"{prefix}/States/{name}",
                    f'State "{name}" is not reachable.',
                )

    def query_language(self, loc: str, value: Any) -> str:
        """AWS reads exactly "JSONPath" as JSONPath and any other value as JSONata."""
        if value not in _QUERY_LANGUAGES:
            self.schema(loc, f"QueryLanguage must be 'JSONPath' or 'JSONata', not {value!r}"[:300])
        return _JSONPATH if value == _JSONPATH else _JSONATA

    def state_name(self, name: str, location: str) -> None:
        if not 1 <= len(name) <= MAX_STATE_NAME_LENGTH:
            self.error(
                INVALID_STATE_NAME,
                location,
                f"State names must be 1 to {MAX_STATE_NAME_LENGTH} characters long; "
                f"this one has {len(name)}.",
            )
        first = self._seen_names.get(name)
        if first is None:
            self._seen_names[name] = location
        elif first != location:
            self.error(
                DUPLICATE_STATE_NAME,
                location,
                f"The state name '{name}' is already used at {first}; state names must be "
                "unique across the whole state machine, branches and Map processors included.",
            )

    # -- states ------------------------------------------------------------------------------

    def state(
        self,
        state: Any,
        loc: str,
        parent_language: str,
        depth: int,
        transitions: list[tuple[str, str]],
    ) -> bool:
        """Validate one state; collect its transitions; return whether it is terminal."""
        if not isinstance(state, dict):
            self.schema(loc, f"A state must be an object, not {json_type(state)}.")
            return False
        state_type = state.get("Type")
        if not isinstance(state_type, str) or state_type not in _FIELDS:
            if "Type" not in state:
                self.schema(loc, "These fields are required: [Type]")
            else:
                self.schema(
                    f"{loc}/Type",
                    f"Type must be one of {', '.join(_STATE_TYPES)}, not {state_type!r}"[:300],
                )
            # Follow its Next and End anyway, so one typo does not also report the states
            # after it as unreachable or the machine as having no end.
            if isinstance(state.get("Next"), str):
                transitions.append((state["Next"], f"{loc}/Next"))
            return state.get("End") is True
        ql = parent_language
        if "QueryLanguage" in state:
            ql = self.query_language(f"{loc}/QueryLanguage", state["QueryLanguage"])
            if ql == _JSONPATH and parent_language == _JSONATA:
                # AWS guide: "You cannot revert a top-level JSONata-based state machine to a
                # mix of JSONata and JSONPath states." (AWS's own wording below.)
                self.schema(
                    loc,
                    "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole "
                    "state machine",
                )
                ql = _JSONATA
        self.state_fields(state, state_type, ql, loc)
        for name in ("Comment",):
            if name in state and not isinstance(state[name], str):
                self.schema(f"{loc}/{name}", f"{name} must be a string.")

        # Flow: Next or End on the states that continue, neither on the others.
        terminal = state_type in ("Succeed", "Fail")
        if state_type in _NEEDS_FLOW:
            has_next, has_end = "Next" in state, "End" in state
            if has_next and has_end:
                self.schema(loc, "Next and End are mutually exclusive; keep one of them.")
            elif not has_next and not has_end:
                self.schema(
                    loc, "A state must have either \"Next\" (a state name) or \"End\": true."
                )
            if has_next:
                self.transition(state["Next"], f"{loc}/Next", transitions)
            if has_end:
                if state["End"] is True:
                    terminal = True
                else:
                    self.schema(
                        f"{loc}/End", "End must be true (omit it and use Next to continue)."
                    )

        for pair in _EXCLUSIVE:
            self.exclusive(state, loc, pair)

        self.io_fields(state, state_type, ql, loc)
        check = getattr(self, f"state_{state_type.lower()}")
        check(state, ql, loc, depth, transitions)
        if "Retry" in state:
            self.retriers(state["Retry"], f"{loc}/Retry")
        if "Catch" in state:
            self.catchers(state["Catch"], f"{loc}/Catch", ql, transitions)
        return terminal

    def exclusive(self, obj: dict[str, Any], loc: str, names: tuple[str, ...]) -> None:
        """At most one of `names` (AWS's wording)."""
        if sum(1 for name in names if name in obj) > 1:
            self.schema(
                loc, f"There should only be one of the following fields: [{', '.join(names)}]"
            )

    def state_fields(self, state: dict[str, Any], state_type: str, ql: str, loc: str) -> None:
        allowed = _FIELDS[state_type][ql]
        other = _JSONATA if ql == _JSONPATH else _JSONPATH
        for name in state:
            if name in allowed:
                continue
            # AWS reports an unsupported field at the object holding it, in these words.
            if name in _FIELDS[state_type][other]:
                message = (
                    f"The QueryLanguage is set to '{ql}', but field '{name}' is only "
                    f"supported for the '{other}' QueryLanguage"
                )
            else:
                message = (
                    f"Field '{name}' is not supported (a {state_type} state accepts: "
                    f"{_names(allowed)})"
                )
            self.schema(loc, message)
        for name in _duplicates(state):
            self.schema(f"{loc}/{name}", f"The field '{name}' appears more than once.")
        missing = [name for name in _REQUIRED.get(state_type, ()) if name not in state]
        if missing:
            self.schema(loc, f"These fields are required: [{', '.join(missing)}]")

    def fields(self, prefix: str, obj: dict[str, Any], allowed: frozenset[str], what: str) -> None:
        for name in obj:
            if name not in allowed:
                self.schema(
                    prefix or "/",
                    f"Field '{name}' is not supported {what} (allowed: {_names(allowed)})",
                )
        for name in _duplicates(obj):
            self.schema(f"{prefix}/{name}", f"The field '{name}' appears more than once.")

    def transition(self, target: Any, loc: str, transitions: list[tuple[str, str]]) -> None:
        if isinstance(target, str):
            transitions.append((target, loc))
        else:
            self.schema(loc, f"Expected a state name (string), not {json_type(target)}.")

    # -- input/output processing common to several state types -------------------------------

    def io_fields(self, state: dict[str, Any], state_type: str, ql: str, loc: str) -> None:
        if ql == _JSONPATH:
            for name in ("InputPath", "OutputPath"):
                if name in state and state[name] is not None:
                    self.path(f"{loc}/{name}", state[name])
            if "ResultPath" in state and state["ResultPath"] is not None:
                self.path(f"{loc}/ResultPath", state["ResultPath"], reference=True)
            for name in ("Parameters", "ResultSelector"):
                if name in state:
                    self.payload_template(f"{loc}/{name}", state[name], require_object=True)
            if "Assign" in state:
                self.payload_template(f"{loc}/Assign", state["Assign"], require_object=True)
            if state_type == "Pass" and "Result" in state:
                self.static_result(f"{loc}/Result", state["Result"])
        else:
            if "Arguments" in state:
                value = state["Arguments"]
                if not isinstance(value, dict) and not _is_jsonata(value):
                    self.schema(
                        f"{loc}/Arguments",
                        "Arguments must be an object or a \"{% expression %}\" string, "
                        f"not {json_type(value)}.",
                    )
                self.jsonata_values(f"{loc}/Arguments", value)
            if "Output" in state:
                self.jsonata_values(f"{loc}/Output", state["Output"])
            if "Assign" in state:
                if isinstance(state["Assign"], dict):
                    self.jsonata_values(f"{loc}/Assign", state["Assign"])
                else:
                    self.schema(f"{loc}/Assign", "Assign must be an object of variable names.")

    def path(self, loc: str, value: Any, *, reference: bool = False, number: bool = False) -> None:
        """A field that holds a JSONPath (InputPath, SecondsPath, Variable, ...)."""
        if not isinstance(value, str):
            self.schema(loc, f"Expected a JSONPath string, not {json_type(value)}.")
            return
        reason = _check_path_syntax(value, reference=reference, number=number)
        if reason is not None:
            self.error(INVALID_JSON_PATH, loc, f"'{value}' is not a valid JSONPath: {reason}")

    def path_or_intrinsic(self, loc: str, value: Any) -> None:
        """A ".$" value (or ErrorPath/CausePath): a path or an intrinsic function call."""
        if not isinstance(value, str):
            self.schema(
                loc,
                f"A '.$' field takes a JSONPath or intrinsic function string, "
                f"not {json_type(value)}.",
            )
            return
        if value.startswith("States."):
            reason, problems = _check_intrinsic_syntax(value)
            if reason is not None:
                self.error(
                    INVALID_INTRINSIC,
                    loc,
                    f"'{value[:200]}' is not a valid intrinsic function call: {reason}",
                )
            for problem in problems:
                self.warn(
                    INVALID_INTRINSIC_ARGUMENTS,
                    loc,
                    f"{problem}; AWS accepts the definition but the call fails at run time "
                    "with States.Runtime.",
                )
            return
        reason = _check_path_syntax(value)
        if reason is not None:
            self.error(
                INVALID_JSON_PATH,
                loc,
                f"'{value[:200]}' is neither a valid JSONPath nor an intrinsic function: {reason}",
            )

    def payload_template(self, loc: str, value: Any, *, require_object: bool) -> None:
        """Parameters, ResultSelector, ItemSelector, Assign in JSONPath mode.

        ASL spec, "Parameters": "if the field name ends with '.$', its value is a path [or an
        intrinsic function]"; other values are taken literally, so a literal that looks like
        a path is probably a forgotten ".$" (AWS's NO_DOLLAR warning).
        """
        if require_object and not isinstance(value, dict):
            self.schema(loc, f"Expected an object, not {json_type(value)}.")
            return
        for item_loc, key, item in _walk(loc, value):
            if key is not None and key.endswith(".$"):
                self.path_or_intrinsic(item_loc, item)
            elif isinstance(item, str) and (
                item == "$" or item.startswith(("$.", "$$.", "$[")) or is_intrinsic(item)
            ):
                self.warn(
                    NO_DOLLAR,
                    item_loc,
                    f"The value '{item[:100]}' looks like a JSONPath or intrinsic function but "
                    "is a literal string; end the field name with '.$' to evaluate it.",
                )

    def static_result(self, loc: str, value: Any) -> None:
        for item_loc, key, _item in _walk(loc, value):
            if key is not None and key.endswith(".$"):
                self.warn(
                    PASS_RESULT_IS_STATIC,
                    item_loc,
                    "Result is static: a '.$' field is not evaluated here; use Parameters "
                    "to select values from the input.",
                )

    def jsonata_values(self, loc: str, value: Any, *, in_catcher: bool = False) -> None:
        """Every "{% %}" string anywhere inside a JSONata-mode field must compile."""
        for item_loc, _key, item in _walk(loc, value):
            if isinstance(item, str):
                self.jsonata_string(item_loc, item, in_catcher=in_catcher)

    def jsonata_string(self, loc: str, value: str, *, in_catcher: bool = False) -> None:
        if not _is_jsonata(value):
            return
        compiled, reason = _compile_jsonata(value)
        if reason is not None:
            self.error(
                INVALID_JSONATA_EXPRESSION,
                loc,
                f"'{value[:200]}' is not a valid JSONata expression: {reason}",
            )
            return
        for problem in _unsupported_jsonata(compiled, error_output_allowed=in_catcher):
            self.error(UNSUPPORTED_JSONATA_EXPRESSION, loc, problem)

    def integer(
        self, loc: str, value: Any, minimum: int, maximum: int, ql: str, *, what: str = "integer"
    ) -> int | None:
        """An integer field; in JSONata mode a "{% %}" string is accepted instead."""
        if ql == _JSONATA and isinstance(value, str) and _is_jsonata(value):
            self.jsonata_string(loc, value)
            return None
        if not _is_int(value) or not minimum <= value <= maximum:
            alternative = " or a \"{% expression %}\"" if ql == _JSONATA else ""
            self.schema(
                loc,
                f"Expected an {what} from {minimum} to {maximum}{alternative}, got {value!r}"[:300]
                + ".",
            )
            return None
        return int(value)

    def string_or_jsonata(self, loc: str, value: Any, ql: str) -> None:
        if not isinstance(value, str):
            self.schema(loc, f"Expected a string, not {json_type(value)}.")
        elif ql == _JSONATA:
            self.jsonata_string(loc, value)

    # -- per type ----------------------------------------------------------------------------

    def state_pass(self, state: dict[str, Any], ql: str, loc: str, depth: int, t: Any) -> None:
        pass  # Result is any JSON; Parameters and Output are checked by io_fields.

    def state_succeed(self, state: dict[str, Any], ql: str, loc: str, depth: int, t: Any) -> None:
        pass

    def state_task(self, state: dict[str, Any], ql: str, loc: str, depth: int, t: Any) -> None:
        if "Resource" in state:
            resource = state["Resource"]
            if not isinstance(resource, str) or not resource.startswith("arn:"):
                self.error(
                    INVALID_RESOURCE,
                    f"{loc}/Resource",
                    f"Resource must be an ARN string such as "
                    f"'arn:aws:lambda:us-east-1:123456789012:function:NAME', got {resource!r}"[
                        :300
                    ],
                )
        if self._express and isinstance(state.get("Resource"), str):
            resource = state["Resource"]
            # AWS guide: "Express Workflows only support Request Response integrations"
            # (no .sync, no .waitForTaskToken) and no activities.
            if _WAITING_PATTERN_RE.search(resource) or _ACTIVITY_RE.match(resource):
                self.schema(
                    f"{loc}/Resource",
                    f"'{resource[:200]}' waits for a job, a callback or an activity; EXPRESS "
                    "state machines only support Request Response integrations. Use a "
                    "STANDARD state machine.",
                )
        timeout = heartbeat = None
        if "TimeoutSeconds" in state:
            timeout = self.integer(f"{loc}/TimeoutSeconds", state["TimeoutSeconds"], 1, _MAX_INT, ql)
        if "HeartbeatSeconds" in state:
            heartbeat = self.integer(
                f"{loc}/HeartbeatSeconds", state["HeartbeatSeconds"], 1, _MAX_INT, ql
            )
        for name in ("TimeoutSecondsPath", "HeartbeatSecondsPath"):
            if name in state:
                self.path(f"{loc}/{name}", state[name])
        if timeout is not None and heartbeat is not None and heartbeat >= timeout:
            self.schema(
                f"{loc}/HeartbeatSeconds",
                f"HeartbeatSeconds ({heartbeat}) must be smaller than TimeoutSeconds ({timeout}).",
            )
        if "Credentials" in state and not isinstance(state["Credentials"], dict):
            self.schema(f"{loc}/Credentials", "Credentials must be an object.")

    def state_wait(self, state: dict[str, Any], ql: str, loc: str, depth: int, t: Any) -> None:
        given = [n for n in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if n in state]
        if len(given) != 1:
            choices = "Seconds or Timestamp" if ql == _JSONATA else (
                "Seconds, Timestamp, SecondsPath or TimestampPath"
            )
            self.schema(
                loc,
                f"A Wait state needs exactly one of {choices}"
                + (f"; it has {', '.join(given)}." if given else "."),
            )
        if "Seconds" in state:
            self.integer(f"{loc}/Seconds", state["Seconds"], 0, _MAX_INT, ql)
        if "Timestamp" in state:
            value = state["Timestamp"]
            if ql == _JSONATA and _is_jsonata(value):
                self.jsonata_string(f"{loc}/Timestamp", value)
            elif not _is_timestamp(value):
                self.schema(
                    f"{loc}/Timestamp",
                    f"Timestamp must be an RFC 3339 date-time such as '2016-03-14T01:59:00Z', "
                    f"got {value!r}"[:300],
                )
        for name in ("SecondsPath", "TimestampPath"):
            if name in state:
                self.path(f"{loc}/{name}", state[name])

    def state_fail(self, state: dict[str, Any], ql: str, loc: str, depth: int, t: Any) -> None:
        for name in ("Error", "Cause"):
            if name not in state:
                continue
            value = state[name]
            self.string_or_jsonata(f"{loc}/{name}", value, ql)
            if ql == _JSONPATH and isinstance(value, str) and value.startswith(("$.", "$$.")):
                self.warn(
                    NO_PATH,
                    f"{loc}/{name}",
                    f"'{value[:100]}' looks like a path but {name} is literal; "
                    f"use {name}Path to read it from the input.",
                )
        for name in ("ErrorPath", "CausePath"):
            if name in state:
                self.path_or_intrinsic(f"{loc}/{name}", state[name])

    def state_choice(
        self,
        state: dict[str, Any],
        ql: str,
        loc: str,
        depth: int,
        transitions: list[tuple[str, str]],
    ) -> None:
        if "Default" in state:
            self.transition(state["Default"], f"{loc}/Default", transitions)
        if "Choices" not in state:
            return
        choices = state["Choices"]
        if not isinstance(choices, list) or not choices:
            self.schema(f"{loc}/Choices", "Choices must be a non-empty array of choice rules.")
            return
        for index, rule in enumerate(choices):
            rule_loc = f"{loc}/Choices[{index}]"
            if ql == _JSONATA:
                self.jsonata_rule(rule, rule_loc, transitions)
            else:
                self.rule(rule, rule_loc, depth, transitions, top=True)

    def jsonata_rule(self, rule: Any, loc: str, transitions: list[tuple[str, str]]) -> None:
        if not isinstance(rule, dict):
            self.schema(loc, f"A choice rule must be an object, not {json_type(rule)}.")
            return
        for name in rule:
            if name not in _JSONATA_RULE_FIELDS:
                hint = (
                    " In JSONata mode a rule is a Condition: \"{% expression %}\"."
                    if name == "Variable" or name in _COMPARATORS or name in _LOGICAL
                    else ""
                )
                self.schema(
                    f"{loc}/{name}",
                    f"The field '{name}' is not supported in a JSONata choice rule.{hint}",
                )
        missing = [name for name in ("Condition", "Next") if name not in rule]
        if missing:
            self.schema(loc, f"These fields are required: [{', '.join(missing)}]")
        if "Condition" in rule:
            condition = rule["Condition"]
            if isinstance(condition, bool):
                pass
            elif _is_jsonata(condition):
                self.jsonata_string(f"{loc}/Condition", condition)
            else:
                self.schema(
                    f"{loc}/Condition",
                    "Condition must be a boolean or a \"{% expression %}\" string.",
                )
        if "Next" in rule:
            self.transition(rule["Next"], f"{loc}/Next", transitions)
        if "Output" in rule:
            self.jsonata_values(f"{loc}/Output", rule["Output"])
        if "Assign" in rule:
            if isinstance(rule["Assign"], dict):
                self.jsonata_values(f"{loc}/Assign", rule["Assign"])
            else:
                self.schema(f"{loc}/Assign", "Assign must be an object of variable names.")

    def rule(
        self,
        rule: Any,
        loc: str,
        depth: int,
        transitions: list[tuple[str, str]],
        *,
        top: bool,
    ) -> None:
        """A JSONPath choice rule (ASL spec, "Choice Rules")."""
        if depth > MAX_NESTING_DEPTH:
            self.diagnostics.append(_too_deep(loc))
            return
        if not isinstance(rule, dict):
            self.schema(loc, f"A choice rule must be an object, not {json_type(rule)}.")
            return
        operators = [name for name in rule if name in _COMPARATORS or name in _LOGICAL]
        allowed = set(_COMPARATORS) | set(_LOGICAL) | {"Variable", "Comment"}
        if top:
            allowed |= _RULE_TOP_FIELDS
        for name in rule:
            if name not in allowed:
                if name in ("Next", "Assign"):
                    message = f"'{name}' is only allowed on a top-level choice rule."
                elif name == "Condition":
                    message = "Condition is a JSONata field; set \"QueryLanguage\": \"JSONata\"."
                else:
                    message = f"The field '{name}' is not supported in a choice rule."
                self.schema(f"{loc}/{name}", message)
        if top:
            if "Next" in rule:
                self.transition(rule["Next"], f"{loc}/Next", transitions)
            else:
                self.schema(loc, "These fields are required: [Next]")
            if "Assign" in rule:
                self.payload_template(f"{loc}/Assign", rule["Assign"], require_object=True)
        if len(operators) != 1:
            self.schema(
                loc,
                "A choice rule needs exactly one comparison operator (such as StringEquals, "
                "NumericGreaterThan, IsPresent, And, Or, Not)"
                + (f"; it has {', '.join(operators)}." if operators else "; it has none."),
            )
            if not operators:
                return
        for operator in operators:
            value = rule[operator]
            op_loc = f"{loc}/{operator}"
            if operator in ("And", "Or"):
                if "Variable" in rule:
                    self.schema(f"{loc}/Variable", f"{operator} takes no Variable.")
                if not isinstance(value, list) or not value:
                    self.schema(op_loc, f"{operator} must be a non-empty array of choice rules.")
                    continue
                for index, sub in enumerate(value):
                    self.rule(sub, f"{op_loc}[{index}]", depth + 1, transitions, top=False)
            elif operator == "Not":
                if "Variable" in rule:
                    self.schema(f"{loc}/Variable", "Not takes no Variable.")
                if not isinstance(value, dict):
                    self.schema(op_loc, "Not must be a single choice rule object.")
                    continue
                self.rule(value, op_loc, depth + 1, transitions, top=False)
            else:
                if "Variable" not in rule:
                    self.schema(loc, f"These fields are required: [Variable] (for {operator})")
                else:
                    self.path(f"{loc}/Variable", rule["Variable"])
                self.comparison_value(operator, value, op_loc)

    def comparison_value(self, operator: str, value: Any, loc: str) -> None:
        kind = _COMPARATORS[operator]
        if kind == "path":
            self.path(loc, value)
        elif kind == "string" and not isinstance(value, str):
            self.schema(loc, f"{operator} takes a string, not {json_type(value)}.")
        elif kind == "number" and not _is_number(value):
            self.schema(loc, f"{operator} takes a number, not {json_type(value)}.")
        elif kind == "boolean" and not isinstance(value, bool):
            self.schema(loc, f"{operator} takes true or false, not {json_type(value)}.")
        elif kind == "timestamp" and not _is_timestamp(value):
            self.schema(
                loc,
                f"{operator} takes an RFC 3339 timestamp such as '2016-03-14T01:59:00Z', "
                f"got {value!r}"[:300],
            )

    def state_parallel(self, state: dict[str, Any], ql: str, loc: str, depth: int, t: Any) -> None:
        if "Branches" not in state:
            return
        branches = state["Branches"]
        if not isinstance(branches, list) or not branches:
            self.schema(f"{loc}/Branches", "Branches must be a non-empty array of state machines.")
            return
        for index, branch in enumerate(branches):
            self.machine(
                branch, f"{loc}/Branches[{index}]", _BRANCH_FIELDS, self._top_language, depth + 1
            )

    def state_map(self, state: dict[str, Any], ql: str, loc: str, depth: int, t: Any) -> None:
        name = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        processor = state.get(name)
        mode = "INLINE"
        if "ItemProcessor" not in state and "Iterator" not in state:
            self.schema(loc, "These fields are required: [ItemProcessor]")
        else:
            mode = self.processor_config(processor, f"{loc}/{name}")
            self.machine(processor, f"{loc}/{name}", _PROCESSOR_FIELDS, self._top_language, depth + 1)
        if mode != "DISTRIBUTED":
            for field in _DISTRIBUTED_ONLY:
                if field in state:
                    self.schema(
                        f"{loc}/{field}",
                        f"{field} is only supported by a distributed Map; set "
                        f"{name}.ProcessorConfig.Mode to DISTRIBUTED.",
                    )
        if "Items" in state:
            items = state["Items"]
            if not isinstance(items, list) and not _is_jsonata(items):
                self.schema(
                    f"{loc}/Items", "Items must be an array or a \"{% expression %}\" string."
                )
            self.jsonata_values(f"{loc}/Items", items)
        if "ItemsPath" in state:
            self.path(f"{loc}/ItemsPath", state["ItemsPath"])
        for path_field in (
            "MaxConcurrencyPath",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentagePath",
        ):
            if path_field in state:
                self.path(f"{loc}/{path_field}", state[path_field], number=True)
        if "ItemSelector" in state:
            if ql == _JSONPATH:
                self.payload_template(
                    f"{loc}/ItemSelector", state["ItemSelector"], require_object=True
                )
            else:
                self.jsonata_values(f"{loc}/ItemSelector", state["ItemSelector"])
        if "MaxConcurrency" in state:
            self.integer(f"{loc}/MaxConcurrency", state["MaxConcurrency"], 0, _MAX_INT, ql)
        if "ToleratedFailureCount" in state:
            self.integer(
                f"{loc}/ToleratedFailureCount", state["ToleratedFailureCount"], 0, _MAX_INT, ql
            )
        if "ToleratedFailurePercentage" in state:
            value = state["ToleratedFailurePercentage"]
            if ql == _JSONATA and _is_jsonata(value):
                self.jsonata_string(f"{loc}/ToleratedFailurePercentage", value)
            elif not _is_number(value) or not 0 <= value <= 100:
                self.schema(
                    f"{loc}/ToleratedFailurePercentage",
                    f"ToleratedFailurePercentage must be a number from 0 to 100, got {value!r}"[
                        :300
                    ],
                )
        if "Label" in state and not isinstance(state["Label"], str):
            self.schema(f"{loc}/Label", "Label must be a string.")
        if "ItemBatcher" in state:
            self.item_batcher(state["ItemBatcher"], f"{loc}/ItemBatcher", ql)
        if "ItemReader" in state:
            self.resource_block(state["ItemReader"], f"{loc}/ItemReader", _ITEM_READER_FIELDS, ql)
        if "ResultWriter" in state:
            self.resource_block(
                state["ResultWriter"], f"{loc}/ResultWriter", _RESULT_WRITER_FIELDS, ql
            )

    def processor_config(self, processor: Any, loc: str) -> str:
        """Check ProcessorConfig; return the Map's mode (INLINE when absent or invalid)."""
        if not isinstance(processor, dict) or "ProcessorConfig" not in processor:
            return "INLINE"
        config = processor["ProcessorConfig"]
        config_loc = f"{loc}/ProcessorConfig"
        if not isinstance(config, dict):
            self.schema(config_loc, "ProcessorConfig must be an object.")
            return "INLINE"
        self.fields(config_loc, config, frozenset({"Mode", "ExecutionType"}), "in ProcessorConfig")
        mode = config.get("Mode", "INLINE")
        if mode not in _PROCESSOR_MODES:
            self.schema(f"{config_loc}/Mode", f"Mode must be INLINE or DISTRIBUTED, not {mode!r}.")
            mode = "INLINE"
        if "ExecutionType" in config:
            if config["ExecutionType"] not in _EXECUTION_TYPES:
                self.schema(
                    f"{config_loc}/ExecutionType",
                    f"ExecutionType must be STANDARD or EXPRESS, not {config['ExecutionType']!r}.",
                )
            elif mode != "DISTRIBUTED":
                self.schema(
                    f"{config_loc}/ExecutionType",
                    "ExecutionType only applies to Mode DISTRIBUTED.",
                )
        elif mode == "DISTRIBUTED":
            self.schema(
                config_loc,
                "A DISTRIBUTED ProcessorConfig needs ExecutionType (STANDARD or EXPRESS).",
            )
        return str(mode)

    def item_batcher(self, batcher: Any, loc: str, ql: str) -> None:
        if not isinstance(batcher, dict):
            self.schema(loc, "ItemBatcher must be an object.")
            return
        self.fields(loc, batcher, _ITEM_BATCHER_FIELDS, "in ItemBatcher")
        if ql == _JSONATA:
            for name in ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"):
                if name in batcher:
                    self.schema(
                        loc,
                        f"The QueryLanguage is set to 'JSONata', but field '{name}' is only "
                        "supported for the 'JSONPath' QueryLanguage",
                    )
        if not any(
            name in batcher
            for name in (
                "MaxItemsPerBatch",
                "MaxItemsPerBatchPath",
                "MaxInputBytesPerBatch",
                "MaxInputBytesPerBatchPath",
            )
        ):
            self.schema(
                loc, "ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch (or a *Path)."
            )
        for name in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
            if name in batcher:
                self.integer(f"{loc}/{name}", batcher[name], 1, _MAX_INT, ql)
            if f"{name}Path" in batcher:
                self.path(f"{loc}/{name}Path", batcher[f"{name}Path"], number=True)
            self.exclusive(batcher, loc, (name, f"{name}Path"))
        if "BatchInput" in batcher:
            if ql == _JSONPATH:
                self.payload_template(f"{loc}/BatchInput", batcher["BatchInput"], require_object=True)
            else:
                self.jsonata_values(f"{loc}/BatchInput", batcher["BatchInput"])

    def resource_block(self, block: Any, loc: str, allowed: frozenset[str], ql: str) -> None:
        """ItemReader and ResultWriter: a Resource ARN with Parameters/Arguments."""
        if not isinstance(block, dict):
            self.schema(loc, "Expected an object with a Resource.")
            return
        self.fields(loc, block, allowed, "here")
        if "Resource" not in block:
            self.schema(loc, "These fields are required: [Resource]")
        elif not isinstance(block["Resource"], str) or not block["Resource"].startswith("arn:"):
            self.error(INVALID_RESOURCE, f"{loc}/Resource", "Resource must be an ARN string.")
        if "ReaderConfig" in block:
            self.reader_config(block["ReaderConfig"], f"{loc}/ReaderConfig", ql)
        if "Parameters" in block:
            if ql == _JSONATA:
                self.schema(f"{loc}/Parameters", "Use Arguments in a JSONata state.")
            else:
                self.payload_template(f"{loc}/Parameters", block["Parameters"], require_object=True)
        if "Arguments" in block:
            if ql == _JSONPATH:
                self.schema(f"{loc}/Arguments", "Use Parameters in a JSONPath state.")
            else:
                self.jsonata_values(f"{loc}/Arguments", block["Arguments"])

    def reader_config(self, config: Any, loc: str, ql: str) -> None:
        if not isinstance(config, dict):
            self.schema(loc, "ReaderConfig must be an object.")
            return
        if "MaxItems" in config:
            self.integer(f"{loc}/MaxItems", config["MaxItems"], 0, 100_000_000, ql)
        if "MaxItemsPath" in config:
            if ql == _JSONATA:
                self.schema(
                    loc,
                    "The QueryLanguage is set to 'JSONata', but field 'MaxItemsPath' is only "
                    "supported for the 'JSONPath' QueryLanguage",
                )
            else:
                self.path(f"{loc}/MaxItemsPath", config["MaxItemsPath"], number=True)
        self.exclusive(config, loc, ("MaxItems", "MaxItemsPath"))

    # -- Retry and Catch ---------------------------------------------------------------------

    def error_equals(self, holder: dict[str, Any], loc: str, is_last: bool, what: str) -> None:
        if "ErrorEquals" not in holder:
            self.schema(loc, "These fields are required: [ErrorEquals]")
            return
        names = holder["ErrorEquals"]
        names_loc = f"{loc}/ErrorEquals"
        if not isinstance(names, list) or not names:
            self.schema(names_loc, "ErrorEquals must be a non-empty array of error names.")
            return
        for index, name in enumerate(names):
            if not isinstance(name, str):
                self.schema(f"{names_loc}[{index}]", "Error names must be strings.")
            elif name.startswith("States.") and name not in _KNOWN_ERRORS:
                self.warn(
                    UNKNOWN_ERROR_NAME,
                    f"{names_loc}[{index}]",
                    f"'{name}' is not a predefined error; the States. prefix is reserved "
                    f"(known: {_names(_KNOWN_ERRORS)}).",
                )
        if "States.ALL" in names:
            # ASL spec: "The reserved name 'States.ALL' appearing in a Retrier's 'ErrorEquals'
            # field is a wildcard [...] it MUST appear alone in its 'ErrorEquals' array and
            # MUST appear in the last Retrier in the 'Retry' array." (Catchers likewise.)
            if len(names) != 1:
                self.schema(names_loc, "States.ALL must appear alone in its ErrorEquals array.")
            if not is_last:
                self.schema(
                    names_loc, f"States.ALL must appear in the last {what} of the array."
                )

    def retriers(self, retriers: Any, loc: str) -> None:
        if not isinstance(retriers, list):
            self.schema(loc, "Retry must be an array of retriers.")
            return
        for index, retrier in enumerate(retriers):
            r_loc = f"{loc}[{index}]"
            if not isinstance(retrier, dict):
                self.schema(r_loc, f"A retrier must be an object, not {json_type(retrier)}.")
                continue
            self.fields(r_loc, retrier, _RETRIER_FIELDS, "in a retrier")
            self.error_equals(retrier, r_loc, index == len(retriers) - 1, "retrier")
            if "IntervalSeconds" in retrier:
                self.integer(f"{r_loc}/IntervalSeconds", retrier["IntervalSeconds"], 1, _MAX_INT, _JSONPATH)
            if "MaxAttempts" in retrier:
                self.integer(f"{r_loc}/MaxAttempts", retrier["MaxAttempts"], 0, _MAX_INT, _JSONPATH)
            if "MaxDelaySeconds" in retrier:
                self.integer(f"{r_loc}/MaxDelaySeconds", retrier["MaxDelaySeconds"], 1, _MAX_INT, _JSONPATH)
            if "BackoffRate" in retrier:
                rate = retrier["BackoffRate"]
                if not _is_number(rate) or rate < 1.0:
                    self.schema(
                        f"{r_loc}/BackoffRate",
                        f"BackoffRate must be a number of at least 1.0, got {rate!r}"[:300],
                    )
            if "JitterStrategy" in retrier and retrier["JitterStrategy"] not in ("FULL", "NONE"):
                self.schema(
                    f"{r_loc}/JitterStrategy",
                    f"JitterStrategy must be FULL or NONE, not {retrier['JitterStrategy']!r}"[:300],
                )
            if "Comment" in retrier and not isinstance(retrier["Comment"], str):
                self.schema(f"{r_loc}/Comment", "Comment must be a string.")

    def catchers(self, catchers: Any, loc: str, ql: str, transitions: list[tuple[str, str]]) -> None:
        if not isinstance(catchers, list):
            self.schema(loc, "Catch must be an array of catchers.")
            return
        for index, catcher in enumerate(catchers):
            c_loc = f"{loc}[{index}]"
            if not isinstance(catcher, dict):
                self.schema(c_loc, f"A catcher must be an object, not {json_type(catcher)}.")
                continue
            self.fields(c_loc, catcher, _CATCHER_FIELDS[ql], "in a catcher")
            self.error_equals(catcher, c_loc, index == len(catchers) - 1, "catcher")
            if "Next" in catcher:
                self.transition(catcher["Next"], f"{c_loc}/Next", transitions)
            else:
                self.schema(c_loc, "These fields are required: [Next]")
            if ql == _JSONPATH:
                if "ResultPath" in catcher and catcher["ResultPath"] is not None:
                    self.path(f"{c_loc}/ResultPath", catcher["ResultPath"], reference=True)
                if "Assign" in catcher:
                    self.payload_template(f"{c_loc}/Assign", catcher["Assign"], require_object=True)
            else:
                if "Output" in catcher:
                    self.jsonata_values(f"{c_loc}/Output", catcher["Output"], in_catcher=True)
                if "Assign" in catcher:
                    self.jsonata_values(f"{c_loc}/Assign", catcher["Assign"], in_catcher=True)


def _walk(loc: str, value: Any) -> Iterator[tuple[str, str | None, Any]]:
    """Every value inside `value` with its location and its key; iterative, so any depth."""
    stack: list[tuple[str, str | None, Any]] = [(loc, None, value)]
    while stack:
        item_loc, key, item = stack.pop()
        yield item_loc, key, item
        if isinstance(item, dict):
            stack.extend((f"{item_loc}/{k}", k, v) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend((f"{item_loc}[{i}]", None, v) for i, v in reversed(list(enumerate(item))))
