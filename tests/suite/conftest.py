"""Fixtures for the suite library's tests: an embedded target and a run context on it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from rolecall.account import clients
from rolecall.account.cleanup import Journal
from rolecall.account.provision import RunSecrets
from rolecall.emulator import Emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator(port=0) as running:
        yield running


@pytest.fixture
def target(emulator: Emulator) -> clients.Target:
    return clients.emulated(emulator.endpoint)


@pytest.fixture
def run_secrets() -> RunSecrets:
    return RunSecrets(secrets.token_bytes(32))


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.jsonl")
