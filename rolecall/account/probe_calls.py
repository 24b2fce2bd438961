"""The calls of the request shapes beyond the twelve every scenario probes (issue 23).

One function per shape of rolecall/model/shapes.py `MORE`, each the smallest request of
that form: legacy parameters, projections and each kind of update expression (attribute
names given through ExpressionAttributeNames), batches of deletes and of several keys,
each kind of transaction, requests over two tables, PartiQL. They read the seed item and
write only this worker's probe items (`probe_key`, `probe2_key`), so an allowed write
never changes what another cell reads; a PartiQL INSERT writes a fresh item of this
worker each time (INSERT refuses an item that exists). One exception: a PartiQL UPDATE
changes only an item that exists, so it sets `note` on the seed item (always to the
same value; no cell reads an attribute's value, only whether it may).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from rolecall.model.shapes import ATTRIBUTE, SECRET

Call = Callable[[Any, Any], Any]  # (a DynamoDB client, a ProbeTarget) -> the response

_NOTE = {":v": {"S": "probed"}}


def _names(t: Any, *more: str) -> dict[str, str]:
    names = {"#pk": t.partition_key}
    names.update({f"#{n}": n for n in more})
    return names


def _pk(t: Any, key: Any) -> dict[str, Any]:
    return {":pk": key[t.partition_key]}


def _update(expression: str, values: dict[str, Any] | None = None, *names: str,
            condition: str | None = None) -> Call:
    def call(db: Any, t: Any) -> Any:
        extra = {"ConditionExpression": condition} if condition else {}
        wanted = {f"#{n}": n for n in names}
        return db.update_item(TableName=t.table, Key=t.probe_key, UpdateExpression=expression,
                              ExpressionAttributeNames=wanted,
                              **({"ExpressionAttributeValues": values} if values else {}),
                              **extra)
    return call


def _literal(key: dict[str, dict[str, str]]) -> str:
    """A key as PartiQL's WHERE clause values: pk = 'a' AND sk = 'b'."""
    parts = []
    for name, value in key.items():
        kind, text = next(iter(value.items()))
        parts.append(f'"{name}" = {text if kind == "N" else repr(text)}')
    return " AND ".join(parts)


def _insert(t: Any) -> str:
    fresh = {name: dict(value) for name, value in t.probe_key.items()}
    sort = t.sort_key or t.partition_key
    kind, text = next(iter(fresh[sort].items()))
    fresh[sort] = {kind: str(int(text) + 500000 + uuid.uuid4().int % 1000) if kind == "N"
                   else f"{text}-insert-{uuid.uuid4().hex[:8]}"}
    fields = ", ".join(f"'{n}': {v['N'] if 'N' in v else repr(v['S'])}" for n, v in fresh.items())
    return f'INSERT INTO "{t.table}" VALUE {{{fields}}}'


def _select(t: Any) -> str:
    return f'SELECT * FROM "{t.table}" WHERE {_literal({t.partition_key: t.seed_key[t.partition_key]})}'


def _get(t: Any, key: dict[str, dict[str, str]]) -> str:
    """A SELECT of one item by its whole key (what a batch's reads must name)."""
    return f'SELECT * FROM "{t.table}" WHERE {_literal(key)}'


def _second(t: Any) -> Any:
    assert t.second is not None, "a request over two tables needs the stack's second table"
    return t.second


