"""DynamoDB limits the service model cannot state: totals across tables and the item size.

The model already bounds each list and map (RequestItems 1..100 tables, Keys
1..100 per table, WriteRequests 1..25 per table, TransactItems 1..100, and
empty batches are refused by the same `min: 1`); what it cannot say is that
the *sum* over all tables of one BatchGetItem is at most 100 keys and of one
BatchWriteItem at most 25 requests, or that an item is at most 400 KB. Those
are written here by hand, with AWS's texts.
Sources: docs/semantics.md, "Malformed requests".
"""

from __future__ import annotations

from typing import Any

from rolecall.emulator.errors import AwsError

MAX_BATCH_GET_KEYS = 100
MAX_BATCH_WRITE_REQUESTS = 25
MAX_ITEM_BYTES = 400 * 1024


def check(operation: str, body: dict[str, Any]) -> None:
    """Raise ValidationException when a well-typed request exceeds a DynamoDB limit."""
    requests = body.get("RequestItems") or {}
    if operation == "BatchGetItem":
        keys = sum(len(table.get("Keys") or []) for table in requests.values())
        if keys > MAX_BATCH_GET_KEYS:
            raise _too_many(operation)
    elif operation == "BatchWriteItem" and sum(
            len(table) for table in requests.values()) > MAX_BATCH_WRITE_REQUESTS:
        raise _too_many(operation)
    for item in _written_items(operation, body):
        if item_size(item) > MAX_ITEM_BYTES:
            raise AwsError("ValidationException", "Item size has exceeded the maximum allowed size")


def _too_many(operation: str) -> AwsError:
    return AwsError("ValidationException", f"Too many items requested for the {operation} call")


def _written_items(operation: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The whole items a call writes (PutItem, BatchWriteItem puts, TransactWriteItems puts)."""
    if operation == "PutItem":
        return [body["Item"]]
    if operation == "BatchWriteItem":
        return [request["PutRequest"]["Item"] for table in body["RequestItems"].values()
                for request in table if request.get("PutRequest")]
    if operation == "TransactWriteItems":
        return [entry["Put"]["Item"] for entry in body["TransactItems"] if entry.get("Put")]
    return []


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: attribute name lengths plus value sizes (UTF-8)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    """Size of one AttributeValue (strings and binary by their bytes, numbers ~ their digits)."""
    ((kind, data),) = value.items()
    if kind in ("S", "N"):
        return len(str(data).encode())
    if kind == "B":
        return len(data) * 3 // 4
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in data)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(key.encode()) + _value_size(element) for key, element in data.items())
    return 1  # BOOL, NULL
