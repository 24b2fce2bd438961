"""No credential path grants more than the entitlement (issue 6.2; SPEC C5, E5, E10).

Each user with a declared entitlement (and guests, when the scenario declares
theirs) is taken down every credential path of every variant; the union of
what the credentials can do must stay inside the entitlement. A stack's owners
may accept a known finding with a reason; an accepted finding that is no longer
found fails too, so the record stays true.
"""

from __future__ import annotations

from rolecall.cells import escalation
from rolecall.cells.escalation import EscalationCell
from rolecall.target.run import Run


def test_no_path_exceeds_the_entitlement(run: Run, escalation_cell: EscalationCell,
                                         worker_id_label: str) -> None:
    cell = escalation_cell
    scenario = cell.scenario
    found = escalation.find(run.flows(scenario), run.stack(scenario), cell)
    mine = {f"{variant}/{cell.subject}" for variant in scenario.variants}
    accepted = {a.subject: a.reason for a in scenario.accepted_findings
                if a.check == "escalation" and a.subject in mine}
    subjects = {finding.subject for finding in found}
    run.record(worker_id_label, {
        "kind": "escalation", "id": cell.id, "scenario": scenario.name, "user": cell.subject,
        "expected": sorted(accepted), "observed": sorted(subjects),
        "findings": [f.describe() for f in found], "entitlement": list(cell.entitlement),
        "rule": "C5/E10/E5", "source": "scenario entitlements", "passed": subjects == set(accepted)})

    unaccepted = [f.describe() for f in found if f.subject not in accepted]
    assert not unaccepted, (f"{cell.id}: escalation beyond the entitlement "
                            f"{list(cell.entitlement)}:\n  " + "\n  ".join(unaccepted))
    stale = sorted(set(accepted) - subjects)
    assert not stale, (f"{cell.id}: accepted finding(s) {stale} no longer found; the hole is "
                       "shut, remove the acceptance from the scenario")
