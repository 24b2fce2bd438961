"""IAM authorization of DynamoDB calls (being written)."""

from __future__ import annotations

from rolecall.emulator.state import EmulatorState, Session
from rolecall.emulator.wire import Call


def authorize(state: EmulatorState, call: Call, session: Session) -> None:
    raise NotImplementedError
