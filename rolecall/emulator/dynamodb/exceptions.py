"""DynamoDB's errors that the emulator answers itself, before moto sees the call (SPEC D4).

Everything else (unknown tables, validation of the data-plane request) is
moto's answer, as AWS's would be after authorization.
"""

from __future__ import annotations

from rolecall.emulator.errors import AwsError
from rolecall.emulator.sigv4 import INVALID_TOKEN


def access_denied(message: str) -> AwsError:
    """D4: HTTP 400 AccessDeniedException; the text comes from `authorize.denial_message`."""
    return AwsError("AccessDeniedException", message, 400)


def unrecognized_client() -> AwsError:
    """A temporary key this endpoint never issued (or no longer knows)."""
    return AwsError("UnrecognizedClientException", INVALID_TOKEN)
