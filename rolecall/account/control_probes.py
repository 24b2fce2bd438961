"""Control-plane and self-escalation probes: calls that could change the stack, built so
that an ALLOWED answer changes nothing lasting (docs/control-plane-probes.md says why
each one is safe on a real account).

Three families, all aimed at the stack's own resources:

- DynamoDB control plane on the stack's table (DeleteTable, UpdateTable, CreateTable,
  UpdateTimeToLive, CreateBackup, TagResource) and ListTables;
- PartiQL select / insert / update / delete on the table (dynamodb:PartiQL*, SPEC D5);
- self-escalation on the identity stack: IAM on the caller's own role, the identity
  pool's configuration and roles, and the user pool's groups and users.

Each probe either writes back exactly what is there (same trust document, same pool
configuration, same group fields, the user into a group it is already in), adds
something and removes it at once with the admin's keys (a deny-only inline policy, a
backup), or asks for something AWS refuses only after authorizing it (DeleteTable on a
deletion-protected table, CreateTable and CreateGroup of a name that exists, an
absent user or policy). Such a refusal is read as ALLOWED: the caller passed IAM.

Verdicts (SPEC section 7): success or an expected harmless refusal is ALLOWED,
AccessDenied(Exception) is DENIED, anything else is ERROR (never DENIED); so is a
failed admin call (reading the state, undoing a change). A probe that cannot be made
safely on this stack (DeleteTable on a table without deletion protection) raises
NotProbed: no verdict at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import retry, retry_if_exception, stop_after_delay, wait_fixed

from rolecall.account.flows import Flows
from rolecall.account.probes import Observation, ProbeTarget, Verdict
from rolecall.account.provision import Stack
from rolecall.model.scenario import Scenario

DENIAL_CODES = ("AccessDeniedException", "AccessDenied")
PROBE_TAG = "rolecall:probe"  # added and removed at once on a table with no tag of its own


class NotProbed(Exception):
    """The probe cannot be made safely on this stack (the reason says why): no verdict."""


class AdminCallFailed(Exception):
    """Reading the current state or undoing a change with the admin's keys failed: the
    caller's answer is unknown, so the probe is ERROR (never the admin's AccessDenied)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class _Admin:
    """An admin client whose ClientErrors are AdminCallFailed, never the caller's answer."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            try:
                return method(**kwargs)
            except ClientError as exc:
                error = exc.response.get("Error", {})
                raise AdminCallFailed(f"admin {name}: {error.get('Code')} "
                                      f"{error.get('Message', '')}".strip(),
                                      str(error.get("Code", ""))) from None
        return call


@dataclass(frozen=True)
class Context:
    """What one credential's probes aim at, and the two ways to call: as the credential
    under test (`as_caller`) and as the stack's admin (`admin`, to read the current
    configuration and to undo an allowed change at once)."""

    flows: Flows  # its clients: one per credential and service, reused
    stack: Stack
    scenario: Scenario
    credentials: dict[str, str]
    role: str  # the credential's logical role: IAM probes aim at the caller's own role
    variant: str
    user: str | None  # None for guests
    probe_target: ProbeTarget | None  # None: the stack has no table rolecall knows

    def as_caller(self, service: str) -> Any:
        return self.flows.client_as(service, self.credentials)

    def admin(self, service: str) -> Any:
        return _Admin(self.flows.admin(service))

    @property
    def aim(self) -> ProbeTarget:
        assert self.probe_target is not None, "a table probe on a stack without a table"
        return self.probe_target

    @property
    def role_name(self) -> str:
        return self.stack.roles[self.role].rsplit("/", 1)[-1]

    @property
    def pool_id(self) -> str:
        return self.stack.identity_pools[self.variant]

    def scratch(self, what: str) -> str:
        """A name in the run's namespace (rc-<runid>-...) for a probe's throw-away thing."""
        return f"rc-{self.stack.runid}-{self.stack.scenario}-{what}"[:128]


@dataclass(frozen=True)
class ControlProbe:
    action: str  # the IAM action, with its service prefix
    family: str  # control-plane | partiql | self-escalation
    changes: str  # what holding the permission lets the caller change (escalation report)
    call: Callable[[Context], Any]
    # (error code, message pattern): AWS refuses only after authorizing, so these are ALLOWED
    harmless: tuple[tuple[str, str], ...] = ()


# --- DynamoDB control plane -----------------------------------------------------------------

def _protected(c: Context) -> bool:
    described = c.admin("dynamodb").describe_table(TableName=c.stack.table_name)["Table"]
    return bool(described.get("DeletionProtectionEnabled"))


def _delete_table(c: Context) -> Any:
    """The stack's table is created with deletion protection: an authorized DeleteTable is
    refused with a ValidationException and nothing is deleted. A table without it (a
    team's discovered table) is not probed: an allowed call would delete it."""
    if not _protected(c):
        raise NotProbed(f"table {c.stack.table_name} is not deletion-protected: an allowed "
                        "DeleteTable would delete it (turn DeletionProtectionEnabled on to "
                        "have this probed)")
    return c.as_caller("dynamodb").delete_table(TableName=c.stack.table_name)


def _update_table(c: Context) -> Any:
    """Writes back the table's current deletion protection: no change."""
    return c.as_caller("dynamodb").update_table(TableName=c.stack.table_name,
                                                DeletionProtectionEnabled=_protected(c))


def _create_table(c: Context) -> Any:
    """CreateTable of the stack's own table name: authorized on its ARN, then
    ResourceInUseException because it exists."""
    assert c.scenario.table is not None  # table probes exist only for a known table
    key = c.scenario.table.partition_key
    return c.as_caller("dynamodb").create_table(
        TableName=c.stack.table_name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": key.name, "AttributeType": key.type}],
        KeySchema=[{"AttributeName": key.name, "KeyType": "HASH"}])


def _update_ttl(c: Context) -> Any:
    """Writes back the table's TTL setting: disabled stays disabled (rolecall's tables;
    AWS answers 'already disabled'), enabled on an attribute stays enabled on it (a
    team's table; 'already enabled')."""
    ttl = c.admin("dynamodb").describe_time_to_live(
        TableName=c.stack.table_name).get("TimeToLiveDescription", {})
    enabled = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    return c.as_caller("dynamodb").update_time_to_live(
        TableName=c.stack.table_name,
        TimeToLiveSpecification={"Enabled": enabled,
                                 "AttributeName": ttl.get("AttributeName") or "rolecall_ttl"})


def _create_backup(c: Context) -> Any:
    """An on-demand backup, deleted at once with the admin's keys."""
    answer = c.as_caller("dynamodb").create_backup(TableName=c.stack.table_name,
                                                   BackupName=c.scratch("probe"))
    _delete_backup(c, answer["BackupDetails"]["BackupArn"])
    return answer


@retry(retry=retry_if_exception(lambda exc: getattr(exc, "code", "") == "BackupInUseException"),
       stop=stop_after_delay(120), wait=wait_fixed(2), reraise=True)
def _delete_backup(c: Context, arn: str) -> None:
    """A backup being created cannot be deleted yet (BackupInUseException): wait for it."""
    c.admin("dynamodb").delete_backup(BackupArn=arn)


def _tag_table(c: Context) -> Any:
    """Writes back a tag the table already carries, with the same value (rolecall's tables
    carry the run tag). A table with no tag gets `rolecall:probe`, removed at once."""
    tags = c.admin("dynamodb").list_tags_of_resource(ResourceArn=c.stack.table_arn).get("Tags", [])
    if tags:
        return c.as_caller("dynamodb").tag_resource(ResourceArn=c.stack.table_arn,
                                                    Tags=[tags[0]])
    answer = c.as_caller("dynamodb").tag_resource(
        ResourceArn=c.stack.table_arn, Tags=[{"Key": PROBE_TAG, "Value": c.stack.runid}])
    c.admin("dynamodb").untag_resource(ResourceArn=c.stack.table_arn, TagKeys=[PROBE_TAG])
    return answer


def _list_tables(c: Context) -> Any:
    return c.as_caller("dynamodb").list_tables(Limit=1)


# --- PartiQL (dynamodb:PartiQLSelect/Insert/Update/Delete) -----------------------------------

def _literal(value: dict[str, str], numbers_quoted: bool = False) -> str:
    """A key value as a PartiQL literal. Literals, not `?` parameters: the embedded target
    (moto's PartiQL) fails on parameters in INSERT ... VALUE and DELETE (HTTP 500)."""
    if "N" in value and not numbers_quoted:
        return value["N"]
    text = value.get("N", value.get("S", ""))
    return "'" + text.replace("'", "''") + "'"


def _where(key: dict[str, dict[str, str]], numbers_quoted: bool = False) -> str:
    return " AND ".join(f'"{name}" = {_literal(value, numbers_quoted)}'
                        for name, value in key.items())


def _partiql(c: Context, statement: str, parameters: list[dict[str, str]] | None = None) -> Any:
    return c.as_caller("dynamodb").execute_statement(
        Statement=statement, **({"Parameters": parameters} if parameters else {}))


def _select(c: Context) -> Any:
    return _partiql(c, f'SELECT * FROM "{c.stack.table_name}" WHERE {_where(c.aim.seed_key)}')


def _insert(c: Context) -> Any:
    """Inserts the probe item the data-plane writes use (or finds it there already)."""
    fields = ", ".join(f"'{n}': {_literal(v)}" for n, v in c.aim.probe_key.items())
    return _partiql(c, f'INSERT INTO "{c.stack.table_name}" VALUE {{{fields}}}')


def _update(c: Context) -> Any:
    """Parameters here: the embedded target fails on a number literal in UPDATE's WHERE."""
    key = c.aim.probe_key
    where = " AND ".join(f'"{name}" = ?' for name in key)
    return _partiql(c, f'UPDATE "{c.stack.table_name}" SET "probed" = \'yes\' WHERE {where}',
                    list(key.values()))


def _delete(c: Context) -> Any:
    """Deletes the probe item. A number key is written quoted: the embedded target fails
    (HTTP 500) on number literals and parameters in DELETE's WHERE; on AWS the quoted
    number does not match the key's type, a ValidationException after authorization,
    so nothing is deleted there either."""
    where = _where(c.aim.probe_key, numbers_quoted=True)
    return _partiql(c, f'DELETE FROM "{c.stack.table_name}" WHERE {where}')


# --- self-escalation: IAM on the caller's own role --------------------------------------------

def _put_role_policy(c: Context) -> Any:
    """A deny-only inline policy on a table that does not exist, removed at once."""
    name = c.scratch("probe")[:128]
    document = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Action": "dynamodb:DeleteTable",
        "Resource": f"arn:aws:dynamodb:{c.stack.region}:{c.stack.account_id}:table/"
                    f"{c.scratch('absent')}"}]}
    answer = c.as_caller("iam").put_role_policy(RoleName=c.role_name, PolicyName=name,
                                                PolicyDocument=json.dumps(document))
    c.admin("iam").delete_role_policy(RoleName=c.role_name, PolicyName=name)
    return answer


