"""SigV4 verification of calls signed with sessions the emulator issued.

Recomputes the signature with botocore's own signer (the code every boto3
client signs with), fed only the headers the client declared in SignedHeaders,
and compares in constant time. Nothing secret (secret key, session token,
signature) ever goes into an error message or a log line.

Error codes and texts per service, as AWS returns them:

- session token not the session's: DynamoDB (and the other awsJson services)
  `UnrecognizedClientException`, STS and IAM `InvalidClientTokenId`,
  "The security token included in the request is invalid."
- session expired: DynamoDB `ExpiredTokenException`, STS `ExpiredToken`,
  "The security token included in the request is expired"
- signature mismatch (e.g. wrong secret key): DynamoDB `InvalidSignatureException`,
  STS `SignatureDoesNotMatch`, "The request signature we calculated does not match
  the signature you provided. ..." (field: aws/aws-sdk-js#168, boto/boto3#482)
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from rolecall.emulator.errors import AwsError
from rolecall.emulator.state import EmulatorState, Session
from rolecall.emulator.wire import Call

__all__ = ["verify"]

_SIGNED_HEADERS = re.compile(r"SignedHeaders=([^,\s]+)")
_SIGNATURE = re.compile(r"Signature=([0-9a-fA-F]+)")

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you "
                 "provided. Check your AWS Secret Access Key and signing method. Consult the "
                 "service documentation for details.")


@dataclass(frozen=True)
class _Codes:
    invalid_token: str
    expired: str
    bad_signature: str
    status: int


_JSON_SERVICE = _Codes("UnrecognizedClientException", "ExpiredTokenException",
                       "InvalidSignatureException", 400)
_QUERY_SERVICE = _Codes("InvalidClientTokenId", "ExpiredToken", "SignatureDoesNotMatch", 403)
_CODES: dict[str, _Codes] = {"sts": _QUERY_SERVICE, "iam": _QUERY_SERVICE}  # others: awsJson


def verify(call: Call, session: Session, state: EmulatorState) -> None:
    """Raise AwsError unless `call` is validly signed with `session` and the session is live.

    Checked in AWS's order: the token must be the session's, the session must not
    have expired, and the signature must be the one the session's secret produces.
    """
    codes = _CODES.get(call.signing_service or "", _JSON_SERVICE)
    token = call.headers.get("X-Amz-Security-Token", "")
    if not hmac.compare_digest(token.encode(), session.session_token.encode()):
        raise AwsError(codes.invalid_token, INVALID_TOKEN, codes.status)
    if state.is_expired(session):
        raise AwsError(codes.expired, EXPIRED_TOKEN, codes.status)
    expected = _expected_signature(call, session)
    given = _SIGNATURE.search(call.headers.get("Authorization", ""))
    if expected is None or given is None or not hmac.compare_digest(
            expected.encode(), given.group(1).lower().encode()):
        raise AwsError(codes.bad_signature, BAD_SIGNATURE, codes.status)


def _expected_signature(call: Call, session: Session) -> str | None:
    """The signature the client should have sent, or None when the call cannot be checked."""
    timestamp = call.headers.get("X-Amz-Date")
    signed = _SIGNED_HEADERS.search(call.headers.get("Authorization", ""))
    if not timestamp or signed is None or call.signing_service is None:
        return None
    request = _signed_request(call, signed.group(1).split(";"))
    request.context["timestamp"] = timestamp
    signer = _CachedKeySigV4Auth(
        Credentials(session.access_key_id, session.secret_access_key, session.session_token),
        call.signing_service,
        call.region,
    )
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


@lru_cache(maxsize=1024)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived SigV4 key: four HMACs that depend only on (secret, date, region, service).

    AWS SDKs cache it the same way; every call of one session on one day reuses it.
    """
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


class _CachedKeySigV4Auth(SigV4Auth):
    """botocore's signer with the derived signing key cached (`_signing_key`)."""

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        key = _signing_key(self.credentials.secret_key, request.context["timestamp"][0:8],
                           self._region_name, self._service_name)
        return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _signed_request(call: Call, signed_headers: list[str]) -> AWSRequest:
    """The request as the client signed it: method, raw path and query, body, signed headers."""
    request = AWSRequest(method=call.method, url=_raw_url(call), data=call.body)
    for name in signed_headers:
        for value in call.headers.getlist(name):
            request.headers[name] = value  # HTTPHeaders appends: repeated headers stay repeated
    return request


def _raw_url(call: Call) -> str:
    """The URL with the path exactly as sent (percent-encoding intact), like the client's."""
    raw = call.environ.get("RAW_URI") or call.environ.get("REQUEST_URI")
    path = raw.split("?", 1)[0] if isinstance(raw, str) and raw.startswith("/") else call.path
    query = f"?{call.query_string}" if call.query_string else ""
    return f"{call.scheme}://{call.host}{path}{query}"
