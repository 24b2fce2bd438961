"""The coverage table (issue 23): which cells exercise each rule on each request shape and path.

Generated from the code, never written by hand. Rows are the rules and condition keys a
DynamoDB request is decided by (`ROWS`, rolecall/tools/coverage_rows.py); columns are the
request shapes of rolecall/model/shapes.py (one column for each index shape) and the
credential paths (enhanced, classic, guest).

An access cell EXERCISES a row when taking the row away changes the cell's expected
verdict or refusal: the condition key dropped from the request (a target that never sets
it), the boundary or the table policy ignored, an index's or another table's check made on
the main table's ARN, the request checked only up to its first permission. It is the
question a near-miss fault asks of the embedded target (docs/fault-model.md), asked of the
oracle for every cell of the shipped scenarios: a cell whose verdict does not depend on the
row does not count, however many times it runs.

An empty combination is one of:
- impossible: the shape's request cannot carry the row (a Scan names no partition key: no
  dynamodb:LeadingKeys; only a PartiQL SELECT has dynamodb:FullTableScan), read from the
  shapes themselves;
- explained: docs/coverage-reasons.yaml says why no cell is needed;
- a hole: tests/suite/test_coverage.py fails until a cell or a reason fills it.

    rolecall coverage [--write docs/coverage.md]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from rolecall.cells.matrix import AccessCell, access_cells
from rolecall.model import scenario as scenarios
from rolecall.model.errors import ScenarioError
from rolecall.model.shapes import SHAPES, Check, Shape, index_shapes
from rolecall.tools.coverage_rows import PATHS, ROWS, Row, exercises

ROOT = Path(__file__).resolve().parents[2]
REASONS = ROOT / "docs" / "coverage-reasons.yaml"
INDEX_COLUMNS = ("Query@index", "Scan@index", "ExecuteStatement-SELECT@index")
COLUMNS: tuple[str, ...] = tuple(s.name for s in SHAPES) + INDEX_COLUMNS


def column_of(shape: Shape) -> str:
    """A shape's column: its name, or `<request>@index` for any index's shapes."""
    return f"{shape.name.split('@', 1)[0]}@index" if "@" in shape.name else shape.name


@dataclass
class Coverage:
    """The cells that exercise each (row, column) and (row, path)."""

    by_shape: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    by_path: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    cells: int = 0

    def add(self, row: Row, cell: AccessCell) -> None:
        self.by_shape[(row.id, column_of(cell.probe.shape))].append(cell.id)
        self.by_path[(row.id, cell.credential.flow)].append(cell.id)


class Reason(BaseModel):
    """Why a combination the shape could carry needs no cell (docs/coverage-reasons.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    row: str
    column: str  # a shape column, a path (enhanced, classic, guest), or "*" for every one
    reason: str


def measure(scenario_dir: Path | str = ROOT / "scenarios") -> Coverage:
    """Every shipped scenario's access cells, asked which rows each one exercises."""
    coverage = Coverage()
    for cell in access_cells(scenarios.load_all(scenario_dir)):
        coverage.cells += 1
        for row in ROWS:
            if exercises(row, cell):
                coverage.add(row, cell)
    return coverage


def impossible(row: Row, column: str) -> str | None:
    """Why a shape's request cannot carry the row (None: it can)."""
    if column in PATHS:
        return row.impossible_on_path(column)
    shape = next((s for s in SHAPES if s.name == column), None)
    checks = shape.checks if shape is not None else _index_checks(column)
    return row.impossible_on(checks)


def _index_checks(column: str) -> tuple[Check, ...]:
    base = column.split("@", 1)[0]
    return next(s.checks for s in index_shapes("index") if s.name.startswith(base + "@"))


def reasons(path: Path = REASONS) -> list[Reason]:
    """The stated reasons; a row or column that does not exist is a clear error."""
    entries = yaml.safe_load(path.read_text()) or []
    found = [Reason.model_validate(entry) for entry in entries]
    rows, columns = {r.id for r in ROWS}, {*COLUMNS, *PATHS, "*"}
    for n, reason in enumerate(found):
        if reason.row not in rows or reason.column not in columns:
            field_name = "row" if reason.row not in rows else "column"
            raise ScenarioError(path, f"[{n}].{field_name}",
                                f"names {getattr(reason, field_name)!r}, which the coverage "
                                "table does not have",
                                f"use a row of {sorted(rows)} and a shape of "
                                "rolecall/model/shapes.py, a path or '*'")
    return found


def explained(row: Row, column: str, stated: Iterable[Reason]) -> str | None:
    return next((r.reason for r in stated if r.row == row.id and r.column in (column, "*")),
                None)


def holes(coverage: Coverage, stated: list[Reason]) -> list[tuple[str, str]]:
    """(row, column) pairs the shapes could carry that no cell exercises and no reason explains."""
    found = []
    for row in ROWS:
        for column in (*COLUMNS, *PATHS):
            cells = (coverage.by_path if column in PATHS else coverage.by_shape)[(row.id, column)]
            if not cells and impossible(row, column) is None \
                    and explained(row, column, stated) is None:
                found.append((row.id, column))
    return found


def stale(coverage: Coverage, stated: list[Reason]) -> list[Reason]:
    """Reasons for a combination that cells exercise now (or that cannot occur anyway)."""
    found = []
    for reason in stated:
        row = next(r for r in ROWS if r.id == reason.row)
        columns = (*COLUMNS, *PATHS) if reason.column == "*" else (reason.column,)
        live = [c for c in columns
                if (coverage.by_path if c in PATHS else coverage.by_shape)[(row.id, c)]
                or impossible(row, c) is not None]
        if reason.column != "*" and live:
            found.append(reason)
    return found


def markdown(coverage: Coverage, stated: list[Reason]) -> str:
    """docs/coverage.md: a table per kind of column, then the explanations."""
    lines = [
        "# Coverage: every rule on every request shape and credential path",
        "",
        "Generated by `rolecall coverage --write docs/coverage.md` (`tox -e coverage-table`)"
        " from the",
        f"shipped scenarios ({coverage.cells} access cells); do not edit by hand.",
        "tests/suite/test_coverage.py fails when this file is stale or when a combination",
        "a shape can carry has neither a cell nor a reason (docs/coverage-reasons.yaml).",
        "",
        "A number is how many access cells exercise the row there: their expected verdict or",
        "refusal changes when the row is taken away (rolecall/tools/coverage_rows.py says how",
        "each row is taken away). `-` the request cannot carry it; `r` a stated reason.",
        "",
        "## Rows",
        "",
        "| row | rule | taken away as |",
        "|---|---|---|",
        *[f"| {r.id} | {r.rule} | {r.how} |" for r in ROWS],
        "",
        "## By credential path",
        "",
        _grid(coverage.by_path, PATHS, stated),
        "",
        "## By request shape",
        "",
    ]
    for start in range(0, len(COLUMNS), 10):
        lines += [_grid(coverage.by_shape, COLUMNS[start:start + 10], stated), ""]
    lines += ["## Why a combination is empty", "", "| row | column | why |", "|---|---|---|"]
    for row in ROWS:
        for column in (*PATHS, *COLUMNS):
            where = coverage.by_path if column in PATHS else coverage.by_shape
            if where[(row.id, column)]:
                continue
            why = impossible(row, column) or explained(row, column, stated)
            if why and impossible(row, column) is None:
                lines.append(f"| {row.id} | {column} | {why} |")
    lines += ["", "Combinations the request cannot carry (`-`) are read from the shapes:",
              "rolecall/model/shapes.py states which condition keys each check carries.", ""]
    lines += ["## One cell per combination", "", "| row | column | e.g. |", "|---|---|---|"]
    for row in ROWS:
        for column in (*PATHS, *COLUMNS):
            where = coverage.by_path if column in PATHS else coverage.by_shape
            if where[(row.id, column)]:
                lines.append(f"| {row.id} | {column} | `{sorted(where[(row.id, column)])[0]}` |")
    return "\n".join(lines) + "\n"


def _grid(where: dict[tuple[str, str], list[str]], columns: Iterable[str],
          stated: list[Reason]) -> str:
    columns = list(columns)
    head = "| row | " + " | ".join(columns) + " |"
    rule = "|---|" + "---|" * len(columns)
    body = []
    for row in ROWS:
        marks = []
        for column in columns:
            count = len(where[(row.id, column)])
            marks.append(str(count) if count else "-" if impossible(row, column)
                         else "r" if explained(row, column, stated) else "**0**")
        body.append(f"| {row.id} | " + " | ".join(marks) + " |")
    return "\n".join([head, rule, *body])


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("coverage", help="which cells exercise each rule on each "
                                 "request shape and credential path (issue 23)")
    parser.add_argument("--write", metavar="FILE", help="write the table there (markdown)")
    parser.add_argument("--scenario-dir", default=str(ROOT / "scenarios"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print (or write) the table; exit 1 when a combination is a hole or a reason is stale."""
    coverage = measure(args.scenario_dir)
    stated = reasons()
    text = markdown(coverage, stated)
    if args.write:
        Path(args.write).write_text(text)
        print(f"wrote {args.write} ({coverage.cells} access cells)")
    else:
        print(text)
    problems = [f"hole: {row} x {column}: no cell exercises it and "
                "docs/coverage-reasons.yaml gives no reason" for row, column in
                holes(coverage, stated)]
    problems += [f"stale reason: {r.row} x {r.column}: cells exercise it now (or it cannot "
                 "occur); remove it from docs/coverage-reasons.yaml" for r in stale(coverage,
                                                                                     stated)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0
