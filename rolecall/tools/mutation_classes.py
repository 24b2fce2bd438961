"""The survivors of cosmic-ray runs, classified by hand, as data the tool reads.

docs/mutation-tool/survivors.yaml holds one entry per classified survivor: what it is
(equivalent, killed-by-cell, out-of-scope, accepted) and why. cosmic-ray names a mutant
by position: the module, the operator and which occurrence of that operator in the
module's source. An edit to the module renames its mutants, so each classification
records the sha256 of the source it was made on (the one the report recorded), and
applies only to reports of that same source. A survivor whose mutant was classified on
another version of its module is *stale*: shown, never applied, until someone looks
again. The line and function are recorded too, and checked against every report the
classification meets, so an entry that names the wrong mutant is an error, not a
silent miscount.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError, model_validator

from rolecall.model import yamlsource
from rolecall.model.base import Model
from rolecall.model.errors import ScenarioError, as_scenario_error
from rolecall.tools.mutation_score import Mutant, Run

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ROOT / "docs" / "mutation-tool" / "survivors.yaml"
Class = Literal["equivalent", "killed-by-cell", "out-of-scope", "accepted"]
CLASS_ORDER: tuple[Class, ...] = ("equivalent", "killed-by-cell", "out-of-scope", "accepted")
HOW_TO_CLASSIFY = ("write the entry as the header of docs/mutation-tool/survivors.yaml "
                   "describes (docs/mutation-survivors.md)")
FIXES = {  # by field, then by pydantic error type
    "operator": "write cosmic-ray's operator name as the report lists it, e.g. core/AddNot",
    "occurrence": "write the occurrence the report lists for this mutant (0 or more)",
    "line": "write the line the report lists for this mutant",
    "sha256": "copy the module's sha256 from the report's module_sha256",
    "module": "write the module path as the report lists it, e.g. rolecall/emulator/iam/policy.py",
    "class": "write one of: equivalent, killed-by-cell, out-of-scope, accepted",
    "reason": "say why, or which cell kills it",
    "mutant": "say what the mutant changes, e.g. `==` -> `<` in Bool",
    "extra_forbidden": "remove or rename this field (an entry has operator, occurrence, line, "
                       "function, mutant, class and reason)",
}


class Classified(Model):
    """One survivor: which mutant (operator, occurrence; line and function as a check),
    what it does, its class and why."""

    model_config = ConfigDict(populate_by_name=True)

    operator: str = Field(pattern=r"^core/\w+$")
    occurrence: int = Field(ge=0)
    line: int = Field(ge=1)
    function: str  # "" for code at module level, as cosmic-ray reports it
    mutant: str = Field(min_length=1)
    class_: Class = Field(alias="class")
    reason: str = Field(min_length=1)


class ModuleVersion(Model):
    """The classified survivors of one version of one module."""

    module: str = Field(pattern=r"^[\w./-]+\.py$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    survivors: list[Classified] = Field(min_length=1)

    @model_validator(mode="after")
    def _each_mutant_once(self) -> ModuleVersion:
        seen = Counter((c.operator, c.occurrence) for c in self.survivors)
        twice = sorted(f"{op} #{occ}" for (op, occ), n in seen.items() if n > 1)
        if twice:
            raise ValueError(f"{', '.join(twice)} classified twice in {self.module}: keep one entry")
        return self


class Classifications(Model):
    modules: list[ModuleVersion]

    @model_validator(mode="after")
    def _each_version_once(self) -> Classifications:
        seen = Counter((v.module, v.sha256) for v in self.modules)
        twice = sorted(f"{module} {sha[:12]}" for (module, sha), n in seen.items() if n > 1)
        if twice:
            raise ValueError(f"{', '.join(twice)} listed twice: merge their survivors into one")
        return self

    def find(self, module: str, sha256: str | None, operator: str, occurrence: int
             ) -> tuple[Classified | None, list[str]]:
        """The classification of this mutant on this source, and the other sources it was
        classified on (stale for this one)."""
        here, elsewhere = None, []
        for version in self.modules:
            if version.module != module:
                continue
            for entry in version.survivors:
                if (entry.operator, entry.occurrence) == (operator, occurrence):
                    if version.sha256 == sha256:
                        here = entry
                    else:
                        elsewhere.append(version.sha256)
        return here, elsewhere


def load(path: Path = CLASSES) -> Classifications:
    """The data file, validated; a bad one is an error naming the file, line, field and fix."""
    try:
        located = yamlsource.read(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(path, "--classes", "no such file",
                            f"give the classifications file ({shown(CLASSES)})") from None
    except (yaml.YAMLError, yamlsource.DuplicateKeyError) as exc:
        raise ScenarioError(path, "the whole file", f"not valid YAML ({exc})",
                            "fix the YAML syntax (indentation, quotes, colons)") from None
    if not isinstance(located.data, dict):
        raise ScenarioError(path, "top level", "the classifications file is a YAML mapping",
                            "start the file with `modules:`")
    try:
        return Classifications.model_validate(located.data)
    except ValidationError as exc:
        raise as_scenario_error(path, exc, located, fixes=FIXES, default_fix=HOW_TO_CLASSIFY) from None


@dataclass
class Verdicts:
    """What the classifications say of one run's survivors."""

    classified: dict[Mutant, Classified] = field(default_factory=dict)
    stale: dict[Mutant, list[str]] = field(default_factory=dict)  # the sources classified on
    unclassified: list[Mutant] = field(default_factory=list)

    def equivalent(self) -> dict[str, int]:
        """Per module, how many survivors are classified equivalent."""
        return dict(Counter(m.module for m, c in self.classified.items()
                            if c.class_ == "equivalent"))

    def classes(self) -> dict[str, int]:
        found = Counter(c.class_ for c in self.classified.values())
        return {name: found[name] for name in CLASS_ORDER}


