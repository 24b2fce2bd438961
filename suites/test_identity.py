"""Identity ids (SPEC E1): the same for the same user every time, different per user.

Per-identity partitions (`dynamodb:LeadingKeys = ${cognito-identity.amazonaws.com:sub}`)
and every audit keyed on the identity rely on it.
"""

from __future__ import annotations

from rolecall.account.run import Run
from rolecall.cells.identity import IdentityCell, identity_problem
from rolecall.cells.matrix import mismatch
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
