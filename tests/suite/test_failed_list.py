"""The closing `rolecall: N cell(s) failed` list names every failed cell, whatever its kind.

Runs the real conformance suite (a pytest subprocess, embedded target) on a copy of
scenarios/escalation-open.yaml broken three ways: the default role's profile wrongly
drops Query (the reader gets that role: access cells fail with a verdict), one
escalation acceptance is removed (the reader's escalation cell fails with an assertion
that is no verdict), and one audit acceptance is removed (the audit cell fails through
pytest.fail). The list must
hold as many lines as pytest counts failures, each naming its cell and why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_closing_list_names_every_failed_cell_escalation_and_audit_included(
        tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "scenarios" / "escalation-open.yaml").read_text())
    data = {k: v for k, v in data.items() if not k.startswith("x-")}
    data["roles"]["Authenticated"]["allowed"] = ["GetItem"]  # wrong on purpose: it may Query
    data["accepted_findings"] = [
        a for a in data["accepted_findings"]
        if (a["check"], a["subject"]) not in {("escalation", "classic/reader"),
                                              ("contains-rule-overmatch", "contains")}]
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "escalation-open.yaml").write_text(yaml.safe_dump(data))

    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "suites"), "-q", "-n", "0",
         "-p", "no:cacheprovider", "-p", "no:randomly", "--scenario-dir", str(scenarios),
         "-k", "(reader and (Query or escalation)) or overmatch",
         "--evidence-dir", str(tmp_path / "reports")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "CI": "1"})
    out = done.stdout
    assert done.returncode == 1, out[-3000:]
    counted = re.findall(r"^=*\s*(\d+) failed\b.* in [\d.]+s", out, re.MULTILINE)
    assert counted, out[-2000:]  # pytest's own count, on its closing line
    failed = [line[len("FAILED "):].split(" - ")[0].rsplit("[", 1)[-1].rstrip("]")
              for line in out.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == int(counted[-1])
    assert "escalation-open-reader-escalation" in failed  # the kinds the list used to drop
    assert "escalation-open-audit-contains-rule-overmatch" in failed
    assert any(cell.endswith("-Query") for cell in failed)

    header = f"rolecall: {len(failed)} cell(s) failed"
    assert header in out, out[-3000:]
    listed = out.split(header, 1)[1].splitlines()[1:]
    named = {line.split(": ", 1)[0] for line in listed if not line.startswith(" ")}
    assert set(failed) <= named, sorted(set(failed) - named)
    escalation = next(line for line in listed
                      if line.startswith("escalation-open-reader-escalation: "))
    assert "escalation beyond the entitlement" in escalation
    audit = next(line for line in listed
                 if line.startswith("escalation-open-audit-contains-rule-overmatch: "))
    assert "Contains rule matching more groups than intended" in audit
