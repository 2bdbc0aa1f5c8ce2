"""AppSync real-time transitions, as data.

Keyed on who sent a message, never on which side we are:

* CONNECTION_TRANSITIONS: (sender, type) → {state: next state | Close}; a state missing from a row
  keeps the state. connection_init is optional in AppSync ("(Optional) After successfully
  establishing the WebSocket connection, the client sends a connection_init message"), so starts
  are legal from the first frame: the handshake already carried the auth.
* OPERATION_TRANSITIONS: (sender, type) → {operation status: change | Close | Refuse | IGNORE}.
  A start is PENDING until the server accepts its per-start authorization (start_ack → ACTIVE).

Only `AppSyncState.process` changes state.
"""

from __future__ import annotations

import enum
from typing import Final, TypeAlias

from server.protocols._common import IGNORE, Close, Ignore, Refuse, Role
from server.protocols._errors import CloseCode
from server.protocols.appsync._messages import Message

CLIENT: Final = Role.CLIENT
SERVER: Final = Role.SERVER


class ConnState(enum.Enum):
    CONNECTED = "CONNECTED"
    """Handshake done; no connection_init (yet). Starts are allowed."""
    INIT_PENDING = "INIT_PENDING"
    READY = "READY"
    CLOSED = "CLOSED"


class OpStatus(enum.Enum):
    NONE = "NONE"
    PENDING = "PENDING"
    """start received; the adapter is checking its authorization."""
    ACTIVE = "ACTIVE"
    """start_ack sent; data may flow."""


class OpChange(enum.Enum):
    START = "START"
    ACK = "ACK"
    KEEP = "KEEP"
    END = "END"
    DUPLICATE = "DUPLICATE"
    """A start reusing a live id: the old subscription ends and the new one is refused."""


CONNECTED, INIT_PENDING, READY = ConnState.CONNECTED, ConnState.INIT_PENDING, ConnState.READY
NONE, PENDING, ACTIVE = OpStatus.NONE, OpStatus.PENDING, OpStatus.ACTIVE

ConnOutcome: TypeAlias = ConnState | Close

CONNECTION_TRANSITIONS: Final[dict[tuple[Role, str], dict[ConnState, ConnOutcome]]] = {
    # A repeated connection_init is acknowledged again.
    (CLIENT, "connection_init"): {CONNECTED: INIT_PENDING},
    (SERVER, "connection_ack"): {
        CONNECTED: Close(CloseCode.BAD_REQUEST, "Invalid message: connection_ack before connection_init"),
        INIT_PENDING: READY,
    },
    # everything else is legal in every open state
}

OpOutcome: TypeAlias = OpChange | Close | Refuse | Ignore

OPERATION_TRANSITIONS: Final[dict[tuple[Role, str], dict[OpStatus, OpOutcome]]] = {
    (CLIENT, "start"): {NONE: OpChange.START, PENDING: OpChange.DUPLICATE, ACTIVE: OpChange.DUPLICATE},
    # A stop that overtook the decision on its start: the late start_ack is dropped.
    (SERVER, "start_ack"): {
        NONE: IGNORE,
        PENDING: OpChange.ACK,
        ACTIVE: Close(CloseCode.BAD_REQUEST, "Invalid message: duplicate start_ack for {id}"),
    },
    (SERVER, "data"): {
        NONE: IGNORE,
        PENDING: Close(CloseCode.BAD_REQUEST, "Invalid message: data for {id} before start_ack"),
        ACTIVE: OpChange.KEEP,
    },
    (SERVER, "error"): {NONE: IGNORE, PENDING: OpChange.END, ACTIVE: OpChange.END},
    (SERVER, "complete"): {NONE: IGNORE, PENDING: OpChange.END, ACTIVE: OpChange.END},
    (CLIENT, "stop"): {NONE: IGNORE, PENDING: OpChange.END, ACTIVE: OpChange.END},
}

MAX_SUBSCRIPTIONS: Final = "Max number of {limit} subscriptions reached"
DUPLICATE_ID: Final = "Subscription id {id} is already in use; the earlier subscription was stopped"


class AppSyncState:
    """The connection state and each operation's status."""

    def __init__(self, *, max_operations: int) -> None:
        self.state = ConnState.CONNECTED
        self.operations: dict[str, OpStatus] = {}
        self.max_operations = max_operations

    def process(self, sender: Role, message: Message) -> OpChange | Close | Refuse | Ignore | None:
        """Apply `message` from `sender`. Returns None or DUPLICATE when applied; anything else
        changed nothing."""
        if self.state is ConnState.CLOSED:
            return IGNORE
        key = (sender, message.type)
        conn = CONNECTION_TRANSITIONS.get(key, {}).get(self.state, self.state)
        if isinstance(conn, Close):
            return conn
        row = OPERATION_TRANSITIONS.get(key)
        change: OpOutcome | None = None
        op_id = getattr(message, "id", None)
        # an error without an id concerns the connection, not an operation
        if row is not None and isinstance(op_id, str):
            change = row[self.operations.get(op_id, NONE)]
            if isinstance(change, Close):
                return Close(change.code, change.reason.format(id=op_id))
            if isinstance(change, Refuse) or change is IGNORE:
                return change
            if change is OpChange.START and len(self.operations) >= self.max_operations:
                return Refuse(MAX_SUBSCRIPTIONS.format(limit=self.max_operations))
            if change is OpChange.START:
                self.operations[op_id] = PENDING
            elif change is OpChange.ACK:
                self.operations[op_id] = ACTIVE
            elif change in (OpChange.END, OpChange.DUPLICATE):
                del self.operations[op_id]
        self.state = conn
        return OpChange.DUPLICATE if change is OpChange.DUPLICATE else None

    def close(self) -> frozenset[str]:
        active = frozenset(self.operations)
        self.operations.clear()
        self.state = ConnState.CLOSED
        return active
