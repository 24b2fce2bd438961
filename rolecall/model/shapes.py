"""The DynamoDB requests the access cells make, as IAM sees them (SPEC D3, D5).

A request is not one permission: TransactWriteItems with a ConditionCheck and a Put
is checked as dynamodb:ConditionCheckItem and dynamodb:PutItem, each on its table,
each with the partition key values it names in `dynamodb:LeadingKeys`. A `Shape`
says which checks one probe's request makes, in the order AWS makes them, so the
oracle can say which check refuses first and why, without the embedded target's
reading of the request (rolecall/emulator/dynamodb/authorize.py derives the same
checks from the wire). rolecall/account/probes.py makes the calls.

`DEFAULT` is the twelve shapes every scenario probes unless it names its own
(`probes:`); `SHAPES` holds every shape the suite knows (issue 23: each request form
that can carry a rule: legacy parameters, projections, update expressions, batches of
deletes and of several keys, transactions of each kind, two tables, PartiQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The keys probes aim at (rolecall/account/probes.py writes them; the oracle reads them).
PROBE_VALUE = "rolecall-probe"  # writes: `rolecall-probe-<worker>`, an item of their own
SEED_VALUE = "rolecall-seed"  # the seed item of a partition (or of a discovered table)
SEED_NUMBER = "987654320"  # the same, where the key is a number
FOREIGN_PARTITION = "rolecall-someone-else"  # partitioned tables: a partition nobody owns
FOREIGN_NUMBER = "987654399"  # the same, where the partition key is a number

# The items a request names: the seed item and the probe's items of the cell's partition
# (`probe2`: a second probe item, for batches of two writes), or an item of someone else's
# partition (`foreign`) whatever the cell's partition (a batch where one key is foreign).
Item = Literal["seed", "probe", "probe2", "foreign"]
ATTRIBUTE = "note"  # the non-key attribute projections and updates name
SECRET = "secret"  # another one, for requests an attribute condition must refuse


@dataclass(frozen=True)
class Check:
    """One permission a request needs: an action on a table (or an index of it)."""

    action: str  # a bare data-plane action ("GetItem") or a prefixed one (dynamodb:PartiQL*)
    keys: tuple[Item, ...] = ("seed",)  # the items whose partition keys it names; (): none
    index: str | None = None  # the index it reads (its own ARN: table/<t>/index/<i>)
    second: bool = False  # on the stack's second table (a request that spans two tables)
    # Other condition keys the request carries, with their values (`{pk}`/`{sk}`: the
    # table's key attribute names); a key named with no values is absent. A key not named
    # here is one the oracle does not read for this request ("cannot tell").
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def keyed(self) -> bool:
        """Carries dynamodb:LeadingKeys (Scan, DescribeTable and full scans do not)."""
        return bool(self.keys)

    @property
    def permission(self) -> str:
        """The IAM action: `dynamodb:<action>`."""
        return self.action if ":" in self.action else f"dynamodb:{self.action}"


@dataclass(frozen=True)
class Shape:
    """A probe's request: its name in cell ids and the checks it makes, in AWS's order."""

    name: str
    checks: tuple[Check, ...]
    # What else the request names, for rules that read it (the coverage table): projected
    # or written attribute names, dynamodb:Select, dynamodb:ReturnValues.
    carries: frozenset[str] = frozenset()

    @property
    def needs(self) -> tuple[str, ...]:
        """The IAM actions the request needs (each once)."""
        return tuple(dict.fromkeys(check.action for check in self.checks))

    @property
    def two_tables(self) -> bool:
        return any(check.second for check in self.checks)


def _one(name: str, action: str | None = None, keys: tuple[Item, ...] = ("seed",),
         carries: tuple[str, ...] = (), **context: tuple[str, ...]) -> Shape:
    return Shape(name, (Check(action or name, keys, context=_context(**context)),),
                 frozenset(carries))


def _context(**keys: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`Select=("ALL_ATTRIBUTES",)` -> (("dynamodb:Select", ("ALL_ATTRIBUTES",)),)."""
    return tuple((f"dynamodb:{key}", values) for key, values in keys.items())


