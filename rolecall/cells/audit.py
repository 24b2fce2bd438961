"""Trust and configuration audit: the holes a reviewer finds by reading a stack, not running it.

The audit works on ONE normalized model (`StackFacts`: identity pools, their role
mappings, the roles with their trust and identity policies as IAM JSON) built
from either source:

- a Scenario, before anything is provisioned (`facts_from_scenario`): trust
  policies are rendered by `provision.trust_policy` against a placeholder stack,
  so the audit reads exactly the JSON the provisioner would write;
- a live identity pool, via boto3 (`facts_live`): DescribeIdentityPool,
  GetIdentityPoolRoles, IAM roles (trust, inline and attached policies), the app
  client's WriteAttributes and the user pool's groups and schema.

Because every check only sees `StackFacts`, a stack provisioned from a scenario
gives the same findings live as the scenario gives statically (tested).

Simplifications, on purpose (the audit is a reviewer's reading, not IAM):

- Identity policies: an action counts as granted when an Allow statement names it
  (Action with `*`/`?` wildcards, or NotAction that does not), whatever its
  Resource and Condition. Only a Deny with no Condition and Resource `*` takes
  actions away. So the audit over-reports rather than under-reports.
- Trust policies: only Allow statements for the Federated principal
  cognito-identity.amazonaws.com (or `*`) with sts:AssumeRoleWithWebIdentity count.
  An `aud`/`amr` condition restricts when a positive String operator
  (StringEquals, StringLike, their IfExists / ForAnyValue / ForAllValues forms)
  lists values; negated operators (StringNotEquals ...) and Null do not restrict.
  Values are matched as IAM wildcards; ForAllValues on amr is read as ForAnyValue.
- Writable claims: a user can change an attribute with UpdateUserAttributes when
  the attribute is mutable and the app client's WriteAttributes includes it (no
  WriteAttributes at all: every mutable attribute). Scenarios do not set
  WriteAttributes and declare custom attributes mutable, as the provisioner does.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from rolecall.account.provision import Stack, render, trust_policy
from rolecall.cells.audit_facts import (
    AMR,
    AUD,
    STANDARD_WRITABLE,
    MappingFacts,
    PoolFacts,
    RoleFacts,
    RuleFacts,
    StackFacts,
    trust_grants,
    trusts,
    writes,
)
from rolecall.model.oracle import classic_flow_setting
from rolecall.model.scenario import AcceptedFinding, Scenario
from rolecall.reporting.records import Description

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
# One policy for `rolecall audit --fail-on` and the suite's audit cells (`--audit-fail-on`):
# an open (unaccepted) finding at or above the threshold fails; one below it is reported,
# never hidden. The default fails on every open finding, as Checkov does ("a result is
# passing if all checks are passed or skipped", https://checkov.io/2.Basics/Hard%20and%20soft%20fail.html)
# and Prowler (exit code 3 on a failed check): a hole is either fixed or accepted with a
# reason (accepted_findings), and a higher threshold is a team's deliberate choice
# (README, "Auditing a stack").
DEFAULT_FAIL_ON: Severity = "low"

GROUPS_CLAIM = "cognito:groups"
STATIC_REGION = "us-east-1"
STATIC_ACCOUNT = "123456789012"
WIDTH = 100  # printed findings wrap here


# --- findings ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One hole: which check found it, how bad, which SPEC rule, about what, and the fix."""

    check: str
    severity: Severity
    rule: str  # SPEC rule, e.g. T3
    subject: str  # a role name, or the identity pool (scenario: the variant)
    message: str  # what is wrong, in the stack's own names
    fix: str  # how to shut it
    accepted: str | None = None  # the owners' reason, when the scenario accepts it

    def fails(self, threshold: Severity) -> bool:
        """Open (not accepted) and at least as severe as the threshold: it fails the audit."""
        return self.accepted is None and at_least(self.severity, threshold)

    def as_dict(self, threshold: Severity = DEFAULT_FAIL_ON) -> dict[str, Any]:
        return {**asdict(self), "fails": self.fails(threshold)}


def at_least(severity: Severity, threshold: Severity) -> bool:
    """critical > high > medium > low."""
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


