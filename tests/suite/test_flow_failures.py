"""Throttling and server errors on a credential path are ERROR, never REFUSED, and are not
cached (SPEC section 7): the next cell that needs the credential tries again."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rolecall.account import flows, results
from rolecall.account.flows import Flows
from rolecall.account.results import Errored, Refused


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"},
                        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "r-1"}},
                       "GetCredentialsForIdentity")


@pytest.mark.parametrize("code", sorted(results.THROTTLING_CODES))
def test_throttling_is_an_error_not_a_refusal(code: str) -> None:
    assert isinstance(flows.failure(_client_error(code, 400), flows.Trail()), Errored)


def test_a_server_error_is_an_error_not_a_refusal() -> None:
    assert isinstance(flows.failure(_client_error("InternalErrorException", 500),
                                     flows.Trail()), Errored)


def test_a_4xx_refusal_stays_a_refusal_with_its_code() -> None:
    result = flows.failure(_client_error("NotAuthorizedException", 400), flows.Trail())
    assert isinstance(result, Refused) and result.code == "NotAuthorizedException"


def test_an_errored_result_is_not_cached_but_a_refusal_is() -> None:
    holder: Any = Flows.__new__(Flows)
    holder._results, holder._lock = {}, __import__("threading").Lock()
    holder.stack = SimpleNamespace(iam_settled_by=0.0)  # IAM already settled: one attempt each
    answers = iter([Errored("ThrottlingException", []), Refused("X", "", []),
                    Refused("Y", "", [])])
    first = holder._cached(("k",), lambda: next(answers))
    second = holder._cached(("k",), lambda: next(answers))
    third = holder._cached(("k",), lambda: next(answers))
    assert isinstance(first, Errored)
    assert isinstance(second, Refused) and second.code == "X"
    assert third is second