def _attach_role_policy(c: Context) -> Any:
    """A managed policy that does not exist: authorized on the role, then NoSuchEntity."""
    arn = f"arn:aws:iam::{c.stack.account_id}:policy/{c.scratch('absent')}"
    answer = c.as_caller("iam").attach_role_policy(RoleName=c.role_name, PolicyArn=arn)
    c.admin("iam").detach_role_policy(RoleName=c.role_name, PolicyArn=arn)  # never reached on AWS
    return answer


def _update_trust(c: Context) -> Any:
    """Writes back the role's current trust document."""
    role = c.admin("iam").get_role(RoleName=c.role_name)["Role"]
    return c.as_caller("iam").update_assume_role_policy(
        RoleName=c.role_name, PolicyDocument=json.dumps(role["AssumeRolePolicyDocument"]))


# --- self-escalation: the identity pool ------------------------------------------------------

def _update_identity_pool(c: Context) -> Any:
    """Writes back exactly the pool's current configuration, tags included: a parameter
    left out is set to its default (API reference, UpdateIdentityPool)."""
    current = dict(c.admin("cognito-identity").describe_identity_pool(IdentityPoolId=c.pool_id))
    current.pop("ResponseMetadata", None)
    return c.as_caller("cognito-identity").update_identity_pool(**current)