@dataclass(frozen=True)
class Audit:
    """The findings of one stack (a scenario, or a live identity pool)."""

    stack: str
    source: str
    findings: tuple[Finding, ...]
    stale: tuple[AcceptedFinding, ...] = ()  # accepted, but no longer found
    notes: tuple[str, ...] = ()  # what the audit could not read

    def failing_at(self, threshold: Severity) -> bool:
        """A finding fails at this threshold, or an acceptance is stale (the list is wrong)."""
        return bool(self.stale) or any(f.fails(threshold) for f in self.findings)

    def of_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def as_dict(self, threshold: Severity = DEFAULT_FAIL_ON) -> dict[str, Any]:
        return {"stack": self.stack, "source": self.source,
                "failing": self.failing_at(threshold),
                "findings": [f.as_dict(threshold) for f in self.findings],
                "stale": [a.model_dump() for a in self.stale], "notes": list(self.notes)}


# --- checks -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One check: its id (test cells and accepted_findings use it), SPEC rule and title."""

    id: str
    rule: str
    title: str
    run: Callable[[StackFacts, PoolFacts], Iterator[Finding]]


def relevant_roles(facts: StackFacts, pool: PoolFacts) -> list[RoleFacts]:
    """Roles the pool names (defaults, mappings, groups) plus every role that trusts it."""
    named = {pool.authenticated_role, pool.unauthenticated_role, *pool.group_roles,
             *(r.role for m in pool.mappings for r in m.rules)}
    return [role for name, role in sorted(facts.roles.items())
            if name in named or trusts(role, pool.pool_id, "authenticated")
            or trusts(role, pool.pool_id, "unauthenticated")]


def _check_trust_without_aud(facts: StackFacts, pool: PoolFacts) -> Iterator[Finding]:
    for role in relevant_roles(facts, pool):
        if any(g.aud is None for g in trust_grants(role.trust)):
            yield Finding(
                "trust-without-aud", "critical", "T3", role.name,
                f"role {role.name} trusts cognito-identity.amazonaws.com with no "
                f"{AUD} condition: an identity of ANY identity pool, in any account, can "
                "assume it (confused deputy)",
                f'add "StringEquals": {{"{AUD}": "{pool.pool_id}"}} to its trust policy')


def _check_trust_without_amr(facts: StackFacts, pool: PoolFacts) -> Iterator[Finding]:
    for role in relevant_roles(facts, pool):
        if role.name == pool.unauthenticated_role:
            continue  # the guest role's amr is guest-role-trusts-authenticated's business
        grants = [g for g in trust_grants(role.trust) if g.admits_pool(pool.pool_id)]
        if any(g.amr is None for g in grants):
            what = f"has no {AMR} condition"
        elif any(g.admits("unauthenticated") for g in grants):
            what = f"lets {AMR} match unauthenticated"
        else:
            continue
        yield Finding(
            "trust-without-amr", "high", "T2", role.name,
            f"role {role.name}'s trust policy {what}: unauthenticated (guest) identities "
            "of the pool can assume it through the basic flow, not only signed-in users",
            f'add "ForAnyValue:StringLike": {{"{AMR}": "authenticated"}} to its trust policy')


def _check_guest_role_trusts_authenticated(facts: StackFacts, pool: PoolFacts) -> Iterator[Finding]:
    role = facts.roles.get(pool.unauthenticated_role or "")
    if role is None:
        return
    grants = [g for g in trust_grants(role.trust) if g.admits_pool(pool.pool_id)]
    if any(g.admits("authenticated") for g in grants):
        what = "has no amr condition" if any(g.amr is None for g in grants) else \
            "lets amr match authenticated"
        yield Finding(
            "guest-role-trusts-authenticated", "medium", "T2", role.name,
            f"role {role.name} is the unauthenticated (guest) role of {pool.name} but its "
            f"trust policy {what}: signed-in identities can assume the guest role too",
            f'restrict its trust to "ForAnyValue:StringLike": {{"{AMR}": "unauthenticated"}}')


def _check_classic_flow_multiple_roles(facts: StackFacts, pool: PoolFacts) -> Iterator[Finding]:
    if pool.allow_classic_flow is False:
        return
    trusting = [r for r in relevant_roles(facts, pool)
                if trusts(r, pool.pool_id, "authenticated")]
    if len(trusting) < 2:
        return
    writers = [r.name for r in trusting if writes(r)]
    setting = classic_flow_setting(pool.allow_classic_flow, bool(pool.mappings))
    names = ", ".join(r.name for r in trusting)
    if pool.mappings:
        severity: Severity = "medium"
        impact = ("so this is latent: remove the mappings and any signed-in user picks any of "
                  "them")
    else:
        severity = "critical" if writers else "high"
        impact = "in the basic flow the caller picks the role (C5): any signed-in user can " \
                 "assume any of them, whatever their groups"
    if writers:
        impact += f"; {', '.join(writers)} can write"
    yield Finding(
        "classic-flow-multiple-roles", severity, "C5", pool.name,
        f"identity pool {pool.name}: {setting}; {len(trusting)} roles trust it for signed-in "
        f"identities ({names}); {impact}",
        f"set AllowClassicFlow to false (aws cognito-identity update-identity-pool "
        f"--identity-pool-id {pool.pool_id} --no-allow-classic-flow ...), or give every role "
        "but the default one a trust policy the pool's identities do not satisfy")


