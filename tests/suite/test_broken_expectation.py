"""Breaking one expectation in a scenario fails exactly the cells that depend on it.

Runs the real conformance suite (a pytest subprocess, embedded target) on a copy
of scenarios/books.yaml in which the read-only role's profile wrongly claims it
may not Query. Only testuser1's Query cells (one per variant) may fail, and
their message must show expected vs observed and the SPEC rule.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_flipping_one_profile_entry_fails_exactly_the_affected_cells(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "scenarios" / "books.yaml").read_text())
    data = {k: v for k, v in data.items() if not k.startswith("x-")}
    data["roles"]["BooksReadAccess"]["allowed"].remove("Query")  # the one broken expectation
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "books.yaml").write_text(yaml.safe_dump(data))
    junit = tmp_path / "junit.xml"

    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "suites"), "-q", "-p", "no:cacheprovider",
         "-p", "no:randomly", "--scenario-dir", str(scenarios), f"--junitxml={junit}",
         "--evidence-dir", str(tmp_path / "reports")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "CI": "1"})  # pytest trims short-summary lines to the terminal, not in CI

    cases = ET.parse(junit).getroot().iter("testcase")
    failed = {case.get("name", ""): case.find("failure") for case in cases
              if case.find("failure") is not None or case.find("error") is not None}
    assert done.returncode == 1, done.stdout[-2000:]
    assert sorted(failed) == [
        "test_access[books-token-authrole-enhanced-testuser1-Query]",
        "test_access[books-token-deny-enhanced-testuser1-Query]",
    ]
    verdict = "expected DENIED, observed ALLOWED [SPEC D1] role BooksReadAccess"
    for failure in failed.values():
        assert failure is not None
        assert failure.get("message", "") == verdict  # the crash line is the verdict
        assert (failure.text or "").startswith(verdict)
        assert "docs/rules.md#d1" in (failure.text or "") and '"dynamodb:Query"' in (failure.text or "")
    out = done.stdout
    assert "def test_access" not in out and "assert probed" not in out, "no test source by default"
    short = [line for line in out.splitlines() if line.startswith("FAILED ")]
    assert len(short) == 2 and all(line.endswith(f" - {verdict}") for line in short), short
    assert f"books-token-deny-enhanced-testuser1-Query: {verdict}" in out  # the closing list
