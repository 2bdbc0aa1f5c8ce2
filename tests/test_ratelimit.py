from __future__ import annotations

from hypothesis import given, strategies as st

from server.ratelimit import Rate, RateLimiter


def test_burst_then_refill() -> None:
    rl = RateLimiter(Rate(rate=2, burst=3))
    assert [rl.take("a", 0.0).allowed for _ in range(4)] == [True, True, True, False]
    d = rl.take("a", 0.0)
    assert not d.allowed and abs(d.retry_after - 0.5) < 1e-9
    assert rl.take("a", 0.5).allowed
    assert not rl.take("a", 0.5).allowed


def test_keys_are_independent() -> None:
    rl = RateLimiter(Rate(rate=1, burst=1))
    assert rl.take("flood", 0).allowed and not rl.take("flood", 0).allowed
    assert rl.take("other", 0).allowed


def test_unlimited() -> None:
    rl = RateLimiter(Rate(rate=0, burst=0))
    assert all(rl.take("a", 0).allowed for _ in range(1000))
    assert len(rl) == 0


def test_memory_is_bounded_under_a_flood_of_keys() -> None:
    rl = RateLimiter(Rate(rate=1, burst=5), max_keys=100)
    for i in range(10_000):
        rl.take(f"ip-{i}", now=i * 0.001)
    assert len(rl) <= 100


@given(st.lists(st.tuples(st.floats(0, 0.5), st.floats(0.1, 3)), max_size=200))
def test_never_more_than_burst_plus_refill(steps: list[tuple[float, float]]) -> None:
    """Invariant: over any interval, allowed requests <= burst + rate * elapsed."""
    rate = Rate(rate=10, burst=5)
    rl = RateLimiter(rate)
    now, allowed = 0.0, 0
    for dt, _ in steps:
        now += dt
        allowed += rl.take("k", now).allowed
    assert allowed <= rate.burst + rate.rate * now + 1e-6
