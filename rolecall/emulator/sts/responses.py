"""STS wire handlers (being written)."""

from __future__ import annotations

from rolecall.emulator.state import EmulatorState
from rolecall.emulator.wire import Call


def handle(state: EmulatorState, call: Call) -> bytes:
    raise NotImplementedError
