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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rolecall.account.provision import Stack, render, trust_policy
from rolecall.cells.audit_checks import CHECKS
from rolecall.cells.audit_facts import (
    DEFAULT_FAIL_ON,
    SEVERITIES,
    STANDARD_WRITABLE,
    Finding,
    MappingFacts,
    PoolFacts,
    RoleFacts,
    RuleFacts,
    Severity,
    StackFacts,
)
from rolecall.model.scenario import AcceptedFinding, Scenario
from rolecall.reporting.records import Description

STATIC_REGION = "us-east-1"
STATIC_ACCOUNT = "123456789012"
WIDTH = 100  # printed findings wrap here


# --- findings ---------------------------------------------------------------------------


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
    table = scenario.table
    policies = {table.name: render(table.policy, stack)} if table and table.policy else {}
    return StackFacts(scenario.name, scenario.file or scenario.name, pools, roles,
                      table_policies=policies)


def scenario_writable_claims(scenario: Scenario, pool: str | None = None) -> frozenset[str]:
    """Attributes users of `pool` may set themselves: its client's WriteAttributes, default
    all mutable (None: what users of any of the scenario's pools may set)."""
    pools = scenario.pools()
    found: frozenset[str] = frozenset()
    for name in [pool] if pool is not None else list(pools):
        mutable = frozenset(f"custom:{a}" for a in pools[name].custom_attributes) | STANDARD_WRITABLE
        allowed = pools[name].writable_attributes
        found |= mutable & frozenset(allowed) if allowed else mutable
    return found


def _pool_from_variant(scenario: Scenario, variant: str, stack: Stack, writable: frozenset[str],
                       group_roles: tuple[str, ...]) -> PoolFacts:
    mappings = tuple(MappingFacts(
        stack.mapping_key_of(pool), mapping.type,
        tuple(RuleFacts(r.claim, r.match, r.value, r.role) for r in mapping.rules),
        scenario_writable_claims(scenario, pool),
        tuple(g for g in scenario.groups if scenario.group_pool(g) == pool))
        for pool in scenario.pools() if (mapping := scenario.mapping_of(variant, pool)))
    pool = scenario.identity_pool
    return PoolFacts(variant, stack.identity_pools[variant],
                     scenario.pool_setting(variant, "allow_classic_flow"),
                     bool(scenario.pool_setting(variant, "allow_unauthenticated")),
                     pool.authenticated_role, pool.unauthenticated_role, mappings, group_roles,
                     scenario.principal_tags(variant), writable)


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