def _check_rule_on_writable_claim(facts: StackFacts, pool: PoolFacts) -> Iterator[Finding]:
    hits = [(m, n, r) for m in pool.mappings if m.type == "Rules"
            for n, r in enumerate(m.rules) if r.claim in m.writable_claims]
    if not hits:
        return
    writers = {r.role for _, _, r in hits if r.role in facts.roles and writes(facts.roles[r.role])}
    rules = "; ".join(f"rule {n + 1}: {r.claim} {r.match} {r.value!r} -> {r.role}"
                      for _, n, r in hits)
    claims = sorted({r.claim for _, _, r in hits})
    yield Finding(
        "rule-on-writable-claim", "critical" if writers else "high", "E9", pool.name,
        f"identity pool {pool.name} maps roles on claims the user can change with "
        f"UpdateUserAttributes ({rules}): a user sets the value and gets the role"
        + (f"; {', '.join(sorted(writers))} can write" if writers else ""),
        f"map on cognito:groups (only admins change group membership), or remove "
        f"{', '.join(claims)} from the app client's WriteAttributes "
        "(aws cognito-idp update-user-pool-client --write-attributes ...)")


def overmatched_groups(rule: RuleFacts, groups: Sequence[str]) -> list[str]:
    """Groups a Contains rule on cognito:groups matches besides the one it names (E10).

    When the value is itself a group, every other group containing it overmatches;
    when it is not, a match is only ambiguous once two or more groups contain it.
    """
    if rule.claim != GROUPS_CLAIM or rule.match != "Contains":
        return []
    others = [g for g in groups if rule.value in g and g != rule.value]
    return others if others and (rule.value in groups or len(others) > 1) else []


def _check_contains_rule_overmatch(facts: StackFacts, pool: PoolFacts) -> Iterator[Finding]:
    hits = [(n, r, over, m.groups) for m in pool.mappings for n, r in enumerate(m.rules)
            if (over := overmatched_groups(r, m.groups))]
    if not hits:
        return
    rules = "; ".join(f"rule {n + 1}: {GROUPS_CLAIM} Contains {r.value!r} -> {r.role} "
                      + (f"also matches {', '.join(over)}" if r.value in groups
                         else f"matches {len(over)} groups ({', '.join(over)})")
                      for n, r, over, groups in hits)
    yield Finding(
        "contains-rule-overmatch", "medium", "E10", pool.name,
        f"identity pool {pool.name}: Contains is a substring test on each group name, so "
        f"{rules}",
        "use MatchType Equals with the exact group name")


def basic_flow_open(pool: PoolFacts) -> bool:
    """Can GetOpenIdToken succeed? Not when disabled (C1) or beside RoleMappings (C3)."""
    return pool.allow_classic_flow is not False and not pool.mappings


def guest_reachable(facts: StackFacts, pool: PoolFacts) -> dict[str, bool]:
    """Roles a guest (no sign-in) can get credentials for -> scoped down or not.

    The enhanced flow hands out the unauthenticated role under the guest scope-down
    policy, which names no DynamoDB action (E5 as corrected in docs/semantics.md).
    The basic flow applies no scope-down: a guest's OIDC token buys any role whose
    trust admits unauthenticated identities of the pool, with its full permissions.
    """
    if not pool.allow_unauthenticated:
        return {}
    reachable = {}
    if pool.unauthenticated_role in facts.roles:
        reachable[str(pool.unauthenticated_role)] = True
    if basic_flow_open(pool):
        for role in relevant_roles(facts, pool):
            if trusts(role, pool.pool_id, "unauthenticated"):
                reachable[role.name] = False
    return reachable


