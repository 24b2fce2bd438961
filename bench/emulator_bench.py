"""Benchmark of the embedded target: what its own services and its IAM check cost.

Prints numbers; asserts nothing. Issue 2 asks for three of them:

(a) requests/s of the enhanced flow, GetId + GetCredentialsForIdentity pairs;
(b) requests/s of an authorized GetItem signed with credentials the emulator issued;
(c) the latency of that GetItem through the emulator against the same GetItem
    through plain moto (target: at most 1.5x), median and p95.

For (c) both servers run in this process on their own ports, built the same way
(werkzeug, threaded, no request log lines), and serve the very same moto table
and item, because moto's backends are process-global. Both clients are the same
boto3 configuration with the same issued credentials (plain moto ignores them),
warmed up before measuring, and their calls alternate so that drift of the
machine hits both sides alike. The difference is then what the emulator adds:
reading the call, SigV4 verification, the IAM evaluation, and the hand-over to moto.

With --profile (or when the ratio is above the target) the script also profiles
the server side of the GetItem with cProfile, emulator and plain moto, and
prints the top cumulative costs of each.

    python bench/emulator_bench.py [--iterations 500] [--warmup 50] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rolecall.emulator import ACCOUNT_ID, Emulator  # noqa: E402
from rolecall.emulator.server import EmulatorApp  # noqa: E402

REGION = "eu-west-1"
ADMIN_KEYS = {"aws_access_key_id": "AKIABENCHBENCHBENCH0", "aws_secret_access_key": "bench"}
PASSWORD = "Correct-Horse-9!"
TARGET_RATIO = 1.5
# one connection, no retries: a retry or a second socket would blur a latency sample
CLIENT_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                       max_pool_connections=1)

WsgiApp = Callable[..., Any]


@dataclass(frozen=True)
class Stack:
    """What the flows need: a signed-in user's logins, its identity pool, and a seeded table."""

    identity_pool_id: str
    logins: dict[str, str]
    table: str
    key: dict[str, dict[str, str]]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _client(endpoint: str, service: str, **keys: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=CLIENT_CONFIG,
                        **(keys or ADMIN_KEYS))


def provision(endpoint: str) -> Stack:
    """User pool, client, group with a read-only role, user, identity pool, table with an item."""
    idp, iam = _client(endpoint, "cognito-idp"), _client(endpoint, "iam")
    ci, dynamodb = _client(endpoint, "cognito-identity"), _client(endpoint, "dynamodb")
    pool_id = idp.create_user_pool(PoolName=_unique("bench"))["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="bench",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    provider = f"cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    identity_pool_id = ci.create_identity_pool(
        IdentityPoolName=_unique("bench").replace("-", "_"), AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": client_id}],
    )["IdentityPoolId"]
    table = _create_table(dynamodb)
    role_arn = _create_read_only_role(iam, identity_pool_id, table)
    ci.set_identity_pool_roles(IdentityPoolId=identity_pool_id, Roles={"authenticated": role_arn})
    idp.create_group(UserPoolId=pool_id, GroupName="readers", RoleArn=role_arn, Precedence=1)
    username = _unique("user")
    idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD,
                                Permanent=True)
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName="readers")
    token = idp.admin_initiate_auth(
        UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["IdToken"]
    return Stack(identity_pool_id, {provider: token}, table, {"pk": {"S": "item-1"}})


def _create_table(dynamodb: Any) -> str:
    table = _unique("bench")
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "item-1"}, "body": {"S": "x" * 200}})
    return table


def _create_read_only_role(iam: Any, identity_pool_id: str, table: str) -> str:
    """The role console and CDK write: trust with aud/amr, GetItem/Query on one table."""
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": identity_pool_id},
                      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr":
                                                 "authenticated"}}}]}
    name = _unique("bench-reader")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"
    iam.put_role_policy(RoleName=name, PolicyName="read-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
             "Resource": [table_arn, f"{table_arn}/index/*"]}]}))
    return arn


def session_keys(endpoint: str, stack: Stack) -> dict[str, str]:
    """Credentials of the enhanced flow, as boto3 client keyword arguments."""
    ci = _client(endpoint, "cognito-identity")
    identity = ci.get_id(IdentityPoolId=stack.identity_pool_id, Logins=stack.logins)["IdentityId"]
    creds = ci.get_credentials_for_identity(IdentityId=identity, Logins=stack.logins)["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretKey"],
            "aws_session_token": creds["SessionToken"]}


# --------------------------------------------------------------------------- measurements


def rate(call: Callable[[], object], iterations: int, warmup: int, requests_per_call: int) -> float:
    """Sequential requests per second over `iterations` calls, after `warmup` unmeasured ones."""
    for _ in range(warmup):
        call()
    start = time.perf_counter()
    for _ in range(iterations):
        call()
    return iterations * requests_per_call / (time.perf_counter() - start)


