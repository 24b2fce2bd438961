"""Tokens that must not buy credentials (SPEC E2, E3, G8).

A tampered payload, a foreign signing key, a token of another app client or
another user pool, an access token in place of an ID token, an expired token:
each is refused with NotAuthorizedException. A token issued before its user was
signed out globally, disabled or deleted is refused when the provider has
ServerSideTokenCheck, and still works until it expires when it has not.
"""

from __future__ import annotations

from rolecall.account import probes
from rolecall.account.results import Issued
from rolecall.account.run import Run
from rolecall.cells.matrix import NegativeCell, mismatch, observed_outcome
from rolecall.model import oracle
from rolecall.reporting.records import Observer


def check(run: Run, observe: Observer, cell: NegativeCell, variant: str,
          logins: dict[str, str], expected: oracle.Outcome) -> None:
    """Present the Logins to one variant; the outcome must be the oracle's."""
    result = run.flows(cell.scenario).present(variant, logins)
    seen = observe(observed=observed_outcome(result, run.stack(cell.scenario)),
                   code=getattr(result, "code", None), request_ids=result.request_ids,
                   part=None if cell.variant else variant, flow=f"enhanced:{cell.case}",
                   expected=str(expected), rule=expected.rule, source=f"SPEC {expected.rule}")
    assert seen.observed == str(expected), mismatch(f"{cell.id} [{variant}]", expected,
                                                    seen.observed, expected.rule, "spec",
                                                    getattr(result, "message", ""))


def test_broken_token(run: Run, negative_cell: NegativeCell, observe: Observer) -> None:
    cell = negative_cell
    flows = run.flows(cell.scenario)
    if cell.case in oracle.BROKEN_TOKEN_RULES and cell.case != "expired":
        assert cell.variant is not None
        check(run, observe, cell, cell.variant, flows.broken_logins(cell.case, cell.user),
              oracle.broken_token(cell.case))
    elif cell.case == "session-expired":
        for variant in cell.scenario.variants_for(cell.user):
            expire_session(run, observe, cell, variant)
    elif cell.case == "expired":
        logins = flows.expired_logins(cell.user)
        for variant in cell.scenario.variants_for(cell.user):
            check(run, observe, cell, variant, logins, oracle.broken_token("expired"))
    else:
        logins = flows.revoked_logins(cell.case, cell.user)  # issued, then the user revoked
        for variant in cell.scenario.variants_for(cell.user):
            check(run, observe, cell, variant, logins,
                  oracle.revoked_token(cell.scenario, variant, cell.user))


def expire_session(run: Run, observe: Observer, cell: NegativeCell, variant: str) -> None:
    """E13: credentials work until their Expiration and not after (ExpiredTokenException).

    The classic flow asks STS for its shortest session (15 minutes), so a real account
    waits at most that long; the embedded target moves the identity pool's clock.
    """
    stack, flows = run.stack(cell.scenario), run.flows(cell.scenario)
    role = cell.scenario.identity_pool.authenticated_role
    assert role is not None, f"{cell.id}: the scenario needs an authenticated role"
    credential = flows.classic_session(variant, cell.user, role, 900)
    assert isinstance(credential, Issued), mismatch(cell.id, "a 15-minute session",
                                                    observed_outcome(credential, stack), "C5", "spec")
    assert cell.scenario.table is not None, f"{cell.id}: session expiry is probed on the table"
    target = probes.ProbeTarget.of(stack.table_name, cell.scenario.table)
    get_item = probes.BY_ACTION["GetItem"]
    before = probes.run(get_item, flows.dynamodb(credential), target, stack.iam_settled_by)
    run.target.let_time_pass(900 + 5, stack.identity_pools[variant])
    after = probes.run(get_item, flows.dynamodb(credential), target)
    observed = f"{before.verdict} then {after.code or after.verdict}"
    expected = "ALLOWED then ExpiredTokenException"
    observe(observed=observed, code=after.code, part=variant, flow="classic:session-expired",
            expected=expected, rule="E13", source="SPEC E13",
            request_ids=[r for r in (before.request_id, after.request_id) if r])
    assert observed == expected, mismatch(f"{cell.id} [{variant}]", expected, observed, "E13", "spec")
