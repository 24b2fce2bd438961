"""Token buckets at AWS's documented rates: a call over the rate gets the service's throttle error.

One bucket per quota category (quotas.py), holding one second of burst and
refilling at the quota's rate, which is how AWS describes its request-rate
quotas ("requests per second", bursts absorbed up to the rate). Thread-safe:
the emulator serves requests on many threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rolecall.emulator.errors import AwsError
from rolecall.emulator.realism.quotas import THROTTLE_ERRORS, quota_for


class Bucket:
    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Throttle:
    """Refuses calls beyond each operation's quota; `rate_scale` < 1 tightens every quota."""

    def __init__(self, rate_scale: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_scale = rate_scale
        self.clock = clock
        self.throttled = 0
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def admit(self, service: str, operation: str) -> None:
        quota = quota_for(service, operation)
        if quota is None:
            return
        key = f"{service}:{quota.bucket}"
        with self._lock:
            now = self.clock()
            bucket = self._buckets.setdefault(key, Bucket(max(1.0, quota.rps * self.rate_scale), now))
            if bucket.take(now):
                return
            self.throttled += 1
        code, status, message = THROTTLE_ERRORS[service]
        raise AwsError(code, message, status)
