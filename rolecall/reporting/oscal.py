"""assessment-results.json: a run as an OSCAL Assessment Results document, for GRC tools.

GRC tools ingest OSCAL, not pytest output. Each cell of the run is one observation
(method TEST, with its expected and observed outcome and rule); each failed cell and
each escalation path the suite found is a finding against the controls a team maps
the suite to (default: NIST SP 800-53 AC-3 access enforcement, AC-6 least privilege;
a YAML file named by ROLECALL_OSCAL_CONTROLS maps cell kinds to other controls). The
document is written into the evidence bundle and hashed like every other file. It
validates against NIST's published OSCAL 1.0.6 assessment-results JSON schema
(tests/evidence/oscal/, checked by tests/evidence/test_oscal.py). UUIDs derive from
the run id and cell id, so the same run always yields the same document.

A run's completeness (rolecall/reporting/completeness.py) travels with it: the result's
`remarks` open with the same headline as summary.md (COMPLETE, SELECTION or
INCOMPLETE) and a `run-status` prop says it in one word. A planned cell that never
ran (NOT RUN) is no observation and no finding: nothing was observed, so a GRC tool
must not count it as tested; the remarks say how many there are and where their ids are.
Nor is a cell that ran but was NOT PROBED on purpose (a skip, with its reason): the
remarks name each with its reason, and a `not-probed` prop counts them.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import yaml

import rolecall
from rolecall.reporting.completeness import SELECTION, Completeness
from rolecall.reporting.records import NOT_RUN_OUTCOME, SKIPPED

OSCAL_VERSION = "1.0.6"
ASSESSMENT_RESULTS = "assessment-results.json"
NAMESPACE = uuid.UUID("5d6f0f3e-6c1b-4f59-9a55-2f5a0c8e7b11")  # rolecall's, for uuid5
DEFAULT_CONTROLS: dict[str, list[str]] = {
    "default": ["ac-3", "ac-6"],
    "claims": ["ac-3"],
    "negative": ["ac-3", "ia-5"],
    "escalation": ["ac-6"],
}


def controls_map() -> dict[str, list[str]]:
    """Cell kind -> control ids: the default, or the team's YAML (ROLECALL_OSCAL_CONTROLS)."""
    path = os.environ.get("ROLECALL_OSCAL_CONTROLS")
    if not path:
        return DEFAULT_CONTROLS
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError(f"{path}: map each cell kind (or `default`) to a list of control ids, "
                         "e.g. `default: [ac-3, ac-6]`")
    return {str(k): [str(c).lower() for c in v] for k, v in data.items()}


def uuid_of(*parts: str) -> str:
    """A stable UUID for these parts whose last group is never 12 digits.

    The bundle's writer masks every 12-digit run as an AWS account id; about one
    UUID in 280 ends in 12 digits and would be masked into an invalid UUID, so
    such a one is derived again with a counter.
    """
    key, n = "/".join(parts), 0
    value = uuid.uuid5(NAMESPACE, key)
    while value.hex[-12:].isdigit():
        n += 1
        value = uuid.uuid5(NAMESPACE, f"{key}#{n}")
    return str(value)


def _controls_of(kind: str, mapping: dict[str, list[str]]) -> list[str]:
    return mapping.get(kind) or mapping.get("default") or DEFAULT_CONTROLS["default"]


