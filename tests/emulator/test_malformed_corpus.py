"""No client mistake gets a 5xx: thousands of malformed requests, generated from botocore's models.

Each request (see corpus.py) goes over real HTTP to a running emulator. Its
answer must be a 4xx in the called service's error shape (awsJson: a JSON body
with `__type` and a message, and the x-amzn-ErrorType header; awsQuery: an XML
ErrorResponse with a Code), or, for a request a client could send in good
faith, a well-formed 2xx. Afterwards the endpoint still serves correct calls.
The seed is fixed (derandomize), so a failure names the same request each run.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
import uuid
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from rolecall.emulator import Emulator
from tests.emulator import corpus
from tests.emulator.conftest import ClientFactory
from tests.emulator.stack import ADMIN_KEYS

EXAMPLES = 520  # drawn inputs, each sent corpus.VARIANTS (10) ways: 5,200 requests


@pytest.fixture(scope="module")
def world(emulator: Emulator, admin: ClientFactory) -> corpus.World:
    """A table, a role whose session may use DynamoDB, and the keys to sign with."""
    suffix = uuid.uuid4().hex[:8]
    table = f"corpus-{suffix}"
    admin("dynamodb").create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    role = admin("iam").create_role(RoleName=f"corpus-{suffix}", AssumeRolePolicyDocument="{}")["Role"]
    admin("iam").put_role_policy(RoleName=role["RoleName"], PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    user_pool = admin("cognito-idp").create_user_pool(PoolName=f"corpus-{suffix}")["UserPool"]["Id"]
    session = emulator.state.issue_session(role["Arn"], "corpus")
    return corpus.World(
        host=urllib.parse.urlsplit(emulator.endpoint).netloc,
        admin=corpus.Keys(ADMIN_KEYS["aws_access_key_id"], ADMIN_KEYS["aws_secret_access_key"]),
        session=corpus.Keys(session.access_key_id, session.secret_access_key, session.session_token),
        names={"TableName": table, "RoleName": role["RoleName"], "UserPoolId": user_pool},
    )


class Endpoint:
    """One keep-alive HTTP connection to the emulator (a new one if the server closed it)."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.connection = self.connect()

    def connect(self) -> http.client.HTTPConnection:
        """Without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms to some round trips."""
        connection = http.client.HTTPConnection(self.host, timeout=30)
        connection.connect()
        assert connection.sock is not None
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def send(self, request: corpus.Wire) -> tuple[int, dict[str, str], bytes]:
        for attempt in (1, 2):
            try:
                self.connection.request("POST", "/", body=request.body, headers=request.headers)
                response = self.connection.getresponse()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = self.connect()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def shape_problem(request: corpus.Wire, status: int, headers: dict[str, str], body: bytes) -> str | None:
    """What is wrong with the answer to `request`, or None when AWS could have given it."""
    if status >= 500 or status < 200 or 300 <= status < 400:
        return f"status {status}"
    if status < 300:
        return "a flawed request was accepted" if request.must_fail else _success_problem(request, body)
    if request.protocol == "json":
        answer: Any = _json(body)
        if not isinstance(answer, dict) or not answer.get("__type"):
            return "a JSON error without __type"
        if not ({"message", "Message"} & answer.keys()) or not headers.get("x-amzn-errortype"):
            return "a JSON error without a message or x-amzn-ErrorType"
        return None
    return None if b"<ErrorResponse" in body and b"<Code>" in body else "not an XML ErrorResponse"


def _success_problem(request: corpus.Wire, body: bytes) -> str | None:
    if request.protocol == "json":
        return None if isinstance(_json(body or b"{}"), dict) else "a 2xx that is not a JSON object"
    return None if f"<{request.operation}Response".encode() in body else "a 2xx that is not the XML result"


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def test_no_malformed_request_gets_a_5xx(world: corpus.World, emulator: Emulator,
                                         admin: ClientFactory) -> None:
    endpoint = Endpoint(world.host)
    statuses: Counter[int] = Counter()
    wrong: list[str] = []

    @settings(derandomize=True, max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(batch=corpus.requests(world))
    def send(batch: list[corpus.Wire]) -> None:
        for request in batch:
            status, headers, body = endpoint.send(request)
            statuses[status] += 1
            problem = shape_problem(request, status, headers, body)
            if problem and len(wrong) < 20:
                wrong.append(f"{request.service}.{request.operation} flaw={request.flaw} "
                             f"signer={request.signer}: {problem}: {body[:300]!r}")

    send()
    assert not wrong, "\n".join(wrong)
    assert sum(statuses.values()) >= 5000
    # the endpoint still serves correct requests (the corpus may have deleted its own table)
    assert admin("sts").get_caller_identity()["Account"] == "123456789012"
    assert "TableNames" in admin("dynamodb").list_tables()
