"""A team's stack with two tables (issue 23): an Orders and a Customers table, roles granting one
or both (fixtures/cdk/app/tables.js, synthesized by the real aws-cdk-lib).

Discovery maps every table the roles name and picks the main one by its documented rule
(rolecall/account/discovery_tables.py); the entitlements state each persona's actions per table;
init predicts them; the run probes every table and the batches and transactions over both, seeds
and cleans every table, and a wrong line turns exactly its cells red.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from rolecall.account import clients
from rolecall.account.discovery import Discovery, discover
from rolecall.account.discovery_tables import read_tables
from rolecall.model import entitlements as ent
from rolecall.model.errors import ScenarioError
from rolecall.model.scenario import Scenario
from rolecall.model.tables import KeyAttribute
from tests.discovery.conftest import ROOT, Running
from tests.discovery.test_cdk import ENV, cli_deploy, cli_init, suites
from tests.discovery.test_run import PYTHON

HERE = Path(__file__).resolve().parent
REVIEWED = HERE / "tables.entitlements.yaml"
STACK = "TablesStack"
CUSTOMERS = "Customers6955EA0A"
TEAM_ITEMS = {"order": "team-order-1", "customer": "team-customer-1"}  # the team's own data


@pytest.fixture(scope="module")
def endpoint(emulator: Running) -> str:
    """TablesStack deployed with the AWS CLI, as a team deploys cdk synth output, with one item of
    the team's own in each table (a run must leave it alone)."""
    cli_deploy(emulator.endpoint, STACK)
    found = discover(clients.emulated(emulator.endpoint), stack=STACK)
    dynamodb = clients.emulated(emulator.endpoint).client("dynamodb")
    for table, (key, value) in zip(_tables(found), TEAM_ITEMS.items(), strict=True):
        dynamodb.put_item(TableName=table, Item={key: {"S": value}})
    return emulator.endpoint


@pytest.fixture(scope="module")
def found(endpoint: str) -> Discovery:
    return discover(clients.emulated(endpoint), stack=STACK)


def _tables(found: Discovery) -> list[str]:
    """The physical names: Orders, then Customers."""
    return [found.stack.table_name, *found.stack.other_tables.values()]


def _items(endpoint: str, found: Discovery) -> dict[str, list[dict[str, Any]]]:
    dynamodb = clients.emulated(endpoint).client("dynamodb")
    return {table: dynamodb.scan(TableName=table)["Items"] for table in _tables(found)}


def _users(endpoint: str, found: Discovery) -> list[str]:
    idp = clients.emulated(endpoint).client("cognito-idp")
    return [u["Username"] for u in idp.list_users(UserPoolId=found.stack.user_pool_id)["Users"]]


def test_every_table_is_read_and_orders_is_main(found: Discovery) -> None:
    """Orders is granted by four roles, Customers by three: Orders is the main table (rule 2);
    Customers is another table keyed by its logical id without the CDK hash, its index kept."""
    scenario, stack = found.scenario, found.stack
    assert scenario.table is not None and "-OrdersA9B65338-" in scenario.table.name
    assert stack.table_name == scenario.table.name
    (customers,) = scenario.other_tables
    assert customers.name == "Customers" and customers.partition == "shared"
    assert customers.partition_key == KeyAttribute(name="customer", type="S")
    assert [i.name for i in customers.indexes] == ["byEmail"]
    assert list(stack.other_tables) == ["Customers"]
    assert f"-{CUSTOMERS}-" in stack.other_tables["Customers"]
    assert stack.other_table_arns["Customers"] == customers.arn
    assert customers.arn is not None and customers.arn.endswith(stack.other_tables["Customers"])
    for alias in (CUSTOMERS, stack.other_tables["Customers"], "Customers"):
        assert found.aliases.tables[alias] == "Customers"


