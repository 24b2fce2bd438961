"""DynamoDB probes: one small, harmless call per action, read as ALLOWED / DENIED / ERROR.

Each probe makes the request of one shape (rolecall/model/shapes.py: the checks IAM
makes of it, SPEC D5): TransactWriteItems with a ConditionCheck and a Put needs
dynamodb:ConditionCheckItem and dynamodb:PutItem, a lone ConditionCheck needs
ConditionCheckItem, and so on. Reads use the
scenario's first seed item; writes touch only this worker's probe item (`rolecall-probe-<n>`),
so an allowed write never changes what the reads see.

Verdicts (SPEC section 7): success is ALLOWED, AccessDeniedException is DENIED,
anything else is ERROR and is never counted as DENIED.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from rolecall.account import retry
from rolecall.account.provision import to_attribute_values
from rolecall.model.scenario import Index, Table
from rolecall.model.shapes import (
    BY_NAME,
    FOREIGN_PARTITION,
    PROBE_VALUE,
    SEED_NUMBER,
    SEED_VALUE,
    Shape,
    index_shapes,
)

Verdict = Literal["ALLOWED", "DENIED", "ERROR"]
__all__ = ["FOREIGN_PARTITION", "PROBES", "Observation", "Probe", "ProbeTarget", "index_probes",
           "run"]


def writer_index() -> int:
    """This process's number among the run's workers (gw3 -> 3; the controller: 0).

    Each worker writes its own probe item, so parallel writes never contend for one
    item (a TransactWriteItems on an item another transaction holds is cancelled:
    TransactionCanceledException, an ERROR that is nobody's fault).
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")
    digits = worker.removeprefix("gw")
    return int(digits) + 1 if digits.isdigit() else 0


def probe_value() -> str:
    return f"{PROBE_VALUE}-{writer_index()}"


@dataclass(frozen=True)
class ProbeTarget:
    """Where probes aim: the table's physical name and the keys to read and write."""

    table: str
    seed_key: dict[str, dict[str, str]]
    probe_key: dict[str, dict[str, str]]
    partition_key: str

    @classmethod
    def of(cls, table_name: str, table: Table, partition: str | None = None) -> ProbeTarget:
        """Shared tables: the first seed item, and a probe item. Partitioned tables:
        `partition` is the value to aim at (the caller's identity id or tenant, or
        FOREIGN_PARTITION); reads and writes both use that partition."""
        keys = [table.partition_key.name] + ([table.sort_key.name] if table.sort_key else [])
        specs = [s for s in (table.partition_key, table.sort_key) if s is not None]
        if partition is not None:  # the schema guarantees a sort key for per-identity tables
            sort = specs[1]
            seed = {table.partition_key.name: {"S": partition},
                    sort.name: {"N": "1"} if sort.type == "N" else {"S": SEED_VALUE}}
            probe = {table.partition_key.name: {"S": partition},
                     sort.name: {"N": str(1000 + writer_index())} if sort.type == "N"
                     else {"S": probe_value()}}
            return cls(table_name, seed, probe, table.partition_key.name)
        probe = {s.name: ({"N": str(987654321 + writer_index())} if s.type == "N"
                          else {"S": probe_value()}) for s in specs}
        # A discovered table holds none of our seed data: the run writes one item of its
        # own (SEED_VALUE keys, rolecall/account/own_stack.py) and removes it at the end.
        seed = (to_attribute_values({k: table.items[0][k] for k in keys}) if table.items
                else {s.name: ({"N": SEED_NUMBER} if s.type == "N" else {"S": SEED_VALUE})
                      for s in specs})
        return cls(table_name, seed, probe, table.partition_key.name)


@dataclass(frozen=True)
class Probe:
    shape: Shape  # the request as IAM checks it
    call: Callable[[Any, ProbeTarget], Any]

    @property
    def action(self) -> str:
        """The probe's name in cell ids: the API called (`Query@<index>` on an index)."""
        return self.shape.name

    @property
    def needs(self) -> tuple[str, ...]:
        """The IAM actions this call requires."""
        return self.shape.needs


@dataclass
class Observation:
    verdict: Verdict
    code: str | None = None
    message: str | None = None
    request_id: str | None = None


def _query(db: Any, t: ProbeTarget) -> Any:
    return db.query(TableName=t.table, KeyConditionExpression="#pk = :pk",
                    ExpressionAttributeNames={"#pk": t.partition_key},
                    ExpressionAttributeValues={":pk": t.seed_key[t.partition_key]})


def _update(db: Any, t: ProbeTarget) -> Any:
    return db.update_item(TableName=t.table, Key=t.probe_key, UpdateExpression="SET #n = :n",
                          ExpressionAttributeNames={"#n": "probed"},
                          ExpressionAttributeValues={":n": {"S": "yes"}})


def _condition_check(db: Any, t: ProbeTarget) -> Any:
    return db.transact_write_items(TransactItems=[{"ConditionCheck": {
        "TableName": t.table, "Key": t.seed_key,
        "ConditionExpression": "attribute_exists(#pk)",
        "ExpressionAttributeNames": {"#pk": t.partition_key}}}])


def _transact_write(db: Any, t: ProbeTarget) -> Any:
    return db.transact_write_items(TransactItems=[
        {"ConditionCheck": {"TableName": t.table, "Key": t.seed_key,
                            "ConditionExpression": "attribute_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": t.partition_key}}},
        {"Put": {"TableName": t.table, "Item": t.probe_key}}])


