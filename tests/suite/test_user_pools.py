"""Several user pools per identity pool (issue 23): the scenario field, its errors, the oracle's
reading per provider, the cells, and a stack provisioned and torn down whole."""

from __future__ import annotations

import copy
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from rolecall.account import cleanup, clients
from rolecall.account.cleanup import Journal
from rolecall.account.provision import Provisioner, RunSecrets
from rolecall.cells import matrix
from rolecall.cells.identity import identity_cells
from rolecall.model import oracle, scenario
from rolecall.model.errors import ScenarioError
from tests.suite.test_provision import ours

ROOT = Path(__file__).resolve().parents[2]
TWO = yaml.safe_load((ROOT / "scenarios" / "two-pools.yaml").read_text())


def two_pools(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy({k: v for k, v in TWO.items() if not k.startswith("x-")})
    data.update(changes)
    return data


def with_user(**user: Any) -> dict[str, Any]:
    data = two_pools()
    data["users"]["zed"] = user
    return data


def load(tmp_path: Path, data: dict[str, Any]) -> scenario.Scenario:
    path = tmp_path / "pools.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return scenario.load(path)


BROKEN = [  # (case, content, YAML path in the message, words of the problem or fix)
    ("user-names-no-pool", with_user(groups=[]), "users.zed.pool",
     "2 user pools (staff, customers); say which one this user is in with pool: staff"),
    ("pool-misspelled", with_user(pool="custmers"), "users.zed.pool",
     "names user pool 'custmers', which is not under user_pools: (known: staff, customers); "
     "did you mean customers?"),
    ("group-of-another-pool", with_user(pool="staff", groups=["premium"]), "users.zed.groups[0]",
     "group 'premium' is in user pool customers, the user in staff"),
    ("attribute-of-another-pool", with_user(pool="staff", attributes={"custom:tier": "gold"}),
     "users.zed.attributes.custom:tier", "declare 'tier' under user_pools.staff.custom_attributes"),
    ("group-names-no-pool", two_pools(groups={**TWO["groups"], "loose": {}}), "groups.loose.pool",
     "say which one this group is in"),
    ("one-mapping-for-two-pools", two_pools(variants={"v": {"mapping": {
        "type": "Token", "ambiguous": "Deny"}}}), "variants.v.mapping",
     "key each pool's mapping by its name under mappings:"),
    ("mapping-of-unknown-pool", two_pools(variants={"v": {"mappings": {"staf": {
        "type": "Token", "ambiguous": "Deny"}}}}), "variants.v.mappings.staf", "did you mean staff?"),
    ("both-pool-forms", two_pools(user_pool={}), "user_pools", "not both"),
]


@pytest.mark.parametrize(("case", "content", "where", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_pool_reference_says_file_field_and_fix(tmp_path: Path, case: str,
                                                          content: dict[str, Any], where: str,
                                                          words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, content)
    first = str(caught.value).splitlines()[0]
    assert re.match(rf"{re.escape(str(tmp_path / 'pools.yaml'))}:\d+: {re.escape(where)}: ", first)
    assert words in first and "Fix: " in first


def test_one_pool_writes_mapping_not_mappings(tmp_path: Path) -> None:
    books = yaml.safe_load((ROOT / "scenarios" / "books.yaml").read_text())
    books = {k: v for k, v in books.items() if not k.startswith("x-")}
    books["variants"] = {"v": {"mappings": {"users": {"type": "Token", "ambiguous": "Deny"}}}}
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, books)
    assert "variants.v.mappings" in str(caught.value) and "write its mapping as mapping:" in str(
        caught.value)


def test_the_single_pool_form_is_one_pool_named_users() -> None:
    books = scenario.load(ROOT / "scenarios" / "books.yaml")
    assert list(books.pools()) == [scenario.DEFAULT_POOL]
    assert {books.pool_of(u) for u in books.users} == {scenario.DEFAULT_POOL}


def test_the_oracle_reads_the_users_own_providers_mapping() -> None:
    two = scenario.load(ROOT / "scenarios" / "two-pools.yaml")
    oracle.check(two)
    # customers map by Rules: premium's group role (StaffAdmin) is never read (E9)
    assert str(oracle.enhanced(two, "split", "carol")) == "ISSUED(CustomerGold)"
    assert str(oracle.enhanced(two, "split", "alice")) == "ISSUED(StaffAdmin)"
    # only the customers provider mapped: staff get the authenticated role (E6)
    outcome = oracle.enhanced(two, "customers-only", "alice")
    assert (str(outcome), outcome.rule) == ("ISSUED(Basic)", "E6")
    # any provider's mapping is RoleMappings on the pool: the classic flow's C3 gate
    assert two.mapped("customers-only") and oracle.classic_gate(two, "customers-only") is not None


def test_cells_stay_readable_and_one_pools_users_pair_for_identity_cells() -> None:
    two = scenario.load(ROOT / "scenarios" / "two-pools.yaml")
    ids = [c.id for c in matrix.credential_cells([two])]
    assert "two-pools-split-enhanced-carol" in ids and len(ids) == len(set(ids)) == 18
    [cell] = identity_cells([two])
    assert {two.pool_of(u) for u in cell.users} == {"staff"}


def test_every_pool_is_a_provider_with_its_own_mapping_and_all_go_at_teardown(
        target: clients.Target, run_secrets: RunSecrets, journal: Journal) -> None:
    two = scenario.load(ROOT / "scenarios" / "two-pools.yaml")
    runid = secrets.token_hex(4)
    stack = Provisioner(target, runid, run_secrets, journal).provision(two)
    assert {k: len(v) for k, v in ours(target, runid).items()} == {
        "user_pools": 3, "identity_pools": 3, "roles": 4, "tables": 1}  # + negatives' foreign
    identity, idp = target.client("cognito-identity"), target.client("cognito-idp")
    pool = identity.describe_identity_pool(IdentityPoolId=stack.identity_pools["split"])
    assert sorted(p["ProviderName"] for p in pool["CognitoIdentityProviders"]) == sorted(
        stack.provider(name) for name in ("staff", "customers"))
    mappings = identity.get_identity_pool_roles(
        IdentityPoolId=stack.identity_pools["split"])["RoleMappings"]
    assert {k: m["Type"] for k, m in mappings.items()} == {
        stack.mapping_key_of("staff"): "Token", stack.mapping_key_of("customers"): "Rules"}
    only = identity.get_identity_pool_roles(IdentityPoolId=stack.identity_pools["customers-only"])
    assert list(only["RoleMappings"]) == [stack.mapping_key_of("customers")]
    in_customers = [u["Username"] for u in idp.list_users(
        UserPoolId=stack.pool_ids["customers"])["Users"]]
    assert sorted(in_customers) == ["carol", "dave", "erin"]
    assert [g["GroupName"] for g in idp.list_groups(UserPoolId=stack.pool_ids["staff"])[
        "Groups"]] == ["staff-admins", "staff-readers"]
    assert cleanup.teardown(target, journal) == []
    assert ours(target, runid) == {"user_pools": [], "identity_pools": [], "roles": [], "tables": []}
