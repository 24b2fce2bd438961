"""The audit's checks: each reads a stack's facts (rolecall/cells/audit_facts.py) and yields
the holes a reviewer would find, each a `Finding` with its severity, SPEC rule and fix.

`CHECKS` is the catalogue: its ids are what scenarios accept (`accepted_findings:`) and
what the suite's audit cells are named after. rolecall/cells/audit.py runs them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rolecall.cells.audit_facts import (
    AMR,
    AUD,
    Check,
    Finding,
    PoolFacts,
    RoleFacts,
    RuleFacts,
    Severity,
    StackFacts,
    allows_tag_session,
    granted,
    relevant_roles,
    statements_of,
    trust_grants,
    trusts,
    writes,
)
from rolecall.model.oracle import classic_flow_setting

GROUPS_CLAIM = "cognito:groups"


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


def _tag_uses(facts: StackFacts, tag: str) -> list[str]:
    """Roles whose policies read the principal tag (a condition key or a `${...}` variable)."""
    needle = f"aws:principaltag/{tag}".lower()
    return [role.name for role in facts.roles.values()
            if any(needle in json.dumps(doc).lower() for doc in role.policies)]


def _check_tag_on_writable_claim(facts: StackFacts, pool: PoolFacts) -> Iterator[Finding]:
    hits = {tag: claim for tag, claim in pool.principal_tags.items()
            if claim in pool.writable_claims}
    if not hits:
        return
    readers = sorted({r for tag in hits for r in _tag_uses(facts, tag)})
    tags = ", ".join(f"{tag} <- {claim}" for tag, claim in sorted(hits.items()))
    yield Finding(
        "tag-on-writable-claim", "critical" if readers else "high", "A4", pool.name,
        f"identity pool {pool.name} copies claims users can change with UpdateUserAttributes "
        f"into principal tags ({tags}): each user chooses their own tag value, e.g. their "
        "tenant" + (f"; {', '.join(readers)} decide access on it" if readers else ""),
        f"remove {', '.join(sorted(set(hits.values())))} from the app client's WriteAttributes "
        "(aws cognito-idp update-user-pool-client --write-attributes ...), so only admins set it")


def _check_tags_without_tag_session(facts: StackFacts, pool: PoolFacts) -> Iterator[Finding]:
    if not pool.principal_tags:
        return
    named = {pool.authenticated_role, *pool.group_roles,
             *(r.role for m in pool.mappings for r in m.rules)}
    lacking = [r.name for r in relevant_roles(facts, pool)
               if r.name in named and not allows_tag_session(r)]
    if lacking:
        yield Finding(
            "tags-without-tag-session", "medium", "A3", pool.name,
            f"identity pool {pool.name} passes principal tags, but the trust policies of "
            f"{', '.join(lacking)} do not allow sts:TagSession: their users are refused "
            "credentials (InvalidIdentityPoolConfigurationException)",
            'add "sts:TagSession" to the Action of each role\'s trust statement for '
            "cognito-identity.amazonaws.com")


def _check_open_table_policy(facts: StackFacts, pool: PoolFacts) -> Iterator[Finding]:
    for table, policy in sorted(facts.table_policies.items()):
        open_ = [s for s in statements_of(policy) if s.get("Effect") == "Allow"
                 and not s.get("Condition") and _anyone(s.get("Principal"))]
        if not open_:
            continue
        actions = sorted({str(a) for s in open_ for a in _listed(s.get("Action"))})
        yield Finding(
            "table-policy-open", "critical" if writes(RoleFacts(table, {}, (policy,))) else "high",
            "R2", table,
            f"table {table}'s resource-based policy allows {', '.join(actions)} to Principal "
            "* without a condition: any principal of any account may call it, whatever its "
            "own policies say",
            "name the principals (role ARNs) in the table policy, or add a condition such as "
            '"StringEquals": {"aws:PrincipalAccount": "<your account>"}')


def _anyone(principal: Any) -> bool:
    return principal == "*" or (isinstance(principal, dict) and "*" in _listed(principal.get("AWS")))


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [] if value is None else [value]


def _check_leading_keys_scan(facts: StackFacts, pool: PoolFacts) -> Iterator[Finding]:
    for role in relevant_roles(facts, pool):
        leaky = [action for s in _tenant_statements(role) for action in _unkeyed_reads(role, s)]
        if leaky:
            names = " and ".join(f"dynamodb:{a}" for a in dict.fromkeys(leaky))
            yield Finding(
                "leading-keys-scan", "high", "D3", role.name,
                f"role {role.name} allows {names} in a statement confined by "
                "dynamodb:LeadingKeys: a Scan (or a PartiQL SELECT whose WHERE binds no "
                "partition key) names no partition key, so the condition holds and the role "
                "reads every partition (every tenant's items)",
                "take dynamodb:Scan out of that statement (Query the caller's own partition); "
                "for PartiQL add a Deny of dynamodb:PartiQLSelect where "
                '"Bool": {"dynamodb:FullTableScan": "true"} (the DynamoDB guide, ql-iam)')


def _tenant_statements(role: RoleFacts) -> list[Mapping[str, Any]]:
    """The role's Allow statements confined by dynamodb:LeadingKeys."""
    return [s for doc in role.policies for s in statements_of(doc)
            if s.get("Effect") == "Allow"
            and "leadingkeys" in json.dumps(s.get("Condition") or {}).lower()]


def _unkeyed_reads(role: RoleFacts, statement: Mapping[str, Any]) -> list[str]:
    """Reads the statement allows that can name no partition key: Scan always, PartiQLSelect
    unless a condition keeps full scans out (on the statement or a Deny of the role's)."""
    found = granted(({"Statement": [statement]},), ("Scan", "PartiQLSelect"))
    guarded = "fulltablescan" in json.dumps(statement.get("Condition") or {}).lower() or any(
        s.get("Effect") == "Deny" and "fulltablescan" in json.dumps(s.get("Condition") or {})
        .lower() for doc in role.policies for s in statements_of(doc))
    return [a for a in found if not (a == "PartiQLSelect" and guarded)]


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
    Check("tag-on-writable-claim", "A4", "principal tag copied from a claim users can write",
          _check_tag_on_writable_claim),
    Check("tags-without-tag-session", "A3", "pool passes principal tags to roles without "
          "sts:TagSession", _check_tags_without_tag_session),
    Check("table-policy-open", "R2", "table policy allowing Principal * without a condition",
          _check_open_table_policy),
    Check("leading-keys-scan", "D3", "Scan or unguarded PartiQL SELECT allowed under a "
          "dynamodb:LeadingKeys condition",
          _check_leading_keys_scan),
)}
