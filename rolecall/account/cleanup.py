"""Everything rolecall deletes, from one table of resource kinds: the journal, teardown, the sweeper.

Modelled on OpenStack Tempest's cleanup (tempest/cmd/cleanup_service.py): one
class per kind of resource, each knowing how to delete one, how to list the
ones that are ours and how old each is; a saved record of what a run made (the
`Journal`, Tempest's resource list) and a dry run (`sweep` only lists unless
told to delete). Tempest's "saved state" of pre-existing resources is our tag:
nothing without `rolecall:run` is ever listed, so nothing else is ever deleted.

- Provisioning writes each resource to the run's journal the moment it exists
  (`journal.record(USER_POOL, pool_id)`), so a run that dies half-way still
  knows what it made.
- `teardown(target, *journals)` deletes what the journals list, in waves
  (`ResourceKind.wave`): the kinds of one wave are independent, so each wave is
  deleted in parallel on a thread pool, and it cannot be interrupted by a
  second Ctrl-C / SIGTERM (it says it is finishing instead). A journal keeps
  only what could not be deleted, so a kept journal lists exactly the leftovers.
- `sweep(target, older_than)` finds tagged leftovers of runs that never tore
  down. It fails closed: a resource whose age cannot be known (no or an
  unreadable `rolecall:created` tag and no creation date from the service) is
  listed as "age unknown" and deleted only with `include_unknown_age`.

Adding a kind (e.g. ephemeral test users in an existing user pool, named
`rc-<runid>-...` and swept by that prefix and their age):

1. subclass `ResourceKind`: `name` (the journal's key, never renamed), `service`
   (the boto3 client it needs), `wave` (0 unless it must wait for another kind:
   roles wait for the identity pools that use them), `delete()` one by its id,
   and `list_ours()` yielding a `Leftover` for each resource that is provably
   rolecall's: use `created_at(tags, service_date)` for its age and
   `runid_of_name(name)` when it has no tags. An id of a resource inside
   another (a user in a pool) joins the two: `"<pool id>/<username>"`.
2. add an instance to `KINDS` (or `register(instance)`: a kind whose listing needs
   configuration, such as which user pools hold test users, takes it in
   its constructor).
3. record each one where it is created: `journal.record(THE_KIND, ident)`.

Teardown, sweep, dry run, the parallel waves and the age rules then cover it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from rolecall.account.clients import GONE, Target, error_code, patiently
from rolecall.account.retry import PERMISSION

log = logging.getLogger("rolecall.account.cleanup")

RUN_TAG = "rolecall:run"
CREATED_TAG = "rolecall:created"
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
PREFIX = "rc-"
_RUNID_IN_NAME = re.compile(r"rc-([0-9a-f]{8})-")
PARALLEL_DELETES = 8  # enough to overlap a few stacks' calls; far below any AWS rate limit


def created_stamp(moment: datetime | None = None) -> str:
    """The `rolecall:created` tag value for a resource made now (UTC)."""
    return (moment or datetime.now(UTC)).strftime(CREATED_FORMAT)


def created_at(tags: Mapping[str, str], service_date: datetime | None = None) -> datetime | None:
    """When a resource was made: the service's own date, else our tag; None when neither says.

    None is "age unknown", never "old": the sweeper must not delete what it cannot date.
    """
    if service_date is not None:
        return service_date if service_date.tzinfo else service_date.replace(tzinfo=UTC)
    try:
        return datetime.strptime(tags.get(CREATED_TAG, ""), CREATED_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def runid_of_name(name: str) -> str | None:
    """The run id in an `rc-<runid>-...` name (for kinds that cannot carry tags)."""
    match = _RUNID_IN_NAME.match(name)
    return match.group(1) if match else None


@dataclass(frozen=True)
class Leftover:
    """One resource of some rolecall run, as the sweeper found it."""

    kind: str
    ident: str
    runid: str
    created: datetime | None  # None: age unknown

    def older_than(self, age: timedelta, now: datetime) -> bool:
        return self.created is not None and now - self.created >= age

    def as_dict(self) -> dict[str, str]:
        created = self.created.strftime(CREATED_FORMAT) if self.created else "age unknown"
        return {"kind": self.kind, "ident": self.ident, "runid": self.runid, "created": created}


class ResourceKind(ABC):
    """One kind of resource rolecall creates: how to delete one, find ours, and date them."""

    name: ClassVar[str]
    service: ClassVar[str]
    wave: ClassVar[int] = 0  # teardown deletes wave 0, then 1, ...; one wave in parallel

    @abstractmethod
    def delete(self, client: Any, ident: str) -> None:
        """Delete one resource; an already deleted one may raise a GONE error (ignored)."""

    @abstractmethod
    def list_ours(self, client: Any) -> Iterator[Leftover]:
        """Every resource of this kind that is provably rolecall's (named rc-, tagged)."""

    def leftover(self, ident: str, tags: Mapping[str, str],
                 service_date: datetime | None = None) -> Iterator[Leftover]:
        """A Leftover for a tagged resource, nothing for an untagged one."""
        if RUN_TAG in tags:
            yield Leftover(self.name, ident, tags[RUN_TAG], created_at(tags, service_date))


