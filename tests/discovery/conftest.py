"""A team's stack on the embedded target, built by the Provisioner, for discovery to read.

The stack is seed-admin-editor (seed 001): two groups with roles by precedence, a
Token mapping with Deny, a table. Its app client is given
ALLOW_ADMIN_USER_PASSWORD_AUTH, as a team's client must for rolecall's own users.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rolecall.account import clients
from rolecall.account.cleanup import Journal
from rolecall.account.provision import Provisioner, RunSecrets, Stack
from rolecall.model import scenario as sc

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class TeamStack:
    endpoint: str
    target: clients.Target
    stack: Stack  # what the Provisioner built (the test's knowledge, not discovery's)

    @property
    def pool_id(self) -> str:
        return next(iter(self.stack.identity_pools.values()))

    def role(self, logical: str) -> str:
        return self.stack.roles[logical].rsplit("/", 1)[-1]

    def users(self) -> list[str]:
        idp = self.target.client("cognito-idp")
        return sorted(u["Username"] for u in idp.list_users(UserPoolId=self.stack.user_pool_id)["Users"])


@dataclass
class Running:
    """A `rolecall emulator` in its own process, as a team runs it (`--port`, any client)."""

    endpoint: str


@pytest.fixture(scope="session")
def emulator() -> Iterator[Running]:
    """Its own process: moto's state is global to a process, so an in-process emulator would
    share stacks with the other tests' emulators (tests/emulator deploys the same seeds)."""
    process = subprocess.Popen([sys.executable, "-m", "rolecall.tools.cli", "emulator", "--port",
                                "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    assert match, f"the emulator did not start: {line!r}"
    try:
        yield Running(match.group(1))
    finally:
        process.terminate()
        process.wait(timeout=30)


def build(emulator: Running, tmp: Path, admin_flow: bool = True) -> TeamStack:
    target = clients.emulated(emulator.endpoint)
    scenario = sc.load(ROOT / "scenarios" / "seed-admin-editor.yaml")
    stack = Provisioner(target, secrets.token_hex(4), RunSecrets(secrets.token_bytes(16)),
                        Journal(tmp / "journal.jsonl")).provision(scenario)
    if admin_flow:
        idp = target.client("cognito-idp")
        client = idp.describe_user_pool_client(UserPoolId=stack.user_pool_id,
                                               ClientId=stack.client_id)["UserPoolClient"]
        idp.update_user_pool_client(
            UserPoolId=stack.user_pool_id, ClientId=stack.client_id, ClientName=client["ClientName"],
            ExplicitAuthFlows=[*client["ExplicitAuthFlows"], "ALLOW_ADMIN_USER_PASSWORD_AUTH"])
    return TeamStack(emulator.endpoint, target, stack)


@pytest.fixture(scope="session")
def team(emulator: Running, tmp_path_factory: pytest.TempPathFactory) -> TeamStack:
    return build(emulator, tmp_path_factory.mktemp("team"))


def entitlements_text(team: TeamStack) -> str:
    """The hand-written entitlements of seed 001, reviewed against the article."""
    table = team.stack.table_name
    admin, editor = team.role("rbac-users-admin-role"), team.role("rbac-users-editor-role")
    return f"""\
stack: seed-admin-editor
personas:
  admins: {{groups: [rbac-admins], role: {admin}, allow: {{{table}: ["*"]}}}}
  admins-editors: {{groups: [rbac-admins, rbac-editors], role: {admin}, allow: {{{table}: ["*"]}}}}
  editors:
    groups: [rbac-editors]
    role: {editor}
    allow: {{{table}: [GetItem, BatchGetItem, Query, PutItem, UpdateItem, ConditionCheckItem, DescribeTable]}}
  no-group: {{groups: [], role: refused}}
  guest: {{guest: true, role: refused, allow: {{}}}}
accepted_findings:
  - {{check: classic-flow-multiple-roles, subject: {team.stack.scenario and variant_of(team)},
     reason: "seed 001: the Token mapping refuses the basic flow (C3)"}}
"""


def variant_of(team: TeamStack) -> str:
    """The variant name discovery gives the stack's one app client (its name, lower case)."""
    return f"rc-{team.stack.runid}-seed-admin-editor-app"
