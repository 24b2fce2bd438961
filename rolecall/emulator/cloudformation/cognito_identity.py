"""AWS::Cognito::IdentityPool, IdentityPoolRoleAttachment and IdentityPoolPrincipalTag.

CloudFormation creates these by calling the cognito-identity API, and so does
this module: each resource becomes a CreateIdentityPool / SetIdentityPoolRoles
request served by rolecall's own service (`cognitoidentity.responses.handle`),
so a template is validated exactly as the API validates it. The one thing
written here by hand is the translation CloudFormation does between its
property shapes and the API's:

- IdentityPoolTags: a list of {Key, Value} in CloudFormation, a map in the API;
  the stack's tags are added (AWS propagates them).
- RoleMappings: in CloudFormation a map keyed by any logical key, each entry
  naming its provider in `IdentityProvider` (the key itself when absent, see
  the AWS::Cognito::IdentityPoolRoleAttachment RoleMapping docs); the API keys
  the map by the provider. A provider the pool does not have fails the deploy
  with the API's InvalidParameterException (SPEC P2, aws-cdk#7670, #22951).
- CognitoEvents, CognitoStreams, PushSync (Cognito Sync) have no API here and
  are ignored.

Ref: the identity pool id for both types (a role attachment's physical id is
its pool's id on AWS: aws-cdk#27411 shows "<pool id> already exists in stack").

AWS::Cognito::IdentityPoolPrincipalTag (SPEC A1) is one SetPrincipalTagAttributeMap:
IdentityPoolId, IdentityProviderName, PrincipalTags (a JSON map tag -> claim) and
UseDefaults; Ref is "<pool id>|<provider name>" (the resource reference's example,
"us-east-1:1cf667a2-...|graph.facebook.com"). Deleting it removes the provider's map.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from werkzeug.datastructures import Headers

from rolecall.emulator.cloudformation.common import Handle, stack_tags, tag_list_to_map
from rolecall.emulator.cognitoidentity import responses
from rolecall.emulator.cognitoidentity.models import backend_for
from rolecall.emulator.errors import AwsError
from rolecall.emulator.state import CURRENT, EmulatorState
from rolecall.emulator.wire import Call

_POOL_SETTINGS = ("AllowUnauthenticatedIdentities", "AllowClassicFlow", "SupportedLoginProviders",
                  "DeveloperProviderName", "OpenIdConnectProviderARNs",
                  "CognitoIdentityProviders", "SamlProviderARNs")


def call_api(region: str, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """One cognito-identity API call, made the way CloudFormation makes it: over the API.

    The request goes through the service's own parameter checks and rules; an
    error is the AwsError a client would have received.
    """
    headers = Headers({
        "X-Amz-Target": f"AWSCognitoIdentityService.{operation}",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=cloudformation/20250101/"
                         f"{region}/cognito-identity/aws4_request",
    })
    call = Call(method="POST", scheme="https", host=f"cognito-identity.{region}.amazonaws.com",
                path="/", query_string="", headers=headers, body=json.dumps(body).encode())
    state = CURRENT.get(None) or EmulatorState()  # the emulator serving this deploy
    return responses.handle(state, call)


def _pool_request(name: str, properties: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"IdentityPoolName": name}
    body.update({key: properties[key] for key in _POOL_SETTINGS if key in properties})
    if tags:
        body["IdentityPoolTags"] = tags
    return body


class IdentityPool(Handle, CloudFormationModel):
    """An identity pool. GetAtt Name / Id."""

    ATTRIBUTES = {"Name": "name", "Id": "id"}

    def __init__(self, physical_id: str, region: str, **attributes: str) -> None:
        super().__init__(physical_id, **attributes)
        self.region = region

    @staticmethod
    def cloudformation_name_type() -> str:
        return "IdentityPoolName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::IdentityPool"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> IdentityPool:
        properties = dict(cloudformation_json.get("Properties") or {})
        tags = {**stack_tags(account_id, region_name, kwargs.get("StackId")),
                **tag_list_to_map(properties.get("IdentityPoolTags"))}
        pool = call_api(region_name, "CreateIdentityPool",
                        _pool_request(resource_name, properties, tags))
        return cls(pool["IdentityPoolId"], region_name, id=pool["IdentityPoolId"],
                   name=pool["IdentityPoolName"])

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: IdentityPool, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> IdentityPool:
        """UpdateIdentityPool replaces the whole configuration, as the template states it."""
        properties = dict(cloudformation_json.get("Properties") or {})
        body = _pool_request(new_resource_name, properties, {})
        body["IdentityPoolId"] = original_resource.physical_id
        body.pop("IdentityPoolTags", None)
        pool = call_api(region_name, "UpdateIdentityPool", body)
        original_resource.attributes["name"] = pool["IdentityPoolName"]
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = backend_for(self.region)
        if self.physical_id in backend.pools:
            call_api(self.region, "DeleteIdentityPool", {"IdentityPoolId": self.physical_id})


def role_mappings_request(mappings: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's RoleMappings (any key, `IdentityProvider` inside) -> the API's.

    The API map is keyed by the provider; every other field is the API's own
    (Type, AmbiguousRoleResolution, RulesConfiguration.Rules[Claim, MatchType,
    Value, RoleARN]) and is passed on for the API to check.
    """
    result: dict[str, Any] = {}
    for key, mapping in (mappings or {}).items():
        if not isinstance(mapping, dict):
            raise AwsError("InvalidParameterException",
                           f"RoleMappings.{key}: expected a RoleMapping structure.")
        entry = dict(mapping)
        provider = entry.pop("IdentityProvider", None) or key
        result[str(provider)] = entry
    return result


