"""One sync leader per replica file: an OS file lock next to the database.

Every process may read and write the replica (SQLite serialises the transactions); only the
process holding the lock runs the sync loop, so two processes never drain one outbox twice.
The OS releases the lock when its holder dies, even by SIGKILL, so a new leader takes over.
"""

from __future__ import annotations

import fcntl
import os

__all__ = ["LeaderLock"]


class LeaderLock:
    def __init__(self, database: str) -> None:
        self.path = database + ".sync-lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Non-blocking; True if this process is (now) the leader."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
