"""cognito-identity on the wire: awsJson 1.1 in, a JSON result (or an AwsError) out.

Each operation reads its parameters through `Params`, which rejects what AWS
rejects before any state changes: a missing required parameter or a value of
the wrong type is an InvalidParameterException naming the parameter. The
rules themselves live in `models.py` and the modules it calls.

Most calls of the enhanced flow (GetId, GetCredentialsForIdentity,
GetOpenIdToken) are unsigned, so the region comes from the pool or identity
id (`<region>:<uuid>`), not from the signature.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rolecall.emulator.cognitoidentity.exceptions import (
    invalid_parameter,
    not_found,
    unknown_operation,
)
from rolecall.emulator.cognitoidentity.models import (
    CREDENTIALS_SECONDS,
    SESSION_NAME,
    CognitoIdentityBackend,
    backend_for,
)
from rolecall.emulator.cognitoidentity.pools import (
    CognitoProvider,
    IdentityPool,
    MappingRule,
    PoolSettings,
    RoleMapping,
)
from rolecall.emulator.errors import AwsError
from rolecall.emulator.state import EmulatorState
from rolecall.emulator.wire import Call, invalid_member

_POOL_ID = re.compile(r"^[\w-]+:[0-9a-f-]+$")
_POOL_NAME = re.compile(r"^[\w\s+=,.@-]+$")
_ROLE_TYPE = re.compile(r"^(un)?authenticated$")
_ARN_REGION = re.compile(r"^arn:[^:]+:cognito-identity:([^:]+):")

Result = dict[str, Any]


class Params:
    """Typed access to a request's JSON members, failing the way AWS validation does."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def _name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name)
        if value is None and required:
            raise invalid_parameter(
                invalid_member(self._name(name), "Member must not be null", null=True))
        return value

    def _wrong_type(self, name: str, kind: str) -> AwsError:
        return invalid_parameter(f"Invalid type for parameter {self._name(name)}: expected {kind}.")

    def _too_many(self, name: str, max_entries: int) -> AwsError:
        return invalid_parameter(invalid_member(
            self._name(name), f"Member must have at most {max_entries} entries"))

    def _length(self, name: str, text: str, low: int, high: int) -> None:
        if not low <= len(text) <= high:
            raise invalid_parameter(invalid_member(
                self._name(name), f"Member must have length between {low} and {high}"))

    def string(self, name: str, required: bool = False, low: int = 1, high: int = 2048,
               pattern: re.Pattern[str] | None = None) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong_type(name, "a string")
        self._length(name, value, low, high)
        if pattern is not None and not pattern.match(value):
            raise invalid_parameter(invalid_member(
                self._name(name), f"Member must satisfy regular expression pattern: {pattern.pattern}"))
        return value

    def required_string(self, name: str, low: int = 1, high: int = 2048,
                        pattern: re.Pattern[str] | None = None) -> str:
        value = self.string(name, True, low, high, pattern)
        assert value is not None
        return value

    def boolean(self, name: str, required: bool = False) -> bool | None:
        value = self._get(name, required)
        if value is not None and not isinstance(value, bool):
            raise self._wrong_type(name, "a boolean")
        return value

    def integer(self, name: str, required: bool = False, low: int = 1,
                high: int = 60) -> int | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong_type(name, "an integer")
        if not low <= value <= high:
            raise invalid_parameter(invalid_member(
                self._name(name), f"Member must have value between {low} and {high}", value=str(value)))
        return value

    def string_map(self, name: str, required: bool = False, high: int = 2048,
                   max_entries: int | None = None) -> dict[str, str] | None:
        """A map of strings. Values are never echoed: Logins values are tokens."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self._wrong_type(name, "a map of strings")
        if max_entries is not None and len(value) > max_entries:
            raise self._too_many(name, max_entries)
        for key, item in value.items():
            if not key or not 1 <= len(item) <= high:
                raise invalid_parameter(invalid_member(
                    f"{self._name(name)}.{key}", f"Member must have length between 1 and {high}"))
        return dict(value)

    def string_list(self, name: str, required: bool = False) -> list[str] | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._wrong_type(name, "a list of strings")
        return list(value)

    def objects(self, name: str, required: bool = False) -> list[Params] | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self._wrong_type(name, "a list of structures")
        return [Params(item, f"{self._name(name)}.{i + 1}.member.") for i, item in enumerate(value)]

    def obj(self, name: str, required: bool = False) -> Params | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._wrong_type(name, "a structure")
        return Params(value, f"{self._name(name)}.")

    def object_map(self, name: str, max_entries: int) -> dict[str, Params] | None:
        value = self._get(name, False)
        if value is None:
            return None
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise self._wrong_type(name, "a map of structures")
        if len(value) > max_entries:
            raise self._too_many(name, max_entries)
        return {key: Params(item, f"{self._name(name)}.{key}.") for key, item in value.items()}


# ---------------------------------------------------------------------------
# Shared readers
# ---------------------------------------------------------------------------


def _pool_id(params: Params, name: str = "IdentityPoolId") -> str:
    return params.required_string(name, 1, 55, _POOL_ID)


def _backend_of(resource_id: str) -> CognitoIdentityBackend:
    """Pool and identity ids start with their region."""
    return backend_for(resource_id.split(":", 1)[0])


def _pool_settings(params: Params) -> PoolSettings:
    providers = params.objects("CognitoIdentityProviders")
    return PoolSettings(
        name=params.required_string("IdentityPoolName", 1, 128, _POOL_NAME),
        allow_unauthenticated=bool(params.boolean("AllowUnauthenticatedIdentities", True)),
        allow_classic_flow=params.boolean("AllowClassicFlow"),
        supported_login_providers=params.string_map("SupportedLoginProviders", high=128,
                                                    max_entries=10),
        developer_provider_name=params.string("DeveloperProviderName", high=128),
        open_id_connect_provider_arns=params.string_list("OpenIdConnectProviderARNs"),
        cognito_identity_providers=None if providers is None
        else [_provider(entry) for entry in providers],
        saml_provider_arns=params.string_list("SamlProviderARNs"),
    )


def _provider(params: Params) -> CognitoProvider:
    return CognitoProvider(
        provider_name=params.required_string("ProviderName", 1, 128),
        client_id=params.string("ClientId", high=128),
        server_side_token_check=bool(params.boolean("ServerSideTokenCheck")),
    )


def _tags(params: Params, name: str, required: bool = False) -> dict[str, str] | None:
    return params.string_map(name, required, high=256)


def _role_mapping(params: Params) -> RoleMapping:
    rules_configuration = params.obj("RulesConfiguration")
    rules = None
    if rules_configuration is not None:
        entries = rules_configuration.objects("Rules", required=True) or []
        rules = [_rule(entry) for entry in entries]
    return RoleMapping(
        type=params.required_string("Type", 1, 16),
        ambiguous_role_resolution=params.string("AmbiguousRoleResolution", high=32),
        rules=rules,
    )


def _rule(params: Params) -> MappingRule:
    return MappingRule(
        claim=params.required_string("Claim", 1, 64),
        match_type=params.required_string("MatchType", 1, 16),
        value=params.required_string("Value", 1, 128),
        role_arn=params.required_string("RoleARN", 20, 2048),
    )


def _roles_of(pool: IdentityPool) -> Result:
    result: Result = {"IdentityPoolId": pool.identity_pool_id, "Roles": dict(pool.roles)}
    if pool.role_mappings:
        result["RoleMappings"] = {k: m.to_json() for k, m in pool.role_mappings.items()}
    return result


def _logins(params: Params) -> dict[str, str]:
    return params.string_map("Logins", high=50000, max_entries=10) or {}


# ---------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------


def create_identity_pool(state: EmulatorState, call: Call, params: Params) -> Result:
    settings = _pool_settings(params)
    tags = _tags(params, "IdentityPoolTags") or {}
    return backend_for(call.region).create_identity_pool(settings, tags).to_json()


def describe_identity_pool(state: EmulatorState, call: Call, params: Params) -> Result:
    pool_id = _pool_id(params)
    return _backend_of(pool_id).describe_identity_pool(pool_id).to_json()


def update_identity_pool(state: EmulatorState, call: Call, params: Params) -> Result:
    pool_id = _pool_id(params)
    settings = _pool_settings(params)
    tags = _tags(params, "IdentityPoolTags")
    return _backend_of(pool_id).update_identity_pool(pool_id, settings, tags).to_json()


def delete_identity_pool(state: EmulatorState, call: Call, params: Params) -> Result:
    pool_id = _pool_id(params)
    _backend_of(pool_id).delete_identity_pool(pool_id)
    return {}


def list_identity_pools(state: EmulatorState, call: Call, params: Params) -> Result:
    max_results = params.integer("MaxResults", True, 1, 60) or 1
    next_token = params.string("NextToken", high=65535)
    pools, token = backend_for(call.region).list_identity_pools(max_results, next_token)
    result: Result = {"IdentityPools": [
        {"IdentityPoolId": p.identity_pool_id, "IdentityPoolName": p.settings.name} for p in pools
    ]}
    if token:
        result["NextToken"] = token
    return result


def _arn_backend(params: Params) -> tuple[str, CognitoIdentityBackend]:
    arn = params.required_string("ResourceArn", 20, 2048)
    match = _ARN_REGION.match(arn)
    if match is None:
        raise not_found(f"Resource '{arn}' not found.")
    return arn, backend_for(match.group(1))


def tag_resource(state: EmulatorState, call: Call, params: Params) -> Result:
    arn, backend = _arn_backend(params)
    backend.tag_resource(arn, _tags(params, "Tags", required=True) or {})
    return {}


def untag_resource(state: EmulatorState, call: Call, params: Params) -> Result:
    arn, backend = _arn_backend(params)
    backend.untag_resource(arn, params.string_list("TagKeys", required=True) or [])
    return {}


def list_tags_for_resource(state: EmulatorState, call: Call, params: Params) -> Result:
    arn, backend = _arn_backend(params)
    return {"Tags": backend.list_tags_for_resource(arn)}


def set_identity_pool_roles(state: EmulatorState, call: Call, params: Params) -> Result:
    pool_id = _pool_id(params)
    roles = params.string_map("Roles", required=True, max_entries=2) or {}
    for kind, arn in roles.items():
        if not _ROLE_TYPE.match(kind):
            raise invalid_parameter(invalid_member(
                "Roles", "Map keys must satisfy constraint: [Member must satisfy regular "
                f"expression pattern: (un)?authenticated]; got key '{kind}'"))
        if len(arn) < 20:
            raise invalid_parameter(f"Roles.{kind}: the role ARN is not valid.")
    raw_mappings = params.object_map("RoleMappings", max_entries=10) or {}
    mappings = {key: _role_mapping(value) for key, value in raw_mappings.items()}
    _backend_of(pool_id).set_identity_pool_roles(pool_id, roles, mappings)
    return {}


def get_identity_pool_roles(state: EmulatorState, call: Call, params: Params) -> Result:
    pool_id = _pool_id(params)
    return _roles_of(_backend_of(pool_id).get_identity_pool_roles(pool_id))


def set_principal_tag_attribute_map(state: EmulatorState, call: Call, params: Params) -> Result:
    """SPEC A1; the model's limits (50 tags, keys 1..128, claims 1..256) are the edge's."""
    pool_id = _pool_id(params)
    provider = params.required_string("IdentityProviderName", 1, 128)
    use_defaults = bool(params.boolean("UseDefaults"))
    tags = params.string_map("PrincipalTags", high=256, max_entries=50) or {}
    stored = _backend_of(pool_id).set_principal_tag_attribute_map(pool_id, provider,
                                                                  use_defaults, tags)
    return stored.to_json(pool_id)


def get_principal_tag_attribute_map(state: EmulatorState, call: Call, params: Params) -> Result:
    pool_id = _pool_id(params)
    provider = params.required_string("IdentityProviderName", 1, 128)
    return _backend_of(pool_id).get_principal_tag_attribute_map(pool_id, provider).to_json(pool_id)


def get_id(state: EmulatorState, call: Call, params: Params) -> Result:
    pool_id = _pool_id(params)
    params.string("AccountId", high=15)
    identity = _backend_of(pool_id).get_id(state, pool_id, _logins(params))
    return {"IdentityId": identity.identity_id}


def _lifetime(state: EmulatorState) -> int:
    """E13: enhanced-flow credentials last one hour."""
    if state.faults.on("credentials-lifetime-12h"):
        return 12 * CREDENTIALS_SECONDS
    if state.faults.on("credentials-lifetime-15m"):
        return CREDENTIALS_SECONDS // 4
    return CREDENTIALS_SECONDS


def _session_name(state: EmulatorState) -> str:
    """E13: the session of the assumed-role ARN is CognitoIdentityCredentials."""
    return "CognitoIdentitySession" if state.faults.on("session-name-wrong") else SESSION_NAME


def get_credentials_for_identity(state: EmulatorState, call: Call, params: Params) -> Result:
    identity_id = _pool_id(params, "IdentityId")
    logins = _logins(params)
    custom_role_arn = params.string("CustomRoleArn", low=20, high=2048)
    grant = _backend_of(identity_id).get_credentials_for_identity(
        state, identity_id, logins, custom_role_arn
    )
    session = state.issue_session(grant.role_arn, _session_name(state), _lifetime(state),
                                  session_policies=grant.session_policies,
                                  context=grant.context)
    return {
        "IdentityId": identity_id,
        "Credentials": {
            "AccessKeyId": session.access_key_id,
            "SecretKey": session.secret_access_key,
            "SessionToken": session.session_token,
            "Expiration": session.expiration,
        },
    }


def get_open_id_token(state: EmulatorState, call: Call, params: Params) -> Result:
    identity_id = _pool_id(params, "IdentityId")
    token = _backend_of(identity_id).get_open_id_token(state, identity_id, _logins(params))
    return {"IdentityId": identity_id, "Token": token}


def describe_identity(state: EmulatorState, call: Call, params: Params) -> Result:
    identity_id = _pool_id(params, "IdentityId")
    return _backend_of(identity_id).describe_identity(identity_id).to_json()


def list_identities(state: EmulatorState, call: Call, params: Params) -> Result:
    pool_id = _pool_id(params)
    max_results = params.integer("MaxResults", True, 1, 60) or 1
    next_token = params.string("NextToken", high=65535)
    params.boolean("HideDisabled")
    identities, token = _backend_of(pool_id).list_identities(pool_id, max_results, next_token)
    result: Result = {"IdentityPoolId": pool_id,
                      "Identities": [identity.to_json() for identity in identities]}
    if token:
        result["NextToken"] = token
    return result


Operation = Callable[[EmulatorState, Call, Params], Result]

OPERATIONS: dict[str, Operation] = {
    "CreateIdentityPool": create_identity_pool,
    "DescribeIdentityPool": describe_identity_pool,
    "UpdateIdentityPool": update_identity_pool,
    "DeleteIdentityPool": delete_identity_pool,
    "ListIdentityPools": list_identity_pools,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "SetIdentityPoolRoles": set_identity_pool_roles,
    "GetIdentityPoolRoles": get_identity_pool_roles,
    "SetPrincipalTagAttributeMap": set_principal_tag_attribute_map,
    "GetPrincipalTagAttributeMap": get_principal_tag_attribute_map,
    "GetId": get_id,
    "GetCredentialsForIdentity": get_credentials_for_identity,
    "GetOpenIdToken": get_open_id_token,
    "DescribeIdentity": describe_identity,
    "ListIdentities": list_identities,
}


def handle(state: EmulatorState, call: Call) -> Result:
    """Serve one cognito-identity call; errors are raised as AwsError."""
    operation = OPERATIONS.get(call.operation)
    if operation is None:
        raise unknown_operation(call.operation)
    return operation(state, call, Params(call.json()))
