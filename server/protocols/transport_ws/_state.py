"""graphql-transport-ws transitions, as data.

Two tables, both keyed on *who sent* a message, never on which side we are (the same tables check
what we send and what we receive):

* CONNECTION_TRANSITIONS: (sender, type) → {state: next state | Close}. A state missing from a
  row means the message keeps the state it arrived in.
* OPERATION_TRANSITIONS: (sender, type) → {id active?: change | Close | IGNORE}.

Only `TransportWSState.process` changes state.
"""

from __future__ import annotations

import enum
from typing import Final, TypeAlias

from server.protocols._common import IGNORE, Close, Ignore, Refuse, Role
from server.protocols._errors import CloseCode
from server.protocols.transport_ws._messages import Message

CLIENT: Final = Role.CLIENT
SERVER: Final = Role.SERVER


class ConnState(enum.Enum):
    AWAITING_INIT = "AWAITING_INIT"
    """The socket is open; nothing but ping/pong has happened."""
    INIT_PENDING = "INIT_PENDING"
    """connection_init went through; the server is deciding (authenticating)."""
    READY = "READY"
    """connection_ack went through; operations may run."""
    CLOSED = "CLOSED"
    """The socket is closing or closed: nothing more is received or sent."""


class OpChange(enum.Enum):
    START = "START"
    KEEP = "KEEP"
    END = "END"


AWAITING_INIT, INIT_PENDING, READY = ConnState.AWAITING_INIT, ConnState.INIT_PENDING, ConnState.READY

# "If the server receives more than one ConnectionInit message at any given time, the server will
#  close the socket with the event 4429: Too many initialisation requests." (PROTOCOL.md)
_TOO_MANY_INIT: Final = Close(CloseCode.TOO_MANY_INIT, "Too many initialisation requests")
# "Executing operations is allowed only after the server has acknowledged the connection [...]
#  the socket will be closed immediately with the event 4401: Unauthorized."
_UNAUTHORIZED: Final = Close(CloseCode.UNAUTHORIZED, "Unauthorized")
_NOT_READY: Final = Close(CloseCode.BAD_REQUEST, "Invalid message: operation message before connection_ack")

ConnOutcome: TypeAlias = ConnState | Close

CONNECTION_TRANSITIONS: Final[dict[tuple[Role, str], dict[ConnState, ConnOutcome]]] = {
    (CLIENT, "connection_init"): {
        AWAITING_INIT: INIT_PENDING,
        INIT_PENDING: _TOO_MANY_INIT,
        READY: _TOO_MANY_INIT,
    },
    (SERVER, "connection_ack"): {
        AWAITING_INIT: Close(CloseCode.BAD_REQUEST, "Invalid message: connection_ack before connection_init"),
        INIT_PENDING: READY,
        READY: Close(CloseCode.BAD_REQUEST, "Invalid message: duplicate connection_ack"),
    },
    (CLIENT, "subscribe"): {AWAITING_INIT: _UNAUTHORIZED, INIT_PENDING: _UNAUTHORIZED},
    (SERVER, "next"): {AWAITING_INIT: _NOT_READY, INIT_PENDING: _NOT_READY},
    (SERVER, "error"): {AWAITING_INIT: _NOT_READY, INIT_PENDING: _NOT_READY},
    (SERVER, "complete"): {AWAITING_INIT: _NOT_READY, INIT_PENDING: _NOT_READY},
    # ping, pong and a client's complete are legal in every open state.
}

OpOutcome: TypeAlias = OpChange | Close | Ignore

OPERATION_TRANSITIONS: Final[dict[tuple[Role, str], dict[bool, OpOutcome]]] = {
    # "If there is already an active subscriber for a streaming operation matching the provided
    #  ID, the server will close the socket immediately with the event 4409".
    (CLIENT, "subscribe"): {
        False: OpChange.START,
        True: Close(CloseCode.DUPLICATE_OPERATION, "Subscriber for {id} already exists"),
    },
    # Results for an id the client already completed are in flight: drop them, do not fail.
    (SERVER, "next"): {True: OpChange.KEEP, False: IGNORE},
    # "If the server dispatched the Error message [...] no Complete message will be emitted."
    (SERVER, "error"): {True: OpChange.END, False: IGNORE},
    (SERVER, "complete"): {True: OpChange.END, False: IGNORE},
    (CLIENT, "complete"): {True: OpChange.END, False: IGNORE},
}

TOO_MANY_OPERATIONS: Final = "Too many operations on this connection: the limit is {limit}"


class TransportWSState:
    """The connection state and the set of active operation ids."""

    def __init__(self, *, max_operations: int) -> None:
        self.state = ConnState.AWAITING_INIT
        self.operations: set[str] = set()
        self.max_operations = max_operations

    def process(self, sender: Role, message: Message) -> Close | Refuse | Ignore | None:
        """Apply `message` from `sender`. None means accepted (state updated); otherwise nothing changed."""
        if self.state is ConnState.CLOSED:
            return IGNORE
        key = (sender, message.type)
        conn = CONNECTION_TRANSITIONS.get(key, {}).get(self.state, self.state)
        if isinstance(conn, Close):
            return conn
        op_row = OPERATION_TRANSITIONS.get(key)
        change: OpOutcome | None = None
        if op_row is not None:
            op_id: str = message.id  # type: ignore[union-attr]  # every operation message has an id
            change = op_row[op_id in self.operations]
            if isinstance(change, Close):
                return Close(change.code, change.reason.format(id=op_id))
            if change is IGNORE:
                return IGNORE
            if change is OpChange.START and len(self.operations) >= self.max_operations:
                return Refuse(TOO_MANY_OPERATIONS.format(limit=self.max_operations))
            if change is OpChange.START:
                self.operations.add(op_id)
            elif change is OpChange.END:
                self.operations.discard(op_id)
        self.state = conn
        return None

    def close(self) -> frozenset[str]:
        """Enter CLOSED; returns the operations that were still active (the adapter tears them down)."""
        active = frozenset(self.operations)
        self.operations.clear()
        self.state = ConnState.CLOSED
        return active