def bind(found: Discovery, tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "entitlements.yaml"
    path.write_text(text)
    return ent.bind(ent.load(path), found.scenario, found.aliases)


def test_each_persona_states_each_table(found: Discovery, tmp_path: Path) -> None:
    """`allow` per table lands in the role's `allowed` (Orders) and `allowed_on` (Customers); a
    table a persona does not name allows nothing there."""
    roles = bind(found, tmp_path, REVIEWED.read_text()).roles
    read = ["GetItem", "BatchGetItem", "Query", "Scan", "ConditionCheckItem", "DescribeTable"]
    assert roles["ClerkRole4C2E02EC"].allowed_on == {"Customers": read}
    assert "PutItem" in (roles["ClerkRole4C2E02EC"].allowed or [])
    assert roles["SupportRole68F72D2C"].allowed == read
    assert "BatchWriteItem" in roles["SupportRole68F72D2C"].allowed_on["Customers"]
    assert roles["AuthenticatedRole86104F1A"].allowed_on == {"Customers": []}
    unnamed = REVIEWED.read_text().replace("      Customers6955EA0A: []\n", "")
    assert bind(found, tmp_path, unnamed).roles["AuthenticatedRole86104F1A"].allowed_on == {
        "Customers": []}


@pytest.mark.parametrize(("old", "new", "where", "problem", "fix"), [
    (f"{CUSTOMERS}: [GetItem", "Customer: [GetItem", "personas.clerks.allow.Customer",
     "names table 'Customer', which stack tablesstack does not have (did you mean Customers?)",
     "use one of: "),
    (f"{CUSTOMERS}: [GetItem", f"{CUSTOMERS}/index/byEmail: [Query]\n      {CUSTOMERS}: [GetItem",
     f"personas.clerks.allow.{CUSTOMERS}/index/byEmail",
     "rolecall probes the indexes of the stack's main table (OrdersA9B65338) only, not those of "
     "Customers", "remove this line"),
], ids=["unknown-table", "index-of-another-table"])
def test_a_wrong_table_line_names_file_field_and_fix(found: Discovery, tmp_path: Path, old: str,
                                                     new: str, where: str, problem: str,
                                                     fix: str) -> None:
    text = REVIEWED.read_text()
    assert old in text
    with pytest.raises(ScenarioError) as error:
        bind(found, tmp_path, text.replace(old, new, 1))
    assert error.value.file.endswith("entitlements.yaml") and error.value.where == where
    assert error.value.problem == problem and error.value.fix.startswith(fix), error.value


def test_another_table_has_no_other_partition(found: Discovery, tmp_path: Path) -> None:
    """Only the main table can be partitioned: `allow_other_partition` naming another table is
    refused, not read as the main table's."""
    assert found.scenario.table is not None
    orders = found.scenario.table.model_copy(update={
        "partition": "per-identity", "sort_key": KeyAttribute(name="line")})
    skeleton = found.scenario.model_copy(update={"table": orders})
    path = tmp_path / "entitlements.yaml"
    path.write_text(REVIEWED.read_text().replace(
        "    allow: &support\n", f"    allow_other_partition: {{{CUSTOMERS}: [GetItem]}}\n"
                                "    allow: &support\n"))
    with pytest.raises(ScenarioError) as error:
        ent.bind(ent.load(path), skeleton, found.aliases)
    assert error.value.where == f"personas.support.allow_other_partition.{CUSTOMERS}"
    assert "only the main table" in error.value.problem


def test_init_predicts_the_matrix_and_the_run_is_green_and_clean(
        endpoint: str, found: Discovery, tmp_path: Path) -> None:
    """init states every table for every persona with credentials, as the reviewed file does; the
    run with init's file is green, probes Customers and the batches and transactions over both
    tables, and leaves neither table an item of its own nor a test user."""
    out = tmp_path / "tables.yaml"
    cli_init(endpoint, STACK, out)
    written = yaml.safe_load(out.read_text())["personas"]
    reviewed = yaml.safe_load(REVIEWED.read_text())["personas"]
    for name, persona in reviewed.items():
        assert written[name] == persona, name
    assert set(written) - set(reviewed) == {"managers-support"}
    before = {t: list(items) for t, items in _items(endpoint, found).items()}
    users = _users(endpoint, found)
    # two workers: each writes probe items of its own into both tables (probes.writer_index)
    code, output, failed = suites("--stack", STACK, "--entitlements", str(out), "--endpoint-url",
                                  endpoint, "--evidence-dir", str(tmp_path), "-n", "2")
    assert code == 0 and not failed, output[-3000:]
    [bundle] = [p for p in tmp_path.iterdir() if (p / "manifest.json").is_file()]
    cells = {c["id"]: c for c in json.loads((bundle / "evidence.json").read_text())["cells"]}
    prefix = "tablesstack-usersapp-enhanced-"
    expected = {  # (persona, cell) -> verdict: refused on the second table, or on the first
        ("clerks", "BatchGetItem-two-tables"): "ALLOWED",
        ("clerks", "BatchWriteItem-two-tables"): "DENIED",
        ("clerks", "TransactWriteItems-two-tables"): "DENIED",
        ("clerks", "Customers-PutItem"): "DENIED",
        ("support", "BatchWriteItem-two-tables"): "DENIED",
        ("support", "TransactGetItems-two-tables"): "ALLOWED",
        ("support", "Customers-BatchWriteItem"): "ALLOWED",
        ("managers", "TransactWriteItems-two-tables"): "ALLOWED",
        ("no-group", "BatchGetItem-two-tables"): "DENIED",
        ("no-group", "Customers-GetItem"): "DENIED",
    }
    for (persona, cell), verdict in expected.items():
        found_cell = cells[f"{prefix}{persona}-{cell}"]
        assert (found_cell["expected"], found_cell["observed"]) == (verdict, verdict), cell
    on_customers = [c for c in cells if c.startswith(prefix) and "-Customers-" in c]
    spanning = [c for c in cells if c.endswith("-two-tables")]
    assert len(on_customers) == 7 * 12 and len(spanning) == 7 * 4  # 7 signed-in personas
    assert len(cells) == 259
    assert _items(endpoint, found) == before  # the team's items only, in both tables
    assert _users(endpoint, found) == users


CLERK_CUSTOMERS = f"{CUSTOMERS}: [GetItem, BatchGetItem, Query, Scan, ConditionCheckItem"
SUPPORT_ORDERS = "&support\n      OrdersA9B65338: [GetItem, BatchGetItem, Query, Scan, ConditionCheckItem"


@pytest.mark.parametrize(("old", "new", "cells"), [
    # a clerk may write Customers, says the file: the role may not (a refusal on the second table)
    (CLERK_CUSTOMERS, f"{CUSTOMERS}: [GetItem, BatchGetItem, Query, Scan, PutItem, "
                      "ConditionCheckItem",
     [f"{p}-{c}" for p in ("clerks", "clerks-support")
      for c in ("Customers-PutItem", "Customers-TransactWriteItems",
                "TransactWriteItems-two-tables")]),
    # support may batch-write Orders, says the file: the role may not (on the first table)
    (SUPPORT_ORDERS, SUPPORT_ORDERS.replace("Scan,", "Scan, BatchWriteItem,"),
     ["support-BatchWriteItem", "support-BatchWriteItem-two-tables"]),
], ids=["write-customers", "batch-write-orders"])
def test_a_wrong_table_entitlement_fails_exactly_its_cells(
        endpoint: str, tmp_path: Path, old: str, new: str, cells: list[str]) -> None:
    text = REVIEWED.read_text()
    assert text.count(old) == 1
    edited = tmp_path / "tables.yaml"
    edited.write_text(text.replace(old, new))
    code, output, failed = suites("--stack", STACK, "--entitlements", str(edited),
                                  "--endpoint-url", endpoint, "--evidence-dir", str(tmp_path))
    assert code == 1, output[-3000:]
    assert sorted(failed) == sorted(f"tablesstack-usersapp-enhanced-{c}" for c in cells)
    assert "expected ALLOWED, observed DENIED" in output


def test_an_interrupted_run_leaves_no_item_in_any_table(
        endpoint: str, found: Discovery, tmp_path: Path) -> None:
    """Ctrl-C once the seed items are in both tables: the journal knows them (and every probe
    item), and teardown removes them from each table before the run ends. The run's last cell
    waits for the signal (tests/evidence/hold_last.py): a loaded machine could otherwise see
    all 224 cells run before the signal lands, and the run rightly end complete."""
    before = _items(endpoint, found)
    users = _users(endpoint, found)
    held = tmp_path / "held"
    held.mkdir()
    run = subprocess.Popen(
        [*PYTHON, "pytest", "suites", "-q", "-p", "no:cacheprovider", "-p", "tests.evidence.hold_last",
         "--stack", STACK, "--entitlements", str(REVIEWED), "--endpoint-url", endpoint,
         "--evidence-dir", str(tmp_path)],
        cwd=ROOT, env={**ENV, "ROLECALL_TEST_HOLD_DIR": str(held)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    seeded: dict[str, list[dict[str, Any]]] = {}
    while time.time() < deadline and run.poll() is None:
        seeded = _items(endpoint, found)
        if all(len(seeded[t]) > len(before[t]) for t in seeded):
            break
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=120)
    assert all(any(i[k]["S"] == "rolecall-seed" for i in seeded[t] for k in i) for t in seeded), \
        f"the run ended before it seeded both tables: {seeded}\n{output[-2000:]}"
    assert run.returncode != 0 and "interrupted" in output.lower(), output[-2000:]
    assert _items(endpoint, found) == before
    assert _users(endpoint, found) == users


def test_read_tables_picks_the_main_table_by_its_rule(emulator: Running) -> None:
    """Rule 1: a table with its own policy (or partitions) is main; rule 2: the most roles; rule
    3: ties by name. Two tables that each need the main table's model are refused, named."""
    dynamodb = clients.emulated(emulator.endpoint).client("dynamodb")
    arns = {name: _table(dynamodb, name) for name in ("rc-t-alpha", "rc-t-beta", "rc-t-gamma")}

    def grants(*names: str) -> dict[str, Any]:
        return {"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                               "Resource": [arns[n] for n in names]}]}

    def main_of(*policies: dict[str, Any]) -> tuple[str, list[str]]:
        tables = read_tables(dynamodb, {}, "--stack", list(policies), ent.Aliases(), None)
        assert tables.main is not None
        return tables.main.name, [t.name for t in tables.others]

    assert main_of(grants("rc-t-beta"), grants("rc-t-alpha")) == ("rc-t-alpha", ["rc-t-beta"])
    assert main_of(grants("rc-t-beta", "rc-t-alpha"), grants("rc-t-beta"))[0] == "rc-t-beta"
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "dynamodb:Scan", "Resource": "*"}]}
    dynamodb.put_resource_policy(ResourceArn=arns["rc-t-gamma"], Policy=json.dumps(policy))
    assert main_of(grants("rc-t-alpha"), grants("rc-t-alpha", "rc-t-gamma")) == (
        "rc-t-gamma", ["rc-t-alpha"])
    dynamodb.put_resource_policy(ResourceArn=arns["rc-t-beta"], Policy=json.dumps(policy))
    with pytest.raises(ScenarioError) as error:
        main_of(grants("rc-t-beta", "rc-t-gamma"))
    assert error.value.where == "--stack"
    assert "tables rc-t-beta and rc-t-gamma each confine callers" in error.value.problem
    assert "one table at a time" in error.value.fix


