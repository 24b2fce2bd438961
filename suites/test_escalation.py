"""No credential path grants more than the entitlement (issue 6.2; each path's own rule:
C5, E5, E7a, E9, E9c, E10 ...: rolecall/cells/escalation.py).

Each user with a declared entitlement (and guests, when the scenario declares
theirs) is taken down every credential path of every variant; the union of
what the credentials can do must stay inside the entitlement. A stack's owners
may accept a known finding with a reason; an accepted finding that is no longer
found fails too, so the record stays true.
"""

from __future__ import annotations

from rolecall.account.run import Run
from rolecall.cells import escalation
from rolecall.cells.escalation import EscalationCell
from rolecall.reporting.records import Observer


def test_no_path_exceeds_the_entitlement(run: Run, escalation_cell: EscalationCell,
                                         observe: Observer) -> None:
    cell = escalation_cell
    found = escalation.find(run.flows(cell.scenario), run.stack(cell.scenario), cell)
    subjects = {finding.subject for finding in found}
    rules = "/".join(dict.fromkeys(rule for f in found for rule in f.rules.values()))
    observe(observed=sorted(subjects), rule=rules or None,  # the rules of the paths found
            details={"findings": [f.describe() for f in found],
                     "paths": [path for f in found for path in f.paths()]})

    unaccepted = [f.describe() for f in found if f.subject not in cell.accepted]
    assert not unaccepted, (f"{cell.id}: escalation beyond the entitlement "
                            f"{list(cell.entitlement)}:\n  " + "\n  ".join(unaccepted))
    stale = sorted(set(cell.accepted) - subjects)
    assert not stale, (f"{cell.id}: accepted finding(s) {stale} no longer found; the hole is "
                       "shut, remove the acceptance from the scenario")
