"""DynamoDB resource-based policies: attached to a table (or a stream), read for every call (SPEC R1).

moto 5.2.5 keeps them (`backend.resource_policies`, keyed by resource ARN) and serves
Put/Get/DeleteResourcePolicy with none of AWS's checks: any text is stored, an index
ARN is taken for a table named like the index, a wrong ExpectedRevisionId on a table
without a policy is accepted, a deleted table keeps its policy (and a table created
again under that name would inherit it), and CreateTable's `ResourcePolicy` is dropped.
`install()` puts AWS's behaviour in those places, in moto's own backend so that there is
one store; `policy_for()` is what the authorization step reads.

Sources (docs/semantics.md has each rule):
- API reference PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy (botocore's
  model documentation): tables and streams only; index permissions live in the table's
  policy; ExpectedRevisionId mismatch, or a policy expected where there is none, is
  PolicyNotFoundException; `NO_POLICY` attaches only when none exists; DeleteResourcePolicy
  is idempotent without ExpectedRevisionId; CreateTable's ResourcePolicy needs
  dynamodb:PutResourcePolicy too (rolecall/emulator/iam/implied.py).
- https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-considerations.html:
  at most 20 KB, whitespace counted.
- field: the refusal reads "One or more parameter values were invalid: Invalid policy
  document: ..." with "Policy contains invalid service principal" (aws/aws-cdk#37273) or
  "The following action names are invalid: ..." (aws-controllers-k8s/dynamodb-controller#176,
  aws/aws-cdk#32230); the other details are rolecall's (assumed).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import PolicyNotFoundException, ResourceNotFoundException
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import ResourcePolicy, Table
from moto.dynamodb.responses import DynamoHandler
from moto.utilities.utils import get_partition

from rolecall.emulator.errors import AwsError
from rolecall.emulator.faults import Faults

__all__ = ["MAX_POLICY_BYTES", "ResourceArn", "install", "policy_for", "validate"]

MAX_POLICY_BYTES = 20 * 1024  # "20 KB. DynamoDB counts whitespaces" (rbac-considerations)
INVALID = "One or more parameter values were invalid: Invalid policy document: "
NO_POLICY = "NO_POLICY"
# service principals DynamoDB accepts (zero-ETL to Redshift, multi-account global tables);
# any other: "Policy contains invalid service principal" (aws/aws-cdk#37273 and its thread)
SERVICE_PRINCIPALS = frozenset({"redshift.amazonaws.com", "replication.dynamodb.amazonaws.com"})
# actions of streams, not of tables: refused in a table's policy (aws/aws-cdk#32230)
STREAM_ACTIONS = frozenset({"dynamodb:getrecords", "dynamodb:getsharditerator",
                            "dynamodb:describestream", "dynamodb:liststreams"})
_ARN = re.compile(r"^arn:(?P<partition>[^:]+):dynamodb:(?P<region>[^:]+):(?P<account>\d{12}):"
                  r"table/(?P<table>[^/]+)(?:/(?P<kind>index|stream)/(?P<name>.+))?$")


@dataclass(frozen=True)
class ResourceArn:
    """A DynamoDB table, index or stream ARN, split."""

    arn: str
    region: str
    account: str
    table: str
    kind: str | None = None  # None (the table), "index" or "stream"
    name: str | None = None

    @classmethod
    def parse(cls, arn: str) -> ResourceArn | None:
        match = _ARN.match(arn)
        if match is None:
            return None
        return cls(arn, match["region"], match["account"], match["table"], match["kind"],
                   match["name"])

    @property
    def table_arn(self) -> str:
        return self.arn.split("/", 2)[0] + "/" + self.table

    @property
    def policy_key(self) -> str:
        """Where the policy that decides a call on this resource is kept: the table's for
        the table and its indexes, the stream's own for a stream."""
        return self.arn if self.kind == "stream" else self.table_arn


# --------------------------------------------------------------------------- reading


_cache: dict[tuple[str, str], dict[str, Any]] = {}
_cache_lock = threading.Lock()


def policy_for(resource_arn: str, faults: Faults) -> dict[str, Any] | None:
    """The resource-based policy that takes part in a call on `resource_arn`, or None.

    A call on an index reads the TABLE's policy, whose statements may name the index
    ("You can control index permissions using the base table's policy", API reference).
    """
    parsed = ResourceArn.parse(resource_arn)
    if parsed is None:
        return None
    key = parsed.policy_key
    if faults.on("resource-policy-index-own") and parsed.kind == "index":
        key = parsed.arn  # fault: the index's "own" policy, which never exists
    try:
        stored = dynamodb_backends[parsed.account][parsed.region].resource_policies.get(key)
    except KeyError:
        return None
    if stored is None:
        return None
    with _cache_lock:
        cached = _cache.get((key, stored.revision_id))
        if cached is None:
            cached = _cache[(key, stored.revision_id)] = json.loads(stored.policy_doc)
    return cached


