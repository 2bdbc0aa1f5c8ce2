"""The first auth mode: API keys known at start (config, SYNCLINE_API_KEY, or generated).

The full authorization layer (key registry with expiry, OIDC, SigV4, Lambda authorizers)
lives beside this module; this one is what a fresh project runs with.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Iterable, Mapping

from server.auth.identity import Identity
from server.errors import Unauthorized

KEY_FILE = "api-key"


def generate_api_key() -> str:
    """An AppSync-looking key (`da2-` + 26 lowercase alphanumerics)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "da2-" + "".join(secrets.choice(alphabet) for _ in range(26))


def ensure_api_key(data_dir: Path) -> tuple[str, bool]:
    """Return the project's generated key, creating it on first start (key, created)."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    key = generate_api_key()
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return key, True


class StaticKeyAuthenticator:
    """Accepts requests whose `x-api-key` header equals one of the given keys."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = [k.encode() for k in keys if k]

    async def authenticate(
        self,
        headers: Mapping[str, str],
        *,
        method: str = "POST",
        path: str = "/graphql",
        query: str = "",
        body: bytes = b"",
        source_ip: str | None = None,
    ) -> Identity:
        sent = headers.get("x-api-key")
        if not sent:
            raise Unauthorized("missing x-api-key header")
        candidate = sent.encode()
        # Compare against every key so timing does not tell which prefix matched.
        ok = False
        for key in self._keys:
            ok |= hmac.compare_digest(candidate, key)
        if not ok:
            raise Unauthorized("invalid API key")
        key_id = hashlib.sha256(candidate).hexdigest()[:12]
        return Identity(auth_mode="API_KEY", api_key_id=key_id, source_ip=source_ip)