def _set_identity_pool_roles(c: Context) -> Any:
    """Writes back the pool's current roles and role mappings."""
    current = c.admin("cognito-identity").get_identity_pool_roles(IdentityPoolId=c.pool_id)
    again = {"Roles": current.get("Roles", {})}
    if current.get("RoleMappings"):
        again["RoleMappings"] = current["RoleMappings"]
    return c.as_caller("cognito-identity").set_identity_pool_roles(IdentityPoolId=c.pool_id,
                                                                   **again)


# --- self-escalation: the user pool ----------------------------------------------------------

def _membership(c: Context) -> tuple[str, str] | None:
    """A (username, group) the user pools already have: the caller's own first, else
    anyone's (in that user's pool, `_user_pool`)."""
    users = [c.user] if c.user else []
    users += [u for u in c.scenario.users if u != c.user]
    for user in users:
        if c.scenario.users[user].groups:
            return user, c.scenario.users[user].groups[0]
    return None


def _group_name(c: Context) -> str:
    found = _membership(c)
    return found[1] if found else next(iter(c.scenario.groups), c.scratch("absent"))


def _user_pool(c: Context) -> str:
    """The user pool the group probes aim at: the pool of `_membership`'s user, else the
    pool of the first group, else the first pool."""
    found = _membership(c)
    if found is not None:
        return c.stack.user_pool_of(found[0])
    group = next(iter(c.scenario.groups), None)
    return c.stack.pool_ids.get(c.scenario.group_pool(group), c.stack.user_pool_id) \
        if group is not None else c.stack.user_pool_id


