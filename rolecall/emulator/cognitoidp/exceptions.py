"""cognito-idp's errors that rolecall's patches of moto raise.

The one so far refuses an attribute write the app client's WriteAttributes do
not allow: without it a rule keyed on a user-writable attribute would be an
escalation path moto lets through (see `patch.py`). These run inside moto's
request handling, so they are moto's own exception types, which moto renders
as AWS does, not `AwsError`.
"""

from __future__ import annotations

from moto.cognitoidp.exceptions import NotAuthorizedError

# field: aws/aws-sdk-js#1319 (UpdateUserAttributes beyond the app client's WriteAttributes)
UNAUTHORIZED_ATTRIBUTE = "A client attempted to write unauthorized attribute"


def unauthorized_attribute() -> NotAuthorizedError:
    return NotAuthorizedError(UNAUTHORIZED_ATTRIBUTE)
