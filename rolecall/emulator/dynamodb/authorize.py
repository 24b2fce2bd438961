"""The permission checks of DynamoDB's item operations (SPEC D1-D5), with their condition keys.

The table of rolecall/emulator/iam/actions.py sends the item, batch and
transaction operations here, because their checks depend on the request's
content; rolecall/emulator/authorization.py evaluates them against the session
role's identity policies and the session policies and raises AWS's refusal.

What is checked (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html):

- most operations: `dynamodb:<Op>` on `arn:aws:dynamodb:<region>:<account>:table/<name>`,
  with `/index/<IndexName>` for Query and Scan on an index;
- BatchGetItem / BatchWriteItem: their own action on every table in RequestItems;
- TransactGetItems / TransactWriteItems: no action of their own; each contained
  Get/Put/Update/Delete/ConditionCheck is checked as GetItem/PutItem/UpdateItem/
  DeleteItem/ConditionCheckItem on its table, with `dynamodb:EnclosingOperation`;
- condition keys `dynamodb:LeadingKeys`, `dynamodb:Attributes`, `dynamodb:Select`,
  `dynamodb:ReturnValues` (the session's own keys are added by the authorization step).
  Reads always carry Select and single-item writes ReturnValues: "the Select parameter
  always has a value (ALL_ATTRIBUTES, unless otherwise specified)", "the ReturnValues
  parameter always has a value (NONE unless otherwise specified)"; a read that names
  attributes is SPECIFIC_ATTRIBUTES, a Query or Scan of an index without them
  ALL_PROJECTED_ATTRIBUTES (API reference, Query/Scan Select). Attributes counts the
  attributes a request reads, writes, conditions on or filters by ("These attributes
  can be read, written, or evaluated in a conditional write or scan filter").

An unknown table is not refused here: once authorized, moto answers
ResourceNotFoundException like AWS does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.parsing.key_condition_expression import parse_expression

from rolecall.emulator.checks import Check

__all__ = ["Check", "Target", "checks_for"]

TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
TRANSACT_GET_ACTIONS = {"Get": "GetItem"}


@dataclass(frozen=True)
class Target:
    """Where a call points (the session's account, the signed region); reads schemas from moto."""

    account: str
    region: str
    # The emulator's switched-on faults (rolecall/emulator/faults.py): this module bends
    # its reading where `fault(name)` says so, at the line each fault names.
    fault: Callable[[str], bool] = lambda name: False

    def table_arn(self, table: str) -> str:
        """DynamoDB accepts a table ARN wherever it accepts a table name."""
        if table.startswith("arn:"):
            return table
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{table}"

    def key_schema(self, table: str, index: str | None = None) -> list[dict[str, str]] | None:
        """The KeySchema of a table or one of its indexes; None when moto does not know it."""
        try:
            found = dynamodb_backends[self.account][self.region].get_table(table)
            schema = found.get_index(index).schema if index else found.schema
        except Exception:  # unknown table/index/region: moto will answer the call itself
            return None
        return list(schema)

    def partition_key(self, table: str, index: str | None = None) -> str | None:
        schema = self.key_schema(table, index) or []
        return next((k["AttributeName"] for k in schema if k.get("KeyType") == "HASH"), None)


# --------------------------------------------------------------------------- checks per operation


def checks_for(operation: str, body: Mapping[str, Any], target: Target) -> list[Check]:
    """Every permission check the call needs, in the order AWS reports the first refusal."""
    if operation == "TransactWriteItems":
        checks = _transact_checks(body, target, TRANSACT_WRITE_ACTIONS, operation)
    elif operation == "TransactGetItems":
        checks = _transact_checks(body, target, TRANSACT_GET_ACTIONS, operation)
    elif operation == "BatchGetItem":
        checks = _batch_get_checks(body, target)
    elif operation == "BatchWriteItem":
        checks = _batch_write_checks(body, target)
    else:
        checks = [_single_check(operation, body, target)]
    if target.fault("iam-transact-unchecked") and operation.startswith("Transact"):
        return checks[:1]  # fault iam-transact-unchecked: only the first contained action
    return checks


def _single_check(operation: str, body: Mapping[str, Any], target: Target) -> Check:
    action = f"dynamodb:{operation}"
    table = body.get("TableName")
    if not isinstance(table, str):
        resource = body.get("ResourceArn")  # tagging, resource policies
        return Check(action, resource if isinstance(resource, str) else "*")
    index = body.get("IndexName") if operation in ("Query", "Scan") else None
    resource = target.table_arn(table)
    if isinstance(index, str):
        resource = f"{resource}/index/{index}"
    context = _item_context(body, target, table, index if isinstance(index, str) else None,
                            query=operation == "Query")
    _defaults(context, operation, body, index if isinstance(index, str) else None, target)
    return Check(action, resource, context)


READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})