CALLS: dict[str, Call] = {
    "UpdateItem-AttributeUpdates": lambda db, t: db.update_item(
        TableName=t.table, Key=t.probe_key,
        AttributeUpdates={ATTRIBUTE: {"Value": {"S": "probed"}, "Action": "PUT"}}),
    "Query-KeyConditions": lambda db, t: db.query(TableName=t.table, KeyConditions={
        t.partition_key: {"AttributeValueList": [t.seed_key[t.partition_key]],
                          "ComparisonOperator": "EQ"}}),
    "GetItem-AttributesToGet": lambda db, t: db.get_item(
        TableName=t.table, Key=t.seed_key, AttributesToGet=[*t.seed_key, ATTRIBUTE]),
    "GetItem-projection": lambda db, t: db.get_item(
        TableName=t.table, Key=t.seed_key, ProjectionExpression=f"#pk, #{ATTRIBUTE}",
        ExpressionAttributeNames=_names(t, ATTRIBUTE)),
    "Query-projection": lambda db, t: db.query(
        TableName=t.table, KeyConditionExpression="#pk = :pk",
        ProjectionExpression=f"#pk, #{ATTRIBUTE}", ExpressionAttributeNames=_names(t, ATTRIBUTE),
        ExpressionAttributeValues=_pk(t, t.seed_key)),
    "Scan-projection": lambda db, t: db.scan(
        TableName=t.table, Limit=1, ProjectionExpression=f"#pk, #{ATTRIBUTE}",
        ExpressionAttributeNames=_names(t, ATTRIBUTE)),
    "GetItem-secret": lambda db, t: db.get_item(
        TableName=t.table, Key=t.seed_key, ProjectionExpression=f"#pk, #{SECRET}",
        ExpressionAttributeNames=_names(t, SECRET)),
    "UpdateItem-SET": _update(f"SET #{ATTRIBUTE} = :v", _NOTE, ATTRIBUTE),
    "UpdateItem-REMOVE": _update(f"REMOVE #{ATTRIBUTE}", None, ATTRIBUTE),
    "UpdateItem-ADD": _update(f"ADD #{ATTRIBUTE}count :one", {":one": {"N": "1"}},
                              f"{ATTRIBUTE}count"),
    "UpdateItem-DELETE": _update(f"DELETE #{ATTRIBUTE}tags :gone", {":gone": {"SS": ["x"]}},
                                 f"{ATTRIBUTE}tags"),
    "UpdateItem-secret": _update(f"SET #{SECRET} = :v", _NOTE, SECRET),
    # a condition that always holds (so the cells' order never matters) and names `secret`
    "UpdateItem-conditional": _update(
        f"SET #{ATTRIBUTE} = :v", _NOTE, ATTRIBUTE, SECRET,
        condition=f"attribute_not_exists(#{SECRET}) OR attribute_exists(#{SECRET})"),
    "PutItem-ReturnValues": lambda db, t: db.put_item(
        TableName=t.table, Item={**t.probe_key, ATTRIBUTE: {"S": "probed"}}, ReturnValues="ALL_OLD"),
    "BatchWriteItem-delete": lambda db, t: db.batch_write_item(
        RequestItems={t.table: [{"DeleteRequest": {"Key": t.probe_key}}]}),
    "BatchWriteItem-put-delete": lambda db, t: db.batch_write_item(RequestItems={t.table: [
        {"PutRequest": {"Item": t.probe_key}}, {"DeleteRequest": {"Key": t.probe2_key}}]}),
    "BatchGetItem-one-foreign": lambda db, t: db.batch_get_item(
        RequestItems={t.table: {"Keys": [t.seed_key, t.foreign_key]}}),
    "BatchWriteItem-one-foreign": lambda db, t: db.batch_write_item(RequestItems={t.table: [
        {"PutRequest": {"Item": t.probe_key}}, {"DeleteRequest": {"Key": t.foreign_key}}]}),
    "TransactWriteItems-Update": lambda db, t: db.transact_write_items(TransactItems=[
        {"Update": {"TableName": t.table, "Key": t.probe_key,
                    "UpdateExpression": f"SET #{ATTRIBUTE} = :v",
                    "ExpressionAttributeNames": {f"#{ATTRIBUTE}": ATTRIBUTE},
                    "ExpressionAttributeValues": _NOTE}}]),
    "TransactWriteItems-Delete": lambda db, t: db.transact_write_items(TransactItems=[
        {"Delete": {"TableName": t.table, "Key": t.probe_key}}]),
    "TransactWriteItems-Put-Delete": lambda db, t: db.transact_write_items(TransactItems=[
        {"Put": {"TableName": t.table, "Item": t.probe_key}},
        {"Delete": {"TableName": t.table, "Key": t.probe2_key}}]),
    "TransactGetItems-one-foreign": lambda db, t: db.transact_get_items(TransactItems=[
        {"Get": {"TableName": t.table, "Key": t.seed_key}},
        {"Get": {"TableName": t.table, "Key": t.foreign_key}}]),
    "BatchGetItem-two-tables": lambda db, t: db.batch_get_item(RequestItems={
        t.table: {"Keys": [t.seed_key]}, _second(t).table: {"Keys": [_second(t).seed_key]}}),
    "BatchWriteItem-two-tables": lambda db, t: db.batch_write_item(RequestItems={
        t.table: [{"PutRequest": {"Item": t.probe_key}}],
        _second(t).table: [{"PutRequest": {"Item": _second(t).probe_key}}]}),
    "TransactGetItems-two-tables": lambda db, t: db.transact_get_items(TransactItems=[
        {"Get": {"TableName": t.table, "Key": t.seed_key}},
        {"Get": {"TableName": _second(t).table, "Key": _second(t).seed_key}}]),
    "TransactWriteItems-two-tables": lambda db, t: db.transact_write_items(TransactItems=[
        {"Put": {"TableName": t.table, "Item": t.probe_key}},
        {"Put": {"TableName": _second(t).table, "Item": _second(t).probe_key}}]),
    "ExecuteStatement-SELECT": lambda db, t: db.execute_statement(Statement=_select(t)),
    "ExecuteStatement-SELECT-scan": lambda db, t: db.execute_statement(
        Statement=f'SELECT * FROM "{t.table}"', Limit=1),
    "ExecuteStatement-INSERT": lambda db, t: db.execute_statement(Statement=_insert(t)),
    "ExecuteStatement-UPDATE": lambda db, t: db.execute_statement(
        Statement=f'UPDATE "{t.table}" SET "{ATTRIBUTE}" = \'probed\' '
                  f"WHERE {_literal(t.seed_key)}"),
    "ExecuteStatement-DELETE": lambda db, t: db.execute_statement(
        Statement=f'DELETE FROM "{t.table}" WHERE {_literal(t.probe_key)}'),
    "BatchExecuteStatement-SELECT": lambda db, t: _batch_statements(db, [_get(t, t.seed_key)]),
    "BatchExecuteStatement-one-foreign": lambda db, t: _batch_statements(
        db, [_get(t, t.seed_key), _get(t, t.foreign_key)]),
    "BatchExecuteStatement-writes": lambda db, t: _batch_statements(db, [
        _insert(t), f'DELETE FROM "{t.table}" WHERE {_literal(t.probe2_key)}']),
    "ExecuteTransaction": lambda db, t: db.execute_transaction(TransactStatements=[
        {"Statement": _insert(t)},
        {"Statement": f'UPDATE "{t.table}" SET "{ATTRIBUTE}" = \'probed\' '
                      f"WHERE {_literal(t.seed_key)}"}]),
    "ExecuteTransaction-two-tables": lambda db, t: db.execute_transaction(TransactStatements=[
        {"Statement": _insert(t)}, {"Statement": _insert(_second(t))}]),
}


def _batch_statements(db: Any, statements: list[str]) -> Any:
    """BatchExecuteStatement answers 200 with an error per statement: a refused statement
    is raised as the service's AccessDeniedException, as a single call would be."""
    answer = db.batch_execute_statement(Statements=[{"Statement": s} for s in statements])
    for response in answer.get("Responses", []):
        error = response.get("Error")
        if error:
            raise ClientError({"Error": {"Code": _code(error), "Message": error.get("Message", "")},
                               "ResponseMetadata": answer.get("ResponseMetadata", {})},
                              "BatchExecuteStatement")
    return answer


def _code(error: dict[str, Any]) -> str:
    code = str(error.get("Code", "Unknown"))
    return "AccessDeniedException" if code in ("AccessDenied", "AccessDeniedException") else code


def index_select(index: str, key_name: str, key_value: dict[str, str]) -> Call:
    """PartiQL SELECT on a secondary index: `FROM "table"."index"` (IAM checks its ARN)."""
    kind, text = next(iter(key_value.items()))
    literal = text if kind == "N" else repr(text)
    return lambda db, t: db.execute_statement(
        Statement=f'SELECT * FROM "{t.table}"."{index}" WHERE "{key_name}" = {literal}')
