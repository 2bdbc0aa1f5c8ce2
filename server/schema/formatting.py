"""GraphQL errors in AppSync's shape, which Amplify DataStore and the API category read.

    {"message", "locations", "path", "errorType", "data", "errorInfo", "extensions"}

`errorType`, `data` and `errorInfo` sit at the top level as AppSync puts them (DataStore reads
`error.errorType == "ConflictUnhandled"` and the server's item from `error.data`); they are
repeated under `extensions` for spec-minded clients.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from typing import Any

from graphql import GraphQLError

from server.errors import SynclineError

__all__ = ["format_error"]

log = logging.getLogger("syncline.errors")


def _cause(error: GraphQLError) -> BaseException | None:
    """The innermost non-GraphQL exception, or None for parse/validation/coercion errors."""
    cause: BaseException | None = error.original_error
    while isinstance(cause, GraphQLError):
        cause = cause.original_error
    return cause


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """One error of a GraphQL response, AppSync style.

    Args:
        error: an error from parsing, validation or execution.
        debug: add the exception type and traceback of unexpected failures to `extensions`.

    Returns:
        A JSON-ready dict. Our errors keep their message and `errorType`; graphql-core's
        syntax, validation and value-coercion errors get `errorType: "ValidationError"`;
        anything else is an `InternalFailure` with a generic message (the traceback is logged
        under a reference id, never sent unless `debug`).
    """
    cause = _cause(error)
    message = error.message
    data: Any = None
    info: Any = None
    extensions: dict[str, Any] = {}
    if isinstance(cause, SynclineError):
        error_type = cause.error_type
        message = cause.message
        data, info = cause.data, cause.info
    elif cause is None:
        error_type = "ValidationError"
    else:
        error_type = "InternalFailure"
        ref = uuid.uuid4().hex[:12]
        log.error(
            "internal failure %s at %s: %s",
            ref,
            ".".join(map(str, error.path or ())) or "(request)",
            type(cause).__name__,
            exc_info=(type(cause), cause, cause.__traceback__),
        )
        message = f"An internal error occurred (reference {ref}); the server log has the details."
        if debug:
            message = f"{type(cause).__name__}: {cause} (reference {ref})"
            extensions["traceback"] = traceback.format_exception(type(cause), cause, cause.__traceback__)
    extensions["errorType"] = error_type
    if data is not None:
        extensions["data"] = data
    if info is not None:
        extensions["errorInfo"] = info
    for key, value in (error.extensions or {}).items():
        extensions.setdefault(key, value)
    return {
        "message": message,
        "locations": [{"line": loc.line, "column": loc.column} for loc in error.locations] if error.locations else None,
        "path": list(error.path) if error.path else None,
        "errorType": error_type,
        "data": data,
        "errorInfo": info,
        "extensions": extensions,
    }
