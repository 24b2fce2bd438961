"""cosmic-ray's results as rolecall reads them: mutants, scores, estimates and reports.

A whole run judges every mutant; a sampled run (`--sample K`) judges K per module, so
each module's score is an estimate with its sampling error and the overall score
weighs modules by their mutant counts (a stratified estimate). Reports record each
module's sha256: cosmic-ray names a mutant by its position in the source, so a
report of an edited module cannot be re-judged (`changed_since`), and reports can be
combined into one larger sample only when their sources are the same (`combined`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolecall.model.errors import ScenarioError


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

    @property
    def key(self) -> tuple[str, str, int]:
        """What names a mutant in one version of its module's source (cosmic-ray numbers
        the occurrences of each operator in a module: positions, not meaning)."""
        return (self.module, self.operator, self.occurrence)


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
    again = {m.key: m for m in rerun if m.outcome not in ("not-sampled", "pending")}
    return [again.get(m.key, m) if m.outcome == "survived" else m for m in report]


def read_report(path: Path) -> tuple[list[Mutant], dict[str, str]]:
    """An earlier report's mutants and the module hashes it recorded (none before hashes)."""
    report = json.loads(path.read_text())
    return [Mutant(**entry) for entry in report["mutants"]], report.get("module_sha256", {})


@dataclass
class Run:
    """What one cosmic-ray run judged, or several kept reports of one source together."""

    mutants: list[Mutant]
    per_module: dict[str, dict[str, int]]  # outcome counts, not-sampled included
    hashes: dict[str, str]  # module -> the sha256 of the source its mutants are positions in
    scenarios: list[str]
    seconds: float = 0.0
    interrupted: bool = False
    sources: list[str] = field(default_factory=list)  # the reports read (none: this run)
    repeated: int = 0  # mutants judged in more than one of them, counted once

    @classmethod
    def of(cls, mutants: list[Mutant], scenarios: list[str], seconds: float,
           hashes: dict[str, str], interrupted: bool = False) -> Run:
        return cls(mutants, counts_per_module(mutants), hashes, scenarios, seconds, interrupted)

    @property
    def sampled(self) -> bool:
        return any(counts.get("not-sampled") for counts in self.per_module.values())

    def judged(self) -> list[Mutant]:
        return [m for m in self.mutants if m.outcome in ("killed", "survived")]

    def survivors(self) -> list[Mutant]:
        return [m for m in self.mutants if m.outcome == "survived"]


def read_run(path: Path) -> Run:
    """A report the tool wrote (reports/mutation-tool.json, or a kept sample): its mutants,
    outcome counts and module hashes. Kept samples list only the judged mutants; their
    counts still hold the rest, so their weights are whole."""
    try:
        report = json.loads(path.read_text())
        mutants = [Mutant(**entry) for entry in report["mutants"]]
        per_module = {module: dict(counts) for module, counts in report["per_module"].items()}
    except FileNotFoundError:
        raise ScenarioError(path, "--score", "no such report",
                            "give the path of a mutation-tool.json the tool wrote") from None
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ScenarioError(path, "the whole file", f"not a mutation-tool report ({exc!r})",
                            "give a mutation-tool.json the tool wrote (it has mutants, "
                            "per_module and module_sha256)") from None
    for module, counts in per_module.items():
        listed = Counter(m.outcome for m in mutants if m.module == module)
        if any(listed[k] != counts.get(k, 0) for k in ("killed", "survived")):
            raise ScenarioError(path, f"per_module.{module}",
                                f"counts {counts} disagree with the mutants listed ({dict(listed)})",
                                "use the report as the tool wrote it")
    return Run(mutants, per_module, dict(report.get("module_sha256", {})),
               list(report.get("scenarios", [])), float(report.get("seconds", 0)),
               bool(report.get("interrupted", False)), [str(path)])


