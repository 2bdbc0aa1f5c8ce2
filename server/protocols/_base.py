"""The I/O-free plumbing every core shares: an inbox of received frames, an outbox of frames to
write, and the close decision. Protocol rules live in the subclasses and their `_state` tables."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

from server.protocols._common import ProtocolConfig, Role, encode
from server.protocols._errors import CloseCode, CloseConnection, LocalProtocolError, ProtocolError


class ConnectionBase:
    """Frames in with `receive_data`, frames out with `data_to_send`; no sockets, no clocks.

    The protocol-neutral part of every core, so the adapter and the subscription registry can
    drive any of the three alike: `next_event`, `send_result_raw`, `complete_operation`,
    `fail_operation`, `close`, `connection_lost`.
    """

    def __init__(self, our_role: Role, config: ProtocolConfig | None = None) -> None:
        self.our_role = our_role
        self.their_role = our_role.peer
        self.config = config if config is not None else ProtocolConfig()
        self._inbox: deque[str | bytes] = deque()
        self._outbox: list[str] = []
        self._close: CloseConnection | None = None

    # ---- input -------------------------------------------------------------------------------

    def receive_data(self, data: str | bytes) -> None:
        """Feed one complete WebSocket message (text or binary). Ignored once the core closed."""
        if self._close is None:
            self._inbox.append(data)

    # ---- output ------------------------------------------------------------------------------

    def data_to_send(self) -> list[str]:
        """The frames to write, in order, and forget them (write each as one text message)."""
        out, self._outbox = self._outbox, []
        return out

    def _queue(self, wire: Mapping[str, Any]) -> None:
        self._outbox.append(encode(wire))

    # ---- closing -----------------------------------------------------------------------------

    @property
    def closed(self) -> CloseConnection | None:
        """The close frame the core decided on, or None while the connection is open."""
        return self._close

    def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> CloseConnection:
        """Close on our own initiative (shutdown 1001, slow consumer 4503, ...). Idempotent:
        a second call returns the first decision."""
        if self._close is None:
            self._close = CloseConnection(int(code), reason)
            self._inbox.clear()
            self._enter_closed()
        return self._close

    def connection_lost(self) -> frozenset[str]:
        """The socket is gone (either side closed it). Returns the operation ids that were still
        active, so the adapter can end their subscriptions."""
        if self._close is None:
            self._close = CloseConnection(CloseCode.NORMAL, "connection lost")
            self._inbox.clear()
            self._enter_closed()
        return self._drain_operations()

    def _fail(self, exc: ProtocolError) -> ProtocolError:
        """Record the close an error implies and hand the error back for raising."""
        self.close(exc.close_code, exc.reason)
        return exc

    def _check_open(self) -> None:
        if self._close is not None:
            raise LocalProtocolError(f"cannot send: the connection is closed ({self._close.code})")

    # ---- the protocol-neutral operations each core implements ---------------------------------

    def next_event(self) -> object:
        """The next message from the peer, or NEED_DATA (see each core)."""
        raise NotImplementedError

    #: The `type` of this protocol's result message ("next" or "data").
    RESULT_TYPE: ClassVar[str] = "data"

    def send_result_raw(self, op_id: str, payload_json: str) -> bool:
        """Fan-out fast path: one execution result (`{"data": ..., "errors"?: ...}`) already
        serialised once for a whole group, wrapped in this protocol's result message for `op_id`.

        Returns:
            False (nothing queued) when `op_id` is not live: the client stopped it meanwhile.
        """
        if not self.can_send_result(op_id):
            return False
        self._outbox.append(self.result_message(op_id, payload_json))
        return True

    def can_send_result(self, op_id: str) -> bool:
        """Whether a result for `op_id` may be sent now (False: the client stopped it).

        With `result_message`, lets an adapter encode a group's frame once per op id and write
        the same bytes to many connections instead of calling `send_result_raw` on each.

        Raises:
            LocalProtocolError: the core is closed, not a server, or not yet acknowledged.
        """
        raise NotImplementedError

    @classmethod
    def result_message(cls, op_id: str, payload_json: str) -> str:
        """The text `send_result_raw` queues: the same for every connection of this protocol."""
        return f'{{"id":{json.dumps(op_id)},"type":"{cls.RESULT_TYPE}","payload":{payload_json}}}'

    def complete_operation(self, op_id: str) -> bool:
        """The server ends `op_id` normally (a query's result was sent, the source stream ended).
        False when it was no longer live."""
        raise NotImplementedError

    def fail_operation(self, op_id: str, message: str, *, error_type: str) -> bool:
        """End `op_id` with one error in this protocol's error shape (`error_type` is AppSync's
        `errorType`, e.g. "Unauthorized"). False when it was no longer live."""
        raise NotImplementedError

    # ---- protocol hooks ----------------------------------------------------------------------

    def _enter_closed(self) -> None:
        raise NotImplementedError

    def _drain_operations(self) -> frozenset[str]:
        raise NotImplementedError
