"""Patches to moto's cognito-idp (being written)."""

from __future__ import annotations

from rolecall.emulator.state import EmulatorState


def install(state: EmulatorState) -> None:
    return None
