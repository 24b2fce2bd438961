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
        if seconds < 0:
            raise ValueError("the clock only moves forward; got a negative number of seconds")
        with self._lock:
            if scope:
                self._scoped[scope] = self._scoped.get(scope, 0.0) + seconds
            else:
                self._offset += seconds
