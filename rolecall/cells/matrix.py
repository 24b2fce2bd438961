"""Scenario -> the cells of the conformance matrix, each with its expectation and readable id.

Three kinds of cell, one test module each in suites/:

- ClaimsCell      `<scenario>-<user>`: the ID token's group and role claims (G2-G9)
- CredentialCell  `<scenario>-<variant>-<flow>-<user>`: ISSUED(role) or REFUSED(code)
- AccessCell      `<scenario>-<variant>-<flow>-<user>-<action>`: ALLOWED / DENIED

`flow` reads `enhanced`, `custom=<role>` (enhanced with CustomRoleArn),
`classic=<role>` (AssumeRoleWithWebIdentity on that role) or `guest`.
Access cells exist for every credential the oracle expects to be issued.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from rolecall.account.flows import Flows
from rolecall.account.probes import BY_ACTION, Probe, index_probes
from rolecall.account.provision import Stack
from rolecall.account.results import Issued, Refused, Result
from rolecall.model import expectations, oracle
from rolecall.model.access import Flow, Partition, Refusal, Session
from rolecall.model.oracle import Outcome
from rolecall.model.plan import Planned, plan
from rolecall.model.scenario import ExpectedRole, Scenario
from rolecall.model.shapes import Shape
from rolecall.reporting import rules_page
from rolecall.reporting.records import Description, Observation


@dataclass(frozen=True)
class ClaimsCell:
    scenario: Scenario
    user: str
    roles: tuple[str, ...]
    preferred: str | None
    rule: str

    @property
    def id(self) -> str:
        return f"{self.scenario.name}-{self.user}"

    def describe(self) -> Description:
        return Description(self.id, "claims", self.scenario.name, user=self.user,
                           groups=groups_of(self.scenario, self.user),
                           expected_role=self.preferred, expected=self.preferred, rule=self.rule,
                           scenario_file=self.scenario.file)


@dataclass(frozen=True)
class CredentialCell:
    scenario: Scenario
    variant: str
    flow: str  # enhanced | classic | guest
    user: str | None  # None for guests
    role: str | None  # classic: the role asked for; enhanced: the CustomRoleArn
    expected: Outcome

    @property
    def flow_label(self) -> str:
        if self.flow == "classic" and self.role:
            return f"classic={self.scenario.role_label(self.role)}"
        if self.flow == "enhanced" and self.role:
            return f"custom={self.scenario.role_label(self.role)}"
        return self.flow

    @property
    def id(self) -> str:
        return f"{self.scenario.name}-{self.variant}-{self.flow_label}-{self.user or 'anonymous'}"

    def _stated(self) -> ExpectedRole | None:
        """The stated expectation about exactly this path: same flow, user, variant and
        role asked for (the CustomRoleArn, or the classic flow's role)."""
        for stated in self.scenario.expect:
            if (stated.flow, stated.user, stated.variant, stated.custom_role) == (
                    self.flow, self.user, self.variant, self.role):
                return stated
        return None

    @property
    def source(self) -> str:
        """Where the expectation comes from: a stated one's source, else the spec rule."""
        stated = self._stated()
        return stated.source if stated else f"SPEC {self.expected.rule}"

    def describe(self) -> Description:
        stated = self._stated()
        # An expectation that pins an 'assumed' SPEC rule: the evidence lists it with the
        # observed answer (summary.md "Pinned assumptions"), so a run on AWS settles it.
        details: dict[str, Any] = {"pin": stated.pins} if stated and stated.pins else {}
        if self.flow == "classic":  # matrix.html words the pool's setting as the audit does
            details["classic_flow"] = oracle.classic_setting(self.scenario, self.variant)
        return Description(self.id, "credential", self.scenario.name, self.variant,
                           self.flow_label, self.user or "guest",
                           groups_of(self.scenario, self.user), self.expected.role,
                           expected=str(self.expected), rule=self.expected.rule,
                           source=self.source, scenario_file=self.scenario.file, details=details)


@dataclass(frozen=True)
class AccessCell:
    credential: CredentialCell
    probe: Probe
    expected: str  # ALLOWED | DENIED
    rule: str
    partition: Partition = None  # per-identity and per-tenant tables: "own" or "other"
    # What AWS's refusal must say (the first refused check, SPEC D4, B2), when the oracle
    # could read the policies; None: the looser D4 check only.
    refusal: Refusal | None = None
    on: str | None = None  # one of the scenario's other tables; None: the main table

    @property
    def id(self) -> str:
        where = f"@{self.partition}" if self.partition else ""
        table = f"{self.on}-" if self.on else ""
        return f"{self.credential.id}-{table}{self.probe.action}{where}"

    @property
    def source(self) -> str:
        role = self.credential.expected.role
        return self.credential.scenario.roles[role].source if role else ""

    def describe(self) -> Description:
        credential = self.credential
        described = credential.describe()
        details = {k: v for k, v in described.details.items() if k != "classic_flow"}
        if self.probe.needs != (self.probe.action.split("@")[0],):
            # A probe that is no permission of its own (TransactGetItems needs GetItem): the
            # reports say so, so every action they list traces to a line of a profile.
            details["needs"] = list(self.probe.needs)
        if self.on:
            details["table"] = self.on
        table = f"{self.on}-" if self.on else ""
        return replace(described, id=self.id, kind="access",
                       action=table + self.probe.action
                       + (f"@{self.partition}" if self.partition else ""),
                       expected=self.expected, rule=self.rule,
                       source=self.source, details=details)


def groups_of(scenario: Scenario, user: str | None) -> tuple[str, ...]:
    """The user's groups, sorted (none for guests)."""
    return tuple(sorted(scenario.users[user].groups)) if user in scenario.users else ()


def claims_cells(scenarios: list[Scenario]) -> list[ClaimsCell]:
    cells = []
    for scenario in scenarios:
        for user in scenario.matrix_users():
            preferred, rule = oracle.preferred_role(scenario, user)
            cells.append(ClaimsCell(scenario, user, tuple(oracle.token_roles(scenario, user)),
                                    preferred, rule))
    return cells


def credential_cells(scenarios: list[Scenario]) -> list[CredentialCell]:
    return [cell for scenario in scenarios for cell in _credentials_of(scenario)]


def _credentials_of(scenario: Scenario) -> Iterator[CredentialCell]:
    for variant in scenario.variants:
        if "enhanced" in scenario.flows:  # each user through the variants of its own pool
            for user in scenario.variant_users(variant):
                yield CredentialCell(scenario, variant, "enhanced", user, None,
                                     oracle.enhanced(scenario, variant, user))
                for custom in scenario.variants[variant].custom_roles:
                    yield CredentialCell(scenario, variant, "enhanced", user, custom,
                                         oracle.enhanced(scenario, variant, user, custom))
        if "classic" in scenario.flows:
            for user in scenario.variant_users(variant):
                for role in scenario.roles:
                    yield CredentialCell(scenario, variant, "classic", user, role,
                                         oracle.classic(scenario, variant, role))
        if "guest" in scenario.flows:
            yield CredentialCell(scenario, variant, "guest", None, None,
                                 oracle.guest(scenario, variant))


def access_cells(scenarios: list[Scenario]) -> list[AccessCell]:
    cells = []
    for credential in credential_cells(scenarios):
        role, table = credential.expected.role, credential.scenario.table
        if not credential.expected.issued or role is None or table is None:
            continue
        if credential.flow != "guest" and credential.scenario.roles[role].allowed is None:
            continue  # a discovered role nobody stated the access of: credential cells only
        cells += [_access_cell(credential, role, planned)
                  for planned in plan(credential.scenario, role)]
    return cells


def session_of(credential: CredentialCell, role: str) -> Session | None:
    """The session a credential cell's path issues, as the oracle reads it (None: a guest of
    the enhanced flow, whose scope-down allows no DynamoDB action)."""
    if credential.flow == "guest":
        return None
    flow: Flow = "classic" if credential.flow == "classic" else "enhanced"
    return Session(role, flow, credential.variant, credential.user)


def _access_cell(credential: CredentialCell, role: str, planned: Planned) -> AccessCell:
    expected = expectations.access(credential.scenario, session_of(credential, role), planned.shape,
                             planned.partition, planned.on)
    return AccessCell(credential, probe_for(credential.scenario, planned.shape),
                      expected.verdict, expected.rule, planned.partition, expected.refusal,
                      planned.on)


def probe_for(scenario: Scenario, shape: Shape) -> Probe:
    """The probe that makes a shape's request (an index's, by the index it names)."""
    if shape.name in BY_ACTION:
        return BY_ACTION[shape.name]
    index = shape.name.split("@", 1)[1]
    table = scenario.table
    assert table is not None
    found = next(i for i in table.indexes if i.name == index)
    return next(p for p in index_probes(found) if p.action == shape.name)


# --- running a cell -----------------------------------------------------------------------

def obtain(flows: Flows, cell: CredentialCell) -> Result:
    """Take the cell's credential path (cached per process by Flows)."""
    if cell.flow == "guest":
        return flows.guest(cell.variant)
    assert cell.user is not None
    if cell.flow == "classic":
        assert cell.role is not None
        return flows.classic(cell.variant, cell.user, cell.role)
    return flows.enhanced(cell.variant, cell.user, cell.role)


def issued_to_probe_with(flows: Flows, stack: Stack, cell: CredentialCell,
                         probing_cell_id: str) -> Issued:
    """The credential a probing cell (access, control plane) asks with. A path that issued
    none fails the probing cell, saying what the path gave instead (AssertionError: a
    FAILED cell, never a verdict on the probe)."""
    credential = obtain(flows, cell)
    if not isinstance(credential, Issued):
        raise AssertionError(mismatch(probing_cell_id, f"credentials {cell.expected} to probe "
                                      "with", observed_outcome(credential, stack),
                                      cell.expected.rule, cell.source))
    return credential


def observed_outcome(result: Result, stack: Stack) -> str:
    """ISSUED(<logical role>) / REFUSED(<code>) / ERROR(<reason>), in the oracle's words."""
    if isinstance(result, Issued):
        return f"ISSUED({stack.role_of(result.role_arn)})"
    if isinstance(result, Refused):
        return f"REFUSED({result.code})"
    return f"ERROR({result.reason})"


def credential_observation(result: Result, stack: Stack, flows: Flows,
                           user: str | None) -> Observation:
    """What a credential path gave, for the records: outcome, request ids, role and claims."""
    attachments: dict[str, Any] = {}
    if user is not None:
        attachments["ID token claims (decoded, redacted)"] = _claims_or_error(flows, user)
    attachments["role obtained"] = {
        "role_arn": getattr(result, "role_arn", None),
        "session_arn": getattr(result, "session_arn", None),
        "refused": getattr(result, "code", None), "request_ids": result.request_ids}
    role = stack.role_of(result.role_arn) if isinstance(result, Issued) else None
    return Observation(observed_outcome(result, stack), observed_role=role,
                       request_ids=list(result.request_ids), attachments=attachments)


def _claims_or_error(flows: Flows, user: str) -> dict[str, Any]:
    """The user's decoded ID token (cached by Flows: no new sign-in); attachments never fail."""
    try:
        return flows.verified_claims(user)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def mismatch(cell_id: str, expected: object, observed: object, rule: str, source: str,
             detail: str = "", role: str | None = None, statement: str = "") -> str:
    """The failure message of a cell, verdict first.

    Line 1 is what a reader needs (and what pytest's short summary shows): expected,
    observed, the rule and the role. Then the cell, where the expectation comes from
    and where the rule is explained, the policy statement that decided it when the
    scenario has one, and the target's own words.
    """
    verdict = f"expected {expected}, observed {observed} [SPEC {rule}]"
    lines = [f"{verdict} role {role}" if role else verdict,
             f"  cell {cell_id}; expectation source: {source or 'spec'}; "
             f"rule: {rule_doc(rule)}"]
    if statement:
        lines.append(f"  policy statement: {statement}")
    if detail:
        lines.append(f"  {detail}")
    return "\n".join(lines)


def deciding_statement(scenario: Scenario, role: str | None, needs: tuple[str, ...]) -> str:
    """The role's policy statements about the probed action, as compact JSON (for messages)."""
    found = oracle.deciding_statements(scenario, role, needs)
    text = "; ".join(json.dumps(statement, separators=(",", ":")) for statement in found)
    return text[:400] + ("..." if len(text) > 400 else "")


def rule_doc(rule: str) -> str:
    """Where a rule id is explained, in the repository: docs/rules.md#<id>."""
    return f"docs/rules.md#{rules_page.rule_id(rule)}"


# --- token negatives (suites/test_tokens_negative.py) -------------------------------------

REVOKING_EVENTS = ("signed_out", "disabled", "deleted")


@dataclass(frozen=True)
class NegativeCell:
    """A broken token presented to one variant, or one revoking event checked on every variant."""

    scenario: Scenario
    case: str  # a broken-token case, or signed-out / disabled / deleted
    user: str
    variant: str | None = None  # None: the cell checks every variant of the scenario

    @property
    def id(self) -> str:
        where = f"{self.variant}-" if self.variant else ""
        return f"{self.scenario.name}-{where}{self.case}"

    def describe(self) -> Description:
        # E3 for disabled users: field reports disagree on whether ServerSideTokenCheck
        # covers AdminDisableUser; the evidence lists what the target answered.
        pin = ({"pin": "E3 (disabled user, ServerSideTokenCheck)"} if self.case == "disabled"
               else {})
        # A cell for every variant records one cell per variant (suites/test_tokens_negative.py):
        # the plan counts them as such, so every report counts the same cells.
        parts = () if self.variant else tuple(self.scenario.variants_for(self.user))
        return Description(self.id, "negative", self.scenario.name, self.variant, user=self.user,
                           groups=groups_of(self.scenario, self.user),
                           scenario_file=self.scenario.file, details=pin, parts=parts)


def negative_cells(scenarios: list[Scenario]) -> list[NegativeCell]:
    cells = []
    for scenario in scenarios:
        negatives = scenario.negatives
        if negatives is None:
            continue
        for case in negatives.cases:
            if case in ("expired", "session-expired"):  # ages the pool once, checks every variant
                cells.append(NegativeCell(scenario, case, negatives.user))
                continue
            cells.extend(NegativeCell(scenario, case, negatives.user, variant)
                         for variant in scenario.variants_for(negatives.user))
        for event in REVOKING_EVENTS:
            user = getattr(negatives, event)
            if user is not None:
                cells.append(NegativeCell(scenario, event.replace("_", "-"), user))
    return cells
