"""Cleanup against the embedded target: the kind table, parallel teardown, the fail-closed sweeper."""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rolecall.account import cleanup, clients
from rolecall.account.cleanup import Journal, Leftover, ResourceKind
from rolecall.account.provision import Provisioner, RunSecrets
from rolecall.tools import cli
from tests.suite.test_provision import books, ours

NOTHING: dict[str, list[str]] = {"user_pools": [], "identity_pools": [], "roles": [], "tables": []}


def tagged_identity_pool(target: clients.Target, runid: str, tags: dict[str, str]) -> str:
    """An identity pool as some rolecall run might have left it, with these extra tags."""
    pool = target.client("cognito-identity").create_identity_pool(
        IdentityPoolName=f"rc-{runid}-leftover", AllowUnauthenticatedIdentities=False,
        IdentityPoolTags={cleanup.RUN_TAG: runid, **tags})
    return str(pool["IdentityPoolId"])


def of_run(swept: list[Leftover], runid: str) -> list[Leftover]:
    return sorted((left for left in swept if left.runid == runid), key=lambda left: left.ident)


def test_the_sweeper_lists_then_deletes_only_tagged_leftovers(target: clients.Target,
                                                               run_secrets: RunSecrets,
                                                               journal: Journal) -> None:
    runid = secrets.token_hex(4)
    Provisioner(target, runid, run_secrets, journal).provision(books())
    untagged = f"rc-{secrets.token_hex(4)}-not-ours"
    target.client("iam").create_role(RoleName=untagged, AssumeRolePolicyDocument="{}")

    listed = cleanup.sweep(target, timedelta(0), runid=runid)
    assert sorted(left.kind for left in listed.found) == [
        "identity_pool", "identity_pool", "role", "role", "role", "table", "user_pool"]
    assert all(left.created is not None for left in listed.found)
    assert listed.deleted == [] and any(ours(target, runid).values()), "listing must not delete"
    assert cleanup.sweep(target, timedelta(days=1), runid=runid).found == []

    swept = cleanup.sweep(target, timedelta(0), delete=True, runid=runid)
    assert len(swept.deleted) == 7 and swept.failures == []
    assert ours(target, runid) == NOTHING
    assert target.client("iam").get_role(RoleName=untagged)["Role"]["RoleName"] == untagged


def test_the_sweeper_never_deletes_what_it_cannot_date_unless_told(target: clients.Target) -> None:
    """Issue 15.3: no or an unreadable `rolecall:created` tag used to read as 'old enough'."""
    runid = secrets.token_hex(4)
    untagged_age = tagged_identity_pool(target, runid, {})
    garbled_age = tagged_identity_pool(target, runid, {cleanup.CREATED_TAG: "last tuesday"})
    an_hour_old = (datetime.now(UTC) - timedelta(hours=1)).strftime(cleanup.CREATED_FORMAT)
    dated = tagged_identity_pool(target, runid, {cleanup.CREATED_TAG: an_hour_old})

    listed = of_run(cleanup.find_leftovers(target, timedelta(days=365)), runid)
    assert {left.ident: left.created for left in listed} == {untagged_age: None, garbled_age: None}
    dated_now = of_run(cleanup.find_leftovers(target, timedelta(minutes=30)), runid)
    assert {left.ident for left in dated_now if left.created} == {dated}

    swept = cleanup.sweep(target, timedelta(minutes=30), delete=True, runid=runid)
    assert [left.ident for left in swept.deleted] == [dated]
    assert sorted(left.ident for left in swept.unknown_age) == sorted([untagged_age, garbled_age])
    assert len(ours(target, runid)["identity_pools"]) == 2, "undatable pools must survive --delete"

    swept = cleanup.sweep(target, timedelta(minutes=30), delete=True, include_unknown_age=True,
                          runid=runid)
    assert sorted(left.ident for left in swept.deleted) == sorted([untagged_age, garbled_age])
    assert ours(target, runid) == NOTHING


def test_the_sweep_command_says_which_ages_are_unknown(target: clients.Target,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    runid = secrets.token_hex(4)
    pool = tagged_identity_pool(target, runid, {cleanup.CREATED_TAG: "2026-13-45"})
    base = ["sweep", "--target", "emulated", "--endpoint-url", str(target.endpoint_url),
            "--run", runid, "--older-than", "0s"]

    assert cli.main(base) == 0
    out, err = capsys.readouterr()
    assert '"created": "age unknown"' in out and pool in out
    assert "1 of them of unknown age" in err and "a dry run" in err

    assert cli.main([*base, "--delete"]) == 0
    out, err = capsys.readouterr()
    assert "kept: age unknown" in out and "--include-unknown-age to delete them" in err
    assert ours(target, runid)["identity_pools"] == [pool]

    assert cli.main([*base, "--delete", "--include-unknown-age"]) == 0
    out, err = capsys.readouterr()
    assert '"state": "deleted"' in out and "deleted 1" in err
    assert ours(target, runid)["identity_pools"] == []


@pytest.fixture
def slow_deletes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, float, float]]]:
    """Every delete takes 50 ms, as over a network, and is logged: (kind, start, end)."""
    log: list[tuple[str, float, float]] = []

    def slowed(real: Any) -> Any:
        def slowly(self: ResourceKind, client: Any, ident: str) -> None:
            start = time.monotonic()
            time.sleep(0.05)
            real(self, client, ident)
            log.append((self.name, start, time.monotonic()))
        return slowly

    for kind in cleanup.KINDS.values():
        monkeypatch.setattr(type(kind), "delete", slowed(type(kind).delete))
    yield log