# --------------------------------------------------------------------------- validating


def validate(text: Any, resource: ResourceArn) -> None:
    """Raise AWS's ValidationException unless `text` is a policy DynamoDB accepts for `resource`."""
    if not isinstance(text, str):
        raise _invalid("The policy must be a JSON document")
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise AwsError("ValidationException",
                       f"Resource-based policy document exceeds the maximum size of 20 KB "
                       f"({len(text.encode())} bytes, whitespace counted)")
    try:
        document = json.loads(text)
    except ValueError:
        raise _invalid("The policy is not valid JSON") from None
    if not isinstance(document, Mapping) or not document.get("Statement"):
        raise _invalid("The policy must be a JSON object with a Statement")
    statements = document["Statement"]
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, Mapping):
            raise _invalid("Each Statement must be a JSON object")
        _validate_statement(statement, resource)


def _validate_statement(statement: Mapping[str, Any], resource: ResourceArn) -> None:
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise _invalid("Each statement needs an Effect of Allow or Deny")
    principal = statement.get("Principal", statement.get("NotPrincipal"))
    if principal is None:
        raise _invalid("Each statement needs a Principal or NotPrincipal")
    if isinstance(principal, Mapping) and any(
            str(service) not in SERVICE_PRINCIPALS for service in _values(principal.get("Service"))):
        raise _invalid("Policy contains invalid service principal")
    actions = _values(statement.get("Action", statement.get("NotAction")))
    if not actions:
        raise _invalid("Each statement needs an Action or NotAction")
    wrong = [a for a in actions if not _dynamodb_action(a, stream=resource.kind == "stream")]
    if wrong:
        raise _invalid("The following action names are invalid: "
                       + ", ".join(f'"{action}"' for action in wrong))
    resources = _values(statement.get("Resource", statement.get("NotResource")))
    if not resources:
        raise _invalid("Each statement needs a Resource or NotResource")
    outside = [r for r in resources if not _within(r, resource)]
    if outside:
        raise _invalid(f"The policy's resources must be {resource.arn} or its indexes and "
                       f"streams; found {', '.join(outside)}")


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _dynamodb_action(action: str, *, stream: bool) -> bool:
    lowered = action.lower()
    if lowered == "*" or lowered == "dynamodb:*":
        return True
    return lowered.startswith("dynamodb:") and (stream or lowered not in STREAM_ACTIONS)


def _within(pattern: str, resource: ResourceArn) -> bool:
    """A Resource value the policy may name: the resource itself (a wildcard matching it
    counts) or, for a table, one of its indexes or streams."""
    if _glob(pattern).fullmatch(resource.arn):
        return True
    base = resource.table_arn
    return resource.kind is None and pattern.startswith((f"{base}/index/", f"{base}/stream/"))


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in pattern))


def _invalid(detail: str) -> AwsError:
    return AwsError("ValidationException", INVALID + detail)


# --------------------------------------------------------------------------- the backend


def _resource(backend: DynamoDBBackend, arn: str) -> ResourceArn:
    """The table or stream a policy call names; indexes and unknown resources are refused."""
    parsed = ResourceArn.parse(arn)
    if parsed is None or parsed.kind == "index":
        raise AwsError("ValidationException",
                       f"Invalid ResourceArn {arn}: resource-based policies attach to tables "
                       "and streams (an index's permissions are in its table's policy)")
    table = backend.tables.get(parsed.table)
    if table is None or parsed.account != backend.account_id or parsed.region != \
            backend.region_name:
        raise ResourceNotFoundException(f"Requested resource not found: {arn}")
    if parsed.kind == "stream" and table.latest_stream_label != parsed.name:
        raise ResourceNotFoundException(f"Requested resource not found: {arn}")
    return parsed


