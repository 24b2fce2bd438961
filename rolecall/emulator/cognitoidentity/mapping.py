"""RoleMappings and role choice: which role an identity gets, and how it is narrowed.

By SPEC id:

- E5      a guest gets `Roles.unauthenticated`, scoped down by the AWS-managed
          session policy below (`guest_role`)
- E6      an authenticated identity whose provider has no RoleMapping gets
          `Roles.authenticated`
- E7, E8  Token mappings: CustomRoleArn, else `cognito:preferred_role`, else
          AmbiguousRoleResolution
- E9, E10 Rules mappings: the first matching rule wins (`rule_matches`)
- E12     AmbiguousRoleResolution Deny: NotAuthorizedException
- P3      a RoleMapping (`RoleMapping`, `MappingRule`, in pools.py) and its shape, checked by
          SetIdentityPoolRoles (`validate_mapping`)

Whether the chosen role may actually be assumed is `trust.py`'s question (E11).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rolecall.emulator.cognitoidentity.exceptions import (
    AMBIGUOUS_DENIED,
    CUSTOM_ROLE_DENIED,
    invalid_configuration,
    invalid_parameter,
    not_authorized,
)
from rolecall.emulator.cognitoidentity.logins import VerifiedLogin
from rolecall.emulator.cognitoidentity.pools import IdentityPool, MappingRule, RoleMapping
from rolecall.emulator.faults import Faults

MAX_RULES = 25  # P3: the developer guide allows 25 rules per mapping (the API model says 400)

# The AWS-managed scope-down policy for guests of the enhanced flow (SPEC E5), version v3
# (edited 2024-11-01; moto bundles a copy too: rolecall.emulator.iam.roles.aws_managed_policy),
# as published at
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonCognitoUnAuthedIdentitiesSessionPolicy.html
# The published list does NOT contain DynamoDB, so guests of the enhanced flow cannot call
# DynamoDB whatever their role allows. SPEC E5 had assumed the opposite; docs/semantics.md
# records the correction with this source.
UNAUTH_SESSION_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "CognitoUnAuthedIdentitiesSessionPolicy",
            "Effect": "Allow",
            "Action": [
                "rum:PutRumEvents",
                "sagemaker:InvokeEndpoint",
                "polly:*",
                "comprehend:*",
                "translate:*",
                "transcribe:*",
                "rekognition:*",
                "mobiletargeting:*",
                "firehose:*",
                "personalize:*",
                "geo:GetMap*",
                "geo:ListMaps",  # in moto 5.2.5's bundled copy (a later version), not in v3
                "geo:SearchPlaceIndex*",
                "geo:GetPlace",
                "geo:CalculateRoute*",
                "geo:*Geofence",
                "geo:*Geofences",
                "geo:*DevicePosition*",
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncryptTo",
                "kms:ReEncryptFrom",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyPair",
                "kms:GenerateDataKeyPairWithoutPlaintext",
                "kms:GenerateDataKeyWithoutPlaintext",
            ],
            "Resource": "*",
        }
    ],
}


def guest_role(pool: IdentityPool, faults: Faults) -> tuple[str, list[dict[str, Any]]]:
    """E5: a guest's role and the session policy that narrows it."""
    role_arn = pool.roles.get("unauthenticated")
    if not role_arn:
        raise invalid_configuration()
    policies = [] if faults.on("guest-scope-down-skipped") else [UNAUTH_SESSION_POLICY]
    return role_arn, policies


def _as_list(value: Any) -> list[str]:
    """A claim as a list of strings: arrays stay arrays, scalars become one element."""
    if value is None:
        return []
    if isinstance(value, list):
        return [_claim_text(item) for item in value]
    if isinstance(value, str) and "," in value:  # an old-style comma-separated cognito:roles
        return [part.strip() for part in value.split(",") if part.strip()]
    return [_claim_text(value)]


