"""cognito-identity end to end over HTTP with boto3: pools, tokens, role choice, faults.

Rows are named by SPEC rule id. Outcomes read like the suite's verdicts:
"ISSUED(<role>)" or "REFUSED(<error code>)".
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from rolecall.emulator import Clock, Emulator
from rolecall.emulator.cognitoidentity.mapping import UNAUTH_SESSION_POLICY
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
    fetch_json,
    raw_json_call,
    role_arn,
    tamper,
    unique,
)

ID_PATTERN = re.compile(r"^eu-west-1:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
StartEmulator = Callable[..., Emulator]

RULES = [
    {"Claim": "cognito:groups", "MatchType": "Equals", "Value": "readers", "RoleARN": "READ"},
    {"Claim": "cognito:groups", "MatchType": "Contains", "Value": "admin", "RoleARN": "ADMIN"},
    {"Claim": "cognito:groups", "MatchType": "StartsWith", "Value": "writ", "RoleARN": "WRITE"},
    {"Claim": "custom:dept", "MatchType": "NotEqual", "Value": "sales", "RoleARN": "TA"},
]


@dataclass
class World:
    """One user pool, its groups and users, roles, and identity pools of every mapping kind."""

    emulator: Emulator
    up: UserPool
    roles: dict[str, str] = field(default_factory=dict)  # symbol -> role ARN
    users: dict[str, str] = field(default_factory=dict)  # symbol -> username
    pools: dict[str, str] = field(default_factory=dict)  # symbol -> identity pool id
    _tokens: dict[str, str] = field(default_factory=dict)

    def role_name(self, symbol: str) -> str:
        return self.roles[symbol].rsplit("/", 1)[-1]

    def token(self, user: str) -> str:
        if user not in self._tokens:
            self._tokens[user] = self.up.id_token(self.users[user])
        return self._tokens[user]

    def logins(self, user: str) -> dict[str, str]:
        return {self.up.provider_name: self.token(user)}


@pytest.fixture(scope="module")
def world(emulator: Emulator) -> World:
    idp, iam, ci = admin_clients(emulator.endpoint)
    up = create_user_pool(idp, Schema=[{"Name": "dept", "AttributeDataType": "String",
                                        "Mutable": True}])
    world = World(emulator, up)
    for symbol in ("AUTH", "READ", "WRITE", "ADMIN", "TA", "TB"):
        world.roles[symbol] = create_role(iam, unique(symbol.lower()), cognito_trust())
    world.roles["UNAUTH"] = create_role(iam, unique("unauth"),
                                        cognito_trust(["unauthenticated", "authenticated"]))
    up.add_group("readers", world.roles["READ"], 10)
    up.add_group("writers", world.roles["WRITE"], 5)
    up.add_group("admins-readonly", world.roles["ADMIN"])
    up.add_group("tie-a", world.roles["TA"], 3)
    up.add_group("tie-b", world.roles["TB"], 3)
    up.add_group("plain", None, 0)
    up.add_group("readers-archive")
    memberships: dict[str, tuple[str, ...]] = {
        "reader": ("readers",), "writer": ("writers",), "both": ("readers", "writers"),
        "nogroup": (), "tie": ("tie-a", "tie-b"), "adminro": ("admins-readonly",),
        "plainuser": ("plain",), "archivist": ("readers-archive",),
    }
    for symbol, groups in memberships.items():
        world.users[symbol] = up.add_user(groups)
    world.users["eng"] = up.add_user((), **{"custom:dept": "eng"})
    world.users["sales"] = up.add_user((), **{"custom:dept": "sales"})
    roles = {"authenticated": world.roles["AUTH"], "unauthenticated": world.roles["UNAUTH"]}
    rules = [{**rule, "RoleARN": world.roles[rule["RoleARN"]]} for rule in RULES]
    mappings = {
        "none": None,
        "token-auth": {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"},
        "token-deny": {"Type": "Token", "AmbiguousRoleResolution": "Deny"},
        "rules-auth": {"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
                       "RulesConfiguration": {"Rules": rules}},
        "rules-deny": {"Type": "Rules", "AmbiguousRoleResolution": "Deny",
                       "RulesConfiguration": {"Rules": rules}},
    }
    for symbol, mapping in mappings.items():
        pool_id = create_identity_pool(ci, [up.provider()], allow_unauthenticated=True)
        kwargs: dict[str, Any] = {"IdentityPoolId": pool_id, "Roles": roles}
        if mapping is not None:
            kwargs["RoleMappings"] = {up.mapping_key: mapping}
        ci.set_identity_pool_roles(**kwargs)
        world.pools[symbol] = pool_id
    return world


def outcome(emulator: Emulator, call: Callable[[], dict[str, Any]]) -> str:
    """ISSUED(<role name>) or REFUSED(<error code>), as the suite reports it."""
    try:
        response = call()
    except ClientError as error:
        return f"REFUSED({error.response['Error']['Code']})"
    session = emulator.state.find_session(response["Credentials"]["AccessKeyId"])
    assert session is not None
    return f"ISSUED({session.role_name})"


def expected(world: World, symbol: str) -> str:
    return symbol if symbol.startswith("REFUSED") else f"ISSUED({world.role_name(symbol)})"


@pytest.fixture(scope="module")
def ci(emulator: Emulator) -> Any:
    return client(emulator.endpoint, "cognito-identity")


# ---------------------------------------------------------------------------
# Role choice: E6-E10, E12
# ---------------------------------------------------------------------------

DENIED = "REFUSED(NotAuthorizedException)"

ROLE_ROWS = [
    pytest.param("none", "reader", None, "AUTH", id="E6-no-mapping-authenticated-role"),
    pytest.param("token-auth", "both", None, "WRITE", id="E7b-preferred-role"),
    pytest.param("token-auth", "reader", None, "READ", id="E7b-preferred-single-group"),
    pytest.param("token-auth", "tie", None, "AUTH", id="E7c-tie-authenticated-role"),
    pytest.param("token-deny", "tie", None, DENIED, id="E12-tie-deny"),
    pytest.param("token-deny", "tie", "TA", "TA", id="E7a-custom-role-in-roles"),
    pytest.param("token-auth", "both", "READ", "READ", id="E7a-custom-role-beats-preferred"),
    pytest.param("token-deny", "tie", "READ", DENIED, id="E7a-custom-role-not-in-roles"),
    pytest.param("token-auth", "nogroup", None, "AUTH", id="E8-no-roles-authenticated-role"),
    pytest.param("token-deny", "nogroup", None, DENIED, id="E8-no-roles-deny"),
    pytest.param("token-auth", "plainuser", None, "AUTH", id="E8-roleless-group-only"),
    pytest.param("rules-auth", "both", None, "READ", id="E9-first-match-wins"),
    pytest.param("rules-auth", "archivist", None, "AUTH", id="E9-no-match-authenticated-role"),
    pytest.param("rules-deny", "archivist", None, DENIED, id="E9-no-match-deny"),
    pytest.param("rules-auth", "eng", None, "TA", id="E9-notequal-custom-attribute"),
    pytest.param("rules-auth", "sales", None, "AUTH", id="E9-notequal-equal-no-match"),
    pytest.param("rules-deny", "nogroup", None, DENIED, id="E9-notequal-missing-claim"),
    pytest.param("rules-auth", "both", "WRITE", "WRITE", id="E9c-custom-role-overrides-rule-order"),
    pytest.param("rules-auth", "reader", "ADMIN", DENIED, id="E9c-custom-role-of-no-matching-rule"),
    pytest.param("rules-auth", "adminro", None, "ADMIN", id="E10-contains-substring"),
    pytest.param("rules-auth", "archivist", None, "AUTH", id="E10-equals-exact-element"),
    pytest.param("rules-auth", "writer", None, "WRITE", id="E10-startswith-prefix"),
]


@pytest.mark.parametrize(("pool", "user", "custom", "want"), ROLE_ROWS)
def test_role_choice(world: World, ci: Any, pool: str, user: str, custom: str | None,
                     want: str) -> None:
    custom_arn = world.roles[custom] if custom else None
    got = outcome(world.emulator, lambda: credentials(ci, world.pools[pool], world.logins(user),
                                                      custom_arn))
    assert got == expected(world, want)


def test_e12_deny_message(world: World, ci: Any) -> None:
    code, message = error_of(lambda: credentials(ci, world.pools["token-deny"],
                                                 world.logins("tie")))
    assert code == "NotAuthorizedException"
    assert "ambiguous role mapping rules" in message and "denied this request" in message


# ---------------------------------------------------------------------------
# Identities: E1, E4, E5
# ---------------------------------------------------------------------------


def test_e1_identity_id_is_stable_per_user(world: World, ci: Any) -> None:
    pool = world.pools["none"]
    first = ci.get_id(IdentityPoolId=pool, Logins=world.logins("reader"))["IdentityId"]
    again = ci.get_id(IdentityPoolId=pool, Logins={world.up.provider_name:
                                                  world.up.id_token(world.users["reader"])})
    other = ci.get_id(IdentityPoolId=pool, Logins=world.logins("writer"))["IdentityId"]
    assert ID_PATTERN.match(first)
    assert again["IdentityId"] == first
    assert other != first
    described = ci.describe_identity(IdentityId=first)
    assert described["Logins"] == [world.up.provider_name]
    listed = ci.list_identities(IdentityPoolId=pool, MaxResults=60)["Identities"]
    assert first in [identity["IdentityId"] for identity in listed]


def test_e1_identity_is_per_pool(world: World, ci: Any) -> None:
    one = ci.get_id(IdentityPoolId=world.pools["none"], Logins=world.logins("reader"))
    two = ci.get_id(IdentityPoolId=world.pools["token-auth"], Logins=world.logins("reader"))
    assert one["IdentityId"] != two["IdentityId"]


def test_e4_guest_refused_when_disabled(world: World, ci: Any) -> None:
    pool = create_identity_pool(ci, [world.up.provider()], allow_unauthenticated=False)
    code, message = error_of(lambda: ci.get_id(IdentityPoolId=pool))
    assert (code, message) == ("NotAuthorizedException",
                               "Unauthenticated access is not supported for this identity pool.")


def test_e4_e5_guest_gets_unauthenticated_role_scoped_down(world: World, ci: Any) -> None:
    pool = world.pools["none"]
    guest = ci.get_id(IdentityPoolId=pool)["IdentityId"]
    assert ID_PATTERN.match(guest)
    assert ci.get_id(IdentityPoolId=pool)["IdentityId"] != guest  # each guest is new
    response = ci.get_credentials_for_identity(IdentityId=guest)
    session = world.emulator.state.find_session(response["Credentials"]["AccessKeyId"])
    assert session is not None
    assert session.role_name == world.role_name("UNAUTH")
    assert session.session_policies == [UNAUTH_SESSION_POLICY]
    assert session.context["cognito-identity.amazonaws.com:amr"] == ["unauthenticated"]


LOGINS_DONT_MATCH = ("Logins don't match. Please include at least one valid login for this "
                     "identity or identity pool.")


def test_authenticated_identity_needs_its_logins(world: World, ci: Any) -> None:
    pool = world.pools["none"]
    identity = ci.get_id(IdentityPoolId=pool, Logins=world.logins("reader"))["IdentityId"]
    code, message = error_of(lambda: ci.get_credentials_for_identity(IdentityId=identity))
    assert (code, message) == ("NotAuthorizedException", LOGINS_DONT_MATCH)


def _pair(world: World, ci: Any, pool: str) -> tuple[dict[str, str], dict[str, str], str, str]:
    """Two fresh users of the pool (a fault may move their logins), their Logins and ids."""
    a = {world.up.provider_name: world.up.id_token(world.up.add_user(("readers",)))}
    b = {world.up.provider_name: world.up.id_token(world.up.add_user(("readers",)))}
    return (a, b, ci.get_id(IdentityPoolId=pool, Logins=a)["IdentityId"],
            ci.get_id(IdentityPoolId=pool, Logins=b)["IdentityId"])


@pytest.mark.parametrize("operation", ["get_credentials_for_identity", "get_open_id_token"])
@pytest.mark.parametrize("b_first", [True, False], ids=["b-linked", "b-unlinked"])
def test_e14_another_users_token_on_an_identity(world: World, ci: Any, operation: str,
                                                 b_first: bool) -> None:
    """E14: B's valid token on A's identity is refused, and nothing moves: GetId answers A
    and B their own identities after it, whether B had signed in to the pool before or not."""
    pool = world.pools["none"]  # classic flow never set: GetOpenIdToken allowed (C2)
    a = {world.up.provider_name: world.up.id_token(world.up.add_user(("readers",)))}
    b = {world.up.provider_name: world.up.id_token(world.up.add_user(("readers",)))}
    a_id = ci.get_id(IdentityPoolId=pool, Logins=a)["IdentityId"]
    b_id = ci.get_id(IdentityPoolId=pool, Logins=b)["IdentityId"] if b_first else None
    code, message = error_of(lambda: getattr(ci, operation)(IdentityId=a_id, Logins=b))
    assert (code, message) == ("NotAuthorizedException", LOGINS_DONT_MATCH)
    assert ci.get_id(IdentityPoolId=pool, Logins=a)["IdentityId"] == a_id
    b_after = ci.get_id(IdentityPoolId=pool, Logins=b)["IdentityId"]
    assert b_after != a_id and (b_id is None or b_after == b_id)
    for identity in (a_id, b_after):
        assert ci.describe_identity(IdentityId=identity)["Logins"] == [world.up.provider_name]


def test_a_login_linked_elsewhere_is_forbidden_on_a_guest_identity(world: World, ci: Any) -> None:
    """An unauthenticated identity has no login to match; one already linked to another
    identity is not moved onto it (field: aws-sdk-ios #165)."""
    pool = world.pools["none"]
    a, _, a_id, _ = _pair(world, ci, pool)
    guest = ci.get_id(IdentityPoolId=pool)["IdentityId"]
    code, message = error_of(lambda: ci.get_credentials_for_identity(IdentityId=guest, Logins=a))
    assert (code, message) == ("NotAuthorizedException", f"Access to Identity '{guest}' is "
                                                          "forbidden.")
    assert ci.get_id(IdentityPoolId=pool, Logins=a)["IdentityId"] == a_id


# ---------------------------------------------------------------------------
# Tokens: E2, G8, E3
# ---------------------------------------------------------------------------


def test_e2_expired_token(world: World, faulty_emulator: StartEmulator) -> None:
    later = faulty_emulator(clock=Clock(offset=2 * 3600))
    ci_later = client(later.endpoint, "cognito-identity")
    code, message = error_of(lambda: ci_later.get_id(IdentityPoolId=world.pools["none"],
                                                     Logins=world.logins("reader")))
    assert code == "NotAuthorizedException"
    assert message.startswith("Invalid login token. Token expired: ")


@pytest.fixture(scope="module")
def strangers(world: World, emulator: Emulator) -> dict[str, Any]:
    """Tokens the pools must refuse: another app client, another user pool."""
    idp = client(emulator.endpoint, "cognito-idp")
    other_client = world.up.add_client()
    other_pool = create_user_pool(idp)
    user = other_pool.add_user()
    return {
        "other_client_token": world.up.id_token(world.users["reader"], client_id=other_client),
        "other_pool": other_pool,
        "other_pool_token": other_pool.id_token(user),
    }


def test_e2_wrong_audience(world: World, ci: Any, strangers: dict[str, Any]) -> None:
    code, message = error_of(lambda: ci.get_id(
        IdentityPoolId=world.pools["none"],
        Logins={world.up.provider_name: strangers["other_client_token"]}))
    assert (code, message) == ("NotAuthorizedException",
                               "Token is not from a supported provider of this identity pool.")


def test_e2_provider_not_configured(world: World, ci: Any, strangers: dict[str, Any]) -> None:
    other: UserPool = strangers["other_pool"]
    code, message = error_of(lambda: ci.get_id(
        IdentityPoolId=world.pools["none"],
        Logins={other.provider_name: strangers["other_pool_token"]}))
    assert (code, message) == ("NotAuthorizedException",
                               "Token is not from a supported provider of this identity pool.")


def test_e2_issuer_does_not_match_key(world: World, ci: Any, strangers: dict[str, Any]) -> None:
    code, message = error_of(lambda: ci.get_id(
        IdentityPoolId=world.pools["none"],
        Logins={world.up.provider_name: strangers["other_pool_token"]}))
    assert code == "NotAuthorizedException" and "Issuer doesn't match providerName" in message


def test_e2_forged_token(world: World, ci: Any) -> None:
    forged = tamper(world.token("reader"), **{"cognito:preferred_role": world.roles["ADMIN"]})
    code, message = error_of(lambda: ci.get_id(IdentityPoolId=world.pools["token-auth"],
                                               Logins={world.up.provider_name: forged}))
    assert (code, message) == ("NotAuthorizedException",
                               "Invalid login token. Couldn't verify signed token.")


def test_g8_access_token_refused(world: World, ci: Any) -> None:
    access = world.up.sign_in(world.users["reader"])["AccessToken"]
    code, message = error_of(lambda: ci.get_id(IdentityPoolId=world.pools["none"],
                                               Logins={world.up.provider_name: access}))
    assert (code, message) == ("NotAuthorizedException",
                               "Invalid login token. Missing a required claim: aud")


def _sign_out(up: UserPool, username: str) -> None:
    up.idp.admin_user_global_sign_out(UserPoolId=up.pool_id, Username=username)


def _disable(up: UserPool, username: str) -> None:
    up.idp.admin_disable_user(UserPoolId=up.pool_id, Username=username)


def _delete(up: UserPool, username: str) -> None:
    up.idp.admin_delete_user(UserPoolId=up.pool_id, Username=username)


E3_ROWS = [
    pytest.param(_sign_out, True, DENIED, id="E3-admin-sign-out-checked"),
    pytest.param(_disable, True, DENIED, id="E3-disabled-checked"),
    pytest.param(_delete, True, DENIED, id="E3-deleted-checked"),
    pytest.param(_sign_out, False, "AUTH", id="E3-sign-out-unchecked"),
    pytest.param(_disable, False, "AUTH", id="E3-disabled-unchecked"),
    pytest.param(_delete, False, "AUTH", id="E3-deleted-unchecked"),
]


@pytest.mark.parametrize(("action", "checked", "want"), E3_ROWS)
def test_e3_server_side_token_check(world: World, ci: Any, action: Callable[[UserPool, str], None],
                                    checked: bool, want: str) -> None:
    pool = create_identity_pool(ci, [world.up.provider(server_side_token_check=checked)])
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": world.roles["AUTH"]})
    username = world.up.add_user()
    token = world.up.id_token(username)
    action(world.up, username)
    got = outcome(world.emulator, lambda: credentials(ci, pool, {world.up.provider_name: token}))
    assert got == expected(world, want)


def test_e3_token_issued_after_sign_out_works(world: World, ci: Any) -> None:
    pool = create_identity_pool(ci, [world.up.provider(server_side_token_check=True)])
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": world.roles["AUTH"]})
    username = world.up.add_user()
    old = world.up.id_token(username)
    _sign_out(world.up, username)
    new = world.up.id_token(username)
    logins_old = {world.up.provider_name: old}
    assert outcome(world.emulator, lambda: credentials(ci, pool, logins_old)) == DENIED
    got = outcome(world.emulator, lambda: credentials(ci, pool, {world.up.provider_name: new}))
    assert got == expected(world, "AUTH")


def test_e3_self_service_global_sign_out(ci: Any, emulator: Emulator) -> None:
    """GlobalSignOut (the user's own call) revokes like AdminUserGlobalSignOut.

    GlobalSignOut is unsigned, so moto serves it from its default region: the user
    pool lives in us-east-1 here.
    """
    idp = client(emulator.endpoint, "cognito-idp", region_name="us-east-1")
    iam = client(emulator.endpoint, "iam")
    up = create_user_pool(idp)
    pool = create_identity_pool(ci, [up.provider(server_side_token_check=True)])
    role = create_role(iam, unique("auth"), cognito_trust())
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": role})
    username = up.add_user()
    tokens = up.sign_in(username)
    idp.global_sign_out(AccessToken=tokens["AccessToken"])
    logins = {up.provider_name: tokens["IdToken"]}
    assert outcome(emulator, lambda: credentials(ci, pool, logins)) == DENIED


# ---------------------------------------------------------------------------
# Trust and credentials: E11, E13
# ---------------------------------------------------------------------------


def test_e11_trust_policy_refuses(world: World, ci: Any, emulator: Emulator) -> None:
    iam = client(emulator.endpoint, "iam")
    elsewhere = create_role(iam, unique("elsewhere"),
                            cognito_trust(aud="eu-west-1:00000000-0000-0000-0000-000000000000"))
    pool = create_identity_pool(ci, [world.up.provider()])
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": elsewhere})
    code, message = error_of(lambda: credentials(ci, pool, world.logins("reader")))
    assert (code, message) == (
        "InvalidIdentityPoolConfigurationException",
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.")


def test_e11_missing_role(world: World, ci: Any) -> None:
    pool = create_identity_pool(ci, [world.up.provider()])
    ci.set_identity_pool_roles(IdentityPoolId=pool,
                               Roles={"authenticated": role_arn(unique("never-created"))})
    code, _ = error_of(lambda: credentials(ci, pool, world.logins("reader")))
    assert code == "InvalidIdentityPoolConfigurationException"


def test_e13_credentials(world: World, ci: Any) -> None:
    before = time.time()
    response = credentials(ci, world.pools["token-auth"], world.logins("both"))
    creds = response["Credentials"]
    assert set(creds) == {"AccessKeyId", "SecretKey", "SessionToken", "Expiration"}
    assert abs(creds["Expiration"].timestamp() - (before + 3600)) < 60
    session = world.emulator.state.find_session(creds["AccessKeyId"])
    assert session is not None
    assert session.assumed_role_arn == (
        f"arn:aws:sts::123456789012:assumed-role/{world.role_name('WRITE')}"
        "/CognitoIdentityCredentials")
    assert session.session_policies == []
    sub = jwt.decode(world.token("both"), options={"verify_signature": False})["sub"]
    provider = world.up.provider_name
    assert session.context == {
        "cognito-identity.amazonaws.com:aud": [world.pools["token-auth"]],
        "cognito-identity.amazonaws.com:amr": ["authenticated", provider,
                                               f"{provider}:CognitoSignIn:{sub}"],
        "cognito-identity.amazonaws.com:sub": [response["IdentityId"]],
    }


# ---------------------------------------------------------------------------
# Classic flow gates and the OIDC token: C1-C4
# ---------------------------------------------------------------------------

CLASSIC_ROWS = [
    pytest.param(False, False, "Basic (classic) flow is not enabled, please use enhanced flow.",
                 id="C1-classic-disabled"),
    pytest.param(None, False, None, id="C2-classic-unset-allowed"),
    pytest.param(True, False, None, id="C2-classic-enabled"),
    pytest.param(True, True,
                 "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow.",
                 id="C3-classic-with-role-mappings"),
]


@pytest.mark.parametrize(("classic", "mapped", "refusal"), CLASSIC_ROWS)
def test_classic_gates(world: World, ci: Any, classic: bool | None, mapped: bool,
                       refusal: str | None) -> None:
    extra = {} if classic is None else {"AllowClassicFlow": classic}
    pool = create_identity_pool(ci, [world.up.provider()], **extra)
    described = ci.describe_identity_pool(IdentityPoolId=pool)
    assert described.get("AllowClassicFlow") == classic  # unset stays absent
    roles: dict[str, Any] = {"IdentityPoolId": pool, "Roles": {"authenticated": world.roles["AUTH"]}}
    if mapped:
        roles["RoleMappings"] = {world.up.mapping_key: {"Type": "Token",
                                                        "AmbiguousRoleResolution": "Deny"}}
    ci.set_identity_pool_roles(**roles)
    logins = world.logins("reader")
    identity = ci.get_id(IdentityPoolId=pool, Logins=logins)["IdentityId"]
    if refusal is None:
        assert ci.get_open_id_token(IdentityId=identity, Logins=logins)["Token"]
    else:
        code, message = error_of(lambda: ci.get_open_id_token(IdentityId=identity, Logins=logins))
        assert (code, message) == ("InvalidParameterException", refusal)


def test_c4_open_id_token(world: World, ci: Any, emulator: Emulator) -> None:
    pool = create_identity_pool(ci, [world.up.provider()], allow_unauthenticated=True)
    logins = world.logins("reader")
    identity = ci.get_id(IdentityPoolId=pool, Logins=logins)["IdentityId"]
    token = ci.get_open_id_token(IdentityId=identity, Logins=logins)["Token"]
    jwks = fetch_json(f"{emulator.endpoint}/_rolecall/cognito-identity/.well-known/jwks.json")
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=pool,
                        issuer="https://cognito-identity.amazonaws.com")
    sub = jwt.decode(world.token("reader"), options={"verify_signature": False})["sub"]
    provider = world.up.provider_name
    assert claims["sub"] == identity
    assert claims["amr"] == ["authenticated", provider, f"{provider}:CognitoSignIn:{sub}"]
    assert claims["exp"] - claims["iat"] == 600
    guest = ci.get_id(IdentityPoolId=pool)["IdentityId"]
    guest_token = ci.get_open_id_token(IdentityId=guest)["Token"]
    assert jwt.decode(guest_token, options={"verify_signature": False})["amr"] == [
        "unauthenticated"]


# ---------------------------------------------------------------------------
# ID token claims through moto: G2-G9
# ---------------------------------------------------------------------------


def test_g3_g4_g8_claims_in_tokens(world: World) -> None:
    tokens = world.up.sign_in(world.users["both"])
    id_claims = jwt.decode(tokens["IdToken"], options={"verify_signature": False})
    assert id_claims["cognito:groups"] == ["readers", "writers"]
    assert id_claims["cognito:roles"] == [world.roles["READ"], world.roles["WRITE"]]
    assert id_claims["cognito:preferred_role"] == world.roles["WRITE"]
    access = jwt.decode(tokens["AccessToken"], options={"verify_signature": False})
    assert "cognito:roles" not in access and "cognito:preferred_role" not in access
    tie = jwt.decode(world.token("tie"), options={"verify_signature": False})
    assert "cognito:preferred_role" not in tie
    plain = jwt.decode(world.token("plainuser"), options={"verify_signature": False})
    assert "cognito:roles" not in plain and plain["cognito:groups"] == ["plain"]


def test_g9_id_token_verifies_against_published_jwks(world: World, emulator: Emulator) -> None:
    token = world.token("reader")
    jwks = fetch_json(f"{emulator.endpoint}/{world.up.pool_id}/.well-known/jwks.json")
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=world.up.client_id,
                        issuer=f"https://cognito-idp.eu-west-1.amazonaws.com/{world.up.pool_id}")
    assert claims["token_use"] == "id"


