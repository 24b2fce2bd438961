"""Seed 003 with the real AWS CLI: the documented commands, end to end against the emulator.

The issue's promise is that "any AWS client pointed at the endpoint works", and
seed 003 is the page users actually copy commands from. So this test does not
go through boto3 for the flows: it runs `aws cognito-identity get-id`,
`get-open-id-token`, `aws sts assume-role-with-web-identity` and
`aws cognito-identity get-credentials-for-identity` exactly as the seed writes
them (`--logins cognito-idp.<region>.amazonaws.com/<poolId>=<idtoken>`, the CLI's
shorthand syntax), parses the CLI's JSON, and then uses each flow's credentials
with `aws dynamodb get-item` (allowed) and `aws dynamodb put-item` (denied with
the SPEC D4 text).

awscli is in the project's dev extra, so a missing `aws` next to the running
interpreter is a broken environment: the test fails instead of skipping.

Tokens and keys travel on command lines and in environments here; no assertion
message prints them (see `_redact`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rolecall.emulator import ACCOUNT_ID, Emulator
from tests.emulator.stack import (
    ADMIN_KEYS,
    REGION,
    admin_clients,
    client,
    cognito_trust,
    create_identity_pool,
    create_role,
    create_user_pool,
    unique,
)

SESSION_NAME = "seed-003-classic"
ENHANCED_SESSION_NAME = "CognitoIdentityCredentials"  # what the enhanced flow names its session


def aws_cli() -> Path:
    """The `aws` installed next to this interpreter (the dev extra's awscli), or fail loudly."""
    path = Path(sys.executable).with_name("aws")
    if not path.exists():
        pytest.fail(f"the AWS CLI is missing: expected {path} (awscli is in the dev extra; "
                    "install with `pip install -e .[dev]`)", pytrace=False)
    return path


@dataclass(frozen=True)
class CliResult:
    """One CLI run. Output stays out of the repr: pytest prints reprs when an assert fails."""

    returncode: int
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class AwsCli:
    """Runs the real CLI against one endpoint with a clean, config-free environment."""

    executable: Path
    endpoint: str
    home: Path
    secrets: list[str] = field(repr=False)  # values no assertion message may show

    def environment(self, keys: dict[str, str]) -> dict[str, str]:
        """No profile, config file or ambient credentials of the machine leak into a run."""
        return {
            "PATH": f"{self.executable.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(self.home),
            "AWS_CONFIG_FILE": str(self.home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "no-credentials"),
            "AWS_DEFAULT_REGION": REGION,
            "AWS_MAX_ATTEMPTS": "1",
            **keys,
        }

    def run(self, *args: str, keys: dict[str, str] | None = None) -> CliResult:
        __tracebackhide__ = True  # pytest would print `args`, and they carry tokens
        keys = keys if keys is not None else {
            "AWS_ACCESS_KEY_ID": ADMIN_KEYS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": ADMIN_KEYS["aws_secret_access_key"]}
        done = subprocess.run(
            [str(self.executable), *args, "--endpoint-url", self.endpoint, "--output", "json"],
            capture_output=True, text=True, timeout=120, check=False, env=self.environment(keys),
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, keys: dict[str, str] | None = None) -> Any:
        """Run, require exit 0, return the parsed JSON output."""
        __tracebackhide__ = True  # pytest would print `args`, and they carry tokens
        result = self.run(*args, keys=keys)
        assert result.returncode == 0, (
            f"`aws {_redact(' '.join(args[:2]), self.secrets)}` exited {result.returncode}: "
            f"{_redact(result.stderr[-800:], self.secrets)}")
        return result.json()

    def remember(self, *values: str) -> None:
        self.secrets.extend(v for v in values if v)


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "<redacted>")
    return text


@dataclass
class Seed003:
    """The stack seed 003 assumes: a user pool, a signed-in user, an identity pool, a table."""

    user_pool_id: str
    provider: str  # cognito-idp.<region>.amazonaws.com/<poolId>
    id_token: str = field(repr=False)
    identity_pool_id: str
    role_arn: str
    table: str

    @property
    def logins(self) -> str:
        """The `--logins` shorthand exactly as the seed writes it."""
        return f"{self.provider}={self.id_token}"

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def table_arn(self) -> str:
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{self.table}"


def _read_only_policy(table_arn: str) -> str:
    read = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
            "dynamodb:DescribeTable"]
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": read, "Resource": [table_arn, f"{table_arn}/index/*"]}]})


def _create_table(dynamodb: Any) -> str:
    table = unique("seed003")
    dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "note-1"}, "body": {"S": "hello"}})
    return table


@pytest.fixture(scope="module")
def seed(emulator: Emulator) -> Seed003:
    """Provision with admin keys over boto3, as an operator would before following the seed."""
    idp, iam, ci = admin_clients(emulator.endpoint)
    table = _create_table(client(emulator.endpoint, "dynamodb"))
    up = create_user_pool(idp)
    pool_id = create_identity_pool(ci, [up.provider()], AllowClassicFlow=True)
    role = create_role(iam, unique("reader"), cognito_trust(amr="authenticated", aud=pool_id))
    seeded = Seed003(up.pool_id, up.provider_name, "", pool_id, role, table)
    iam.put_role_policy(RoleName=seeded.role_name, PolicyName="read-only",
                        PolicyDocument=_read_only_policy(seeded.table_arn))
    up.add_group("readers", role, 1)
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": role})
    seeded.id_token = up.id_token(up.add_user(("readers",)))
    return seeded


@pytest.fixture
def cli(emulator: Emulator, seed: Seed003, tmp_path: Path) -> AwsCli:
    runner = AwsCli(aws_cli(), emulator.endpoint, tmp_path, [])
    runner.remember(seed.id_token)
    return runner


class SessionKeys(dict[str, str]):
    """Environment variables holding session credentials; pytest tracebacks print reprs."""

    def __repr__(self) -> str:
        return "SessionKeys(<redacted>)"


def _session_keys(credentials: dict[str, str], secret_field: str) -> SessionKeys:
    """Credentials as the CLI reads them from the environment (STS and Cognito name the secret
    differently: SecretAccessKey vs SecretKey)."""
    return SessionKeys({"AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials[secret_field],
            "AWS_SESSION_TOKEN": credentials["SessionToken"]})


def _assert_read_only(cli: AwsCli, seed: Seed003, keys: dict[str, str], session: str) -> None:
    """GetItem works; PutItem is refused with AccessDeniedException and the SPEC D4 text."""
    cli.remember(*keys.values())
    item = cli.ok("dynamodb", "get-item", "--table-name", seed.table,
                  "--key", json.dumps({"pk": {"S": "note-1"}}), keys=keys)
    assert item["Item"]["body"] == {"S": "hello"}

    put = cli.run("dynamodb", "put-item", "--table-name", seed.table,
                  "--item", json.dumps({"pk": {"S": "note-2"}, "body": {"S": "nope"}}), keys=keys)
    stderr = _redact(put.stderr, cli.secrets)
    assert put.returncode != 0, "put-item with a read-only role must fail"
    assert "AccessDeniedException" in stderr, stderr
    expected = (
        f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{seed.role_name}/{session} "
        f"is not authorized to perform: dynamodb:PutItem on resource: {seed.table_arn} "
        "because no identity-based policy allows the dynamodb:PutItem action")
    assert expected in stderr, stderr


def _get_id(cli: AwsCli, seed: Seed003) -> str:
    """Seed 003 step "GetId", shared by both flows."""
    identity = cli.ok("cognito-identity", "get-id", "--identity-pool-id", seed.identity_pool_id,
                      "--logins", seed.logins)
    assert set(identity) == {"IdentityId"}
    identity_id: str = identity["IdentityId"]
    assert identity_id.startswith(f"{REGION}:")
    return identity_id


def test_basic_classic_flow_with_the_aws_cli(cli: AwsCli, seed: Seed003) -> None:
    """get-id, get-open-id-token, sts assume-role-with-web-identity, then DynamoDB."""
    identity_id = _get_id(cli, seed)

    opened = cli.ok("cognito-identity", "get-open-id-token", "--identity-id", identity_id,
                    "--logins", seed.logins)
    fields = set(opened)
    assert fields == {"IdentityId", "Token"}
    assert opened["IdentityId"] == identity_id
    cli.remember(opened["Token"])

    assumed = cli.ok("sts", "assume-role-with-web-identity", "--role-arn", seed.role_arn,
                     "--web-identity-token", opened["Token"], "--role-session-name", SESSION_NAME)
    fields = set(assumed["Credentials"])  # outside the assert: its failure text shows no keys
    assert fields == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    session_arn = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{seed.role_name}/{SESSION_NAME}"
    assert assumed["AssumedRoleUser"]["Arn"] == session_arn
    assert assumed["Provider"] == "cognito-identity.amazonaws.com"
    assert assumed["Audience"] == seed.identity_pool_id
    assert assumed["SubjectFromWebIdentityToken"] == identity_id

    keys = _session_keys(assumed["Credentials"], "SecretAccessKey")
    _assert_read_only(cli, seed, keys, SESSION_NAME)


def test_enhanced_flow_with_the_aws_cli(cli: AwsCli, seed: Seed003) -> None:
    """get-id, get-credentials-for-identity, then DynamoDB."""
    identity_id = _get_id(cli, seed)

    issued = cli.ok("cognito-identity", "get-credentials-for-identity",
                    "--identity-id", identity_id, "--logins", seed.logins)
    assert issued["IdentityId"] == identity_id
    fields = set(issued["Credentials"])  # outside the assert: its failure text shows no keys
    assert fields == {"AccessKeyId", "SecretKey", "SessionToken", "Expiration"}

    keys = _session_keys(issued["Credentials"], "SecretKey")
    caller = cli.ok("sts", "get-caller-identity", keys=keys)
    assert caller["Arn"] == (
        f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{seed.role_name}/{ENHANCED_SESSION_NAME}")
    _assert_read_only(cli, seed, keys, ENHANCED_SESSION_NAME)

