"""pytest plugin for the redaction test: writes down every secret value a run handles.

It watches boto3 itself, not rolecall: every request parameter and response field
that is a secret (passwords, Logins tokens, web identity tokens, ID, access,
refresh and OIDC tokens, access key ids, secret keys, session tokens), plus the
run's secret key, is appended to `$ROLECALL_SECRET_SPY/secrets-<pid>.tsv` as
`kind<TAB>value`. So a secret rolecall forgot to register is still on the list,
and tests/evidence/test_full_run.py searches the run's outputs for each value.

Loaded with `-p tests.evidence.secret_spy` in the controller and every xdist worker;
the folder must be outside the outputs searched. Does nothing without the variable.

With `ROLECALL_SECRET_SPY_CRASH=<text>` it also breaks every GetId call of a test
whose id contains the text with a RuntimeError, before the call: a cell's assertion
failures read verdict first with no locals (rolecall/reporting/plugin.py), but an
exception that is not an assertion keeps its traceback, and with `-l` every frame's
locals (the Logins, the request parameters) go to the terminal, JUnit and Allure.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

SECRET_FIELDS = {"Password", "PASSWORD", "IdToken", "AccessToken", "RefreshToken", "Token",
                 "WebIdentityToken", "AccessKeyId", "SecretKey", "SecretAccessKey",
                 "SessionToken"}
MIN_LENGTH = 8
_lock = threading.Lock()


def _collect(value: Any, found: list[tuple[str, str]], parent: str = "") -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if isinstance(inner, str) and (key in SECRET_FIELDS or parent == "Logins"):
                found.append((parent if parent == "Logins" else str(key), inner))
            else:
                _collect(inner, found, str(key))
    elif isinstance(value, list | tuple):
        for inner in value:
            _collect(inner, found, parent)


def _writer(folder: Path) -> Any:
    path = folder / f"secrets-{os.getpid()}.tsv"

    def write(found: list[tuple[str, str]]) -> None:
        lines = "".join(f"{kind}\t{value}\n" for kind, value in found
                        if len(value) >= MIN_LENGTH and "\n" not in value)
        if lines:
            with _lock, path.open("a") as handle:
                handle.write(lines)
    return write


def pytest_configure(config: pytest.Config) -> None:
    folder = os.environ.get("ROLECALL_SECRET_SPY")
    if not folder:
        return
    write = _writer(Path(folder))
    make_call = BaseClient._make_api_call

    crash = os.environ.get("ROLECALL_SECRET_SPY_CRASH")

    def spying(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        found: list[tuple[str, str]] = []
        _collect(params, found)
        if crash and operation == "GetId" and crash in os.environ.get("PYTEST_CURRENT_TEST", ""):
            write(found)
            raise RuntimeError(f"secret spy: {operation} broken on purpose, secrets in the locals")
        try:
            response = make_call(self, operation, params)
        finally:
            write(found)
        answer: list[tuple[str, str]] = []
        _collect(response, answer)
        write(answer)
        return response

    BaseClient._make_api_call = spying  # type: ignore[method-assign]

    from rolecall.account import run

    make_run = run.Run.__init__

    def keep_key(self: run.Run, config: run.RunConfig) -> None:
        write([("run-key", config.secret_hex)])
        make_run(self, config)

    run.Run.__init__ = keep_key  # type: ignore[method-assign]