def combined(runs: list[Run]) -> Run:
    """Several reports of the same source as one larger sample. A mutant judged in more
    than one (seeds draw independently) is one mutant: it counts once, with its outcome
    in the last report that judged it. Reports of different sources name different
    mutants by the same positions, so they cannot be combined."""
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    for run in runs[1:]:
        if set(first.per_module) != set(run.per_module):
            raise ScenarioError(run.sources[0], "per_module",
                                f"mutates other modules than {first.sources[0]}",
                                "combine only reports of the same modules")
        for module in sorted(first.per_module):
            ours, theirs = first.hashes.get(module), run.hashes.get(module)
            if ours is None or ours != theirs:
                raise ScenarioError(run.sources[0], f"module_sha256.{module}",
                                    f"{module} is not the source of {first.sources[0]} "
                                    f"({(theirs or 'none')[:12]} vs {(ours or 'none')[:12]}): "
                                    "the same positions name other mutants",
                                    "combine only reports of one tree")
            if _population(first.per_module[module]) != _population(run.per_module[module]):
                raise ScenarioError(run.sources[0], f"per_module.{module}",
                                    f"{module} has another number of judgeable mutants than in "
                                    f"{first.sources[0]}", "combine only reports of one tree")
    latest: dict[tuple[str, str, int], Mutant] = {}
    judged = 0
    for run in runs:
        for mutant in run.judged():
            latest[mutant.key] = mutant
            judged += 1
    mutants = list(latest.values())
    per_module = {}
    for module, counts in runs[-1].per_module.items():
        outcomes = Counter(m.outcome for m in mutants if m.module == module)
        rest = _population(counts) - outcomes["killed"] - outcomes["survived"]
        per_module[module] = {**{k: v for k, v in counts.items() if k not in _POPULATION},
                              "killed": outcomes["killed"], "survived": outcomes["survived"],
                              "not-sampled": rest}
    return Run(mutants, per_module, dict(first.hashes),
               list(dict.fromkeys(name for run in runs for name in run.scenarios)),
               sum(run.seconds for run in runs), any(run.interrupted for run in runs),
               [source for run in runs for source in run.sources], judged - len(mutants))


_POPULATION = ("killed", "survived", "not-sampled")


def _population(counts: dict[str, int]) -> int:
    return sum(counts.get(outcome, 0) for outcome in _POPULATION)


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


@dataclass(frozen=True)
class Stratum:
    """One module's part in a stratified estimate: how many mutants a whole run would judge
    (its weight), how many the sample judged and how many of those were killed."""

    population: float
    judged: int
    killed: int


def strata(per_module: dict[str, dict[str, int]],
           equivalent: dict[str, int] | None = None) -> dict[str, Stratum]:
    """Each module's stratum from its outcome counts (killed, survived, not-sampled).

    With `equivalent` (per module, how many of its judged survivors are classified
    equivalent), net of them: they leave the judged mutants, and the module's weight
    shrinks in the same proportion, the sample's share of equivalents standing for the
    whole module's (docs/mutation-survivors.md). In a whole run, nothing not-sampled,
    that is exactly the equivalents taken out.
    """
    found: dict[str, Stratum] = {}
    for module, counts in per_module.items():
        judged = counts.get("killed", 0) + counts.get("survived", 0)
        population: float = judged + counts.get("not-sampled", 0)
        out = (equivalent or {}).get(module, 0)
        if out:
            population, judged = population * (judged - out) / judged, judged - out
        found[module] = Stratum(population, judged, counts.get("killed", 0))
    return found


def stratified(found: dict[str, Stratum]) -> dict[str, float | None]:
    """The overall score as a stratified estimate (each module's sampled score weighed by
    its share of the population) and its standard error (None: unknown)."""
    total = sum(stratum.population for stratum in found.values())
    value = variance = 0.0
    for stratum in found.values():
        size, judged = stratum.population, stratum.judged
        if not judged or not total:
            continue
        rate = stratum.killed / judged
        weight = size / total
        value += weight * rate
        finite = (size - judged) / (size - 1) if size > 1 else 0.0  # sampled w/o replacement
        if judged == 1:  # one mutant says nothing about its module's spread
            variance = math.inf
        else:
            variance += weight ** 2 * rate * (1 - rate) / (judged - 1) * finite
    error = None if math.isinf(variance) else math.sqrt(variance)
    return {"score": value, "standard_error": error, "modules": len(found)}


def counts_per_module(mutants: list[Mutant]) -> dict[str, dict[str, int]]:
    return {module: dict(Counter(m.outcome for m in mutants if m.module == module))
            for module in sorted({m.module for m in mutants})}


def estimate(mutants: list[Mutant]) -> dict[str, float | None] | None:
    """With a sample: the overall score as a stratified estimate (each module's sampled
    score weighed by its share of the judgeable mutants) and its standard error. Without
    one (nothing not-sampled): None, the score is exact."""
    if not any(m.outcome == "not-sampled" for m in mutants):
        return None
    return stratified(strata(counts_per_module(mutants)))


ANNOTATION = "in a type annotation"


FAULT_HOOK = "runs only with an emulator fault on"


NOT_SAMPLED = "not in the sample"
