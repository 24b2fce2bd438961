"""Escalation paths: what a user can really do, over every way to credentials (issue 6.2).

A user's effective access is the union, over every credential path, of the DynamoDB
permissions the resulting credentials were observed to have:

- the enhanced flow, plain and with each role of the stack as CustomRoleArn
  (Token and Rules mappings: with no mapping it is ignored),
- the classic flow with every role of the stack (SPEC C5: the caller chooses),
- the enhanced flow after changing their own attributes, for every rule keyed on
  a `custom:` attribute (a self-service UpdateUserAttributes, as any app user can),
  and, on a per-tenant table whose tenant claim users may write, after setting their
  tenant to another's (SPEC A4: the principal tag follows the claim),
- for guests: the enhanced guest flow, and the classic flow with every role.

Each path names the SPEC rule it takes (`path_rule`): the enhanced flow the rule that
resolves the user's role (E6, E7b, E9, E10 ...), a CustomRoleArn request E7a (Token
mapping) or E9c (Rules), the classic flow C5 (the caller names the role), a self-service
attribute change E9 (a rule keyed on an attribute the user can write) or A4 (a tenant
claim the pool copies into a principal tag), the guest's enhanced flow E5. A finding
cites the rule of each path it found, the cell the rules of every path it takes.

Anything beyond the entitlement the scenario declares (per group, per user, or for
guests) is a finding. On a partitioned table (per-tenant, per-identity) the probes aim
at another's partition: there, a call that names a partition key is never entitled, only
one that names none (Scan, DescribeTable) can be. Permissions are observed by probing,
not read from policies: the check sees what AWS actually allows. Besides the DynamoDB
actions, every path's credentials are probed for self-escalation on the identity stack
(IAM on their own role, the identity pool's configuration and roles, the user pool's
groups and users: rolecall/account/control_probes.py): a credential that can change who
gets what is a finding unless the entitlement names that action (`cognito-identity:*`,
`iam:PutRolePolicy`...). It reads `<path> grants <action> (<what it changes>)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

from rolecall.account import control_probes, probes
from rolecall.account.flows import Flows
from rolecall.account.provision import Stack
from rolecall.account.results import Issued, Result
from rolecall.cells.audit import scenario_writable_claims
from rolecall.model import oracle
from rolecall.model.actions import IAM_ACTIONS
from rolecall.model.scenario import Rule, Scenario
from rolecall.model.shapes import FOREIGN_PARTITION, SHAPES
from rolecall.model.tables import PARTITIONED
from rolecall.reporting.records import Description

GUEST = "guest"
# The actions whose requests name no partition key (dynamodb:LeadingKeys is absent).
UNKEYED = frozenset(c.action for shape in SHAPES for c in shape.checks if not c.keyed)


@dataclass(frozen=True)
class EscalationCell:
    """One subject (a user, or guests) of one scenario, checked on every variant."""

    scenario: Scenario
    subject: str  # a user name, or "guest"
    entitlement: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.scenario.name}-{self.subject}-escalation"

    @property
    def accepted(self) -> dict[str, str]:
        """The scenario's accepted escalation findings of this subject: subject -> reason."""
        mine = {f"{variant}/{self.subject}" for variant in variants_of(self.scenario, self.subject)}
        return {a.subject: a.reason for a in self.scenario.accepted_findings
                if a.check == "escalation" and a.subject in mine}

    @property
    def writes_own_attributes(self) -> bool:
        """Does one of this subject's paths have the user write a `custom:` attribute?"""
        return self.subject != GUEST and any(
            self_service_rules(self.scenario, variant, self.scenario.pool_of(self.subject))
            for variant in variants_of(self.scenario, self.subject))

    def describe(self) -> Description:
        users = self.scenario.users
        groups = tuple(sorted(users[self.subject].groups)) if self.subject in users else ()
        details: dict[str, object] = {"entitlement": list(self.entitlement)}
        if self.writes_own_attributes:
            # Pinned (issue 12): the Cognito docs say an app client without WriteAttributes
            # lets users write the standard attributes; field reports say every mutable
            # one, custom too. The self-service path assumes the latter; the evidence
            # lists what the target answered, so a nightly run on AWS settles it.
            details["pin"] = "self-service write of a custom attribute (no WriteAttributes)"
        rules = dict.fromkeys(rule for variant in variants_of(self.scenario, self.subject)
                              for _, rule, _ in routes(self.scenario, variant, self.subject))
        return Description(self.id, "escalation", self.scenario.name, user=self.subject,
                           groups=groups, expected=sorted(self.accepted),
                           rule="/".join(rules) or None, source="scenario entitlements",
                           scenario_file=self.scenario.file, details=details)


