"""Control-plane cells: what each credential may do beyond the table's items.

ControlCell `<scenario>-<variant>-<flow>-<user>-<service>:<Action>`: a DynamoDB
control-plane call on the stack's table, a PartiQL statement on it, or a
self-escalation call on the identity stack (IAM on the caller's own role, the
identity pool, the user pool), ALLOWED or DENIED by the role's permission profile
(`allowed:` with prefixed actions; oracle.control, SPEC D1/E5).

Which credentials: the answer depends only on the session's role and its session
policy, so one credential per (scenario, kind of path, role) is probed with every
probe, the first the matrix takes in that kind (enhanced, custom=<role>,
classic=<role>, guest). Every kind of path the suite takes is covered for every role
it yields, and the matrix grows by about 20 cells per distinct role and path kind
instead of 20 per credential (issue 13: cells that discriminate, not repeat).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rolecall.account.control_probes import CONTROL_PROBES, TABLE_FAMILIES, Context, ControlProbe
from rolecall.account.flows import Flows
from rolecall.account.probes import ProbeTarget
from rolecall.account.provision import Stack
from rolecall.account.results import Issued
from rolecall.cells.matrix import CredentialCell, credential_cells
from rolecall.model import oracle
from rolecall.model.plan import selected
from rolecall.model.scenario import Scenario
from rolecall.reporting.records import Description


@dataclass(frozen=True)
class ControlCell:
    credential: CredentialCell
    probe: ControlProbe
    expected: str  # ALLOWED | DENIED
    rule: str

    @property
    def id(self) -> str:
        return f"{self.credential.id}-{self.probe.action}"

    @property
    def source(self) -> str:
        role = self.credential.expected.role
        return self.credential.scenario.roles[role].source if role else ""

    def describe(self) -> Description:
        return replace(self.credential.describe(), id=self.id, kind="control",
                       action=self.probe.action, expected=self.expected, rule=self.rule,
                       source=self.source, details={"family": self.probe.family,
                                                    "changes": self.probe.changes})


def path_kind(cell: CredentialCell) -> str:
    """enhanced | custom | classic | guest: the kinds of credential path."""
    return "custom" if cell.flow == "enhanced" and cell.role else cell.flow


def representatives(scenarios: list[Scenario]) -> list[CredentialCell]:
    """One issued credential of each (scenario, kind of path, role): the first by variant
    and user name, so the choice (and the cell ids) do not depend on the order the
    scenario file lists its users or variants in."""
    chosen: dict[tuple[str, str, str], CredentialCell] = {}
    for cell in credential_cells(scenarios):
        role = cell.expected.role
        if not cell.expected.issued or role is None:
            continue
        key = (cell.scenario.name, path_kind(cell), role)
        if key not in chosen or _order(cell) < _order(chosen[key]):
            chosen[key] = cell
    return list(chosen.values())


def _order(cell: CredentialCell) -> tuple[str, str, str]:
    return (cell.variant, cell.user or "", cell.role or "")


def states_control_plane(scenario: Scenario, role: str) -> bool:
    """Does the role's profile say what it may do beyond the items? A scenario of rolecall's
    own states it completely (a profile without prefixed actions: none of them). A
    discovered stack's entitlements state it only when the persona's `allow:` lists at
    least one prefixed action (`dynamodb:UpdateTable`, `cognito-identity:*`): a file that
    names only data-plane actions was written about the items, and says nothing about
    the control plane (docs/control-plane-probes.md)."""
    allowed = scenario.roles[role].allowed
    if allowed is None:
        return False  # a discovered role nobody stated the permissions of
    return scenario.discovered is None or any(":" in action for action in allowed)


def control_cells(scenarios: list[Scenario]) -> list[ControlCell]:
    """Every probe for each representative credential. A discovered stack gets them where
    it is known: the table's probes only when rolecall found its table, and only for
    roles whose entitlements state control-plane actions; enhanced-flow guests always
    (their session policy, not the team's profile, decides: E5)."""
    cells = []
    for credential in representatives(scenarios):
        role = credential.expected.role
        assert role is not None
        scenario = credential.scenario
        if credential.flow != "guest" and not states_control_plane(scenario, role):
            continue
        for probe in CONTROL_PROBES:
            if scenario.table is None and probe.family in TABLE_FAMILIES:
                continue
            if probe.family == "partiql" and _partiql_is_probed(scenario):
                continue  # the access cells probe PartiQL, statement shape by shape
            verdict, rule = oracle.control(credential.scenario, role, probe.action,
                                           guest_session=credential.flow == "guest")
            cells.append(ControlCell(credential, probe, verdict, rule))
    return cells


def _partiql_is_probed(scenario: Scenario) -> bool:
    """Do the scenario's access cells make PartiQL requests (`probes:` naming any)? Then
    they decide each statement by its condition keys too (rolecall/model/shapes.py); the
    control plane's one statement per verb would only repeat them, without the keys."""
    return any(shape.needs and shape.needs[0].startswith("dynamodb:PartiQL")
               for shape in selected(scenario))


def context(flows: Flows, stack: Stack, cell: CredentialCell, issued: Issued,
            partition: str | None = None) -> Context:
    """Where a credential's control probes aim: its own role, its variant's pool, the
    stack's table (on a per-identity table, the caller's own partition)."""
    scenario = cell.scenario
    role = stack.role_of(issued.role_arn)
    return Context(flows, stack, scenario, issued.credentials,
                   role if role in stack.roles else cell.expected.role or "", cell.variant,
                   cell.user, ProbeTarget.of(stack.table_name, scenario.table, partition)
                   if scenario.table is not None else None)