def _check_guest_write(facts: StackFacts, pool: PoolFacts) -> Iterator[Finding]:
    for name, scoped_down in guest_reachable(facts, pool).items():
        can_write = writes(facts.roles[name])
        if not can_write:
            continue
        actions = ", ".join("dynamodb:" + a for a in can_write)
        if scoped_down:
            how = ("as the pool's unauthenticated role; today the enhanced flow's guest "
                   "scope-down policy names no DynamoDB action (E5, docs/semantics.md), so this "
                   "is latent: it opens when the basic flow is enabled or the policy changes")
        else:
            how = ("through the basic flow (GetOpenIdToken + AssumeRoleWithWebIdentity), which "
                   "applies no scope-down: anyone on the internet can write")
        yield Finding(
            "guest-write", "medium" if scoped_down else "high", "E5", name,
            f"identity pool {pool.name} lets guests (no sign-in) get role {name}, which allows "
            f"{actions}, {how}",
            "remove the write actions from the guest role, or set "
            "AllowUnauthenticatedIdentities to false")


CHECKS: dict[str, Check] = {c.id: c for c in (
    Check("trust-without-aud", "T3", "trust policy without an aud condition",
          _check_trust_without_aud),
    Check("trust-without-amr", "T2", "trust policy of a signed-in role without an amr condition",
          _check_trust_without_amr),
    Check("guest-role-trusts-authenticated", "T2", "guest role trusted for signed-in identities",
          _check_guest_role_trusts_authenticated),
    Check("classic-flow-multiple-roles", "C5", "basic flow open while several roles trust the pool",
          _check_classic_flow_multiple_roles),
    Check("rule-on-writable-claim", "E9", "role mapping keyed on a claim users can write",
          _check_rule_on_writable_claim),
    Check("contains-rule-overmatch", "E10", "Contains rule matching more groups than intended",
          _check_contains_rule_overmatch),
    Check("guest-write", "E5", "guests get a role with DynamoDB write actions", _check_guest_write),
)}


def run_checks(facts: StackFacts, checks: Iterable[str] | None = None) -> list[Finding]:
    """Every finding of the stack, one per (check, subject), worst first."""
    found: dict[tuple[str, str], Finding] = {}
    for check in (CHECKS[c] for c in (checks or CHECKS)):
        for pool in facts.pools:
            for finding in check.run(facts, pool):
                key = (finding.check, finding.subject)
                if key not in found or _rank(finding) < _rank(found[key]):
                    found[key] = finding
    return sorted(found.values(), key=lambda f: (_rank(f), f.check, f.subject))


def _rank(finding: Finding) -> int:
    return SEVERITIES.index(finding.severity)


def accept(findings: Iterable[Finding], accepted: Iterable[AcceptedFinding]
           ) -> tuple[tuple[Finding, ...], tuple[AcceptedFinding, ...]]:
    """Mark findings the owners accept (check + subject); return them and the stale acceptances."""
    reasons = {(a.check, a.subject): a for a in accepted}
    marked = tuple(replace(f, accepted=reasons[(f.check, f.subject)].reason)
                   if (f.check, f.subject) in reasons else f for f in findings)
    found = {(f.check, f.subject) for f in marked}
    stale = tuple(a for key, a in reasons.items() if key not in found and a.check in CHECKS)
    return marked, stale


# --- source 1: a scenario (static) ------------------------------------------------------

def placeholder_stack(scenario: Scenario) -> Stack:
    """A stack with made-up ids, so trust and identity policies render as provisioned."""
    user_pool = f"{STATIC_REGION}_static"
    table = scenario.table.name if scenario.table else "no-table"
    return Stack(
        scenario.name, "static", STATIC_REGION, STATIC_ACCOUNT, table,
        f"arn:aws:dynamodb:{STATIC_REGION}:{STATIC_ACCOUNT}:table/{table}",
        user_pool, "static-client", f"cognito-idp.{STATIC_REGION}.amazonaws.com/{user_pool}",
        roles={r: f"arn:aws:iam::{STATIC_ACCOUNT}:role/{r}" for r in scenario.roles},
        # a discovered stack's trust policies name its real identity pool ids
        identity_pools={v: spec.identity_pool_id or f"<pool id of {v}>"
                        for v, spec in scenario.variants.items()})


def facts_from_scenario(scenario: Scenario, variants: Iterable[str] | None = None) -> StackFacts:
    """The stack a scenario describes, as the provisioner would build it."""
    stack = placeholder_stack(scenario)
    pool_ids = stack.identity_pools.values()
    roles = {name: RoleFacts(name, role.trust_policy or trust_policy(role.trust, pool_ids),
                             (render(role.policy, stack),))
             for name, role in scenario.roles.items()}
    writable = scenario_writable_claims(scenario)
    group_roles = tuple(sorted({g.role for g in scenario.groups.values() if g.role}))
    pools = tuple(_pool_from_variant(scenario, v, stack, writable, group_roles)
                  for v in (variants or scenario.variants))
    return StackFacts(scenario.name, scenario.file or scenario.name, pools, roles)


