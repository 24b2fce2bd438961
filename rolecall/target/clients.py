"""Where the suite runs: the embedded target or a real AWS account.

Both targets are the same code: boto3 clients built here, differing only in the
endpoint and the admin credentials. `--target aws --endpoint-url <emulator>`
exercises the real-account path against the embedded endpoint.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from rolecall.emulator import ACCOUNT_ID

log = logging.getLogger("rolecall.target.clients")

TargetKind = Literal["emulated", "aws"]
MAX_WAIT_SECONDS = 960  # the longest a real-account run waits for a token or session to expire
EMULATED_REGION = "eu-west-1"
EMULATED_ADMIN_KEYS = {"aws_access_key_id": "AKIAROLECALLADMIN000", "aws_secret_access_key": "x"}

# Throttling and 5xx are retried by botocore's standard mode (bounded). Anything
# still failing becomes an ERROR verdict, never a DENIED one.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5},
                       connect_timeout=10, read_timeout=30)


class TargetError(Exception):
    """The target cannot be used as configured; the message says what to change."""


@dataclass
class Target:
    kind: TargetKind
    region: str
    account_id: str
    endpoint_url: str | None = None
    # Seconds to wait after IAM changes before relying on them: IAM is eventually
    # consistent on AWS (new roles and trust policies take seconds to apply).
    settle_seconds: float = 0.0
    _session: boto3.Session = field(default_factory=boto3.Session, repr=False)

    def client(self, service: str) -> Any:
        """A client signed with the admin credentials (provisioning, teardown)."""
        return self._session.client(service, region_name=self.region,
                                    endpoint_url=self.endpoint_url, config=CLIENT_CONFIG)

    def anonymous(self, service: str) -> Any:
        """An unsigned client, as an app's browser code is: sign-in, GetId, web identity."""
        return self._session.client(service, region_name=self.region,
                                    endpoint_url=self.endpoint_url,
                                    config=CLIENT_CONFIG.merge(Config(signature_version=UNSIGNED)))

    def as_credentials(self, service: str, credentials: dict[str, str]) -> Any:
        """A client signed with temporary credentials the identity pool or STS issued."""
        return boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretKey"],
            aws_session_token=credentials["SessionToken"],
        ).client(service, region_name=self.region, endpoint_url=self.endpoint_url,
                 config=CLIENT_CONFIG)


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
        endpoint_url: str | None = None, settle_seconds: float = 10.0) -> Target:
    """A real account, with credentials and region from the usual AWS configuration.

    Refuses unless `expected_account_id` is the account the credentials belong to:
    the suite creates and deletes resources, and must never do so in the wrong account.
    """
    session = boto3.Session()
    region = region or session.region_name
    if not region:
        raise TargetError("no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION), "
                          "a profile region, or pass --region")
    if not expected_account_id:
        raise TargetError("--target aws needs --aws-account-id <12 digits>: the account the "
                          "suite may create and delete resources in")
    sts = session.client("sts", region_name=region, endpoint_url=endpoint_url, config=CLIENT_CONFIG)
    try:
        actual = sts.get_caller_identity()["Account"]
    except Exception as exc:  # no credentials, expired credentials, no network
        raise TargetError(f"cannot ask AWS who the caller is ({type(exc).__name__}); "
                          "configure credentials (AWS_PROFILE or keys) for the target account"
                          ) from None
    if actual != expected_account_id:
        raise TargetError(f"the configured credentials belong to account {mask(actual)}, not "
                          f"{mask(expected_account_id)} given by --aws-account-id; refusing to "
                          "touch another account")
    return Target("aws", region, actual, endpoint_url, settle_seconds, _session=session)


def mask(account_id: str) -> str:
    """Account ids in messages and reports show only their last four digits."""
    return "********" + account_id[-4:] if len(account_id) >= 4 else "****"
