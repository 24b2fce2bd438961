"""cosmic-ray's results as rolecall reads them: mutants, scores, estimates and reports.

A whole run judges every mutant; a sampled run (`--sample K`) judges K per module, so
each module's score is an estimate with its sampling error and the overall score
weighs modules by their mutant counts (a stratified estimate). Reports record each
module's sha256: cosmic-ray names a mutant by its position in the source, so a
report of an edited module cannot be re-judged (`changed_since`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Mutant:
    module: str
    line: int
    operator: str
    occurrence: int
    function: str
    outcome: str  # killed | survived | incompetent | equivalent-annotation
    #               | equivalent-fault-hook | not-sampled | pending

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def survivors_of(report: list[Mutant]) -> dict[str, frozenset[tuple[str, int]]]:
    """A previous report's survivors, per module, as (operator, occurrence)."""
    found: dict[str, set[tuple[str, int]]] = {}
    for mutant in report:
        if mutant.outcome == "survived":
            found.setdefault(mutant.module, set()).add((mutant.operator, mutant.occurrence))
    return {module: frozenset(pairs) for module, pairs in found.items()}


def rejudged(report: list[Mutant], rerun: list[Mutant]) -> list[Mutant]:
    """The previous report with each survivor replaced by its outcome in the rerun (cells
    added since may kill it); killed, equivalent and not-sampled mutants stay as they were."""
    again = {(m.module, m.operator, m.occurrence): m for m in rerun
             if m.outcome not in ("not-sampled", "pending")}
    return [again.get((m.module, m.operator, m.occurrence), m) if m.outcome == "survived" else m
            for m in report]


def read_report(path: Path) -> tuple[list[Mutant], dict[str, str]]:
    """An earlier report's mutants and the module hashes it recorded (none before hashes)."""
    report = json.loads(path.read_text())
    return [Mutant(**entry) for entry in report["mutants"]], report.get("module_sha256", {})


def mutant_of(entry: list[Any]) -> Mutant:
    """One line of `cosmic-ray dump`: [work item, result or null]."""
    item, result = entry
    mutation = item["mutations"][0]
    outcome = "pending"
    if result is not None:
        worker = result.get("worker_outcome")
        outcome = result.get("test_outcome") or worker or "pending"
        if worker in ("exception", "abnormal"):
            outcome = "incompetent"
        elif worker == "skipped":
            outcome = {NOT_SAMPLED: "not-sampled", FAULT_HOOK: "equivalent-fault-hook"}.get(
                result.get("output"), "equivalent-annotation")
    return Mutant(mutation["module_path"], int(mutation["start_pos"][0]),
                  mutation["operator_name"], int(mutation["occurrence"]),
                  str(mutation.get("definition_name") or ""), str(outcome))


def score(mutants: list[Mutant]) -> float | None:
    """Killed / (killed + survived); incompetent mutants (they crash) and pending ones excluded."""
    counts = Counter(m.outcome for m in mutants)
    judged = counts["killed"] + counts["survived"]
    return counts["killed"] / judged if judged else None


def estimate(mutants: list[Mutant]) -> dict[str, float | None] | None:
    """With a sample: the overall score as a stratified estimate (each module's sampled
    score weighed by its share of the judgeable mutants) and its standard error. Without
    one (nothing not-sampled): None, the score is exact."""
    if not any(m.outcome == "not-sampled" for m in mutants):
        return None
    population = {module: sum(1 for m in mutants if m.module == module
                              and m.outcome in ("killed", "survived", "not-sampled"))
                  for module in {m.module for m in mutants}}
    total = sum(population.values())
    value = variance = 0.0
    for module, size in population.items():
        judged = [m for m in mutants if m.module == module and m.outcome in ("killed", "survived")]
        if not judged or not total:
            continue
        rate = sum(m.outcome == "killed" for m in judged) / len(judged)
        weight = size / total
        value += weight * rate
        finite = (size - len(judged)) / (size - 1) if size > 1 else 0.0  # sampled w/o replacement
        if len(judged) == 1:  # one mutant says nothing about its module's spread
            variance = math.inf
        else:
            variance += weight ** 2 * rate * (1 - rate) / (len(judged) - 1) * finite
    error = None if math.isinf(variance) else math.sqrt(variance)  # None: unknown
    return {"score": value, "standard_error": error, "modules": len(population)}


def estimated_text(sampled: dict[str, float | None]) -> str:
    score, error = sampled["score"], sampled["standard_error"]
    spread = "an unknown spread" if error is None else f"+/- {error:.1%} (one standard error)"
    return f"estimated score over the modules {score or 0.0:.1%}, {spread}; modules weighed " \
           "by their mutant counts"


def write_reports(report_dir: Path, mutants: list[Mutant], scenarios: list[str],
                  seconds: float, hashes: dict[str, str] | None = None,
                  interrupted: bool = False) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    counts = Counter(m.outcome for m in mutants)
    rate = score(mutants)
    sampled = estimate(mutants)
    summary = {"tool": "cosmic-ray 8.7.0", "scenarios": scenarios, "seconds": round(seconds),
               "counts": dict(counts), "score": rate, "sample_estimate": sampled,
               "module_sha256": hashes or {}, "interrupted": interrupted,
               "per_module": {module: dict(Counter(m.outcome for m in mutants
                                                   if m.module == module))
                              for module in sorted({m.module for m in mutants})},
               "mutants": [m.to_json() for m in mutants]}
    (report_dir / "mutation-tool.json").write_text(json.dumps(summary, indent=2))
    lines = ["# cosmic-ray over the emulator's decision code", "",
             f"score {'-' if rate is None else f'{rate:.1%}'} (killed / judged); "
             f"counts {dict(counts)}; {seconds / 60:.0f} min; scenarios {', '.join(scenarios)}",
             *([] if sampled is None else ["", f"A sample, not the whole run: {estimated_text(sampled)}."]),
             *(["", "INTERRUPTED: the mutants not judged before the stop are pending; "
                    "this is a partial result."] if interrupted else []),
             "", "| module | line | function | operator | occurrence |", "|---|---|---|---|---|"]
    lines += [f"| {m.module} | {m.line} | {m.function} | {m.operator} | {m.occurrence} |"
              for m in mutants if m.outcome == "survived"]
    (report_dir / "mutation-tool.md").write_text("\n".join(lines) + "\n")


ANNOTATION = "in a type annotation"


FAULT_HOOK = "runs only with an emulator fault on"


NOT_SAMPLED = "not in the sample"
