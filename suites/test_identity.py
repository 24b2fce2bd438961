"""Identity ids (SPEC E1): the same for the same user every time, different per user; and
bound to their user (E14): another user's valid token is refused on them.

Per-identity partitions (`dynamodb:LeadingKeys = ${cognito-identity.amazonaws.com:sub}`)
and every audit keyed on the identity rely on it.
"""

from __future__ import annotations

from rolecall.account.run import Run
from rolecall.cells import refusals
from rolecall.cells.identity import (
    BINDING_SOURCE,
    BindingCell,
    IdentityCell,
    binding_problem,
    identity_problem,
    linked_providers,
)
from rolecall.cells.matrix import mismatch, observed_outcome
from rolecall.reporting.records import Observer


def test_identity_id(run: Run, identity_cell: IdentityCell, observe: Observer) -> None:
    cell = identity_cell
    flows = run.flows(cell.scenario)
    first, other = cell.users
    ids = [flows.identity_id(cell.variant, first), flows.identity_id(cell.variant, first),
           flows.identity_id(cell.variant, other)]
    problem = identity_problem(ids[0], ids[1], ids[2], run.target.region)
    observe(observed="ok" if problem is None else "wrong")
    assert problem is None, mismatch(cell.id, problem, "another answer", "E1", "spec")


def test_identity_binding(run: Run, binding_cell: BindingCell, observe: Observer) -> None:
    """E14: B's valid token on A's identity is refused, and A's identity stays A's."""
    cell = binding_cell
    flows, stack = run.flows(cell.scenario), run.stack(cell.scenario)
    before = (flows.identity_id(cell.variant, cell.owner), flows.identity_id(cell.variant, cell.other))
    result = flows.on_identity(cell.flow, cell.variant, before[0], cell.other, cell.role)
    after = (flows.identity_id(cell.variant, cell.owner), flows.identity_id(cell.variant, cell.other))
    linked = (linked_providers(flows, after[0]), linked_providers(flows, after[1]))
    message = getattr(result, "message", "")
    seen = observe(observed=observed_outcome(result, stack), code=getattr(result, "code", None),
                   request_ids=result.request_ids, details={"text": message})
    assert seen.observed == str(cell.expected), mismatch(
        cell.id, cell.expected, seen.observed, cell.expected.rule, BINDING_SOURCE, message)
    if cell.expected.rule == "E14":  # the refusal is E14's, not a classic-flow gate's
        assert message == refusals.QUOTED["E14"], mismatch(
            cell.id, f"the refusal text {refusals.QUOTED['E14']!r}", message, "E14",
            BINDING_SOURCE)
    problem = binding_problem(before, after, linked, stack.provider_of(cell.owner))
    assert problem is None, mismatch(cell.id, problem, "another answer", "E14", BINDING_SOURCE)