# ---------------------------------------------------------------------------
# Pool configuration: P1-P3
# ---------------------------------------------------------------------------


def test_p1_describe_keeps_every_field(world: World, ci: Any) -> None:
    checked = world.up.provider(server_side_token_check=True)
    unchecked = {"ProviderName": world.up.provider_name, "ClientId": world.up.add_client()}
    pool = create_identity_pool(
        ci, [checked, unchecked], allow_unauthenticated=True, AllowClassicFlow=False,
        SupportedLoginProviders={"graph.facebook.com": "1234"},
        DeveloperProviderName="login.rolecall",
        OpenIdConnectProviderARNs=["arn:aws:iam::123456789012:oidc-provider/idp.example.com"],
        SamlProviderARNs=["arn:aws:iam::123456789012:saml-provider/corp"],
        IdentityPoolTags={"team": "rolecall"},
    )
    described = ci.describe_identity_pool(IdentityPoolId=pool)
    assert described["AllowUnauthenticatedIdentities"] is True
    assert described["AllowClassicFlow"] is False
    assert described["CognitoIdentityProviders"] == [checked, {**unchecked,
                                                               "ServerSideTokenCheck": False}]
    assert described["SupportedLoginProviders"] == {"graph.facebook.com": "1234"}
    assert described["DeveloperProviderName"] == "login.rolecall"
    assert described["OpenIdConnectProviderARNs"] == [
        "arn:aws:iam::123456789012:oidc-provider/idp.example.com"]
    assert described["SamlProviderARNs"] == ["arn:aws:iam::123456789012:saml-provider/corp"]
    assert described["IdentityPoolTags"] == {"team": "rolecall"}


