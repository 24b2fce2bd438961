"""ID-token claims: every user's groups and roles, as the identity pool will read them.

SPEC G2-G7 and G9: the token is verified with pyjwt against the pool's JWKS;
`cognito:groups` lists every group, `cognito:roles` the roles of those groups,
and `cognito:preferred_role` is decided by precedence.
"""

from __future__ import annotations

from rolecall.account.run import Run
from rolecall.cells.matrix import ClaimsCell, mismatch
from rolecall.reporting.records import Observer


def test_id_token_claims(run: Run, claims_cell: ClaimsCell, observe: Observer) -> None:
    cell = claims_cell
    stack = run.stack(cell.scenario)
    claims = run.flows(cell.scenario).verified_claims(cell.user)  # G9: signature, iss, aud, exp

    groups = sorted(cell.scenario.users[cell.user].groups)
    roles = sorted(stack.role_of(arn) for arn in _as_list(claims.get("cognito:roles")))
    preferred_arn = claims.get("cognito:preferred_role")
    preferred = stack.role_of(preferred_arn) if preferred_arn else None
    observe(observed=preferred, observed_role=preferred,
            details={"observed_roles": roles, "token_use": claims.get("token_use")},
            attachments={"ID token claims (decoded, redacted)": claims})

    assert claims.get("token_use") == "id", mismatch(cell.id, "token_use id",
                                                      claims.get("token_use"), "G9", "spec")
    assert sorted(_as_list(claims.get("cognito:groups"))) == groups, mismatch(
        cell.id, groups, claims.get("cognito:groups"), "G2", "spec")
    assert isinstance(claims.get("cognito:roles", []), list), mismatch(
        cell.id, "cognito:roles as a JSON array", type(claims["cognito:roles"]).__name__, "G3",
        "spec")
    assert roles == sorted(cell.roles), mismatch(cell.id, sorted(cell.roles), roles, "G3", "spec")
    assert preferred == cell.preferred, mismatch(cell.id, f"preferred_role {cell.preferred}",
                                                 f"preferred_role {preferred}", cell.rule, "spec")
    access = run.flows(cell.scenario).access_token_claims(cell.user)
    leaked = sorted({"cognito:roles", "cognito:preferred_role"} & set(access))
    assert not leaked, mismatch(
        cell.id, "an access token without role claims", leaked, "G8",
        "https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html")


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