class UnknownMutant(ScenarioError):
    """A classification that names, on the report's own source, another mutant than the
    one the report has at that operator and occurrence."""


def judge(run: Run, classes: Classifications, path: Path = CLASSES) -> Verdicts:
    """Each survivor of `run`: classified (on the run's source), stale (classified on
    another source of its module only) or unclassified. Raises UnknownMutant when an entry
    for the run's source names a judged mutant at another line or function."""
    verdicts = Verdicts()
    for mutant in run.judged():
        here, elsewhere = classes.find(mutant.module, run.hashes.get(mutant.module),
                                       mutant.operator, mutant.occurrence)
        if here is not None and (here.line, here.function) != (mutant.line, mutant.function):
            raise UnknownMutant(
                path, f"{mutant.module} {mutant.operator} #{mutant.occurrence}",
                f"classified at line {here.line} in {here.function or 'module level'}, but "
                f"{', '.join(run.sources) or 'this run'} has that mutant at line {mutant.line} "
                f"in {mutant.function or 'module level'}: the entry names another mutant",
                "correct the entry's operator and occurrence (cosmic-ray counts each "
                "operator's occurrences through the module) or its sha256")
        if mutant.outcome != "survived":
            continue
        if here is not None:
            verdicts.classified[mutant] = here
        elif elsewhere:
            verdicts.stale[mutant] = elsewhere
        else:
            verdicts.unclassified.append(mutant)
    return verdicts


def unknown(classes: Classifications, runs: list[Run]) -> list[str]:
    """Entries that are a survivor of none of `runs` (the kept reports): a typo in the
    operator or occurrence, or a classification whose report was not kept."""
    survivors = {(m.module, run.hashes.get(m.module), m.operator, m.occurrence,
                  m.line, m.function) for run in runs for m in run.survivors()}
    return [f"{version.module} ({version.sha256[:12]}) line {entry.line} {entry.operator} "
            f"#{entry.occurrence}"
            for version in classes.modules for entry in version.survivors
            if (version.module, version.sha256, entry.operator, entry.occurrence,
                entry.line, entry.function) not in survivors]


def not_current(classes: Classifications, root: Path = ROOT) -> list[str]:
    """Module versions classified that differ from today's source: they apply to reports
    of that source only; a fresh run shows their survivors as stale."""
    def today(module: str) -> str | None:
        source = root / module
        return hashlib.sha256(source.read_bytes()).hexdigest() if source.exists() else None

    return sorted({f"{v.module} ({v.sha256[:12]})" for v in classes.modules
                   if today(v.module) != v.sha256})


def shown(path: Path) -> str:
    """A path as the docs write it: relative to the checkout when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
