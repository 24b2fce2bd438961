"""Optional per-service latency, so wall-time projections can be tried on the embedded target.

The model (milliseconds per call, client in the same Region; medians observed
from CI runners in eu-west-1 and us-east-1, rounded, ASSUMED: AWS publishes no
latency figures): DynamoDB data plane 8, DynamoDB control plane 30, STS 40,
cognito-identity 60, cognito-idp 80 (sign-in hashes the password: SRP/USER_PASSWORD
auth ~150), IAM 120 (a global service, served from us-east-1).
bench/projection.py uses the same table to project a real-account run.
"""

from __future__ import annotations

import time

MILLISECONDS: dict[str, float] = {
    "dynamodb": 8, "dynamodb-control": 30, "sts": 40, "cognito-identity": 60,
    "cognito-idp": 80, "cognito-idp-auth": 150, "iam": 120,
}
CONTROL = frozenset({"CreateTable", "DeleteTable", "DescribeTable", "ListTables", "UpdateTable"})


def model_key(service: str, operation: str) -> str:
    if service == "dynamodb" and operation in CONTROL:
        return "dynamodb-control"
    if service == "cognito-idp" and operation in {"InitiateAuth", "AdminInitiateAuth"}:
        return "cognito-idp-auth"
    return service


def seconds_for(service: str, operation: str) -> float:
    return MILLISECONDS.get(model_key(service, operation), 0.0) / 1000


def wait(service: str, operation: str, scale: float) -> None:
    if scale > 0:
        time.sleep(seconds_for(service, operation) * scale)