# What DynamoDB puts in the request context (developer guide, "Using IAM policy conditions
# for fine-grained access control"): reads always carry Select (ALL_ATTRIBUTES unless the
# request names attributes: SPECIFIC_ATTRIBUTES), writes ReturnValues (NONE unless asked);
# dynamodb:Attributes lists the attribute names a request reads, writes or conditions on
# (absent when it names none: a read of every attribute).
EVERY = ("ALL_ATTRIBUTES",)
SPECIFIC = ("SPECIFIC_ATTRIBUTES",)
NONE = ("NONE",)


# A request inside a transaction carries dynamodb:EnclosingOperation, the transaction's
# operation (developer guide, transaction-apis-iam and ql-iam examples); others lack it.
TX_WRITE = ("TransactWriteItems",)
TX_GET = ("TransactGetItems",)
TX_PARTIQL = ("ExecuteTransaction",)


def _tx(action: str, keys: tuple[Item, ...] = ("seed",), second: bool = False,
        also: dict[str, tuple[str, ...]] | None = None) -> Check:
    """A check made inside a transaction: its EnclosingOperation follows from the action."""
    enclosing = (TX_PARTIQL if action.startswith("dynamodb:PartiQL") else
                 TX_GET if action == "GetItem" else TX_WRITE)
    return Check(action, keys, second=second,
                 context=_context(EnclosingOperation=enclosing, **(also or {})))


# PartiQL statements as the probes write them: a SELECT * binding the partition key (no
# full scan, ql-iam.md), an INSERT of a key, an UPDATE setting one attribute.
_SELECT: dict[str, tuple[str, ...]] = {"FullTableScan": ("false",), "Select": EVERY,
                                       "Attributes": ()}
# (PartiQLInsert has no dynamodb:ReturnValues in the Service Authorization Reference)
_INSERT: dict[str, tuple[str, ...]] = {"Attributes": ("{pk}", "{sk}"), "ReturnValues": ()}
_UPDATE: dict[str, tuple[str, ...]] = {"ReturnValues": NONE, "Attributes": (ATTRIBUTE,)}
# Keys every shape states: absent from a request unless its check names them.
STATED = ("dynamodb:EnclosingOperation", "dynamodb:FullTableScan")

READ = ("dynamodb:Select",)  # reads carry Select (ALL_ATTRIBUTES unless they name some)
WRITE = ("dynamodb:ReturnValues",)  # writes carry ReturnValues (NONE unless they ask)
ATTRS = ("dynamodb:Attributes",)

# Scan and DescribeTable name no key: their requests carry no dynamodb:LeadingKeys, so a
# ForAllValues condition on it holds vacuously (the DynamoDB developer guide warns of
# this for Scan: docs/semantics.md).
DEFAULT: tuple[Shape, ...] = (
    _one("GetItem", carries=READ, Select=EVERY, Attributes=()),
    _one("BatchGetItem", carries=READ, Select=EVERY, Attributes=()),
    _one("Query", carries=READ, Select=EVERY, Attributes=()),
    _one("Scan", keys=(), carries=READ, Select=EVERY, Attributes=()),
    _one("PutItem", keys=("probe",), carries=WRITE + ATTRS, ReturnValues=NONE,
         Attributes=("{pk}", "{sk}")),
    _one("UpdateItem", keys=("probe",), carries=WRITE + ATTRS, ReturnValues=NONE,
         Attributes=("probed",)),
    _one("DeleteItem", keys=("probe",), carries=WRITE, ReturnValues=NONE, Attributes=()),
    _one("BatchWriteItem", keys=("probe",), carries=ATTRS),
    # a TransactWriteItems of one ConditionCheck
    _one("ConditionCheckItem", carries=ATTRS, EnclosingOperation=TX_WRITE),
    _one("TransactGetItems", "GetItem", EnclosingOperation=TX_GET),
    # Two contained actions, the cheaper permission first: each needs its own (SPEC D5).
    Shape("TransactWriteItems", (_tx("ConditionCheckItem"), _tx("PutItem", ("probe",)))),
    _one("DescribeTable", keys=()),
)

