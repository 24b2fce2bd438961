"""What is wrong with a scenario or entitlements file, said so a person can fix it.

Every problem reads `<file>:<line>: <YAML path>: <problem>. Fix: <fix>`: the file and
line an editor opens, where in the YAML, what is wrong and what to write instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from rolecall.model import yamlsource


class ScenarioError(Exception):
    """A scenario file that cannot be used: says which file, which line, where in it, how to fix.

    The first line reads `<file>:<line>: <YAML path>: <problem>. Fix: <fix>` (editors
    and terminals open `file:line`); further problems of the same file follow, one a line.
    """

    def __init__(self, file: str | Path, where: str, problem: str, fix: str = "",
                 line: int | None = None, more: Iterable[str] = ()) -> None:
        self.file, self.where, self.problem, self.fix, self.line = str(file), where, problem, fix, line
        located = f"{file}:{line}" if line else str(file)
        text = f"{located}: {where}: {problem}" + (f". Fix: {fix}" if fix else "")
        super().__init__("\n".join([text, *more]))


def refuse(path: tuple[str | int, ...], problem: str) -> PydanticCustomError:
    """A cross-field error that keeps the YAML path it is about (pydantic would say 'top level')."""
    return PydanticCustomError("reference", "{problem}", {"problem": problem, "path": path})


FIXES = {  # pydantic error type -> what to write instead
    "missing": "add this field",
    "extra_forbidden": "remove or rename this field (it is not part of the schema; "
                       "see README 'Writing a scenario')",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use letters, digits and - only (scenario names: lower case)",
    "string_type": "write text here (quote it if YAML reads it as a number or true/false)",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "list_type": "write a YAML list, e.g. [a, b]",
    "dict_type": "write a YAML mapping (key: value lines)",
    "model_type": "write a YAML mapping (key: value lines)",
    "model_attributes_type": "write a YAML mapping (key: value lines)",
    "too_short": "add at least one entry",
    "too_long": "remove entries",
    "greater_than_equal": "use a larger number",
    "less_than_equal": "use a smaller number",
    "reference": "use a name defined in the section the message names, or define it there",
}
DEFAULT_FIX = "change the value as the message says (see README 'Writing a scenario')"


def as_scenario_error(path: Path, exc: ValidationError, located: yamlsource.Located,
                      fixes: Mapping[str, str] | None = None,
                      default_fix: str = DEFAULT_FIX) -> ScenarioError:
    """Every pydantic error as `file:line: yaml.path: problem. Fix: ...`, the first one first.

    Files other than scenarios give their own fixes: `fixes` by field name, else by
    pydantic error type (over FIXES), and `default_fix` where none is known."""
    lines = []
    for error in exc.errors():
        ctx = error.get("ctx") or {}
        where = tuple(ctx.get("path") or (p for p in error["loc"] if p != "[key]"))
        problem = re.sub(r"^(Value|Assertion) error, ", "", error["msg"])
        known = {**FIXES, **(fixes or {})}
        fix = known.get(str(where[-1]) if where else "") or known.get(error["type"], default_fix)
        lines.append(ScenarioError(path, yamlsource.dotted(where) or "the whole file", problem,
                                   fix, line=located.line_of(where)))
    first = lines[0]
    return ScenarioError(path, first.where, first.problem, first.fix, line=first.line,
                         more=[f"  also {e}" for e in lines[1:]])
