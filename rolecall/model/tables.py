"""A scenario's DynamoDB tables: keys, indexes, seed items, partitioning and policy.

`partition` says how callers are confined to their items (SPEC D3, A2): `shared` (no
confinement the probes aim at), `per-identity` (each identity owns the partition keyed
by its identity id) or `per-tenant` (each tenant the partition keyed by the value of a
claim the identity pool copies into a principal tag). A table may carry its own
resource-based policy (SPEC R1, R2).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from rolecall.model.base import Model, Name


class KeyAttribute(Model):
    name: str
    type: Literal["S", "N", "B"] = "S"


class Index(Model):
    name: Name
    partition_key: KeyAttribute


PARTITIONED = ("per-identity", "per-tenant")  # tables whose probes run @own and @other


class Table(Model):
    name: Name
    # per-identity: each identity owns the partition keyed by its identity id (fine-grained
    # access with dynamodb:LeadingKeys); per-tenant: each tenant owns the partition keyed by
    # the value of the user's `tenant_claim` (e.g. custom:tenant), which the identity pool
    # copies into a principal tag (SPEC A2). Probes then run on the caller's own partition
    # (@own) and on another's (@other).
    partition: Literal["shared", "per-identity", "per-tenant"] = "shared"
    tenant_claim: str | None = None  # per-tenant: the claim whose value names the partition
    # The table's resource-based policy (SPEC R1, R2): "{{table_arn}}", "{{role_arn:<role>}}"
    # and "{{session_arn:<role>}}" (the role's Cognito session) are filled in.
    policy: dict[str, Any] | None = None
    arn: str | None = None  # a discovered table's ARN
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    indexes: list[Index] = []
    # Seed data the read probes use. A discovered table has none of ours: its probes read
    # and write only the probe key (`rolecall-probe`), which an allowed read finds absent.
    items: list[dict[str, str | int]] = []

    @model_validator(mode="after")
    def _items_have_keys(self) -> Table:
        if self.partition in PARTITIONED and self.sort_key is None:
            raise ValueError(f"a {self.partition} table needs a sort_key, so each partition can "
                             "hold the probes' seed item and their written item apart")
        if (self.partition == "per-tenant") != (self.tenant_claim is not None):
            raise ValueError("a per-tenant table names its tenant_claim (e.g. custom:tenant), "
                             "and only a per-tenant table does")
        if self.policy is not None and "Statement" not in self.policy:
            raise ValueError("policy: a resource-based policy document needs a Statement list")
        keys = [self.partition_key.name] + ([self.sort_key.name] if self.sort_key else [])
        for n, item in enumerate(self.items):
            missing = [k for k in keys if k not in item]
            if missing:
                raise ValueError(f"items[{n}] lacks key attribute(s) {missing}; "
                                 f"every seed item needs {keys}")
        return self