def _add_user_to_group(c: Context) -> Any:
    """A user into a group it is already in (or an absent user: UserNotFoundException)."""
    found = _membership(c)
    username, group = (c.stack.users[found[0]], found[1]) if found else (
        c.scratch("absent"), _group_name(c))
    return c.as_caller("cognito-idp").admin_add_user_to_group(
        UserPoolId=_user_pool(c), Username=username, GroupName=group)


def _create_group(c: Context) -> Any:
    """A group of a name that exists: authorized, then GroupExistsException. A user pool
    with no group at all gets a scratch group, deleted at once."""
    if _membership(c) or c.scenario.groups:
        return c.as_caller("cognito-idp").create_group(UserPoolId=_user_pool(c),
                                                       GroupName=_group_name(c))
    answer = c.as_caller("cognito-idp").create_group(UserPoolId=c.stack.user_pool_id,
                                                     GroupName=c.scratch("probe"))
    c.admin("cognito-idp").delete_group(UserPoolId=c.stack.user_pool_id,
                                        GroupName=c.scratch("probe"))
    return answer


def _update_group(c: Context) -> Any:
    """Writes back the group's current description, role and precedence. A user pool with
    no group at all: an absent group (authorized, then ResourceNotFoundException)."""
    name = _group_name(c)
    if not _membership(c) and not c.scenario.groups:
        return c.as_caller("cognito-idp").update_group(UserPoolId=_user_pool(c),
                                                       GroupName=name)
    group = c.admin("cognito-idp").get_group(UserPoolId=_user_pool(c),
                                             GroupName=name)["Group"]
    same = {k: group[k] for k in ("Description", "RoleArn", "Precedence") if k in group}
    return c.as_caller("cognito-idp").update_group(UserPoolId=_user_pool(c),
                                                   GroupName=name, **same)


def _update_user_attributes(c: Context) -> Any:
    """An absent user: authorized on the user pool, then UserNotFoundException."""
    return c.as_caller("cognito-idp").admin_update_user_attributes(
        UserPoolId=c.stack.user_pool_id, Username=c.scratch("absent"),
        UserAttributes=[{"Name": "locale", "Value": "en"}])


