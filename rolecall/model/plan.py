"""Which requests a credential's access cells make: shapes, tables, partitions, indexes.

One plan for the cells (rolecall/cells/matrix.py) and the oracle's cross-check of stated
profiles, so both speak of the same requests:

- the scenario's `probes:` (every name a shape of rolecall/model/shapes.py; none given:
  the twelve DEFAULT ones, and on a stack with a second table the four DEFAULT_TWO_TABLES
  batches and transactions over both, the point of a stack with two; `all`: every shape),
  on the main table, on the caller's own partition and on another's when the table is
  partitioned (`@own`, `@other`);
- requests that span two tables, with the stack's second table (`other_tables[0]`);
- the single-table ones on each other table too (`on`: its name);
- Query and Scan (and, when named, PartiQL SELECT) on each secondary index of the main
  table, for roles whose index access was stated (`allowed_indexes`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rolecall.model.access import Partition
from rolecall.model.errors import ScenarioError
from rolecall.model.scenario import Scenario
from rolecall.model.shapes import (
    BY_NAME,
    DEFAULT,
    DEFAULT_INDEX,
    DEFAULT_TWO_TABLES,
    SHAPES,
    Shape,
    index_shapes,
)
from rolecall.model.tables import PARTITIONED


@dataclass(frozen=True)
class Planned:
    """One request of the plan: its shape, the table it aims at, the partition."""

    shape: Shape
    on: str | None = None  # an other table's name; None: the main table
    partition: Partition = None


def selected(scenario: Scenario) -> tuple[Shape, ...]:
    """The shapes the scenario names (`probes:`), or the twelve every scenario gets (and the
    batches and transactions over two tables, when the stack has a second)."""
    if scenario.probes is None:
        return DEFAULT + (DEFAULT_TWO_TABLES if scenario.other_tables else ())
    if scenario.probes == "all":
        return tuple(s for s in SHAPES if scenario.other_tables or not s.two_tables)
    indexed = {s.name.split("@", 1)[0] for i in _indexes(scenario) for s in index_shapes(i)}
    unknown = sorted(n for n in scenario.probes if n not in BY_NAME and n.split("@", 1)[0]
                     not in indexed)
    if unknown:
        raise ScenarioError(scenario.file or scenario.name, "probes",
                            f"names unknown request shape(s) {unknown}",
                            f"use names of rolecall/model/shapes.py, e.g. "
                            f"{', '.join(s.name for s in DEFAULT[:4])} ...",
                            line=scenario.line_of("probes"))
    wanted = [BY_NAME[n] for n in scenario.probes if n in BY_NAME]
    if any(s.two_tables for s in wanted) and not scenario.other_tables:
        raise ScenarioError(scenario.file or scenario.name, "probes",
                            "names a request over two tables, but the stack has one",
                            "add the second table under other_tables:",
                            line=scenario.line_of("probes"))
    return tuple(wanted)


def plan(scenario: Scenario, role: str | None) -> list[Planned]:
    """Every request the access cells of a credential of `role` make (None: a guest's)."""
    table = scenario.table
    if table is None:
        return []
    shapes = selected(scenario)
    partitions: tuple[Partition, ...] = (("own", "other") if table.partition in PARTITIONED
                                         else (None,))
    found = [Planned(shape, None, partition) for shape in shapes for partition in partitions]
    for other in scenario.other_tables:
        found += [Planned(shape, other.name) for shape in shapes if not shape.two_tables]
    spec = scenario.roles.get(role or "")
    if spec is not None and spec.allowed_indexes is not None:
        found += [Planned(shape) for index in _indexes(scenario)
                  for shape in index_shapes(index) if _index_selected(scenario, shape)]
    return found


def _indexes(scenario: Scenario) -> list[str]:
    return [i.name for i in scenario.table.indexes] if scenario.table else []


def _index_selected(scenario: Scenario, shape: Shape) -> bool:
    base = shape.name.split("@", 1)[0]
    if scenario.probes is None:
        return base in DEFAULT_INDEX
    return scenario.probes == "all" or shape.name in scenario.probes or base in scenario.probes