def test_p1_update_replaces_configuration(world: World, ci: Any) -> None:
    pool = create_identity_pool(ci, [world.up.provider()], AllowClassicFlow=True)
    name = ci.describe_identity_pool(IdentityPoolId=pool)["IdentityPoolName"]
    updated = ci.update_identity_pool(IdentityPoolId=pool, IdentityPoolName=name,
                                      AllowUnauthenticatedIdentities=True)
    assert "AllowClassicFlow" not in updated and "CognitoIdentityProviders" not in updated
    assert ci.describe_identity_pool(IdentityPoolId=pool)["AllowUnauthenticatedIdentities"]


def test_pool_lifecycle_list_tags_delete(ci: Any) -> None:
    pools = [create_identity_pool(ci) for _ in range(3)]
    seen: list[str] = []
    token: str | None = None
    while True:
        page = ci.list_identity_pools(MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(page["IdentityPools"]) <= 2
        seen += [entry["IdentityPoolId"] for entry in page["IdentityPools"]]
        token = page.get("NextToken")
        if not token:
            break
    assert set(pools) <= set(seen)
    arn = f"arn:aws:cognito-identity:eu-west-1:123456789012:identitypool/{pools[0]}"
    ci.tag_resource(ResourceArn=arn, Tags={"a": "1", "b": "2"})
    ci.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ci.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"b": "2"}
    ci.delete_identity_pool(IdentityPoolId=pools[0])
    code, message = error_of(lambda: ci.describe_identity_pool(IdentityPoolId=pools[0]))
    assert code == "ResourceNotFoundException" and pools[0] in message


