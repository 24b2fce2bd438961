"""Named deviations from AWS behaviour, switched on at start-up.

A fault is a small, documented lie the emulator can tell
(`rolecall emulator --fault precedence-highest-wins`). The mutation run starts
the emulator with one fault at a time and counts how many the conformance suite
notices; a fault nobody notices is a blind spot in the suite.

The code that a fault bends checks `state.faults.on("name")` at exactly the
place the deviation happens, so reading a service module shows every way it can
be made to misbehave.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rolecall.emulator.faults_nearmiss import NEAR_MISS


@dataclass(frozen=True)
class Fault:
    name: str
    area: str
    rule: str  # the SPEC rule id the fault breaks
    description: str
    critical: bool = False  # a surviving critical fault fails the mutation run


CATALOGUE: tuple[Fault, ...] = (
    # precedence (G4-G7)
    Fault("precedence-highest-wins", "precedence", "G4",
          "cognito:preferred_role is the role of the group with the HIGHEST precedence", True),
    Fault("precedence-null-wins", "precedence", "G4",
          "a group with null precedence beats a group with a number", True),
    Fault("precedence-ties-pick-first", "precedence", "G5",
          "equal best precedence with different roles picks the first group's role "
          "instead of leaving the claim unset", True),
    Fault("precedence-roleless-counts", "precedence", "G7",
          "a group without a role takes part in choosing the preferred role"),
    # claims (G2, G3, G8)
    Fault("claims-roles-as-string", "claims", "G3",
          "cognito:roles is a comma-separated string instead of a JSON array"),
    Fault("claims-preferred-role-dropped", "claims", "G4",
          "cognito:preferred_role is never put in the ID token"),
    Fault("claims-groups-dropped", "claims", "G2",
          "cognito:groups is never put in the ID token"),
    Fault("token-access-token-accepted", "claims", "G8",
          "an access token in Logins is accepted like an ID token", True),
    # token mapping (E7, E8)
    Fault("token-custom-role-unchecked", "token mapping", "E7",
          "CustomRoleArn is honoured even when it is not one of cognito:roles", True),
    Fault("token-deny-falls-back", "token mapping", "E7",
          "AmbiguousRoleResolution Deny hands out the authenticated role instead", True),
    Fault("token-preferred-ignored", "token mapping", "E7",
          "Token mapping ignores cognito:preferred_role and resolves as ambiguous"),
    # rules (E9, E10)
    Fault("rules-last-match-wins", "rules", "E9",
          "the last matching rule wins instead of the first", True),
    Fault("rules-contains-as-equals", "rules", "E10", "Contains behaves like Equals"),
    Fault("rules-equals-as-contains", "rules", "E10", "Equals behaves like Contains", True),
    Fault("rules-notequal-matches-missing", "rules", "E9",
          "a NotEqual rule matches when its claim is missing", True),
    Fault("rules-startswith-ignored", "rules", "E10", "a StartsWith rule never matches"),
    # issue 12, suite side (branch controlplane): CustomRoleArn with a Rules mapping (E9)
    Fault("rules-custom-role-ignored", "rules", "E9",
          "with a Rules mapping, CustomRoleArn is ignored and the first matching rule wins "
          "(AWS: CustomRoleArn overrides the rule order)", True),
    # flows (C1-C3, E4, E5)
    Fault("classic-gate-ignored", "flows", "C1",
          "GetOpenIdToken works even when AllowClassicFlow is false", True),
    Fault("classic-allowed-with-mappings", "flows", "C3",
          "GetOpenIdToken works on a pool that has RoleMappings", True),
    Fault("guest-allowed-when-disabled", "flows", "E4",
          "unauthenticated identities are allowed when AllowUnauthenticatedIdentities is false",
          True),
    Fault("unauth-role-for-authenticated", "flows", "E6",
          "authenticated identities get Roles.unauthenticated", True),
    Fault("guest-scope-down-skipped", "flows", "E5",
          "guest credentials are not scoped down by the unauthenticated session policy"),
    # tokens (E2, E3)
    Fault("token-expired-accepted", "tokens", "E2", "expired ID tokens are accepted", True),
    Fault("token-wrong-aud-accepted", "tokens", "E2",
          "an ID token of another app client (wrong aud) is accepted", True),
    Fault("token-wrong-issuer-accepted", "tokens", "E2",
          "an ID token of a user pool that is not a provider of the pool is accepted", True),
    Fault("token-signout-accepted", "tokens", "E3",
          "with ServerSideTokenCheck, tokens of signed-out, disabled or deleted users still work",
          True),
    Fault("token-signature-unchecked", "tokens", "E2",
          "ID token signatures are not verified", True),
    # trust (E11, C5, T2)
    Fault("trust-aud-ignored", "trust", "T2",
          "the cognito-identity.amazonaws.com:aud condition is not evaluated", True),
    Fault("trust-amr-ignored", "trust", "T2",
          "the cognito-identity.amazonaws.com:amr condition is not evaluated", True),
    Fault("trust-skipped-enhanced", "trust", "E11",
          "the enhanced flow hands out a role without evaluating its trust policy", True),
    # IAM evaluation (D1, D2)
    Fault("iam-explicit-deny-ignored", "iam", "D1", "an explicit Deny does not win", True),
    Fault("iam-notaction-inverted", "iam", "D2", "NotAction is read as Action", True),
    Fault("iam-resource-wildcard-overmatch", "iam", "D2",
          "a Resource matches any resource of the same service", True),
    Fault("iam-conditions-ignored", "iam", "D2", "policy conditions are not evaluated", True),
    Fault("iam-session-policy-ignored", "iam", "D1",
          "the session policy of a session does not narrow its permissions", True),
    Fault("iam-transact-unchecked", "iam", "D5",
          "TransactWriteItems is authorized without checking each contained action", True),
    Fault("authz-control-plane-unchecked", "iam", "D1",
          "a DynamoDB control-plane action (DeleteTable, UpdateTable, CreateTable...) by a "
          "session is served without an IAM check", True),
    Fault("authz-iam-unchecked", "iam", "D1",
          "IAM calls by sessions (PutRolePolicy on their own role, CreateRole...) are served "
          "without an IAM check", True),
    Fault("partiql-as-legacy-action", "iam", "D5",
          "PartiQL statements are authorized as GetItem/PutItem/UpdateItem/DeleteItem instead "
          "of dynamodb:PartiQLSelect/Insert/Update/Delete"),
    # credentials (E13, C5)
    Fault("session-never-expires", "credentials", "E13",
          "issued sessions keep working after their Expiration"),
    Fault("caller-identity-wrong-arn", "credentials", "E13",
          "GetCallerIdentity answers the role ARN instead of the assumed-role session ARN"),
)

# ---- near-miss faults (issue 13; rolecall/emulator/faults_nearmiss.py, docs/fault-model.md)
CATALOGUE += tuple(Fault(*spec) for spec in NEAR_MISS)

BY_NAME: dict[str, Fault] = {fault.name: fault for fault in CATALOGUE}


class Faults:
    """The set of faults switched on for one emulator."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        names = list(names)
        unknown = sorted(set(names) - set(BY_NAME))
        if unknown:
            raise ValueError(
                f"unknown fault(s) {', '.join(unknown)}; "
                "run `rolecall emulator --list-faults` for the catalogue"
            )
        self.active = frozenset(names)

    def on(self, name: str) -> bool:
        """True when fault `name` is switched on. Unknown names are a programming error."""
        if name not in BY_NAME:
            raise KeyError(f"fault {name!r} is not in the catalogue (rolecall/emulator/faults.py)")
        return name in self.active
