"""STS on the wire: awsQuery parameters in, the XML documents botocore parses out.

The response shapes follow botocore's STS service model (2011-06-15):
`<Action>Response/<Action>Result/...` plus `ResponseMetadata/RequestId`, with
Expiration as an ISO 8601 timestamp.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from rolecall.emulator.state import EmulatorState, Session
from rolecall.emulator.sts import models
from rolecall.emulator.sts.exceptions import invalid_action, invalid_client_token_id, validation_error
from rolecall.emulator.wire import Call, invalid_member

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


def handle(state: EmulatorState, call: Call) -> bytes:
    """Serve AssumeRoleWithWebIdentity, or GetCallerIdentity for an emulator-issued session."""
    if call.operation == "AssumeRoleWithWebIdentity":
        return assume_role_with_web_identity(state, call)
    if call.operation == "GetCallerIdentity":
        return get_caller_identity(state, call)
    raise invalid_action(call.operation)


def _required(call: Call, name: str) -> str:
    value = call.form.get(name)
    if not value:
        raise validation_error(
            invalid_member(f"{name[0].lower()}{name[1:]}", "Member must not be null", null=True))
    return value


def _duration(call: Call) -> int | None:
    """DurationSeconds, already checked against STS's own range, 900..43200 (C8), by the edge
    (rolecall/emulator/edge: the model's min and max, in AWS's validation wording, with the
    value quoted as STS quotes it). botocore checks the minimum on the client side, never the
    maximum (boto/botocore #3337): only a client that sends what it is given reaches it."""
    raw = call.form.get("DurationSeconds")
    return None if raw is None else int(raw)


def assume_role_with_web_identity(state: EmulatorState, call: Call) -> bytes:
    role_arn = _required(call, "RoleArn")
    session_name = _required(call, "RoleSessionName")
    token = _required(call, "WebIdentityToken")
    if not _SESSION_NAME.match(session_name):
        raise validation_error(invalid_member(
            "roleSessionName",
            "Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length "
            "between 2 and 64"))
    session, identity, role_id = models.assume_role_with_web_identity(
        state, role_arn, session_name, token, call.form.get("Policy"), _duration(call)
    )
    result = (
        _credentials(session)
        + _element("SubjectFromWebIdentityToken", identity.subject)
        + "<AssumedRoleUser>"
        + _element("AssumedRoleId", f"{role_id}:{session.session_name}")
        + _element("Arn", session.assumed_role_arn)
        + "</AssumedRoleUser>"
        + _element("Provider", identity.provider)
        + _element("Audience", identity.audience)
    )
    return _document("AssumeRoleWithWebIdentity", result)


def get_caller_identity(state: EmulatorState, call: Call) -> bytes:
    session = state.find_session(call.access_key_id or "")
    if session is None:  # the server only routes issued sessions here
        raise invalid_client_token_id()
    caller = models.get_caller_identity(state, session)
    result = (_element("UserId", caller.user_id) + _element("Account", caller.account)
              + _element("Arn", caller.arn))
    return _document("GetCallerIdentity", result)


def _credentials(session: Session) -> str:
    expiration = datetime.fromtimestamp(session.expiration, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "<Credentials>"
        + _element("AccessKeyId", session.access_key_id)
        + _element("SecretAccessKey", session.secret_access_key)
        + _element("SessionToken", session.session_token)
        + _element("Expiration", expiration)
        + "</Credentials>"
    )


def _element(name: str, text: str) -> str:
    return f"<{name}>{escape(text)}</{name}>"


def _document(action: str, result: str) -> bytes:
    return (
        f'<{action}Response xmlns="{NAMESPACE}">'
        f"<{action}Result>{result}</{action}Result>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    ).encode()
