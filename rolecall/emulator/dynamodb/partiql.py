"""PartiQL for DynamoDB, as IAM sees it: the verb and the table (or index) of each statement.

AWS authorizes ExecuteStatement, BatchExecuteStatement and ExecuteTransaction
not as GetItem/PutItem/... but with their own actions, one per statement:
dynamodb:PartiQLSelect, PartiQLInsert, PartiQLUpdate or PartiQLDelete "on the
table or index" the statement names
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html;
the Service Authorization Reference maps the three operations to the same four
actions: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html).

Only as much of the statement is read as the check needs; moto parses and
serves it once it is authorized. A statement whose verb or table cannot be
read is a ValidationException here, before anything is evaluated.

The checks carry the condition keys the guide's examples use: `dynamodb:FullTableScan`
("true" for a SELECT whose WHERE names no partition key value with = or IN: it reads the
whole table or index; "false" otherwise) and `dynamodb:EnclosingOperation`
("ExecuteTransaction" for a statement of a transaction).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rolecall.emulator.checks import Check
from rolecall.emulator.errors import AwsError

__all__ = ["ACTIONS", "LEGACY_ACTIONS", "Statement", "checks", "parse"]

ACTIONS = {"SELECT": "dynamodb:PartiQLSelect", "INSERT": "dynamodb:PartiQLInsert",
           "UPDATE": "dynamodb:PartiQLUpdate", "DELETE": "dynamodb:PartiQLDelete"}
# What fault partiql-as-legacy-action checks instead: the item API's actions.
LEGACY_ACTIONS = {"SELECT": "dynamodb:GetItem", "INSERT": "dynamodb:PutItem",
                  "UPDATE": "dynamodb:UpdateItem", "DELETE": "dynamodb:DeleteItem"}

# A table or index name: "double quoted" (a doubled quote escapes one) or a bare identifier.
_NAME = r'"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*'
_TARGET = rf"(?P<table>{_NAME})(?:\s*\.\s*(?P<index>{_NAME}))?"
_FORMS = {
    "SELECT": re.compile(rf"^\s*SELECT\s.*?\bFROM\s+{_TARGET}", re.IGNORECASE | re.DOTALL),
    "INSERT": re.compile(rf"^\s*INSERT\s+INTO\s+{_TARGET}\s+VALUE\b", re.IGNORECASE),
    "UPDATE": re.compile(rf"^\s*UPDATE\s+{_TARGET}\s+(?:SET|REMOVE)\b", re.IGNORECASE),
    "DELETE": re.compile(rf"^\s*DELETE\s+FROM\s+{_TARGET}", re.IGNORECASE),
}
_VERB = re.compile(r"^\s*([A-Za-z]+)")


@dataclass(frozen=True)
class Statement:
    verb: str  # SELECT, INSERT, UPDATE or DELETE
    table: str
    index: str | None = None


def parse(text: str) -> Statement:
    """The verb, table and index of one statement; ValidationException when unreadable."""
    verb_match = _VERB.match(text)
    verb = verb_match.group(1).upper() if verb_match else ""
    form = _FORMS.get(verb)
    match = form.match(text) if form is not None else None
    if match is None:
        # AWS's envelope, and its detail for a statement that is not DML (field, checked
        # against DynamoDB: nubo-db/dynoxide#149); the detail for an unreadable table is ours
        detail = ("Expected data manipulation" if form is None
                  else f"expected a table name after {verb}")
        raise AwsError("ValidationException",
                       f"Statement wasn't well formed, can't be processed: {detail}")
    index = match.group("index")
    return Statement(verb, _unquote(match.group("table")), _unquote(index) if index else None)


def checks(operation: str, body: Mapping[str, Any], table_arn: Callable[[str], str], *,
           legacy: bool = False,
           partition_key: Callable[[str, str | None], str | None] = lambda t, i: None,
           ) -> list[Check]:
    """One check per statement of ExecuteStatement / BatchExecuteStatement / ExecuteTransaction.

    `table_arn(name)` builds the table's ARN; `partition_key(table, index)` names the key a
    SELECT must bind not to be a full scan; `legacy` is fault partiql-as-legacy-action.
    """
    names = LEGACY_ACTIONS if legacy else ACTIONS
    found: list[Check] = []
    for text in _statements(operation, body):
        statement = parse(text)
        resource = table_arn(statement.table)
        if statement.index:
            resource = f"{resource}/index/{statement.index}"
        context: dict[str, list[str]] = {}
        if statement.verb == "SELECT":
            key = partition_key(statement.table, statement.index)
            context["dynamodb:FullTableScan"] = ["false" if _binds(text, key) else "true"]
        if operation == "ExecuteTransaction":
            context["dynamodb:EnclosingOperation"] = ["ExecuteTransaction"]
        found.append(Check(names[statement.verb], resource, context))
    return found


def _binds(text: str, key: str | None) -> bool:
    """Does the statement's WHERE bind the partition key with = or IN?"""
    where = re.split(r"\bWHERE\b", text, maxsplit=1, flags=re.IGNORECASE)
    if len(where) < 2 or key is None:
        return False
    name = rf'(?:"{re.escape(key)}"|\b{re.escape(key)}\b)'
    return re.search(rf"{name}\s*(?:=|\bIN\b)", where[1], re.IGNORECASE) is not None


def _statements(operation: str, body: Mapping[str, Any]) -> list[str]:
    if operation == "ExecuteStatement":
        entries: list[Any] = [body]
    else:
        key = "Statements" if operation == "BatchExecuteStatement" else "TransactStatements"
        listed = body.get(key)
        entries = listed if isinstance(listed, list) else []
    texts = [entry.get("Statement") for entry in entries if isinstance(entry, Mapping)]
    if not texts or not all(isinstance(text, str) for text in texts):
        raise AwsError("ValidationException",
                       f"1 validation error detected: a statement of {operation} must be a string")
    return [str(text) for text in texts]


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name
