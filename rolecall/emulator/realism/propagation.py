"""IAM's eventual consistency: a change to a role takes effect `delay` seconds after it is made.

AWS: "Changes that you make in IAM ... take time to become visible ... we recommend
that you do not include IAM changes in the critical, high-availability code paths"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
What a client sees in that window, as the services answer it:

- a role created (or whose trust policy changed) moments ago cannot be assumed yet:
  GetCredentialsForIdentity answers InvalidIdentityPoolConfigurationException (SPEC
  E11's text), STS AssumeRoleWithWebIdentity AccessDenied (SPEC C6);
- a role whose permissions changed moments ago still acts on the old ones: for
  roles rolecall just made that is "none", so a session's calls are AccessDenied
  in its service's words (SPEC D4).

Changes are seen as the IAM calls arrive (before moto serves them); a refused
call changes nothing in moto, and records nothing meaningful either way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

TRUST_CHANGES = frozenset({"CreateRole", "UpdateAssumeRolePolicy"})
POLICY_CHANGES = frozenset({"CreateRole", "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy",
                            "DetachRolePolicy"})


class Propagation:
    """When each role's trust and permissions become effective."""

    def __init__(self, delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.delay = delay
        self.clock = clock
        self._trust: dict[str, float] = {}
        self._policy: dict[str, float] = {}
        self._lock = threading.Lock()

    def saw(self, operation: str, params: Mapping[str, str]) -> None:
        """An IAM call arrived: note when what it changes takes effect."""
        role = params.get("RoleName")
        if not role:
            return
        effective = self.clock() + self.delay
        with self._lock:
            if operation in TRUST_CHANGES:
                self._trust[role] = effective
            if operation in POLICY_CHANGES:
                self._policy[role] = effective

    def assumable(self, role_arn: str) -> bool:
        return self._effective(self._trust, role_arn)

    def permissions_effective(self, role_arn: str) -> bool:
        return self._effective(self._policy, role_arn)

    def _effective(self, table: dict[str, float], role_arn: str) -> bool:
        role = role_arn.rsplit("/", 1)[-1]
        with self._lock:
            effective = table.get(role)
        return effective is None or self.clock() >= effective