def test_p2_mapping_key_must_be_configured_provider(world: World, ci: Any) -> None:
    pool = create_identity_pool(ci, [world.up.provider()])
    wrong_key = f"{world.up.provider_name}:not-the-client"
    code, message = error_of(lambda: ci.set_identity_pool_roles(
        IdentityPoolId=pool, Roles={"authenticated": world.roles["AUTH"]},
        RoleMappings={wrong_key: {"Type": "Token", "AmbiguousRoleResolution": "Deny"}}))
    assert (code, message) == (
        "InvalidParameterException",
        f"{wrong_key} is not a valid RoleMapping ProviderName or is not a configured provider.")
    assert ci.get_identity_pool_roles(IdentityPoolId=pool)["Roles"] == {}  # nothing changed


def _rule(match_type: str = "Equals") -> dict[str, str]:
    return {"Claim": "cognito:groups", "MatchType": match_type, "Value": "x",
            "RoleARN": role_arn("some-role-name")}


P3_ROWS = [
    pytest.param({"Type": "Magic", "AmbiguousRoleResolution": "Deny"}, "Type", id="P3-bad-type"),
    pytest.param({"Type": "Token"}, "AmbiguousRoleResolution", id="P3-token-needs-ambiguous"),
    pytest.param({"Type": "Rules", "RulesConfiguration": {"Rules": [_rule()]}},
                 "AmbiguousRoleResolution", id="P3-rules-need-ambiguous"),
    pytest.param({"Type": "Token", "AmbiguousRoleResolution": "Maybe"},
                 "AmbiguousRoleResolution", id="P3-bad-ambiguous"),
    pytest.param({"Type": "Rules", "AmbiguousRoleResolution": "Deny"}, "RulesConfiguration",
                 id="P3-rules-need-configuration"),
    pytest.param({"Type": "Rules", "AmbiguousRoleResolution": "Deny",
                  "RulesConfiguration": {"Rules": []}}, "Rules", id="P3-zero-rules"),
    pytest.param({"Type": "Rules", "AmbiguousRoleResolution": "Deny",
                  "RulesConfiguration": {"Rules": [_rule()] * 26}}, "25", id="P3-26-rules"),
    pytest.param({"Type": "Rules", "AmbiguousRoleResolution": "Deny",
                  "RulesConfiguration": {"Rules": [_rule("Regex")]}}, "MatchType",
                 id="P3-bad-match-type"),
    pytest.param({"Type": "Rules", "AmbiguousRoleResolution": "Deny",
                  "RulesConfiguration": {"Rules": [{"Claim": "c", "MatchType": "Equals",
                                                    "Value": "v"}]}},
                 "RoleARN", id="P3-rule-needs-role"),
]


