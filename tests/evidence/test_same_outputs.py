"""The reports a run leaves are exactly what they were: same cells, outcomes, labels, attachments.

One real run of the suite (scenarios `books` and `tokens`: claims, credentials,
access, token negatives that check several variants, audit) is reduced by
tests/evidence/snapshot.py to what does not change from run to run, and compared
with golden/books-tokens.json. The golden file was taken before reporting was
made one-way (issue 10) and is identical to the outputs after it, but for one
improvement: audit cells now link their SPEC rule in Allure. Issue 14 changed, on
purpose, the rule links (rules.html beside the report, not ../shared/SPEC.md) and
matrix.html (coloured by verdict, contents, sticky headers). Issue 15 added
matrix.html's completeness banner (this run is a SELECTION), its NOT RUN style and
legend entry; cells and Allure results did not change. Issue 12 added the
control-plane cells (60 books, 20 tokens: new cells and Allure results only, the
writer's control-plane profile in matrix.html) and the E3 pin on the disabled-user
cells' details. Issue 24 added to
the cells' details what a report needs to explain them (a classic cell's pool setting, a
probe's needed permissions: TransactGetItems needs GetItem) and laid matrix.html out for a
laptop (collapsible scenarios, contents per variant, grids that fit). A change to what
the reports say must change the golden file on purpose:
`ROLECALL_UPDATE_GOLDEN=1 pytest tests/evidence/test_same_outputs.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.evidence.snapshot import snapshot

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "books-tokens.json"


def test_a_run_reports_what_the_golden_run_reported(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "suites"), "-q", "-n", "0",
         "-p", "no:cacheprovider", "--scenario", "books", "--scenario", "tokens",
         f"--alluredir={tmp_path / 'allure-results'}", f"--evidence-dir={tmp_path / 'reports'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    one_count(tmp_path / "reports")
    now = snapshot(tmp_path)
    if os.environ.get("ROLECALL_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert sorted(now["cells"]) == sorted(golden["cells"]), "cell ids differ"
    changed = [cell for cell in golden["cells"] if now["cells"][cell] != golden["cells"][cell]]
    assert not changed, f"cells reported differently: {changed[:5]}"
    assert sorted(now["allure"]) == sorted(golden["allure"]), "Allure results differ in name"
    changed = [key for key in golden["allure"] if now["allure"][key] != golden["allure"][key]]
    assert not changed, f"Allure results differ: {changed[:3]}"
    assert now["matrix_html"] == golden["matrix_html"], "matrix.html differs"


def one_count(reports: Path) -> None:
    """The headline, summary.md and matrix.html count the same cells (issue 24, item 7):
    `tokens` has cells that check every variant in one test, so pytest counts fewer tests."""
    [bundle] = [p for p in reports.iterdir() if p.is_dir()]
    data = json.loads((bundle / "evidence.json").read_text())
    cells = len(data["cells"])
    tests = len({c["test"] for c in data["cells"]})
    assert tests < cells  # the run has such cells, or this proves nothing
    assert data["completeness"]["planned"] == data["completeness"]["observed"] == cells
    headline = f"SELECTION: all {cells:,} selected cells observed"
    summary = (bundle / "summary.md").read_text()
    assert headline in summary and f"| {cells:,} | {cells:,} | 0 | 0 | 0 |" in summary
    page = (bundle / "matrix.html").read_text()
    assert headline in page and f"{cells:,} cells: {cells:,} passed" in page
    assert f"{cells:,} cells from {tests:,} pytest tests" in page  # pytest's count, explained
