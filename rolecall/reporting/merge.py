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
from rolecall.reporting.completeness import COMPLETE, INCOMPLETE, SELECTION, Completeness
from rolecall.reporting.records import now


def merge(bundles: Sequence[Path], out_root: Path, runid: str = "merged",
          action_order: Sequence[str] = ()) -> Path:
    """One bundle at out_root/<runid> holding every cell of every (intact) bundle."""
    if not bundles:
        raise evidence.BundleError("no bundles to merge; give the folders the jobs uploaded")
    cells: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    extents: list[tuple[str, Completeness]] = []
    for bundle in bundles:
        run, of_bundle, extent = _load(bundle)
        where = f"{run.get('account') or 'unknown'}/{_label(bundle, run)}"
        extents.append((where, extent))
        parts.append({"where": where, "runid": run.get("runid"), "target": run.get("target"),
                      "manifest_sha256": evidence.sha256(bundle / evidence.MANIFEST)})
        cells += [{**cell, "id": f"{where}/{cell['id']}", "scenario":
                   f"{where}/{cell.get('scenario')}", "account": run.get("account"),
                   "stack": _label(bundle, run)} for cell in of_bundle]
    meta = {"runid": runid, "target": "merged", "region": "several", "account": "several",
            "endpoint_url": None, "started_at": now(), "merged_from": parts}
    written = evidence.write_bundle(cells, meta, out_root, _joined(extents),
                                    action_order=action_order)
    if written is None:
        raise evidence.BundleError("the bundles hold no cells; nothing to merge")
    return written


def _load(bundle: Path) -> tuple[dict[str, Any], list[dict[str, Any]], Completeness]:
    """A bundle's run, cells and extent, refusing one whose files changed since its run.

    A bundle that does not record its extent (written before completeness existed)
    counts as INCOMPLETE: nothing says it holds every cell it planned.
    """
    evidence.load_cells(bundle)  # raises BundleError naming the changed files
    data = json.loads((bundle / evidence.EVIDENCE).read_text())
    cells = list(data.get("cells", []))
    recorded = data.get("completeness")
    extent = (Completeness.from_dict(recorded) if recorded else
              Completeness(INCOMPLETE, None, len(cells), reason="the bundle records no extent"))
    return dict(data.get("run", {})), cells, extent


def _joined(extents: list[tuple[str, Completeness]]) -> Completeness:
    """The merged bundle's extent: complete only when every job's bundle was.

    A selection in any job makes the whole a SELECTION; an incomplete job makes it
    INCOMPLETE, naming the job, so a merged nightly never reads greener than its worst job.
    """
    planned = [e.planned for _, e in extents]
    total = sum(p for p in planned if p is not None) if None not in planned else None
    observed = sum(e.observed for _, e in extents)
    missing = [f"{where}/{cell}" for where, e in extents for cell in e.missing]
    not_probed = {f"{where}/{cell}": why for where, e in extents
                  for cell, why in e.not_probed.items()}  # never observed, in any job
    short = [f"{where}: {e.headline}" for where, e in extents if not e.acceptable]
    if short:
        return Completeness(INCOMPLETE, total, observed, missing, reason="; ".join(short),
                            not_probed=not_probed)
    chosen = [f"{where}: {' '.join(e.selection)}" for where, e in extents if e.status == SELECTION]
    status = SELECTION if chosen else COMPLETE
    return Completeness(status, total, observed, missing, selection=chosen,
                        deselected=sum(e.deselected for _, e in extents), not_probed=not_probed)


def _label(bundle: Path, run: dict[str, Any]) -> str:
    """The job's name for its stack: the folder holding the bundle (skipping a `reports`
    folder: reports/<job>/<runid> and <job>/reports/<runid> both name <job>)."""
    for folder in bundle.resolve().parents[:2]:
        if folder.name not in {"reports", ""}:
            return folder.name
    return str(run.get("runid"))