def assessment_results(cells: list[dict[str, Any]], meta: dict[str, Any],
                       mapping: dict[str, list[str]] | None = None,
                       completeness: Completeness | None = None) -> dict[str, Any]:
    """The OSCAL document of a run (meta has the masked account already).

    NOT RUN rows are left out of observations and findings; `completeness` says why in
    the result's remarks.
    """
    mapping = mapping or controls_map()
    runid = str(meta["runid"])
    ended = str(meta.get("ended_at") or meta.get("started_at"))
    ran = [cell for cell in cells if cell.get("test_outcome") not in (NOT_RUN_OUTCOME, SKIPPED)]
    not_probed = {str(c["id"]): str(c.get("code") or "skipped") for c in cells
                  if c.get("test_outcome") == SKIPPED}
    observations = [_observation(runid, cell) for cell in ran]
    findings = [f for cell in ran for f in _findings(runid, cell, mapping)]
    reviewed = sorted({c for cell in (ran or cells)
                       for c in _controls_of(str(cell["kind"]), mapping)}) \
        or DEFAULT_CONTROLS["default"]
    result: dict[str, Any] = {
        "uuid": uuid_of(runid, "result"),
        "title": f"rolecall conformance run {runid}",
        "description": "Which IAM role each Cognito user gets from the identity pools under test, "
                       "through every credential path, and which DynamoDB actions each credential "
                       "is allowed and denied; expectations from the scenario files and the rule "
                       "catalogue (rules.html).",
        "start": str(meta.get("started_at") or ended), "end": ended,
        "props": [{"name": name, "value": str(meta.get(key) or "-")} for name, key in
                  (("target", "target"), ("region", "region"), ("account", "account"),
                   ("run-id", "runid"))],
        "reviewed-controls": {"control-selections": [
            {"include-controls": [{"control-id": c} for c in reviewed]}]},
    }
    if observations:  # the schema wants at least one; a run cut short may have none
        result["observations"] = observations
    if findings:
        result["findings"] = findings
    if completeness is not None:
        result["props"].append({"name": "run-status", "value": completeness.status})
        result["remarks"] = _remarks(completeness, len(cells) - len(ran) - len(not_probed),
                                     not_probed)
    if not_probed:
        result["props"].append({"name": "not-probed", "value": str(len(not_probed))})
    return {"assessment-results": {
        "uuid": uuid_of(runid, "assessment-results"),
        "metadata": {"title": f"rolecall assessment results, run {runid}", "last-modified": ended,
                     "version": rolecall.__version__, "oscal-version": OSCAL_VERSION},
        "import-ap": {"href": "rules.html",
                      "remarks": "rolecall has no separate OSCAL assessment plan: the plan is the "
                                 "scenario files and the rule catalogue, rules.html."},
        "results": [result]}}


def _remarks(completeness: Completeness, not_run: int, not_probed: dict[str, str]) -> str:
    """The run's extent, first: an auditor must not read a partial run as a clean one."""
    lines = [completeness.headline]
    if not_run:
        lines.append(f"{not_run} planned cell(s) did NOT RUN: they are not observations and "
                     "were not tested; their ids are in evidence.json (completeness.missing).")
    elif completeness.status == SELECTION:
        lines.append("A deliberate selection: cells outside it were not tested.")
    if not_probed:
        lines.append(f"{len(not_probed)} cell(s) ran but were NOT PROBED, on purpose: they are "
                     "not observations and were not tested:\n"
                     + "\n".join(f"- {cell}: {why}" for cell, why in sorted(not_probed.items())))
    return "\n\n".join(lines)


def _observation(runid: str, cell: dict[str, Any]) -> dict[str, Any]:
    verdict = "pass" if cell["passed"] else "fail"
    return {
        "uuid": uuid_of(runid, "observation", str(cell["id"])),
        "title": str(cell["id"]),
        "description": f"{cell['kind']} cell: expected {cell.get('expected')}, observed "
                       f"{cell.get('observed')} [rule {cell.get('rule') or '-'}]: {verdict}",
        "props": [{"name": "result", "value": verdict},
                  {"name": "rule", "value": str(cell.get("rule") or "-")}],
        "methods": ["TEST"],
        "relevant-evidence": [{"href": "evidence.json",
                               "description": f"the cell's record, id {cell['id']}"}],
        "collected": str(cell.get("recorded_at") or cell.get("finished_at") or "1970-01-01T00:00:00Z"),
    }


def _findings(runid: str, cell: dict[str, Any], mapping: dict[str, list[str]]
              ) -> list[dict[str, Any]]:
    """A finding for a failed cell, and one per escalation path the cell found."""
    observation = uuid_of(runid, "observation", str(cell["id"]))
    found: list[tuple[str, str, str]] = []  # (key, title, description)
    if not cell["passed"]:  # NOT RUN and NOT PROBED cells never get here
        found.append(("failed", f"{cell['id']} failed",
                      f"expected {cell.get('expected')}, observed {cell.get('observed')} "
                      f"[rule {cell.get('rule') or '-'}]; expectation source: {cell.get('source')}"))
    if cell["kind"] == "escalation":
        for path in (cell.get("details") or {}).get("findings") or []:
            text = path if isinstance(path, str) else str(path)
            found.append((f"escalation {text}", f"{cell['id']}: escalation path",
                          f"a credential path exceeds the entitlement: {text}"))
    return [{"uuid": uuid_of(runid, "finding", str(cell["id"]), key, control),
             "title": title, "description": description,
             "target": {"type": "objective-id", "target-id": f"{control}_obj",
                        "status": {"state": "not-satisfied"}},
             "related-observations": [{"observation-uuid": observation}]}
            for key, title, description in found
            for control in _controls_of(str(cell["kind"]), mapping)]