def scenario_writable_claims(scenario: Scenario) -> frozenset[str]:
    """Attributes users may set themselves: the client's WriteAttributes, default all mutable."""
    mutable = frozenset(f"custom:{a}" for a in scenario.user_pool.custom_attributes) | STANDARD_WRITABLE
    allowed = scenario.user_pool.writable_attributes
    return mutable & frozenset(allowed) if allowed else mutable


def _pool_from_variant(scenario: Scenario, variant: str, stack: Stack, writable: frozenset[str],
                       group_roles: tuple[str, ...]) -> PoolFacts:
    mapping = scenario.variants[variant].mapping
    mappings = () if mapping is None else (MappingFacts(
        stack.mapping_key, mapping.type,
        tuple(RuleFacts(r.claim, r.match, r.value, r.role) for r in mapping.rules),
        writable, tuple(scenario.groups)),)
    pool = scenario.identity_pool
    return PoolFacts(variant, stack.identity_pools[variant],
                     scenario.pool_setting(variant, "allow_classic_flow"),
                     bool(scenario.pool_setting(variant, "allow_unauthenticated")),
                     pool.authenticated_role, pool.unauthenticated_role, mappings, group_roles)


def audit_scenario(scenario: Scenario, variants: Iterable[str] | None = None) -> Audit:
    """The static audit of a scenario, its accepted findings marked (no AWS calls)."""
    facts = facts_from_scenario(scenario, variants)
    findings, stale = accept(run_checks(facts), scenario.accepted_findings)
    return Audit(scenario.name, facts.source, findings, stale)


# --- the suite's cells ------------------------------------------------------------------

@dataclass(frozen=True)
class AuditCell:
    """`<scenario>-audit-<check>`: the check's findings must equal the scenario's acceptances."""

    scenario: Scenario
    check: str

    @property
    def id(self) -> str:
        return f"{self.scenario.name}-audit-{self.check}"

    def describe(self) -> Description:
        check = CHECKS[self.check]
        return Description(self.id, "audit", self.scenario.name, rule=check.rule,
                           scenario_file=self.scenario.file,
                           details={"check": check.id, "title": check.title})


def audit_cells(scenarios: list[Scenario]) -> list[AuditCell]:
    return [AuditCell(s, c) for s in scenarios for c in CHECKS]


# --- printing ---------------------------------------------------------------------------

def format_audit(audit: Audit, threshold: Severity = DEFAULT_FAIL_ON) -> str:
    """A reviewer's reading: one block per finding, worst first; each says whether it is
    accepted, open (fails), or open below the threshold (reported, not failing)."""
    lines = [f"{audit.stack}  ({audit.source})"]
    if not audit.findings:
        lines.append("  no findings")
    for f in audit.findings:
        state = ("ACCEPTED" if f.accepted else "OPEN" if f.fails(threshold)
                 else f"OPEN, below --fail-on {threshold}: reported, not failing")
        lines.append(f"  {f.severity.upper():8} {f.check:32} SPEC {f.rule:4} {f.subject}  [{state}]")
        lines.append(_wrap(f.message))
        lines.append(_wrap(f"fix: {f.fix}"))
        if f.accepted:
            lines.append(_wrap(f"accepted: {f.accepted}"))
    for stale in audit.stale:
        lines.append(f"  STALE    {stale.check:32} {stale.subject}: accepted but no longer found "
                     f"(remove it from accepted_findings)")
    lines.extend(f"  note: {note}" for note in audit.notes)
    return "\n".join(lines)


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=WIDTH, initial_indent=" " * 11, subsequent_indent=" " * 13,
                         break_on_hyphens=False, break_long_words=False)


def summary(audits: Sequence[Audit], threshold: Severity = DEFAULT_FAIL_ON) -> str:
    findings = [f for a in audits for f in a.findings]
    counts = ", ".join(f"{sum(f.severity == s for f in findings)} {s}" for s in SEVERITIES)
    failing = sum(f.fails(threshold) for f in findings)
    below = sum(f.accepted is None and not f.fails(threshold) for f in findings)
    accepted = sum(f.accepted is not None for f in findings)
    stale = sum(len(a.stale) for a in audits)
    return (f"{len(findings)} finding(s) in {len(audits)} stack(s): {counts}; {accepted} accepted; "
            f"{failing} open at or above the threshold (failing)"
            + (f"; {below} open below the threshold (reported, not failing)" if below else "")
            + (f"; {stale} stale acceptance(s) (failing)" if stale else "")
            + f"\nfail on: {threshold} and above (--fail-on {threshold})")
