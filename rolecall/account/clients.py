"""Where the suite runs: the embedded target or a real AWS account.

Both targets are the same code: boto3 clients built here, differing only in the
endpoint and the admin credentials. `--target aws --endpoint-url <emulator>`
exercises the real-account path against the embedded endpoint.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from rolecall.account import retry as retrying
from rolecall.emulator import ACCOUNT_ID
from rolecall.reporting.redact import register_secret

log = logging.getLogger("rolecall.account.clients")

TargetKind = Literal["emulated", "aws"]
ACCOUNT_ID_SHAPE = re.compile(r"\d{12}")
MAX_WAIT_SECONDS = 960  # the longest a real-account run waits for a token or session to expire
EMULATED_REGION = "eu-west-1"
EMULATED_ADMIN_KEYS = {"aws_access_key_id": "AKIAROLECALLADMIN000", "aws_secret_access_key": "x"}

# botocore's retries are off: rolecall/account/retry.py retries what is transient
# (throttling, 5xx) within a budget and stops at once on quotas and permissions,
# which botocore's standard mode would retry (LimitExceededException). Anything
# still failing becomes an ERROR verdict, never a DENIED one.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1},
                       connect_timeout=10, read_timeout=30)
# How long after the last IAM change a refusal may still be IAM propagating (AWS:
# eventually consistent, "usually seconds"; assumed bound, see docs/realism.md).
AWS_PROPAGATION_SECONDS = 30.0


# A resource still changing state (a table CREATING or DELETING cannot be deleted yet) is
# waited for by `patiently` (provisioning and cleanup). Throttling and 5xx are every
# client's own retries (rolecall/account/retry.py); quotas (LimitExceededException) and
# invalid parameters are never retried: waiting cannot fix them.
TRANSIENT = {"ResourceInUseException", "ConcurrentModification", "ConcurrentModificationException"}
# What a delete answers when the resource is already gone: not a failure.
GONE = {"ResourceNotFoundException", "NoSuchEntity", "NoSuchEntityException",
        "UserPoolNotFoundException", "UserNotFoundException"}


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ClientError, None for anything else."""
    return str(exc.response["Error"]["Code"]) if isinstance(exc, ClientError) else None


patiently = retry(retry=retry_if_exception(lambda exc: error_code(exc) in TRANSIENT),
                  stop=stop_after_delay(120), wait=wait_exponential(multiplier=0.5, max=8),
                  reraise=True, before_sleep=before_sleep_log(log, logging.WARNING))


class TargetError(Exception):
    """The target cannot be used as configured; the message says what to change."""


