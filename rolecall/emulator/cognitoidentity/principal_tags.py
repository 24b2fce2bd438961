"""Attributes for access control: the principal tags a session gets from its ID token (SPEC A1-A3).

- A1: SetPrincipalTagAttributeMap stores, per (pool, IdentityProviderName), `PrincipalTags`
  {tag key: claim name} and `UseDefaults`. The defaults of a user pool provider are the
  tag `username` <- claim `sub` and `client` <- claim `aud`: the API reference says
  "default (username and clientID) attribute mappings", the developer guide's "Default
  provider mappings" gives the claims for a Cognito user pool as "aud (client ID) and sub
  (user ID)", and users write the pair as `client = "aud"`, `username = "sub"` (field:
  hashicorp/terraform-provider-aws#17345). With UseDefaults and custom tags both given,
  rolecall applies both, a custom tag winning on the same key (assumed: pin it).
- A2: GetCredentialsForIdentity (enhanced flow) turns each mapped claim PRESENT in the ID
  token into a session tag, which every later request carries as
  `aws:PrincipalTag/<tag>` ("When Amazon Cognito requests credentials, it sets the value
  of the principal tag to the value of the user's claim", AWS::Cognito::IdentityPoolPrincipalTag);
  a missing claim sets no tag; a claim that is a list or object sets none either
  (assumed: pin it). Guests have no provider and so no tags (assumed: pin it).
- A3: passing session tags needs `sts:TagSession` in the role's trust policy
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html, "Permissions
  required to add session tags"); `trust.check_tag_session` refuses otherwise.

Every fault of these rules is checked at the line it bends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rolecall.emulator.cognitoidentity.exceptions import invalid_parameter, not_found
from rolecall.emulator.cognitoidentity.logins import VerifiedLogin
from rolecall.emulator.cognitoidentity.pools import Identity, IdentityPool, PrincipalTagMap
from rolecall.emulator.faults import Faults

__all__ = ["DEFAULT_TAGS", "PRINCIPAL_TAG", "get_map", "session_tags", "set_map", "tag_context"]

DEFAULT_TAGS = {"username": "sub", "client": "aud"}  # tag key -> claim (user pool provider)
PRINCIPAL_TAG = "aws:PrincipalTag/"
# assumed (no public source quotes these refusals): pin them
NOT_A_PROVIDER = "{name} is not a configured identity provider of identity pool {pool}."
NO_MAP = "No principal tag attribute map for identity provider {name} in identity pool {pool}."


def set_map(pool: IdentityPool, provider_name: str, use_defaults: bool,
            tags: Mapping[str, str]) -> PrincipalTagMap:
    """Store a provider's map; the provider must be one the pool is configured with."""
    if provider_name not in pool.provider_names():
        raise invalid_parameter(NOT_A_PROVIDER.format(name=provider_name,
                                                      pool=pool.identity_pool_id))
    stored = PrincipalTagMap(provider_name, use_defaults, dict(tags))
    pool.principal_tag_maps[provider_name] = stored
    return stored


def get_map(pool: IdentityPool, provider_name: str) -> PrincipalTagMap:
    stored = pool.principal_tag_maps.get(provider_name)
    if stored is None:
        raise not_found(NO_MAP.format(name=provider_name, pool=pool.identity_pool_id))
    return stored


def session_tags(pool: IdentityPool, login: VerifiedLogin | None, identity: Identity,
                 faults: Faults) -> dict[str, str]:
    """The session tags of one GetCredentialsForIdentity: mapped claims present in the token."""
    if login is None:
        return {}  # a guest: no provider, no claims
    stored = pool.principal_tag_maps.get(login.provider_name)
    if stored is None:
        return {}
    wanted = dict(_defaults(faults)) if stored.use_defaults else {}
    wanted.update(stored.principal_tags)
    claims: Mapping[str, Any] = login.claims
    if faults.on("tags-from-first-login"):
        claims = identity.first_claims.get(login.provider_name, claims)  # fault: stale values
    tags: dict[str, str] = {}
    for tag, claim in wanted.items():
        value = _tag_value(claims.get(claim))
        if value is None and faults.on("tags-missing-claim-empty"):
            value = ""  # fault: a missing claim becomes an empty tag
        if value is not None:
            tags[tag] = value
    return tags


def _defaults(faults: Faults) -> dict[str, str]:
    if faults.on("tags-default-mapping-swapped"):
        return {"username": "aud", "client": "sub"}  # fault: the two claims swapped
    return DEFAULT_TAGS


def _tag_value(claim: Any) -> str | None:
    """A scalar claim as tag text; lists, objects and absent claims set no tag."""
    if isinstance(claim, bool):
        return "true" if claim else "false"
    if isinstance(claim, str | int | float):
        return str(claim)
    return None


def tag_context(tags: Mapping[str, str]) -> dict[str, list[str]]:
    """The request-context keys a tagged session carries: aws:PrincipalTag/<key>."""
    return {f"{PRINCIPAL_TAG}{key}": [value] for key, value in tags.items()}
