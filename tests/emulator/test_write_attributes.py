"""UpdateUserAttributes honours the app client's WriteAttributes, as AWS does (moto does not)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

PASSWORD = "Passw0rd!aa"


@pytest.mark.parametrize(("writable", "allowed"), [(None, True), (["email"], False),
                                                   (["email", "custom:team"], True)],
                         ids=["default-all-writable", "team-not-writable", "team-writable"])
def test_update_user_attributes_respects_write_attributes(admin: Any, writable: list[str] | None,
                                                          allowed: bool) -> None:
    idp = admin("cognito-idp")
    pool = idp.create_user_pool(PoolName=f"wa-{uuid.uuid4().hex[:8]}", Schema=[
        {"Name": "team", "AttributeDataType": "String", "Mutable": True}])["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        **({"WriteAttributes": writable} if writable is not None else {}))["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="u", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="u", Password=PASSWORD, Permanent=True)
    token = idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "u", "PASSWORD": PASSWORD})["AuthenticationResult"]["AccessToken"]

    def update() -> None:
        idp.update_user_attributes(AccessToken=token,
                                   UserAttributes=[{"Name": "custom:team", "Value": "platform"}])

    if allowed:
        update()
        attributes = idp.admin_get_user(UserPoolId=pool, Username="u")["UserAttributes"]
        assert {"Name": "custom:team", "Value": "platform"} in attributes
    else:
        with pytest.raises(ClientError) as refused:
            update()
        assert refused.value.response["Error"] == {
            "Code": "NotAuthorizedException",
            "Message": "A client attempted to write unauthorized attribute"}
