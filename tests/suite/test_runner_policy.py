"""The shipped runner policy (policies/runner-matrix.json) is sufficient and minimal.

Static plus sampled, so it stays fast enough for every CI run:

- sufficient and static-minimal: the matrix's calls for scenarios that between them
  use every kind of runner call (provisioning, per-identity seeding, self-service on a
  clone, revocations, teardown) run through `--target aws` against an embedded
  endpoint that binds the runner's keys to the policy; the endpoint records every
  action the policy allowed, and the policy's actions must equal that set exactly:
  an action the run never needed is not minimal, one it needed is in the policy (else
  the run would have failed on it).
- sampled removal: for a few actions, provisioning with a policy missing just that
  one stops with an error that names it (SPEC D4's wording, retry.explain_stop).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rolecall.emulator import ACCOUNT_ID, Emulator
from rolecall.model import scenario as scenarios
from rolecall.target import clients
from rolecall.target.provision import Journal, Provisioner, RunSecrets, teardown
from rolecall.target.retry import StopError

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "runner-matrix.json"
# tokens: revocations; escalation-open: self-service (clone users); per-identity: seeding
SCENARIOS = ("tokens", "escalation-open", "per-identity")
RUNNER_ENV = {"AWS_ACCESS_KEY_ID": "AKIARUNNERPOLICYTEST", "AWS_SECRET_ACCESS_KEY": "x",
              "AWS_DEFAULT_REGION": "eu-west-1"}


def policy_actions(document: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in document["Statement"]:
        listed = statement["Action"]
        actions.update(a.lower() for a in ([listed] if isinstance(listed, str) else listed))
    return actions


def test_the_matrix_needs_exactly_the_policys_actions(tmp_path: Path) -> None:
    with Emulator(port=0, runner_policy=str(POLICY)) as running:
        args = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "-n", "0",
                "--target", "aws", "--endpoint-url", running.endpoint, "--aws-account-id",
                ACCOUNT_ID, "--propagation-seconds", "0", "--evidence-dir", str(tmp_path)]
        for name in SCENARIOS:
            args += ["--scenario", name]
        done = subprocess.run(args, cwd=ROOT, env={**os.environ, **RUNNER_ENV,
                                                   "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        used = set(running.state.runner_actions)
    declared = policy_actions(json.loads(POLICY.read_text()))
    assert declared - used == set(), "in the policy but never needed: not minimal"
    assert used - declared == set(), "needed but not in the policy"


@pytest.mark.parametrize("missing", ["iam:PassRole", "dynamodb:TagResource", "iam:PutRolePolicy",
                                     "cognito-idp:CreateGroup"])
def test_provisioning_without_one_action_names_it(tmp_path: Path, missing: str) -> None:
    document = json.loads(POLICY.read_text())
    for statement in document["Statement"]:
        listed = statement["Action"]
        listed = [listed] if isinstance(listed, str) else listed
        statement["Action"] = [a for a in listed if a != missing] or ["sts:GetCallerIdentity"]
    reduced = tmp_path / "reduced.json"
    reduced.write_text(json.dumps(document))
    books = scenarios.load_all(str(ROOT / "scenarios"), ["books"])[0]
    with Emulator(port=0, runner_policy=str(reduced)) as running:
        os.environ.update(RUNNER_ENV)
        target = clients.aws(ACCOUNT_ID, "eu-west-1", running.endpoint, propagation_seconds=0)
        journal = Journal(tmp_path / "books.journal.jsonl")
        with pytest.raises(StopError) as stopped:
            Provisioner(target, "minimal", RunSecrets(b"k" * 32), journal).provision(books)
        assert missing in str(stopped.value)
        teardown(clients.aws(ACCOUNT_ID, "eu-west-1", running.endpoint), journal)
