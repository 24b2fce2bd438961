"""BatchWriteItem's duplicate rule, as DynamoDB states it: per table, per key.

The API reference (BatchWriteItem) lists among its ValidationException causes operations
on the same item in one request (you cannot put and delete the same item in one
BatchWriteItem); AWS's text is "Provided list of item keys contains duplicates" (field:
boto/boto3#4131, awslabs/aws-sdk-rust#1151). An item is its table and its key. moto 5
compares whole put items across every table of the batch instead, so a batch that writes
one key to an Orders and a Customers table (tables with the same key names, the
single-table-design habit of `pk`/`sk`) is refused, and two puts of one key with other
attributes pass. Here the rule is checked per table on key attributes, and moto serves
each table's part of a batch on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.responses import DynamoHandler

__all__ = ["DUPLICATES", "install"]

DUPLICATES = "Provided list of item keys contains duplicates"


def install() -> None:
    """Wrap moto's BatchWriteItem handler (once per process)."""
    original = DynamoHandler.batch_write_item
    if getattr(original, "rolecall", False):
        return

    def batch_write_item(self: DynamoHandler) -> ActionResult:
        tables = self.body.get("RequestItems") or {}
        for name, requests in tables.items():
            _refuse_duplicates(requests, _key_names(self, name))
        if len(tables) < 2:
            return original(self)
        return _table_by_table(self, tables, original)

    batch_write_item.rolecall = True  # type: ignore[attr-defined]
    DynamoHandler.batch_write_item = batch_write_item  # type: ignore[method-assign]


def _key_names(handler: DynamoHandler, table: str) -> list[str]:
    """The table's key attributes (moto raises ResourceNotFound for an unknown table)."""
    schema = handler.dynamodb_backend.get_table(table).schema
    return [key["AttributeName"] for key in schema]


def _refuse_duplicates(requests: Any, keys: list[str]) -> None:
    seen: set[str] = set()
    for request in requests if isinstance(requests, list) else []:
        named = _named_item(request)
        identity = json.dumps({k: named.get(k) for k in keys}, sort_keys=True)
        if identity in seen:
            raise MockValidationException(DUPLICATES)
        seen.add(identity)


def _named_item(request: Any) -> Mapping[str, Any]:
    """The item a put writes or the key a delete names."""
    if not isinstance(request, Mapping):
        return {}
    put = request.get("PutRequest") or {}
    delete = request.get("DeleteRequest") or {}
    return put.get("Item") or delete.get("Key") or {}


def _table_by_table(handler: DynamoHandler, tables: Mapping[str, Any],
                    original: Callable[[DynamoHandler], ActionResult]) -> ActionResult:
    """Each table's part of the batch on its own (every table was checked above first)."""
    whole = handler.body
    try:
        for name, requests in tables.items():
            handler.body = {**whole, "RequestItems": {name: requests}}
            original(handler)
    finally:
        handler.body = whole
    return ActionResult({
        "ConsumedCapacity": [{"TableName": name, "CapacityUnits": 1.0,
                              "Table": {"CapacityUnits": 1.0}} for name in tables],
        "ItemCollectionMetrics": {},
        "UnprocessedItems": {},
    })
