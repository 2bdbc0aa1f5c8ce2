"""The caller's identity: built once per request or connection, seen by every resolver and store call.

The same `Identity` comes out of HTTP headers, the WebSocket handshake and MQTT CONNECT,
so authorization rules are written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

AuthMode = Literal[
    "API_KEY",
    "OPENID_CONNECT",
    "AMAZON_COGNITO_USER_POOLS",
    "AWS_IAM",
    "AWS_LAMBDA",
    "SYSTEM",
]


@dataclass(frozen=True, kw_only=True)
class Identity:
    """Who is calling, in AppSync's terms.

    `SYSTEM` is Syncline itself (workflow steps, the CLI): it bypasses row rules.
    """

    auth_mode: AuthMode
    username: str | None = None
    sub: str | None = None
    groups: tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(default_factory=dict)
    api_key_id: str | None = None
    source_ip: str | None = None
    resolver_context: Mapping[str, Any] = field(default_factory=dict)
    denied_fields: tuple[str, ...] = ()

    @property
    def is_system(self) -> bool:
        return self.auth_mode == "SYSTEM"

    def to_appsync(self) -> dict[str, Any] | None:
        """The `identity` object of an AppSync resolver / Lambda event (None for API keys)."""
        if self.auth_mode in ("API_KEY", "SYSTEM"):
            return None
        if self.auth_mode == "AWS_LAMBDA":
            return {"resolverContext": dict(self.resolver_context)}
        if self.auth_mode == "AWS_IAM":
            return {
                "username": self.username,
                "userArn": self.claims.get("userArn"),
                "accountId": self.claims.get("accountId"),
                "accessKey": self.claims.get("accessKey"),
                "sourceIp": [self.source_ip] if self.source_ip else [],
                "groups": list(self.groups),
            }
        return {
            "sub": self.sub,
            "username": self.username,
            "issuer": self.claims.get("iss"),
            "claims": dict(self.claims),
            "sourceIp": [self.source_ip] if self.source_ip else [],
            "groups": list(self.groups) or None,
            "defaultAuthStrategy": "ALLOW",
        }


SYSTEM = Identity(auth_mode="SYSTEM", username="syncline")
