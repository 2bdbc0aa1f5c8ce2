"""The legacy graphql-ws core (subscriptions-transport-ws), either role, no I/O.

Differences from graphql-transport-ws that the adapter sees:
* starts sent right after connection_init are held and come out of `next_event()` after
  `accept_init()`; a start before any connection_init is refused with `error`;
* mistakes do not close the socket: unparsable frames get `connection_error`, unknown types and bad
  starts get `error` for their id (as the reference server answers them);
* stop is answered with complete automatically; ka is sent when the adapter's timer calls
  `keep_alive()`;
* after ConnectionTerminate the core is closed (`closed` is the 1000 frame) and the adapter closes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from server.protocols._base import ConnectionBase
from server.protocols._common import (
    IGNORE,
    NEED_DATA,
    Close,
    NeedData,
    ProtocolConfig,
    Refuse,
    Role,
    decode_frame,
)
from server.protocols._errors import (
    CloseCode,
    CloseConnection,
    LocalProtocolError,
    MessageError,
    RemoteProtocolError,
)
from server.protocols.legacy_ws._messages import (
    CLIENT_TYPES,
    SERVER_TYPES,
    Complete,
    ConnectionAck,
    ConnectionErrorMessage,
    ConnectionTerminate,
    Error,
    KeepAlive,
    Message,
    Start,
    Stop,
    parse,
)
from server.protocols.legacy_ws._state import HOLD, ConnState, LegacyWSState, OpChange

SUBPROTOCOL = "graphql-ws"


class LegacyWSConnection(ConnectionBase):
    """Legacy graphql-ws for one socket.

    Server events: ConnectionInit (authenticate, then accept_init/reject_init), Start, Stop (the
    operation already ended; complete was queued), ConnectionTerminate. A Stop is also emitted
    before a Start that reuses an active id (the old operation is replaced), and when a malformed
    message names an active id (answered with `error`, which ends it).
    Client events: ConnectionAck, ConnectionErrorMessage, KeepAlive, Data, Error, Complete.
    """

    def __init__(self, our_role: Role, config: ProtocolConfig | None = None) -> None:
        super().__init__(our_role, config)
        self._state = LegacyWSState(max_operations=self.config.max_operations)
        self._events: deque[Message] = deque()

    @property
    def state(self) -> ConnState:
        return self._state.state

    @property
    def active_operations(self) -> frozenset[str]:
        return frozenset(self._state.operations)

    def next_event(self) -> Message | NeedData:
        """The next message from the peer, or NEED_DATA.

        Raises:
            RemoteProtocolError: 4413 (message too large) on a server; on a client, any invalid
                server message (4400). The core is closed; flush, then close the socket.
        """
        while True:
            if self._events:
                return self._events.popleft()
            if not self._inbox:
                return NEED_DATA
            self._receive_one(self._inbox.popleft())

    def _receive_one(self, data: str | bytes) -> None:
        try:
            obj = decode_frame(data, max_bytes=self.config.max_message_bytes)
        except RemoteProtocolError as exc:
            if self.our_role is Role.CLIENT or exc.close_code == CloseCode.MESSAGE_TOO_LARGE:
                raise self._fail(exc) from None
            # "It server also respond with this message in case of a parsing errors of the message
            #  (which does not disconnect the client, just ignore the message)." (PROTOCOL.md)
            self._queue(ConnectionErrorMessage(payload={"message": exc.reason}).formatted())
            return
        try:
            message = parse(obj, self.their_role)
        except MessageError as exc:
            if self.our_role is Role.CLIENT:
                raise self._fail(RemoteProtocolError(exc.reason)) from exc
            op_id = obj.get("id")
            if isinstance(op_id, str) and op_id:
                if self._state.end(op_id):
                    self._events.append(Stop(id=op_id))  # the adapter must end it too
                self._queue(Error(id=op_id, payload={"message": exc.reason}).formatted())
            else:
                self._queue(ConnectionErrorMessage(payload={"message": exc.reason}).formatted())
            return
        self._apply(message)

    def _apply(self, message: Message) -> None:
        outcome = self._state.process(self.their_role, message)
        if outcome is None:
            if isinstance(message, Stop) and self.our_role is Role.SERVER:
                # "When client unsubscribe (by sending a GQL_STOP message), the server [...] sends
                #  GQL_COMPLETE message to the client."
                self._queue(Complete(id=message.id).formatted())
            elif isinstance(message, ConnectionTerminate):
                self.close(CloseCode.NORMAL, "connection_terminate")
            self._events.append(message)
        elif outcome is OpChange.REPLACE:
            assert isinstance(message, Start)
            self._events.append(Stop(id=message.id))
            self._events.append(message)
        elif outcome is OpChange.UNHOLD:
            assert isinstance(message, Stop)
            self._queue(Complete(id=message.id).formatted())
        elif isinstance(outcome, Close):
            raise self._fail(RemoteProtocolError(outcome.reason, close_code=outcome.code))
        elif isinstance(outcome, Refuse):
            op_id: str = message.id  # type: ignore[union-attr]  # only start is refused
            self._queue(Error(id=op_id, payload={"message": outcome.reason}).formatted())
        # HOLD: kept in the state until accept_init; IGNORE: raced with its operation's end

    def send(self, message: Message) -> bool:
        """Queue `message`. Returns False when it was dropped because its operation already ended.

        Raises:
            LocalProtocolError: not ours to send, or not in this state.
        """
        self._check_open()
        allowed = CLIENT_TYPES if self.our_role is Role.CLIENT else SERVER_TYPES
        if message.type not in allowed:
            raise LocalProtocolError(f"a {self.our_role.value} cannot send {message.type!r}")
        outcome = self._state.process(self.our_role, message)
        if outcome is IGNORE:
            return False
        if outcome is HOLD and isinstance(message, Start):
            # The legacy client sends start right after connection_init, before the ack.
            self._state.activate_held(message.id)
        elif isinstance(outcome, (Close, Refuse)) or outcome is HOLD or outcome is OpChange.UNHOLD:
            raise LocalProtocolError(f"cannot send {message.type!r} in state {self.state.value}")
        self._queue(message.formatted())
        if isinstance(message, ConnectionTerminate):
            self.close(CloseCode.NORMAL, "connection_terminate")
        return True

    RESULT_TYPE = "data"

    def can_send_result(self, op_id: str) -> bool:
        """Whether `op_id` is live (see ConnectionBase.can_send_result)."""
        self._check_open()
        if self.our_role is not Role.SERVER or self._state.state is not ConnState.READY:
            raise LocalProtocolError("send_result_raw needs a server core after connection_ack")
        return op_id in self._state.operations

    # ---- what the server adapter calls ----------------------------------------------------------

    def accept_init(self, payload: Mapping[str, Any] | None = None) -> None:
        """connection_init authenticated: ack (+ ka), then release the starts held meanwhile."""
        self.send(ConnectionAck(payload=payload))
        if self.config.keep_alive_after_ack:
            self.send(KeepAlive())
        held, self._state.held = list(self._state.held), deque()
        for start in held:
            self._apply(start)

    def reject_init(self, message: str = "Prohibited connection!") -> CloseConnection:
        """connection_init refused: connection_error, then close 1011 as the reference server does."""
        self._require_server()
        if self._close is None:
            self._queue(ConnectionErrorMessage(payload={"message": message}).formatted())
        return self.close(CloseCode.INTERNAL_ERROR, message)

    def init_timed_out(self) -> CloseConnection | None:
        """The init timer fired: connection_error then close 4408, or None if already acknowledged."""
        self._require_server()
        if self._close is not None or self._state.state is ConnState.READY:
            return None
        reason = "Connection initialisation timeout"
        self._queue(ConnectionErrorMessage(payload={"message": reason}).formatted())
        return self.close(CloseCode.INIT_TIMEOUT, reason)

    def keep_alive(self) -> bool:
        """The ka timer fired: queue "ka" if the connection is acknowledged (else nothing)."""
        self._require_server()
        if self._close is not None or self._state.state is not ConnState.READY:
            return False
        return self.send(KeepAlive())

    def refuse_operation(self, op_id: str, error: Mapping[str, Any]) -> bool:
        """End `op_id` with `error` (validation or authorization failed)."""
        return self.send(Error(id=op_id, payload=error))

    def complete_operation(self, op_id: str) -> bool:
        return self.send(Complete(id=op_id))

    def fail_operation(self, op_id: str, message: str, *, error_type: str) -> bool:
        return self.refuse_operation(op_id, {"message": message, "extensions": {"errorType": error_type}})

    def _require_server(self) -> None:
        if self.our_role is not Role.SERVER:
            raise LocalProtocolError("only the server role decides this")

    def _enter_closed(self) -> None:
        self._state.state = ConnState.CLOSED
        self._events.clear()

    def _drain_operations(self) -> frozenset[str]:
        return self._state.close()
