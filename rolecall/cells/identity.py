"""Identity cells: is an identity id stable, per user, and shaped like AWS's? (SPEC E1)

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
        users = scenario.matrix_users()
        if "enhanced" not in scenario.flows or len(users) < 2:
            continue
        cells.append(IdentityCell(scenario, next(iter(scenario.variants)), (users[0], users[1])))
    return cells


def identity_problem(first: str, again: str, other: str, region: str) -> str | None:
    """None when the three GetId answers are what AWS gives (E1)."""
    if not IDENTITY_ID.match(first) or not first.startswith(f"{region}:"):
        return f"an identity id '{region}:<uuid>', got {first!r}"
    if again != first:
        return "the same identity id on every GetId of one user"
    if other == first:
        return "a different identity id for another user"
    return None
