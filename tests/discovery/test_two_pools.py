"""An identity pool with two user pools as providers (fixtures/cdk/app/twopools.js), real `cdk
synth` output: deployed into the embedded target, discovered, initialised and run green.

Discovery reads every user pool provider: each pool's groups, custom attributes and app
client, and each provider's role mapping (SPEC P2: keyed `<ProviderName>:<ClientId>`).
Personas sign in to their own pool; a deliberately wrong entitlement turns exactly its
cells red.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rolecall.account import clients, own_stack
from rolecall.account.discovery import discover
from rolecall.account.provision import RunSecrets
from rolecall.model import entitlements as ent
from rolecall.model.errors import ScenarioError
from tests.discovery.conftest import Running
from tests.discovery.test_cdk import TEMPLATES, cli_deploy, cli_init, suites

STACK = "TwoPoolsStack"
HERE = Path(__file__).resolve().parent
REVIEWED = HERE / "twopools.entitlements.yaml"


@pytest.fixture(scope="module")
def endpoint(emulator: Running) -> str:
    """TwoPoolsStack deployed with the AWS CLI, as a team deploys cdk synth output."""
    cli_deploy(emulator.endpoint, STACK)
    return emulator.endpoint


def test_discovery_reads_every_user_pool_provider(endpoint: str) -> None:
    found = discover(clients.emulated(endpoint), stack=STACK)
    scenario, stack = found.scenario, found.stack
    assert list(scenario.pools()) == ["staffpool", "customerpool"]
    assert scenario.pools()["customerpool"].custom_attributes == ["tier"]
    assert scenario.pools()["customerpool"].writable_attributes == ["email"]
    assert {g: scenario.group_pool(g) for g in scenario.groups} == {
        "staff-admins": "staffpool", "staff-readers": "staffpool", "premium": "customerpool"}
    staff, shop = scenario.variants["staffpoolstaffapp"], scenario.variants["customerpoolshopapp"]
    assert (staff.user_pool, shop.user_pool) == ("staffpool", "customerpool")
    assert staff.mapping is not None and staff.mapping.type == "Token"
    assert shop.mapping is not None and shop.mapping.type == "Rules"
    assert [r.value for r in shop.mapping.rules] == ["gold"]
    # the physical side: one user pool id and app client per pool, the first pool's as default
    assert set(stack.pool_ids) == {"staffpool", "customerpool"}
    assert stack.user_pool_id == stack.pool_ids["staffpool"]
    assert stack.pool_clients["customerpool"] == shop.client_id
    assert stack.provider("customerpool").endswith("/" + stack.pool_ids["customerpool"])


def test_a_persona_names_its_pool_or_is_refused(endpoint: str, tmp_path: Path) -> None:
    """A persona with no group and no user_pool on a stack of two pools: the error names the
    field, the pools and the fix; groups of two pools in one persona likewise."""
    found = discover(clients.emulated(endpoint), stack=STACK)
    for persona, problem in (("{groups: []}", "has user pools staffpool, customerpool"),
                             ("{groups: [staff-admins, premium]}", "groups of user pools")):
        path = tmp_path / "e.yaml"
        path.write_text(f"personas:\n  someone: {persona}\n")
        with pytest.raises(ScenarioError) as error:
            ent.bind(ent.load(path), found.scenario, found.aliases)
        assert error.value.where == "personas.someone.user_pool"
        assert problem in error.value.problem and "user_pool: staffpool" in error.value.fix


def test_init_then_run_is_green(endpoint: str, tmp_path: Path) -> None:
    out = tmp_path / "twopools.yaml"
    cli_init(endpoint, STACK, out)
    personas = yaml.safe_load(out.read_text())["personas"]
    assert {p: spec.get("user_pool") for p, spec in personas.items()} == {
        "staff-admins": "staffpool", "staff-readers": "staffpool",
        "staff-admins-staff-readers": "staffpool", "premium": "customerpool",
        "no-group-staffpool": "staffpool", "no-group-customerpool": "customerpool",
        "guest": None}
    # the premium group's staff role is inert: customers are mapped by Rules
    assert personas["premium"]["role"] == personas["no-group-customerpool"]["role"]
    assert personas["no-group-staffpool"]["role"] == "refused"
    code, output, failed = suites("--stack", STACK, "--entitlements", str(out),
                                  "--endpoint-url", endpoint, "--evidence-dir", str(tmp_path))
    assert code == 0 and not failed, output[-3000:]


def test_reviewed_entitlements_are_green(endpoint: str, tmp_path: Path) -> None:
    code, output, failed = suites("--stack", STACK, "--entitlements", str(REVIEWED),
                                  "--endpoint-url", endpoint, "--evidence-dir", str(tmp_path))
    assert code == 0 and not failed, output[-3000:]
    # each persona only through its own pool's app client: 6 users x 1 client, not 6 x 2
    assert "117 passed" in output


def test_a_wrong_entitlement_turns_exactly_its_cells_red(endpoint: str, tmp_path: Path) -> None:
    """The gold customer (CustomerGoldRole, a role only it receives) said not to Scan: its
    Scan probe through the customers' app client and its escalation check fail, nothing else
    (the staff personas, on the other pool, are untouched)."""
    text = REVIEWED.read_text()
    gold = text.index("  gold:\n")
    wrong = text[:gold] + text[gold:].replace(
        "allow: *read", "allow: {Catalogue6D2BB205: [GetItem, BatchGetItem, Query, "
        "ConditionCheckItem, DescribeTable]}", 1)
    assert wrong != text
    edited = tmp_path / "wrong.yaml"
    edited.write_text(wrong)
    code, output, failed = suites("--stack", STACK, "--entitlements", str(edited),
                                  "--endpoint-url", endpoint, "--evidence-dir", str(tmp_path))
    assert code == 1, output[-3000:]
    assert sorted(failed) == ["twopoolsstack-customerpoolshopapp-enhanced-gold-Scan",
                              "twopoolsstack-gold-escalation"]


def test_stack_template_needs_nothing_running(tmp_path: Path) -> None:
    """`--stack-template`: the suite deploys the template into its own embedded target."""
    code, output, failed = suites("--stack-template", str(TEMPLATES / f"{STACK}.template.json"),
                                  "--entitlements", str(REVIEWED), "--evidence-dir", str(tmp_path),
                                  "-k", "gold or staff-admins")
    assert code == 0 and not failed, output[-3000:]


def test_users_are_made_in_their_own_pool(endpoint: str, tmp_path: Path) -> None:
    """own_stack.start: each persona's test user lands in its own user pool, journaled with
    that pool's id; teardown removes them all."""
    target = clients.emulated(endpoint)
    found = own_stack.read(target, own_stack.OwnStack(stack=STACK), "twopools")
    scenario, entitlements = own_stack.bind(found, str(REVIEWED))
    stack = own_stack.start(target, found, scenario, entitlements, RunSecrets(b"k" * 16), tmp_path)
    idp = target.client("cognito-idp")
    try:
        for persona in ("gold", "staff-admins"):
            pool = stack.pool_ids[scenario.pool_of(persona)]
            names = [u["Username"] for u in idp.list_users(UserPoolId=pool)["Users"]]
            assert stack.users[persona] in names
        journal = (tmp_path / f"{scenario.name}.users.jsonl").read_text()
        assert stack.pool_ids["customerpool"] in journal and stack.pool_ids["staffpool"] in journal
    finally:
        assert own_stack.teardown(target, tmp_path) == []
    left = [u["Username"] for pool in stack.pool_ids.values()
            for u in idp.list_users(UserPoolId=pool)["Users"] if u["Username"].startswith("rc-")]
    assert left == []
