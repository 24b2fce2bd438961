"""The edge, case by case: named errors for the mistakes issue 15 found, and AWS's size limits.

The corpus (test_malformed_corpus.py) proves no mistake gets a 5xx; these tests
pin which error each named mistake gets, and that a real client's request
still passes.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rolecall.emulator import Emulator
from tests.emulator import corpus
from tests.emulator.conftest import ClientFactory
from tests.emulator.stack import ADMIN_KEYS, REGION

UNCHECKED = Config(parameter_validation=False)  # the client sends what it is given


@pytest.fixture(scope="module")
def table(admin: ClientFactory) -> str:
    name = f"edge-{uuid.uuid4().hex[:8]}"
    admin("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    return name


@pytest.fixture(scope="module")
def session_keys(emulator: Emulator, admin: ClientFactory) -> corpus.Keys:
    """Keys of an issued session whose role may do anything on DynamoDB."""
    name = f"edge-{uuid.uuid4().hex[:8]}"
    arn = admin("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    admin("iam").put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*",
                                                 "Resource": "*"}]}))
    session = emulator.state.issue_session(arn, "edge")
    return corpus.Keys(session.access_key_id, session.secret_access_key, session.session_token)


def code_of(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


def send(emulator: Emulator, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """POST exactly these headers and body (no client in between to fix them)."""
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(emulator.endpoint).netloc, timeout=10)
    connection.request("POST", "/", body=body, headers=headers)
    response = connection.getresponse()
    status, text = response.status, response.read()
    connection.close()
    return status, text


def raw(emulator: Emulator, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    status, text = send(emulator, headers, body)
    return status, json.loads(text)


def signed_get_item(emulator: Emulator, keys: corpus.Keys, table: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"TableName": table, "Key": {"pk": {"S": "a"}}}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.GetItem"}
    world = corpus.World(urllib.parse.urlsplit(emulator.endpoint).netloc, keys, keys)
    return corpus.sign(world, "dynamodb", keys, headers, body), body


# ---------------------------------------------------------------------------
# Named errors for malformed requests
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(("target", "body", "code"), [
    ("DynamoDB_20120810.PutItem", b"{}", "ValidationException"),
    ("DynamoDB_20120810.PutItem", b'{"TableName": 5, "Item": {}}', "SerializationException"),
    ("DynamoDB_20120810.GetItem", b"null", "SerializationException"),
    ("DynamoDB_20120810.GetItem", b"not json", "SerializationException"),
    ("DynamoDB_20120810.GetItem", b'{"Key": ' + b"[" * 5000 + b"]" * 5000 + b"}", "SerializationException"),
    ("DynamoDB_20120810.Teleport", b"{}", "UnknownOperationException"),
    ("dynamodb_20120810.getitem", b"{}", "UnknownOperationException"),
], ids=["empty-put", "wrong-type", "null-body", "non-json", "deep-nesting", "unknown-target",
        "lower-cased-target"])
def test_malformed_dynamodb_calls_get_named_4xx(emulator: Emulator, session_keys: corpus.Keys,
                                                target: str, body: bytes, code: str) -> None:
    for keys in (corpus.Keys(**_keys(ADMIN_KEYS)), session_keys):  # admin and session alike
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
        world = corpus.World(urllib.parse.urlsplit(emulator.endpoint).netloc, keys, keys)
        status, answer = raw(emulator, corpus.sign(world, "dynamodb", keys, headers, body), body)
        assert (status, answer["__type"]) == (400, code)


def _keys(keys: dict[str, str]) -> dict[str, str]:
    return {"access_key": keys["aws_access_key_id"], "secret_key": keys["aws_secret_access_key"]}


@pytest.mark.parametrize(("params", "code"), [
    ({"Action": "Teleport", "Version": "2010-05-08"}, "InvalidAction"),
    ({"Action": "ListRoles", "Version": "2099-01-01"}, "InvalidAction"),
    ({"Action": "GetRole", "Version": "2010-05-08"}, "ValidationError"),
    ({"Action": "ListRoles", "Version": "2010-05-08", "MaxItems": "many"}, "ValidationError"),
], ids=["unknown-action", "unknown-version", "missing-role-name", "wrong-type"])
def test_malformed_iam_query_calls_get_an_xml_4xx(emulator: Emulator, params: dict[str, str],
                                                  code: str) -> None:
    keys = corpus.Keys(**_keys(ADMIN_KEYS))
    world = corpus.World(urllib.parse.urlsplit(emulator.endpoint).netloc, keys, keys)
    body = urllib.parse.urlencode(params).encode()
    headers = corpus.sign(world, "iam", keys, {"Content-Type": "application/x-www-form-urlencoded"}, body)
    status, text = send(emulator, headers, body)
    assert 400 <= status < 500
    assert b"<ErrorResponse" in text and f"<Code>{code}</Code>".encode() in text


@pytest.mark.parametrize("authorization", ["garbage", "AWS4-HMAC-SHA256 Credential=x",
                                           "AWS4-HMAC-SHA256 Credential=A/2020/r/s/aws4_request, "
                                           "SignedHeaders=host, Signature=zz"])
def test_a_garbage_authorization_header_is_an_incomplete_signature(
        emulator: Emulator, table: str, authorization: str) -> None:
    headers, body = signed_get_item(emulator, corpus.Keys(**_keys(ADMIN_KEYS)), table)
    headers["Authorization"] = authorization
    status, answer = raw(emulator, headers, body)
    assert (status, answer["__type"]) == (400, "IncompleteSignatureException")


def test_an_unsigned_dynamodb_call_is_missing_its_token(emulator: Emulator, table: str) -> None:
    body = json.dumps({"TableName": table, "Key": {"pk": {"S": "a"}}}).encode()
    status, answer = raw(emulator, {"Content-Type": "application/x-amz-json-1.0",
                                    "X-Amz-Target": "DynamoDB_20120810.GetItem"}, body)
    assert (status, answer["__type"]) == (400, "MissingAuthenticationTokenException")


# ---------------------------------------------------------------------------
# SigV4 binds what AWS requires to be signed
# ---------------------------------------------------------------------------

def test_a_header_added_after_signing_is_refused(emulator: Emulator, session_keys: corpus.Keys,
                                                 table: str) -> None:
    headers, body = signed_get_item(emulator, session_keys, table)
    assert raw(emulator, headers, body)[0] == 200  # as signed: served
    status, answer = raw(emulator, {**headers, "X-Amz-Copy-Source": "elsewhere"}, body)
    assert (status, answer["__type"]) == (400, "InvalidSignatureException")


def test_a_signed_header_changed_after_signing_is_refused(emulator: Emulator, session_keys: corpus.Keys,
                                                          table: str) -> None:
    headers, body = signed_get_item(emulator, session_keys, table)
    headers["X-Amz-Target"] = "DynamoDB_20120810.DeleteItem"
    status, answer = raw(emulator, headers, body)
    assert (status, answer["__type"]) == (400, "InvalidSignatureException")


def test_a_signature_that_does_not_cover_host_is_incomplete(emulator: Emulator, table: str) -> None:
    headers, body = signed_get_item(emulator, corpus.Keys(**_keys(ADMIN_KEYS)), table)
    headers["Authorization"] = headers["Authorization"].replace("host;", "")
    status, answer = raw(emulator, headers, body)
    assert (status, answer["__type"]) == (400, "IncompleteSignatureException")
    assert "Host" in answer["message"]


# ---------------------------------------------------------------------------
# AWS's documented size limits
# ---------------------------------------------------------------------------

def test_a_session_policy_over_2048_characters_is_refused(emulator: Emulator) -> None:
    sts = boto3.client("sts", endpoint_url=emulator.endpoint, region_name=REGION, config=UNCHECKED,
                       aws_access_key_id="x", aws_secret_access_key="x")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*", "Sid": "s" * 1_000_000}]})
    assert code_of(lambda: sts.assume_role_with_web_identity(
        RoleArn="arn:aws:iam::123456789012:role/x", RoleSessionName="s", WebIdentityToken="t.t.t",
        Policy=policy)) == "ValidationError"


def _items(count: int, size: int = 1) -> list[dict[str, Any]]:
    return [{"pk": {"S": f"k{index}"}, "data": {"S": "x" * size}} for index in range(count)]


def _keys_of(count: int) -> list[dict[str, Any]]:
    return [{"pk": {"S": f"k{index}"}} for index in range(count)]


def _puts(count: int) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": item}} for item in _items(count)]


BIG_ITEM = _items(1, 400 * 1024)[0]


@pytest.mark.parametrize(("operation", "kwargs"), [
    ("batch_get_item", lambda t, u: {"RequestItems": {}}),
    ("batch_get_item", lambda t, u: {"RequestItems": {t: {"Keys": _keys_of(60)}, u: {"Keys": _keys_of(41)}}}),
    ("batch_write_item", lambda t, u: {"RequestItems": {}}),
    ("batch_write_item", lambda t, u: {"RequestItems": {t: _puts(13), u: _puts(13)}}),
    ("transact_write_items", lambda t, u: {"TransactItems": []}),
    ("transact_write_items", lambda t, u: {"TransactItems": [{"Put": {"TableName": t, "Item": i}}
                                                             for i in _items(101)]}),
    ("transact_get_items", lambda t, u: {"TransactItems": [{"Get": {"TableName": t, "Key": k}}
                                                           for k in _keys_of(101)]}),
    ("put_item", lambda t, u: {"TableName": t, "Item": BIG_ITEM}),
    ("transact_write_items", lambda t, u: {"TransactItems": [{"Put": {"TableName": t, "Item": BIG_ITEM}}]}),
], ids=["batch-get-empty", "batch-get-101-keys", "batch-write-empty", "batch-write-26",
        "transact-write-empty", "transact-write-101", "transact-get-101", "item-over-400kb",
        "transact-item-over-400kb"])
def test_dynamodb_limits(admin: ClientFactory, table: str, operation: str, kwargs: Any) -> None:
    other = f"{table}-b"
    db = admin("dynamodb", config=UNCHECKED)
    assert code_of(lambda: getattr(db, operation)(**kwargs(table, other))) == "ValidationException"


def test_limits_are_limits_not_lower(admin: ClientFactory, table: str) -> None:
    db = admin("dynamodb")
    db.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item}}
                                           for item in _items(100)])
    db.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}} for item in _items(25)]})
    keys = [{"pk": {"S": f"k{index}"}} for index in range(100)]
    assert len(db.batch_get_item(RequestItems={table: {"Keys": keys}})["Responses"][table]) == 100
    db.put_item(TableName=table, Item=_items(1, 390 * 1024)[0])
