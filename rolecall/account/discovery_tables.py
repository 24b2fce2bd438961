"""The DynamoDB tables a discovered stack's roles name, and which of them is the main one.

rolecall/account/discovery.py reads the roles' policies; this module reads every table
they name (DescribeTable, GetResourcePolicy), how the roles confine callers to its
partitions, and orders them: the stack's main table first, the others after it
(issue 23: an app has an Orders and a Customers table). Each table is a resource of its
own to IAM, and a batch or transaction needs its permission on every table it names
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html),
so the suite probes every table and the requests that span two.

Which table is the main one (the rule, in this order):

1. A table only the main table's model can carry: one whose roles confine callers to
   partitions (dynamodb:LeadingKeys on the identity id or a principal tag) or that has a
   resource-based policy of its own. Other tables are shared and policy-free in the model
   (rolecall/model/scenario.py), so such a table must be the main one; two of them in one
   stack are refused, naming both, rather than one silently read as shared.
2. Else the table the most roles grant something on (an Allow statement naming it or its
   indexes): the one the app is about, as a reader of the roles would say.
3. Ties go to the name (its physical name, alphabetically): the same stack gives the same
   main table on every run.

The others follow in the same order; the requests over two tables pair the main table with
the first of them (rolecall/model/plan.py).

The main table keeps its physical name as its key (cell ids do not name it); another
table's key is a readable label, its CloudFormation logical id without the CDK's hash
(`CustomersD3A5B2C1` -> `Customers`), as cell ids name it (`<credential>-Customers-GetItem`).
Another table's secondary indexes are read and kept, but probed only on the main table
(entitlements refuse an index of another table, rolecall/model/entitlements.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from rolecall.model.entitlements import Aliases
from rolecall.model.errors import ScenarioError
from rolecall.model.evaluation import statements
from rolecall.model.tables import Index, KeyAttribute, Table
from rolecall.model.trust import PrincipalTags

TABLE_ARN = re.compile(r"^arn:aws[\w-]*:dynamodb:[\w-]+:\d{12}:table/([A-Za-z0-9_.-]+)(/index/.*)?$")
CDK_HASH = re.compile(r"[0-9A-F]{8}$")  # the suffix cdk adds to logical ids
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=,@-]{0,63}$")  # rolecall/model/base.py Name


@dataclass
class Tables:
    """The stack's tables as the model and the run need them."""

    main: Table | None = None  # None: the roles name no table (no access cells)
    main_arn: str = ""
    others: list[Table] = field(default_factory=list)  # in the order the rule gives
    physical: dict[str, str] = field(default_factory=dict)  # other table's key -> name
    arns: dict[str, str] = field(default_factory=dict)  # other table's key -> ARN


def read_tables(dynamodb: Any, logical: dict[str, str], where: str,
                policies: list[dict[str, Any]], aliases: Aliases,
                tags: PrincipalTags | None) -> Tables:
    """Every table the roles' policies name (`policies`: one merged document per role),
    the main one first (the module's rule); `logical`: physical id -> logical id."""
    names = sorted({n for p in policies for s in statements(p) for n in _named(s)})
    found = [_read(dynamodb, name, policies, tags) for name in names]
    if not found:
        return Tables()
    main, *others = _ranked(found, policies, where)
    tables = Tables(main, main.arn or "")
    _alias(aliases, main.name, main, logical)
    taken = {t.name for t in found}  # physical names: an alias names one table
    for table in others:
        key = _label(table.name, logical.get(table.name), taken)
        taken.add(key)
        tables.others.append(table.model_copy(update={"name": key}))
        tables.physical[key], tables.arns[key] = table.name, table.arn or ""
        _alias(aliases, key, table, logical)
    return tables


def _named(statement: Any) -> set[str]:
    """The tables a statement's Resource names (a table's ARN or one of its indexes')."""
    return {m.group(1) for r in _strings(statement.get("Resource", []))
            if (m := TABLE_ARN.match(r))}