@pytest.mark.parametrize(("mapping", "named"), P3_ROWS)
def test_p3_role_mapping_validation(world: World, ci: Any, emulator: Emulator,
                                    mapping: dict[str, Any], named: str) -> None:
    pool = create_identity_pool(ci, [world.up.provider()])
    good = {world.up.mapping_key: {"Type": "Token", "AmbiguousRoleResolution": "Deny"}}
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": world.roles["AUTH"]},
                               RoleMappings=good)
    status, body = raw_json_call(emulator.endpoint, "AWSCognitoIdentityService.SetIdentityPoolRoles",
                                 {"IdentityPoolId": pool, "Roles": {},
                                  "RoleMappings": {world.up.mapping_key: mapping}},
                                 signed=True)
    assert status == 400
    assert body["__type"] == "InvalidParameterException" and named in body["message"]
    after = ci.get_identity_pool_roles(IdentityPoolId=pool)  # validated before any change
    assert after["Roles"] == {"authenticated": world.roles["AUTH"]}
    assert after["RoleMappings"] == good


# ---------------------------------------------------------------------------
# Bad input: AWS-shaped 4xx, never 500
# ---------------------------------------------------------------------------

BAD_INPUT = [
    pytest.param("GetId", b"{not json", "SerializationException", "JSON", id="malformed-json"),
    pytest.param("GetId", b"[1, 2]", "SerializationException", "object", id="json-not-object"),
    pytest.param("Frobnicate", {}, "UnknownOperationException", "Frobnicate",
                 id="unknown-operation"),
    pytest.param("GetId", {}, "InvalidParameterException", "IdentityPoolId",
                 id="missing-pool-id"),
    pytest.param("GetId", {"IdentityPoolId": 7}, "InvalidParameterException", "IdentityPoolId",
                 id="pool-id-wrong-type"),
    pytest.param("GetId", {"IdentityPoolId": "nonsense"}, "InvalidParameterException",
                 "IdentityPoolId", id="pool-id-bad-pattern"),
    pytest.param("GetId", {"IdentityPoolId": "eu-west-1:00000000-0000-0000-0000-000000000000"},
                 "ResourceNotFoundException", "eu-west-1:00000000", id="unknown-pool"),
    pytest.param("GetCredentialsForIdentity",
                 {"IdentityId": "eu-west-1:00000000-0000-0000-0000-000000000000"},
                 "ResourceNotFoundException", "Identity", id="unknown-identity"),
    pytest.param("CreateIdentityPool", {"IdentityPoolName": "x"}, "InvalidParameterException",
                 "AllowUnauthenticatedIdentities", id="create-missing-flag"),
    pytest.param("CreateIdentityPool", {"IdentityPoolName": "x",
                                        "AllowUnauthenticatedIdentities": "yes"},
                 "InvalidParameterException", "AllowUnauthenticatedIdentities",
                 id="create-flag-wrong-type"),
    pytest.param("CreateIdentityPool", {"IdentityPoolName": "x",
                                        "AllowUnauthenticatedIdentities": False,
                                        "CognitoIdentityProviders": [{"ClientId": "c"}]},
                 "InvalidParameterException", "ProviderName", id="create-provider-no-name"),
    pytest.param("GetId", {"IdentityPoolId": "eu-west-1:00000000-0000-0000-0000-000000000000",
                           "Logins": {"cognito-idp.eu-west-1.amazonaws.com/x": ""}},
                 "InvalidParameterException", "Logins", id="empty-login-token"),
    pytest.param("ListIdentityPools", {}, "InvalidParameterException", "MaxResults",
                 id="list-missing-max-results"),
    pytest.param("ListIdentityPools", {"MaxResults": 0}, "InvalidParameterException",
                 "MaxResults", id="list-max-results-zero"),
]


