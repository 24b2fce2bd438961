"""What is wrong with a scenario or entitlements file, said so a person can fix it.

Every problem reads `<file>:<line>: <YAML path>: <problem>. Fix: <fix>`: the file and
line an editor opens, where in the YAML, what is wrong and what to write instead.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable, Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
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


def read_yaml(path: Path, text: str) -> yamlsource.Located:
    """A scenario or entitlements file's YAML with the line of every key; a syntax error or
    a key written twice is a ScenarioError on the line to fix."""
    try:
        return yamlsource.read(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(path, "YAML", f"not valid YAML ({getattr(exc, 'problem', exc)})",
                            "fix the YAML syntax on this line (indentation, quotes, colons, "
                            "brackets)", line=yamlsource.syntax_error_line(exc)) from None
    except yamlsource.DuplicateKeyError as exc:
        raise ScenarioError(path, yamlsource.dotted(exc.path), str(exc).split(" ", 1)[1],
                            f"keep one definition (lines {exc.first_line} and {exc.second_line}); "
                            "rename the other if both are meant", line=exc.second_line) from None


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
    "pool": "write pool: <a name under user_pools:>; with several user pools every user and "
            "group names the one it is in",
}
DEFAULT_FIX = "change the value as the message says (see README 'Writing a scenario')"


def as_scenario_error(path: Path, exc: ValidationError, located: yamlsource.Located,
                      model: type[BaseModel] | None = None,
                      fixes: Mapping[str, str] | None = None,
                      default_fix: str = DEFAULT_FIX) -> ScenarioError:
    """Every pydantic error as `file:line: yaml.path: problem. Fix: ...`, the first one first.

    `model` is the class the whole file validates as (Scenario, Entitlements): a field it
    does not know is answered with the nearest field name at that place of the file.
    Files other than scenarios give their own fixes: `fixes` by field name, else by
    pydantic error type (over FIXES), and `default_fix` where none is known.
    """
    lines = []
    # A misspelled field first: a `Field required` beside it is most often the same mistake.
    errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
    for error in errors:
        ctx = error.get("ctx") or {}
        where = tuple(ctx.get("path") or (p for p in error["loc"] if p != "[key]"))
        problem = re.sub(r"^(Value|Assertion) error, ", "", error["msg"])
        known = {**FIXES, **(fixes or {})}
        fix = known.get(str(where[-1]) if where else "") or known.get(error["type"], default_fix)
        if error["type"] == "extra_forbidden" and model is not None and where:
            problem, fix = unknown_field(model, where)
        lines.append(ScenarioError(path, yamlsource.dotted(where) or "the whole file", problem,
                                   fix, line=located.line_of(where)))
    first = lines[0]
    return ScenarioError(path, first.where, first.problem, first.fix, line=first.line,
                         more=[f"  also {e}" for e in lines[1:]])


# --- a misspelled field --------------------------------------------------------------------

LOADER_FIELDS = frozenset({"file"})  # set by the loader from the path, never written in a file


def unknown_field(model: type[BaseModel], where: tuple[str | int, ...]) -> tuple[str, str]:
    """Problem and fix for a field the schema does not have at `where` (`precedense` under
    groups.Admins): the nearest known name, by difflib's ratio (as Python's own
    "Did you mean" suggestions), else the names that are allowed there."""
    name = str(where[-1])
    known = [f for f in fields_at(model, where[:-1]) if f not in LOADER_FIELDS]
    close = get_close_matches(name, known, n=1)
    if close:
        return (f"{name!r} is not a field here", f"did you mean {close[0]}? Rename it "
                "(or remove it)")
    listed = f"; the fields here are {', '.join(known)}" if known else ""
    return f"{name!r} is not a field here", f"remove or rename this field{listed}"


def fields_at(model: type[BaseModel], path: tuple[str | int, ...]) -> list[str]:
    """The field names of the model a YAML path of a `model` document leads to: through a
    model's fields, a mapping's values (groups.<name>) and a list's items (expect[0]).
    Empty when the path does not end at a model."""
    annotation: Any = model
    for part in path:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            annotation = field.annotation if field else None
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) is list and isinstance(part, int):
            annotation = get_args(annotation)[0]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """`Annotated[X, ...]` -> X; `X | None` -> X (the models' optional parts)."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            present = [a for a in get_args(annotation) if a is not type(None)]
            if len(present) != 1:
                return annotation
            annotation = present[0]
        else:
            return annotation
