"""A sliding-window request limit, as Microsoft Graph applies to its report APIs.

Identity and access reports (sign-in logs among them) allow **5 requests per 10
seconds per app per tenant** (microsoft-graph-docs-contrib ``concepts/throttling-limits.md``,
"Identity and access reports service limits"; docs/simulator.md (Exchange admin API facts, with their public sources),
"Corrections found in the 2026-12 audit"). Over it Graph answers 429 with a
``Retry-After`` in whole seconds (``concepts/throttling.md``).

How Graph counts inside the window is not published. The sim assumes a sliding window
over the requests it answered: a refused request does not count, so a client that
waits the ``Retry-After`` it was given gets through (docs/simulator.md, assumptions).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` in any ``window_s`` seconds, per key."""

    requests: int
    window_s: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window_s <= 0:
            raise ValueError("a rate limit needs requests >= 1 and window_s > 0")


# The real numbers for Graph's identity and access reports (see the module docstring).
GRAPH_REPORTS_LIMIT = RateLimit(requests=5, window_s=10.0)


class SlidingWindow:
    """Thread-safe: remembers when each key's admitted requests arrived."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[Hashable, deque[float]] = {}

    def admit(self, key: Hashable, limit: RateLimit | None) -> int | None:
        """None if the request may go ahead (it is counted); otherwise the
        ``Retry-After`` to answer: whole seconds until a slot frees, at least 1."""
        if limit is None:
            return None
        now = self._clock()
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - limit.window_s:
                seen.popleft()
            if len(seen) < limit.requests:
                seen.append(now)
                return None
            # Whole seconds, rounded up: a client that waits exactly this long fits.
            return max(1, math.ceil(seen[0] + limit.window_s - now))

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()
