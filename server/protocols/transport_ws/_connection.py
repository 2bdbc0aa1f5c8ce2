"""The graphql-transport-ws core: one object per socket, either role, no I/O.

Server adapter loop::

    core = TransportWSConnection(Role.SERVER, config)      # start the init timer
    for each text frame:
        core.receive_data(frame)
        try:
            while (event := core.next_event()) is not NEED_DATA:
                dispatch(event)       # ConnectionInit → authenticate → accept_init()/reject_init()
                                      # Subscribe → start; Complete → stop
        except ProtocolError as exc:
            write(core.data_to_send()); close(exc.close_code, exc.reason)
        write(core.data_to_send())
    init timer fires: if (close := core.init_timed_out()): close(close.code, close.reason)
    socket gone: for id in core.connection_lost(): stop(id)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from server.protocols._base import ConnectionBase
from server.protocols._common import IGNORE, NEED_DATA, Close, NeedData, ProtocolConfig, Refuse, Role, decode_frame
from server.protocols._errors import (
    CloseCode,
    CloseConnection,
    LocalProtocolError,
    MessageError,
    RemoteProtocolError,
)
from server.protocols.transport_ws._messages import (
    CLIENT_TYPES,
    SERVER_TYPES,
    Complete,
    ConnectionAck,
    Error,
    Message,
    Ping,
    Pong,
    parse,
)
from server.protocols.transport_ws._state import ConnState, TransportWSState

SUBPROTOCOL = "graphql-transport-ws"


class TransportWSConnection(ConnectionBase):
    """graphql-transport-ws (graphql-ws PROTOCOL.md) for one socket.

    Events out of `next_event()` are the peer's messages (ConnectionInit, Subscribe, Complete,
    Ping, Pong for a server; ConnectionAck, Next, Error, Complete, Ping, Pong for a client). Pings
    are answered automatically. A subscribe beyond `config.max_operations` is answered with an
    Error for its id and never becomes an event.
    """

    def __init__(self, our_role: Role, config: ProtocolConfig | None = None) -> None:
        super().__init__(our_role, config)
        self._state = TransportWSState(max_operations=self.config.max_operations)

    @property
    def state(self) -> ConnState:
        return self._state.state

    @property
    def active_operations(self) -> frozenset[str]:
        return frozenset(self._state.operations)

    def next_event(self) -> Message | NeedData:
        """The next message from the peer, or NEED_DATA.

        Raises:
            RemoteProtocolError: the peer broke the protocol; `close_code` is 4400, 4401, 4409,
                4413 or 4429. The core is closed; flush `data_to_send()` then close the socket.
        """
        while self._inbox:
            data = self._inbox.popleft()
            try:
                message = parse(decode_frame(data, max_bytes=self.config.max_message_bytes), self.their_role)
            except MessageError as exc:
                raise self._fail(RemoteProtocolError(exc.reason)) from exc
            except RemoteProtocolError as exc:
                raise self._fail(exc) from None
            outcome = self._state.process(self.their_role, message)
            if outcome is None:
                if isinstance(message, Ping):
                    # "A Pong must be sent in response from the receiving party as soon as possible."
                    self._queue(Pong(payload=message.payload).formatted())
                return message
            if isinstance(outcome, Close):
                raise self._fail(RemoteProtocolError(outcome.reason, close_code=outcome.code))
            if isinstance(outcome, Refuse):
                op_id: str = message.id  # type: ignore[union-attr]  # only subscribe is refused
                error = {"message": outcome.reason, "extensions": {"errorType": "LimitExceeded"}}
                self._queue(Error(id=op_id, payload=[error]).formatted())
            # IGNORE: a message that raced with its operation's end
        return NEED_DATA

    def send(self, message: Message) -> bool:
        """Queue `message` for the peer.

        Returns:
            False when the message was dropped because its operation already ended (the peer
            completed it while a result was in flight); True when queued.

        Raises:
            LocalProtocolError: the message is not ours to send, or not in this state.
        """
        self._check_open()
        allowed = CLIENT_TYPES if self.our_role is Role.CLIENT else SERVER_TYPES
        if message.type not in allowed:
            raise LocalProtocolError(f"a {self.our_role.value} cannot send {message.type!r}")
        outcome = self._state.process(self.our_role, message)
        if outcome is IGNORE:
            return False
        if isinstance(outcome, (Close, Refuse)):
            raise LocalProtocolError(f"cannot send {message.type!r} now: {outcome.reason}")
        self._queue(message.formatted())
        return True

    RESULT_TYPE = "next"

    def can_send_result(self, op_id: str) -> bool:
        """Whether `op_id` is live (see ConnectionBase.can_send_result)."""
        self._check_open()
        if self.our_role is not Role.SERVER or self._state.state is not ConnState.READY:
            raise LocalProtocolError("send_result_raw needs a server core after connection_ack")
        return op_id in self._state.operations

    # ---- what the server adapter calls ----------------------------------------------------------

    def accept_init(self, payload: Mapping[str, Any] | None = None) -> None:
        """Authentication of the connection_init payload succeeded: send connection_ack."""
        self.send(ConnectionAck(payload=payload))

    def reject_init(self, reason: str = "Forbidden") -> CloseConnection:
        """Authentication failed: close with 4403 ("it is recommended to close the socket with
        4403: Forbidden")."""
        self._require_server()
        return self.close(CloseCode.FORBIDDEN, reason)

    def init_timed_out(self) -> CloseConnection | None:
        """The adapter's connection-init timer fired. Returns the 4408 close, or None when the
        connection was acknowledged in the meantime (the timer lost the race)."""
        self._require_server()
        if self._close is not None or self._state.state is ConnState.READY:
            return None
        return self.close(CloseCode.INIT_TIMEOUT, "Connection initialisation timeout")

    def refuse_operation(self, op_id: str, errors: Sequence[Mapping[str, Any]]) -> bool:
        """End `op_id` with an Error (validation or authorization failed). Same as send(Error(...))."""
        return self.send(Error(id=op_id, payload=errors))

    def complete_operation(self, op_id: str) -> bool:
        return self.send(Complete(id=op_id))

    def fail_operation(self, op_id: str, message: str, *, error_type: str) -> bool:
        return self.refuse_operation(op_id, [{"message": message, "extensions": {"errorType": error_type}}])

    def _require_server(self) -> None:
        if self.our_role is not Role.SERVER:
            raise LocalProtocolError("only the server role decides this")

    def _enter_closed(self) -> None:
        self._state.state = ConnState.CLOSED

    def _drain_operations(self) -> frozenset[str]:
        return self._state.close()