@dataclass
class Target:
    kind: TargetKind
    region: str
    account_id: str
    endpoint_url: str | None = None
    # Seconds after the last IAM change during which a refusal may be IAM still
    # propagating: flows and probes poll through it instead of sleeping blindly.
    propagation_seconds: float = 0.0
    retry_budget: float = retrying.DEFAULT_BUDGET  # seconds each call may wait out throttling
    _session: boto3.Session = field(default_factory=boto3.Session, repr=False)
    # A boto3 Session is not thread-safe: every client of the run is made under this lock.
    _session_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(self, service: str) -> Any:
        """A client signed with the runner's credentials (provisioning, teardown)."""
        return self._patient(service, config=CLIENT_CONFIG)

    def anonymous(self, service: str, validate: bool = True) -> Any:
        """An unsigned client, as an app's browser code is: sign-in, GetId, web identity.
        `validate=False`: botocore does not check the parameters first; the target does."""
        return self._patient(service, config=CLIENT_CONFIG.merge(Config(
            signature_version=UNSIGNED, parameter_validation=validate)))

    def as_credentials(self, service: str, credentials: dict[str, str]) -> Any:
        """A client signed with temporary credentials the identity pool or STS issued."""
        # The run's own session builds it (explicit keys override its credentials): a new
        # boto3.Session per credential would load and parse the service model again each
        # time, the aws path's largest CPU cost (hundreds of credentials per matrix).
        return self._patient(service, aws_access_key_id=credentials["AccessKeyId"],
                             aws_secret_access_key=credentials["SecretKey"],
                             aws_session_token=credentials["SessionToken"], config=CLIENT_CONFIG)

    def _patient(self, service: str, **options: Any) -> Any:
        """A client of the run's session that waits out throttling (retrying.Patient)."""
        with self._session_lock:
            made = self._session.client(service, region_name=self.region,
                                        endpoint_url=self.endpoint_url, **options)
        return retrying.Patient(made, self.retry_budget)

    def let_time_pass(self, seconds: float, scope: str) -> None:
        """Make `seconds` pass for one pool: a user pool's ID tokens or an identity pool's
        sessions (expiry tests).

        An embedded endpoint moves its clock for that pool only, so other cells are
        untouched; a real account can only wait (expiry scenarios use 5-minute ID tokens
        and 15-minute sessions, so the wait is bounded).
        """
        if self.endpoint_url and self._has_time_travel():
            body = json.dumps({"advance": seconds, "scope": scope}).encode()
            request = urllib.request.Request(f"{self.endpoint_url}/_rolecall/clock", body,
                                             {"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=10):
                return
        if seconds > MAX_WAIT_SECONDS:
            raise TargetError(f"waiting {seconds:.0f}s for tokens to expire is too long; give the "
                              "scenario's app client a short ID-token validity (5 minutes)")
        log.warning("waiting %.0fs for the tokens or sessions of %s to expire", seconds, scope)
        time.sleep(seconds)

    def _has_time_travel(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/_rolecall/health", timeout=5):
                return True
        except (urllib.error.URLError, OSError):
            return False


def emulated(endpoint_url: str) -> Target:
    """The embedded target at `endpoint_url` (already running)."""
    return Target("emulated", EMULATED_REGION, ACCOUNT_ID, endpoint_url,
                  _session=boto3.Session(**EMULATED_ADMIN_KEYS))


def aws(expected_account_id: str | None, region: str | None = None,
        endpoint_url: str | None = None,
        propagation_seconds: float = AWS_PROPAGATION_SECONDS,
        retry_budget: float = retrying.DEFAULT_BUDGET) -> Target:
    """A real account, with credentials and region from the usual AWS configuration.

    Refuses unless `expected_account_id` is the account the credentials belong to:
    the suite creates and deletes resources, and must never do so in the wrong account.
    """
    session = boto3.Session()
    # A local endpoint (the embedded target, a LocalStack) has no region of its own to
    # configure: use the emulated region rather than refuse; a real account must say.
    region = region or session.region_name or (EMULATED_REGION if endpoint_url else None)
    if not region:
        raise TargetError("no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION), "
                          "a profile region, or pass --region")
    if not expected_account_id:
        raise TargetError("--target aws needs --aws-account-id <12 digits>: the account the "
                          "suite may create and delete resources in")
    if not ACCOUNT_ID_SHAPE.fullmatch(expected_account_id):
        raise TargetError(f"--aws-account-id {mask(expected_account_id)} is "
                          f"{len(expected_account_id)} characters long; an AWS account id is "
                          "exactly 12 digits (no dashes or spaces)")
    sts = session.client("sts", region_name=region, endpoint_url=endpoint_url, config=CLIENT_CONFIG)
    try:
        actual = sts.get_caller_identity()["Account"]
    except Exception as exc:  # no credentials, expired credentials, no network
        raise TargetError(f"cannot ask AWS who the caller is ({type(exc).__name__}); "
                          "configure credentials (AWS_PROFILE or keys) for the target account"
                          ) from None
    if actual != expected_account_id:
        raise TargetError(f"the configured credentials belong to account {mask(actual)}, not "
                          f"{mask(expected_account_id)} given by --aws-account-id"
                          f"{_where_they_differ(actual, expected_account_id)}; refusing to "
                          "touch another account")
    _register_operator_credentials(session)
    return Target("aws", region, actual, endpoint_url, propagation_seconds, retry_budget,
                  _session=session)


def _register_operator_credentials(session: boto3.Session) -> None:
    """The operator's own keys are secrets the run holds too: redact them by value."""
    credentials = session.get_credentials()
    frozen = credentials.get_frozen_credentials() if credentials is not None else None
    for value, label in ((getattr(frozen, "access_key", None), "access-key-id"),
                         (getattr(frozen, "secret_key", None), "secret-key"),
                         (getattr(frozen, "token", None), "session-token")):
        register_secret(value, label)


def mask(account_id: str) -> str:
    """An account id in a message: its full length, first two and last four characters.

    `123456789012` -> `12******9012`, `0123456789012` -> `01*******9012`: two ids
    that differ in length or at either end look different, and the middle six
    digits, which together with the ends would name the account, stay hidden.
    """
    if len(account_id) < 8:
        return "*" * len(account_id)
    return account_id[:2] + "*" * (len(account_id) - 6) + account_id[-4:]


def _where_they_differ(one: str, other: str) -> str:
    """When both masks look the same, the position of the first differing digit."""
    if mask(one) != mask(other):
        return ""
    position = next(i for i, (a, b) in enumerate(zip(one, other, strict=False)) if a != b) + 1
    return f" (they differ at digit {position})"