@dataclass
class Finding:
    check: str
    subject: str  # "<variant>/<user or guest>"
    beyond: dict[str, list[str]] = field(default_factory=dict)  # path -> permissions beyond
    rules: dict[str, str] = field(default_factory=dict)  # path -> the SPEC rule it takes

    def describe(self) -> str:
        paths = "; ".join(f"{path} grants {', '.join(extra)} [SPEC {self.rules.get(path, '-')}]"
                          for path, extra in self.beyond.items())
        return f"{self.subject}: {paths}"

    def paths(self) -> list[dict[str, object]]:
        """One entry per path for the evidence: subject, path, its rule, what it grants."""
        return [{"subject": self.subject, "path": path, "rule": self.rules.get(path),
                 "grants": extra} for path, extra in self.beyond.items()]


def entitlement_of(scenario: Scenario, user: str) -> tuple[str, ...] | None:
    """The user's own entitlement, else the union of their groups' (None: nothing declared)."""
    spec = scenario.users[user]
    if spec.entitlement is not None:
        return tuple(spec.entitlement)
    declared = [scenario.groups[g].entitlement for g in spec.groups
                if scenario.groups[g].entitlement is not None]
    if not declared:
        return None
    union = {action for actions in declared for action in actions or []}
    return tuple(a for a in IAM_ACTIONS if a in union) + tuple(sorted(union - set(IAM_ACTIONS)))


def escalation_cells(scenarios: list[Scenario]) -> list[EscalationCell]:
    cells = []
    for scenario in scenarios:
        for user in scenario.users:
            entitled = entitlement_of(scenario, user)
            if entitled is not None:
                cells.append(EscalationCell(scenario, user, entitled))
        guest = scenario.identity_pool.guest_entitlement
        if guest is not None and GUEST not in scenario.users:
            cells.append(EscalationCell(scenario, GUEST, tuple(guest)))
    return cells


Path = tuple[str, str, Callable[[], Result]]  # label, SPEC rule, take it
Route = tuple[str, str, tuple[str, tuple[str, ...]]]  # label, SPEC rule, (Flows method, args)


def routes(scenario: Scenario, variant: str, subject: str) -> list[Route]:
    """Every credential path open to `subject` on one variant, with the rule it takes:
    what `paths` takes, known before anything runs (the cell's description cites them)."""
    roles = list(scenario.roles)
    if subject == GUEST:
        return [("enhanced-guest", "E5", ("guest", (variant,)))] + [
            (f"classic-guest={role}", "C5", ("classic_guest", (variant, role))) for role in roles]
    found: list[Route] = [("enhanced", oracle.enhanced(scenario, variant, subject).rule,
                           ("enhanced", (variant, subject)))]
    pool = scenario.pool_of(subject)
    mapping = scenario.mapping_of(variant, pool)  # the subject's own provider's (P2)
    if mapping is not None:  # E7a (Token), E9c (Rules: overrides the rule order)
        custom = "E7a" if mapping.type == "Token" else "E9c"
        found += [(f"custom={role}", custom, ("enhanced", (variant, subject, role)))
                  for role in roles]
    found += [(f"classic={role}", "C5", ("classic", (variant, subject, role))) for role in roles]
    found += [(f"self-service {rule.claim}={rule.value}", "E9",
               ("after_self_service", (variant, subject, rule.claim, rule.value)))
              for rule in self_service_rules(scenario, variant, pool)]
    claim = self_service_tenant(scenario, variant, pool)
    if claim is not None:  # A4: the user names another's tenant, the tag follows
        found.append((f"self-service {claim}={FOREIGN_PARTITION}", "A4",
                      ("after_self_service", (variant, subject, claim, FOREIGN_PARTITION))))
    return found


def self_service_tenant(scenario: Scenario, variant: str, pool: str) -> str | None:
    """The tenant claim of a per-tenant table, when users of `pool` may write it and the
    variant's pool copies it into a principal tag (SPEC A4); None otherwise."""
    table = scenario.table
    claim = table.tenant_claim if table is not None else None
    if claim is None or claim not in scenario_writable_claims(scenario, pool):
        return None
    return claim if claim in scenario.principal_tags(variant).values() else None


def paths(flows: Flows, scenario: Scenario, variant: str, subject: str) -> Iterator[Path]:
    """Every credential path open to `subject` on one variant (identity pool), ready to take."""
    for label, rule, (method, args) in routes(scenario, variant, subject):
        yield label, rule, partial(getattr(flows, method), *args)


def variants_of(scenario: Scenario, subject: str) -> list[str]:
    """The variants a subject's paths start from: those it signs in through (guests: all)."""
    if subject not in scenario.users:
        return list(scenario.variants)
    return [v for v in scenario.variants if scenario.serves(v, subject)]


