"""Permissions boundaries in moto's IAM: refuse a boundary that is not an existing managed policy.

moto 5.2.5 stores `PermissionsBoundary` (CreateRole, PutRolePermissionsBoundary, the
AWS::IAM::Role property through its CloudFormation model) and shows it in GetRole, but
only checks that the text looks like a policy ARN, and answers a malformed one with
InvalidParameterValue, a code IAM does not have. IAM refuses (SPEC B1):

- a value that is not a policy ARN: InvalidInput "ARN <value> is not valid." (the text
  IAM gives for AttachRolePolicy, field: aws-samples/aws-cdk-examples#287; assumed the
  same for a boundary: pin it);
- an ARN of no existing managed policy: NoSuchEntity "Policy <arn> does not exist or is not
  attachable." (the text AttachRolePolicy gives, which moto copies; assumed the same for a
  boundary: pin it). AWS-managed policies count when moto bundles them.

The evaluation of a boundary is `roles.boundary_policy` and `evaluation.decide`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from moto.iam.exceptions import InvalidInput, NotFoundException
from moto.iam.models import IAMBackend

from rolecall.emulator.iam.roles import managed_policy_exists

__all__ = ["check_boundary", "install"]

_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/.+$")
_lock = threading.Lock()
_installed = False


def check_boundary(account: str, arn: str | None) -> None:
    """Raise IAM's error unless `arn` (when given) names an existing managed policy."""
    if not arn:
        return
    if not _POLICY_ARN.match(arn):
        raise InvalidInput(f"ARN {arn} is not valid.")
    if not managed_policy_exists(account, arn):
        raise NotFoundException(f"Policy {arn} does not exist or is not attachable.")


def install() -> None:
    """Wrap moto's CreateRole and PutRolePermissionsBoundary (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        IAMBackend.create_role = _checked(IAMBackend.create_role, "permissions_boundary", 3)  # type: ignore[method-assign]
        IAMBackend.put_role_permissions_boundary = _checked(  # type: ignore[method-assign]
            IAMBackend.put_role_permissions_boundary, "permissions_boundary", 1)
        _installed = True


def _checked(original: Callable[..., Any], keyword: str, position: int) -> Callable[..., Any]:
    """`original` with its boundary argument (by keyword or position) checked first."""
    def method(self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
        arn = kwargs.get(keyword, args[position] if len(args) > position else None)
        check_boundary(self.account_id, arn)
        return original(self, *args, **kwargs)
    method.__name__ = original.__name__
    return method
