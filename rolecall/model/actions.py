"""The DynamoDB permissions a scenario or entitlements file speaks of (SPEC D5).

A permission profile (a role's `allowed:`, a persona's `allow:`) lists bare data-plane
actions (`GetItem`, `*` for all of them) and prefixed control-plane actions
(`dynamodb:DeleteTable`, `iam:PutRolePolicy`, `cognito-identity:*`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import AfterValidator

# The IAM actions a permission profile speaks of (SPEC D5). TransactGetItems and
# TransactWriteItems are not permissions of their own: they need the contained actions.
IAM_ACTIONS: tuple[str, ...] = (
    "GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem",
    "BatchWriteItem", "ConditionCheckItem", "DescribeTable",
)
INDEX_ACTIONS = ("Query", "Scan")  # the actions that read a secondary index
READ_ACTIONS = ("GetItem", "BatchGetItem", "Query", "Scan", "ConditionCheckItem", "DescribeTable")
WRITE_ACTIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")
Flow = Literal["enhanced", "classic", "guest"]
FLOWS: tuple[Flow, ...] = ("enhanced", "classic", "guest")



# A control-plane or identity-stack action is written with its service prefix
# (`dynamodb:DeleteTable`, `iam:PutRolePolicy`, `cognito-identity:*`); `*` and `?` are
# IAM's wildcards. The data-plane actions above are written bare, as before.
PREFIXED = re.compile(r"^[a-z][a-z0-9-]*:[A-Za-z*?]+$")


def _actions(value: list[str]) -> list[str]:
    """Validate a permission profile: bare DynamoDB data-plane actions ('*' = all of them),
    then prefixed control-plane actions; canonical order, duplicates dropped."""
    expanded: list[str] = []
    prefixed: list[str] = []
    for action in value:
        bare = action.removeprefix("dynamodb:")
        if action == "*":
            expanded.extend(IAM_ACTIONS)
        elif bare in IAM_ACTIONS:
            expanded.append(bare)
        elif PREFIXED.match(action):
            prefixed.append(action)
        else:
            raise ValueError(f"{action!r} is not a DynamoDB permission rolecall probes; "
                             f"use one of {', '.join(IAM_ACTIONS)} or '*', or a prefixed "
                             "control-plane action such as dynamodb:DeleteTable, "
                             "iam:PutRolePolicy or cognito-identity:*")
    return sorted(set(expanded), key=IAM_ACTIONS.index) + sorted(set(prefixed))


def data_plane(actions: Iterable[str]) -> list[str]:
    """The bare DynamoDB data-plane actions of a profile (what the access cells probe)."""
    return [a for a in actions if a in IAM_ACTIONS]


Actions = Annotated[list[str], AfterValidator(_actions)]
