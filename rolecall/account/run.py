"""One conformance run: its id, target, stacks and credential flows, shared by all workers.

The controlling pytest process creates the run (and starts the embedded target);
pytest-xdist workers receive its description in memory and attach to it. A
scenario's stack is provisioned once per run, by whichever process needs it
first, under a file lock; the others read its outputs. The controller tears
every stack down at the end, from the journals, even when tests failed or the
run was interrupted.

The run's state (stack outputs, journals, the cells recorded so far) lives in
`<evidence dir>/<runid>/state/`, readable only by its owner, beside the bundle
that ignores it. Nothing goes to the system temp directory, and the account id
is written only where a later step needs it. `clean_state` removes the folder
at the end unless asked to keep it; journals of resources that could not be
deleted are always kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from rolecall.account import clients, own_stack
from rolecall.account.cleanup import Journal, teardown
from rolecall.account.flows import Flows
from rolecall.account.probes import FOREIGN_PARTITION, ProbeTarget
from rolecall.account.provision import Provisioner, RunSecrets, Stack
from rolecall.account.results import Issued
from rolecall.model.scenario import Scenario
from rolecall.reporting import evidence
from rolecall.reporting.records import now
from rolecall.reporting.redact import redact_text, register_secret

log = logging.getLogger("rolecall.account.run")

ACCOUNT_PLACEHOLDER = "{{account}}"  # the account id in state files; the run knows it in memory
JOURNALS = "*.journal.jsonl"


@dataclass(frozen=True)
class RunConfig:
    """What every process of a run needs to know. Travels to workers in memory only."""

    runid: str
    secret_hex: str
    target: str
    region: str
    account_id: str
    endpoint_url: str | None
    state_dir: str
    propagation_seconds: float = 0.0
    retry_budget: float = 60.0
    started_at: str = ""  # UTC, ISO 8601: the evidence bundle's start of the run

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls(**json.loads(text))

    @staticmethod
    def new_runid() -> str:
        return secrets.token_hex(4)

    @classmethod
    def create(cls, target: clients.Target, evidence_dir: Path,
               runid: str | None = None) -> RunConfig:
        """A new run whose state lives in `<evidence_dir>/<runid>/state/` (mode 700)."""
        runid = runid or cls.new_runid()
        state_dir = evidence_dir / runid / evidence.STATE_DIR
        state_dir.mkdir(parents=True, exist_ok=True)
        state_dir.chmod(0o700)  # stack outputs name the run's resources: owner only
        return cls(runid, secrets.token_hex(32), target.kind, target.region, target.account_id,
                   target.endpoint_url, str(state_dir), target.propagation_seconds,
                   target.retry_budget, now())


class Run:
    """A process's view of the run: its stacks and flows, created on first use."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.secrets = RunSecrets(bytes.fromhex(register_secret(config.secret_hex, "run-key")))
        self.target = self._target()
        self.state_dir = Path(config.state_dir)
        self._stacks: dict[str, Stack] = {}
        self._flows: dict[str, Flows] = {}
        self._seeded: set[tuple[str, str]] = set()  # (table, partition) seeded
        self._journaled: set[tuple[str, str]] = set()  # (table, partition) journaled
        self._lock = threading.Lock()

    def _target(self) -> clients.Target:
        if self.config.target == "emulated" and self.config.endpoint_url:
            return clients.emulated(self.config.endpoint_url)
        session_target = clients.Target("aws", self.config.region, self.config.account_id,
                                        self.config.endpoint_url, self.config.propagation_seconds,
                                        self.config.retry_budget)
        return session_target

    def journal(self, scenario: str) -> Journal:
        return Journal(self.state_dir / f"{scenario}.journal.jsonl")

    def stack(self, scenario: Scenario) -> Stack:
        """The scenario's stack, provisioned once per run across all worker processes."""
        with self._lock:
            if scenario.name not in self._stacks:
                self._stacks[scenario.name] = self._provision_once(scenario)
                own_stack.journal_probe_item(self.state_dir, scenario, self._stacks[scenario.name])
            return self._stacks[scenario.name]

    def _provision_once(self, scenario: Scenario) -> Stack:
        outputs = self.state_dir / f"{scenario.name}.stack.json"
        failed = self.state_dir / f"{scenario.name}.failed"
        with FileLock(str(outputs) + ".lock"):
            if outputs.exists():
                return self._read_stack(outputs)
            if failed.exists():
                raise RuntimeError(f"provisioning scenario {scenario.name} failed earlier in this "
                                   f"run: {failed.read_text()}")
            try:
                stack = Provisioner(self.target, self.config.runid, self.secrets,
                                    self.journal(scenario.name)).provision(scenario)
            except Exception as exc:
                failed.write_text(redact_text(f"{type(exc).__name__}: {exc}"))
                raise
            self._write_stack(outputs, stack)
            return stack

    def _write_stack(self, path: Path, stack: Stack) -> None:
        """Stack outputs for the other workers, the account id (in every ARN) masked."""
        path.write_text(json.dumps(asdict(stack)).replace(self.config.account_id,
                                                          ACCOUNT_PLACEHOLDER))

    def _read_stack(self, path: Path) -> Stack:
        return Stack(**json.loads(path.read_text().replace(ACCOUNT_PLACEHOLDER,
                                                           self.config.account_id)))

    def flows(self, scenario: Scenario) -> Flows:
        stack = self.stack(scenario)
        with self._lock:
            if scenario.name not in self._flows:
                self._flows[scenario.name] = Flows(self.target, stack, self.secrets)
            return self._flows[scenario.name]

    def partition_of(self, scenario: Scenario, partition: str | None, credential: Issued,
                     user: str | None = None) -> str | None:
        """The partition a probe aims at on a partitioned table; the caller's own is seeded
        first, as the app would have it.

        Per-identity: the caller's own partition is keyed by its identity id, known only
        once the pool issued it. Per-tenant: by the user's tenant (the table's tenant claim).
        """
        if partition is None:
            return None
        table = scenario.table
        assert table is not None, "partitioned probes need the scenario's table"
        stack = self.stack(scenario)  # before taking the lock: stack() takes it
        if partition == "other":
            self._journal_partition(scenario, stack, FOREIGN_PARTITION)
            return FOREIGN_PARTITION
        own = (scenario.tenant_of(user or "") if table.partition == "per-tenant"
               else credential.identity_id) or ""
        with self._lock:  # two scenarios' tables may both have a tenant `acme`
            if (stack.table_name, own) not in self._seeded:
                self._journal_partition(scenario, stack, own)
                seed = ProbeTarget.of(stack.table_name, table, own).seed_key
                self.target.client("dynamodb").put_item(TableName=stack.table_name, Item=seed)
                self._seeded.add((stack.table_name, own))
        return own

    def aim(self, scenario: Scenario, partition: str | None, credential: Issued,
            user: str | None = None, on: str | None = None) -> ProbeTarget:
        """Where an access cell's probe aims: the main table (on the cell's partition) with
        the stack's second table beside it, or one of the scenario's other tables (`on`)."""
        stack = self.stack(scenario)
        if on is not None:
            return ProbeTarget.of(stack.other_tables[on], scenario.other_table(on))
        assert scenario.table is not None, "access cells need the scenario's table"
        second = None
        if scenario.other_tables:
            other = scenario.other_tables[0]
            second = ProbeTarget.of(stack.other_tables[other.name], other)
        return ProbeTarget.of(stack.table_name, scenario.table,
                              self.partition_of(scenario, partition, credential, user), second)

    def _journal_partition(self, scenario: Scenario, stack: Stack, partition: str) -> None:
        """A team's table keeps nothing of the run: each partition's items are journaled
        (once per process) before the first write there."""
        if (stack.table_name, partition) not in self._journaled:
            own_stack.journal_partition(self.state_dir, scenario, stack, partition)
            self._journaled.add((stack.table_name, partition))

    def report_meta(self) -> dict[str, Any]:
        """Which run this was, for the evidence bundle (the account is masked there)."""
        config = self.config
        return {"runid": config.runid, "target": config.target, "region": config.region,
                "account": config.account_id, "endpoint_url": config.endpoint_url,
                "started_at": config.started_at or None}

    def teardown_all(self) -> list[str]:
        """Tear down every stack of the run (controller only), all journals at once."""
        failures: list[str] = own_stack.teardown(self.target, self.state_dir)  # test users
        return failures + teardown(self.target, *(Journal(path) for path in
                                                  sorted(self.state_dir.glob(JOURNALS))))

    def clean_state(self, keep: bool = False, forget_journals: bool = False) -> Path | None:
        """Remove the run's state folder, but never a journal of something still standing.

        `forget_journals`: the stacks lived only in an emulator that has stopped, so their
        journals go too. Returns the folder when anything is left in it (kept, or journals
        of leftovers).
        """
        if keep or not self.state_dir.is_dir():
            return self.state_dir if keep and self.state_dir.is_dir() else None
        for path in self.state_dir.iterdir():
            if path.match(JOURNALS) and not forget_journals:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if any(self.state_dir.iterdir()):
            return self.state_dir
        self.state_dir.rmdir()
        with contextlib.suppress(OSError):  # the bundle's folder: removed only when empty
            self.state_dir.parent.rmdir()
        return None
