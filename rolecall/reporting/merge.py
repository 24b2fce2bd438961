"""Join the evidence bundles of many jobs (one per account x stack) into one verified bundle.

A nightly that fans out with its CI matrix leaves one bundle per job. `merge`
refuses any bundle that is not intact (every hash re-checked, evidence.verify),
keys each cell by where it ran (`<account>/<label>/<cell id>`: the masked account
and the bundle's folder name, which the workflow names after account and stack),
and writes one bundle with the same writer as a run, so `rolecall verify` and
`rolecall diff` work on it unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rolecall.reporting import evidence
from rolecall.reporting.records import now


def merge(bundles: Sequence[Path], out_root: Path, runid: str = "merged",
          action_order: Sequence[str] = ()) -> Path:
    """One bundle at out_root/<runid> holding every cell of every (intact) bundle."""
    if not bundles:
        raise evidence.BundleError("no bundles to merge; give the folders the jobs uploaded")
    cells: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for bundle in bundles:
        run, of_bundle = _load(bundle)
        where = f"{run.get('account') or 'unknown'}/{_label(bundle, run)}"
        parts.append({"where": where, "runid": run.get("runid"), "target": run.get("target"),
                      "manifest_sha256": evidence.sha256(bundle / evidence.MANIFEST)})
        cells += [{**cell, "id": f"{where}/{cell['id']}", "scenario":
                   f"{where}/{cell.get('scenario')}", "account": run.get("account"),
                   "stack": _label(bundle, run)} for cell in of_bundle]
    meta = {"runid": runid, "target": "merged", "region": "several", "account": "several",
            "endpoint_url": None, "started_at": now(), "merged_from": parts}
    written = evidence.write_bundle(cells, meta, out_root, action_order=action_order)
    if written is None:
        raise evidence.BundleError("the bundles hold no cells; nothing to merge")
    return written


def _load(bundle: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A bundle's run and cells, refusing one whose files changed since its run."""
    evidence.load_cells(bundle)  # raises BundleError naming the changed files
    data = json.loads((bundle / evidence.EVIDENCE).read_text())
    return dict(data.get("run", {})), list(data.get("cells", []))


def _label(bundle: Path, run: dict[str, Any]) -> str:
    """The job's name for its stack: the folder holding the bundle (skipping a `reports`
    folder: reports/<job>/<runid> and <job>/reports/<runid> both name <job>)."""
    for folder in bundle.resolve().parents[:2]:
        if folder.name not in {"reports", ""}:
            return folder.name
    return str(run.get("runid"))