def _claim_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rule_matches(rule: MappingRule, claims: Mapping[str, Any], faults: Faults) -> bool:
    """E9/E10: does one rule match the token's claims? Arrays match if any element does."""
    raw = _claim(claims, rule.claim, faults)
    if raw is None:
        # E9: a missing claim matches nothing, not even NotEqual
        return rule.match_type == "NotEqual" and faults.on("rules-notequal-matches-missing")
    values = _claim_values(raw, faults)
    match_type = rule.match_type
    if match_type == "Equals" and faults.on("rules-equals-as-contains"):
        match_type = "Contains"
    elif match_type == "Contains" and faults.on("rules-contains-as-equals"):
        match_type = "Equals"
    fold = _case_fold(match_type, faults)
    wanted = fold(rule.value)
    values = [fold(value) for value in values]
    if match_type == "Equals":
        return wanted in values
    if match_type == "Contains":
        if faults.on("rules-contains-as-startswith"):
            return any(value.startswith(wanted) for value in values)
        return any(wanted in value for value in values)
    if match_type == "StartsWith":
        if faults.on("rules-startswith-ignored"):
            return False
        if faults.on("rules-startswith-as-contains"):
            return any(wanted in value for value in values)
        return any(value.startswith(wanted) for value in values)
    if match_type == "NotEqual":
        if faults.on("rules-notequal-any-element"):
            return any(value != wanted for value in values)
        return wanted not in values
    return False


def _claim(claims: Mapping[str, Any], name: str, faults: Faults) -> Any:
    """The claim a rule names; claim names are case-sensitive (`custom:team`, not `custom:Team`)."""
    if faults.on("rules-claim-ignores-case"):
        return next((v for k, v in claims.items() if k.lower() == name.lower()), None)
    return claims.get(name)


def _claim_values(raw: Any, faults: Faults) -> list[str]:
    """Every element of a multi-valued claim takes part (E10); a scalar is one value."""
    if not isinstance(raw, list):
        return [_claim_text(raw)]
    values = [_claim_text(v) for v in raw]
    if faults.on("rules-multivalued-first-only"):
        return values[:1]
    if faults.on("rules-multivalued-joined"):
        return [",".join(values)]
    return values


_CASE_FAULTS = {"Equals": "rules-equals-ignores-case", "Contains": "rules-contains-ignores-case",
                "StartsWith": "rules-startswith-ignores-case",
                "NotEqual": "rules-notequal-ignores-case"}


def _case_fold(match_type: str, faults: Faults) -> Any:
    """Rule values compare case-sensitively (assumed, like every string in a token)."""
    fault = _CASE_FAULTS.get(match_type)
    if fault is not None and faults.on(fault):
        return str.casefold
    return str


def _default_authenticated_role(pool: IdentityPool, faults: Faults) -> str:
    """`Roles.authenticated` (E6); a pool without it cannot hand out credentials."""
    kind = "unauthenticated" if faults.on("unauth-role-for-authenticated") else "authenticated"
    role = pool.roles.get(kind)
    if not role:
        raise invalid_configuration()
    return role


def _ambiguous(pool: IdentityPool, mapping: RoleMapping, provider_name: str,
               faults: Faults) -> str:
    """AmbiguousRoleResolution (E7c, E8, E9, E12)."""
    if mapping.ambiguous_role_resolution == "Deny" and not faults.on("token-deny-falls-back"):
        if faults.on("deny-wrong-code"):
            raise invalid_configuration()
        raise not_authorized(AMBIGUOUS_DENIED.format(provider=provider_name))
    return _default_authenticated_role(pool, faults)


def _token_role(pool: IdentityPool, mapping: RoleMapping, login: VerifiedLogin,
                custom_role_arn: str | None, faults: Faults) -> str:
    """Token mapping (E7, E8): CustomRoleArn, else preferred role, else ambiguous."""
    allowed = _as_list(login.claims.get("cognito:roles"))
    if custom_role_arn:
        if custom_role_arn in allowed or faults.on("token-custom-role-unchecked"):
            return custom_role_arn
        if faults.on("token-custom-role-prefix") and any(custom_role_arn.startswith(role)
                                                          for role in allowed):
            return custom_role_arn
        raise not_authorized(CUSTOM_ROLE_DENIED)
    preferred = login.claims.get("cognito:preferred_role")
    if isinstance(preferred, str) and preferred and not faults.on("token-preferred-ignored"):
        return preferred
    if allowed and faults.on("token-no-preferred-first-role"):
        return allowed[0]
    if not allowed and faults.on("token-no-roles-authenticated"):
        return _default_authenticated_role(pool, faults)
    return _ambiguous(pool, mapping, login.provider_name, faults)


