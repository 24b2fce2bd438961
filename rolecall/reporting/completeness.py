"""Is a run's evidence the whole run? Planned cells against observed ones, and why any are missing.

A bundle that shows 684 passed cells and no failure reads as a clean run, whether
1,793 cells were planned or 684. So the run records its plan when collection ends
(every selected cell, and how many cells a `-k`, `-m`, `--deselect` or a narrower
path left out), and at the end compares it with the records. A run is:

- `complete`:   every planned cell has a record, and nothing narrowed the suite;
- `selection`:  every planned cell has a record, but the run was narrowed on purpose
                (`--scenario books`, `-k testuser1`, a single test file): it is not the
                whole suite, and says by what;
- `incomplete`: planned cells have no record (interrupted by SIGINT or SIGTERM, stopped
                after failures, a crashed xdist worker), or the plan was never made.

Missing cells become NOT RUN rows in the evidence: never passed, never failed, never a
verdict. A cell that ran but did not probe on purpose (skipped: a team's table without
deletion protection gives no safe way to ask DeleteTable) is NOT PROBED: not observed
either, so the headline counts it apart and says why ("COMPLETE: 214 of 215 planned
cells observed; 1 not probed: table ... is not deletion-protected ..."); the run is
still complete (it ran every planned cell), but never reads as if every cell were
observed. The unit is the cell: a test that checks several variants is one cell per
variant in the plan as in the evidence, so every file counts the same number.
summary.md, matrix.html, evidence.json, assessment-results.json, Allure's
environment.properties, the JUnit properties and the terminal all carry the same
`headline`.
"""

from __future__ import annotations

import html
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rolecall.reporting.records import SKIPPED, not_run_records

COMPLETE, SELECTION, INCOMPLETE = "complete", "selection", "incomplete"
PLAN = "plan.json"
JUNIT_PROPERTY = "rolecall.run.status"
SHOWN_MISSING = 50  # summary.md lists this many missing cells; evidence.json lists them all


@dataclass(frozen=True)
class Plan:
    """What collection selected: (test node id, cell description) pairs, and node ids left out."""

    cells: list[tuple[str, dict[str, Any]]]
    deselected: list[str]


@dataclass(frozen=True)
class Completeness:
    """How much of the planned run the evidence holds, and why not all of it."""

    status: str
    planned: int | None  # None: the run ended before collection made a plan
    observed: int
    missing: list[str] = field(default_factory=list)  # cell ids planned and never recorded
    reason: str | None = None  # "interrupted by SIGINT", "stopping after 1 failures" ...
    selection: list[str] = field(default_factory=list)  # "--scenario books", "-k 'x'" ...
    deselected: int = 0
    not_probed: dict[str, str] = field(default_factory=dict)  # cell id -> why it asked nothing

    @property
    def headline(self) -> str:
        """One line for every reader: `INCOMPLETE: 684 of 1,793 cells; interrupted by SIGINT`."""
        chosen = f"selected by {', '.join(self.selection)}" if self.selection else ""
        left_out = f"{self.deselected:,} cell(s) deselected" if self.deselected else ""
        planned = self.planned or 0
        if self.status in (COMPLETE, SELECTION):
            which = "planned" if self.status == COMPLETE else "selected"
            counted = (f"{self.observed:,} of {planned:,} {which} cells observed" if self.not_probed
                       else f"all {planned:,} {which} cells observed")
            parts = [f"{self.status.upper()}: {counted}", self.not_probed_line]
            if self.status == SELECTION:
                parts += [chosen, left_out, "not the whole suite"]
            return "; ".join(p for p in parts if p)
        counted = (f"{self.observed:,} of {self.planned:,} cells" if self.planned is not None
                   else f"{self.observed:,} cells observed, no plan (collection never finished)")
        parts = [f"INCOMPLETE: {counted}", self.not_probed_line, self.reason or "", chosen]
        return "; ".join(p for p in parts if p)

    @property
    def not_probed_line(self) -> str:
        """`1 not probed: <why>`; with several reasons, where they are listed."""
        if not self.not_probed:
            return ""
        reasons = sorted(set(self.not_probed.values()))
        why = (f": {reasons[0]}" if len(reasons) == 1
               else f" for {len(reasons)} reasons (summary.md: Not probed)")
        return f"{len(self.not_probed):,} not probed{why}"

    @property
    def acceptable(self) -> bool:
        """Can the bundle stand for what it says it covers without a flag? Not when incomplete."""
        return self.status in (COMPLETE, SELECTION)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "headline": self.headline}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Completeness:
        return cls(**{k: data[k] for k in ("status", "planned", "observed", "missing", "reason",
                                           "selection", "deselected", "not_probed") if k in data})


# --- the plan, written once by whichever process collected first --------------------------------

def write_plan(folder: Path, cells: Iterable[tuple[str, dict[str, Any]]],
               deselected: Iterable[str]) -> None:
    """Record the plan; xdist workers all collect the same items, so the first writer wins."""
    text = json.dumps({"cells": [{"test": test, "cell": cell} for test, cell in cells],
                       "deselected": list(deselected)}, sort_keys=True, default=str)
    partial = folder / f"{PLAN}.{os.getpid()}.tmp"
    partial.write_text(text)
    try:
        partial.rename(folder / PLAN) if not (folder / PLAN).exists() else partial.unlink()
    except OSError:
        partial.unlink(missing_ok=True)


def read_plan(folder: Path) -> Plan | None:
    path = folder / PLAN
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return Plan([(c["test"], c["cell"]) for c in data["cells"]], list(data["deselected"]))


