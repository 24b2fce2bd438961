"""Classic-flow personas on a team's own stack (issue 24.1), with and without RoleMappings.

A persona with `flow: classic` and `custom_role_arn: X` takes the basic flow: GetOpenIdToken,
then STS AssumeRoleWithWebIdentity on X. Its `role` is checked against the oracle's classic
answer (SPEC C1-C6), never the enhanced flow's, and the run's `classic=X` cell is the one that
carries it. The stacks are real `cdk synth` output (fixtures/cdk/app/classic.js, seed004.js):

- Seed004Stack: both app clients have RoleMappings, so the basic flow is refused (C3);
- ClassicOnStack: no RoleMappings, AllowClassicFlow true: AdminRole, which nothing attaches,
  is issued to any signed-in user (C5); the unauthenticated role is AccessDenied (C6);
- ClassicOffStack: the same with AllowClassicFlow false: GetOpenIdToken is refused (C1).
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from rolecall.account import clients, own_stack
from rolecall.account.discovery import Discovery, discover
from rolecall.cells import matrix
from rolecall.model import entitlements as ent
from rolecall.model.actions import IAM_ACTIONS
from rolecall.model.errors import ScenarioError
from rolecall.model.scenario import Scenario
from tests.discovery.conftest import ROOT, Running
from tests.discovery.test_cdk import ENV, TEMPLATES
from tests.discovery.test_run import PYTHON

HERE = Path(__file__).resolve().parent
CLASSIC_ON = (HERE / "classic.entitlements.yaml").read_text()
ADMIN, AUTHENTICATED = "AdminRole38563C57", "IdentitiesAuthenticatedRoleB7BB6C89"
UNAUTHENTICATED = "IdentitiesUnauthenticatedRole19945E3E"
READ = "TableCD117FA1: [GetItem, BatchGetItem, Query, Scan, ConditionCheckItem, DescribeTable]"
# Seed004's persona of the issue: a reader asking for the admin role beside RoleMappings.
SEED004_CLASSIC = (f"  classic-admin: {{groups: [readers], flow: classic, custom_role_arn: {ADMIN}, "
                   "role: refused, allow: *read}\n")
# ...whose self-service escalation on the admin client is seed 004's, accepted like the readers'.
SEED004_ACCEPTED = "  - {check: escalation, subject: pooladminclient/classic-admin, reason: *writable}\n"
SEED004_STACK = "Seed004Classic"  # its own name: test_cdk.py deploys Seed004Stack with the CLI


def classic_off() -> str:
    """ClassicOnStack's file for ClassicOffStack: the basic flow refuses the admin (C1), so no
    path escalates and no audit finding is left to accept."""
    text = CLASSIC_ON.replace("stack: ClassicOnStack", "stack: ClassicOffStack")
    text = text.replace(f"    role: {ADMIN}\n    allow: {{TableCD117FA1: [\"*\"]}}",
                        "    role: refused\n    allow: *read")
    return text[:text.index("accepted_findings:")]


def seed004() -> str:
    text = (HERE / "seed004.entitlements.yaml").read_text()
    text = text.replace("accepted_findings:\n", SEED004_CLASSIC + "accepted_findings:\n")
    return text + SEED004_ACCEPTED


@pytest.fixture(scope="module")
def stacks(emulator: Running) -> dict[str, Discovery]:
    """The three stacks, deployed into the session's emulator and discovered by name."""
    target = clients.emulated(emulator.endpoint)
    deployed = {"ClassicOnStack": "ClassicOnStack", "ClassicOffStack": "ClassicOffStack",
                SEED004_STACK: "Seed004Stack"}
    for name, template in deployed.items():
        own_stack.deploy_template(target, str(TEMPLATES / f"{template}.template.json"), name)
    return {name: discover(target, stack=name) for name in deployed}


