"""Identity cells: is an identity id stable, per user, and shaped like AWS's (SPEC E1), and
does it answer only its own user's token (E14, `BindingCell` below)?

One cell per scenario that runs the enhanced flow and has two matrix users: the
first user's GetId is asked twice, the second user's once, in the first variant.
AWS answers the same `<region>:<uuid>` for the same user every time and a
different one for another user; a target that mints a new id per call, or one
id per pool, breaks per-identity partitions (dynamodb:LeadingKeys) and every
audit trail keyed on the identity. Three GetId calls per scenario: cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rolecall.account.flows import Flows
from rolecall.cells.sessions import open_classic_variant
from rolecall.model import oracle
from rolecall.model.oracle import Outcome
from rolecall.model.scenario import Scenario
from rolecall.reporting.records import Description

IDENTITY_ID = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                         r"[0-9a-f]{12}$")


@dataclass(frozen=True)
class IdentityCell:
    scenario: Scenario
    variant: str
    users: tuple[str, str]

    @property
    def id(self) -> str:
        return f"{self.scenario.name}-{self.variant}-identity-id"

    def describe(self) -> Description:
        return Description(self.id, "identity", self.scenario.name, self.variant, "enhanced",
                           self.users[0], expected="stable, per user, <region>:<uuid>",
                           rule="E1", source="SPEC E1", scenario_file=self.scenario.file)


def identity_cells(scenarios: list[Scenario]) -> list[IdentityCell]:
    cells = []
    for scenario in scenarios:
        first = next(iter(scenario.variants))
        pair = same_pool_pair(scenario, first)
        if "enhanced" not in scenario.flows or pair is None:
            continue
        cells.append(IdentityCell(scenario, first, pair))
    return cells


def same_pool_pair(scenario: Scenario, variant: str) -> tuple[str, str] | None:
    """The first two matrix users of one user pool that sign in through the variant (two
    logins of one provider: which pool holds them does not change E1 or E14)."""
    users = scenario.variant_users(variant)
    for n, first in enumerate(users):
        other = next((u for u in users[n + 1:]
                      if scenario.pool_of(u) == scenario.pool_of(first)), None)
        if other is not None:
            return first, other
    return None


def identity_problem(first: str, again: str, other: str, region: str) -> str | None:
    """None when the three GetId answers are what AWS gives (E1)."""
    if not IDENTITY_ID.match(first) or not first.startswith(f"{region}:"):
        return f"an identity id '{region}:<uuid>', got {first!r}"
    if again != first:
        return "the same identity id on every GetId of one user"
    if other == first:
        return "a different identity id for another user"
    return None


# --- identity binding (SPEC E14) ----------------------------------------------------------

BINDING_SOURCE = ("https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/"
                  "API_GetCredentialsForIdentity.html; text: aws-amplify/amplify-js #4101")


@dataclass(frozen=True)
class BindingCell:
    """User B's valid ID token on user A's identity, on one flow (SPEC E14).

    AWS refuses it (NotAuthorizedException "Logins don't match ...") and moves nothing:
    GetId answers A and B their own identities afterwards, and each still has its login
    (DescribeIdentity). A target that honours B's token there hands B the credentials of
    A's identity: A's per-identity partition (dynamodb:LeadingKeys on the identity id)
    and everything audited under A's identity become B's. One cell per flow where it can
    run: the enhanced flow on per-identity tables, the classic flow where a pool opens it.
    """

    scenario: Scenario
    variant: str
    flow: Literal["enhanced", "classic"]
    owner: str  # A, whose identity it is
    other: str  # B, whose token is presented on it
    role: str | None  # classic: the role asked of STS should GetOpenIdToken answer
    expected: Outcome

    @property
    def id(self) -> str:
        return (f"{self.scenario.name}-{self.variant}-{self.flow}-{self.other}-on-"
                f"{self.owner}-identity")

    def describe(self) -> Description:
        # The text is the field's for this case; whether AWS words it the same when B's
        # login is already linked to B's own identity is pinned by the evidence.
        return Description(self.id, "identity", self.scenario.name, self.variant, self.flow,
                           self.other, expected=str(self.expected), rule=self.expected.rule,
                           source=BINDING_SOURCE, scenario_file=self.scenario.file,
                           details={"pin": "E14 (the refusal's text, B already linked)",
                                    "identity_of": self.owner})


def binding_cells(scenarios: list[Scenario]) -> list[BindingCell]:
    """Two matrix users of one pool: the enhanced flow on a per-identity table (where the
    identity is the key to the data), the classic flow in the first variant that opens it."""
    cells = []
    for scenario in scenarios:
        table = scenario.table
        first = next(iter(scenario.variants))
        pair = same_pool_pair(scenario, first)
        if "enhanced" in scenario.flows and table is not None and pair is not None \
                and table.partition == "per-identity":
            cells.append(BindingCell(scenario, first, "enhanced", *pair, None,
                                     oracle.foreign_login(scenario, first, "enhanced")))
        role, classic = _trusted_role(scenario), open_classic_variant(scenario)
        pair = same_pool_pair(scenario, classic) if classic is not None else None
        if "classic" in scenario.flows and classic is not None and role is not None \
                and pair is not None:
            cells.append(BindingCell(scenario, classic, "classic", *pair, role,
                                     oracle.foreign_login(scenario, classic, "classic")))
    return cells


def _trusted_role(scenario: Scenario) -> str | None:
    """A role the classic flow could assume: the pool's authenticated role, else any that
    trusts its authenticated identities (the refusal comes before it is asked for)."""
    preferred = scenario.identity_pool.authenticated_role
    ordered = [preferred, *scenario.roles] if preferred else list(scenario.roles)
    return next((role for role in ordered if oracle.trusts(scenario, role, "authenticated")), None)


def binding_problem(before: tuple[str, str], after: tuple[str, str],
                    linked: tuple[list[str], list[str]], provider: str) -> str | None:
    """None when nothing moved (E14): GetId answers A and B as before, two identities, and
    each still holds its login of the pool's provider (DescribeIdentity's Logins)."""
    if after[0] != before[0]:
        return f"GetId for A still answering A's identity {before[0]}, got {after[0]}"
    if after[1] != before[1] or after[1] == after[0]:
        return f"GetId for B still answering B's own identity {before[1]}, got {after[1]}"
    for whose, providers in zip(("A", "B"), linked, strict=True):
        if providers != [provider]:
            return f"{whose}'s identity still linked to [{provider}], got {providers}"
    return None


def linked_providers(flows: Flows, identity_id: str) -> list[str]:
    """DescribeIdentity's Logins: the providers an identity is linked to (admin call)."""
    return list(flows.admin("cognito-identity").describe_identity(IdentityId=identity_id)[
        "Logins"])