class UserPools(ResourceKind):
    """A user pool, with its groups, app clients and users."""

    name, service = "user_pool", "cognito-idp"

    def delete(self, client: Any, ident: str) -> None:
        client.delete_user_pool(UserPoolId=ident)

    def list_ours(self, client: Any) -> Iterator[Leftover]:
        for page in client.get_paginator("list_user_pools").paginate(MaxResults=60):
            for pool in page["UserPools"]:
                if pool["Name"].startswith(PREFIX):
                    described = client.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
                    yield from self.leftover(pool["Id"], described.get("UserPoolTags", {}),
                                             described.get("CreationDate"))


class IdentityPools(ResourceKind):
    """An identity pool (its identities go with it). The service keeps no creation date."""

    name, service = "identity_pool", "cognito-identity"

    def delete(self, client: Any, ident: str) -> None:
        client.delete_identity_pool(IdentityPoolId=ident)

    def list_ours(self, client: Any) -> Iterator[Leftover]:
        for page in client.get_paginator("list_identity_pools").paginate(MaxResults=60):
            for pool in page["IdentityPools"]:
                if pool["IdentityPoolName"].startswith(PREFIX):
                    described = client.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
                    yield from self.leftover(pool["IdentityPoolId"],
                                             described.get("IdentityPoolTags", {}))


class Roles(ResourceKind):
    """An IAM role with its inline and attached policies; after the pools that name it."""

    name, service, wave = "role", "iam", 1

    def delete(self, client: Any, ident: str) -> None:
        for page in client.get_paginator("list_role_policies").paginate(RoleName=ident):
            for policy in page["PolicyNames"]:
                client.delete_role_policy(RoleName=ident, PolicyName=policy)
        for page in client.get_paginator("list_attached_role_policies").paginate(RoleName=ident):
            for attached in page["AttachedPolicies"]:
                client.detach_role_policy(RoleName=ident, PolicyArn=attached["PolicyArn"])
        client.delete_role(RoleName=ident)

    def list_ours(self, client: Any) -> Iterator[Leftover]:
        for page in client.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if role["RoleName"].startswith(PREFIX):
                    tags = client.list_role_tags(RoleName=role["RoleName"])["Tags"]
                    yield from self.leftover(role["RoleName"],
                                             {t["Key"]: t["Value"] for t in tags},
                                             role.get("CreateDate"))


class Tables(ResourceKind):
    """A DynamoDB table, with its items and indexes."""

    name, service = "table", "dynamodb"

    def delete(self, client: Any, ident: str) -> None:
        # rolecall tables are deletion-protected (the control-plane DeleteTable probe must
        # not delete them, docs/control-plane-probes.md): switch it off first.
        client.update_table(TableName=ident, DeletionProtectionEnabled=False)
        client.delete_table(TableName=ident)

    def list_ours(self, client: Any) -> Iterator[Leftover]:
        for page in client.get_paginator("list_tables").paginate():
            for name in page["TableNames"]:
                if name.startswith(PREFIX):
                    table = client.describe_table(TableName=name)["Table"]
                    tags = client.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
                    yield from self.leftover(name, {t["Key"]: t["Value"] for t in tags},
                                             table.get("CreationDateTime"))


