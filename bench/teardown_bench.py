"""How long teardown of the default matrix takes (printed, not asserted).

    python bench/teardown_bench.py [--latency 0.1]

Provisions every scenario in scenarios/ on the embedded target (as a run does),
then times `cleanup.teardown` over all their journals. The embedded endpoint
answers in a few milliseconds; `--latency` adds that many seconds to every
teardown call, as a real account's round trip does, which is what decides
whether teardown fits in CI's cancel window.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rolecall.account import clients
from rolecall.account.cleanup import Journal, teardown
from rolecall.account.provision import Provisioner, RunSecrets
from rolecall.emulator import Emulator
from rolecall.model import scenario

ROOT = Path(__file__).resolve().parent.parent


class SlowTarget(clients.Target):
    """The embedded target, with `latency` seconds added to every admin call."""

    latency: float = 0.0
    calls: int = 0
    _lock = threading.Lock()

    def client(self, service: str) -> Any:
        made = super().client(service)
        made.meta.events.register("before-send", self._wait)
        return made

    def _wait(self, **_: Any) -> None:
        with self._lock:
            type(self).calls += 1
        time.sleep(self.latency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each call")
    args = parser.parse_args()
    with Emulator(port=0) as emulator, tempfile.TemporaryDirectory() as tmp:
        base = clients.emulated(emulator.endpoint)
        runid, key = secrets.token_hex(4), RunSecrets(secrets.token_bytes(32))
        journals = []
        for each in scenario.load_all(str(ROOT / "scenarios"), []):
            journals.append(Journal(Path(tmp) / f"{each.name}.journal.jsonl"))
            Provisioner(base, runid, key, journals[-1]).provision(each)
        resources = sum(len(j.entries()) for j in journals)
        SlowTarget.latency = args.latency
        target = SlowTarget(base.kind, base.region, base.account_id, base.endpoint_url,
                            _session=base._session)
        started = time.monotonic()
        failures = teardown(target, *journals)
        took = time.monotonic() - started
    print(f"teardown of {len(journals)} stacks ({resources} resources, {SlowTarget.calls} calls, "
          f"+{args.latency:.2f}s each): {took:.2f}s; {len(failures)} failure(s)")


if __name__ == "__main__":
    main()
