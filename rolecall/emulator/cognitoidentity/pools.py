"""Identity pools as data: their configuration, role mappings and identities (P1-P3).

The backend (`models.py`) keeps these; the rule modules (`logins.py`, `mapping.py`,
`trust.py`) read them. They live apart from the backend so that every module can
name them without importing the backend that imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rolecall.emulator.state import ACCOUNT_ID


@dataclass(frozen=True)
class MappingRule:
    """One rule of a Rules mapping (P3, E9)."""

    claim: str
    match_type: str
    value: str
    role_arn: str

    def to_json(self) -> dict[str, str]:
        return {"Claim": self.claim, "MatchType": self.match_type, "Value": self.value,
                "RoleARN": self.role_arn}


@dataclass(frozen=True)
class RoleMapping:
    """How one provider's users get a role (P3)."""

    type: str
    ambiguous_role_resolution: str | None = None
    rules: list[MappingRule] | None = None

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"Type": self.type}
        if self.ambiguous_role_resolution is not None:
            result["AmbiguousRoleResolution"] = self.ambiguous_role_resolution
        if self.rules is not None:
            result["RulesConfiguration"] = {"Rules": [rule.to_json() for rule in self.rules]}
        return result


@dataclass(frozen=True)
class CognitoProvider:
    """A user pool app client that may sign in to the pool (P1)."""

    provider_name: str
    client_id: str | None = None
    server_side_token_check: bool = False

    @property
    def mapping_key(self) -> str:
        """The RoleMappings key for this provider: `<ProviderName>:<ClientId>` (P2)."""
        return f"{self.provider_name}:{self.client_id}"

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"ProviderName": self.provider_name}
        if self.client_id is not None:
            result["ClientId"] = self.client_id
        result["ServerSideTokenCheck"] = self.server_side_token_check
        return result


@dataclass(frozen=True)
class PoolSettings:
    """Everything Create/UpdateIdentityPool set. None means "not given" and stays absent."""

    name: str
    allow_unauthenticated: bool
    allow_classic_flow: bool | None = None
    supported_login_providers: dict[str, str] | None = None
    developer_provider_name: str | None = None
    open_id_connect_provider_arns: list[str] | None = None
    cognito_identity_providers: list[CognitoProvider] | None = None
    saml_provider_arns: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "IdentityPoolName": self.name,
            "AllowUnauthenticatedIdentities": self.allow_unauthenticated,
        }
        if self.allow_classic_flow is not None:  # C2: unset must stay unset
            result["AllowClassicFlow"] = self.allow_classic_flow
        if self.supported_login_providers is not None:
            result["SupportedLoginProviders"] = dict(self.supported_login_providers)
        if self.developer_provider_name is not None:
            result["DeveloperProviderName"] = self.developer_provider_name
        if self.open_id_connect_provider_arns is not None:
            result["OpenIdConnectProviderARNs"] = list(self.open_id_connect_provider_arns)
        if self.cognito_identity_providers is not None:
            result["CognitoIdentityProviders"] = [
                provider.to_json() for provider in self.cognito_identity_providers
            ]
        if self.saml_provider_arns is not None:
            result["SamlProviderARNs"] = list(self.saml_provider_arns)
        return result

    @property
    def providers(self) -> list[CognitoProvider]:
        return list(self.cognito_identity_providers or [])


@dataclass(frozen=True)
class PrincipalTagMap:
    """Attributes for access control of one provider (SPEC A1): tag key -> claim name.

    Stored as SetPrincipalTagAttributeMap gives it; `UseDefaults` adds the provider's
    default tags when credentials are issued (principal_tags.py).
    """

    provider_name: str
    use_defaults: bool
    principal_tags: dict[str, str]

    def to_json(self, pool_id: str) -> dict[str, Any]:
        return {"IdentityPoolId": pool_id, "IdentityProviderName": self.provider_name,
                "UseDefaults": self.use_defaults, "PrincipalTags": dict(self.principal_tags)}


@dataclass
class IdentityPool:
    identity_pool_id: str
    region: str
    settings: PoolSettings
    tags: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    role_mappings: dict[str, RoleMapping] = field(default_factory=dict)
    # provider name -> its attributes for access control (SPEC A1)
    principal_tag_maps: dict[str, PrincipalTagMap] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return (f"arn:aws:cognito-identity:{self.region}:{ACCOUNT_ID}:identitypool/"
                f"{self.identity_pool_id}")

    def to_json(self) -> dict[str, Any]:
        result = {"IdentityPoolId": self.identity_pool_id, **self.settings.to_json()}
        if self.tags:
            result["IdentityPoolTags"] = dict(self.tags)
        return result

    def providers_named(self, provider_name: str) -> list[CognitoProvider]:
        return [p for p in self.settings.providers if p.provider_name == provider_name]

    def provider_names(self) -> set[str]:
        """Every identity provider the pool is configured with: user pools and social
        providers by their Logins name, OIDC providers by ARN (as terraform's acceptance
        test names one) or issuer, SAML providers by ARN."""
        names = {provider.provider_name for provider in self.settings.providers}
        names.update(self.settings.supported_login_providers or {})
        for arn in self.settings.open_id_connect_provider_arns or []:
            names.update((arn, arn.rsplit("oidc-provider/", 1)[-1]))  # the ARN or its issuer
        names.update(self.settings.saml_provider_arns or [])
        return names

    def mapping_keys(self) -> set[str]:
        """The RoleMappings keys this pool accepts: its user pool clients and other providers."""
        keys = {provider.mapping_key for provider in self.settings.providers}
        keys.update(self.settings.supported_login_providers or {})
        for arn in self.settings.open_id_connect_provider_arns or []:
            keys.add(arn.rsplit("oidc-provider/", 1)[-1])
        return keys


@dataclass
class Identity:
    identity_id: str
    identity_pool_id: str
    created: float
    last_modified: float
    # Logins key (provider name) -> the login's subject, e.g. the user pool `sub`
    logins: dict[str, str] = field(default_factory=dict)
    # provider name -> the claims of the first login linked (read only by the fault
    # tags-from-first-login, an implementation that caches tag values at first sign-in)
    first_claims: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def authenticated(self) -> bool:
        return bool(self.logins)

    def to_json(self) -> dict[str, Any]:
        return {
            "IdentityId": self.identity_id,
            "Logins": list(self.logins),
            "CreationDate": self.created,
            "LastModifiedDate": self.last_modified,
        }
