"""A cell's record: what it expected, what its test observed, and how the test ended.

Reporting flows one way. Before a cell runs, the cell describes itself
(`Description`: who, where, what is expected and why); the test body hands what
it observed to the `Observer` bound to its cell (`Observation`: outcome, code,
role, request ids, attachments); when the test ends, `CellReporting`
(rolecall/reporting/plugin.py) joins the two with the test's outcome and writes
ONE record per cell (per variant, for a cell that checks several). Allure, the
evidence bundle and matrix.html all read those records; nothing fetches a
credential a second time to report it.

Whether a cell passed is the test's outcome, never a flag the body computes.
A cell that checks several variants carries one observation each; each of those
passed when its observation equals its expectation and the test did not fail
for another reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rolecall.reporting.redact import redact

CELL_FIELDS = ("id", "kind", "scenario", "variant", "flow", "user", "groups", "expected_role",
               "observed_role", "action", "expected", "observed", "code", "request_ids", "rule",
               "source", "passed", "test_outcome", "test", "recorded_at", "finished_at")
NOT_OBSERVED = "NOT OBSERVED"
NOT_PROBED = "NOT PROBED"  # the cell ran, and did not probe on purpose: a reason, no verdict
SKIPPED = "skipped"  # pytest's outcome of such a cell
NOT_RUN = "NOT RUN"  # planned, never recorded (rolecall/reporting/completeness.py)
NOT_RUN_OUTCOME = "not run"


def now() -> str:
    """UTC now, ISO 8601 with milliseconds: every timestamp the reports carry."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Description:
    """The expected side of a cell, known before it runs (labels, links, the bundle's row)."""

    id: str
    kind: str
    scenario: str | None = None
    variant: str | None = None
    flow: str | None = None
    user: str | None = None
    groups: tuple[str, ...] = ()
    expected_role: str | None = None
    action: str | None = None
    expected: Any = None
    rule: str | None = None
    source: str | None = None
    scenario_file: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # kind-specific facts (audit check)
    # A cell that checks several variants in one test: its parts, each a cell of its own
    # in the plan and in the evidence (`<id>[<part>]`), so a run counts one number of cells.
    parts: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        described = asdict(self)
        described["groups"] = list(self.groups)
        described["parts"] = list(self.parts)
        return redact(described)


@dataclass
class Observation:
    """What a test saw. `part` names one variant of a cell that checks several.

    A part may carry its own expectation, flow, rule and source (a revoked token is
    refused by one variant and accepted by another); otherwise the cell's hold.
    """

    observed: Any = None
    observed_role: str | None = None
    code: str | None = None
    request_ids: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    attachments: dict[str, Any] = field(default_factory=dict)
    part: str | None = None
    expected: Any = None
    flow: str | None = None
    rule: str | None = None
    source: str | None = None


class Observer:
    """Bound to one cell for one test: the body calls it with what it observed."""

    def __init__(self, description: Description) -> None:
        self.description = description
        self.observations: list[Observation] = []

    def __call__(self, observation: Observation | None = None, **fields: Any) -> Observation:
        seen = replace(observation, **fields) if observation else Observation(**fields)
        self.observations.append(seen)
        return seen


def records_of(description: Description, observations: list[Observation], outcome: str,
               test: str, started: str, reason: str | None = None) -> list[dict[str, Any]]:
    """The cell's records: one per observation, and one per planned part it did not observe.

    A cell that observed nothing is one NOT OBSERVED row (per part); a skipped one is NOT
    PROBED, with `reason` as its code: it ran, but asked nothing on purpose.
    """
    finished = now()
    if outcome == SKIPPED and not observations:
        return [_record(description, Observation(observed=NOT_PROBED, code=reason, part=part),
                        outcome, test, started, finished, passed=False)
                for part in description.parts or (None,)]
    seen_parts = {seen.part for seen in observations}
    unseen = [Observation(observed=NOT_OBSERVED, part=part) for part in description.parts
              if part not in seen_parts]  # the test stopped before it checked them
    if not observations and not unseen:
        return [_record(description, Observation(observed=NOT_OBSERVED), outcome, test, started,
                        finished, passed=False)]
    several = len(observations) > 1 or any(seen.part is not None for seen in observations)
    if not several and not unseen:
        return [_record(description, observations[0], outcome, test, started, finished,
                        passed=outcome == "passed")]
    matches = [_matches(description, seen) for seen in observations]
    failed_elsewhere = outcome != "passed" and all(matches)  # every part matched: not theirs
    return [_record(description, seen, outcome, test, started, finished,
                    passed=matched and not failed_elsewhere)
            for seen, matched in zip(observations, matches, strict=True)] + [
        _record(description, seen, outcome, test, started, finished, passed=False)
        for seen in unseen]