def test_read_tables_reads_partitions_per_table(emulator: Running) -> None:
    """A LeadingKeys condition on the identity id partitions the table its statement names, not
    the others beside it: that table is main, the other stays shared."""
    dynamodb = clients.emulated(emulator.endpoint).client("dynamodb")
    mine, shared = _table(dynamodb, "rc-t-mine", sort="item"), _table(dynamodb, "rc-t-catalog",
                                                                       sort="item")
    policy = {"Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": [shared]},
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": [shared]},
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": [mine], "Condition": {
            "ForAllValues:StringEquals": {
                "dynamodb:LeadingKeys": ["${cognito-identity.amazonaws.com:sub}"]}}}]}
    tables = read_tables(dynamodb, {}, "--stack", [policy], ent.Aliases(), None)
    assert tables.main is not None and tables.main.name == "rc-t-mine"
    assert tables.main.partition == "per-identity"
    assert [(t.name, t.partition) for t in tables.others] == [("rc-t-catalog", "shared")]


def _table(dynamodb: Any, name: str, sort: str | None = None) -> str:
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}] + (
        [{"AttributeName": sort, "KeyType": "RANGE"}] if sort else [])
    return str(dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=keys,
        AttributeDefinitions=[{"AttributeName": k["AttributeName"], "AttributeType": "S"}
                              for k in keys])["TableDescription"]["TableArn"])
