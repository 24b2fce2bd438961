"""What a run shows people, with what changes from run to run taken out.

A run's outputs (the evidence bundle, the Allure results, matrix.html) carry run
ids, timestamps, AWS request ids and random physical names. `snapshot` keeps
everything else (cell ids, expectations, outcomes, labels, parameters, links,
attachment names), so two runs of the same scenarios compare equal exactly when
they report the same thing. `python tests/evidence/snapshot.py RUN_DIR` prints one.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

VOLATILE_CELL_FIELDS = ("recorded_at", "finished_at", "request_ids")
VOLATILE_LABELS = ("host", "thread")
RANDOM = [
    (re.compile(r"\b[a-z]{2}-[a-z]+-\d:[0-9a-f-]{36}\b"), "<identity-or-pool-id>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\brc-[0-9a-f]{8}-"), "rc-<runid>-"),
    (re.compile(r"\b[a-z]{2}-[a-z]+-\d_[A-Za-z0-9]{9}\b"), "<user-pool-id>"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?\b"), "<time>"),
    (re.compile(r"run [0-9a-f]{8}\b"), "run <runid>"),
    (re.compile(r"\b[a-z0-9]{26}\b"), "<client-id>"),
]


def scrub(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, replacement in RANDOM:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    return value


def evidence_cells(bundle: Path) -> dict[str, Any]:
    cells = json.loads((bundle / "evidence.json").read_text())["cells"]
    return {c["id"]: scrub({k: v for k, v in c.items() if k not in VOLATILE_CELL_FIELDS})
            for c in cells}


def allure_results(folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in folder.glob("*-result.json"):
        result = json.loads(path.read_text())
        params = {p["name"]: p["value"] for p in result.get("parameters", [])}
        key = result.get("fullName", "") + "|" + json.dumps(params, sort_keys=True)
        out[scrub(key)] = scrub({
            "name": result.get("name"), "status": result.get("status"),
            "message": (result.get("statusDetails") or {}).get("message"),
            "labels": sorted(f"{lb['name']}={lb['value']}" for lb in result.get("labels", [])
                             if lb["name"] not in VOLATILE_LABELS),
            "parameters": params,
            "links": sorted(f"{lk.get('type')}:{lk.get('name')}:{lk.get('url')}"
                            for lk in result.get("links", [])),
            "attachments": sorted(a["name"] for a in result.get("attachments", [])),
        })
    return dict(sorted(out.items()))


def matrix_text(bundle: Path) -> str:
    return str(scrub((bundle / "matrix.html").read_text()))


def snapshot(run_dir: Path) -> dict[str, Any]:
    """run_dir holds `reports/<runid>/` (one bundle) and `allure-results/`."""
    bundles = [p for p in (run_dir / "reports").iterdir() if p.is_dir()]
    assert len(bundles) == 1, f"expected one bundle under {run_dir / 'reports'}, found {bundles}"
    return {"cells": evidence_cells(bundles[0]),
            "allure": allure_results(run_dir / "allure-results"),
            "matrix_html": matrix_text(bundles[0])}


if __name__ == "__main__":
    print(json.dumps(snapshot(Path(sys.argv[1])), indent=1, sort_keys=True))