class ManagedPolicies(ResourceKind):
    """A customer-managed policy (a role's permissions boundary, SPEC B1), by its ARN; after
    the roles whose boundary it is (IAM refuses to delete a policy still in use)."""

    name, service, wave = "managed_policy", "iam", 2

    def delete(self, client: Any, ident: str) -> None:
        for version in client.list_policy_versions(PolicyArn=ident)["Versions"]:
            if not version["IsDefaultVersion"]:
                client.delete_policy_version(PolicyArn=ident, VersionId=version["VersionId"])
        client.delete_policy(PolicyArn=ident)

    def list_ours(self, client: Any) -> Iterator[Leftover]:
        for page in client.get_paginator("list_policies").paginate(Scope="Local"):
            for policy in page["Policies"]:
                if policy["PolicyName"].startswith(PREFIX):
                    tags = client.list_policy_tags(PolicyArn=policy["Arn"])["Tags"]
                    yield from self.leftover(policy["Arn"], {t["Key"]: t["Value"] for t in tags},
                                             policy.get("CreateDate"))


USER_POOL, IDENTITY_POOL, ROLE, TABLE = UserPools(), IdentityPools(), Roles(), Tables()
MANAGED_POLICY = ManagedPolicies()
KINDS: dict[str, ResourceKind] = {kind.name: kind for kind in (
    USER_POOL, IDENTITY_POOL, ROLE, TABLE, MANAGED_POLICY)}


def register(kind: ResourceKind) -> ResourceKind:
    """Add a kind to the table (see the module docstring); returns it for `X = register(X())`."""
    if kind.name in KINDS and KINDS[kind.name] is not kind:
        raise ValueError(f"a resource kind named {kind.name!r} is already registered; "
                         "give the new kind its own `name`")
    KINDS[kind.name] = kind
    return kind


def kind_named(name: str) -> ResourceKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown resource kind {name!r}: register it in rolecall/account/"
                         f"cleanup.py KINDS (known: {', '.join(sorted(KINDS))})") from None


# --- the journal: what a run made ---------------------------------------------------------

