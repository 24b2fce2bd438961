"""AWS::DynamoDB::Table's `ResourcePolicy` property, which moto 5.2.5's model ignores (SPEC R1).

`ResourcePolicy: {PolicyDocument: <JSON object or text>}` attaches the table's
resource-based policy when the table is created, checked by the same validation as
PutResourcePolicy (rolecall/emulator/dynamodb/resource_policies.py): an invalid policy
fails the resource, so the stack rolls back without the table. On an update the
policy is replaced when the template's policy changed; a policy changed outside the
template is left in place while the template's does not change ("Resource-based
policies don't support drift detection", "If you add, update, or delete a policy
outside of the CloudFormation template, the change won't be overwritten if there are
no changes to the policy within the template",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-considerations.html).
A policy REMOVED from the template is kept too (assumed: pin it).
moto has no update for tables at all (a changed table's handle became None); the
update here keeps the table and changes only its policy.

AWS::DynamoDB::GlobalTable is not served by moto 5.2.5: it stays a placeholder
(engine.py), and its per-replica ResourcePolicy with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import ResourcePolicy, Table
from moto.utilities.utils import get_partition

from rolecall.emulator.dynamodb.resource_policies import ResourceArn, validate

__all__ = ["install"]


def install() -> None:
    """Wrap moto's Table model (called once by engine.install)."""
    Table.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        _creating(Table.create_from_cloudformation_json.__func__))  # type: ignore[attr-defined]
    Table.update_from_cloudformation_json = classmethod(_update)  # type: ignore[method-assign,assignment]


def policy_text(properties: dict[str, Any]) -> str | None:
    """The template's policy as the text PutResourcePolicy takes (YAML/JSON object -> JSON)."""
    resource_policy = properties.get("ResourcePolicy")
    if not isinstance(resource_policy, dict) or "PolicyDocument" not in resource_policy:
        return None
    document = resource_policy["PolicyDocument"]
    return document if isinstance(document, str) else json.dumps(document)


def _table_resource(account_id: str, region: str, name: str) -> ResourceArn:
    arn = f"arn:{get_partition(region)}:dynamodb:{region}:{account_id}:table/{name}"
    resource = ResourceArn.parse(arn)
    assert resource is not None  # a table name CloudFormation made or the template gave
    return resource


def _creating(original: Callable[..., Table]) -> Callable[..., Table]:
    def create_from_cloudformation_json(cls: type[Table], resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str, **kwargs: Any) -> Table:
        text = policy_text(cloudformation_json.get("Properties") or {})
        resource = _table_resource(account_id, region_name, resource_name)
        if text is not None:
            validate(text, resource)  # before the table exists: a refused policy leaves none
        table = original(cls, resource_name, cloudformation_json, account_id, region_name,
                         **kwargs)
        if text is not None:
            backend = dynamodb_backends[account_id][region_name]
            backend.resource_policies[resource.arn] = ResourcePolicy(resource.arn, text)
        return table
    return create_from_cloudformation_json


def _update(cls: type[Table], original_resource: Table, new_resource_name: str,
            cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Table:
    """Only the policy changes; a policy the template no longer has is kept (see above)."""
    text = policy_text(cloudformation_json.get("Properties") or {})
    if text is not None:
        resource = _table_resource(account_id, region_name, original_resource.name)
        backend = dynamodb_backends[account_id][region_name]
        current = backend.resource_policies.get(resource.arn)
        if current is None or current.policy_doc != text:
            backend.put_resource_policy(resource.arn, text, None)
    return original_resource
