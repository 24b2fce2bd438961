"""matrix.html at a laptop's width, in headless Chromium: nothing cut off, and a table of
contents that works on a page as long as a whole run's (issue 24, item 5).

One real run of the suite (embedded target) on the scenarios with the widest grids and
the classic flow in each of its states: per-identity (24 action columns: own and other
partitions), near-miss-index (an index's columns), flows (AllowClassicFlow false, true,
unset, and beside RoleMappings), and books with one expectation flipped, so one scenario
has failed cells. Its matrix.html is looked at as a person does (tests/evidence/layout.cjs):
a 1600 x 1000 window, then every link of the contents followed. A whole run's page (18
scenarios, 3,000+ cells) is the same run's records under 18 scenario names, rendered by
the same code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from rolecall.account.probes import PROBES
from rolecall.reporting import evidence
from rolecall.reporting.completeness import Completeness, banner_html
from rolecall.reporting.matrix_html import render_matrix
from rolecall.tools import nodetools

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("books", "flows", "near-miss-index", "per-identity")
WIDTH, HEIGHT = 1600, 1000

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("layout")
    scenarios = tmp / "scenarios"
    scenarios.mkdir()
    for name in SCENARIOS:
        shutil.copy(ROOT / "scenarios" / f"{name}.yaml", scenarios)
    books = yaml.safe_load((scenarios / "books.yaml").read_text())
    books = {k: v for k, v in books.items() if not k.startswith("x-")}
    books["roles"]["BooksReadAccess"]["allowed"].append("PutItem")  # 4 cells fail
    (scenarios / "books.yaml").write_text(yaml.safe_dump(books))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "suites"), "-q", "-n", "2",
         "-p", "no:cacheprovider", "-p", "no:randomly", "--scenario-dir", str(scenarios),
         f"--evidence-dir={tmp / 'reports'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert "4 failed" in done.stdout, done.stdout[-3000:]
    [made] = [p for p in (tmp / "reports").iterdir() if p.is_dir()]
    return made


def look(page: Path, png: Path) -> dict[str, Any]:
    """tests/evidence/layout.cjs on a page: what a person sees and where the links lead."""
    prefix = nodetools.ensure(ROOT)
    env = {**os.environ, "ROLECALL_CHROMIUM_ARGS": json.dumps(nodetools.CHROMIUM_ARGS)}
    done = subprocess.run(["node", str(Path(__file__).with_name("layout.cjs")), str(prefix),
                           str(nodetools.chromium(prefix)), page.as_uri(), str(png), str(WIDTH),
                           str(HEIGHT)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert png.is_file() and png.stat().st_size > 20_000  # a rendered window, not a blank one
    seen: dict[str, Any] = json.loads(done.stdout)
    assert all(u.startswith("file:") for u in seen["requests"]), seen["requests"]  # offline
    return seen


def expected_links(cells: list[dict[str, Any]]) -> int:
    """One contents link per scenario and one per variant with a grid."""
    scenarios = {c["scenario"] for c in cells}
    variants = {(c["scenario"], c["variant"]) for c in cells
                if c["kind"] in ("credential", "access") and c.get("variant")}
    return len(scenarios) + len(variants)


def assert_usable(seen: dict[str, Any], cells: list[dict[str, Any]]) -> None:
    """Every grid and note within the window's width; every contents link lands on its target."""
    assert seen["grids"], "no users x actions grid on the page"
    for grid in seen["grids"]:
        assert grid["right"] <= WIDTH, f"{grid['section']}: column {grid['last']!r} is cut off"
        assert grid["width"] <= grid["container"], f"{grid['section']}: the grid scrolls sideways"
    assert seen["notes"], "no collapsed classic row on the page"
    for note in seen["notes"]:
        assert note["needs"] <= note["client"] and note["right"] <= WIDTH, note  # not clipped
    assert len(seen["links"]) == expected_links(cells)
    for link in seen["links"]:
        assert link["exists"], f"contents link {link['href']} has no target"
        assert link["shown"] and -2 <= link["top"] <= HEIGHT - 40, link  # in the window, open


def test_the_page_fits_a_laptop_and_its_contents_lead_somewhere(bundle: Path) -> None:
    page = bundle / evidence.MATRIX
    cells = json.loads((bundle / evidence.EVIDENCE).read_text())["cells"]
    seen = look(page, bundle.parent / "matrix-1600.png")
    assert_usable(seen, cells)
    variants = expected_links(cells) - len(SCENARIOS)
    assert len(seen["grids"]) == variants + 1  # per-identity's 24 columns make two grids
    assert any(g["last"].startswith("DescribeTable@other") for g in seen["grids"])
    text = page.read_text()
    # The scenario with failed cells opens by itself; the ones that passed wait to be opened.
    assert re.search(r'<details class="scenario" id="scenario-books" open>', text)
    assert re.search(r'<details class="scenario" id="scenario-flows">', text)
    assert "classic (off)" not in text and "AllowClassicFlow unset: enabled (C2)" in text
    assert "AllowClassicFlow false: disabled (C1)" in text


def test_a_whole_run_page_stays_short_and_navigable(bundle: Path) -> None:
    """18 scenarios, 3,000+ cells: the records of the three that passed under six names each."""
    data = json.loads((bundle / evidence.EVIDENCE).read_text())
    passed = [c for c in data["cells"] if c["scenario"] != "books"]
    copies = 6
    cells = [{**c, "scenario": f"{c['scenario']}-{n}", "id": f"{n}-{c['id']}",
              "test": f"{n}-{c['test']}"} for n in range(copies) for c in passed]
    assert len(cells) >= 3000 and len({c["scenario"] for c in cells}) == 18
    verdict = Completeness("complete", len(cells), len(cells))
    whole = bundle.parent / "whole-run"
    whole.mkdir(exist_ok=True)
    shutil.copy(bundle / "rules.html", whole)
    page = whole / evidence.MATRIX
    page.write_text(render_matrix(cells, data["run"], [p.action for p in PROBES], {},
                                  banner_html(verdict)))
    seen = look(page, whole / "matrix-1600.png")
    assert_usable(seen, cells)
    assert seen["height"] < 10 * HEIGHT, seen["height"]  # it was ~62,000 px: 62 windows