def alternating_latencies(calls: dict[str, Callable[[], object]], iterations: int,
                          warmup: int) -> dict[str, list[float]]:
    """Per-call seconds for each named call, measured in turn so both see the same machine."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(iterations):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return samples


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


class _QuietMotoHandler(MotoRequestHandler):
    """moto server's handler without one stderr line per request (the emulator prints none)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def serving(app: WsgiApp, handler: type[WSGIRequestHandler] = _QuietMotoHandler) -> Iterator[str]:
    """Serve a WSGI app like the emulator serves itself (werkzeug, threaded); yield its URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True,
                                         request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def plain_moto_app() -> WsgiApp:
    return DomainDispatcherApplication(create_backend_app)


# --------------------------------------------------------------------------- profiling


class Profiled:
    """WSGI middleware that runs every request of one app under one cProfile profile.

    The server handles requests in worker threads and cProfile profiles one
    thread, so the profiler is switched on around each request inside the
    thread that serves it. Requests here are sequential, so this is safe.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.profile = cProfile.Profile()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.profile.enable()
        try:
            return list(self.app(environ, start_response))
        finally:
            self.profile.disable()

    def top(self, limit: int, only: str | None = None) -> str:
        """The `limit` costliest functions by cumulative time, optionally only paths matching
        the regular expression `only` (e.g. the emulator's own modules)."""
        out = io.StringIO()
        stats = pstats.Stats(self.profile, stream=out).sort_stats("cumulative")
        if only is None:
            stats.strip_dirs().print_stats(limit)
        else:
            stats.print_stats(only, limit)
        return out.getvalue()


def profile_get_item(emulator: Emulator, stack: Stack, keys: dict[str, str],
                     iterations: int, limit: int = 25) -> None:
    """Server-side profile of the same GetItem through the emulator's app and plain moto's,
    then the emulator's own functions alone (what it adds in front of moto)."""
    profiles = {"emulator": Profiled(EmulatorApp(emulator.state)),
                "plain moto": Profiled(plain_moto_app())}
    for name, app in profiles.items():
        with serving(app) as endpoint:
            dynamodb = _client(endpoint, "dynamodb", **keys)
            for _ in range(iterations):
                dynamodb.get_item(TableName=stack.table, Key=stack.key)
        print(f"\n--- server-side profile, {name}: {iterations} GetItem, top {limit} by "
              "cumulative time ---")
        print(app.top(limit))
    print(f"\n--- the emulator's own functions ({iterations} GetItem) ---")
    print(profiles["emulator"].top(limit, only=r"rolecall[/\\]emulator"))


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="always print the profiles")
    args = parser.parse_args()

    with Emulator(port=0) as emulator:
        stack = provision(emulator.endpoint)
        ci = _client(emulator.endpoint, "cognito-identity")

        def enhanced_flow() -> None:
            identity = ci.get_id(IdentityPoolId=stack.identity_pool_id,
                                 Logins=stack.logins)["IdentityId"]
            ci.get_credentials_for_identity(IdentityId=identity, Logins=stack.logins)

        pairs = rate(enhanced_flow, args.iterations, args.warmup, requests_per_call=2)
        print(f"(a) GetId+GetCredentialsForIdentity: {pairs:8.1f} requests/s "
              f"({pairs / 2:.1f} pairs/s, {args.iterations} pairs, sequential)")

        keys = session_keys(emulator.endpoint, stack)
        through_emulator = _client(emulator.endpoint, "dynamodb", **keys)

        def emulated_get() -> None:
            through_emulator.get_item(TableName=stack.table, Key=stack.key)

        print(f"(b) authorized GetItem:              "
              f"{rate(emulated_get, args.iterations, args.warmup, 1):8.1f} requests/s "
              f"({args.iterations} calls, sequential)")

        with serving(plain_moto_app()) as moto_endpoint:
            through_moto = _client(moto_endpoint, "dynamodb", **keys)
            samples = alternating_latencies(
                {"emulator": emulated_get,
                 "moto": lambda: through_moto.get_item(TableName=stack.table, Key=stack.key)},
                args.iterations, args.warmup)
        ratio = report_latency(samples, args.iterations)
        if args.profile or ratio > TARGET_RATIO:
            profile_get_item(emulator, stack, keys, args.iterations)


def report_latency(samples: dict[str, list[float]], iterations: int) -> float:
    """Print (c) and return the ratio of medians."""
    emulated, plain = samples["emulator"], samples["moto"]
    med_e, med_m = statistics.median(emulated), statistics.median(plain)
    print(f"(c) GetItem latency over {iterations} alternating calls:")
    print(f"      emulator (authorized): median {med_e * 1000:6.2f} ms, p95 {p95(emulated) * 1000:6.2f} ms")
    print(f"      plain moto:            median {med_m * 1000:6.2f} ms, p95 {p95(plain) * 1000:6.2f} ms")
    ratio = med_e / med_m
    verdict = "within" if ratio <= TARGET_RATIO else "ABOVE"
    print(f"      ratio emulator/moto: median {ratio:.2f}x, p95 {p95(emulated) / p95(plain):.2f}x "
          f"({verdict} the {TARGET_RATIO}x target)")
    return ratio


if __name__ == "__main__":
    main()