def _check_revision(current: ResourcePolicy | None, expected: str | None, table: str) -> None:
    """ExpectedRevisionId: the current policy's revision, or NO_POLICY when there is none."""
    if expected is None:
        return
    if current is None and expected != NO_POLICY:
        raise PolicyNotFoundException(
            "Resource-based policy not found for the provided ResourceArn: Requested update "
            f"for policy with revision id {expected}, but no policy is associated to target "
            f"table {table}.")
    if current is not None and expected == NO_POLICY:
        raise PolicyNotFoundException(
            "Resource-based policy not found for the provided ResourceArn: Requested policy "
            f"update expecting none to be present for table {table}, but a policy exists with "
            f"revision id {current.revision_id}.")
    if current is not None and current.revision_id != expected:
        raise PolicyNotFoundException(
            "Resource-based policy not found for the provided ResourceArn: Requested update "
            f"for policy with revision id {expected}, but the policy associated to target "
            f"table {table} has revision id {current.revision_id}.")


def put_resource_policy(self: DynamoDBBackend, resource_arn: str, policy_doc: str,
                        expected_revision_id: str | None) -> ResourcePolicy:
    resource = _resource(self, resource_arn)
    validate(policy_doc, resource)
    current = self.resource_policies.get(resource.arn)
    _check_revision(current, expected_revision_id, resource.table)
    if current is not None and current.policy_doc == policy_doc:
        return current  # "idempotent ... will return the same revision ID"
    policy = ResourcePolicy(resource_arn=resource.arn, policy_doc=policy_doc)
    if current is not None and policy.revision_id == current.revision_id:
        policy.revision_id = str(int(current.revision_id) + 1)  # two puts in one millisecond
    self.resource_policies[resource.arn] = policy
    return policy


def get_resource_policy(self: DynamoDBBackend, resource_arn: str) -> ResourcePolicy:
    resource = _resource(self, resource_arn)
    policy = self.resource_policies.get(resource.arn)
    if policy is None:
        raise PolicyNotFoundException(
            f"Resource-based policy not found for the provided ResourceArn: {resource_arn}")
    return policy


def delete_resource_policy(self: DynamoDBBackend, resource_arn: str,
                           expected_revision_id: str | None) -> ResourcePolicy | None:
    """Idempotent unless ExpectedRevisionId is given (API reference)."""
    resource = _resource(self, resource_arn)
    current = self.resource_policies.get(resource.arn)
    if expected_revision_id is not None and (current is None
                                             or current.revision_id != expected_revision_id):
        _check_revision(current, expected_revision_id, resource.table)
    return self.resource_policies.pop(resource.arn, None)


_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Put AWS's behaviour into moto's DynamoDB (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        backend, handler = DynamoDBBackend, DynamoHandler
        backend.put_resource_policy = put_resource_policy  # type: ignore[method-assign]
        backend.get_resource_policy = get_resource_policy  # type: ignore[method-assign]
        backend.delete_resource_policy = delete_resource_policy  # type: ignore[method-assign,assignment]
        backend.delete_table = _dropping_policies(backend.delete_table)  # type: ignore[method-assign]
        handler.create_table = _attaching_policy(handler.create_table)  # type: ignore[method-assign]
        handler.delete_resource_policy = _answering_revision  # type: ignore[method-assign]
        _installed = True


def _dropping_policies(original: Any) -> Any:
    """A table's policies (its own and its streams') go with it."""
    def delete_table(self: DynamoDBBackend, name: str) -> Table:
        table = original(self, name)
        prefix = f"{table.table_arn}/"
        for key in [k for k in self.resource_policies if k == table.table_arn
                    or k.startswith(prefix)]:
            del self.resource_policies[key]
        return table
    return delete_table


def _attaching_policy(original: Any) -> Any:
    """CreateTable's ResourcePolicy: checked before the table exists, attached with it."""
    def create_table(self: DynamoHandler) -> Any:
        text = self.body.get("ResourcePolicy")
        if text is None:
            return original(self)
        backend = self.dynamodb_backend
        region = backend.region_name
        arn = (f"arn:{get_partition(region)}:dynamodb:{region}:{backend.account_id}:"
               f"table/{self.body.get('TableName')}")
        resource = ResourceArn.parse(arn)
        if resource is None:
            raise AwsError("ValidationException", f"Invalid table name for {arn}")
        validate(text, resource)
        result = original(self)
        backend.resource_policies[resource.arn] = ResourcePolicy(resource.arn, str(text))
        return result
    return create_table


def _answering_revision(self: DynamoHandler) -> Any:
    """DeleteResourcePolicy answers the deleted policy's RevisionId (empty without one)."""
    deleted = delete_resource_policy(self.dynamodb_backend, self.body.get("ResourceArn"),
                                     self.body.get("ExpectedRevisionId"))
    return ActionResult({"RevisionId": deleted.revision_id} if deleted is not None else {})