def _defaults(context: dict[str, list[str]], operation: str, request: Mapping[str, Any],
              index: str | None, target: Target) -> None:
    """The Select a read and the ReturnValues a write carry when the request names none."""
    if target.fault("attrs-select-default-missing"):
        return  # fault: a request that names no Select carries none
    if operation in READS and "dynamodb:Select" not in context:
        named = request.get("ProjectionExpression") or (
            None if target.fault("attrs-legacy-ignored") else request.get("AttributesToGet"))
        context["dynamodb:Select"] = ["SPECIFIC_ATTRIBUTES" if named else
                                      "ALL_PROJECTED_ATTRIBUTES" if index else "ALL_ATTRIBUTES"]
    if operation in WRITES and "dynamodb:ReturnValues" not in context:
        context["dynamodb:ReturnValues"] = ["NONE"]


def _transact_checks(body: Mapping[str, Any], target: Target, actions: Mapping[str, str],
                     enclosing: str) -> list[Check]:
    checks: list[Check] = []
    first_table: str | None = None
    for item in _list(body.get("TransactItems")):
        for kind, action in actions.items():
            request = item.get(kind) if isinstance(item, Mapping) else None
            if not isinstance(request, Mapping) or not isinstance(request.get("TableName"), str):
                continue
            table = first_table = first_table or request["TableName"]
            if not target.fault("tables-transact-first-table"):  # fault: the first's table
                table = request["TableName"]
            context = _item_context(request, target, table, None, query=False)
            if target.fault("keys-transact-unkeyed"):
                context.pop("dynamodb:LeadingKeys", None)  # fault: no keys inside transactions
            if not target.fault("enclosing-operation-unset"):  # fault: never set
                context["dynamodb:EnclosingOperation"] = [enclosing]
            checks.append(Check(f"dynamodb:{action}", target.table_arn(table), context))
    return checks


def _batch_get_checks(body: Mapping[str, Any], target: Target) -> list[Check]:
    checks: list[Check] = []
    for table, spec in _mapping(body.get("RequestItems")).items():
        spec = _mapping(spec)
        context: dict[str, list[str]] = {}
        pk = target.partition_key(table)
        _put(context, "dynamodb:LeadingKeys", _first_only(target, [
            v for key in _list(spec.get("Keys")) if (v := _scalar(_mapping(key), pk))]))
        _put(context, "dynamodb:Attributes", _requested_attributes(spec, target))
        _defaults(context, "BatchGetItem", spec, None, target)
        checks.append(Check("dynamodb:BatchGetItem", target.table_arn(table), context))
    return checks[:1] if target.fault("tables-batch-first-only") else checks  # fault


def _batch_write_checks(body: Mapping[str, Any], target: Target) -> list[Check]:
    checks: list[Check] = []
    for table, requests in _mapping(body.get("RequestItems")).items():
        pk = target.partition_key(table)
        leading: list[str] = []
        attributes: list[str] = []
        for request in _list(requests):
            put = _mapping(_mapping(request).get("PutRequest")).get("Item")
            delete = _mapping(_mapping(request).get("DeleteRequest")).get("Key")
            if target.fault("keys-batch-deletes-unkeyed"):
                delete = None  # fault: a DeleteRequest's key is not read
            for item in (put, delete):
                if (value := _scalar(_mapping(item), pk)) is not None:
                    leading.append(value)
            attributes.extend(_mapping(put).keys())
        context: dict[str, list[str]] = {}
        _put(context, "dynamodb:LeadingKeys", _first_only(target, leading))
        _put(context, "dynamodb:Attributes", attributes)
        checks.append(Check("dynamodb:BatchWriteItem", target.table_arn(table), context))
    return checks[:1] if target.fault("tables-batch-first-only") else checks  # fault


def _first_only(target: Target, keys: list[str]) -> list[str]:
    """A batch's partition keys (fault keys-batch-first-key-only: only its first)."""
    return keys[:1] if target.fault("keys-batch-first-key-only") else keys


# --------------------------------------------------------------------------- condition keys


def _item_context(request: Mapping[str, Any], target: Target, table: str, index: str | None,
                  *, query: bool) -> dict[str, list[str]]:
    """dynamodb:LeadingKeys / Attributes / Select / ReturnValues of one (contained) request."""
    context: dict[str, list[str]] = {}
    leading = (_query_leading_key(request, target, table, index) if query
               else _key_leading_key(request, target, table))
    _put(context, "dynamodb:LeadingKeys", [leading] if leading is not None else [])
    _put(context, "dynamodb:Attributes", _requested_attributes(request, target))
    for key in ("Select", "ReturnValues"):
        if isinstance(request.get(key), str):
            context[f"dynamodb:{key}"] = [request[key]]
    return context


