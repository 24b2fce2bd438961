"""Every user pool signs with moto's one key, parsed once per process (rolecall/emulator/
cognitoidp/patch.py): parsing it for each pool was a tenth of the embedded target's time."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import jwt

from rolecall.emulator import Emulator
from rolecall.emulator.cognitoidp.patch import find_user_pool
from tests.emulator.conftest import REGION

PASSWORD = "Passw0rd!aa"


def _id_token(idp: Any, pool: str) -> str:
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="app", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="u", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="u", Password=PASSWORD, Permanent=True)
    return str(idp.admin_initiate_auth(
        UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "u", "PASSWORD": PASSWORD})["AuthenticationResult"]["IdToken"])


def test_pools_share_one_parsed_key_and_their_tokens_verify(emulator: Emulator, admin: Any) -> None:
    idp = admin("cognito-idp")
    pools = [idp.create_user_pool(PoolName=f"key-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
             for _ in range(2)]
    keys = [find_user_pool(REGION, pool) for pool in pools]
    assert all(keys) and keys[0].json_web_key is keys[1].json_web_key  # type: ignore[union-attr]
    for pool in pools:
        with urllib.request.urlopen(f"{emulator.endpoint}/{pool}/.well-known/jwks.json") as answer:
            jwks = jwt.PyJWKSet.from_dict(json.loads(answer.read()))
        token = _id_token(idp, pool)
        claims = jwt.decode(token, jwks.keys[0].key, algorithms=["RS256"],
                            options={"verify_aud": False})
        assert claims["iss"].endswith(f"/{pool}") and claims["token_use"] == "id"
