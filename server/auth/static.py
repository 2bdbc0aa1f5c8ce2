"""The key a fresh project runs with: generated at first start and kept in the data dir.

Every other key (with expiry and description) lives in the registry of
`server.auth.api_keys` (`syncline keys create`); this one never expires, like a key from
SYNCLINE_API_KEY, so a new project works with one command.
"""

from __future__ import annotations

from pathlib import Path

from server.auth.api_keys import generate_key

KEY_FILE = "api-key"


def ensure_api_key(data_dir: Path) -> tuple[str, bool]:
    """Return the project's generated key, creating it on first start (key, created)."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    key = generate_key()
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return key, True
