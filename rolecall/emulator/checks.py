"""One permission check: what AWS evaluates for (part of) a call.

Shared by every service's rules (rolecall/emulator/iam/actions.py) and the
DynamoDB per-item checks, so the authorization step evaluates and words every
refusal the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    """An IAM action on a resource ARN, in a request context.

    `shown` is how the service names the resource in its AccessDenied text when
    that is not the ARN: IAM says "on resource: role R" for an existing role.
    """

    action: str
    resource: str
    context: dict[str, list[str]] = field(default_factory=dict)
    shown: str | None = None

    @property
    def resource_text(self) -> str:
        return self.shown or self.resource
