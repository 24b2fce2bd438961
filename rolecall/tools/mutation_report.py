"""A run's figures, raw and net of classified equivalents, as the tool prints and writes them.

The raw score counts every survivor against the suite, equivalent mutants included
(no test can kill those). The net figures take the survivors classified equivalent
(docs/mutation-tool/survivors.yaml) out of the judged mutants, and, for a sample, out
of each module's weight in the same proportion. Both are printed and written, with
how many survivors are classified (and of which class), unclassified, or stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolecall.tools.mutation_classes import CLASS_ORDER, CLASSES, Verdicts, shown
from rolecall.tools.mutation_score import (
    Mutant,
    Run,
    score,
    strata,
    stratified,
)


@dataclass
class Scorecard:
    """One run (or several kept reports together) with its survivors' verdicts."""

    run: Run
    verdicts: Verdicts
    classes_file: Path = CLASSES

    @property
    def equivalent(self) -> int:
        return sum(self.verdicts.equivalent().values())

    def raw(self) -> float | None:
        return score(self.run.judged())

    def net(self) -> float | None:
        judged = self.run.judged()
        killed = sum(m.outcome == "killed" for m in judged)
        left = len(judged) - self.equivalent
        return killed / left if left else None

    def estimate(self, net: bool) -> dict[str, float | None] | None:
        """The stratified estimate of a sample (None for a whole run: its score is exact)."""
        if not self.run.sampled:
            return None
        return stratified(strata(self.run.per_module, self.verdicts.equivalent() if net else None))

    def per_module(self) -> dict[str, tuple[int, int]]:
        """Per module, net of equivalents: (killed, judged)."""
        equivalent = self.verdicts.equivalent()
        found = {}
        for module in sorted(self.run.per_module):
            judged = [m for m in self.run.judged() if m.module == module]
            killed = sum(m.outcome == "killed" for m in judged)
            found[module] = (killed, len(judged) - equivalent.get(module, 0))
        return found

    def lines(self) -> list[str]:
        """What the tool prints (and the report's .md opens with)."""
        run, verdicts = self.run, self.verdicts
        judged = run.judged()
        killed = sum(m.outcome == "killed" for m in judged)
        what = "a sample" if run.sampled else "a whole run"
        again = (f" ({run.repeated} judged in more than one report, counted once)"
                 if run.repeated else "")
        sources = " + ".join(shown(Path(s)) for s in run.sources) or "this run"
        lines = [f"{sources}: {what}, {len(judged)} mutants judged{again}: "
                 f"{killed} killed, {len(judged) - killed} survived"]
        if run.interrupted:
            lines.append("INTERRUPTED: a partial result; the mutants not judged are pending")
        classes = ", ".join(f"{name} {n}" for name, n in verdicts.classes().items())
        lines.append(f"survivors {len(run.survivors())}: classified {len(verdicts.classified)} "
                     f"({classes}), unclassified {len(verdicts.unclassified)}, stale "
                     f"{len(verdicts.stale)} (classifications: {shown(self.classes_file)})")
        lines.append(f"raw score {_percent(self.raw())} (killed / judged); net of equivalents "
                     f"{_percent(self.net())} (killed / judged less the {self.equivalent} "
                     "equivalent survivors)")
        gross, net = self.estimate(net=False), self.estimate(net=True)
        if gross is not None and net is not None:
            lines.append(f"estimate over the modules {_spread(gross)} (stratified, one standard "
                         f"error); net of equivalents {_spread(net)}")
        lines.append("per module, net of equivalents (killed / judged): " + ", ".join(
            f"{Path(module).stem} {k}/{n}" for module, (k, n) in self.per_module().items()))
        lines += [f"stale: {_named(m)} (classified on {', '.join(s[:12] for s in shas)}, not "
                  f"applied: re-check it and record it under sha256 {run.hashes.get(m.module)})"
                  for m, shas in verdicts.stale.items()]
        lines += [f"unclassified: {_named(m)}" for m in verdicts.unclassified]
        return lines

    def to_json(self) -> dict[str, Any]:
        verdicts = self.verdicts
        return {"score": self.net(), "sample_estimate": self.estimate(net=True),
                "equivalent_survivors": self.equivalent,
                "per_module": {module: {"killed": k, "judged": n}
                               for module, (k, n) in self.per_module().items()},
                "classifications": shown(self.classes_file),
                "survivors": {"classified": verdicts.classes(),
                              "unclassified": [m.to_json() for m in verdicts.unclassified],
                              "stale": [{**m.to_json(), "classified_on": shas}
                                        for m, shas in verdicts.stale.items()]}}


def write_reports(report_dir: Path, card: Scorecard, name: str = "mutation-tool") -> None:
    """<name>.json (counts, raw and net figures, module hashes, every mutant listed) and
    <name>.md (the printed figures and the survivors with their class)."""
    run = card.run
    report_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for module_counts in run.per_module.values():
        for outcome, n in module_counts.items():
            counts[outcome] = counts.get(outcome, 0) + n
    summary = {"tool": "cosmic-ray 8.7.0", "scenarios": run.scenarios, "seconds": round(run.seconds),
               "sources": run.sources, "counts": counts, "score": card.raw(),
               "sample_estimate": card.estimate(net=False), "net": card.to_json(),
               "module_sha256": run.hashes, "interrupted": run.interrupted,
               "repeated": run.repeated, "per_module": run.per_module,
               "mutants": [m.to_json() for m in run.mutants]}
    (report_dir / f"{name}.json").write_text(json.dumps(summary, indent=2))
    lines = ["# cosmic-ray over the emulator's decision code", "",
             *[f"    {line}" for line in card.lines()], "",
             f"counts {counts}; {run.seconds / 60:.0f} min; scenarios {', '.join(run.scenarios)}",
             "", survivors_table(card)]
    (report_dir / f"{name}.md").write_text("\n".join(lines) + "\n")


def survivors_table(card: Scorecard) -> str:
    """The survivors, classified ones first (by class, then place), as a Markdown table."""
    verdicts = card.verdicts
    rows = []
    for mutant in sorted(card.run.survivors(), key=lambda m: _order(m, verdicts)):
        entry = verdicts.classified.get(mutant)
        status = (entry.class_ if entry else "stale" if mutant in verdicts.stale
                  else "unclassified")
        what = _cell(entry.mutant) if entry else ""
        why = _cell(entry.reason) if entry else ""
        rows.append(f"| {Path(mutant.module).name}:{mutant.line} | {mutant.function} | {what} | "
                    f"{mutant.operator.removeprefix('core/')} #{mutant.occurrence} | {status} | "
                    f"{why} |")
    return "\n".join(["| module:line | function | mutant | cosmic-ray | class | reason |",
                      "|---|---|---|---|---|---|", *rows])


def _order(mutant: Mutant, verdicts: Verdicts) -> tuple[int, str, int, str, int]:
    entry = verdicts.classified.get(mutant)
    rank = CLASS_ORDER.index(entry.class_) if entry else len(CLASS_ORDER)
    return (rank, mutant.module, mutant.line, mutant.operator, mutant.occurrence)


def _cell(text: str) -> str:
    """Text in one Markdown table cell: `|` escaped, on one line."""
    return " ".join(text.replace("|", "\\|").split())


def _named(mutant: Mutant) -> str:
    return (f"{mutant.module}:{mutant.line} {mutant.function or '(module level)'} "
            f"{mutant.operator} #{mutant.occurrence}")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _spread(found: dict[str, float | None]) -> str:
    error = found["standard_error"]
    return f"{_percent(found['score'])} +/- " + ("?" if error is None else f"{error:.1%}")
