"""Provisioning against the embedded target: names, tags, teardown, the account guard.

The sweeper and teardown's own rules are in test_cleanup.py.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from rolecall.account import cleanup, clients
from rolecall.account.cleanup import Journal
from rolecall.account.provision import Provisioner, RunSecrets
from rolecall.emulator import ACCOUNT_ID, Emulator
from rolecall.model import scenario

ROOT = Path(__file__).resolve().parents[2]


def books() -> scenario.Scenario:
    return scenario.load(ROOT / "scenarios" / "books.yaml")


def listed(target: clients.Target, service: str, operation: str, key: str,
           **kwargs: Any) -> list[Any]:
    """Every page of a list call: the embedded target's state is shared by all the tests of
    an xdist worker, so other tests' resources can push a run's past the first page."""
    pages = target.client(service).get_paginator(operation).paginate(**kwargs)
    return [item for page in pages for item in page[key]]


def ours(target: clients.Target, runid: str) -> dict[str, list[str]]:
    """Every resource on the target whose name carries this run id."""
    prefix = f"rc-{runid}-"
    return {
        "user_pools": [p["Id"] for p in listed(target, "cognito-idp", "list_user_pools",
                                               "UserPools", MaxResults=60)
                       if p["Name"].startswith(prefix)],
        "identity_pools": [p["IdentityPoolId"] for p in
                           listed(target, "cognito-identity", "list_identity_pools",
                                  "IdentityPools", MaxResults=60)
                           if p["IdentityPoolName"].startswith(prefix)],
        "roles": [r["RoleName"] for r in listed(target, "iam", "list_roles", "Roles")
                  if r["RoleName"].startswith(prefix)],
        "tables": [t for t in listed(target, "dynamodb", "list_tables", "TableNames")
                   if t.startswith(prefix)],
    }


def test_a_stack_is_named_tagged_and_fully_torn_down(target: clients.Target,
                                                      run_secrets: RunSecrets,
                                                      journal: Journal) -> None:
    runid = secrets.token_hex(4)
    stack = Provisioner(target, runid, run_secrets, journal).provision(books())
    created = ours(target, runid)
    assert {k: len(v) for k, v in created.items()} == {
        "user_pools": 1, "identity_pools": 2, "roles": 3, "tables": 1}
    assert stack.table_name == f"rc-{runid}-books-books"
    pool = target.client("cognito-identity").describe_identity_pool(
        IdentityPoolId=stack.identity_pools["token-deny"])
    assert pool["IdentityPoolTags"][cleanup.RUN_TAG] == runid
    assert pool["AllowClassicFlow"] is False

    assert cleanup.teardown(target, journal) == []
    assert ours(target, runid) == {"user_pools": [], "identity_pools": [], "roles": [], "tables": []}
    assert not journal.path.exists()


def test_a_run_that_dies_mid_provisioning_leaves_nothing_after_teardown(
        target: clients.Target, run_secrets: RunSecrets, journal: Journal,
        monkeypatch: pytest.MonkeyPatch) -> None:
    runid = secrets.token_hex(4)

    def die(*_: Any) -> None:
        raise KeyboardInterrupt  # the operator pressed Ctrl-C while groups were being made

    monkeypatch.setattr(Provisioner, "_group", die)
    with pytest.raises(KeyboardInterrupt):
        Provisioner(target, runid, run_secrets, journal).provision(books())
    assert any(ours(target, runid).values())
    assert cleanup.teardown(target, journal) == []
    assert not any(ours(target, runid).values())


def test_teardown_twice_is_harmless(target: clients.Target, run_secrets: RunSecrets,
                                    journal: Journal, tmp_path: Path) -> None:
    runid = secrets.token_hex(4)
    Provisioner(target, runid, run_secrets, journal).provision(books())
    copy = Journal(tmp_path / "copy.jsonl")
    copy.path.write_text(journal.path.read_text())
    assert cleanup.teardown(target, journal) == []
    assert cleanup.teardown(target, copy) == []  # everything already gone: no error


def test_the_aws_target_refuses_another_account(emulator: Emulator,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with pytest.raises(clients.TargetError, match="refusing") as refused:
        clients.aws("999999999999", "eu-west-1", emulator.endpoint)
    assert "999999999999" not in str(refused.value)  # account ids are masked
    assert f"account {clients.mask(ACCOUNT_ID)}, not 99******9999 given" in str(refused.value)
    with pytest.raises(clients.TargetError, match="--aws-account-id"):
        clients.aws(None, "eu-west-1", emulator.endpoint)
    target = clients.aws(ACCOUNT_ID, "eu-west-1", emulator.endpoint, propagation_seconds=0)
    assert (target.kind, target.account_id) == ("aws", ACCOUNT_ID)


def test_passwords_derive_from_the_run_key_and_are_not_stored(tmp_path: Path) -> None:
    key = RunSecrets(b"k" * 32)
    assert key.password("s", "u") == RunSecrets(b"k" * 32).password("s", "u")
    assert key.password("s", "u") != RunSecrets(b"j" * 32).password("s", "u")
    assert key.password("s", "u") != key.password("s", "v")


@pytest.mark.parametrize(("given", "says"), [
    # one digit too many: the masks show the lengths and the first digits differ
    ("0" + ACCOUNT_ID, f"--aws-account-id 0{ACCOUNT_ID[:1]}*******{ACCOUNT_ID[-4:]} is 13 "
                       "characters long; an AWS account id is exactly 12 digits"),
    ("1234-5678-9012", "is 14 characters long"),
])
def test_the_account_guard_says_what_is_wrong_with_the_id(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch, given: str, says: str) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with pytest.raises(clients.TargetError) as refused:
        clients.aws(given, "eu-west-1", emulator.endpoint)
    assert says in str(refused.value)
    assert given not in str(refused.value)


def test_account_ids_in_messages_differ_when_the_ids_do() -> None:
    """Issue 15.6: 0123456789012 and 123456789012 both printed as ********9012."""
    assert clients.mask("123456789012") == "12******9012"
    assert clients.mask("0123456789012") == "01*******9012"
    assert clients.mask("0123456789012") != clients.mask("123456789012")
    assert clients.mask("12") == "**"
    # ids that differ only in the hidden middle: the guard names the digit instead
    assert clients._where_they_differ("123456789012", "123450789012") == " (they differ at digit 6)"
    assert clients._where_they_differ("123456789012", "993456789012") == ""
