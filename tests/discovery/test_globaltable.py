"""A team's stack built with the CDK's TableV2 (AWS::DynamoDB::GlobalTable), end to end.

fixtures/cdk/templates/GlobalTableStack.template.json (fixtures/cdk/app/globaltable.js) is
deployed with the AWS CLI; discovery finds the replica's table through the staff role's
grant (GetAtt Arn), init reads its replica policy (a Deny on DeleteItem), and the run on
init's file is green; granting DeleteItem by hand turns exactly that cell red.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.discovery.conftest import Running
from tests.discovery.test_cdk import cli_deploy, cli_init, suites

STACK = "GlobalTableStack"
TABLE = "OrdersA9B65338"  # the TableV2's logical id: init names tables by it


@pytest.fixture(scope="module")
def endpoint(emulator: Running) -> str:
    cli_deploy(emulator.endpoint, STACK)
    return emulator.endpoint


@pytest.fixture(scope="module")
def entitlements(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("globaltable") / "globaltable.yaml"
    cli_init(endpoint, STACK, out)
    return out


def test_init_reads_the_replica_and_its_policy(entitlements: Path) -> None:
    allow = yaml.safe_load(entitlements.read_text())["personas"]["staff"]["allow"]
    assert set(allow) == {TABLE, f"{TABLE}/index/byStatus"}  # the replica and its index
    assert {"GetItem", "PutItem", "Query", "UpdateItem"} <= set(allow[TABLE])
    assert "DeleteItem" not in allow[TABLE]  # the replica policy's Deny


def test_init_is_green_and_a_hand_granted_delete_fails_exactly_its_cell(
        endpoint: str, entitlements: Path, tmp_path: Path) -> None:
    code, output, failed = suites("--stack", STACK, "--entitlements", str(entitlements),
                                  "--endpoint-url", endpoint, "--evidence-dir", str(tmp_path))
    assert code == 0 and not failed, output[-3000:]
    written = yaml.safe_load(entitlements.read_text())
    written["personas"]["staff"]["allow"][TABLE].append("DeleteItem")
    edited = tmp_path / "granted.yaml"
    edited.write_text(yaml.safe_dump(written, sort_keys=False))
    code, output, failed = suites("--stack", STACK, "--entitlements", str(edited),
                                  "--endpoint-url", endpoint, "--evidence-dir", str(tmp_path / "2"))
    assert code == 1, output[-3000:]
    assert failed == [f"{STACK.lower()}-usersapp-enhanced-staff-DeleteItem"], failed
    assert "with an explicit deny in a resource-based policy" in output
