"""STS end to end: the classic flow's AssumeRoleWithWebIdentity (C5-C8) and GetCallerIdentity."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from rolecall.emulator import Clock, Emulator
from tests.emulator.stack import (
    REGION,
    UserPool,
    admin_clients,
    client,
    cognito_trust,
    create_identity_pool,
    create_role,
    create_user_pool,
    credentials,
    error_of,
    raw_query_call,
    role_arn,
    tamper,
    unique,
)

NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"


@dataclass
class Classic:
    """A pool with the classic flow on, a reader, and roles the reader's group does not name."""

    emulator: Emulator
    up: UserPool
    pool_id: str
    identity_id: str
    token: str  # the reader's OIDC token from GetOpenIdToken
    guest_token: str
    roles: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def classic(emulator: Emulator) -> Classic:
    idp, iam, ci = admin_clients(emulator.endpoint)
    up = create_user_pool(idp)
    pool_id = create_identity_pool(ci, [up.provider()], allow_unauthenticated=True,
                                   AllowClassicFlow=True)
    roles = {
        "READ": create_role(iam, unique("read"), cognito_trust(aud=pool_id)),
        "ADMIN": create_role(iam, unique("admin"), cognito_trust(aud=pool_id)),
        "LONG": create_role(iam, unique("long"), cognito_trust(aud=pool_id), max_session=7200),
        "OTHER_POOL": create_role(iam, unique("other"), cognito_trust(
            aud="eu-west-1:00000000-0000-0000-0000-000000000000")),
    }
    up.add_group("readers", roles["READ"], 1)
    username = up.add_user(("readers",))
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": roles["READ"]})
    logins = {up.provider_name: up.id_token(username)}
    identity_id = ci.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
    token = ci.get_open_id_token(IdentityId=identity_id, Logins=logins)["Token"]
    guest = ci.get_id(IdentityPoolId=pool_id)["IdentityId"]
    guest_token = ci.get_open_id_token(IdentityId=guest)["Token"]
    return Classic(emulator, up, pool_id, identity_id, token, guest_token, roles)


def sts(emulator: Emulator, **keys: str) -> Any:
    if keys:
        return boto3.client("sts", endpoint_url=emulator.endpoint, region_name=REGION, **keys)
    return client(emulator.endpoint, "sts")


def assume(emulator: Emulator, role: str, token: str, **extra: Any) -> dict[str, Any]:
    return dict(sts(emulator).assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="classic-session", WebIdentityToken=token, **extra))


@pytest.mark.parametrize("role", ["READ", "ADMIN"], ids=["C5-mapped-role", "C5-any-role-escalation"])
def test_c5_any_trusting_role(classic: Classic, role: str) -> None:
    """Role mapping plays no part: the reader assumes the admin role too."""
    response = assume(classic.emulator, classic.roles[role], classic.token)
    session = classic.emulator.state.find_session(response["Credentials"]["AccessKeyId"])
    assert session is not None and session.role_arn == classic.roles[role]


def test_c5_response_shape(classic: Classic) -> None:
    before = time.time()
    response = assume(classic.emulator, classic.roles["READ"], classic.token)
    name = classic.roles["READ"].rsplit("/", 1)[-1]
    creds = response["Credentials"]
    assert set(creds) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert abs(creds["Expiration"].timestamp() - (before + 3600)) < 60
    assert response["SubjectFromWebIdentityToken"] == classic.identity_id
    assert response["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::123456789012:assumed-role/{name}/classic-session")
    assert response["AssumedRoleUser"]["AssumedRoleId"].endswith(":classic-session")
    assert response["Provider"] == "cognito-identity.amazonaws.com"
    assert response["Audience"] == classic.pool_id
    session = classic.emulator.state.find_session(creds["AccessKeyId"])
    assert session is not None
    assert session.context["cognito-identity.amazonaws.com:sub"] == [classic.identity_id]
    assert session.context["cognito-identity.amazonaws.com:aud"] == [classic.pool_id]
    assert session.context["cognito-identity.amazonaws.com:amr"][0] == "authenticated"


def test_c5_guest_token(classic: Classic, emulator: Emulator) -> None:
    iam = client(emulator.endpoint, "iam")
    guest_role = create_role(iam, unique("guest"),
                             cognito_trust(amr="unauthenticated", aud=classic.pool_id))
    assert assume(classic.emulator, guest_role, classic.guest_token)["Credentials"]
    code, _ = error_of(lambda: assume(classic.emulator, classic.roles["READ"], classic.guest_token))
    assert code == "AccessDenied"


ROLE_MAXIMUM = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."


def _range(seconds: int, bound: str) -> str:
    return (f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to "
            f"satisfy constraint: Member must have value {bound}")


