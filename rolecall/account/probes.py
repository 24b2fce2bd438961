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
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from rolecall.account import probe_calls, retry
from rolecall.account.provision import to_attribute_values
from rolecall.model.shapes import (
    BY_NAME,
    DEFAULT,
    FOREIGN_NUMBER,
    FOREIGN_PARTITION,
    PROBE_VALUE,
    SEED_NUMBER,
    SEED_VALUE,
    Shape,
    index_shapes,
)
from rolecall.model.tables import Index, KeyAttribute, Table

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


Key = dict[str, dict[str, str]]


@dataclass(frozen=True)
class ProbeTarget:
    """Where probes aim: the table's physical name and the items they name.

    `seed_key` is the item reads find; `probe_key` (and `probe2_key`, for a batch of two
    writes) this worker's own items, which writes create; `foreign_key` an item of
    someone else's partition (a batch where one key is another's). `second` is the
    stack's second table, for requests that span two.
    """

    table: str
    seed_key: Key
    probe_key: Key
    partition_key: str
    probe2_key: Key = field(default_factory=dict)
    foreign_key: Key = field(default_factory=dict)
    second: ProbeTarget | None = None

    @classmethod
    def of(cls, table_name: str, table: Table, partition: str | None = None,
           second: ProbeTarget | None = None) -> ProbeTarget:
        """Shared tables: the first seed item, and probe items. Partitioned tables:
        `partition` is the value to aim at (the caller's identity id or tenant, or
        FOREIGN_PARTITION); reads and writes both use that partition."""
        keys = [table.partition_key.name] + ([table.sort_key.name] if table.sort_key else [])
        specs = [s for s in (table.partition_key, table.sort_key) if s is not None]
        foreign = _keyed(specs, FOREIGN_NUMBER, FOREIGN_PARTITION, SEED_VALUE, "1")
        if partition is not None:  # the schema guarantees a sort key for partitioned tables
            pk, sort = table.partition_key.name, specs[1]
            seed = {pk: {"S": partition}, sort.name: _value(sort.type, "1", SEED_VALUE)}
            probe = {pk: {"S": partition},
                     sort.name: _value(sort.type, str(1000 + writer_index()), probe_value())}
            probe2 = {pk: {"S": partition},
                      sort.name: _value(sort.type, str(2000 + writer_index()),
                                        f"{probe_value()}-2")}
            return cls(table_name, seed, probe, pk, probe2, foreign, second)
        probe = {s.name: _value(s.type, str(987654321 + writer_index()), probe_value())
                 for s in specs}
        probe2 = {s.name: _value(s.type, str(987655321 + writer_index()), f"{probe_value()}-2")
                  for s in specs}
        # A discovered table holds none of our seed data: the run writes one item of its
        # own (SEED_VALUE keys, rolecall/account/own_stack.py) and removes it at the end.
        seed = (to_attribute_values({k: table.items[0][k] for k in keys}) if table.items
                else {s.name: _value(s.type, SEED_NUMBER, SEED_VALUE) for s in specs})
        return cls(table_name, seed, probe, table.partition_key.name, probe2, foreign, second)

    @property
    def sort_key(self) -> str | None:
        return next((k for k in self.seed_key if k != self.partition_key), None)


def _value(kind: str, number: str, text: str) -> dict[str, str]:
    return {"N": number} if kind == "N" else {"S": text}


def _keyed(specs: list[KeyAttribute], number: str, text: str, sort_text: str,
           sort_number: str) -> Key:
    """A key whose partition value is `number`/`text` (by type), its sort key the seed's."""
    first, *rest = specs
    key = {first.name: _value(first.type, number, text)}
    for spec in rest:
        key[spec.name] = _value(spec.type, sort_number, sort_text)
    return key


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
PROBES: tuple[Probe, ...] = tuple(Probe(BY_NAME[name], call) for name, call in
                                  {**CALLS, **probe_calls.CALLS}.items())
BY_ACTION = {probe.action: probe for probe in PROBES}
DEFAULT_PROBES = tuple(BY_ACTION[shape.name] for shape in DEFAULT)


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

    on_query, on_scan, on_select = index_shapes(index.name)
    return (Probe(on_query, query), Probe(on_scan, scan),
            Probe(on_select, probe_calls.index_select(index.name, key.name, value)))


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