def _strings(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _read(dynamodb: Any, name: str, policies: list[dict[str, Any]],
          tags: PrincipalTags | None) -> Table:
    """One table: keys, indexes, its resource policy, and its partitioning by the roles."""
    described = dynamodb.describe_table(TableName=name)["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in described["AttributeDefinitions"]}
    keys = {k["KeyType"]: KeyAttribute(name=k["AttributeName"], type=types[k["AttributeName"]])
            for k in described["KeySchema"]}
    indexes = [Index(name=i["IndexName"], partition_key=KeyAttribute(
        name=i["KeySchema"][0]["AttributeName"], type=types[i["KeySchema"][0]["AttributeName"]]))
        for i in described.get("GlobalSecondaryIndexes", []) + described.get(
            "LocalSecondaryIndexes", [])]
    arn = described["TableArn"]
    table = Table(name=name, partition_key=keys["HASH"], sort_key=keys.get("RANGE"),
                  indexes=indexes, arn=arn, policy=_table_policy(dynamodb, arn))
    about = [s for p in policies for s in statements(p) if _about(s, arn)]
    return _partitioned(table, about, tags)


def _table_policy(dynamodb: Any, table_arn: str) -> dict[str, Any] | None:
    """The table's resource-based policy (SPEC R1); None when it has none."""
    try:
        return dict(json.loads(dynamodb.get_resource_policy(ResourceArn=table_arn)["Policy"]))
    except ClientError as exc:
        if exc.response["Error"].get("Code") == "PolicyNotFoundException":
            return None
        raise


def _glob(pattern: str, text: str) -> bool:
    """IAM's resource wildcards: `*` any run of characters, `?` one."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), text) is not None


def _about(statement: Any, arn: str) -> bool:
    """Does the statement apply to the table (its ARN or an index's)? NotResource: unless it
    excludes the table."""
    index = f"{arn}/index/rolecall"
    if "NotResource" in statement:
        return not any(_glob(p, arn) for p in _strings(statement["NotResource"]))
    return any(_glob(p, arn) or _glob(p, index) for p in _strings(statement.get("Resource", [])))


_LEADING_KEYS_VARIABLE = re.compile(r"\$\{(aws:PrincipalTag/[^},]+|cognito-identity\.amazonaws\.com:sub)",
                                    re.IGNORECASE)


def _partitioned(table: Table, about: list[Any], tags: PrincipalTags | None) -> Table:
    """How the roles confine callers to the table's partitions, read from the
    dynamodb:LeadingKeys conditions of the statements `about` it: keyed on a principal tag
    the pool maps from a claim -> per-tenant by that claim (SPEC A2); keyed on the identity
    id -> per-identity (D3). A table without a sort key stays shared: its partition would
    hold one item, the probes' reads and writes alike.
    """
    if table.sort_key is None:
        return table
    mapped = tags.mapped() if tags is not None else {}
    for statement in about:
        for keys in (statement.get("Condition") or {}).values():
            for key, values in (keys.items() if isinstance(keys, dict) else []):
                if key.lower() != "dynamodb:leadingkeys":
                    continue
                for variable in (m.group(1) for v in _strings(values)
                                 for m in _LEADING_KEYS_VARIABLE.finditer(v)):
                    if variable.lower().startswith("cognito-identity"):
                        return table.model_copy(update={"partition": "per-identity"})
                    claim = mapped.get(variable.split("/", 1)[1])
                    if claim is not None and claim not in ("sub", "aud"):
                        return table.model_copy(update={"partition": "per-tenant",
                                                        "tenant_claim": claim})
    return table


def _ranked(found: list[Table], policies: list[dict[str, Any]], where: str) -> list[Table]:
    """The tables in the module's order: the main one first (see the module's rule)."""
    special = [t.name for t in found if t.partition != "shared" or t.policy is not None]
    if len(special) > 1:
        raise ScenarioError(
            "command line", where,
            f"tables {' and '.join(special)} each confine callers to partitions "
            "(dynamodb:LeadingKeys) or carry a resource-based policy; rolecall models that "
            "for one table per stack, its main one, and would read the other as shared",
            "test the stack with all but one of them shared and without a table policy (a "
            "copy of the stack for the test), or one table at a time (issue 23)")
    granting = {t.name: sum(1 for p in policies if any(
        s.get("Effect") == "Allow" and t.name in _named(s) for s in statements(p)))
        for t in found}
    return sorted(found, key=lambda t: (t.name not in special, -granting[t.name], t.name))


def _label(physical: str, logical: str | None, taken: set[str]) -> str:
    """Another table's key: its logical id without the CDK's hash, if that reads as a name
    no other table has; else its physical name."""
    label = CDK_HASH.sub("", logical or "") or logical or ""
    if label and LABEL.match(label) and label not in taken:
        return label
    return physical


def _alias(aliases: Aliases, key: str, table: Table, logical: dict[str, str]) -> None:
    """The names a team may use for the table in its entitlements: its physical name, its
    logical id, its key."""
    for alias in (key, table.name, logical.get(table.name)):
        if alias:
            aliases.tables[alias] = key
    aliases.indexes[key] = [i.name for i in table.indexes]
    aliases.display[key] = logical.get(table.name) or table.name
