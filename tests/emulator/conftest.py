"""Fixtures for the emulator's own tests: a real endpoint, real boto3 clients over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from rolecall.emulator import Clock, Emulator

REGION = "eu-west-1"
ADMIN_KEYS = {"aws_access_key_id": "AKIAADMINADMINADMIN0", "aws_secret_access_key": "admin-secret"}


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One faithful emulator for the whole test session (moto state is process-global)."""
    with Emulator(port=0) as running:
        yield running


ClientFactory = Callable[..., Any]


@pytest.fixture(scope="session")
def admin(emulator: Emulator) -> ClientFactory:
    """`admin("dynamodb")`: a boto3 client signed with admin keys, pointed at the emulator."""

    def make(service: str, **kwargs: Any) -> Any:
        return boto3.client(service, endpoint_url=emulator.endpoint, region_name=REGION,
                            **{**ADMIN_KEYS, **kwargs})

    return make


@pytest.fixture
def faulty_emulator() -> Iterator[Callable[..., Emulator]]:
    """`faulty_emulator("fault-name", clock=...)` starts an extra emulator with faults switched on.

    Note: moto's backends are process-global, so a faulty emulator sees the same
    resources as the faithful one; create fresh, uniquely named resources per test.
    """
    started: list[Emulator] = []

    def start(*faults: str, clock: Clock | None = None) -> Emulator:
        running = Emulator(port=0, faults=faults, clock=clock).start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
