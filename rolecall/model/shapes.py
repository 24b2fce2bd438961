"""The DynamoDB requests the access cells make, as IAM sees them (SPEC D3, D5).

A request is not one permission: TransactWriteItems with a ConditionCheck and a Put
is checked as dynamodb:ConditionCheckItem and dynamodb:PutItem, each on its table,
each with the partition key values it touches in `dynamodb:LeadingKeys`. A `Shape`
says which checks one probe's request makes, in the order AWS makes them, so the
oracle can say which check refuses first and why, without the embedded target's
reading of the request (rolecall/emulator/dynamodb/authorize.py derives the same
checks from the wire). rolecall/account/probes.py makes the calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The keys probes aim at (rolecall/account/probes.py writes them; the oracle reads them).
PROBE_VALUE = "rolecall-probe"  # writes: `rolecall-probe-<worker>`, an item of their own
SEED_VALUE = "rolecall-seed"  # the seed item of a partition (or of a discovered table)
SEED_NUMBER = "987654320"  # the same, where the key is a number
FOREIGN_PARTITION = "rolecall-someone-else"  # partitioned tables: a partition nobody owns


@dataclass(frozen=True)
class Check:
    """One permission a request needs: an action on the table (or an index of it)."""

    action: str  # a bare data-plane action, e.g. "GetItem"
    keyed: bool  # carries dynamodb:LeadingKeys: the partition key values it reads or writes
    index: str | None = None  # the index it reads (its own ARN: table/<t>/index/<i>)
    item: Literal["seed", "probe"] = "seed"  # reads touch the seed item, writes the probe's


@dataclass(frozen=True)
class Shape:
    """A probe's request: its name in cell ids and the checks it makes, in AWS's order."""

    name: str
    checks: tuple[Check, ...]

    @property
    def needs(self) -> tuple[str, ...]:
        """The IAM actions the request needs (each once)."""
        return tuple(dict.fromkeys(check.action for check in self.checks))


def _one(name: str, action: str | None = None, keyed: bool = True,
         item: Literal["seed", "probe"] = "seed") -> Shape:
    return Shape(name, (Check(action or name, keyed, item=item),))


# Scan and DescribeTable name no key: their requests carry no dynamodb:LeadingKeys, so a
# ForAllValues condition on it holds vacuously (the DynamoDB developer guide warns of
# this for Scan: docs/semantics.md).
SHAPES: tuple[Shape, ...] = (
    _one("GetItem"),
    _one("BatchGetItem"),
    _one("Query"),
    _one("Scan", keyed=False),
    _one("PutItem", item="probe"),
    _one("UpdateItem", item="probe"),
    _one("DeleteItem", item="probe"),
    _one("BatchWriteItem", item="probe"),
    _one("ConditionCheckItem"),  # a TransactWriteItems holding one ConditionCheck
    _one("TransactGetItems", "GetItem"),
    # Two contained actions, the cheaper permission first: each needs its own (SPEC D5).
    Shape("TransactWriteItems", (Check("ConditionCheckItem", True),
                                 Check("PutItem", True, item="probe"))),
    _one("DescribeTable", keyed=False),
)
BY_NAME = {shape.name: shape for shape in SHAPES}


def index_shapes(index: str) -> tuple[Shape, Shape]:
    """Query and Scan on a secondary index (`Query@<index>`): IAM checks the index's ARN."""
    return (Shape(f"Query@{index}", (Check("Query", True, index),)),
            Shape(f"Scan@{index}", (Check("Scan", False, index),)))
