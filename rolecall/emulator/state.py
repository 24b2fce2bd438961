"""What the emulator remembers beyond moto's own backends.

moto keeps user pools, IAM roles and DynamoDB tables (its backends are global
to the process, so the emulator reads them in place). This module holds what
moto does not have: the sessions the emulator issued (so later calls signed
with them can be authorized and answered by GetCallerIdentity), the clock, and
the switched-on faults.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from rolecall.emulator.clock import Clock
from rolecall.emulator.faults import Faults
from rolecall.emulator.realism import Realism

ACCOUNT_ID = "123456789012"  # moto's default account; every emulated resource lives here


@dataclass
class Session:
    """Temporary credentials the emulator handed out for an assumed role."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    role_arn: str
    session_name: str
    expiration: float
    # Extra policies that narrow the role's permissions: the classic flow's `Policy`
    # parameter, or the guest scope-down policy (SPEC D1, E5).
    session_policies: list[dict[str, Any]] = field(default_factory=list)
    # Request-context keys known for this session, used for policy variables and
    # conditions, e.g. {"cognito-identity.amazonaws.com:sub": ["eu-west-1:..."]}.
    context: dict[str, list[str]] = field(default_factory=dict)

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def assumed_role_arn(self) -> str:
        """`arn:aws:sts::<account>:assumed-role/<role name>/<session name>` (SPEC E13)."""
        account = self.role_arn.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{self.role_name}/{self.session_name}"


class EmulatorState:
    """Everything the emulator's own services share. One per emulator."""

    def __init__(self, clock: Clock | None = None, faults: Faults | None = None,
                 realism: Realism | None = None,
                 runner_policies: list[dict[str, Any]] | None = None) -> None:
        self.clock = clock or Clock()
        self.faults = faults or Faults()
        self.realism = realism or Realism()  # AWS's operating conditions; off by default
        # Policies attached to every long-term key (None: the keys are the account's admin)
        self.runner_policies = runner_policies
        self.runner_actions: set[str] = set()  # actions the runner policy allowed (minimality test)
        self._sessions: dict[str, Session] = {}
        self._requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, service: str, operation: str) -> None:
        """Count one AWS API call (control endpoints excluded): benchmarks read it."""
        if operation and service:
            with self._lock:
                self._requests[f"{service}.{operation}"] += 1

    def request_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._requests)

    def issue_session(
        self,
        role_arn: str,
        session_name: str,
        duration_seconds: int = 3600,
        session_policies: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
    ) -> Session:
        """Mint credentials for `role_arn`; they expire `duration_seconds` from now."""
        self.realism.check_assumable(role_arn)  # a role IAM has not propagated yet is refused
        session = Session(
            access_key_id="ASIA" + secrets.token_hex(8).upper(),
            secret_access_key=secrets.token_urlsafe(30),
            session_token="IQoJ" + secrets.token_urlsafe(120),
            role_arn=role_arn,
            session_name=session_name,
            expiration=self.clock.now() + duration_seconds,
            session_policies=list(session_policies or []),
            context=dict(context or {}),
        )
        with self._lock:
            self._sessions[session.access_key_id] = session
        return session

    def find_session(self, access_key_id: str) -> Session | None:
        """The session behind an access key, or None when the key is not one the emulator issued."""
        with self._lock:
            return self._sessions.get(access_key_id)

    def is_expired(self, session: Session) -> bool:
        """Past its Expiration, on the clock of the identity pool that issued it (see Clock)."""
        if self.faults.on("session-never-expires"):
            return False
        pool = session.context.get("cognito-identity.amazonaws.com:aud", [None])[0]
        return self.clock.now(scope=pool) >= session.expiration


# The state of the emulator serving the current request. moto code that rolecall
# patches (token minting, sign-out) runs inside moto's request handling and has no
# other way to know which emulator (and so which faults and clock) it serves.
CURRENT: ContextVar[EmulatorState] = ContextVar("rolecall_emulator_state")
