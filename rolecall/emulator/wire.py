"""One incoming HTTP call, as the emulator's services see it.

The server reads the body once and hands every service the same `Call`, so a
service can inspect the request (target, signing key, JSON or form body) and
the server can still pass it on, unchanged, to moto. Services read their
arguments only through it (`Call.json()` for awsJson, `Call.form` for awsQuery),
and word a rejected argument with `invalid_member`, the text AWS's request
validation uses whatever the protocol.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs

from werkzeug.datastructures import Headers

from rolecall.emulator.errors import AwsError

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


@dataclass
class Call:
    method: str
    scheme: str
    host: str
    path: str
    query_string: str
    headers: Headers
    body: bytes
    environ: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def url(self) -> str:
        """The URL the client signed."""
        query = f"?{self.query_string}" if self.query_string else ""
        return f"{self.scheme}://{self.host}{self.path}{query}"

    @property
    def target(self) -> str:
        """`X-Amz-Target` (awsJson protocols), e.g. `DynamoDB_20120810.GetItem`; '' when absent."""
        return self.headers.get("X-Amz-Target", "")

    @property
    def operation(self) -> str:
        """The API operation: the part of the target after the dot, or the query `Action`."""
        if self.target:
            return self.target.rsplit(".", 1)[-1]
        return self.form.get("Action", "")

    @cached_property
    def _credential_scope(self) -> tuple[str, str, str, str] | None:
        match = _CREDENTIAL.search(self.headers.get("Authorization", ""))
        if not match:
            return None
        access_key, date, region, service = match.groups()
        return access_key, date, region, service

    @property
    def access_key_id(self) -> str | None:
        """The access key the call was signed with (None for unsigned calls)."""
        scope = self._credential_scope
        return scope[0] if scope else None

    @property
    def region(self) -> str:
        scope = self._credential_scope
        return scope[2] if scope else "us-east-1"

    @property
    def signing_service(self) -> str | None:
        scope = self._credential_scope
        return scope[3] if scope else None

    @cached_property
    def form(self) -> dict[str, str]:
        """awsQuery parameters (STS): the URL query plus a form-encoded body."""
        params = parse_qs(self.query_string, keep_blank_values=True)
        if self.body and "json" not in self.headers.get("Content-Type", ""):
            with contextlib.suppress(UnicodeDecodeError):
                params.update(parse_qs(self.body.decode(), keep_blank_values=True))
        return {key: values[-1] for key, values in params.items()}

    def json(self) -> dict[str, Any]:
        """The awsJson body; an AWS-shaped SerializationException when it is not a JSON object."""
        try:
            data = json.loads(self.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise AwsError("SerializationException", f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise AwsError("SerializationException", "The request body must be a JSON object")
        return data


def invalid_member(member: str, constraint: str, *, value: str | None = None,
                   null: bool = False) -> str:
    """AWS's validation text for one request member that breaks a constraint of the API model.

    e.g. "1 validation error detected: Value null at 'roleArn' failed to satisfy
    constraint: Member must not be null". The value is shown when given, "null"
    for a missing member; each service wraps the text in its own error code.
    """
    shown = "null " if null else f"'{value}' " if value is not None else ""
    return (f"1 validation error detected: Value {shown}at '{member}' failed to satisfy "
            f"constraint: {constraint}")