# --- the assessment at the end of the run --------------------------------------------------------

def assess(plan: Plan | None, records: list[dict[str, Any]], reason: str | None,
           selection: list[str], crashed: dict[str, str] | None = None
           ) -> tuple[Completeness, list[dict[str, Any]]]:
    """The run's completeness, and its cells: the records plus a NOT RUN row per missing cell
    (per part of a cell that checks several variants: the plan's unit is the cell)."""
    crashed = crashed or {}
    seen = {str(r.get("test")) for r in records}
    planned = plan.cells if plan is not None else []
    tests = {test for test, _ in planned}
    missing = [(test, cell) for test, cell in planned if test not in seen]
    default = "interrupted before it ran" if reason else "never recorded"
    not_run = [row for test, cell in missing
               for row in not_run_records(cell, test, crashed.get(test, default))]
    if missing and not reason:
        reason = _unexplained(len(not_run), crashed)
    deselected = len(plan.deselected) if plan is not None else 0
    if deselected and not selection:
        selection = ["deselection"]
    ran = [r for r in records if plan is None or str(r.get("test")) in tests]
    not_probed = {str(r["id"]): str(r.get("code") or "skipped") for r in ran
                  if r.get("test_outcome") == SKIPPED}
    incomplete = plan is None or bool(missing)
    status = INCOMPLETE if incomplete else SELECTION if selection or deselected else COMPLETE
    verdict = Completeness(status, sum(max(1, len(cell.get("parts") or [])) for _, cell in planned)
                           if plan is not None else None, len(ran) - len(not_probed),
                           sorted(str(row["id"]) for row in not_run),
                           reason if incomplete else None,
                           list(selection), deselected, not_probed)
    return verdict, sorted([*records, *not_run], key=lambda c: str(c["id"]))


def _unexplained(count: int, crashed: dict[str, str]) -> str:
    crash = next(iter(crashed.values()), None)
    why = f" ({crash})" if crash else " (a worker crashed or a test never reported)"
    return f"{count:,} planned cell(s) never recorded{why}"


# --- how each reader is told ---------------------------------------------------------------------

def summary_lines(verdict: Completeness) -> list[str]:
    """The first lines of summary.md, right under its title."""
    lines = [f"**{verdict.headline}**", ""]
    if verdict.status == INCOMPLETE:
        lines += [f"This bundle does NOT cover the planned run: {len(verdict.missing):,} planned "
                  "cell(s) did not run. They are listed under \"Not run\" as NOT RUN, counted "
                  "neither passed nor failed; `rolecall verify` refuses this bundle unless "
                  "given `--allow-partial`.", ""]
    elif verdict.status == SELECTION:
        lines += ["A deliberate selection: every selected cell ran, but cells outside the "
                  "selection were not tested.", ""]
    if verdict.not_probed:
        lines += [f"{len(verdict.not_probed):,} cell(s) ran but were NOT PROBED, on purpose and "
                  "with a reason (listed under \"Not probed\"): they are not observations, "
                  "neither passed nor failed; `rolecall verify --require-full` refuses this "
                  "bundle.", ""]
    return lines


def not_probed_lines(verdict: Completeness) -> list[str]:
    """summary.md's "Not probed" section: each such cell and why nothing was asked."""
    if not verdict.not_probed:
        return []
    shown = sorted(verdict.not_probed.items())[:SHOWN_MISSING]
    more = len(verdict.not_probed) - len(shown)
    lines = ["", f"## Not probed ({len(verdict.not_probed):,})", "",
             *[f"- {cell_id}: {why}" for cell_id, why in shown]]
    if more:
        lines.append(f"- ... and {more:,} more (evidence.json: completeness.not_probed)")
    return lines


def not_run_lines(verdict: Completeness) -> list[str]:
    if not verdict.missing:
        return []
    shown = verdict.missing[:SHOWN_MISSING]
    more = len(verdict.missing) - len(shown)
    lines = ["", f"## Not run ({len(verdict.missing):,})", "",
             *[f"- {cell_id}" for cell_id in shown]]
    if more:
        lines.append(f"- ... and {more:,} more (evidence.json: completeness.missing)")
    return lines


BANNER_STYLE = (".banner{padding:.6em 1em;margin:0 0 1em;font-size:1.15em;font-weight:700;"
                "border:3px solid}.banner.incomplete{background:#ffcdd2;color:#8e0000}"
                ".banner.selection{background:#fff3cd;color:#5d4037}"
                ".banner.complete{background:#c8e6c9;color:#1b5e20}"
                ".banner.notprobed{background:#fff3cd;color:#5d4037}")


def banner_html(verdict: Completeness) -> str:
    """The first thing matrix.html shows: complete, a selection, or INCOMPLETE and why."""
    shade = " notprobed" if verdict.not_probed else ""  # never the all-observed green
    return (f"<style>{BANNER_STYLE}</style><div class=\"banner {verdict.status}{shade}\" "
            f"role=\"status\">{html.escape(verdict.headline)}</div>")


def mark_junit(path: Path, verdict: Completeness) -> None:
    """Add the headline as a property of every testsuite of a JUnit file (CI reads those)."""
    if not path.is_file():
        return
    tree = ET.parse(path)
    root = tree.getroot()
    for suite in ([root] if root.tag == "testsuite" else root.findall("testsuite")):
        properties = suite.find("properties")
        if properties is None:
            properties = ET.Element("properties")
            suite.insert(0, properties)
        ET.SubElement(properties, "property", name=JUNIT_PROPERTY, value=verdict.headline)
    tree.write(path, encoding="utf-8", xml_declaration=True)
