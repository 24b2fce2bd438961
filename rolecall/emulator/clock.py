"""The emulator's clock.

Every expiry decision the emulator makes (ID tokens, OIDC tokens, issued
sessions) reads this clock, so tests move time forward instead of sleeping.
Tokens minted by moto use the wall clock; advancing this clock makes them look
older, which is exactly what an expiry test needs.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall-clock time plus an offset that tests (or the control endpoint) can advance."""

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, as the emulator sees them."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never backward: AWS time does not run back)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward; got a negative number of seconds")
        with self._lock:
            self._offset += seconds
