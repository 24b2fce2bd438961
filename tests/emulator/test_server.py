"""The endpoint itself: unknown temporary keys, request counting, bad requests."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from rolecall.emulator import Emulator

REGION = "eu-west-1"


def client(endpoint: str, service: str, **keys: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **keys)


FOREIGN_TEMPORARY = {"aws_access_key_id": "ASIAFOREIGNFOREIGN00", "aws_secret_access_key": "s",
                     "aws_session_token": "t"}


@pytest.mark.parametrize(("service", "call", "code"), [
    ("dynamodb", lambda c: c.list_tables(), "UnrecognizedClientException"),
    ("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId"),
], ids=["dynamodb", "sts"])
def test_a_temporary_key_this_endpoint_never_issued_is_not_admin(
        emulator: Emulator, service: str, call: Any, code: str) -> None:
    with pytest.raises(ClientError) as refused:
        call(client(emulator.endpoint, service, **FOREIGN_TEMPORARY))
    assert refused.value.response["Error"]["Code"] == code


def test_a_long_term_key_of_any_value_is_the_admin(emulator: Emulator) -> None:
    keys = {"aws_access_key_id": "AKIAANYTHINGATALL000", "aws_secret_access_key": "whatever"}
    assert "TableNames" in client(emulator.endpoint, "dynamodb", **keys).list_tables()


def test_the_endpoint_counts_the_calls_it_serves() -> None:
    with Emulator(port=0) as emulator:
        keys = {"aws_access_key_id": "AKIAANYTHINGATALL000", "aws_secret_access_key": "x"}
        db = client(emulator.endpoint, "dynamodb", **keys)
        db.list_tables()
        db.list_tables()
        with urllib.request.urlopen(f"{emulator.endpoint}/_rolecall/stats") as response:
            counts = json.loads(response.read())["requests"]
    assert counts == {"dynamodb.ListTables": 2}


@pytest.mark.parametrize(("target", "body", "code"), [
    ("AWSCognitoIdentityService.GetId", b"{not json", "SerializationException"),
    ("AWSCognitoIdentityService.Teleport", b"{}", None),
    ("AWSCognitoIdentityService.GetId", b'{"IdentityPoolId": 7}', "InvalidParameterException"),
], ids=["malformed-json", "unknown-operation", "wrong-type"])
def test_bad_requests_get_aws_shaped_4xx(emulator: Emulator, target: str, body: bytes,
                                         code: str | None) -> None:
    request = urllib.request.Request(emulator.endpoint, body, {
        "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}, method="POST")
    try:
        urllib.request.urlopen(request)
        raise AssertionError("a bad request was accepted")
    except urllib.error.HTTPError as error:
        assert 400 <= error.code < 500
        answer = json.loads(error.read())
        assert answer["__type"] == code or (code is None and answer["__type"])
        assert answer.get("message")