def _key_leading_key(request: Mapping[str, Any], target: Target, table: str) -> str | None:
    """Partition key value of `Key` (Get/Update/Delete/ConditionCheck) or `Item` (Put)."""
    pk = target.partition_key(table)
    item = request.get("Key", request.get("Item"))
    return _scalar(_mapping(item), pk)


def _query_leading_key(request: Mapping[str, Any], target: Target, table: str,
                       index: str | None) -> str | None:
    """The value a Query binds to the partition key (of the index, when querying one)."""
    schema = target.key_schema(table, index)
    if schema is None:
        return None
    expression = request.get("KeyConditionExpression")
    if isinstance(expression, str):
        try:  # moto's own parser: the same reading moto will use to answer the query
            hash_conditions, _, _ = parse_expression(
                expression,
                dict(_mapping(request.get("ExpressionAttributeValues"))),
                dict(_mapping(request.get("ExpressionAttributeNames"))),
                schema,
            )
        except Exception:  # malformed: moto will return the ValidationException itself
            return None
        return next((v for _, value in hash_conditions
                     if (v := _attribute_scalar(value)) is not None), None)
    if target.fault("keys-legacy-unkeyed"):
        return None  # fault: the legacy KeyConditions are not read
    pk = next((k["AttributeName"] for k in schema if k.get("KeyType") == "HASH"), None)
    legacy = _mapping(_mapping(request.get("KeyConditions")).get(pk or ""))
    values = _list(legacy.get("AttributeValueList"))
    return _attribute_scalar(values[0]) if values else None


# A path's first name; \b keeps a function's name whole ("attribute_exists(" is no attribute)
_PATH_START = re.compile(r"(?<![.\w#:])(#\w+|[A-Za-z_]\w*)\b(?!\s*\()")
_EXPRESSION_KEYWORDS = {"set", "remove", "add", "delete", "and", "or", "not", "between", "in"}


def _requested_attributes(request: Mapping[str, Any], target: Target) -> list[str]:
    """Top-level attribute names the request names: Item keys, projection, update targets,
    and what its condition or filter reads."""
    names = ({} if target.fault("attrs-names-unresolved")  # fault: #placeholders stay as they are
             else _mapping(request.get("ExpressionAttributeNames")))
    found: list[str] = list(_mapping(request.get("Item")).keys())
    if not target.fault("attrs-legacy-ignored"):  # fault: legacy parameters are not read
        found.extend(str(a) for a in _list(request.get("AttributesToGet")))
        found.extend(_mapping(request.get("AttributeUpdates")).keys())
    projection = request.get("ProjectionExpression")
    if isinstance(projection, str):
        for path in projection.split(","):
            match = _PATH_START.search(path)
            if match:
                found.append(_resolve_name(match.group(1), names))
    fields = ("UpdateExpression",) if target.fault("attrs-condition-ignored") else (  # fault
        "UpdateExpression", "ConditionExpression", "FilterExpression")
    for field in fields:
        expression = request.get(field)
        if isinstance(expression, str):
            found.extend(_resolve_name(token, names)
                         for token in _PATH_START.findall(_without_strings(expression))
                         if token.lower() not in _EXPRESSION_KEYWORDS)
    return list(dict.fromkeys(found))  # unique, in request order


def _without_strings(expression: str) -> str:
    """An expression without its value placeholders' neighbours that could read as names."""
    return re.sub(r":\w+", " ", expression)


def _resolve_name(token: str, names: Mapping[str, Any]) -> str:
    return str(names.get(token, token)) if token.startswith("#") else token


def _scalar(item: Mapping[str, Any], attribute: str | None) -> str | None:
    if attribute is None:
        return None
    return _attribute_scalar(item.get(attribute))


def _attribute_scalar(value: Any) -> str | None:
    """The string form of an S, N or B attribute value (`{"S": "abc"}` -> "abc")."""
    if isinstance(value, Mapping):
        for kind in ("S", "N", "B"):
            if isinstance(value.get(kind), str):
                return str(value[kind])
    return None


def _put(context: dict[str, list[str]], key: str, values: Iterable[str]) -> None:
    """Set a multi-valued key, leaving it absent (not empty) when there is no value."""
    unique = list(dict.fromkeys(values))
    if unique:
        context[key] = unique


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
