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

AWS::DynamoDB::GlobalTable (what the CDK's TableV2 synthesizes) is not modelled by moto
5.2.5; `GlobalTable` here makes one table per replica region, with the global key schema,
attributes, indexes, billing mode and stream, and each replica's own ResourcePolicy,
DeletionProtectionEnabled and Tags. "Replicas ... must contain at least one element, the
region where the stack defining the global table is deployed" (AWS::DynamoDB::GlobalTable,
CloudFormation User Guide; otherwise "Invalid request provided: The Replicas section must
contain an entry for the current region", aws-cloudformation/rain#339); Ref is the table
name, GetAtt Arn / StreamArn / TableId those of the stack's region's replica. Throughput
settings per replica and index are accepted and not modelled (the target does not throttle
by capacity). An update changes the replicas' policies, adds new replicas and deletes
removed ones; the key schema is not updated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import ResourcePolicy, Table
from moto.utilities.utils import get_partition

from rolecall.emulator.cloudformation.common import Handle
from rolecall.emulator.dynamodb.resource_policies import ResourceArn, validate

__all__ = ["GlobalTable", "install"]

# The global table's properties each replica's table takes as they are
_SHARED = ("KeySchema", "AttributeDefinitions", "LocalSecondaryIndexes", "StreamSpecification",
           "SSESpecification", "BillingMode")
# ... and each replica's own
_PER_REPLICA = ("ResourcePolicy", "DeletionProtectionEnabled", "Tags")
_INDEX_FIELDS = ("IndexName", "KeySchema", "Projection")  # throughput settings are not modelled


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


class GlobalTable(Handle, CloudFormationModel):
    """AWS::DynamoDB::GlobalTable: one moto table per replica region (see the module's note)."""

    ATTRIBUTES = {"Arn": "arn", "StreamArn": "stream_arn", "TableId": "table_id"}

    def __init__(self, name: str, regions: list[str], table: Table) -> None:
        description = table.describe()["TableDescription"]
        super().__init__(name, arn=table.table_arn,
                         stream_arn=str(description.get("LatestStreamArn", "")),
                         table_id=str(description.get("TableId", "")))
        self.regions = regions

    @staticmethod
    def cloudformation_name_type() -> str:
        return "TableName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::DynamoDB::GlobalTable"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> GlobalTable:
        properties = cloudformation_json.get("Properties") or {}
        replicas = _replicas(properties, region_name)
        for region, replica in replicas.items():  # every policy before any table exists
            text = policy_text(replica)
            if text is not None:
                validate(text, _table_resource(account_id, region, resource_name))
        tables = {region: Table.create_from_cloudformation_json(
            resource_name, {"Properties": _table_properties(properties, replica)}, account_id,
            region) for region, replica in replicas.items()}
        return cls(resource_name, list(replicas), tables[region_name])

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: GlobalTable, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> GlobalTable:
        properties = cloudformation_json.get("Properties") or {}
        replicas = _replicas(properties, region_name)
        name = original_resource.physical_id
        for region, replica in replicas.items():
            table_json = {"Properties": _table_properties(properties, replica)}
            if region in original_resource.regions:
                Table.update_from_cloudformation_json(
                    dynamodb_backends[account_id][region].get_table(name), name, table_json,
                    account_id, region)
            else:
                Table.create_from_cloudformation_json(name, table_json, account_id, region)
        for region in set(original_resource.regions) - set(replicas):
            dynamodb_backends[account_id][region].delete_table(name=name)
        original_resource.regions = list(replicas)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        for region in self.regions:
            backend = dynamodb_backends[account_id][region]
            if self.physical_id in backend.tables:
                backend.delete_table(name=self.physical_id)


def _replicas(properties: dict[str, Any], stack_region: str) -> dict[str, dict[str, Any]]:
    """Region -> replica specification; the stack's own region must be one of them."""
    replicas = {str(r.get("Region")): r for r in properties.get("Replicas") or []
                if isinstance(r, dict)}
    if stack_region not in replicas:
        # the resource handler's words, as quoted in aws-cloudformation/rain#339
        raise MockValidationException(
            "Invalid request provided: The Replicas section must contain an entry for the "
            "current region")
    return replicas


def _table_properties(properties: dict[str, Any], replica: dict[str, Any]) -> dict[str, Any]:
    """One replica's table as AWS::DynamoDB::Table properties."""
    table = {key: properties[key] for key in _SHARED if key in properties}
    table.update({key: replica[key] for key in _PER_REPLICA if key in replica})
    table["GlobalSecondaryIndexes"] = [
        {key: index[key] for key in _INDEX_FIELDS if key in index}
        for index in properties.get("GlobalSecondaryIndexes") or []]
    return table