MORE: tuple[Shape, ...] = (
    # legacy parameters (the same permissions, other request fields)
    _one("UpdateItem-AttributeUpdates", "UpdateItem", ("probe",), WRITE + ATTRS,
         ReturnValues=NONE, Attributes=(ATTRIBUTE,)),
    _one("Query-KeyConditions", "Query", carries=READ, Select=EVERY, Attributes=()),
    _one("GetItem-AttributesToGet", "GetItem", carries=READ + ATTRS, Select=SPECIFIC,
         Attributes=("{pk}", "{sk}", ATTRIBUTE)),
    # attributes: projections and each kind of update expression, names given through
    # ExpressionAttributeNames; a conditional update names the condition's attribute too
    _one("GetItem-projection", "GetItem", carries=READ + ATTRS, Select=SPECIFIC,
         Attributes=("{pk}", ATTRIBUTE)),
    _one("Query-projection", "Query", carries=READ + ATTRS, Select=SPECIFIC,
         Attributes=("{pk}", ATTRIBUTE)),
    _one("Scan-projection", "Scan", keys=(), carries=READ + ATTRS, Select=SPECIFIC,
         Attributes=("{pk}", ATTRIBUTE)),
    _one("GetItem-secret", "GetItem", carries=READ + ATTRS, Select=SPECIFIC,
         Attributes=("{pk}", SECRET)),
    _one("UpdateItem-SET", "UpdateItem", ("probe",), WRITE + ATTRS, ReturnValues=NONE,
         Attributes=(ATTRIBUTE,)),
    _one("UpdateItem-REMOVE", "UpdateItem", ("probe",), WRITE + ATTRS, ReturnValues=NONE,
         Attributes=(ATTRIBUTE,)),
    _one("UpdateItem-ADD", "UpdateItem", ("probe",), WRITE + ATTRS, ReturnValues=NONE,
         Attributes=(f"{ATTRIBUTE}count",)),
    _one("UpdateItem-DELETE", "UpdateItem", ("probe",), WRITE + ATTRS, ReturnValues=NONE,
         Attributes=(f"{ATTRIBUTE}tags",)),
    _one("UpdateItem-secret", "UpdateItem", ("probe",), WRITE + ATTRS, ReturnValues=NONE,
         Attributes=(SECRET,)),
    _one("UpdateItem-conditional", "UpdateItem", ("probe",), WRITE + ATTRS, ReturnValues=NONE,
         Attributes=(ATTRIBUTE, SECRET)),  # sets note if the item has no secret
    _one("PutItem-ReturnValues", "PutItem", ("probe",), WRITE + ATTRS,
         ReturnValues=("ALL_OLD",), Attributes=("{pk}", "{sk}", ATTRIBUTE)),
    # batches: deletes, puts and deletes together, several keys where one is another's
    _one("BatchWriteItem-delete", "BatchWriteItem", ("probe",)),
    _one("BatchWriteItem-put-delete", "BatchWriteItem", ("probe", "probe2"), ATTRS),
    _one("BatchGetItem-one-foreign", "BatchGetItem", ("seed", "foreign"), READ),
    _one("BatchWriteItem-one-foreign", "BatchWriteItem", ("probe", "foreign"), ATTRS),
    # transactions: each kind of contained request, and one allowed beside one refused
    Shape("TransactWriteItems-Update", (_tx("UpdateItem", ("probe",)),)),
    Shape("TransactWriteItems-Delete", (_tx("DeleteItem", ("probe",)),)),
    Shape("TransactWriteItems-Put-Delete", (_tx("PutItem", ("probe",)),
                                             _tx("DeleteItem", ("probe2",)))),
    Shape("TransactGetItems-one-foreign", (_tx("GetItem"), _tx("GetItem", ("foreign",)))),
    # two tables: the main one and the stack's second (other_tables[0])
    Shape("BatchGetItem-two-tables", (Check("BatchGetItem"), Check("BatchGetItem", second=True))),
    Shape("BatchWriteItem-two-tables", (Check("BatchWriteItem", ("probe",)),
                                        Check("BatchWriteItem", ("probe",), second=True))),
    Shape("TransactGetItems-two-tables", (_tx("GetItem"), _tx("GetItem", ("seed",), True))),
    Shape("TransactWriteItems-two-tables", (_tx("PutItem", ("probe",)),
                                            _tx("PutItem", ("probe",), True))),
    # PartiQL: one permission per statement verb (SPEC D5, docs/semantics.md), each with the
    # keys its item-API twin carries (rolecall/emulator/dynamodb/partiql.py)
    Shape("ExecuteStatement-SELECT", (Check("dynamodb:PartiQLSelect",
                                            context=_context(**_SELECT)),), frozenset(READ)),
    _one("ExecuteStatement-SELECT-scan", "dynamodb:PartiQLSelect", (),
         ("dynamodb:FullTableScan", *READ), FullTableScan=("true",), Select=EVERY,
         Attributes=()),
    Shape("ExecuteStatement-INSERT", (Check("dynamodb:PartiQLInsert", ("probe",),
                                            context=_context(**_INSERT)),), frozenset(ATTRS)),
    Shape("ExecuteStatement-UPDATE", (Check("dynamodb:PartiQLUpdate",
                                            context=_context(**_UPDATE)),),
          frozenset(WRITE + ATTRS)),
    _one("ExecuteStatement-DELETE", "dynamodb:PartiQLDelete", ("probe",), WRITE,
         ReturnValues=NONE, Attributes=()),
    # a batch is all reads or all writes (ql-reference.multiplestatements.batching); each
    # read names the whole key
    Shape("BatchExecuteStatement-SELECT", (
        Check("dynamodb:PartiQLSelect", context=_context(**_SELECT)),), frozenset(READ)),
    Shape("BatchExecuteStatement-one-foreign", (
        Check("dynamodb:PartiQLSelect", context=_context(**_SELECT)),
        Check("dynamodb:PartiQLSelect", ("foreign",), context=_context(**_SELECT))),
          frozenset(READ)),
    Shape("BatchExecuteStatement-writes", (
        Check("dynamodb:PartiQLInsert", ("probe",), context=_context(**_INSERT)),
        Check("dynamodb:PartiQLDelete", ("probe2",),
              context=_context(ReturnValues=NONE, Attributes=()))), frozenset(WRITE + ATTRS)),
    Shape("ExecuteTransaction", (_tx("dynamodb:PartiQLInsert", ("probe",), also=_INSERT),
                                 _tx("dynamodb:PartiQLUpdate", ("seed",), also=_UPDATE))),
    Shape("ExecuteTransaction-two-tables", (
        _tx("dynamodb:PartiQLInsert", ("probe",), also=_INSERT),
        _tx("dynamodb:PartiQLInsert", ("probe",), True, _INSERT))),
)
SHAPES: tuple[Shape, ...] = DEFAULT + MORE
BY_NAME = {shape.name: shape for shape in SHAPES}
# What a stack with a second table gets beside DEFAULT unless `probes:` says: the item
# API's batches and transactions over both tables (issue 23), each needing its permission
# on every table it names (transaction-apis-iam). ExecuteTransaction-two-tables needs
# PartiQL, which DEFAULT leaves out too.
DEFAULT_TWO_TABLES: tuple[Shape, ...] = tuple(BY_NAME[name] for name in (
    "BatchGetItem-two-tables", "BatchWriteItem-two-tables", "TransactGetItems-two-tables",
    "TransactWriteItems-two-tables"))


def index_shapes(index: str) -> tuple[Shape, ...]:
    """The requests on a secondary index (`Query@<index>`): IAM checks the index's ARN."""
    return (Shape(f"Query@{index}", (Check("Query", index=index),), frozenset(READ)),
            Shape(f"Scan@{index}", (Check("Scan", (), index=index),), frozenset(READ)),
            Shape(f"ExecuteStatement-SELECT@{index}",
                  (Check("dynamodb:PartiQLSelect", index=index, context=_context(
                      FullTableScan=("false",), Select=("ALL_PROJECTED_ATTRIBUTES",),
                      Attributes=())),), frozenset(READ)))


DEFAULT_INDEX = ("Query", "Scan")  # the index shapes every index gets unless `probes:` says
