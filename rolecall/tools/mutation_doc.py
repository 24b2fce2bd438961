"""The mutation figures and survivor tables in the docs, generated from the tool, never typed.

README.md and docs/mutation-survivors.md quote the tool's figures for the kept sample
reports (docs/mutation-tool/*.json) and list each sample's survivors with their class.
Those parts sit between markers and are written by this module:

    <!-- mutation-score figures: docs/mutation-tool/sample4.json docs/mutation-tool/sample5.json -->
    ... what `python -m rolecall.tools.mutation_tool --score ...` prints ...
    <!-- /mutation-score -->

`survivors` instead of `figures` gives the survivors table. `--write` rewrites every
block; `--check` (and tests/suite/test_mutation_classes.py) fails when a block differs
from what the tool says today, when a figure `N% +/- M% net of ...` outside the blocks
is not one the tool printed, or when a classification names no survivor of any kept
report.

    python -m rolecall.tools.mutation_doc [--write | --check]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from rolecall.tools.mutation_classes import (
    CLASSES,
    Classifications,
    judge,
    load,
    not_current,
    shown,
    unknown,
)
from rolecall.tools.mutation_report import Scorecard, survivors_table
from rolecall.tools.mutation_score import combined, read_run

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", ROOT / "docs" / "mutation-survivors.md")
BLOCK = re.compile(r"(<!-- mutation-score (figures|survivors): ([^>]*?) -->\n)(.*?)"
                   r"(<!-- /mutation-score -->)", re.S)
# a net figure quoted in prose, and as the tool prints it
NET_FIGURE = re.compile(r"(\d+(?:\.\d+)?%)\s+\+/-\s+(\d+(?:\.\d+)?%)\**\s+net\s+of")
PRINTED_NET = re.compile(r"net of equivalents (\d+\.\d%) \+/- (\d+\.\d%)")


def card_of(reports: list[str], classes: Classifications, classes_file: Path = CLASSES
            ) -> Scorecard:
    """The scorecard of kept reports (paths relative to the checkout), as `--score` makes it."""
    run = combined([read_run(ROOT / report) for report in reports])
    return Scorecard(run, judge(run, classes, classes_file), classes_file)


def block(kind: str, reports: list[str], classes: Classifications) -> str:
    """What goes between one block's markers."""
    card = card_of(reports, classes)
    if kind == "survivors":
        return survivors_table(card) + "\n"
    command = " ".join(["python -m rolecall.tools.mutation_tool",
                        *(f"--score {report}" for report in reports)])
    return "\n".join(["```text", f"$ {command}", *card.lines(), "```", ""])


def refreshed(text: str, classes: Classifications) -> str:
    """`text` with every block generated anew."""
    return BLOCK.sub(lambda m: m.group(1) + block(m.group(2), m.group(3).split(), classes)
                     + m.group(5), text)


def problems(classes: Classifications, docs: tuple[Path, ...] = DOCS) -> list[str]:
    """Why the docs and the data file disagree (none: they are in step)."""
    found: list[str] = []
    reports: set[str] = set()
    for doc in docs:
        text = doc.read_text()
        blocks = list(BLOCK.finditer(text))
        if not blocks:
            found.append(f"{shown(doc)}: no generated mutation-score block")
        reports |= {report for m in blocks for report in m.group(3).split()}
        if refreshed(text, classes) != text:
            found.append(f"{shown(doc)}: a generated block differs from what the tool says now; "
                         "run `python -m rolecall.tools.mutation_doc --write`")
        printed = {figure for m in blocks if m.group(2) == "figures"
                   for figure in PRINTED_NET.findall(m.group(4))}
        outside = BLOCK.sub("", text)
        found += [f"{shown(doc)}: `{a} +/- {b} net of` is not a figure the tool printed in a "
                  "block of this file; quote the block's figure"
                  for a, b in NET_FIGURE.findall(outside) if (a, b) not in printed]
    runs = [read_run(ROOT / report) for report in sorted(reports)]
    found += [f"{shown(CLASSES)}: {entry}: a survivor of none of the kept reports "
              f"({', '.join(sorted(reports))}); correct its operator, occurrence, line or "
              "sha256, or keep the report it classifies"
              for entry in unknown(classes, runs)]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite the generated blocks")
    action.add_argument("--check", action="store_true", help="exit 1 if the docs have drifted")
    args = parser.parse_args(argv)
    classes = load(CLASSES)
    if args.write:
        for doc in DOCS:
            doc.write_text(refreshed(doc.read_text(), classes))
    found = problems(classes)
    for problem in found:
        print(problem, file=sys.stderr)
    for version in not_current(classes):
        print(f"note: {version} is not today's source: its classifications apply to reports "
              "of that source only (a fresh run shows them as stale)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