def _rules_role(pool: IdentityPool, mapping: RoleMapping, login: VerifiedLogin,
                custom_role_arn: str | None, faults: Faults) -> str:
    """Rules mapping (E9): the first matching rule wins; none -> ambiguous.

    A CustomRoleArn overrides the order: "the IAM role for the first matching rule is
    used, unless CustomRoleArn is specified to override the order" (developer guide,
    role-based access control). It must be the role of a matching rule; any other is
    refused as with a Token mapping (assumed by analogy with E7a: pin it).
    """
    rules = list(mapping.rules or [])
    if faults.on("rules-stored-reversed"):
        rules.reverse()
    if faults.on("rules-first-rule-only"):
        rules = rules[:1]
    elif faults.on("rules-first-five-only"):
        rules = rules[:5]
    matching = [rule for rule in rules if rule_matches(rule, login.claims, faults)]
    if custom_role_arn and not faults.on("rules-custom-role-ignored"):
        if any(rule.role_arn == custom_role_arn for rule in matching):
            return custom_role_arn
        raise not_authorized(CUSTOM_ROLE_DENIED)
    if matching:
        chosen = matching[-1] if faults.on("rules-last-match-wins") else matching[0]
        return chosen.role_arn
    if rules and faults.on("rules-no-match-first-rule"):
        return rules[0].role_arn
    return _ambiguous(pool, mapping, login.provider_name, faults)


def authenticated_role(pool: IdentityPool, login: VerifiedLogin, custom_role_arn: str | None,
                       faults: Faults) -> str:
    """The role an authenticated identity gets (E6-E10).

    The mapping is the one of the login's own provider, keyed `<ProviderName>:<ClientId>`
    (P2: RoleMappings say "how users for a specific identity provider are to mapped to
    roles", SetIdentityPoolRoles): a pool with two user pools as providers maps each
    pool's users by its own mapping, and a provider without one gets Roles.authenticated
    (E6) even when the other provider has a mapping.

    CustomRoleArn counts for Token mappings (a role of `cognito:roles`, E7a) and for
    Rules mappings (a role of a matching rule, overriding the order, E9); with no
    mapping it is ignored (assumed: the API reference describes it only for roles
    received in the token).
    """
    key = f"{login.provider_name}:{login.client_id}"
    if faults.on("mapping-first-provider-only") and pool.settings.providers:
        key = pool.settings.providers[0].mapping_key  # one mapping read for every login
    mapping = pool.role_mappings.get(key) \
        if not faults.on("mapping-lookup-provider-only") else None
    mapping = mapping or pool.role_mappings.get(login.provider_name)
    if mapping is None:
        return _default_authenticated_role(pool, faults)
    if mapping.type == "Token":
        return _token_role(pool, mapping, login, custom_role_arn, faults)
    return _rules_role(pool, mapping, login, custom_role_arn, faults)


def validate_mapping(key: str, mapping: RoleMapping) -> None:
    """P3: the shape of one RoleMapping, beyond what the wire types already guarantee."""
    if mapping.type not in ("Token", "Rules"):
        raise invalid_parameter(f"RoleMapping {key}: Type must be Token or Rules.")
    if mapping.ambiguous_role_resolution is None:
        raise invalid_parameter(
            f"RoleMapping {key}: AmbiguousRoleResolution must be specified for type {mapping.type}."
        )
    if mapping.ambiguous_role_resolution not in ("AuthenticatedRole", "Deny"):
        raise invalid_parameter(
            f"RoleMapping {key}: AmbiguousRoleResolution must be AuthenticatedRole or Deny."
        )
    if mapping.type != "Rules":
        return
    if mapping.rules is None:
        raise invalid_parameter(
            f"RoleMapping {key}: RulesConfiguration must be specified for type Rules."
        )
    if not 1 <= len(mapping.rules) <= MAX_RULES:
        raise invalid_parameter(
            f"RoleMapping {key}: RulesConfiguration.Rules must have between 1 and "
            f"{MAX_RULES} rules."
        )
    for rule in mapping.rules:
        if rule.match_type not in ("Equals", "Contains", "StartsWith", "NotEqual"):
            raise invalid_parameter(
                f"RoleMapping {key}: MatchType must be one of Equals, Contains, StartsWith, "
                "NotEqual."
            )