def bind(found: Discovery, tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "entitlements.yaml"
    path.write_text(text)
    return ent.bind(ent.load(path), found.scenario, found.aliases)


def test_a_role_for_cognito_that_nothing_attaches_is_discovered(stacks: dict[str, Discovery]) -> None:
    """The basic flow reaches any role whose trust admits the pool, attached or not (C5)."""
    scenario = stacks["ClassicOnStack"].scenario
    assert set(scenario.roles) == {ADMIN, AUTHENTICATED, UNAUTHENTICATED}
    assert scenario.roles[ADMIN].trust.admits("authenticated")
    assert stacks["ClassicOnStack"].aliases.roles[ADMIN] == ADMIN
    assert {role.label for role in scenario.roles.values()} == {
        "AdminRole", "IdentitiesAuthenticatedRole", "IdentitiesUnauthenticatedRole"}


ASKS_ADMIN = f"custom_role_arn: {ADMIN}\n    role: "
ASKS_GUEST_ROLE = f"custom_role_arn: {UNAUTHENTICATED}\n    role: "
# (stack, its entitlements, persona, a change of its stated role or None, the expectation
# bound (field, value) or the SPEC rule the changed role contradicts)
CASES = [
    (SEED004_STACK, seed004, "classic-admin", None, ("refused", "InvalidParameterException")),
    (SEED004_STACK, seed004, "classic-admin", (f"{ADMIN}, role: refused", f"{ADMIN}, role: {ADMIN}"),
     "C3"),
    ("ClassicOnStack", lambda: CLASSIC_ON, "classic-admin", None, ("role", ADMIN)),
    ("ClassicOnStack", lambda: CLASSIC_ON, "classic-admin", (ASKS_ADMIN + ADMIN,
                                                             ASKS_ADMIN + "refused"), "C5"),
    ("ClassicOnStack", lambda: CLASSIC_ON, "classic-guest-role", None, ("refused", "AccessDenied")),
    ("ClassicOnStack", lambda: CLASSIC_ON, "classic-guest-role", (
        ASKS_GUEST_ROLE + "refused", ASKS_GUEST_ROLE + UNAUTHENTICATED), "C6"),
    ("ClassicOffStack", classic_off, "classic-admin", None, ("refused", "InvalidParameterException")),
    ("ClassicOffStack", classic_off, "classic-admin", (ASKS_ADMIN + "refused", ASKS_ADMIN + ADMIN),
     "C1"),
]


@pytest.mark.parametrize(("stack", "text", "persona", "change", "outcome"), CASES, ids=[
    "mappings-refused", "mappings-issued-is-an-error", "no-mappings-issued",
    "no-mappings-refused-is-an-error", "no-mappings-untrusted-refused",
    "no-mappings-untrusted-issued-is-an-error", "classic-off-refused",
    "classic-off-issued-is-an-error"])
def test_a_classic_persona_is_held_to_the_classic_flow(
        stacks: dict[str, Discovery], tmp_path: Path, stack: str, text: Callable[[], str],
        persona: str, change: tuple[str, str] | None, outcome: tuple[str, str] | str) -> None:
    """As written, the persona binds and its expectation is the classic flow's, one per app
    client; stating the other outcome is an error on the persona's role line naming the
    classic rule."""
    written = text()
    if change is not None:
        assert change[0] in written, change[0]
        written = written.replace(*change)
    if isinstance(outcome, str):
        with pytest.raises(ScenarioError) as error:
            bind(stacks[stack], tmp_path, written)
        assert error.value.where == f"personas.{persona}.role", error.value
        assert f"SPEC rule {outcome} gives" in error.value.problem
        return
    scenario = bind(stacks[stack], tmp_path, written)
    mine = [e for e in scenario.expect if e.user == persona]
    asked = ADMIN if persona == "classic-admin" else UNAUTHENTICATED
    field, value = outcome
    assert [(e.flow, e.custom_role, getattr(e, field)) for e in mine] == [
        ("classic", asked, value)] * len(scenario.variants)


def test_the_stated_classic_role_is_the_source_of_its_classic_cell(
        stacks: dict[str, Discovery], tmp_path: Path) -> None:
    """The persona's line is the expectation of `classic=AdminRole-classic-admin` (readable:
    no CDK hash), and not of the persona's enhanced cell, which the spec decides (E6)."""
    scenario = bind(stacks["ClassicOnStack"], tmp_path, CLASSIC_ON)
    cells = {cell.id: cell for cell in matrix.credential_cells([scenario])}
    classic = cells["classiconstack-poolappclient-classic=AdminRole-classic-admin"]
    assert classic.source.endswith("personas.classic-admin.role (classic flow)")
    assert str(classic.expected) == f"ISSUED({ADMIN})" and classic.expected.rule == "C5"
    assert cells["classiconstack-poolappclient-enhanced-classic-admin"].source == "SPEC E6"


def test_an_issued_classic_persona_allows_its_access_on_the_role_it_gets(
        stacks: dict[str, Discovery], tmp_path: Path) -> None:
    scenario = bind(stacks["ClassicOnStack"], tmp_path, CLASSIC_ON)
    assert scenario.roles[ADMIN].allowed == list(IAM_ACTIONS)  # classic-admin's allow: ["*"]
    assert "personas.classic-admin" in scenario.roles[ADMIN].source
    assert "PutItem" not in (scenario.roles[AUTHENTICATED].allowed or [])  # the readers'
    access = {cell.id: cell.expected for cell in matrix.access_cells([scenario])}
    assert access["classiconstack-poolappclient-classic=AdminRole-classic-admin-PutItem"] == "ALLOWED"
    assert access["classiconstack-poolappclient-classic=AdminRole-readers-DeleteItem"] == "ALLOWED"


def test_the_readme_classic_persona_binds_to_seed_004_as_it_says(
        stacks: dict[str, Discovery], tmp_path: Path) -> None:
    """README "Test your own stack": its classic-flow example, added to seed 004's reviewed
    file, binds and is refused by C3, on the cell the README names."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", (ROOT / "README.md").read_text(), re.S | re.M)
    example = next(block for block in blocks if "flow: classic" in block)
    persona = example.split("personas:\n", 1)[1]
    text = (HERE / "seed004.entitlements.yaml").read_text().replace(
        "accepted_findings:\n", persona + "accepted_findings:\n") + SEED004_ACCEPTED
    scenario = bind(stacks[SEED004_STACK], tmp_path, text)
    cells = {cell.id: cell for cell in matrix.credential_cells([scenario])}
    cell = cells["seed004classic-poolwebclient-classic=AdminRole-classic-admin"]
    assert (str(cell.expected), cell.expected.rule) == ("REFUSED(InvalidParameterException)", "C3")
    assert cell.source.endswith("personas.classic-admin.role (classic flow)")
    assert "`seed004stack-poolwebclient-classic=AdminRole-classic-admin`" in (
        ROOT / "README.md").read_text().replace("\n", " ")


# --- end to end: `pytest suites --stack-template T --entitlements E` ----------------------

def run(template: str, text: str, tmp: Path, *extra: str) -> tuple[int, str, dict[str, bool]]:
    """The suite on a template deployed into its own embedded target; test id -> passed."""
    entitlements, junit = tmp / "entitlements.yaml", tmp / "junit.xml"
    entitlements.write_text(text)
    done = subprocess.run(
        [*PYTHON, "pytest", "suites", "-q", "-p", "no:cacheprovider", "--stack-template",
         str(TEMPLATES / f"{template}.template.json"), "--entitlements", str(entitlements),
         "--evidence-dir", str(tmp / "reports"), f"--junitxml={junit}", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=900, env=ENV)
    results = {case.get("name", "").split("[", 1)[-1].rstrip("]"):
               case.find("failure") is None and case.find("error") is None
               for case in ET.parse(junit).iter("testcase")} if junit.exists() else {}
    return done.returncode, done.stdout + done.stderr, results


@pytest.mark.parametrize(("template", "text", "extra", "cells"), [
    ("ClassicOnStack", lambda: CLASSIC_ON, [], [
        "classiconstack-poolappclient-classic=AdminRole-classic-admin",
        "classiconstack-poolappclient-classic=AdminRole-classic-admin-PutItem",
        "classiconstack-poolappclient-classic=IdentitiesUnauthenticatedRole-classic-guest-role",
        "classiconstack-poolappclient-enhanced-classic-admin-GetItem"]),
    ("ClassicOffStack", classic_off, [], [
        "classicoffstack-poolappclient-classic=AdminRole-classic-admin"]),
    ("Seed004Stack", seed004, ["-k", "classic-admin"], [
        "seed004stack-poolwebclient-classic=AdminRole-classic-admin",
        "seed004stack-pooladminclient-classic=AdminRole-classic-admin",
        "seed004stack-classic-admin-escalation"]),
], ids=["no-mappings", "classic-off", "with-mappings"])
def test_classic_personas_run_green(tmp_path: Path, template: str, text: Callable[[], str],
                                    extra: list[str], cells: list[str]) -> None:
    code, output, results = run(template, text(), tmp_path, *extra)
    assert code == 0, output[-3000:]
    assert all(results.get(cell) for cell in cells), (cells, sorted(results))


def test_one_action_less_for_the_classic_persona_fails_exactly_its_roles_cells(tmp_path: Path) -> None:
    """classic-admin's allow is AdminRole's access: without PutItem, every classic=AdminRole
    credential's PutItem probe fails (TransactWriteItems needs PutItem), and so does the
    persona's escalation check (its own path grants PutItem); nothing else."""
    everything = ", ".join(a for a in IAM_ACTIONS if a != "PutItem")
    text = CLASSIC_ON.replace('allow: {TableCD117FA1: ["*"]}', f"allow: {{TableCD117FA1: [{everything}]}}")
    assert text != CLASSIC_ON
    code, _, results = run("ClassicOnStack", text, tmp_path)
    failed = sorted(cell for cell, ok in results.items() if not ok)
    assert code == 1
    assert failed == sorted(
        [f"classiconstack-poolappclient-classic=AdminRole-{persona}-{action}"
         for persona in ("classic-admin", "classic-guest-role", "readers")
         for action in ("PutItem", "TransactWriteItems")] + ["classiconstack-classic-admin-escalation"])