class IdentityPoolRoleAttachment(Handle, CloudFormationModel):
    """The pool's Roles and RoleMappings (SetIdentityPoolRoles). Ref: the pool id."""

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::IdentityPoolRoleAttachment"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> IdentityPoolRoleAttachment:
        properties = dict(cloudformation_json.get("Properties") or {})
        pool_id = properties.get("IdentityPoolId")
        if not isinstance(pool_id, str):
            raise AwsError("InvalidParameterException",
                           "IdentityPoolRoleAttachment: IdentityPoolId is required.")
        cls._set_roles(pool_id, properties)
        return cls(pool_id)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: IdentityPoolRoleAttachment, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> IdentityPoolRoleAttachment:
        properties = dict(cloudformation_json.get("Properties") or {})
        cls._set_roles(original_resource.physical_id, properties)
        return original_resource

    @staticmethod
    def _set_roles(pool_id: str, properties: dict[str, Any]) -> None:
        body: dict[str, Any] = {"IdentityPoolId": pool_id,
                                "Roles": properties.get("Roles") or {}}
        mappings = role_mappings_request(properties.get("RoleMappings") or {})
        if mappings:
            body["RoleMappings"] = mappings
        call_api(_region_of(pool_id), "SetIdentityPoolRoles", body)

    def delete(self, account_id: str, region_name: str) -> None:
        """Clear roles and mappings; nothing to do when the pool went first."""
        if self.physical_id in backend_for(_region_of(self.physical_id)).pools:
            call_api(_region_of(self.physical_id), "SetIdentityPoolRoles",
                     {"IdentityPoolId": self.physical_id, "Roles": {}})


def _region_of(pool_id: str) -> str:
    return pool_id.split(":", 1)[0]


class IdentityPoolPrincipalTag(Handle, CloudFormationModel):
    """A provider's attributes for access control. Ref: "<pool id>|<provider name>"."""

    def __init__(self, pool_id: str, provider_name: str) -> None:
        super().__init__(f"{pool_id}|{provider_name}")
        self.pool_id = pool_id
        self.provider_name = provider_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::IdentityPoolPrincipalTag"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> IdentityPoolPrincipalTag:
        properties = dict(cloudformation_json.get("Properties") or {})
        pool_id, provider = properties.get("IdentityPoolId"), properties.get("IdentityProviderName")
        if not isinstance(pool_id, str) or not isinstance(provider, str):
            raise AwsError("InvalidParameterException", "IdentityPoolPrincipalTag: "
                           "IdentityPoolId and IdentityProviderName are required.")
        cls._set(pool_id, provider, properties)
        return cls(pool_id, provider)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: IdentityPoolPrincipalTag, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> IdentityPoolPrincipalTag:
        """PrincipalTags and UseDefaults update in place (the pool and provider replace)."""
        properties = dict(cloudformation_json.get("Properties") or {})
        cls._set(original_resource.pool_id, original_resource.provider_name, properties)
        return original_resource

    @staticmethod
    def _set(pool_id: str, provider: str, properties: dict[str, Any]) -> None:
        tags = properties.get("PrincipalTags") or {}
        if isinstance(tags, str):  # a Json property may arrive as text
            tags = json.loads(tags)
        body: dict[str, Any] = {"IdentityPoolId": pool_id, "IdentityProviderName": provider,
                                "PrincipalTags": tags,
                                "UseDefaults": bool(properties.get("UseDefaults", False))}
        call_api(_region_of(pool_id), "SetPrincipalTagAttributeMap", body)

    def delete(self, account_id: str, region_name: str) -> None:
        pool = backend_for(_region_of(self.pool_id)).pools.get(self.pool_id)
        if pool is not None:
            pool.principal_tag_maps.pop(self.provider_name, None)
