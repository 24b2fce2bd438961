"""Each escalation path names the rule of the path it takes (issue 24, item 4).

A real run (embedded target) of the escalation cells of seed-identity-grant, whose
editors and admins reach cognito-identity:UpdateIdentityPool both through the enhanced
flow (their role by precedence: E7b) and by asking for a role with CustomRoleArn (E7a);
the cell once cited `C5/E10/E5` for all of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_each_escalation_path_cites_its_own_rule(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "suites"), "-q", "-n", "0",
         "-p", "no:cacheprovider", "-p", "no:randomly", "--scenario", "seed-identity-grant",
         "-k", "test_no_path_exceeds_the_entitlement", "--evidence-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    [bundle] = [p for p in tmp_path.iterdir() if p.is_dir()]
    cells = json.loads((bundle / "evidence.json").read_text())["cells"]
    paths = {(p["subject"], p["path"]): p["rule"] for c in cells
             for p in c["details"]["paths"]}
    assert paths[("token/editor", "enhanced")] == "E7b"
    assert paths[("token/editor", "custom=rbac-users-editor-role")] == "E7a"
    assert {c["id"]: c["rule"] for c in cells} == {
        "seed-identity-grant-admin-escalation": "E7b/E7a",
        "seed-identity-grant-editor-escalation": "E7b/E7a"}  # the rules of the paths found
    summary = (bundle / "summary.md").read_text()
    assert ("| seed-identity-grant-editor-escalation | yes | token/editor | "
            "custom=rbac-users-editor-role | E7a | cognito-identity:UpdateIdentityPool") in summary
    assert "C5/E10/E5" not in summary
