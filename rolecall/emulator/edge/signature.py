"""The form of a SigV4 Authorization header, and which headers its signature must cover.

Admin calls are signed with keys of any value (the emulator has no secret to
check them against), and sessions the emulator issued are verified in full by
`rolecall.emulator.sigv4`. What both must meet, as AWS's front end demands
before any signature is computed:

- the header parses: `AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request,
  SignedHeaders=<a;b;c>, Signature=<64 hex>`, and there is an X-Amz-Date (or Date);
- SignedHeaders covers `host`, the date header, and every `x-amz-*` header sent
  (botocore and the other SDKs sign them all): a header AWS requires to be
  signed that was added or left out of the signature is refused, so a session
  signature cannot be replayed with a different target, token or date;
- the credential scope's date is the X-Amz-Date's day.

Hand-written: botocore only signs, it has no verifier of a header's form.
Sources: docs/semantics.md, "Malformed requests".
"""

from __future__ import annotations

import re

from rolecall.emulator.edge.services import Service
from rolecall.emulator.errors import AwsError
from rolecall.emulator.wire import Call

ALGORITHM = "AWS4-HMAC-SHA256"
_SCOPE = re.compile(r"^[^/\s]+/(\d{8})/[^/\s]+/[^/\s]+/aws4_request$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
# Headers that a client may send unsigned although they start with x-amz-: none for
# the five services; botocore leaves out only user-agent, expect, transfer-encoding
# and x-amzn-trace-id (note the n), none of which AWS requires to be signed.
_UNSIGNED_OK: frozenset[str] = frozenset()


def check(call: Call, svc: Service, needs_signature: bool) -> None:
    """Raise AwsError unless the call's Authorization header is a complete, binding SigV4 header.

    An operation that needs a signature (botocore: any `authtype` but "none") and
    has none is refused like AWS does, before its body is read (the authorization
    step refuses it too, but after the edge has checked the shape); moto would
    otherwise hand it to whatever service it guesses (an unsigned DynamoDB call
    came back as S3's bucket list).
    """
    header = call.headers.get("Authorization")
    if _presigned(call):
        return
    if header is None:
        if needs_signature:
            raise AwsError(svc.codes.missing_authentication, "Request is missing Authentication Token",
                           svc.codes.missing_authentication_status)
        return
    parts = _parse(header)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in parts]
    date = call.headers.get("X-Amz-Date") or call.headers.get("Date")
    if not header.startswith(ALGORITHM + " ") or missing or not date:
        raise AwsError(svc.codes.incomplete_signature, _incomplete_text(header, missing, date))
    scope = _SCOPE.match(parts["Credential"])
    if scope is None or not _SIGNATURE.match(parts["Signature"]):
        raise AwsError(svc.codes.incomplete_signature,
                       "Authorization header has a malformed 'Credential' or 'Signature' parameter.")
    _check_binding(call, svc, parts["SignedHeaders"].lower().split(";"), scope.group(1))


def _check_binding(call: Call, svc: Service, signed: list[str], scope_date: str) -> None:
    """The signed headers must cover what AWS requires; the scope must match the date."""
    if "host" not in signed:
        raise AwsError(svc.codes.incomplete_signature,
                       "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    amz_date = call.headers.get("X-Amz-Date")
    if amz_date is not None:
        if not _AMZ_DATE.match(amz_date):
            raise AwsError(svc.codes.incomplete_signature,
                           "X-Amz-Date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z'.")
        if amz_date[:8] != scope_date:
            raise AwsError(svc.codes.bad_signature,
                           "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                           "version of date from HTTP", svc.codes.bad_signature_status)
    elif "date" not in signed:
        raise AwsError(svc.codes.incomplete_signature,
                       "'Date' must be a 'SignedHeader' in the AWS Authorization.")
    unsigned = sorted(name.lower() for name, _ in call.headers.items()
                      if name.lower().startswith("x-amz-") and name.lower() not in signed
                      and name.lower() not in _UNSIGNED_OK)
    if unsigned:
        raise AwsError(svc.codes.bad_signature,
                       "There were headers present in the request which were not signed: "
                       + ", ".join(unsigned), svc.codes.bad_signature_status)


def _parse(header: str) -> dict[str, str]:
    """`Credential=..., SignedHeaders=..., Signature=...` as a dict (empty values dropped)."""
    _, _, rest = header.partition(" ")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if sep and value:
            parts[name] = value
    return parts


def _incomplete_text(header: str, missing: list[str], date: str | None) -> str:
    """AWS's IncompleteSignature text, without echoing the header (it holds a signature)."""
    if not header.startswith(ALGORITHM + " "):
        return f"Authorization header must use the '{ALGORITHM}' algorithm."
    text = " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
    if not date:
        text += " Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    return text.strip()


def _presigned(call: Call) -> bool:
    """SigV4 in the query string (a presigned URL) carries no Authorization header to check."""
    return "X-Amz-Signature=" in call.query_string
