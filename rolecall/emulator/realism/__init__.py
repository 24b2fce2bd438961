"""AWS's operating conditions, opt-in: `rolecall emulator --realism aws` (or pytest `--realism aws`).

Separate from the faults (rolecall/emulator/faults.py): a fault is a lie about
AWS's rules; realism is AWS's weather, which a correct client must survive.
Each part can be switched on alone (`--realism propagation,tables`):

- propagation: IAM changes take effect `propagation_seconds` later (propagation.py)
- throttling:  token buckets at AWS's documented per-operation quotas (throttle.py, quotas.py)
- tables:      CREATING before ACTIVE, DELETING before gone (tables.py)
- latency:     per-service latency from a documented model (latency.py; not part of `aws`)

`scale` shortens every delay (same order of events, shorter waits) so CI can run
it; `aws` at scale 1 uses AWS-sized delays. The server calls `gate` once per
AWS API call, after authorization; the session issuer calls `check_assumable`.
"""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rolecall.emulator.errors import AwsError
from rolecall.emulator.realism import latency
from rolecall.emulator.realism.propagation import Propagation
from rolecall.emulator.realism.tables import Tables
from rolecall.emulator.realism.throttle import Throttle


class Session(Protocol):
    """The caller's session as realism reads it (the emulator's `state.Session` is one):
    a Protocol, so that the state that holds a Realism need not be imported here."""

    role_arn: str

    @property
    def assumed_role_arn(self) -> str: ...

__all__ = ["PARTS", "Realism", "parse"]

PARTS = ("propagation", "throttling", "tables", "latency")
PRESETS = {"aws": ("propagation", "throttling", "tables"), "none": ()}
# AWS-sized delays at scale 1 (seconds): IAM changes are usually visible within
# seconds (assumed: AWS gives no bound); an on-demand table is ACTIVE in ~5-10 s.
PROPAGATION_SECONDS = 10.0
TABLE_SECONDS = 8.0

_OPERATION: contextvars.ContextVar[str] = contextvars.ContextVar("rolecall_realism_operation",
                                                                 default="")


def parse(spec: str | Iterable[str]) -> frozenset[str]:
    """`aws`, `none`, or parts joined by commas (`aws,latency`); unknown names are an error."""
    words = spec.split(",") if isinstance(spec, str) else list(spec)
    parts: set[str] = set()
    for word in (w.strip() for w in words if w.strip()):
        if word in PRESETS:
            parts.update(PRESETS[word])
        elif word in PARTS:
            parts.add(word)
        else:
            raise ValueError(f"unknown realism {word!r}: choose from aws, none, {', '.join(PARTS)}")
    return frozenset(parts)


@dataclass
class Realism:
    parts: frozenset[str] = frozenset()
    scale: float = 1.0  # multiplies every delay; 0.05 makes a 10 s propagation 0.5 s
    propagation: Propagation = field(init=False)
    tables: Tables = field(init=False)
    throttle: Throttle = field(init=False)
    # What the clients met, for the run's summary: calls throttled, refused while IAM
    # propagated, answered by a table still CREATING or DELETING.
    met: Counter[str] = field(init=False, default_factory=Counter)
    _met_lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.propagation = Propagation(PROPAGATION_SECONDS * self.scale)
        self.tables = Tables(TABLE_SECONDS * self.scale)
        self.throttle = Throttle()

    def _saw(self, what: str) -> None:
        with self._met_lock:
            self.met[what] += 1

    def summary(self) -> str:
        """What this endpoint's clients met, in a sentence (the aws-realism run prints it)."""
        return (f"{self.met['throttled']} call(s) throttled, {self.met['propagating']} refused "
                f"while IAM propagated, {self.met['table-window']} answered by a table CREATING "
                "or DELETING")

    def on(self, part: str) -> bool:
        return part in self.parts

    def propagation_bound(self) -> float:
        """How long after its last IAM change a role may still be propagating here (0: off):
        what a client of this endpoint should poll through, instead of AWS's 30 s."""
        return self.propagation.delay if self.on("propagation") else 0.0

    def describe(self) -> str:
        return ", ".join(sorted(self.parts)) + f" (delays x{self.scale:g})" if self.parts else "off"

    def gate(self, service: str, operation: str, call_params: dict[str, object],
             account: str, region: str, session: Session | None) -> dict[str, object] | None:
        """Before a call is served: throttle, wait, refuse or answer as AWS's conditions would.

        Returns a JSON answer to send instead of the service's (a table in a window),
        or None to let the call go on. Raises the AwsError the service would.
        """
        if not self.parts:
            return None
        _OPERATION.set(operation)
        if self.on("throttling"):
            self._counted("throttled", self.throttle.admit, service, operation)
        if self.on("latency"):
            latency.wait(service, operation, self.scale)
        if self.on("propagation"):
            self._counted("propagating", self._propagation, service, operation, call_params,
                          session)
        if self.on("tables") and service == "dynamodb":
            answer = self._counted("table-window", self._tables, operation, call_params, account,
                                   region)
            if answer is not None:
                self._saw("table-window")
            return answer
        return None

    def _counted(self, what: str, step: Any, *args: Any) -> Any:
        try:
            return step(*args)
        except AwsError as exc:
            if exc.code != "LimitExceededException":
                self._saw(what)
            raise

    def _propagation(self, service: str, operation: str, params: dict[str, object],
                     session: Session | None) -> None:
        if service == "iam":
            self.propagation.saw(operation, {k: str(v) for k, v in params.items()})
        if session is not None and not self.propagation.permissions_effective(session.role_arn):
            raise _not_yet_allowed(service, operation, session.assumed_role_arn)

    def _tables(self, operation: str, params: dict[str, object], account: str,
                region: str) -> dict[str, object] | None:
        answer = self.tables.before(account, region, operation, dict(params))
        if answer is not None:
            return answer
        name = str(params.get("TableName") or "").rsplit("/", 1)[-1]
        # A table that exists (CreateTable: ResourceInUseException) or is deletion-protected
        # (DeleteTable: ValidationException) is left to moto's own refusal: no window opens.
        if operation == "CreateTable" and name and not self.tables.exists(account, region, name):
            self.tables.created(account, region, name)
        if operation == "DeleteTable" and name and not self.tables.protected(account, region,
                                                                             name):
            return self.tables.delete(account, region, name)
        return None

    def check_assumable(self, role_arn: str) -> None:
        """A role whose trust is not yet effective cannot be assumed: each service's refusal."""
        if not self.on("propagation") or self.propagation.assumable(role_arn):
            return
        self._saw("propagating")
        if _OPERATION.get() == "AssumeRoleWithWebIdentity":
            raise AwsError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity",
                           403)
        raise AwsError("InvalidIdentityPoolConfigurationException",
                       "Invalid identity pool configuration. Check assigned IAM roles for this pool.")


def _not_yet_allowed(service: str, operation: str, principal: str) -> AwsError:
    """AccessDenied as the service words it: the session's new permissions are not visible yet."""
    message = (f"User: {principal} is not authorized to perform: {service}:{operation} "
               f"because no identity-based policy allows the {service}:{operation} action")
    if service in {"iam", "sts"}:
        return AwsError("AccessDenied", message, 403)
    return AwsError("AccessDeniedException", message, 400)
