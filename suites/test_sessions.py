"""How long a classic-flow session may be (SPEC C7, C8): DurationSeconds against the role's
MaxSessionDuration and STS's own range, each refusal with AWS's code and whole text.

The requests are sent as given: botocore would refuse DurationSeconds 899 itself, and the
cell is about what the target answers.
"""

from __future__ import annotations

from rolecall.account.results import Issued
from rolecall.account.run import Run
from rolecall.cells import refusals
from rolecall.cells.matrix import mismatch, observed_outcome
from rolecall.cells.sessions import SOURCE, SessionCell, expiry_problem
from rolecall.reporting.records import Observer


def test_session_duration(run: Run, session_cell: SessionCell, observe: Observer) -> None:
    cell = session_cell
    flows, stack = run.flows(cell.scenario), run.stack(cell.scenario)
    result = flows.classic_session(cell.variant, cell.user, cell.role, cell.seconds)
    message = getattr(result, "message", "")
    seen = observe(observed=observed_outcome(result, stack), code=getattr(result, "code", None),
                   request_ids=result.request_ids, details={"text": message})
    expected, rule = cell.expected, cell.expected.rule
    assert seen.observed == str(expected), mismatch(cell.id, expected, seen.observed, rule,
                                                    SOURCE, message)
    if isinstance(result, Issued):
        problem = expiry_problem(result.credentials, cell.seconds, result.obtained_at)
        assert problem is None, mismatch(cell.id, problem, "another Expiration", "C7", SOURCE)
    elif rule in ("C7", "C8"):
        wanted = refusals.duration_refusal(rule, cell.seconds)
        assert message == wanted, mismatch(cell.id, f"the refusal text {wanted!r}", message,
                                           rule, SOURCE)
