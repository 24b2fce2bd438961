"""The embedded target: a local AWS endpoint for exactly the services rolecall tests.

moto provides user pools, IAM storage, DynamoDB data and STS basics; rolecall
adds what moto lacks (see ../shared/SPEC.md): role claims in ID tokens, a real
cognito-identity service, web-identity STS, and IAM enforcement on DynamoDB.

This package never imports the suite (oracle, scenarios): it is the second,
independent reading of the spec. `tox -e lint` enforces that.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from rolecall.emulator.clock import Clock
from rolecall.emulator.faults import Faults
from rolecall.emulator.realism import Realism, parse
from rolecall.emulator.state import ACCOUNT_ID, EmulatorState

__all__ = ["ACCOUNT_ID", "Clock", "Emulator", "Faults"]


class _QuietHandler(WSGIRequestHandler):
    """Do not print one line per request: a matrix run makes tens of thousands. HTTP/1.1:
    a client keeps its connection (botocore pools them), as AWS's endpoints allow, instead
    of a new TCP connection and a new server thread for every call."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Emulator:
    """One embedded endpoint serving every service on one port, in a background thread.

    >>> emulator = Emulator(port=0).start()   # a free port
    >>> emulator.endpoint                     # 'http://127.0.0.1:<port>'
    >>> emulator.stop()
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Iterable[str] = (),
        clock: Clock | None = None,
        realism: str = "none",
        realism_scale: float = 1.0,
        runner_policy: str | None = None,
    ) -> None:
        """`realism`: AWS's operating conditions (rolecall/emulator/realism/), e.g. "aws";
        `runner_policy`: a policy file bound to every long-term key (else they are admin)."""
        from rolecall.emulator.cognitoidp import patch
        from rolecall.emulator.dynamodb import resource_policies
        from rolecall.emulator.iam import boundaries
        from rolecall.emulator.server import EmulatorApp

        self.state = EmulatorState(clock=clock, faults=Faults(faults),
                                   realism=Realism(parse(realism), realism_scale),
                                   runner_policies=_policies(runner_policy))
        patch.install(self.state)
        resource_policies.install()  # AWS's table policies in moto's DynamoDB (SPEC R1)
        boundaries.install()  # a boundary must be an existing managed policy (SPEC B1)
        self._app = EmulatorApp(self.state)
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return f"http://{self._host}:{self._server.server_port}"

    def start(self, timeout: float = 10.0) -> Emulator:
        """Serve in a daemon thread and return once the endpoint answers."""
        self._server = make_server(self._host, self._port, self._app, threaded=True,
                                   request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="rolecall-emulator")
        self._thread.start()
        self._wait_until_up(timeout)
        return self

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_rolecall/health", timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator at {self.endpoint} did not answer "
                                       f"within {timeout}s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _policies(path: str | None) -> list[dict[str, Any]] | None:
    """The runner policy file: one policy document (or a list of them)."""
    if path is None:
        return None
    document = json.loads(Path(path).read_text())
    return list(document) if isinstance(document, list) else [document]
