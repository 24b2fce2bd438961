"""What each access cell expects: the role's stated profile, read with its policies (SPEC D1-D5,
B1-B2, R1-R2, A2).

The scenario's author states what a role SHOULD do (`allowed:`, `allowed_foreign:`,
`allowed_indexes:`, `allowed_on:`, `shapes:`); the oracle's own reading of the policies
(rolecall/model/access.py) says which check AWS refuses first and in which words, decides
where no profile speaks for the session (a classic-flow session carries no principal
tags), and lists the stated profiles its reading contradicts (`profile_problems`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rolecall.model import access as policy_reading
from rolecall.model.errors import ScenarioError
from rolecall.model.oracle import Verdict, enhanced, permits
from rolecall.model.plan import plan
from rolecall.model.scenario import Scenario
from rolecall.model.shapes import Shape

# The guest scope-down as the oracle reads it: a session policy naming no DynamoDB action.
GUEST_SESSION_POLICY: dict[str, object] = {"Version": "2012-10-17", "Statement": []}


@dataclass(frozen=True)
class Expected:
    """An access cell's expectation: the verdict, the rule, and what a refusal must say."""

    verdict: Verdict
    rule: str
    refusal: policy_reading.Refusal | None = None  # None: the policies could not be read


def access(scenario: Scenario, session: policy_reading.Session | None, shape: Shape,
           partition: policy_reading.Partition = None, on: str | None = None) -> Expected:
    """Expected verdict of a probe of `shape` made with `session`'s credentials (None: a
    guest of the enhanced flow, scoped down to no DynamoDB action, E5).

    The role's stated profile decides (`allowed`, `allowed_foreign` on another's
    partition, `allowed_indexes` on an index), as the scenario's author wrote it; the
    policies themselves say which check AWS refuses first and in which words. Where no
    profile speaks for the session (a classic-flow session on a pool that maps principal
    tags carries none, A2), the policies decide alone. `on`: the other table the probe aims
    at (None: the main table).
    """
    if session is None or (session.user is None and session.flow == "enhanced"):
        return Expected("DENIED", "E5")
    read = policy_reading.first_refusal(scenario, session, shape, partition, on)
    rule = policy_reading.rule_of(scenario, session, shape, partition, read, on) \
        if read is not None else _stated_rule(scenario, partition)
    refusal = read if isinstance(read, policy_reading.Refusal) else None
    if not _profile_speaks(scenario, session):
        if read is None:
            raise ScenarioError(scenario.file, f"roles.{session.role}.policy",
                                f"the oracle cannot read what {shape.name} gives a "
                                f"{session.flow}-flow session of {session.role}",
                                "keep the policy's conditions to keys the oracle models "
                                "(docs/semantics.md), or leave the classic flow out (flows:)")
        return Expected("ALLOWED" if read is False else "DENIED", rule, refusal)
    stated = _stated(scenario, session.role, shape, partition, on)
    return Expected(stated, rule if read is not None else _stated_rule(scenario, partition),
                    refusal if stated == "DENIED" else None)


def _profile_speaks(scenario: Scenario, session: policy_reading.Session) -> bool:
    """A stated profile is about the role's enhanced-flow sessions. A classic-flow session of
    the role differs where the policies weigh the session itself: the principal tags it
    lacks (A2), a table policy that names the enhanced flow's session ARN (R2)."""
    if session.flow == "enhanced":
        return True
    table_policy = scenario.table.policy if scenario.table is not None else None
    return not scenario.principal_tags(session.variant) and not (
        table_policy and "{{session_arn:" in str(table_policy))


def _stated(scenario: Scenario, role: str, shape: Shape, partition: policy_reading.Partition,
            on: str | None = None) -> Verdict:
    """The role's stated profile on a request: ALLOWED when every check's action is in the
    profile of the place it acts on (the table or partition, an index, another table; a
    check that names another's key needs the profile of both partitions). A verdict stated
    for the shape itself (`shapes:`, where attributes decide) comes first."""
    spec = scenario.roles[role]
    assert spec.allowed is not None, f"role {role}: nobody stated what it may do (no access cells)"
    if shape.name in spec.shapes:
        return spec.shapes[shape.name]
    foreign = spec.allowed_foreign if spec.allowed_foreign is not None else spec.allowed
    for check in shape.checks:
        aimed = (scenario.other_tables[0].name if on is None else None) if check.second else on
        if aimed is not None:  # D1: another table is a resource of its own
            profiles = [spec.allowed_on.get(aimed, [])]
        elif check.index is not None:  # D3: so is an index (table/<name>/index/<index>)
            profiles = [(spec.allowed_indexes or {}).get(check.index, [])]
        else:
            profiles = [foreign if partition == "other" else spec.allowed]
            if "foreign" in check.keys and partition is not None:
                profiles.append(foreign)
        if not all(permits(profile, check.permission) for profile in profiles):
            return "DENIED"
    return "ALLOWED"


def _stated_rule(scenario: Scenario, partition: policy_reading.Partition) -> str:
    if scenario.table is not None and scenario.table.partition == "per-tenant":
        return "A2"
    return "D3" if partition is not None or (
        scenario.table is not None and scenario.table.partition == "per-identity") else "D1"


def cross_check(scenario: Scenario, session: policy_reading.Session, shape: Shape,
                partition: policy_reading.Partition, on: str | None = None) -> str | None:
    """Where the stated profile and the policies disagree, what a reader must fix."""
    if not _profile_speaks(scenario, session):
        return None
    read = policy_reading.first_refusal(scenario, session, shape, partition, on)
    if read is None:
        return None
    stated = _stated(scenario, session.role, shape, partition, on)
    given = "DENIED" if isinstance(read, policy_reading.Refusal) else "ALLOWED"
    if stated == given:
        return None
    where = (f" on {on}" if on else "") + (f"@{partition}" if partition else "")
    why = f" ({read.decision.phrase} {read.action})" if isinstance(read, policy_reading.Refusal) \
        else ""
    return (f"{shape.name}{where} for user {session.user} ({session.variant}): the profile "
            f"says {stated}, the policies give {given}{why}")


def profile_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """Every enhanced-flow access expectation whose stated profile and policies disagree,
    where the oracle can read the policies (docs/semantics.md: what it reads)."""
    if scenario.table is None or scenario.discovered is not None:
        return []
    found: list[tuple[str, str]] = []
    for variant in scenario.variants:
        for user in scenario.variant_users(variant):
            outcome = enhanced(scenario, variant, user)
            role = outcome.role
            if not outcome.issued or role is None or scenario.roles[role].allowed is None:
                continue
            session = policy_reading.Session(role, "enhanced", variant, user)
            for planned in plan(scenario, role):
                problem = cross_check(scenario, session, planned.shape, planned.partition,
                                      planned.on)
                if problem and (role, problem) not in found:
                    found.append((role, problem))
    return found
