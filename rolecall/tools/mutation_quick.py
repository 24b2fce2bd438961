"""The CI subset of `rolecall mutation` (`--quick`): which faults, each on which cells.

Each critical fault is run only on the scenario and the test whose cells killed it in
the full run, up to its first failed cell, so a change that blinds the suite fails CI
within minutes instead of the full run's 40.
"""

from __future__ import annotations

from typing import NamedTuple


class Quick(NamedTuple):
    """One CI fault run: the scenario and the test(s) whose cells killed the fault.

    `tests` is a pytest -k expression (test function names): the run collects only
    those cells of the scenario and stops at the first failed one (--maxfail=1).
    """

    scenario: str
    tests: str


# The CI subset (`--quick`): the critical faults (a hidden escalation) that guard
# the suite's main kinds of cell, at most ~37 so that mutation-quick stays inside
# CI's budget (tox -e ci). Each runs only on the cheapest scenario whose cells
# killed it in the full run, and only the test(s) those cells belong to; the
# first failed cell ends the run. When a scenario or test is renamed or stops
# killing its fault, the fault shows here as BROKEN or SURVIVED (and
# tests/suite/test_mutation.py checks the names): rerun the full mutation
# (`tox -e mutation`) and update the map from its killing cells.
QUICK: dict[str, Quick] = {
    "precedence-highest-wins": Quick("seed-admin-editor", "test_id_token_claims"),
    "precedence-null-wins": Quick("precedence", "test_id_token_claims"),
    "precedence-ties-pick-first": Quick("precedence", "test_id_token_claims"),
    "token-access-token-accepted": Quick("tokens", "test_broken_token"),
    "token-custom-role-unchecked": Quick("precedence", "test_credentials"),
    "token-deny-falls-back": Quick("books", "test_credentials"),
    "rules-last-match-wins": Quick("seed-rules", "test_credentials"),
    "rules-equals-as-contains": Quick("escalation-shut", "test_credentials"),
    "rules-notequal-matches-missing": Quick("rules", "test_credentials"),
    "classic-gate-ignored": Quick("escalation-shut", "test_no_path_exceeds_the_entitlement"),
    "classic-allowed-with-mappings": Quick("flows", "test_credentials"),
    "guest-allowed-when-disabled": Quick("books", "test_credentials"),
    "unauth-role-for-authenticated": Quick("tokens", "test_credentials"),
    "token-expired-accepted": Quick("token-expiry", "test_broken_token"),
    "token-wrong-aud-accepted": Quick("tokens", "test_broken_token"),
    "token-wrong-issuer-accepted": Quick("tokens", "test_broken_token"),
    "token-signout-accepted": Quick("tokens", "test_broken_token"),
    "token-signature-unchecked": Quick("tokens", "test_broken_token"),
    "trust-aud-ignored": Quick("flows", "test_credentials"),
    "trust-amr-ignored": Quick("flows", "test_credentials"),
    "trust-skipped-enhanced": Quick("flows", "test_credentials"),
    "iam-explicit-deny-ignored": Quick("seed-admin-editor", "test_access"),
    "iam-notaction-inverted": Quick("precedence", "test_access"),
    "iam-resource-wildcard-overmatch": Quick("precedence", "test_access"),
    "iam-conditions-ignored": Quick("per-identity", "test_access"),
    "iam-session-policy-ignored": Quick("escalation-shut", "test_access"),
    "iam-transact-unchecked": Quick("books", "test_access"),
    # near-miss faults (issue 13, docs/fault-model.md): one critical fault per kind
    "rules-equals-ignores-case": Quick("near-miss-rules", "test_credentials"),  # case
    "iam-query-grants-scan": Quick("near-miss-policy", "test_access"),  # neighbouring action
    "iam-deny-with-condition-skipped": Quick("near-miss-policy", "test_access"),  # skipped clause
    "iam-resource-prefix": Quick("near-miss-policy", "test_access"),  # ARN matched by prefix
    "iam-stringequals-wildcards": Quick("near-miss-precedence", "test_credentials"),  # operator
    "iam-index-as-table": Quick("near-miss-index", "test_access"),  # index ARN
    "identity-id-shared": Quick("near-miss-precedence", "test_identity_id"),  # identity
    "token-alg-none-accepted": Quick("near-miss-precedence", "test_broken_token"),  # signature
    # issue 12: the control-plane cells and CustomRoleArn with Rules (critical). The two
    # others (authz-iam-unchecked, partiql-as-legacy-action) are killed by the same
    # test_control_plane cells in the full run (`tox -e mutation`); the subset keeps one
    # fault per kind of cell to stay inside CI's budget.
    "authz-control-plane-unchecked": Quick("seed-admin-editor", "test_control_plane"),
    "rules-custom-role-ignored": Quick("seed-rules", "test_credentials"),
    # issue 22: one critical fault per new area (boundaries, table policies, principal tags)
    "boundary-as-union": Quick("boundaries", "test_access"),
    "resource-deny-ignored": Quick("table-policies", "test_access"),
    "tags-on-classic-flow": Quick("tag-flows", "test_access"),
    # issue 23: one for the new area (request shapes: a batch where one key is another's)
    "keys-batch-first-key-only": Quick("shapes-tenant-keys", "test_access"),
}


QUICK_SCENARIOS = {name: (quick.scenario,) for name, quick in QUICK.items()}


QUICK_TESTS = {name: quick.tests for name, quick in QUICK.items()}