@pytest.mark.parametrize(("operation", "body", "code", "named"), BAD_INPUT)
def test_bad_input(emulator: Emulator, operation: str, body: Any, code: str, named: str) -> None:
    status, answer = raw_json_call(emulator.endpoint, f"AWSCognitoIdentityService.{operation}",
                                   body, signed=True)  # admin operations are among them
    assert status == 400
    assert answer["__type"] == code
    assert named in answer["message"]


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_garbage_tokens(world: World, emulator: Emulator, token: str) -> None:
    status, answer = raw_json_call(emulator.endpoint, "AWSCognitoIdentityService.GetId",
                                   {"IdentityPoolId": world.pools["none"],
                                    "Logins": {world.up.provider_name: token}})
    assert status == 400
    assert answer["__type"] == "NotAuthorizedException"
    assert token not in answer["message"]  # never echo a token


def test_logins_wrong_type(world: World, emulator: Emulator) -> None:
    status, answer = raw_json_call(emulator.endpoint, "AWSCognitoIdentityService.GetId",
                                   {"IdentityPoolId": world.pools["none"], "Logins": ["x"]})
    assert (status, answer["__type"]) == (400, "InvalidParameterException")
    assert "Logins" in answer["message"]


# ---------------------------------------------------------------------------
# Faults: each one changes an outcome
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultRow:
    pool: str
    user: str
    custom: str | None
    faithful: str
    faulty: str


ROLE_FAULTS = [
    pytest.param("token-custom-role-unchecked", FaultRow("token-deny", "tie", "READ", DENIED, "READ"),
                 id="E7-custom-role-unchecked"),
    pytest.param("token-deny-falls-back", FaultRow("token-deny", "tie", None, DENIED, "AUTH"),
                 id="E7-deny-falls-back"),
    pytest.param("token-preferred-ignored", FaultRow("token-auth", "both", None, "WRITE", "AUTH"),
                 id="E7-preferred-ignored"),
    pytest.param("rules-last-match-wins", FaultRow("rules-auth", "both", None, "READ", "WRITE"),
                 id="E9-last-match-wins"),
    pytest.param("rules-contains-as-equals",
                 FaultRow("rules-auth", "adminro", None, "ADMIN", "AUTH"),
                 id="E10-contains-as-equals"),
    pytest.param("rules-equals-as-contains",
                 FaultRow("rules-auth", "archivist", None, "AUTH", "READ"),
                 id="E10-equals-as-contains"),
    pytest.param("rules-notequal-matches-missing",
                 FaultRow("rules-auth", "nogroup", None, "AUTH", "TA"),
                 id="E9-notequal-matches-missing"),
    pytest.param("rules-startswith-ignored",
                 FaultRow("rules-auth", "writer", None, "WRITE", "AUTH"),
                 id="E10-startswith-ignored"),
    pytest.param("unauth-role-for-authenticated",
                 FaultRow("none", "reader", None, "AUTH", "UNAUTH"),
                 id="E6-unauth-role-for-authenticated"),
]


