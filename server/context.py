"""Per-request context: what every resolver sees as `info.context`.

Built by the transport adapter (HTTP today; WebSocket and MQTT later) after the caller's
identity is established, so resolvers never look at transports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from server.auth.identity import Identity
from server.store.base import MutationId, Store


#: `stash` key: the response keys of mutations answered from the exactly-once ledger (a
#: replay), so the real-time layer does not publish their events a second time.
REPLAYED = "syncline.replayed"
#: `stash` key: the response keys of sync queries answered with a base sync; the transport
#: reports them as `extensions.baseSync` (docs/protocol.md, "The sync contract").
BASE_SYNC = "syncline.baseSync"


@dataclass(kw_only=True)
class RequestContext:
    identity: Identity
    store: Store
    #: Request headers, lower-cased names (an HTTP data source / Lambda event forwards them).
    headers: Mapping[str, str] = field(default_factory=dict)
    #: The request's `extensions.mutationId` = {"clientId": str, "seq": int}, validated by the
    #: adapter; a mutation resolver derives its MutationId with `mutation_id_for(key)`.
    client_id: str | None = None
    seq: int | None = None
    #: Free-form per-request scratch space (AppSync's `stash`).
    stash: dict[str, Any] = field(default_factory=dict)

    def mutation_id_for(self, response_key: str) -> MutationId | None:
        """The exactly-once id of one mutation field of this request (None if untagged)."""
        if self.client_id is None or self.seq is None:
            return None
        return MutationId(client_id=self.client_id, seq=self.seq, key=response_key)