CALLS: dict[str, Callable[[Any, ProbeTarget], Any]] = {
    "GetItem": lambda db, t: db.get_item(TableName=t.table, Key=t.seed_key),
    "BatchGetItem": lambda db, t: db.batch_get_item(RequestItems={t.table: {"Keys": [t.seed_key]}}),
    "Query": _query,
    "Scan": lambda db, t: db.scan(TableName=t.table, Limit=1),
    "PutItem": lambda db, t: db.put_item(TableName=t.table, Item=t.probe_key),
    "UpdateItem": _update,
    "DeleteItem": lambda db, t: db.delete_item(TableName=t.table, Key=t.probe_key),
    "BatchWriteItem": lambda db, t: db.batch_write_item(
        RequestItems={t.table: [{"PutRequest": {"Item": t.probe_key}}]}),
    "ConditionCheckItem": _condition_check,
    "TransactGetItems": lambda db, t: db.transact_get_items(
        TransactItems=[{"Get": {"TableName": t.table, "Key": t.seed_key}}]),
    "TransactWriteItems": _transact_write,
    "DescribeTable": lambda db, t: db.describe_table(TableName=t.table),
}
PROBES: tuple[Probe, ...] = tuple(Probe(BY_NAME[name], call) for name, call in CALLS.items())
BY_ACTION = {probe.action: probe for probe in PROBES}


def index_probes(index: Index) -> tuple[Probe, ...]:
    """Query and Scan on a secondary index (`Query@<index>`): IAM checks the index's own ARN."""
    key = index.partition_key
    value = {"N": SEED_NUMBER} if key.type == "N" else {"S": SEED_VALUE}

    def query(db: Any, t: ProbeTarget) -> Any:
        return db.query(TableName=t.table, IndexName=index.name, KeyConditionExpression="#k = :v",
                        ExpressionAttributeNames={"#k": key.name},
                        ExpressionAttributeValues={":v": value})

    def scan(db: Any, t: ProbeTarget) -> Any:
        return db.scan(TableName=t.table, IndexName=index.name, Limit=1)

    on_query, on_scan = index_shapes(index.name)
    return (Probe(on_query, query), Probe(on_scan, scan))


def run(probe: Probe, dynamodb: Any, target: ProbeTarget, settled_by: float = 0.0) -> Observation:
    """Make the probe's call with a client signed by the credentials under test.

    A DENIED before `settled_by` (the stack's IAM propagation window, epoch seconds)
    may be a policy not yet visible: the probe is polled again until the window has
    passed, and the answer then is the settled one. No fixed sleep.
    """
    return retry.until_settled(settled_by, lambda: _once(probe, dynamodb, target),
                               lambda seen: seen.verdict == "DENIED")


def _once(probe: Probe, dynamodb: Any, target: ProbeTarget) -> Observation:
    try:
        response = probe.call(dynamodb, target)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        request_id = exc.response.get("ResponseMetadata", {}).get("RequestId")
        code = error.get("Code", "Unknown")
        verdict: Verdict = "DENIED" if code == "AccessDeniedException" else "ERROR"
        return Observation(verdict, code, error.get("Message", ""), request_id)
    except BotoCoreError as exc:
        return Observation("ERROR", type(exc).__name__, str(exc))
    return Observation("ALLOWED", request_id=response.get("ResponseMetadata", {}).get("RequestId"))