@pytest.mark.parametrize(("fault", "row"), ROLE_FAULTS)
def test_role_faults(world: World, ci: Any, faulty_emulator: StartEmulator, fault: str,
                     row: FaultRow) -> None:
    faulty = faulty_emulator(fault)
    faulty_ci = client(faulty.endpoint, "cognito-identity")
    custom = world.roles[row.custom] if row.custom else None
    logins = world.logins(row.user)
    got = outcome(world.emulator, lambda: credentials(ci, world.pools[row.pool], logins, custom))
    assert got == expected(world, row.faithful)
    got = outcome(faulty, lambda: credentials(faulty_ci, world.pools[row.pool], logins, custom))
    assert got == expected(world, row.faulty)


def _both(world: World, faulty_emulator: StartEmulator, fault: str,
          attempt: Callable[[Emulator, Any], str], faithful: Emulator | None = None) -> tuple[str, str]:
    """The outcome of `attempt` on the faithful emulator and on one with `fault` switched on."""
    reference = faithful or world.emulator
    faulty = faulty_emulator(fault, clock=reference.state.clock)
    return (attempt(reference, client(reference.endpoint, "cognito-identity")),
            attempt(faulty, client(faulty.endpoint, "cognito-identity")))


def test_fault_token_expired_accepted(world: World, faulty_emulator: StartEmulator) -> None:
    later = faulty_emulator(clock=Clock(offset=2 * 3600))
    logins = world.logins("reader")
    got = _both(world, faulty_emulator, "token-expired-accepted",
                lambda em, c: outcome(em, lambda: credentials(c, world.pools["none"], logins)),
                faithful=later)
    assert got == (DENIED, expected(world, "AUTH"))


def test_fault_token_wrong_aud_accepted(world: World, faulty_emulator: StartEmulator,
                                        strangers: dict[str, Any]) -> None:
    logins = {world.up.provider_name: strangers["other_client_token"]}
    got = _both(world, faulty_emulator, "token-wrong-aud-accepted",
                lambda em, c: outcome(em, lambda: credentials(c, world.pools["none"], logins)))
    assert got == (DENIED, expected(world, "AUTH"))


def test_fault_token_wrong_issuer_accepted(world: World, faulty_emulator: StartEmulator,
                                           strangers: dict[str, Any]) -> None:
    logins = {strangers["other_pool"].provider_name: strangers["other_pool_token"]}
    got = _both(world, faulty_emulator, "token-wrong-issuer-accepted",
                lambda em, c: outcome(em, lambda: credentials(c, world.pools["none"], logins)))
    assert got == (DENIED, expected(world, "AUTH"))


def test_fault_token_signature_unchecked(world: World, faulty_emulator: StartEmulator) -> None:
    forged = tamper(world.token("reader"), **{"cognito:preferred_role": world.roles["ADMIN"]})
    logins = {world.up.provider_name: forged}
    got = _both(world, faulty_emulator, "token-signature-unchecked",
                lambda em, c: outcome(em, lambda: credentials(c, world.pools["token-auth"], logins)))
    assert got == (DENIED, expected(world, "ADMIN"))


def test_fault_token_access_token_accepted(world: World, faulty_emulator: StartEmulator) -> None:
    access = world.up.sign_in(world.users["reader"])["AccessToken"]
    logins = {world.up.provider_name: access}
    got = _both(world, faulty_emulator, "token-access-token-accepted",
                lambda em, c: outcome(em, lambda: credentials(c, world.pools["none"], logins)))
    assert got == (DENIED, expected(world, "AUTH"))


def test_fault_token_signout_accepted(world: World, ci: Any,
                                      faulty_emulator: StartEmulator) -> None:
    pool = create_identity_pool(ci, [world.up.provider(server_side_token_check=True)])
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": world.roles["AUTH"]})
    username = world.up.add_user()
    logins = {world.up.provider_name: world.up.id_token(username)}
    _sign_out(world.up, username)
    got = _both(world, faulty_emulator, "token-signout-accepted",
                lambda em, c: outcome(em, lambda: credentials(c, pool, logins)))
    assert got == (DENIED, expected(world, "AUTH"))


def test_fault_guest_allowed_when_disabled(world: World, ci: Any,
                                           faulty_emulator: StartEmulator) -> None:
    pool = create_identity_pool(ci, [world.up.provider()], allow_unauthenticated=False)
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"unauthenticated":
                                                           world.roles["UNAUTH"]})

    def guest(em: Emulator, c: Any) -> str:
        return outcome(em, lambda: c.get_credentials_for_identity(
            IdentityId=c.get_id(IdentityPoolId=pool)["IdentityId"]))

    got = _both(world, faulty_emulator, "guest-allowed-when-disabled", guest)
    assert got == (DENIED, expected(world, "UNAUTH"))


def test_fault_guest_scope_down_skipped(world: World, faulty_emulator: StartEmulator) -> None:
    def policies(em: Emulator, c: Any) -> str:
        identity = c.get_id(IdentityPoolId=world.pools["none"])["IdentityId"]
        key = c.get_credentials_for_identity(IdentityId=identity)["Credentials"]["AccessKeyId"]
        session = em.state.find_session(key)
        assert session is not None
        return f"{len(session.session_policies)} session policies"

    got = _both(world, faulty_emulator, "guest-scope-down-skipped", policies)
    assert got == ("1 session policies", "0 session policies")


def test_fault_trust_skipped_enhanced(world: World, ci: Any, emulator: Emulator,
                                      faulty_emulator: StartEmulator) -> None:
    iam = client(emulator.endpoint, "iam")
    elsewhere = create_role(iam, unique("elsewhere"),
                            cognito_trust(aud="eu-west-1:00000000-0000-0000-0000-000000000000"))
    pool = create_identity_pool(ci, [world.up.provider()])
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": elsewhere})
    logins = world.logins("reader")
    got = _both(world, faulty_emulator, "trust-skipped-enhanced",
                lambda em, c: outcome(em, lambda: credentials(c, pool, logins)))
    assert got == ("REFUSED(InvalidIdentityPoolConfigurationException)",
                   f"ISSUED({elsewhere.rsplit('/', 1)[-1]})")


