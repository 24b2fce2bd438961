"""AWS::Cognito::UserPool, UserPoolClient, UserPoolGroup, UserPoolUserToGroupAttachment.

Created in moto's cognito-idp backend, the one the emulator serves (and patches
for role claims), so a pool deployed by a stack behaves exactly like one made
by CreateUserPool: sign-in works and ID tokens carry `cognito:roles` and
`cognito:preferred_role` from the deployed groups.

CloudFormation's property names are the API's, except UserPoolName (API:
PoolName); the rest of a UserPool's or UserPoolClient's properties go to moto
as the API request would. Physical ids (Ref) are AWS's: the user pool id, the
app client id, the group name.
"""

from __future__ import annotations

from typing import Any

from moto.cognitoidp.models import CognitoIdpBackend, cognitoidp_backends
from moto.core.common_models import CloudFormationModel

from rolecall.emulator.cloudformation.common import Handle, stack_tags


def _backend(account_id: str, region: str) -> CognitoIdpBackend:
    return cognitoidp_backends[account_id][region]


def _properties(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return dict(cloudformation_json.get("Properties") or {})


def _group_settings(properties: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Description, RoleArn, Precedence as CreateGroup takes them (absent stays None, G1)."""
    return properties.get("Description"), properties.get("RoleArn"), properties.get("Precedence")


class UserPool(Handle, CloudFormationModel):
    """A user pool; tags are the template's UserPoolTags plus the stack's tags."""

    ATTRIBUTES = {"Arn": "arn", "ProviderName": "provider_name", "ProviderURL": "provider_url",
                  "UserPoolId": "id"}

    @staticmethod
    def cloudformation_name_type() -> str:
        return "UserPoolName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPool"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> UserPool:
        properties = _properties(cloudformation_json)
        properties.pop("UserPoolName", None)
        tags = {**stack_tags(account_id, region_name, kwargs.get("StackId")),
                **(properties.pop("UserPoolTags", None) or {})}
        if tags:
            properties["UserPoolTags"] = tags
        pool = _backend(account_id, region_name).create_user_pool(resource_name, properties)
        provider_name = f"cognito-idp.{region_name}.amazonaws.com/{pool.id}"
        return cls(pool.id, id=pool.id, arn=pool.arn, provider_name=provider_name,
                   provider_url=f"https://{provider_name}")

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: UserPool, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> UserPool:
        """In place, like UpdateUserPool: replacing the pool would lose its users."""
        properties = _properties(cloudformation_json)
        properties.pop("UserPoolName", None)
        _backend(account_id, region_name).update_user_pool(original_resource.physical_id,
                                                           properties)
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str,
    ) -> None:
        _backend(account_id, region_name).delete_user_pool(resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if self.physical_id in backend.user_pools:
            backend.delete_user_pool(self.physical_id)


class UserPoolClient(Handle, CloudFormationModel):
    """An app client. Ref: the client id."""

    ATTRIBUTES = {"ClientId": "id", "ClientSecret": "secret", "Name": "name"}

    def __init__(self, physical_id: str, user_pool_id: str, **attributes: str) -> None:
        super().__init__(physical_id, **attributes)
        self.user_pool_id = user_pool_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ClientName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolClient"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> UserPoolClient:
        properties = _properties(cloudformation_json)
        user_pool_id = properties.pop("UserPoolId")
        generate_secret = bool(properties.pop("GenerateSecret", False))
        properties["ClientName"] = properties.get("ClientName") or resource_name
        client = _backend(account_id, region_name).create_user_pool_client(
            user_pool_id, generate_secret, properties)
        return cls(client.id, user_pool_id, id=client.id, secret=client.secret,
                   name=properties["ClientName"])

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: UserPoolClient, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> UserPoolClient:
        properties = _properties(cloudformation_json)
        properties.pop("UserPoolId", None)
        properties.pop("GenerateSecret", None)
        _backend(account_id, region_name).update_user_pool_client(
            original_resource.user_pool_id, original_resource.physical_id, properties)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        pool = _backend(account_id, region_name).user_pools.get(self.user_pool_id)
        if pool is not None:
            pool.clients.pop(self.physical_id, None)


class UserPoolGroup(Handle, CloudFormationModel):
    """A group with its RoleArn and Precedence (SPEC G1). Ref: the group name."""

    def __init__(self, physical_id: str, user_pool_id: str) -> None:
        super().__init__(physical_id)
        self.user_pool_id = user_pool_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return "GroupName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolGroup"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> UserPoolGroup:
        properties = _properties(cloudformation_json)
        user_pool_id = properties["UserPoolId"]
        group = _backend(account_id, region_name).create_group(
            user_pool_id, resource_name, *_group_settings(properties))
        return cls(group.group_name, user_pool_id)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: UserPoolGroup, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> UserPoolGroup:
        properties = _properties(cloudformation_json)
        _backend(account_id, region_name).update_group(
            original_resource.user_pool_id, original_resource.physical_id,
            *_group_settings(properties))
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        pool = backend.user_pools.get(self.user_pool_id)
        if pool is not None and self.physical_id in pool.groups:
            backend.delete_group(self.user_pool_id, self.physical_id)


class UserPoolUserToGroupAttachment(Handle, CloudFormationModel):
    """An existing user added to a group (AdminAddUserToGroup)."""

    def __init__(self, physical_id: str, user_pool_id: str, group_name: str,
                 username: str) -> None:
        super().__init__(physical_id)
        self.user_pool_id = user_pool_id
        self.group_name = group_name
        self.username = username

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolUserToGroupAttachment"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> UserPoolUserToGroupAttachment:
        properties = _properties(cloudformation_json)
        pool_id, group, user = (properties["UserPoolId"], properties["GroupName"],
                                properties["Username"])
        _backend(account_id, region_name).admin_add_user_to_group(pool_id, group, user)
        return cls(resource_name, pool_id, group, user)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: UserPoolUserToGroupAttachment, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> UserPoolUserToGroupAttachment:
        """Another user or group: remove the old membership, add the new one."""
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        pool = backend.user_pools.get(self.user_pool_id)
        if pool is None or self.group_name not in pool.groups:
            return
        if pool._get_user(self.username) is not None:
            backend.admin_remove_user_from_group(self.user_pool_id, self.group_name,
                                                 self.username)