def test_teardown_deletes_each_wave_in_parallel_and_roles_after_identity_pools(
        target: clients.Target, run_secrets: RunSecrets, tmp_path: Path,
        slow_deletes: list[tuple[str, float, float]]) -> None:
    runid = secrets.token_hex(4)
    journals = [Journal(tmp_path / f"{n}.journal.jsonl") for n in range(2)]
    for n, journal in enumerate(journals):  # two stacks of one run, as the suite has
        stack = books().model_copy(update={"name": f"books{n}"})
        Provisioner(target, runid, run_secrets, journal).provision(stack)

    assert cleanup.teardown(target, *journals) == []

    assert ours(target, runid) == NOTHING
    assert not any(journal.path.exists() for journal in journals)
    assert len(slow_deletes) == 14
    first_end = min(end for _, _, end in slow_deletes)
    assert sum(start < first_end for _, start, _ in slow_deletes) >= 4, \
        "the first wave's deletes ran one after another"
    last_pool = max(end for kind, _, end in slow_deletes if kind == "identity_pool")
    assert all(start >= last_pool for kind, start, _ in slow_deletes if kind == "role")


def test_a_second_interrupt_does_not_abandon_teardown(
        target: clients.Target, run_secrets: RunSecrets, journal: Journal,
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    runid = secrets.token_hex(4)
    Provisioner(target, runid, run_secrets, journal).provision(books())
    before = signal.getsignal(signal.SIGINT)
    real_delete = cleanup.Tables.delete

    def interrupted(self: ResourceKind, client: Any, ident: str) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C again, then CI's SIGTERM
            os.kill(os.getpid(), sig)
        time.sleep(0.1)  # the main thread handles them while this delete is under way
        real_delete(self, client, ident)

    monkeypatch.setattr(cleanup.Tables, "delete", interrupted)
    assert cleanup.teardown(target, journal) == []

    assert ours(target, runid) == NOTHING
    err = capfd.readouterr().err
    assert "tearing down 7 resource(s)" in err and "teardown is finishing" in err
    assert signal.getsignal(signal.SIGINT) is before, "the usual Ctrl-C comes back afterwards"


def test_a_journal_keeps_exactly_what_could_not_be_deleted(
        target: clients.Target, run_secrets: RunSecrets, journal: Journal,
        monkeypatch: pytest.MonkeyPatch) -> None:
    runid = secrets.token_hex(4)
    stack = Provisioner(target, runid, run_secrets, journal).provision(books())

    def refuse(self: ResourceKind, client: Any, ident: str) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                          "DeleteTable")

    with monkeypatch.context() as patch:
        patch.setattr(cleanup.Tables, "delete", refuse)
        failures = cleanup.teardown(target, journal)
    assert failures == [f"table {stack.table_name}: AccessDeniedException (no)"]  # AWS's words
    assert journal.entries() == [{"kind": "table", "id": stack.table_name}]
    assert ours(target, runid) == {**NOTHING, "tables": [stack.table_name]}

    assert cleanup.teardown(target, journal) == []
    assert not journal.path.exists()


class EphemeralUsers(ResourceKind):
    """What the docstring's recipe gives for ephemeral users in an existing user pool."""

    name, service = "example_user", "cognito-idp"

    def __init__(self, pool_id: str) -> None:
        self.pool_id = pool_id

    def delete(self, client: Any, ident: str) -> None:
        pool_id, username = ident.split("/", 1)
        client.admin_delete_user(UserPoolId=pool_id, Username=username)

    def list_ours(self, client: Any) -> Iterator[Leftover]:
        for page in client.get_paginator("list_users").paginate(UserPoolId=self.pool_id):
            for user in page["Users"]:
                runid = cleanup.runid_of_name(user["Username"])
                if runid:
                    yield Leftover(self.name, f"{self.pool_id}/{user['Username']}", runid,
                                   cleanup.created_at({}, user.get("UserCreateDate")))


def test_a_new_kind_is_one_class_and_one_registration(target: clients.Target, journal: Journal,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    idp = target.client("cognito-idp")
    pool_id = idp.create_user_pool(PoolName="someone-elses-pool")["UserPool"]["Id"]
    monkeypatch.setattr(cleanup, "KINDS", dict(cleanup.KINDS))
    users = cleanup.register(EphemeralUsers(pool_id))
    runids = [secrets.token_hex(4) for _ in range(2)]
    for runid in runids:
        idp.admin_create_user(UserPoolId=pool_id, Username=f"rc-{runid}-alice",
                              MessageAction="SUPPRESS")
    idp.admin_create_user(UserPoolId=pool_id, Username="a-real-user", MessageAction="SUPPRESS")
    journal.record(users, f"{pool_id}/rc-{runids[0]}-alice")

    assert cleanup.teardown(target, journal) == []
    found = cleanup.sweep(target, timedelta(0), delete=True, runid=runids[1])
    assert [left.ident for left in found.deleted] == [f"{pool_id}/rc-{runids[1]}-alice"]
    assert [u["Username"] for u in idp.list_users(UserPoolId=pool_id)["Users"]] == ["a-real-user"]
    with pytest.raises(ValueError, match="already registered"):
        cleanup.register(EphemeralUsers(pool_id))


def test_the_journal_refuses_a_kind_teardown_would_not_know(journal: Journal) -> None:
    class Unregistered(cleanup.Tables):
        name = "not_in_the_table"

    with pytest.raises(ValueError, match=r"register it in rolecall/account/cleanup\.py"):
        journal.record(Unregistered(), "x")
    assert not journal.path.exists()