DURATIONS = [
    pytest.param("READ", 900, None, id="C8-duration-minimum"),
    pytest.param("LONG", 7200, None, id="C7-duration-at-role-maximum"),
    pytest.param("READ", 7200, ROLE_MAXIMUM, id="C7-duration-above-default-maximum"),
    pytest.param("LONG", 7201, ROLE_MAXIMUM, id="C7-duration-above-role-maximum"),
    pytest.param("LONG", 899, _range(899, "greater than or equal to 900"), id="C8-below-900"),
    pytest.param("LONG", 43201, _range(43201, "less than or equal to 43200"),
                 id="C8-above-43200"),
]


def assume_unvalidated(emulator: Emulator, role: str, token: str, seconds: int) -> Any:
    """botocore refuses DurationSeconds < 900 itself (never > 43200): this client sends it."""
    return boto3.client("sts", endpoint_url=emulator.endpoint, region_name=REGION,
                        config=Config(parameter_validation=False, signature_version=UNSIGNED)
                        ).assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="classic-session", WebIdentityToken=token,
        DurationSeconds=seconds)


@pytest.mark.parametrize(("role", "seconds", "error"), DURATIONS)
def test_c7_c8_duration(classic: Classic, role: str, seconds: int, error: str | None) -> None:
    """ValidationError with AWS's text, on the wire (C7, C8); within bounds, the session lasts
    what was asked."""
    def call() -> dict[str, Any]:
        return dict(assume_unvalidated(classic.emulator, classic.roles[role], classic.token,
                                       seconds))

    if error is not None:
        assert error_of(call) == ("ValidationError", error)
        return
    before = time.time()
    expiration = call()["Credentials"]["Expiration"].timestamp()
    assert abs(expiration - (before + seconds)) < 60


def test_c5_session_policy(classic: Classic) -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}
    response = assume(classic.emulator, classic.roles["ADMIN"], classic.token,
                      Policy=json.dumps(policy))
    session = classic.emulator.state.find_session(response["Credentials"]["AccessKeyId"])
    assert session is not None and session.session_policies == [policy]
    code, _ = error_of(lambda: assume(classic.emulator, classic.roles["ADMIN"], classic.token,
                                      Policy="{not json"))
    assert code == "MalformedPolicyDocument"


def _user_pool_token(classic: Classic) -> str:
    return classic.up.id_token(classic.up.add_user())


C6_ROWS = [
    pytest.param("OTHER_POOL", lambda c: c.token, "AccessDenied", NOT_AUTHORIZED,
                 id="C6-trust-refuses"),
    pytest.param("MISSING", lambda c: c.token, "AccessDenied", NOT_AUTHORIZED,
                 id="C6-role-does-not-exist"),
    pytest.param("READ", lambda c: "garbage", "InvalidIdentityToken", None, id="C6-garbage-token"),
    pytest.param("READ", lambda c: tamper(c.token, sub="eu-west-1:someone-else"),
                 "InvalidIdentityToken", None, id="C6-forged-token"),
    pytest.param("READ", _user_pool_token, "InvalidIdentityToken", None,
                 id="C6-user-pool-token-not-accepted"),
]


@pytest.mark.parametrize(("role", "token_of", "code", "message"), C6_ROWS)
def test_c6_refusals(classic: Classic, role: str, token_of: Any, code: str,
                     message: str | None) -> None:
    arn = classic.roles.get(role) or role_arn(unique("missing"))
    got_code, got_message = error_of(lambda: assume(classic.emulator, arn, token_of(classic)))
    assert got_code == code
    if message is not None:
        assert got_message == message


def test_c6_expired_token(classic: Classic, faulty_emulator: Any) -> None:
    later = faulty_emulator(clock=Clock(offset=601))  # C4: OIDC tokens live 10 minutes
    code, message = error_of(lambda: assume(later, classic.roles["READ"], classic.token))
    assert code == "ExpiredTokenException"
    assert message.startswith("Token expired: current date/time ")


BAD_QUERY = [
    pytest.param({}, "ValidationError", "roleArn", id="missing-role-arn"),
    pytest.param({"RoleArn": "arn:aws:iam::123456789012:role/x"}, "ValidationError",
                 "roleSessionName", id="missing-session-name"),
    pytest.param({"RoleArn": "arn:aws:iam::123456789012:role/x", "RoleSessionName": "s s"},
                 "ValidationError", "webIdentityToken", id="missing-token"),
    pytest.param({"RoleArn": "arn:aws:iam::123456789012:role/x", "RoleSessionName": "bad name!",
                  "WebIdentityToken": "t.t.t"}, "ValidationError", "roleSessionName",
                 id="bad-session-name"),
    pytest.param({"RoleArn": "arn:aws:iam::123456789012:role/x", "RoleSessionName": "ok",
                  "WebIdentityToken": "t.t.t", "DurationSeconds": "soon"}, "ValidationError",
                 "DurationSeconds", id="duration-not-a-number"),
    pytest.param({"RoleArn": "arn:aws:iam::123456789012:role/x", "RoleSessionName": "ok",
                  "WebIdentityToken": "t.t.t", "DurationSeconds": "60"}, "ValidationError",
                 "durationSeconds", id="duration-too-short"),
]


