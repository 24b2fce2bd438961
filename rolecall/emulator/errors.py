"""AWS-shaped errors: one exception type, rendered per wire protocol.

Every refusal the emulator makes is an `AwsError`; the server renders it as the
protocol of the service that was called (JSON `__type`/`message` for
cognito-identity and DynamoDB, XML `ErrorResponse` for STS), so clients such as
botocore parse the same error code they would get from AWS.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape


class AwsError(Exception):
    """An error AWS would return: HTTP status, error code and message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def json_body(error: AwsError) -> bytes:
    """Body of an awsJson error (cognito-identity, DynamoDB, cognito-idp)."""
    return json.dumps({"__type": error.code, "message": error.message}).encode()


def query_body(error: AwsError) -> bytes:
    """Body of an awsQuery error (STS)."""
    kind = "Sender" if error.status < 500 else "Receiver"
    return (
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        f"<Error><Type>{kind}</Type><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    ).encode()
