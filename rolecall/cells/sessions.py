"""Session cells: how long a classic-flow session may be (SPEC C7, C8).

AssumeRoleWithWebIdentity takes a DurationSeconds from 900 up to the role's
MaxSessionDuration (CreateRole's default 3600 when never set), itself at most
43200. For each role whose scenario states `max_session_duration`, four requests
tell a faithful STS from the plausible wrong ones, on the first variant whose pool
opens the classic flow, as its first matrix user:

- exactly the role's maximum: issued, expiring that long after issue (a target
  capping sessions at the 3600 default refuses it);
- one second more: ValidationError, "... exceeds the MaxSessionDuration set for this
  role." (one that checks only STS's own 43200 issues it);
- 899 and 43201: ValidationError in AWS's model-validation wording, naming the bound
  (one that skips the range issues 899, or answers 43201 with the role's text).

Four AssumeRoleWithWebIdentity calls per such role: cheap. GetOpenIdToken's own
lifetime (C4, ten minutes) is checked by every classic credential cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rolecall.model import oracle
from rolecall.model.oracle import Outcome
from rolecall.model.scenario import Scenario
from rolecall.reporting.records import Description

SOURCE = "https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html"
# A session's Expiration is read against this machine's clock just after it was issued:
# two minutes covers the call and a real account's clock skew, and still tells the
# role's maximum from any other allowed length.
EXPIRY_SLACK = 120


@dataclass(frozen=True)
class SessionCell:
    scenario: Scenario
    variant: str
    user: str
    role: str
    seconds: int  # the DurationSeconds asked for
    expected: Outcome

    @property
    def id(self) -> str:
        return (f"{self.scenario.name}-{self.variant}-classic="
                f"{self.scenario.role_label(self.role)}-{self.user}-DurationSeconds={self.seconds}")

    @property
    def maximum(self) -> int:
        """The role's MaxSessionDuration, as the scenario states it (or AWS's default)."""
        return self.scenario.roles[self.role].max_session_duration or oracle.DEFAULT_MAX_SESSION

    def describe(self) -> Description:
        return Description(self.id, "session", self.scenario.name, self.variant,
                           f"classic={self.scenario.role_label(self.role)}", self.user,
                           expected_role=self.expected.role, expected=str(self.expected),
                           rule=self.expected.rule, source=SOURCE,
                           scenario_file=self.scenario.file,
                           details={"DurationSeconds": self.seconds,
                                    "MaxSessionDuration": self.maximum})


def open_classic_variant(scenario: Scenario) -> str | None:
    """The first variant whose pool lets GetOpenIdToken through (C1-C3), if any."""
    return next((v for v in scenario.variants if oracle.classic_gate(scenario, v) is None), None)


def session_cells(scenarios: list[Scenario]) -> list[SessionCell]:
    cells = []
    for scenario in scenarios:
        variant = open_classic_variant(scenario)
        users = scenario.variant_users(variant) if variant is not None else []
        if "classic" not in scenario.flows or not users or variant is None:
            continue
        for role, spec in scenario.roles.items():
            if spec.max_session_duration is None or not oracle.trusts(scenario, role,
                                                                      "authenticated"):
                continue
            low, high = oracle.STS_DURATIONS
            for seconds in (spec.max_session_duration, spec.max_session_duration + 1,
                            low - 1, high + 1):
                cells.append(SessionCell(scenario, variant, users[0], role, seconds,
                                         oracle.session_duration(scenario, variant, role,
                                                                 seconds)))
    return cells


def expiry_problem(credentials: dict[str, Any], seconds: int, issued_at: float) -> str | None:
    """None when the session expires `seconds` after it was issued (C7: as asked)."""
    expiration = credentials.get("Expiration")
    if not isinstance(expiration, datetime):
        return f"an Expiration {seconds} s after issue, got {expiration!r}"
    lasts = expiration.timestamp() - issued_at
    if abs(lasts - seconds) <= EXPIRY_SLACK:
        return None
    return f"an Expiration {seconds} s after issue (got {lasts:.0f} s)"