DYNAMODB_TABLE = "the stack's table"
CONTROL_PROBES: tuple[ControlProbe, ...] = (
    ControlProbe("dynamodb:DeleteTable", "control-plane", f"deletes {DYNAMODB_TABLE}",
                 _delete_table, (("ValidationException", r"(?i)protect"),)),
    ControlProbe("dynamodb:UpdateTable", "control-plane",
                 f"changes {DYNAMODB_TABLE} (deletion protection, capacity, indexes)",
                 _update_table),
    ControlProbe("dynamodb:CreateTable", "control-plane", "creates tables",
                 _create_table, (("ResourceInUseException", ""),)),
    ControlProbe("dynamodb:UpdateTimeToLive", "control-plane",
                 f"expires the items of {DYNAMODB_TABLE}", _update_ttl,
                 (("ValidationException", r"(?i)already disabled"),)),
    ControlProbe("dynamodb:CreateBackup", "control-plane", f"copies {DYNAMODB_TABLE} out",
                 _create_backup),
    ControlProbe("dynamodb:TagResource", "control-plane",
                 f"retags {DYNAMODB_TABLE} (tag-based access, the sweeper)", _tag_table),
    ControlProbe("dynamodb:ListTables", "control-plane", "lists the account's tables",
                 _list_tables),
    ControlProbe("dynamodb:PartiQLSelect", "partiql", f"reads {DYNAMODB_TABLE}", _select),
    ControlProbe("dynamodb:PartiQLInsert", "partiql", f"writes {DYNAMODB_TABLE}", _insert,
                 (("DuplicateItemException", ""),)),
    ControlProbe("dynamodb:PartiQLUpdate", "partiql", f"writes {DYNAMODB_TABLE}", _update,
                 (("ConditionalCheckFailedException", ""),)),
    ControlProbe("dynamodb:PartiQLDelete", "partiql", f"deletes items of {DYNAMODB_TABLE}",
                 _delete, (("ValidationException", r"(?i)key|schema|type"),)),
    ControlProbe("iam:PutRolePolicy", "self-escalation",
                 "grants its own role any permission (inline policy)", _put_role_policy),
    ControlProbe("iam:AttachRolePolicy", "self-escalation",
                 "grants its own role any managed policy", _attach_role_policy,
                 (("NoSuchEntity", ""),)),
    ControlProbe("iam:UpdateAssumeRolePolicy", "self-escalation",
                 "changes who may assume its role (trust policy)", _update_trust),
    ControlProbe("cognito-identity:UpdateIdentityPool", "self-escalation",
                 "changes the identity pool (providers, classic flow, guests)",
                 _update_identity_pool),
    ControlProbe("cognito-identity:SetIdentityPoolRoles", "self-escalation",
                 "changes which role every user of the pool gets", _set_identity_pool_roles),
    ControlProbe("cognito-idp:AdminAddUserToGroup", "self-escalation",
                 "puts any user (itself) in any group, so in any group's role",
                 _add_user_to_group, (("UserNotFoundException", ""),)),
    ControlProbe("cognito-idp:CreateGroup", "self-escalation",
                 "creates groups with any role and precedence", _create_group,
                 (("GroupExistsException", ""),)),
    ControlProbe("cognito-idp:UpdateGroup", "self-escalation",
                 "changes a group's role and precedence", _update_group,
                 (("ResourceNotFoundException", ""),)),
    ControlProbe("cognito-idp:AdminUpdateUserAttributes", "self-escalation",
                 "rewrites any user's attributes (rules keyed on them)", _update_user_attributes,
                 (("UserNotFoundException", ""),)),
)
BY_ACTION = {probe.action: probe for probe in CONTROL_PROBES}
SELF_ESCALATION = tuple(p for p in CONTROL_PROBES if p.family == "self-escalation")
TABLE_FAMILIES = ("control-plane", "partiql")  # aimed at the stack's table: need one


def run(probe: ControlProbe, context: Context) -> Observation:
    """Make the probe's call as the credential under test and read the answer."""
    try:
        response = probe.call(context)
    except AdminCallFailed as exc:
        return Observation("ERROR", "AdminCallFailed", str(exc))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        request_id = exc.response.get("ResponseMetadata", {}).get("RequestId")
        code, message = error.get("Code", "Unknown"), error.get("Message", "")
        return Observation(_verdict(probe, code, message), code, message, request_id)
    except BotoCoreError as exc:
        return Observation("ERROR", type(exc).__name__, str(exc))
    return Observation("ALLOWED", request_id=response.get("ResponseMetadata", {}).get("RequestId"))


def _verdict(probe: ControlProbe, code: str, message: str) -> Verdict:
    if code in DENIAL_CODES:
        return "DENIED"
    if any(code == known and re.search(pattern, message) for known, pattern in probe.harmless):
        return "ALLOWED"
    return "ERROR"
