"""SigV4 verification of calls signed with emulator-issued sessions (being written)."""

from __future__ import annotations

from rolecall.emulator.state import EmulatorState, Session
from rolecall.emulator.wire import Call


def verify(call: Call, session: Session, state: EmulatorState) -> None:
    raise NotImplementedError
