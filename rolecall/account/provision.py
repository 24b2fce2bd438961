"""Build a scenario's stack with boto3.

Every resource is named `rc-<runid>-<scenario>-...` and tagged
`rolecall:run=<runid>`. Each one is written to the run's journal the moment it
exists, through the resource-kind table of rolecall/account/cleanup.py, so
teardown removes exactly what was made even when a run dies half-way through
provisioning; the same table drives teardown and `rolecall sweep`.

Passwords are never stored: they are derived from the run's secret key, which
lives only in memory (and is handed to pytest-xdist workers in memory).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from rolecall.account.cleanup import (
    CREATED_TAG,
    IDENTITY_POOL,
    MANAGED_POLICY,
    ROLE,
    RUN_TAG,
    TABLE,
    USER_POOL,
    Journal,
    created_stamp,
)
from rolecall.account.clients import Target, patiently
from rolecall.account.retry import explain_stop
from rolecall.account.trust_policies import trust_policy
from rolecall.model import templates
from rolecall.model.scenario import DEFAULT_POOL, Scenario
from rolecall.model.tables import Table
from rolecall.model.templates import physical_name
from rolecall.reporting.redact import register_secret

log = logging.getLogger("rolecall.account.provision")


TABLE_ACTIVE_SECONDS = 300.0  # AWS: on-demand tables are usually ACTIVE within seconds


class NotYet(Exception):
    """A resource is not in the state waited for yet (polled again)."""


@dataclass(frozen=True)
class RunSecrets:
    """The run's secret key. Passwords derive from it; it is never written anywhere."""

    key: bytes = field(repr=False)  # not even in pytest's `-l` locals

    def password(self, scenario: str, user: str) -> str:
        digest = hmac.new(self.key, f"{scenario}/{user}".encode(), hashlib.sha256).hexdigest()
        return register_secret(f"Rc!{digest[:24]}aA1", "password")  # Cognito's default policy


@dataclass
class Stack:
    """What a provisioned scenario is called on the target. Holds no secrets."""

    scenario: str
    runid: str
    region: str
    account_id: str
    table_name: str
    table_arn: str
    user_pool_id: str
    client_id: str
    provider_name: str
    roles: dict[str, str] = field(default_factory=dict)  # logical name -> ARN
    identity_pools: dict[str, str] = field(default_factory=dict)  # variant -> pool id
    users: dict[str, str] = field(default_factory=dict)  # logical name -> username
    # Only for scenarios with `negatives:`: a second app client of the same pool (not a
    # provider of the identity pools) and a foreign user pool with its own client.
    other_client_id: str | None = None
    foreign_pool_id: str | None = None
    foreign_client_id: str | None = None
    # A discovered stack: each variant's app client (an identity pool may have several
    # providers), and the users the team supplied (password from ROLECALL_PASSWORD_<USER>).
    variant_clients: dict[str, str] = field(default_factory=dict)
    supplied_users: list[str] = field(default_factory=list)
    # Several user pools, each a provider of the identity pools (model/userpools.py): pool
    # name -> user pool id, and -> its app client; user -> the pool it signs in to. Empty:
    # one pool, user_pool_id and client_id above (which are always the first pool's).
    pool_ids: dict[str, str] = field(default_factory=dict)
    pool_clients: dict[str, str] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)
    # The scenario's other tables (issue 23): logical name -> physical name, and -> ARN
    other_tables: dict[str, str] = field(default_factory=dict)
    other_table_arns: dict[str, str] = field(default_factory=dict)
    admin_sign_in: bool = False  # sign in with ADMIN_USER_PASSWORD_AUTH (admin credentials)

    # Epoch seconds until which a refusal may be IAM still propagating the stack's
    # roles (last IAM change + the target's propagation bound); flows and probes
    # poll through it, and an answer after it is the settled one.
    iam_settled_by: float = 0.0

    def client_of(self, variant: str | None, user: str | None = None) -> str:
        """The app client a user signs in through on a variant: the variant's own (a
        discovered stack: one app client per variant), else the user's pool's."""
        return self.variant_clients.get(variant or "") or self.pool_client(self.pool_of(user))

    def pool_of(self, user: str | None) -> str | None:
        """The name of the pool a user signs in to (None: the first pool)."""
        return self.members.get(user or "")

    def user_pool_of(self, user: str | None) -> str:
        """The id of the user pool a user is in."""
        return self.pool_ids.get(self.pool_of(user) or "", self.user_pool_id)

    def pool_client(self, pool: str | None) -> str:
        return self.pool_clients.get(pool or "", self.client_id)

    def provider_of(self, user: str | None) -> str:
        """The Logins key of a user's ID tokens: its own pool's provider name (P1)."""
        return self.provider(self.pool_of(user))

    def provider(self, pool: str | None) -> str:
        user_pool_id = self.pool_ids.get(pool or "")
        if user_pool_id is None:
            return self.provider_name
        return f"cognito-idp.{self.region}.amazonaws.com/{user_pool_id}"

    def mapping_key_of(self, pool: str | None) -> str:
        """RoleMappings key of a pool's provider: `<ProviderName>:<ClientId>` (P2)."""
        return f"{self.provider(pool)}:{self.pool_client(pool)}"

    @property
    def foreign_provider_name(self) -> str:
        return f"cognito-idp.{self.region}.amazonaws.com/{self.foreign_pool_id}"

    def role_of(self, arn: str) -> str:
        """The logical role name of an ARN (or of an assumed-role session ARN)."""
        for name, role_arn in self.roles.items():
            if arn == role_arn or arn.split("/")[-2:-1] == [role_arn.rsplit("/", 1)[-1]]:
                return name
        return f"<foreign:{arn.rsplit('/', 2)[-2] if '/' in arn else arn}>"


