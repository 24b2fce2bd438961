"""cognito-identity wire handlers (being written)."""

from __future__ import annotations

from typing import Any

from rolecall.emulator.state import EmulatorState
from rolecall.emulator.wire import Call


def handle(state: EmulatorState, call: Call) -> dict[str, Any]:
    raise NotImplementedError
