"""DynamoDB tables are CREATING before ACTIVE and DELETING before they are gone.

AWS: CreateTable "is an asynchronous operation. Upon receiving a CreateTable
request, DynamoDB immediately returns a response with a TableStatus of CREATING.
After the table is created, DynamoDB sets the TableStatus to ACTIVE. You can
perform read and write operations only on an ACTIVE table"; DeleteTable likewise
returns DELETING (API reference: CreateTable, DeleteTable). Data-plane calls on
a table that is not ACTIVE fail with ResourceNotFoundException; DeleteTable on a
table still CREATING or already DELETING is ResourceInUseException; more than 50
table operations at once is LimitExceededException (ServiceQuotas.html).

moto makes tables ACTIVE at once and deletes them at once, so this module keeps
the windows itself: it answers DescribeTable/DeleteTable for tables in a window
and finishes a deletion (in moto) once the window has passed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import dynamodb_backends

from rolecall.emulator.errors import AwsError
from rolecall.emulator.realism.quotas import MAX_TABLE_OPERATIONS

CONTROL = frozenset({"CreateTable", "DeleteTable", "DescribeTable", "ListTables", "UpdateTable",
                     "TagResource", "UntagResource", "ListTagsOfResource", "DescribeTimeToLive",
                     "DescribeContinuousBackups"})
NOT_FOUND = "Requested resource not found"


class Tables:
    """CREATING/DELETING windows of `delay` seconds for every table created through the endpoint."""

    def __init__(self, delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.delay = delay
        self.clock = clock
        self._creating: dict[tuple[str, str, str], float] = {}  # (account, region, name) -> until
        self._deleting: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()

    def before(self, account: str, region: str, operation: str,
               params: dict[str, Any]) -> dict[str, Any] | None:
        """Refuse or answer a DynamoDB call as a table in a window would; None: moto serves it."""
        self._finish_deletions()
        name = str(params.get("TableName") or "").rsplit("/", 1)[-1]
        if operation == "CreateTable":
            self._admit_table_operation()
            return None
        if not name:
            return None
        key = (account, region, name)
        status = self._status(key)
        if status is None:
            return None
        if operation == "DescribeTable":
            return _described(account, region, name, status, "Table")
        if operation == "DeleteTable":
            if status == "DELETING":
                raise AwsError("ResourceNotFoundException", NOT_FOUND)
            raise AwsError("ResourceInUseException",
                           f"Attempt to change a resource which is still in use: Table is being "
                           f"{status.lower()}: {name}")
        if status == "DELETING" or operation not in CONTROL:
            raise AwsError("ResourceNotFoundException", NOT_FOUND)
        return None

    def delete(self, account: str, region: str, name: str) -> dict[str, Any]:
        """DeleteTable on an ACTIVE table: DELETING now, gone after the window."""
        self._admit_table_operation()
        answer = _described(account, region, name, "DELETING", "TableDescription")
        with self._lock:
            self._deleting[(account, region, name)] = self.clock() + self.delay
        return answer

    def created(self, account: str, region: str, name: str) -> None:
        with self._lock:
            self._creating[(account, region, name)] = self.clock() + self.delay

    def exists(self, account: str, region: str, name: str) -> bool:
        return _table(account, region, name) is not None

    def protected(self, account: str, region: str, name: str) -> bool:
        """Deletion protection on: AWS refuses DeleteTable and the table stays ACTIVE."""
        table = _table(account, region, name)
        return table is not None and bool(table.deletion_protection_enabled)

    def _status(self, key: tuple[str, str, str]) -> str | None:
        now = self.clock()
        with self._lock:
            if self._deleting.get(key, 0) > now:
                return "DELETING"
            if self._creating.get(key, 0) > now:
                return "CREATING"
        return None

    def _admit_table_operation(self) -> None:
        now = self.clock()
        with self._lock:
            busy = sum(1 for until in [*self._creating.values(), *self._deleting.values()]
                       if until > now)
        if busy >= MAX_TABLE_OPERATIONS:
            raise AwsError("LimitExceededException",
                           f"Too many tables being created or deleted at once (limit "
                           f"{MAX_TABLE_OPERATIONS}); try again when some are ACTIVE or gone")

    def _finish_deletions(self) -> None:
        now = self.clock()
        with self._lock:
            due = [key for key, until in self._deleting.items() if until <= now]
            for key in due:
                del self._deleting[key]
                self._creating.pop(key, None)
        for account, region, name in due:
            try:
                dynamodb_backends[account][region].delete_table(name)
            except Exception:  # already gone (deleted through another path)
                continue


def _described(account: str, region: str, name: str, status: str, key: str) -> dict[str, Any]:
    table = _table(account, region, name)
    if table is None:
        raise AwsError("ResourceNotFoundException", NOT_FOUND)
    description = json.loads(json.dumps(table.describe(base_key=key), default=str))
    description[key]["TableStatus"] = status
    return dict(description)


def _table(account: str, region: str, name: str) -> Any:
    """moto's table of that name, or None."""
    try:
        return dynamodb_backends[account][region].get_table(name)
    except Exception:
        return None
