"""Legacy graphql-ws transitions, as data.

Keyed on who sent a message, never on which side we are:

* CONNECTION_TRANSITIONS: (sender, type) → {state: next state | Close | Refuse | HOLD | IGNORE};
  a state missing from a row keeps the state.
* OPERATION_TRANSITIONS: (sender, type) → {id active?: change | IGNORE}.

The legacy protocol closes far less than graphql-transport-ws: the reference server
(subscriptions-transport-ws `server.ts`) answers most mistakes with `error`/`connection_error`
and keeps the socket. Only `LegacyWSState.process` changes state.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Final, TypeAlias

from server.protocols._common import IGNORE, Close, Ignore, Refuse, Role
from server.protocols._errors import CloseCode
from server.protocols.legacy_ws._messages import Message, Start

CLIENT: Final = Role.CLIENT
SERVER: Final = Role.SERVER


class ConnState(enum.Enum):
    AWAITING_INIT = "AWAITING_INIT"
    INIT_PENDING = "INIT_PENDING"
    """connection_init received, the server is authenticating; starts are held until it decides."""
    READY = "READY"
    CLOSED = "CLOSED"


class Hold(enum.Enum):
    """A start that arrived while connection_init is being decided: keep it for after the ack
    (the legacy client sends start right after connection_init without waiting for the ack)."""

    HOLD = "HOLD"


HOLD: Final = Hold.HOLD


class OpChange(enum.Enum):
    START = "START"
    REPLACE = "REPLACE"
    """start for an active id: "if we already have a subscription with this id, unsubscribe from it first"."""
    KEEP = "KEEP"
    END = "END"
    UNHOLD = "UNHOLD"
    """stop for a start still held during init: the start is dropped before it ever runs."""


AWAITING_INIT, INIT_PENDING, READY = ConnState.AWAITING_INIT, ConnState.INIT_PENDING, ConnState.READY

_NOT_READY: Final = Close(CloseCode.BAD_REQUEST, "Invalid message: operation message before connection_ack")

ConnOutcome: TypeAlias = ConnState | Close | Refuse | Hold | Ignore

CONNECTION_TRANSITIONS: Final[dict[tuple[Role, str], dict[ConnState, ConnOutcome]]] = {
    # A second connection_init is ignored: the first decision stands.
    (CLIENT, "connection_init"): {AWAITING_INIT: INIT_PENDING, INIT_PENDING: IGNORE, READY: IGNORE},
    (SERVER, "connection_ack"): {
        AWAITING_INIT: Close(CloseCode.BAD_REQUEST, "Invalid message: connection_ack before connection_init"),
        INIT_PENDING: READY,
        READY: Close(CloseCode.BAD_REQUEST, "Invalid message: duplicate connection_ack"),
    },
    (CLIENT, "start"): {
        AWAITING_INIT: Refuse("Unauthorized: send connection_init before start"),
        INIT_PENDING: HOLD,
    },
    (SERVER, "ka"): {AWAITING_INIT: _NOT_READY, INIT_PENDING: _NOT_READY},
    (SERVER, "data"): {AWAITING_INIT: _NOT_READY, INIT_PENDING: _NOT_READY},
    # error and complete may precede the ack: they answer starts and stops held during init.
    (SERVER, "error"): {AWAITING_INIT: _NOT_READY},
    (SERVER, "complete"): {AWAITING_INIT: _NOT_READY},
    # stop, connection_terminate and connection_error are legal in every open state.
}

OpOutcome: TypeAlias = OpChange | Ignore

OPERATION_TRANSITIONS: Final[dict[tuple[Role, str], dict[bool, OpOutcome]]] = {
    (CLIENT, "start"): {False: OpChange.START, True: OpChange.REPLACE},
    (CLIENT, "stop"): {True: OpChange.END, False: IGNORE},
    (SERVER, "data"): {True: OpChange.KEEP, False: IGNORE},
    (SERVER, "error"): {True: OpChange.END, False: IGNORE},
    (SERVER, "complete"): {True: OpChange.END, False: IGNORE},
}

TOO_MANY_OPERATIONS: Final = "Too many operations on this connection: the limit is {limit}"


class LegacyWSState:
    """The connection state, the active operation ids and the starts held during init."""

    def __init__(self, *, max_operations: int) -> None:
        self.state = ConnState.AWAITING_INIT
        self.operations: set[str] = set()
        self.held: deque[Start] = deque()
        self.max_operations = max_operations

    def process(self, sender: Role, message: Message) -> OpChange | Close | Refuse | Ignore | Hold | None:
        """Apply `message` from `sender`.

        Returns None (accepted), REPLACE (accepted; the old operation under that id ended),
        UNHOLD (a held start was dropped), HOLD (the start was queued in `held`), or an outcome
        that changed nothing.
        """
        if self.state is ConnState.CLOSED:
            return IGNORE
        key = (sender, message.type)
        conn = CONNECTION_TRANSITIONS.get(key, {}).get(self.state, self.state)
        if isinstance(conn, (Close, Refuse, Ignore)):
            return conn
        if conn is HOLD:
            assert isinstance(message, Start)
            # A held start reusing a held id replaces it: the earlier one never ran.
            others = deque(s for s in self.held if s.id != message.id)
            if len(others) + len(self.operations) >= self.max_operations:
                return Refuse(TOO_MANY_OPERATIONS.format(limit=self.max_operations))
            others.append(message)
            self.held = others
            return HOLD
        op_row = OPERATION_TRANSITIONS.get(key)
        change: OpOutcome | None = None
        if op_row is not None:
            op_id: str = message.id  # type: ignore[union-attr]  # every operation message has an id
            if key == (CLIENT, "stop") and any(s.id == op_id for s in self.held):
                self.held = deque(s for s in self.held if s.id != op_id)
                return OpChange.UNHOLD
            change = op_row[op_id in self.operations]
            if change is IGNORE:
                return IGNORE
            if change is OpChange.START and len(self.operations) >= self.max_operations:
                return Refuse(TOO_MANY_OPERATIONS.format(limit=self.max_operations))
            if change is OpChange.START:
                self.operations.add(op_id)
            elif change is OpChange.END:
                self.operations.discard(op_id)
        assert isinstance(conn, ConnState)
        self.state = conn
        return OpChange.REPLACE if change is OpChange.REPLACE else None

    def end(self, op_id: str) -> bool:
        """An `error` answers a malformed message naming `op_id`: that ends the operation, held or
        live (the reference server unsubscribes after a failed start). True if it was live."""
        self.held = deque(s for s in self.held if s.id != op_id)
        if op_id in self.operations:
            self.operations.discard(op_id)
            return True
        return False

    def activate_held(self, op_id: str) -> None:
        """The sender of a held start does not wait for the ack: it counts the operation as active."""
        self.held = deque(s for s in self.held if s.id != op_id)
        self.operations.add(op_id)

    def close(self) -> frozenset[str]:
        active = frozenset(self.operations)
        self.operations.clear()
        self.held.clear()
        self.state = ConnState.CLOSED
        return active
