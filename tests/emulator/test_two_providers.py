"""An identity pool with two user pools as providers (staff and customers), over HTTP.

Each user pool is a provider (CognitoIdentityProviders, SPEC P1) with its own RoleMapping,
keyed `<ProviderName>:<ClientId>` (P2; SetIdentityPoolRoles: "how users for a specific
identity provider are to mapped to roles"). A login of either pool works, GetId gives each
login its own identity (E1), and only the login's own provider's mapping decides its role:
a provider without one gets Roles.authenticated (E6) even when the other is mapped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from rolecall.emulator import Emulator
from tests.emulator.stack import (
    UserPool,
    admin_clients,
    client,
    cognito_trust,
    create_identity_pool,
    create_role,
    create_user_pool,
    credentials,
    error_of,
    unique,
)
from tests.emulator.test_cognito_identity import outcome

StartEmulator = Callable[..., Emulator]


@dataclass
class TwoPools:
    emulator: Emulator
    staff: UserPool
    customers: UserPool
    roles: dict[str, str]  # symbol -> role ARN
    users: dict[str, tuple[UserPool, str]]  # symbol -> (its pool, username)
    pools: dict[str, str]  # identity pool symbol -> id

    def logins(self, user: str) -> dict[str, str]:
        pool, name = self.users[user]
        return {pool.provider_name: pool.id_token(name)}

    def issued(self, symbol: str) -> str:
        return f"ISSUED({self.roles[symbol].rsplit('/', 1)[-1]})"


@pytest.fixture(scope="module")
def two(emulator: Emulator) -> TwoPools:
    idp, iam, ci = admin_clients(emulator.endpoint)
    staff = create_user_pool(idp)
    customers = create_user_pool(idp, Schema=[{"Name": "tier", "AttributeDataType": "String",
                                               "Mutable": True}])
    roles = {s: create_role(iam, unique(s.lower()), cognito_trust())
             for s in ("AUTH", "ADMIN", "GOLD")}
    staff.add_group("staff-admins", roles["ADMIN"], 1)
    customers.add_group("premium", roles["ADMIN"], 1)  # a staff role on a customers group
    users = {"admin": (staff, staff.add_user(["staff-admins"])),
             "plain-staff": (staff, staff.add_user()),
             "premium": (customers, customers.add_user(["premium"], **{"custom:tier": "silver"})),
             "gold": (customers, customers.add_user(**{"custom:tier": "gold"}))}
    token = {"Type": "Token", "AmbiguousRoleResolution": "Deny"}
    rules = {"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
             "RulesConfiguration": {"Rules": [{"Claim": "custom:tier", "MatchType": "Equals",
                                               "Value": "gold", "RoleARN": roles["GOLD"]}]}}
    pools = {}
    for symbol, mappings in (("both", {staff.mapping_key: token, customers.mapping_key: rules}),
                             ("customers-only", {customers.mapping_key: rules})):
        pool_id = create_identity_pool(ci, [staff.provider(), customers.provider()])
        ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": roles["AUTH"]},
                                   RoleMappings=mappings)
        pools[symbol] = pool_id
    return TwoPools(emulator, staff, customers, roles, users, pools)


@pytest.fixture(scope="module")
def ci(emulator: Emulator) -> Any:
    return client(emulator.endpoint, "cognito-identity")


ROWS = [
    pytest.param("both", "admin", "ADMIN", id="P2-staff-token-preferred-role"),
    pytest.param("both", "plain-staff", "REFUSED(NotAuthorizedException)",
                 id="P2-staff-token-deny"),
    pytest.param("both", "premium", "AUTH", id="P2-customers-rules-ignore-group-role"),
    pytest.param("both", "gold", "GOLD", id="P2-customers-rule-matches"),
    pytest.param("customers-only", "admin", "AUTH", id="E6-unmapped-provider-authenticated-role"),
    pytest.param("customers-only", "gold", "GOLD", id="P2-second-provider-mapped"),
]


@pytest.mark.parametrize(("pool", "user", "want"), ROWS)
def test_each_login_gets_its_own_providers_mapping(two: TwoPools, ci: Any, pool: str, user: str,
                                                   want: str) -> None:
    got = outcome(two.emulator, lambda: credentials(ci, two.pools[pool], two.logins(user)))
    assert got == (want if want.startswith("REFUSED") else two.issued(want))


def test_get_id_per_login_of_either_pool(two: TwoPools, ci: Any) -> None:
    """E1 per login: a staff user and a customer get identities of their own, each the same on
    every GetId, each linked to its own pool's provider (DescribeIdentity's Logins)."""
    pool_id = two.pools["both"]
    ids = {u: ci.get_id(IdentityPoolId=pool_id, Logins=two.logins(u))["IdentityId"]
           for u in ("admin", "gold")}
    assert ids["admin"] != ids["gold"]
    assert ci.get_id(IdentityPoolId=pool_id, Logins=two.logins("gold"))["IdentityId"] == ids["gold"]
    assert ci.describe_identity(IdentityId=ids["admin"])["Logins"] == [two.staff.provider_name]
    assert ci.describe_identity(IdentityId=ids["gold"])["Logins"] == [two.customers.provider_name]


def test_a_login_under_the_other_pools_provider_is_refused(two: TwoPools, ci: Any) -> None:
    """E2: the Logins key names the token's issuer; a staff token keyed as a customers login
    is not a login of that provider."""
    _, name = two.users["admin"]
    logins = {two.customers.provider_name: two.staff.id_token(name)}
    code, _ = error_of(lambda: ci.get_id(IdentityPoolId=two.pools["both"], Logins=logins))
    assert code == "NotAuthorizedException"


def test_role_mappings_keep_both_providers(two: TwoPools, ci: Any) -> None:
    """P2: GetIdentityPoolRoles answers one mapping per provider, as set."""
    mappings = ci.get_identity_pool_roles(IdentityPoolId=two.pools["both"])["RoleMappings"]
    assert set(mappings) == {two.staff.mapping_key, two.customers.mapping_key}
    assert mappings[two.staff.mapping_key]["Type"] == "Token"
    assert mappings[two.customers.mapping_key]["Type"] == "Rules"


@pytest.mark.parametrize(("pool", "user", "faithful", "faulty"), [
    pytest.param("both", "premium", "AUTH", "ADMIN", id="customers-read-by-staff-token-mapping"),
    pytest.param("customers-only", "gold", "GOLD", "AUTH", id="customers-mapping-never-read"),
])
def test_fault_mapping_first_provider_only(two: TwoPools, ci: Any, faulty_emulator: StartEmulator,
                                           pool: str, user: str, faithful: str,
                                           faulty: str) -> None:
    """The near-miss: the first provider's mapping is applied to every provider's logins."""
    broken = faulty_emulator("mapping-first-provider-only")
    logins = two.logins(user)
    assert outcome(two.emulator, lambda: credentials(ci, two.pools[pool], logins)) == \
        two.issued(faithful)
    broken_ci = client(broken.endpoint, "cognito-identity")
    assert outcome(broken, lambda: credentials(broken_ci, two.pools[pool], logins)) == \
        two.issued(faulty)


def test_fault_token_logins_key_unchecked(two: TwoPools, faulty_emulator: StartEmulator) -> None:
    """The near-miss: the token is checked against its own issuer's provider, whatever Logins
    key names it, so a staff token keyed as a customers login gets credentials."""
    broken = faulty_emulator("token-logins-key-unchecked")
    _, name = two.users["admin"]
    logins = {two.customers.provider_name: two.staff.id_token(name)}
    broken_ci = client(broken.endpoint, "cognito-identity")
    got = outcome(broken, lambda: credentials(broken_ci, two.pools["both"], logins))
    assert got.startswith("ISSUED(")
