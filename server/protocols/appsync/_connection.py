"""The AppSync real-time core, either role, no I/O.

Server adapter loop::

    handshake = decode_appsync_handshake(query_params, subprotocols)   # authenticate, or HTTP 401
    core = AppSyncConnection(Role.SERVER, config)
    every ka period (< connectionTimeoutMs): core.keep_alive(); write(core.data_to_send())
    for each frame:
        core.receive_data(frame)
        while (event := core.next_event()) is not NEED_DATA:
            Start → authenticate event.authorization (+ event.data for IAM), validate event.query,
                    then core.accept_start(id) or core.reject_start(id, errors)
            Stop  → end the subscription (complete was already queued)
        write(core.data_to_send())

connection_init is acknowledged by the core itself (with `connectionTimeoutMs`): AppSync's
connection_init carries nothing to decide on, the handshake did the auth.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence

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
from server.protocols.appsync._messages import (
    CLIENT_TYPES,
    SERVER_TYPES,
    AppSyncErrorWire,
    Complete,
    ConnectionAck,
    ConnectionErrorMessage,
    ConnectionInit,
    Error,
    KeepAlive,
    Message,
    Start,
    StartAck,
    Stop,
    UnsupportedType,
    appsync_error,
    parse,
)
from server.protocols.appsync._state import DUPLICATE_ID, AppSyncState, ConnState, OpChange, OpStatus

SUBPROTOCOL = "graphql-ws"

BAD_REQUEST = "BadRequestException"
UNSUPPORTED = "UnsupportedOperation"
MAX_SUBSCRIPTIONS = "MaxSubscriptionsReachedError"
UNAUTHORIZED = "UnauthorizedException"


class AppSyncConnection(ConnectionBase):
    """The AppSync real-time protocol for one socket.

    Server events: ConnectionInit (already acknowledged), Start (PENDING until accept_start /
    reject_start), Stop (ended; complete queued). A Stop is also emitted for a live id that a new
    start reuses (that start is refused with an error).
    Client events: ConnectionAck, ConnectionErrorMessage, KeepAlive, StartAck, Data, Error, Complete.
    Mistakes never close the socket (only an oversized message does, 4413): unparsable frames and
    unknown types get an `error` without id, bad starts an `error` with their id, as AppSync does.
    """

    def __init__(self, our_role: Role, config: ProtocolConfig | None = None) -> None:
        super().__init__(our_role, config)
        self._state = AppSyncState(max_operations=self.config.max_operations)
        self._events: deque[Message] = deque()

    @property
    def state(self) -> ConnState:
        return self._state.state

    @property
    def active_operations(self) -> frozenset[str]:
        """Ids of subscriptions the server acknowledged (start_ack sent)."""
        return frozenset(i for i, s in self._state.operations.items() if s is OpStatus.ACTIVE)

    @property
    def pending_operations(self) -> frozenset[str]:
        """Ids of starts still waiting for accept_start / reject_start."""
        return frozenset(i for i, s in self._state.operations.items() if s is OpStatus.PENDING)

    def next_event(self) -> Message | NeedData:
        """The next message from the peer, or NEED_DATA.

        Raises:
            RemoteProtocolError: 4413 (message too large); on a client, any invalid server
                message (4400). The core is closed; flush, then close the socket.
        """
        while True:
            if self._events:
                return self._events.popleft()
            if not self._inbox:
                return NEED_DATA
            self._receive_one(self._inbox.popleft())

    def _receive_one(self, data: str | bytes) -> None:
        try:
            message = parse(decode_frame(data, max_bytes=self.config.max_message_bytes), self.their_role)
        except RemoteProtocolError as exc:
            if self.our_role is Role.CLIENT or exc.close_code == CloseCode.MESSAGE_TOO_LARGE:
                raise self._fail(exc) from None
            self._queue(Error(errors=[appsync_error(BAD_REQUEST, exc.reason)]).formatted())
            return
        except MessageError as exc:
            if self.our_role is Role.CLIENT:
                raise self._fail(RemoteProtocolError(exc.reason)) from exc
            if isinstance(exc, UnsupportedType):
                # What AppSync answers: {"errorType": "UnsupportedOperation",
                #                        "message": "<type> not supported through the realtime channel"}
                self._queue(Error(errors=[appsync_error(UNSUPPORTED, exc.reason)]).formatted())
            else:
                self._queue(Error(id=self._error_id(data), errors=[appsync_error(BAD_REQUEST, exc.reason)]).formatted())
            return
        outcome = self._state.process(self.their_role, message)
        if outcome is None:
            self._events.append(message)
            if self.our_role is Role.SERVER and isinstance(message, ConnectionInit):
                self._acknowledge()
            elif self.our_role is Role.SERVER and isinstance(message, Stop):
                self._queue(Complete(id=message.id).formatted())
        elif outcome is OpChange.DUPLICATE:
            assert isinstance(message, Start)
            self._events.append(Stop(id=message.id))
            error = appsync_error(BAD_REQUEST, DUPLICATE_ID.format(id=message.id))
            self._queue(Error(id=message.id, errors=[error]).formatted())
        elif isinstance(outcome, Close):
            raise self._fail(RemoteProtocolError(outcome.reason, close_code=outcome.code))
        elif isinstance(outcome, Refuse):
            assert isinstance(message, Start)
            self._queue(Error(id=message.id, errors=[appsync_error(MAX_SUBSCRIPTIONS, outcome.reason)]).formatted())
        # IGNORE: raced with the operation's end

    def _error_id(self, data: str | bytes) -> str | None:
        """The id to blame a malformed message on, unless it names a live operation."""
        try:
            op_id = json.loads(data).get("id")
        except (ValueError, AttributeError, RecursionError):  # pragma: no cover - decoded once already
            return None
        if isinstance(op_id, str) and op_id and op_id not in self._state.operations:
            return op_id
        return None

    def _acknowledge(self) -> None:
        self.send(ConnectionAck(connection_timeout_ms=self.config.connection_timeout_ms))
        if self.config.keep_alive_after_ack:
            self.send(KeepAlive())

    def send(self, message: Message) -> bool:
        """Queue `message`. Returns False when dropped because its operation already ended.

        Raises:
            LocalProtocolError: not ours to send, or not in this state.
        """
        self._check_open()
        allowed = CLIENT_TYPES if self.our_role is Role.CLIENT else SERVER_TYPES
        if message.type not in allowed:
            raise LocalProtocolError(f"a {self.our_role.value} cannot send {message.type!r}")
        if isinstance(message, Start) and message.id in self._state.operations:
            raise LocalProtocolError(f"cannot send 'start': id {message.id!r} is already in use")
        outcome = self._state.process(self.our_role, message)
        if outcome is IGNORE:
            return False
        if isinstance(outcome, (Close, Refuse)):
            raise LocalProtocolError(f"cannot send {message.type!r} now: {outcome.reason}")
        self._queue(message.formatted())
        return True

    RESULT_TYPE = "data"

    def can_send_result(self, op_id: str) -> bool:
        """Whether `op_id` is live (see ConnectionBase.can_send_result)."""
        self._check_open()
        if self.our_role is not Role.SERVER:
            raise LocalProtocolError("send_result_raw needs a server core")
        return self._state.operations.get(op_id) is OpStatus.ACTIVE

    # ---- what the server adapter calls ----------------------------------------------------------

    def accept_start(self, op_id: str) -> bool:
        """The start's authorization and query passed: start_ack. False if it was stopped meanwhile."""
        return self.send(StartAck(id=op_id))

    def reject_start(self, op_id: str, errors: Sequence[AppSyncErrorWire]) -> bool:
        """The start failed (e.g. `UnauthorizedException`, a validation error): error with its id."""
        return self.send(Error(id=op_id, errors=errors))

    def complete_operation(self, op_id: str) -> bool:
        return self.send(Complete(id=op_id))

    def fail_operation(self, op_id: str, message: str, *, error_type: str) -> bool:
        return self.reject_start(op_id, [appsync_error(error_type, message)])

    def keep_alive(self) -> bool:
        """The ka timer fired (AppSync sends ka from the start, even before connection_init)."""
        self._require_server()
        if self._close is not None:
            return False
        return self.send(KeepAlive())

    def reject_connection(
        self,
        message: str = "You are not authorized to make this call.",
        *,
        error_type: str = UNAUTHORIZED,
        error_code: int = 401,
    ) -> CloseConnection:
        """The connection's auth failed after the upgrade: connection_error, then close 4403."""
        self._require_server()
        if self._close is None:
            error = appsync_error(error_type, message, error_code)
            self._queue(ConnectionErrorMessage(errors=[error]).formatted())
        return self.close(CloseCode.FORBIDDEN, message)

    def _require_server(self) -> None:
        if self.our_role is not Role.SERVER:
            raise LocalProtocolError("only the server role decides this")

    def _enter_closed(self) -> None:
        self._state.state = ConnState.CLOSED
        self._events.clear()

    def _drain_operations(self) -> frozenset[str]:
        return self._state.close()