def self_service_rules(scenario: Scenario, variant: str, pool: str) -> list[Rule]:
    """The rules of `pool`'s mapping in the variant that a user of that pool can make match
    by writing their own `custom:` attribute."""
    mapping = scenario.mapping_of(variant, pool)
    if mapping is None or mapping.type != "Rules":
        return []
    return [rule for rule in mapping.rules
            if rule.claim.startswith("custom:") and rule.match != "NotEqual"]


def permissions_beyond(flows: Flows, stack: Stack, scenario: Scenario, result: Result,
                       entitled: frozenset[str]) -> set[str]:
    """The IAM permissions beyond `entitled` the credentials were observed to have (every
    probe ALLOWED). A probe whose every needed action is entitled is not made: whatever
    it answers, it adds nothing beyond the entitlement (it was a third of the cost)."""
    if not isinstance(result, Issued) or scenario.table is None:
        return set()
    partitioned = scenario.table.partition in PARTITIONED
    target = probes.ProbeTarget.of(stack.table_name, scenario.table,
                                   FOREIGN_PARTITION if partitioned else None)
    if partitioned:  # on another's partition only a call naming no partition key is entitled
        entitled = frozenset(a for a in entitled if a in UNKEYED)
    allowed: set[str] = set()
    for probe in probes.DEFAULT_PROBES:
        if set(probe.needs) <= entitled:
            continue
        if probes.run(probe, flows.dynamodb(result), target,
                      stack.iam_settled_by).verdict == "ALLOWED":
            allowed.update(probe.needs)
    return allowed - entitled


# (run, scenario, variant, role ARN, kind of path) -> the self-escalations observed. The
# answer depends on the session's principal (its role) and session policy (the enhanced
# guest flow's scope-down is the one a path adds), not on who holds it; paths share an
# observation only when they are provably the same in both: same role ARN and same kind
# of path (enhanced, custom, classic, enhanced-guest, classic-guest, self-service), hence
# the same session policy. Probed once per process and kind, not once per user and path.
_SELF_ESCALATIONS: dict[tuple[str, str, str, str, str], list[str]] = {}


def path_kind(label: str) -> str:
    """`custom=Role` -> `custom`, `self-service custom:x=1` -> `self-service`."""
    return label.split("=", 1)[0].split(" ", 1)[0]


def self_escalations(flows: Flows, stack: Stack, scenario: Scenario, variant: str,
                     subject: str, result: Result, kind: str = "enhanced") -> list[str]:
    """The identity-stack changes the credentials were observed to be allowed, each as
    `<action> (<what it changes>)`. Safe on a real account (docs/control-plane-probes.md)."""
    if not isinstance(result, Issued):
        return []
    role = stack.role_of(result.role_arn)
    if role not in stack.roles:
        return []
    key = (stack.runid, stack.scenario, variant, result.role_arn, kind)
    if key not in _SELF_ESCALATIONS:
        _SELF_ESCALATIONS[key] = _probe_self_escalation(flows, stack, scenario, variant,
                                                        subject, result, role)
    return _SELF_ESCALATIONS[key]


def _probe_self_escalation(flows: Flows, stack: Stack, scenario: Scenario, variant: str,
                           subject: str, result: Issued, role: str) -> list[str]:
    context = control_probes.Context(
        flows, stack, scenario, result.credentials, role, variant,
        None if subject == GUEST else subject,
        probes.ProbeTarget.of(stack.table_name, scenario.table) if scenario.table else None)
    return [f"{probe.action} ({probe.changes})" for probe in control_probes.SELF_ESCALATION
            if control_probes.run(probe, context).verdict == "ALLOWED"]


def find(flows: Flows, stack: Stack, cell: EscalationCell) -> list[Finding]:
    """One finding per variant where some path grants more than the entitlement."""
    findings = []
    for variant in variants_of(cell.scenario, cell.subject):
        finding = Finding("escalation", f"{variant}/{cell.subject}")
        for label, rule, take in paths(flows, cell.scenario, variant, cell.subject):
            result = take()
            beyond = permissions_beyond(flows, stack, cell.scenario, result,
                                        frozenset(cell.entitlement))
            extra = [a for a in IAM_ACTIONS if a in beyond] + [
                change for change in self_escalations(flows, stack, cell.scenario, variant,
                                                      cell.subject, result,
                                                      path_kind(label))
                if not oracle.permits(cell.entitlement, change.split(" ", 1)[0])]
            if extra:
                finding.beyond[label] = extra
                finding.rules[label] = rule
        if finding.beyond:
            findings.append(finding)
    return findings
