"""Sync rules, sans-IO: conflict strategies and the signed delta/page cursor.

Users' resolvers.py imports the conflict decisions from here:
`from server.sync import Resolve, REJECT, REMOVE`.
"""

from server.sync.conflict import (
    REJECT,
    REMOVE,
    ConflictHandler,
    Decision,
    Reject,
    Remove,
    Resolve,
    automerge,
    check_decision,
    last_writer_wins,
    merge_lists,
    resolve_builtin,
)
from server.sync.cursor import CursorCodec, query_hash

__all__ = [
    "ConflictHandler",
    "CursorCodec",
    "Decision",
    "REJECT",
    "REMOVE",
    "Reject",
    "Remove",
    "Resolve",
    "automerge",
    "check_decision",
    "last_writer_wins",
    "merge_lists",
    "query_hash",
    "resolve_builtin",
]