@pytest.mark.parametrize(("params", "code", "named"), BAD_QUERY)
def test_bad_query(emulator: Emulator, params: dict[str, str], code: str, named: str) -> None:
    status, body = raw_query_call(emulator.endpoint,
                                  {"Action": "AssumeRoleWithWebIdentity",
                                   "Version": "2011-06-15", **params})
    assert status == 400
    assert f"<Code>{code}</Code>" in body and named in body


def _caller(emulator: Emulator, creds: dict[str, Any], secret_key: str) -> dict[str, Any]:
    return dict(sts(emulator, aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds[secret_key],
                    aws_session_token=creds["SessionToken"]).get_caller_identity())


def test_get_caller_identity_classic(classic: Classic, emulator: Emulator) -> None:
    creds = assume(emulator, classic.roles["READ"], classic.token)["Credentials"]
    caller = _caller(emulator, creds, "SecretAccessKey")
    role = client(emulator.endpoint, "iam").get_role(
        RoleName=classic.roles["READ"].rsplit("/", 1)[-1])["Role"]
    assert caller["Account"] == "123456789012"
    assert caller["UserId"] == f"{role['RoleId']}:classic-session"
    assert caller["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{role['RoleName']}/classic-session"


def test_e13_get_caller_identity_enhanced(classic: Classic, emulator: Emulator) -> None:
    ci = client(emulator.endpoint, "cognito-identity")
    logins = {classic.up.provider_name: classic.up.id_token(classic.up.add_user(("readers",)))}
    creds = credentials(ci, classic.pool_id, logins)["Credentials"]
    caller = _caller(emulator, creds, "SecretKey")
    name = classic.roles["READ"].rsplit("/", 1)[-1]
    assert caller["Arn"] == (
        f"arn:aws:sts::123456789012:assumed-role/{name}/CognitoIdentityCredentials")


DURATION_FAULTS = [
    pytest.param("sts-duration-role-max-unchecked", "LONG", 7201, id="C7-role-max-unchecked"),
    pytest.param("sts-duration-default-max", "LONG", 7200, id="C7-default-max"),
    pytest.param("sts-duration-minimum-unchecked", "LONG", 899, id="C8-minimum-unchecked"),
    pytest.param("sts-duration-maximum-unchecked", "LONG", 43201, id="C8-maximum-unchecked"),
]


@pytest.mark.parametrize(("fault", "role", "seconds"), DURATION_FAULTS)
def test_duration_faults(classic: Classic, faulty_emulator: Any, fault: str, role: str,
                         seconds: int) -> None:
    """Each C7/C8 fault changes AssumeRoleWithWebIdentity's answer to one DurationSeconds."""
    def answer(emulator: Emulator) -> str:
        try:
            assume_unvalidated(emulator, classic.roles[role], classic.token, seconds)
        except ClientError as error:
            return f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
        return "ISSUED"

    assert answer(classic.emulator) != answer(faulty_emulator(fault))


def test_fault_oidc_token_lifetime(classic: Classic, faulty_emulator: Any) -> None:
    """C4: ten minutes; the fault gives GetOpenIdToken's tokens an hour."""
    faulty = faulty_emulator("oidc-token-lifetime-1h")
    ci = client(faulty.endpoint, "cognito-identity")
    logins = {classic.up.provider_name: classic.up.id_token(classic.up.add_user())}
    identity = ci.get_id(IdentityPoolId=classic.pool_id, Logins=logins)["IdentityId"]
    token = ci.get_open_id_token(IdentityId=identity, Logins=logins)["Token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600


def test_fault_caller_identity_wrong_arn(classic: Classic, faulty_emulator: Any) -> None:
    faulty = faulty_emulator("caller-identity-wrong-arn")
    creds = assume(faulty, classic.roles["READ"], classic.token)["Credentials"]
    assert _caller(faulty, creds, "SecretAccessKey")["Arn"] == classic.roles["READ"]


AWS_CLI = next((str(p) for p in [Path(sys.executable).with_name("aws")] if p.exists()),
               shutil.which("aws"))


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")
def test_aws_cli_parses_the_response(classic: Classic, emulator: Emulator) -> None:
    assert AWS_CLI is not None
    result = subprocess.run(
        [AWS_CLI, "sts", "assume-role-with-web-identity", "--endpoint-url", emulator.endpoint,
         "--region", REGION, "--role-arn", classic.roles["READ"], "--role-session-name", "cli",
         "--web-identity-token", classic.token, "--output", "json"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
             "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
    )
    assert result.returncode == 0, result.stderr[-500:]
    parsed = json.loads(result.stdout)
    assert parsed["AssumedRoleUser"]["Arn"].endswith("/cli")
    assert parsed["Audience"] == classic.pool_id
