"""What the suite retries, what stops it, and how long it waits: one policy for every AWS call.

- transient (retried with jittered backoff, bounded by a budget): throttling in
  each service's words, 5xx, connection trouble. botocore's own retries are off
  (CLIENT_CONFIG): its standard mode also retries LimitExceededException, a quota
  that no amount of waiting lifts.
- a quota (LimitExceeded..., too many resources): stops at once, saying which quota.
- a permission the runner lacks (AccessDenied on the runner's own calls): stops at
  once, naming the action (AWS's message does) and the shipped policy.
- propagation (IAM changes not visible yet): not decided here. Only the caller knows
  whether a refusal may be propagation (flows.py, probes.py poll until the stack's
  propagation window has passed).

A transient error still failing when the budget runs out is raised as it is; the
verdict code maps it to ERROR, never DENIED or REFUSED.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, ReadTimeoutError
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    retry_if_result,
    stop_after_delay,
    wait_exponential,
    wait_random_exponential,
)

log = logging.getLogger("rolecall.account.retry")

THROTTLING = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException",
                        "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                        "ThrottledException", "SlowDown", "InternalFailure",
                        "InternalServerError", "InternalErrorException", "ServiceUnavailable",
                        "ConcurrentModification", "ConcurrentModificationException"})
QUOTA = frozenset({"LimitExceededException", "LimitExceeded", "ServiceQuotaExceededException",
                   "UserPoolAddOnNotEnabledException"})
PERMISSION = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                        "UnrecognizedClientException", "InvalidClientTokenId"})
DEFAULT_BUDGET = 60.0  # seconds one call may spend waiting out throttling
T = TypeVar("T")


class StopError(Exception):
    """The run cannot go on until a person changes something; the message says what."""


def code_of(exc: BaseException) -> str | None:
    return str(exc.response.get("Error", {}).get("Code")) if isinstance(exc, ClientError) else None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | HTTPClientError | ReadTimeoutError):
        return True
    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code_of(exc) in THROTTLING or int(status or 0) >= 500


def retrying(budget: float = DEFAULT_BUDGET) -> Retrying:
    return Retrying(retry=retry_if_exception(is_transient), stop=stop_after_delay(budget),
                    wait=wait_random_exponential(multiplier=0.2, max=5), reraise=True,
                    before_sleep=before_sleep_log(log, logging.INFO))


def call(method: Callable[..., Any], budget: float, *args: Any, **kwargs: Any) -> Any:
    return retrying(budget)(method, *args, **kwargs)


def until_settled(settled_by: float, attempt: Callable[[], T],
                  may_be_propagating: Callable[[T], bool]) -> T:
    """`attempt` again while its answer may be IAM still propagating and the window
    (`settled_by`, epoch seconds) is open; the answer after the window is the settled one.

    Polls, never sleeps blindly: the first look is immediate, and the interval grows
    from a twentieth of the window to a quarter of it (at most 2 s), so a 0.5 s
    window on the embedded target is looked at every few tens of milliseconds and
    AWS's 30 s window every 2 s.
    """
    remaining = max(0.0, settled_by - time.time())
    retrying = Retrying(
        retry=retry_if_result(lambda answer: may_be_propagating(answer)
                              and time.time() < settled_by),
        stop=stop_after_delay(remaining + 5),
        wait=wait_exponential(multiplier=max(0.01, min(0.1, remaining / 20)),
                              max=max(0.02, min(2.0, remaining / 4))),
        retry_error_callback=lambda state: state.outcome.result()
        if state.outcome is not None else None)
    return retrying(attempt)


def explain_stop(exc: ClientError, operation: str) -> StopError | None:
    """A quota or a missing permission, worded for the person who must fix it; else None."""
    code, message = code_of(exc), exc.response.get("Error", {}).get("Message", "")
    if code in QUOTA:
        return StopError(f"{operation}: AWS quota reached ({code}: {message}); retrying cannot "
                         "help: raise the quota (Service Quotas) or remove leftovers with "
                         "`rolecall sweep --delete`")
    if code in PERMISSION:
        return StopError(f"{operation}: the runner's credentials are refused ({code}: {message}); "
                         "grant the action named there, see policies/runner-matrix.json")
    return None


class Patient:
    """A boto3 client whose API calls retry what is transient, within `budget` seconds each.

    Attribute access passes through (meta, exceptions, paginators, waiters); only
    the client's API methods are wrapped.
    """

    PASS_THROUGH = frozenset({"meta", "exceptions", "get_paginator", "get_waiter", "can_paginate",
                              "close"})

    def __init__(self, client: Any, budget: float = DEFAULT_BUDGET) -> None:
        self._client = client
        self._budget = budget

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or name in self.PASS_THROUGH or not callable(attribute):
            return attribute
        return functools.partial(call, attribute, self._budget)
