"""The emulator's clock.

Every expiry decision the emulator makes (ID tokens, OIDC tokens, issued
sessions) reads this clock, so tests move time forward instead of sleeping.
Tokens minted by moto use the wall clock; advancing this clock makes them look
older, which is exactly what an expiry test needs.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

MAX_ADVANCE = 10 * 365 * 24 * 3600  # ten years at a time: far beyond any token or session lifetime


class Clock:
    """Wall-clock time plus an offset that tests (or the control endpoint) can advance.

    An offset can also be scoped: to a user pool (time passes only for the ID tokens
    it issued) or to an identity pool (only for the sessions issued for it). A
    conformance run uses that to expire one scenario's tokens or credentials while
    the other scenarios' cells keep running against the same endpoint.
    """

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._scoped: dict[str, float] = {}
        self._lock = threading.Lock()

    def now(self, scope: str | None = None) -> float:
        """Seconds since the epoch, as the emulator sees them (for `scope`, if given)."""
        return time.time() + self._offset + self._scoped.get(scope or "", 0.0)

    def advance(self, seconds: float, scope: str | None = None) -> None:
        """Move the clock forward (never backward: AWS time does not run back)."""
        if not is_duration(seconds):
            raise ValueError("the clock only moves forward, by a finite number of seconds; "
                             f"got {seconds!r}")
        with self._lock:
            if scope:
                self._scoped[scope] = self._scoped.get(scope, 0.0) + seconds
            else:
                self._offset += seconds


def is_duration(value: Any) -> bool:
    """A number of seconds the clock can move by: a finite, non-negative int or float (not a bool).

    NaN compares false with everything, so `value < 0` lets it through, and a
    session whose expiry is compared with a NaN clock never expires; infinity or
    a huge int would push timestamps past what datetime can render.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return 0 <= value <= MAX_ADVANCE and not math.isnan(value)