class Journal:
    """Append-only record of created resources, one JSON line each, fsynced.

    No account id and no secret goes in: only the kind and the resource's name or id.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, kind: ResourceKind, ident: str) -> None:
        kind_named(kind.name)  # a kind teardown would not know is a bug here, not at the end
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps({"kind": kind.name, "id": ident}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def keep_only(self, entries: list[dict[str, str]]) -> None:
        """Rewrite the journal to exactly these entries (atomically); none: remove it."""
        if not entries:
            self.path.unlink(missing_ok=True)
            return
        fresh = self.path.with_suffix(".tmp")
        fresh.write_text("".join(json.dumps(e) + "\n" for e in entries))
        os.replace(fresh, self.path)


# --- deleting: in waves, each in parallel, not interruptible -------------------------------

@dataclass
class _Batch:
    """What one teardown or sweep deletes, and what it could not."""

    target: Target
    clients: dict[str, Any] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # kind, id, error

    def delete_all(self, items: Iterable[tuple[str, str]], workers: int = PARALLEL_DELETES) -> None:
        by_wave: dict[int, list[tuple[ResourceKind, str]]] = {}
        for kind_name, ident in dict.fromkeys(items):  # unique, in order
            kind = kind_named(kind_name)
            # boto3 sessions are not thread-safe: make every client here, before the pool starts.
            if kind.service not in self.clients:
                self.clients[kind.service] = self.target.client(kind.service)
            by_wave.setdefault(kind.wave, []).append((kind, ident))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rolecall-delete") as pool:
            for wave in sorted(by_wave):
                list(pool.map(lambda item: self._delete_one(*item), by_wave[wave]))

    def _delete_one(self, kind: ResourceKind, ident: str) -> None:
        try:
            patiently(kind.delete)(self.clients[kind.service], ident)
        except Exception as exc:
            if error_code(exc) in GONE:
                return
            self.failures.append((kind.name, ident, _reason(exc)))
            log.error("could not delete %s %s: %s", kind.name, ident, exc)


def _reason(exc: Exception) -> str:
    """Why a delete failed: the error code, and AWS's words when the runner lacks a permission
    (they name the action to grant, e.g. `iam:DeleteRole`)."""
    code = error_code(exc)
    if code is None:
        return type(exc).__name__
    if code in PERMISSION:
        return f"{code} ({getattr(exc, 'response', {}).get('Error', {}).get('Message', '')})"
    return code


@contextlib.contextmanager
def shielded(message: str) -> Iterator[None]:
    """SIGINT and SIGTERM print `message` instead of interrupting, until the block ends.

    A second Ctrl-C (or CI's SIGTERM after cancelling) during teardown would
    otherwise abandon half a stack. Only the main thread can set handlers; elsewhere
    the block runs unshielded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    shielded_signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in shielded_signals}

    def still_finishing(signum: int, _frame: Any) -> None:
        print(message, file=sys.stderr, flush=True)

    for sig in shielded_signals:
        signal.signal(sig, still_finishing)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def teardown(target: Target, *journals: Journal) -> list[str]:
    """Delete what the journals list; each keeps only what failed. Returns those failures."""
    entries = {journal.path: journal.entries() for journal in journals}
    count = sum(len(e) for e in entries.values())
    batch = _Batch(target)
    if count:
        print(f"rolecall: tearing down {count} resource(s); this takes a few seconds",
              file=sys.stderr, flush=True)
        with shielded(f"rolecall: teardown is finishing ({count} resource(s)); "
                      "it will not be interrupted, wait for it to end"):
            batch.delete_all((e["kind"], e["id"]) for listed in entries.values() for e in listed)
    failed = {(kind, ident) for kind, ident, _ in batch.failures}
    for journal in journals:
        journal.keep_only([e for e in entries[journal.path] if (e["kind"], e["id"]) in failed])
    return [f"{kind} {ident}: {error}" for kind, ident, error in batch.failures]


# --- the sweeper: leftovers of runs that never tore down -----------------------------------

@dataclass
class Sweep:
    """What a sweep found; `deleted` is empty on a dry run (the default)."""

    found: list[Leftover]
    deleted: list[Leftover]
    unknown_age: list[Leftover]  # found, but not deleted unless include_unknown_age
    failures: list[str]


def find_leftovers(target: Target, older_than: timedelta, runid: str | None = None,
                   now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[Leftover]:
    """Tagged resources (of `runid`, or of any run) older than `older_than`, or of unknown age."""
    moment = now()
    found = [left for kind in KINDS.values()
             for left in kind.list_ours(target.client(kind.service))
             if runid is None or left.runid == runid]
    return [left for left in found if left.created is None or left.older_than(older_than, moment)]


def sweep(target: Target, older_than: timedelta, delete: bool = False,
          include_unknown_age: bool = False, runid: str | None = None) -> Sweep:
    """List leftovers (a dry run); with `delete`, remove those of known age (and, with
    `include_unknown_age`, those too)."""
    found = find_leftovers(target, older_than, runid)
    unknown = [left for left in found if left.created is None]
    doomed = [left for left in found if delete and (left.created or include_unknown_age)]
    batch = _Batch(target)
    if doomed:
        with shielded("rolecall: sweep is finishing its deletions; wait for it to end"):
            batch.delete_all((left.kind, left.ident) for left in doomed)
    failed = {(kind, ident) for kind, ident, _ in batch.failures}
    return Sweep(found, [left for left in doomed if (left.kind, left.ident) not in failed],
                 unknown, [f"{kind} {ident}: {error}" for kind, ident, error in batch.failures])