@pytest.mark.parametrize(("fault", "classic", "mapped"), [
    pytest.param("classic-gate-ignored", False, False, id="C1-classic-gate-ignored"),
    pytest.param("classic-allowed-with-mappings", True, True, id="C3-classic-with-mappings"),
])
def test_classic_faults(world: World, ci: Any, faulty_emulator: StartEmulator, fault: str,
                        classic: bool, mapped: bool) -> None:
    pool = create_identity_pool(ci, [world.up.provider()], AllowClassicFlow=classic)
    if mapped:
        ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={}, RoleMappings={
            world.up.mapping_key: {"Type": "Token", "AmbiguousRoleResolution": "Deny"}})
    logins = world.logins("reader")
    identity = ci.get_id(IdentityPoolId=pool, Logins=logins)["IdentityId"]

    def open_id_token(em: Emulator, c: Any) -> str:
        try:
            c.get_open_id_token(IdentityId=identity, Logins=logins)
        except ClientError as error:
            return f"REFUSED({error.response['Error']['Code']})"
        return "TOKEN"

    got = _both(world, faulty_emulator, fault, open_id_token)
    assert got == ("REFUSED(InvalidParameterException)", "TOKEN")


BINDING_FAULTS = [
    pytest.param("identity-foreign-login-accepted", "get_credentials_for_identity",
                 ("REFUSED(NotAuthorizedException)", "ISSUED", "same"), id="E14-accepted"),
    pytest.param("openid-foreign-login-accepted", "get_open_id_token",
                 ("REFUSED(NotAuthorizedException)", "ISSUED", "same"), id="E14-openid-accepted"),
    pytest.param("openid-foreign-login-accepted", "get_credentials_for_identity",
                 ("REFUSED(NotAuthorizedException)", "REFUSED(NotAuthorizedException)", "same"),
                 id="E14-openid-only"),
    pytest.param("identity-refused-login-relinked", "get_credentials_for_identity",
                 ("REFUSED(NotAuthorizedException)", "REFUSED(NotAuthorizedException)", "moved"),
                 id="E14-relinked"),
    pytest.param("text-logins-dont-match-wrong", "get_open_id_token",
                 ("REFUSED(NotAuthorizedException)", "REFUSED(NotAuthorizedException)", "same"),
                 id="E14-text"),
]


@pytest.mark.parametrize(("fault", "operation", "faulty"), BINDING_FAULTS)
def test_binding_faults(world: World, ci: Any, faulty_emulator: StartEmulator, fault: str,
                        operation: str, faulty: tuple[str, str, str]) -> None:
    """Each E14 fault changes what a faithful emulator answers, or where B's login is after."""
    pool = world.pools["none"]
    seen = []
    for running in (world.emulator, faulty_emulator(fault, clock=world.emulator.state.clock)):
        c = client(running.endpoint, "cognito-identity")
        _, b, a_id, b_id = _pair(world, c, pool)
        try:
            getattr(c, operation)(IdentityId=a_id, Logins=b)
            answer, text = "ISSUED", ""
        except ClientError as error:
            answer, text = f"REFUSED({error.response['Error']['Code']})", \
                error.response["Error"]["Message"]
        moved = c.get_id(IdentityPoolId=pool, Logins=b)["IdentityId"] != b_id
        seen.append((answer, text, "moved" if moved else "same"))
    (faithful, faithful_text, stayed), (answer, text, where) = seen
    assert (faithful, stayed) == (faulty[0], "same") and faithful_text == LOGINS_DONT_MATCH
    assert (answer, where) == faulty[1:]
    if fault == "text-logins-dont-match-wrong":
        assert text.startswith("Access to Identity '") and text.endswith("' is forbidden.")


CLAIM_FAULTS = [
    pytest.param("precedence-highest-wins", "both", "cognito:preferred_role", "WRITE", "READ",
                 id="G4-highest-wins"),
    pytest.param("precedence-null-wins", "mixed", "cognito:preferred_role", "WRITE", "ADMIN",
                 id="G4-null-wins"),
    pytest.param("precedence-ties-pick-first", "tie", "cognito:preferred_role", None, "TA",
                 id="G5-ties-pick-first"),
    pytest.param("precedence-roleless-counts", "plain-reader", "cognito:preferred_role", "READ",
                 None, id="G7-roleless-counts"),
    pytest.param("claims-roles-as-string", "both", "cognito:roles", ["READ", "WRITE"],
                 "READ,WRITE", id="G3-roles-as-string"),
    pytest.param("claims-preferred-role-dropped", "reader", "cognito:preferred_role", "READ",
                 None, id="G4-preferred-role-dropped"),
    pytest.param("claims-groups-dropped", "reader", "cognito:groups", ["readers"], None,
                 id="G2-groups-dropped"),
]


@pytest.fixture(scope="module")
def claim_users(world: World) -> dict[str, str]:
    users = {symbol: world.users[symbol] for symbol in ("both", "tie", "reader")}
    users["mixed"] = world.up.add_user(("admins-readonly", "writers"))  # null vs 5
    users["plain-reader"] = world.up.add_user(("plain", "readers"))  # role-less 0 vs 10
    return users


def _resolve(world: World, value: Any) -> Any:
    if isinstance(value, list):
        return [world.roles.get(v, v) for v in value]
    if isinstance(value, str):
        return ",".join(world.roles.get(part, part) for part in value.split(","))
    return value


@pytest.mark.parametrize(("fault", "user", "claim", "faithful", "faulty"), CLAIM_FAULTS)
def test_claim_faults(world: World, claim_users: dict[str, str], faulty_emulator: StartEmulator,
                      fault: str, user: str, claim: str, faithful: Any, faulty: Any) -> None:
    faulty_emulator_ = faulty_emulator(fault)
    faulty_idp = client(faulty_emulator_.endpoint, "cognito-idp")
    username = claim_users[user]
    good = jwt.decode(world.up.id_token(username), options={"verify_signature": False})
    bad = jwt.decode(world.up.id_token(username, idp=faulty_idp),
                     options={"verify_signature": False})
    assert good.get(claim) == _resolve(world, faithful)
    assert bad.get(claim) == _resolve(world, faulty)


@pytest.fixture(autouse=True)
def _no_leftover_clock_changes(emulator: Emulator) -> Iterator[None]:
    """The shared emulator's clock must never move: its tokens would all expire."""
    before = emulator.state.clock.now() - time.time()
    yield
    assert abs(emulator.state.clock.now() - time.time() - before) < 1
