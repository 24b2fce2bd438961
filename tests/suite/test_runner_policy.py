"""The shipped runner policy (policies/runner-matrix.json) is sufficient and minimal.

Static plus sampled, so CI can afford it:

- sufficient: `tox -e aws-realism` runs the matrix subset (provisioning, per-identity
  seeding, self-service on a clone user, revocations, teardown: every kind of runner
  call) through `--target aws` on an embedded endpoint that binds the runner's keys to
  the policy; any action missing from it fails the run, naming the action.
- minimal: that run records every action the policy allowed
  (reports/aws-realism/runner-actions.json); `test_the_run_needed_every_action` (run
  by the same tox env, marker `realism`) checks the policy holds nothing else.
- sampled removal: for a few actions, provisioning with a policy missing just that one
  stops with an error that names it (retry.explain_stop, SPEC D4's wording).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rolecall.emulator import ACCOUNT_ID, Emulator
from rolecall.model import scenario as scenarios
from rolecall.target import clients
from rolecall.target.cleanup import Journal, teardown
from rolecall.target.provision import Provisioner, RunSecrets
from rolecall.target.retry import StopError

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "runner-matrix.json"
USED = ROOT / "reports" / "aws-realism" / "runner-actions.json"
RUNNER_ENV = {"AWS_ACCESS_KEY_ID": "AKIARUNNERPOLICYTEST", "AWS_SECRET_ACCESS_KEY": "x",
              "AWS_DEFAULT_REGION": "eu-west-1"}


def policy_actions(document: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in document["Statement"]:
        listed = statement["Action"]
        actions.update(a.lower() for a in ([listed] if isinstance(listed, str) else listed))
    return actions


@pytest.mark.realism
def test_the_run_needed_every_action() -> None:
    assert USED.is_file(), f"{USED} missing: run the matrix first (`tox -e aws-realism`)"
    used = set(json.loads(USED.read_text()))
    declared = policy_actions(json.loads(POLICY.read_text()))
    assert declared - used == set(), "in policies/runner-matrix.json but never needed"
    assert used - declared == set(), "needed but not in the policy (the run should have failed)"


@pytest.mark.parametrize("missing", ["iam:PassRole", "dynamodb:TagResource", "iam:PutRolePolicy",
                                     "cognito-idp:CreateGroup"])
def test_provisioning_without_one_action_names_it(tmp_path: Path, missing: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    document = json.loads(POLICY.read_text())
    for statement in document["Statement"]:
        listed = statement["Action"]
        listed = [listed] if isinstance(listed, str) else listed
        statement["Action"] = [a for a in listed if a != missing] or ["sts:GetCallerIdentity"]
    reduced = tmp_path / "reduced.json"
    reduced.write_text(json.dumps(document))
    books = scenarios.load_all(str(ROOT / "scenarios"), ["books"])[0]
    for key, value in RUNNER_ENV.items():
        monkeypatch.setenv(key, value)
    with Emulator(port=0, runner_policy=str(reduced)) as running:
        target = clients.aws(ACCOUNT_ID, "eu-west-1", running.endpoint, propagation_seconds=0)
        journal = Journal(tmp_path / "books.journal.jsonl")
        with pytest.raises(StopError) as stopped:
            Provisioner(target, "minimal", RunSecrets(b"k" * 32), journal).provision(books)
        assert missing in str(stopped.value)
        teardown(target, journal)
