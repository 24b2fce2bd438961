"""The aws path's one retry policy (rolecall/account/retry.py), without a target.

Transient answers are retried within a budget and end as ERROR, never as a
refusal; quotas and missing permissions are not retried at all; a refusal that
may be IAM propagating is polled (not slept through) until the window closes.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from rolecall.account import retry
from rolecall.account.results import Errored, Issued, Refused, Trail, failure, until_settled


def client_error(code: str, status: int = 400, operation: str = "GetId") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} message"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


class Calls:
    """A fake API method: raises `error` for its first `failures` calls, then answers."""

    def __init__(self, error: ClientError, failures: int) -> None:
        self.error, self.failures, self.count = error, failures, 0

    def __call__(self) -> dict[str, str]:
        self.count += 1
        if self.count <= self.failures:
            raise self.error
        return {"IdentityId": "x"}


def test_throttling_is_retried_and_answered_once_it_lifts() -> None:
    calls = Calls(client_error("TooManyRequestsException"), failures=2)
    assert retry.call(calls, 5.0) == {"IdentityId": "x"}
    assert calls.count == 3


def test_throttling_past_the_budget_is_an_error_never_a_refusal() -> None:
    calls = Calls(client_error("Throttling"), failures=10**6)
    started = time.monotonic()
    with pytest.raises(ClientError) as raised:
        retry.call(calls, 0.3)
    assert time.monotonic() - started < 3, "the budget bounds the wait"
    assert isinstance(failure(raised.value, Trail()), Errored)


@pytest.mark.parametrize("code", ["LimitExceededException", "AccessDenied"])
def test_quotas_and_permissions_stop_at_once_saying_what_to_change(code: str) -> None:
    calls = Calls(client_error(code, operation="CreateRole"), failures=10**6)
    with pytest.raises(ClientError) as raised:
        retry.call(calls, 5.0)
    assert calls.count == 1, "waiting cannot lift a quota or grant a permission"
    stop = retry.explain_stop(raised.value, "CreateRole")
    assert stop is not None and code in str(stop) and "CreateRole" in str(stop)


def test_a_refusal_inside_the_propagation_window_is_polled_until_it_settles() -> None:
    started = time.time()
    ready = started + 0.3

    def attempt() -> Issued | Refused:
        if time.time() < ready:
            return Refused("InvalidIdentityPoolConfigurationException", "", [])
        return Issued("arn:aws:iam::123456789012:role/r", "", {}, "id", [])

    result = until_settled(started + 1.0, attempt)
    assert isinstance(result, Issued)
    assert time.time() - started < 0.6, "polled at a fraction of the window, not slept through"


def test_a_refusal_still_there_when_the_window_closes_is_the_settled_answer() -> None:
    started = time.time()
    result = until_settled(started + 0.3, lambda: Refused("AccessDenied", "", []))
    assert isinstance(result, Refused)
    assert 0.3 <= time.time() - started < 1.5


def test_other_refusals_and_closed_windows_are_not_polled() -> None:
    count = 0

    def attempt() -> Refused:
        nonlocal count
        count += 1
        return Refused("NotAuthorizedException", "", [])

    until_settled(time.time() + 5, attempt)  # not a propagation answer
    until_settled(time.time() - 1, lambda: Refused("AccessDenied", "", []))  # window closed
    assert count == 1
