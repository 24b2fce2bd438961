"""The target layer's broken and revoked logins (the negative suite only picks a case)."""

from __future__ import annotations

import secrets

import pytest

from rolecall.account import cleanup, clients, tokens
from rolecall.account.cleanup import Journal
from rolecall.account.flows import BROKEN_CASES, Flows
from rolecall.account.provision import Provisioner, RunSecrets
from rolecall.model import oracle
from tests.suite.test_provision import books


def test_every_broken_case_the_oracle_knows_can_be_built() -> None:
    assert set(BROKEN_CASES) == set(oracle.BROKEN_TOKEN_RULES) - {"expired"}


def test_broken_logins_and_revocation_on_a_stack(target: clients.Target, run_secrets: RunSecrets,
                                                 journal: Journal) -> None:
    stack = Provisioner(target, secrets.token_hex(4), run_secrets, journal).provision(books())
    try:
        flows = Flows(target, stack, run_secrets)
        tampered = flows.broken_logins("tampered", "testuser1")
        assert list(tampered) == [stack.provider_name]
        assert tokens.claims_of(tampered[stack.provider_name])["cognito:groups"] == ["admins"]
        with pytest.raises(ValueError, match="no `negatives:` section"):
            flows.broken_logins("other-client", "testuser1")  # books has no second app client
        with pytest.raises(ValueError, match="unknown broken-token case 'forged'"):
            flows.broken_logins("forged", "testuser1")

        revoked = flows.revoked_logins("disabled", "testuser1")
        assert list(revoked) == [stack.provider_name]
        state = target.client("cognito-idp").admin_get_user(
            UserPoolId=stack.user_pool_id, Username=stack.users["testuser1"])
        assert state["Enabled"] is False
        with pytest.raises(ValueError, match="unknown revocation 'banned'"):
            flows.revoke("banned", "testuser1")
    finally:
        assert cleanup.teardown(target, journal) == []