def not_run_records(described: dict[str, Any], test: str, why: str) -> list[dict[str, Any]]:
    """A planned cell with no record: NOT RUN (one row per part), never passed, no verdict."""
    record: dict[str, Any] = {name: described.get(name) for name in CELL_FIELDS}
    record.update({"observed": NOT_RUN, "observed_role": None, "code": why, "request_ids": [],
                   "passed": False, "test_outcome": NOT_RUN_OUTCOME, "test": test,
                   "expected": _text(described.get("expected")), "recorded_at": None,
                   "finished_at": None})
    parts = described.get("parts") or []
    if not parts:
        return [redact(record)]
    return [redact({**record, "id": f"{record['id']}[{part}]", "variant": part})
            for part in parts]


def _expected(description: Description, seen: Observation) -> Any:
    return seen.expected if seen.expected is not None else description.expected


def _matches(description: Description, seen: Observation) -> bool:
    return str(seen.observed) == str(_expected(description, seen))


def _record(description: Description, seen: Observation, outcome: str, test: str,
            started: str, finished: str, passed: bool) -> dict[str, Any]:
    cell = description.as_dict()
    record: dict[str, Any] = {name: cell.get(name) for name in CELL_FIELDS}
    record.update({
        "id": f"{description.id}[{seen.part}]" if seen.part else description.id,
        "variant": seen.part or description.variant,
        "flow": seen.flow or description.flow,
        "expected": _text(_expected(description, seen)),
        "rule": seen.rule or description.rule,
        "source": seen.source or description.source,
        "observed": seen.observed, "observed_role": seen.observed_role, "code": seen.code,
        "request_ids": list(seen.request_ids), "passed": passed, "test_outcome": outcome,
        "test": test, "recorded_at": started, "finished_at": finished,
    })
    if description.kind == "credential":  # the outcome names the role: ISSUED(<role>)
        record["expected_role"] = record["expected_role"] or _issued_role(record["expected"])
        record["observed_role"] = record["observed_role"] or _issued_role(record["observed"])
    details = {**description.details, **seen.details}
    if details:
        record["details"] = details
    return redact(record)


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, list) else str(value)


def _issued_role(outcome: Any) -> str | None:
    text = str(outcome or "")
    return text[len("ISSUED("):-1] if text.startswith("ISSUED(") and text.endswith(")") else None


# --- the store: one file per process, read once at the end -------------------------------------

class RecordStore:
    """Append-only JSON lines under the run's state folder, one file per xdist worker."""

    def __init__(self, folder: Path, worker: str) -> None:
        self.folder = folder
        self.worker = worker

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records)
        with (self.folder / f"cells-{self.worker}.jsonl").open("a") as handle:
            handle.write(lines)

    @staticmethod
    def read(folder: Path) -> list[dict[str, Any]]:
        """Every record of the run, one per cell id, sorted by id.

        A line cut short (a worker killed while writing) is skipped: its cell then
        counts as not run, which is what it is.
        """
        cells: dict[str, dict[str, Any]] = {}
        for path in sorted(folder.glob("cells-*.jsonl")):
            for line in path.read_text().splitlines():
                try:
                    record = json.loads(line) if line.strip() else None
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and "id" in record:
                    cells.setdefault(record["id"], record)
        return [cells[key] for key in sorted(cells)]
