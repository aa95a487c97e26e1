"""Token buckets per key, in process memory and bounded.

The one token bucket of the code base: the gateway's rate limiter (without Redis) and the
event recorder's per-viewer event budget both spend from it. A key's bucket starts full
(``burst`` tokens) and refills at ``rate`` tokens per second. At most ``max_keys`` buckets are
kept; the least recently used is forgotten first, which only ever hands a viewer a full
bucket again.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["TokenBuckets"]


class TokenBuckets:
    """``take`` spends one token from ``key``'s bucket or says how long until one is there.

    Example usage:
        ```python
        buckets = TokenBuckets()
        wait_s = buckets.take("viewer:u1", rate=5.0, burst=10, now=time.monotonic())
        if wait_s:
            ...  # refused: a token is back in wait_s seconds
        ```
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, *, rate: float, burst: int, now: float) -> float:
        """0.0 when a token was spent; else the seconds until the next token (none spent).

        ``now`` is any clock, as long as a key is always asked with the same one.
        """
        tokens, at = self._state.pop(key, (float(burst), now))
        tokens = min(float(burst), tokens + max(0.0, now - at) * rate)
        if tokens >= 1.0:
            self._state[key] = (tokens - 1.0, now)
            wait_s = 0.0
        else:
            self._state[key] = (tokens, now)
            wait_s = (1.0 - tokens) / rate
        if len(self._state) > self.max_keys:
            self._state.popitem(last=False)
        return wait_s

    def __len__(self) -> int:
        return len(self._state)
