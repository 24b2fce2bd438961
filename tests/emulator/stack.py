"""Building blocks for end-to-end emulator tests: user pools, roles, identity pools over boto3.

Everything is created through real HTTP calls, the way provisioning code and
users do it (seeds 000-004). moto's state is process-global and shared by every
emulator of a test session, so each name carries a random suffix.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from jwt.utils import base64url_decode, base64url_encode

from rolecall.emulator import ACCOUNT_ID

REGION = "eu-west-1"
PASSWORD = "Correct-Horse-9!"
ADMIN_KEYS = {"aws_access_key_id": "AKIAADMINADMINADMIN0", "aws_secret_access_key": "admin-secret"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client(endpoint: str, service: str, **kwargs: Any) -> Any:
    """A boto3 client for `service` at `endpoint`, signed with the admin keys."""
    return boto3.client(service, endpoint_url=endpoint,
                        **{"region_name": REGION, **ADMIN_KEYS, **kwargs})


def admin_clients(endpoint: str) -> tuple[Any, Any, Any]:
    """cognito-idp, IAM and cognito-identity clients: what every identity-pool stack is built with."""
    return (client(endpoint, "cognito-idp"), client(endpoint, "iam"),
            client(endpoint, "cognito-identity"))


def error_of(call: Callable[[], Any]) -> tuple[str, str]:
    """Run a call that must fail; its (error code, message)."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"


def cognito_trust(amr: str | list[str] = "authenticated", aud: str | None = None) -> dict[str, Any]:
    """The trust policy the console and CDK write for identity-pool roles (T1, T2)."""
    condition: dict[str, Any] = {
        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr},
    }
    if aud is not None:
        condition["StringEquals"] = {"cognito-identity.amazonaws.com:aud": aud}
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }],
    }


def create_role(iam: Any, name: str, trust: dict[str, Any], max_session: int | None = None) -> str:
    kwargs: dict[str, Any] = {"RoleName": name, "AssumeRolePolicyDocument": json.dumps(trust)}
    if max_session is not None:
        kwargs["MaxSessionDuration"] = max_session
    return str(iam.create_role(**kwargs)["Role"]["Arn"])


@dataclass
class UserPool:
    """A moto user pool with one app client, built through cognito-idp calls."""

    idp: Any
    pool_id: str
    client_id: str
    groups: list[str] = field(default_factory=list)

    @property
    def provider_name(self) -> str:
        region = self.pool_id.split("_", 1)[0]
        return f"cognito-idp.{region}.amazonaws.com/{self.pool_id}"

    @property
    def mapping_key(self) -> str:
        return f"{self.provider_name}:{self.client_id}"

    def provider(self, server_side_token_check: bool = False,
                 client_id: str | None = None) -> dict[str, Any]:
        return {"ProviderName": self.provider_name, "ClientId": client_id or self.client_id,
                "ServerSideTokenCheck": server_side_token_check}

    def add_client(self) -> str:
        return new_client(self.idp, self.pool_id)

    def add_group(self, name: str, role: str | None = None, precedence: int | None = None) -> str:
        kwargs: dict[str, Any] = {"UserPoolId": self.pool_id, "GroupName": name}
        if role is not None:
            kwargs["RoleArn"] = role
        if precedence is not None:
            kwargs["Precedence"] = precedence
        self.idp.create_group(**kwargs)
        self.groups.append(name)
        return name

    def add_user(self, groups: tuple[str, ...] | list[str] = (), **attributes: str) -> str:
        username = unique("user")
        self.idp.admin_create_user(
            UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": k, "Value": v} for k, v in attributes.items()],
        )
        self.idp.admin_set_user_password(UserPoolId=self.pool_id, Username=username,
                                         Password=PASSWORD, Permanent=True)
        for group in groups:
            self.idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username,
                                             GroupName=group)
        return username

    def sign_in(self, username: str, idp: Any = None, client_id: str | None = None) -> dict[str, str]:
        """ID, access and refresh tokens. Pass another emulator's `idp` to mint with its faults."""
        result = (idp or self.idp).admin_initiate_auth(
            UserPoolId=self.pool_id, ClientId=client_id or self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )
        return dict(result["AuthenticationResult"])

    def id_token(self, username: str, idp: Any = None, client_id: str | None = None) -> str:
        return self.sign_in(username, idp, client_id)["IdToken"]


def new_client(idp: Any, pool_id: str) -> str:
    response = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName=unique("client"),
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                           "ALLOW_REFRESH_TOKEN_AUTH"],
    )
    return str(response["UserPoolClient"]["ClientId"])


def create_user_pool(idp: Any, **kwargs: Any) -> UserPool:
    pool_id = idp.create_user_pool(PoolName=unique("pool"), **kwargs)["UserPool"]["Id"]
    return UserPool(idp, pool_id, new_client(idp, pool_id))


def create_identity_pool(ci: Any, providers: list[dict[str, Any]] | None = None,
                         allow_unauthenticated: bool = False, **extra: Any) -> str:
    kwargs: dict[str, Any] = {"IdentityPoolName": unique("idpool").replace("-", "_"),
                              "AllowUnauthenticatedIdentities": allow_unauthenticated, **extra}
    if providers is not None:
        kwargs["CognitoIdentityProviders"] = providers
    return str(ci.create_identity_pool(**kwargs)["IdentityPoolId"])


def credentials(ci: Any, pool_id: str, logins: dict[str, str],
                         custom_role: str | None = None) -> dict[str, Any]:
    """The enhanced flow: GetId, then GetCredentialsForIdentity."""
    identity_id = ci.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
    kwargs: dict[str, Any] = {"IdentityId": identity_id, "Logins": logins}
    if custom_role is not None:
        kwargs["CustomRoleArn"] = custom_role
    return dict(ci.get_credentials_for_identity(**kwargs))


def raw_json_call(endpoint: str, target: str, body: bytes | str | dict[str, Any], *,
                  signed: bool = False) -> tuple[int, Any]:
    """POST an awsJson 1.1 body as-is (no client-side validation): (status, parsed body).

    `signed`: SigV4-sign it with the admin keys, as admin operations need
    (cognito-identity's, for these calls; unsigned they are MissingAuthenticationToken).
    """
    data = body if isinstance(body, bytes) else (
        body.encode() if isinstance(body, str) else json.dumps(body).encode())
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    if signed:
        headers = admin_signed_headers(endpoint + "/", data, headers, "cognito-identity")
    request = urllib.request.Request(endpoint + "/", data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def admin_signed_headers(url: str, data: bytes, headers: dict[str, str], service: str,
                         keys: dict[str, str] | None = None) -> dict[str, str]:
    """`headers` plus a SigV4 signature over a raw request (admin keys unless `keys`)."""
    keys = keys or ADMIN_KEYS
    request = AWSRequest(method="POST", url=url, data=data, headers=headers)
    SigV4Auth(Credentials(keys["aws_access_key_id"], keys["aws_secret_access_key"],
                          keys.get("aws_session_token")), service, REGION).add_auth(request)
    return dict(request.headers.items())


def raw_query_call(endpoint: str, params: dict[str, str]) -> tuple[int, str]:
    """POST an awsQuery (STS) form as-is: (status, XML text)."""
    request = urllib.request.Request(
        endpoint + "/", data=urllib.parse.urlencode(params).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def tamper(token: str, **claims: Any) -> str:
    """The same signature over a changed payload: what a forger would send."""
    header, payload, signature = token.split(".")
    data = json.loads(base64url_decode(payload))
    data.update(claims)
    return ".".join([header, base64url_encode(json.dumps(data).encode()).decode(), signature])


def fetch_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())
