"""Token-bucket rate limits per key (identity, IP), sans-IO: the caller passes the time.

A bucket holds up to `burst` tokens and refills at `rate` per second; a request takes one.
When it is empty the caller answers with AppSync's throttling error (HTTP 429,
errorType "ThrottlingException") and `retry_after` tells the client when to try again.
Buckets that are full again are forgotten, so memory stays bounded by active callers, and
`max_keys` caps it under a flood of distinct keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Rate:
    """`rate` tokens per second, at most `burst` at once; rate <= 0 means unlimited."""

    rate: float
    burst: int

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0


class RateLimiter:
    def __init__(self, rate: Rate, *, max_keys: int = 100_000) -> None:
        self.rate = rate
        self._buckets: dict[str, _Bucket] = {}
        self._max_keys = max_keys

    def take(self, key: str, now: float, cost: float = 1.0) -> Decision:
        """Take `cost` tokens from `key`'s bucket at time `now` (seconds, monotonic)."""
        r = self.rate
        if r.unlimited:
            return Decision(True)
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self._max_keys:
                self._sweep(now)
            b = self._buckets[key] = _Bucket(tokens=float(r.burst), at=now)
        else:
            b.tokens = min(float(r.burst), b.tokens + (now - b.at) * r.rate)
            b.at = now
        if b.tokens >= cost:
            b.tokens -= cost
            return Decision(True)
        return Decision(False, retry_after=(cost - b.tokens) / r.rate)

    def _sweep(self, now: float) -> None:
        """Forget buckets that have refilled (they behave exactly like new ones)."""
        r = self.rate
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * r.rate >= r.burst]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self._max_keys:  # still a flood of live keys: drop the oldest
            for k in sorted(self._buckets, key=lambda k: self._buckets[k].at)[: len(self._buckets) // 2]:
                del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)
