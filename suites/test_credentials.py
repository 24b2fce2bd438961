"""Who gets which role: every user, every variant, every flow (SPEC E1-E13, C1-C6).

Each cell takes one credential path and compares ISSUED(role) / REFUSED(code)
with the oracle. The role is the one STS GetCallerIdentity reports for the
credentials, not the one the pool claims to have chosen.
"""

from __future__ import annotations

from rolecall.account.results import Issued
from rolecall.account.run import Run
from rolecall.cells import refusals
from rolecall.cells.matrix import CredentialCell, credential_observation, mismatch, obtain
from rolecall.model import oracle
from rolecall.reporting.records import Observer


def test_credentials(run: Run, credential_cell: CredentialCell, observe: Observer) -> None:
    cell = credential_cell
    flows = run.flows(cell.scenario)
    result = obtain(flows, cell)
    seen = observe(credential_observation(result, run.stack(cell.scenario), flows, cell.user))

    assert seen.observed == str(cell.expected), mismatch(
        cell.id, cell.expected, seen.observed, cell.expected.rule, cell.source,
        getattr(result, "message", ""))
    if isinstance(result, Issued):  # E13: the session is the role's CognitoIdentityCredentials
        assert ":assumed-role/" in result.session_arn, mismatch(
            cell.id, "an assumed-role session ARN", result.session_arn, "E13", "spec")
        if cell.flow in ("enhanced", "guest"):
            assert result.session_arn.endswith(f"/{refusals.SESSION_NAME}"), mismatch(
                cell.id, f"session {refusals.SESSION_NAME}", result.session_arn, "E13", "spec")
            problem = refusals.lifetime_problem(result.credentials)
            assert problem is None, mismatch(cell.id, problem, "another Expiration", "E13", "spec")
        if cell.flow == "classic":
            _oidc_token(cell, result, run)
    else:  # the refusal names the reason AWS is quoted with (E4, C1, C3, E11)
        problem = refusals.refusal_problem(cell.expected.rule, getattr(result, "message", ""))
        assert problem is None, mismatch(cell.id, problem, getattr(result, "message", ""),
                                         cell.expected.rule, "spec")


def _oidc_token(cell: CredentialCell, result: Issued, run: Run) -> None:
    """C4: iss cognito-identity.amazonaws.com, aud the pool, sub the identity, amr, and a
    lifetime of ten minutes (exp - iat)."""
    claims = result.oidc_claims or {}
    stack = run.stack(cell.scenario)
    source = "https://docs.aws.amazon.com/cognito/latest/developerguide/open-id.html"
    lifetime = _number(claims.get("exp")) - _number(claims.get("iat"))
    assert lifetime == oracle.OIDC_TOKEN_SECONDS, mismatch(
        cell.id, f"an OpenID token valid {oracle.OIDC_TOKEN_SECONDS} s (exp - iat)",
        f"{lifetime} s", "C4",
        "https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetOpenIdToken.html")
    assert claims.get("iss") == "https://cognito-identity.amazonaws.com", mismatch(
        cell.id, "iss https://cognito-identity.amazonaws.com", claims.get("iss"), "C4", source)
    assert claims.get("aud") == stack.identity_pools[cell.variant], mismatch(
        cell.id, "aud = the identity pool id", claims.get("aud"), "C4", source)
    assert claims.get("sub") == result.identity_id, mismatch(
        cell.id, "sub = the identity id", claims.get("sub"), "C4", source)
    amr = claims.get("amr") or []
    provider = stack.provider_of(cell.user)  # the user's own pool's (P1)
    assert "authenticated" in amr and provider in amr, mismatch(
        cell.id, f"amr with authenticated and {provider}", amr, "C4", source)


def _number(claim: object) -> float:
    """A numeric JWT claim (exp, iat); a missing or non-numeric one reads as NaN, so any
    lifetime computed from it differs from every expected one."""
    return float(claim) if isinstance(claim, int | float) and not isinstance(claim, bool) \
        else float("nan")