class Provisioner:
    """Creates one scenario's stack on a target, journaling every resource."""

    def __init__(self, target: Target, runid: str, secrets: RunSecrets, journal: Journal) -> None:
        self.target = target
        self.runid = runid
        self.secrets = secrets
        self.journal = journal
        self.created = created_stamp()
        self.idp = target.client("cognito-idp")
        self.identity = target.client("cognito-identity")
        self.iam = target.client("iam")
        self.dynamodb = target.client("dynamodb")

    def tags(self) -> dict[str, str]:
        return {RUN_TAG: self.runid, CREATED_TAG: self.created}

    def name(self, scenario: Scenario, logical: str, limit: int = 64) -> str:
        return physical_name(self.runid, scenario.name, logical, limit)

    def provision(self, scenario: Scenario) -> Stack:
        """Build everything in dependency order; the journal knows each piece as it lands.

        A quota or a permission the runner lacks stops provisioning with a message
        saying what to change (rolecall/account/retry.py); nothing else is swallowed.
        """
        try:
            return self._provision(scenario)
        except ClientError as exc:
            stop = explain_stop(exc, exc.operation_name)
            if stop is not None:
                raise stop from exc
            raise

    def _provision(self, scenario: Scenario) -> Stack:
        log.info("provisioning scenario %s (run %s)", scenario.name, self.runid)
        pools = {name: self._user_pool(scenario, name) for name in scenario.pools()}
        pool_id, client_id = next(iter(pools.values()))
        assert scenario.table is not None, "a scenario file always has a table"
        table_name, table_arn = self._table(scenario, scenario.table)
        stack = Stack(scenario.name, self.runid, self.target.region, self.target.account_id,
                      table_name, table_arn, pool_id, client_id,
                      f"cognito-idp.{self.target.region}.amazonaws.com/{pool_id}",
                      pool_ids={name: ids[0] for name, ids in pools.items()},
                      pool_clients={name: ids[1] for name, ids in pools.items()},
                      members={user: scenario.pool_of(user) for user in scenario.users})
        for other in scenario.other_tables:
            name, arn = self._table(scenario, other)
            stack.other_tables[other.name], stack.other_table_arns[other.name] = name, arn
        stack.identity_pools = {v: self._identity_pool(scenario, v, stack) for v in scenario.variants}
        stack.roles = {r: self._role(scenario, r, stack) for r in scenario.roles}
        self._table_policy(scenario, stack)
        stack.iam_settled_by = time.time() + self.target.propagation_seconds  # no blind sleep
        for group in scenario.groups:
            self._group(scenario, group, stack)
        stack.users = {u: self._user(scenario, u, stack) for u in scenario.users}
        for variant in scenario.variants:
            self._pool_roles(scenario, variant, stack)
            self._principal_tags(scenario, variant, stack)
        if scenario.negatives is not None:
            self._negative_fixtures(scenario, stack)
        return stack

    def _negative_fixtures(self, scenario: Scenario, stack: Stack) -> None:
        """Another app client of the negatives user's pool, and another user pool holding
        the same user (SPEC E2)."""
        assert scenario.negatives is not None
        other = self.idp.create_user_pool_client(
            UserPoolId=stack.user_pool_of(scenario.negatives.user),
            ClientName=self.name(scenario, "other-app", 128),
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
        stack.other_client_id = other["UserPoolClient"]["ClientId"]
        foreign = self.idp.create_user_pool(PoolName=self.name(scenario, "foreign-users", 128),
                                            UserPoolTags=self.tags())
        stack.foreign_pool_id = foreign["UserPool"]["Id"]
        self.journal.record(USER_POOL, stack.foreign_pool_id)
        client = self.idp.create_user_pool_client(
            UserPoolId=stack.foreign_pool_id, ClientName=self.name(scenario, "foreign-app", 128),
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
        stack.foreign_client_id = client["UserPoolClient"]["ClientId"]
        user = scenario.negatives.user
        self.idp.admin_create_user(UserPoolId=stack.foreign_pool_id, Username=user,
                                   MessageAction="SUPPRESS")
        self.idp.admin_set_user_password(UserPoolId=stack.foreign_pool_id, Username=user,
                                         Password=self.secrets.password(scenario.name, user),
                                         Permanent=True)

    def _user_pool(self, scenario: Scenario, name: str) -> tuple[str, str]:
        """One user pool and its app client (deleting the pool deletes both, and its groups)."""
        spec = scenario.pools()[name]
        suffix = "" if name == DEFAULT_POOL else f"-{name}"
        schema = [{"Name": attr, "AttributeDataType": "String", "Mutable": True}
                  for attr in spec.custom_attributes]
        pool = self.idp.create_user_pool(PoolName=self.name(scenario, f"users{suffix}", 128),
                                         UserPoolTags=self.tags(),
                                         **({"Schema": schema} if schema else {}))
        pool_id = pool["UserPool"]["Id"]
        self.journal.record(USER_POOL, pool_id)
        writable = spec.writable_attributes
        client = self.idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName=self.name(scenario, f"app{suffix}", 128),
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            **({"WriteAttributes": writable} if writable is not None else {}),
            **_token_validity(spec.id_token_minutes))
        return pool_id, client["UserPoolClient"]["ClientId"]

    def _table(self, scenario: Scenario, table: Table) -> tuple[str, str]:
        name = self.name(scenario, table.name, 255)
        keys = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
        attributes = {k.name: k.type for k in keys} | {i.partition_key.name: i.partition_key.type
                                                      for i in table.indexes}
        kwargs: dict[str, Any] = {}
        if table.indexes:
            kwargs["GlobalSecondaryIndexes"] = [
                {"IndexName": i.name, "Projection": {"ProjectionType": "ALL"},
                 "KeySchema": [{"AttributeName": i.partition_key.name, "KeyType": "HASH"}]}
                for i in table.indexes]
        # Deletion protection: the control-plane probes' DeleteTable must never delete it
        # (docs/control-plane-probes.md); teardown switches it off first.
        created = self.dynamodb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", DeletionProtectionEnabled=True,
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t}
                                  for n, t in attributes.items()],
            KeySchema=[{"AttributeName": table.partition_key.name, "KeyType": "HASH"}]
            + ([{"AttributeName": table.sort_key.name, "KeyType": "RANGE"}] if table.sort_key
               else []),
            Tags=[{"Key": k, "Value": v} for k, v in self.tags().items()], **kwargs)
        self.journal.record(TABLE, name)
        self._until_active(name)
        for item in table.items:
            self.dynamodb.put_item(TableName=name, Item=to_attribute_values(item))
        return name, created["TableDescription"]["TableArn"]

    def _until_active(self, name: str) -> None:
        """Poll DescribeTable until ACTIVE (botocore's waiter sleeps 20 s before each look)."""
        def look() -> None:
            try:
                status = self.dynamodb.describe_table(TableName=name)["Table"]["TableStatus"]
            except ClientError as exc:  # just created: not visible everywhere yet
                if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                status = "NOT VISIBLE"
            if status != "ACTIVE":
                raise NotYet(f"table {name} is {status}")
        retry(retry=retry_if_exception_type(NotYet), stop=stop_after_delay(TABLE_ACTIVE_SECONDS),
              wait=wait_exponential(multiplier=0.1, max=2), reraise=True)(look)()

    def _identity_pool(self, scenario: Scenario, variant: str, stack: Stack) -> str:
        kwargs: dict[str, Any] = {}
        classic = scenario.pool_setting(variant, "allow_classic_flow")
        if classic is not None:  # None: never sent, as a console user who never ticked it (C2)
            kwargs["AllowClassicFlow"] = classic
        pool = self.identity.create_identity_pool(
            IdentityPoolName=self.name(scenario, variant, 128),
            AllowUnauthenticatedIdentities=bool(scenario.pool_setting(variant,
                                                                      "allow_unauthenticated")),
            # every user pool is a provider (P1), each with its own app client
            CognitoIdentityProviders=[{"ProviderName": stack.provider(pool),
                                       "ClientId": stack.pool_client(pool),
                                       "ServerSideTokenCheck": bool(scenario.pool_setting(
                                           variant, "server_side_token_check"))}
                                      for pool in scenario.pools()],
            IdentityPoolTags=self.tags(), **kwargs)
        self.journal.record(IDENTITY_POOL, pool["IdentityPoolId"])
        return str(pool["IdentityPoolId"])

    def _role(self, scenario: Scenario, role: str, stack: Stack) -> str:
        spec = scenario.roles[role]
        name = self.name(scenario, role)
        extra: dict[str, Any] = ({"PermissionsBoundary": self._boundary(scenario, role, stack)}
                                 if spec.boundary is not None else {})
        if spec.max_session_duration is not None:  # SPEC C7; unset: AWS's default, 3600
            extra["MaxSessionDuration"] = spec.max_session_duration
        created = patiently(self.iam.create_role)(
            RoleName=name, **extra,
            AssumeRolePolicyDocument=json.dumps(trust_policy(spec.trust,
                                                             stack.identity_pools.values())),
            Tags=[{"Key": k, "Value": v} for k, v in self.tags().items()])
        self.journal.record(ROLE, name)
        document = render(spec.policy, stack)
        patiently(self.iam.put_role_policy)(RoleName=name, PolicyName="rolecall-access",
                                            PolicyDocument=json.dumps(document))
        return str(created["Role"]["Arn"])

    def _boundary(self, scenario: Scenario, role: str, stack: Stack) -> str:
        """A role's permissions boundary: a managed policy of its own (SPEC B1). With a
        scenario's `boundary_other_version`, that version is the policy's first and newest
        (v1 and v3) and the boundary the default between them (v2)."""
        spec = scenario.roles[role]
        other = spec.boundary_other_version
        created = patiently(self.iam.create_policy)(
            PolicyName=self.name(scenario, f"{role}-boundary", 128),
            PolicyDocument=json.dumps(render(other or spec.boundary, stack)),
            Tags=[{"Key": k, "Value": v} for k, v in self.tags().items()])
        arn = str(created["Policy"]["Arn"])
        self.journal.record(MANAGED_POLICY, arn)
        if other is not None:
            for document, default in ((spec.boundary, True), (other, False)):
                patiently(self.iam.create_policy_version)(
                    PolicyArn=arn, PolicyDocument=json.dumps(render(document, stack)),
                    SetAsDefault=default)
        return arn

    def _table_policy(self, scenario: Scenario, stack: Stack) -> None:
        """The table's resource-based policy (SPEC R1), once the roles it names exist."""
        table = scenario.table
        if table is not None and table.policy is not None:
            patiently(self.dynamodb.put_resource_policy)(
                ResourceArn=stack.table_arn, Policy=json.dumps(render(table.policy, stack)))

    def _principal_tags(self, scenario: Scenario, variant: str, stack: Stack) -> None:
        """Attributes for access control (SPEC A1): the claims each session carries as tags,
        the same map for every user pool provider."""
        chosen = scenario.variants[variant].principal_tags or scenario.identity_pool.principal_tags
        if chosen is None:
            return
        for pool in scenario.pools():
            self.identity.set_principal_tag_attribute_map(
                IdentityPoolId=stack.identity_pools[variant],
                IdentityProviderName=stack.provider(pool),
                UseDefaults=chosen.use_defaults, PrincipalTags=dict(chosen.tags))

    def _group(self, scenario: Scenario, group: str, stack: Stack) -> None:
        spec = scenario.groups[group]
        kwargs: dict[str, Any] = {}
        if spec.role:
            kwargs["RoleArn"] = stack.roles[spec.role]
        if spec.precedence is not None:
            kwargs["Precedence"] = spec.precedence
        patiently(self.idp.create_group)(
            GroupName=group, UserPoolId=stack.pool_ids[scenario.group_pool(group)], **kwargs)

    def _user(self, scenario: Scenario, user: str, stack: Stack) -> str:
        """A user of its own pool, in its groups (of that pool, model/userpools.py)."""
        spec = scenario.users[user]
        pool_id = stack.user_pool_of(user)
        self.idp.admin_create_user(
            UserPoolId=pool_id, Username=user, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": k, "Value": v} for k, v in spec.attributes.items()])
        self.idp.admin_set_user_password(UserPoolId=pool_id, Username=user,
                                         Password=self.secrets.password(scenario.name, user),
                                         Permanent=True)
        for group in spec.groups:
            self.idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user, GroupName=group)
        return user

    def _pool_roles(self, scenario: Scenario, variant: str, stack: Stack) -> None:
        pool = scenario.identity_pool
        roles = {kind: stack.roles[name] for kind, name in
                 (("authenticated", pool.authenticated_role),
                  ("unauthenticated", pool.unauthenticated_role)) if name}
        mappings: dict[str, Any] = {}
        for pool_name in scenario.pools():  # one RoleMapping per provider, keyed P2
            mapping = scenario.mapping_of(variant, pool_name)
            if mapping is None:
                continue
            entry: dict[str, Any] = {"Type": mapping.type,
                                     "AmbiguousRoleResolution": mapping.ambiguous}
            if mapping.type == "Rules":
                entry["RulesConfiguration"] = {"Rules": [
                    {"Claim": r.claim, "MatchType": r.match, "Value": r.value,
                     "RoleARN": stack.roles[r.role]} for r in mapping.rules]}
            mappings[stack.mapping_key_of(pool_name)] = entry
        patiently(self.identity.set_identity_pool_roles)(
            IdentityPoolId=stack.identity_pools[variant], Roles=roles,
            **({"RoleMappings": mappings} if mappings else {}))


def _token_validity(minutes: int | None) -> dict[str, Any]:
    if minutes is None:
        return {}
    return {"IdTokenValidity": minutes, "AccessTokenValidity": minutes,
            "TokenValidityUnits": {"IdToken": "minutes", "AccessToken": "minutes"}}


def render(document: Any, stack: Stack) -> Any:
    """A scenario's policy document with the stack's names filled in (model/templates.py)."""
    return templates.render(document, table_arn=stack.table_arn, region=stack.region,
                            account=stack.account_id, roles=stack.roles,
                            tables=stack.other_table_arns)


def to_attribute_values(item: dict[str, str | int]) -> dict[str, dict[str, str]]:
    return {k: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for k, v in item.items()}
