"""End to end: `pytest suites --identity-pool-id ... --entitlements ... --endpoint-url ...`.

The team's stack runs on an embedded target the test started; the suite runs in
a subprocess pointed at it, as a team points it at `rolecall emulator` or AWS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.discovery.conftest import ROOT, Running, TeamStack, build, entitlements_text

PYTHON = [sys.executable, "-m"]


def suites(team: TeamStack, entitlements: Path, tmp: Path, *extra: str,
           env: dict[str, str] | None = None) -> tuple[int, str, dict[str, bool]]:
    """Run the conformance suite on the team's stack; exit code, output, test id -> passed."""
    junit = tmp / "junit.xml"
    done = subprocess.run(
        [*PYTHON, "pytest", "suites", "-q", "-p", "no:cacheprovider", "--identity-pool-id",
         team.pool_id, "--entitlements", str(entitlements), "--endpoint-url", team.endpoint,
         "--evidence-dir", str(tmp / "reports"), f"--junitxml={junit}", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    results: dict[str, bool] = {}
    if junit.exists():
        for case in ET.parse(junit).iter("testcase"):
            cell = case.get("name", "").split("[", 1)[-1].rstrip("]")
            results[cell] = case.find("failure") is None and case.find("error") is None
    return done.returncode, done.stdout + done.stderr, results


def write(tmp: Path, text: str) -> Path:
    path = tmp / "entitlements.yaml"
    path.write_text(text)
    return path


def test_reviewed_entitlements_are_green_and_users_are_gone(team: TeamStack, tmp_path: Path) -> None:
    before = team.users()
    code, output, results = suites(team, write(tmp_path, entitlements_text(team)), tmp_path)
    assert code == 0, output[-3000:]
    prefix = f"rc-{team.stack.runid}-seed-admin-e-"
    assert all(cell.startswith(prefix) for cell in results)
    kinds = {cell.split("-")[-1] for cell in results}
    assert {"escalation", "PutItem", "editors", "anonymous"} <= kinds
    assert len(results) == 70  # 65, the identity-id cell (issue 13, E1), 4 audit cells (issue 22)
    assert team.users() == before  # test users deleted, the team's own untouched


def test_one_changed_action_fails_exactly_its_cells(team: TeamStack, tmp_path: Path) -> None:
    text = entitlements_text(team).replace("[GetItem, BatchGetItem, Query, PutItem,",
                                           "[GetItem, BatchGetItem, Query,")
    code, _, results = suites(team, write(tmp_path, text), tmp_path, "-k", "editors and not admins")
    failed = sorted(cell.rsplit("-", 1)[-1] for cell, ok in results.items() if not ok)
    assert code == 1
    assert failed == ["PutItem", "TransactWriteItems", "escalation"]  # TransactWrite needs PutItem


def test_a_stated_role_against_the_spec_stops_the_run(team: TeamStack, tmp_path: Path) -> None:
    admin, editor = team.role("rbac-users-admin-role"), team.role("rbac-users-editor-role")
    text = entitlements_text(team).replace(f"[rbac-admins, rbac-editors], role: {admin}",
                                           f"[rbac-admins, rbac-editors], role: {editor}")
    before = team.users()
    code, output, _ = suites(team, write(tmp_path, text), tmp_path)
    assert code == 4 or code == 2, output  # pytest.UsageError
    assert "personas.admins-editors.role" in output and "SPEC rule E7b" in output
    assert team.users() == before


def test_client_without_admin_auth_flow_stops_before_creating_anything(
        emulator: Running, tmp_path: Path) -> None:
    team = build(emulator, tmp_path, admin_flow=False)
    before = team.users()
    code, output, _ = suites(team, write(tmp_path, entitlements_text(team)), tmp_path)
    assert code in (2, 4), output
    assert "ExplicitAuthFlows" in output and "ALLOW_ADMIN_USER_PASSWORD_AUTH" in output
    assert "ROLECALL_PASSWORD_<PERSONA>" in output
    assert team.users() == before


def test_supplied_users_sign_in_with_their_own_password(emulator: Running, tmp_path: Path) -> None:
    """The alternative: the team's own test user, its password from the environment only."""
    team = build(emulator, tmp_path, admin_flow=False)
    idp = team.target.client("cognito-idp")
    password = "Supplied!Pass123"
    idp.admin_create_user(UserPoolId=team.stack.user_pool_id, Username="alice",
                          MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=team.stack.user_pool_id, Username="alice",
                                Password=password, Permanent=True)
    idp.admin_add_user_to_group(UserPoolId=team.stack.user_pool_id, Username="alice",
                                GroupName="rbac-editors")
    editor = team.role("rbac-users-editor-role")
    text = (f"personas:\n  editors:\n    user: alice\n    groups: [rbac-editors]\n"
            f"    role: {editor}\n    allow: {{{team.stack.table_name}: [GetItem, BatchGetItem, "
            "Query, PutItem, UpdateItem, ConditionCheckItem, DescribeTable]}\n")
    code, output, results = suites(team, write(tmp_path, text), tmp_path, "-k",
                                   "not escalation and not audit",
                                   env={"ROLECALL_PASSWORD_EDITORS": password})
    assert code == 0, output[-3000:]
    assert password not in output and results
    assert team.users() == ["admin", "alice", "editor"]  # alice is the team's: kept


def test_interrupted_run_leaves_no_user_after_sweep(team: TeamStack, tmp_path: Path) -> None:
    before = team.users()
    run = subprocess.Popen(
        [*PYTHON, "pytest", "suites", "-q", "-p", "no:cacheprovider", "--identity-pool-id",
         team.pool_id, "--entitlements", str(write(tmp_path, entitlements_text(team))),
         "--endpoint-url", team.endpoint, "--evidence-dir", str(tmp_path / "reports")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(team.users()) < len(before) + 4 and time.time() < deadline:
        time.sleep(0.2)
    run.send_signal(signal.SIGKILL)  # worse than Ctrl-C: no teardown at all
    run.wait(timeout=30)
    left = [u for u in team.users() if u.startswith("rc-")]
    assert left, "the run was killed before it created its users"
    sweep = subprocess.run(
        [*PYTHON, "rolecall.tools.cli", "sweep", "--identity-pool-id", team.pool_id,
         "--endpoint-url", team.endpoint, "--older-than", "0s", "--delete"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert sweep.returncode == 0, sweep.stderr
    assert f"deleted {len(left)} rolecall test user(s)" in sweep.stderr
    assert team.users() == before


@pytest.mark.parametrize("args", [["--stack", "NoSuchStack"],
                                  ["--identity-pool-id", "us-east-2:00000000-0000-0000-0000-000000000000"]])
def test_unknown_stack_is_a_usage_error(team: TeamStack, tmp_path: Path, args: list[str]) -> None:
    done = subprocess.run(
        [*PYTHON, "pytest", "suites", "-q", "-p", "no:cacheprovider", *args, "--entitlements",
         str(write(tmp_path, entitlements_text(team))), "--endpoint-url", team.endpoint,
         "--evidence-dir", str(tmp_path / "reports")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage-error exit code
    assert "Fix:" in done.stderr
