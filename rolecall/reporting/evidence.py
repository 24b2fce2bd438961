"""The evidence bundle of a run: what an auditor reads, and proof it was not edited since.

At the end of a run the controller writes `reports/<runid>/`:

- `evidence.json`  one record per cell (who, which role expected and observed,
                   which action, expected and observed outcome, error code, AWS
                   request ids, rule, source, timestamps), plus the run's metadata
                   and its `completeness`: planned vs observed cells, the ids of
                   the missing ones (NOT RUN rows) and why (completeness.py);
- `matrix.html`    per scenario and variant a users x actions grid, readable with
                   no network (no scripts, no external assets);
- `summary.md`     counts, failures, and a per scenario table;
- `junit.xml`      a copy of the run's JUnit report, when there is one;
- `manifest.json`  run metadata, tool versions and the SHA-256 of every other file.

summary.md and matrix.html open with the completeness headline ("INCOMPLETE: 684
of 1,793 cells; interrupted by SIGINT"). `verify` re-hashes a bundle and refuses
an incomplete one unless allowed; `diff` says which cells changed between two, and
which could not be compared because one run never ran them. Every
text goes through `rolecall.reporting.redact` on its way to disk. The manifest cannot hash
itself: its own digest is printed at the end of the run (and by `verify`) so it
can be kept somewhere the bundle's owner cannot rewrite, such as the CI log.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import rolecall
from rolecall.model.scenario import Scenario
from rolecall.reporting import oscal, rules_page
from rolecall.reporting.completeness import (
    SELECTION,
    Completeness,
    banner_html,
    not_probed_lines,
    not_run_lines,
    summary_lines,
)
from rolecall.reporting.matrix_html import by, counts, render_matrix, show
from rolecall.reporting.records import NOT_RUN, NOT_RUN_OUTCOME, SKIPPED, now
from rolecall.reporting.redact import mask_account, redact_text

BUNDLE_KIND = "rolecall-evidence"
# 2: evidence.json has `completeness`; NOT RUN rows for planned cells never run.
# 3: `completeness.not_probed` (cell id -> why it asked nothing); a cell that checks several
#    variants is planned, recorded and counted per variant (one count in every file).
SCHEMA = 3
MANIFEST = "manifest.json"
# The run's working state (rolecall/account/run.py) lives in this subfolder of the bundle's
# folder while the run lasts; it is not evidence: never hashed, listed or verified.
STATE_DIR = "state"
EVIDENCE = "evidence.json"
MATRIX = "matrix.html"
SUMMARY = "summary.md"
TOOLS = ("python", "rolecall", "boto3", "botocore", "moto", "pytest", "pytest-xdist",
         "allure-pytest")
# What `diff` compares: observed drift first, then what was expected and the verdict.
DIFF_FIELDS = ("observed", "observed_role", "expected", "expected_role", "passed")


class BundleError(Exception):
    """A folder that is not a usable bundle; the message names the file and the fix."""


# --- writing the bundle --------------------------------------------------------------------

def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TOOLS[1:]:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_sha(where: Path | None = None) -> str:
    """The commit the suite ran from (`-dirty` with uncommitted changes), or `unknown`."""
    for folder in [where or Path.cwd(), Path(rolecall.__file__).resolve().parent]:
        try:
            sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                                 text=True, timeout=10, check=True).stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                   cwd=folder, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        return f"{sha}-dirty" if dirty.strip() else sha
    return "unknown"


def roles_section(scenarios: list[Scenario]) -> dict[str, dict[str, Any]]:
    """Each scenario's roles as declared: what they may do (`allowed:`), their policy, why.

    The cells say what each credential did; an auditor also needs what the role was
    meant to do and the policy that grants it, one click away in matrix.html.
    """
    return {s.name: {name: {"allowed": role.allowed, "policy": role.policy, "source": role.source,
                            "groups": [g for g, group in s.groups.items() if group.role == name]}
                     for name, role in s.roles.items()} for s in scenarios}


def write_bundle(cells: list[dict[str, Any]], run: dict[str, Any], out_root: Path,
                 completeness: Completeness, junit: Path | None = None,
                 action_order: Sequence[str] = (),
                 roles: dict[str, dict[str, Any]] | None = None) -> Path | None:
    """Write reports/<runid>/ for a run; None when it neither observed nor missed a cell.

    `cells` are the run's records (rolecall/reporting/records.py) and a NOT RUN row
    per planned cell that has none; `completeness` says how much of the plan they
    cover (completeness.py); `run` says which run it was (runid, target, region,
    masked account, endpoint, started_at); `action_order` orders matrix.html's
    columns (the probes' SPEC D5 order).
    """
    if not cells and completeness.planned is not None and not completeness.reason:
        return None
    meta = {**run, "account": mask_account(str(run.get("account") or "")), "ended_at": now()}
    bundle = out_root / str(run["runid"])
    bundle.mkdir(parents=True, exist_ok=True)
    _write(bundle / EVIDENCE, json.dumps({"bundle": BUNDLE_KIND, "schema": SCHEMA, "run": meta,
                                          "completeness": completeness.as_dict(),
                                          "roles": roles or {}, "cells": cells},
                                         indent=1, sort_keys=True))
    _write(bundle / MATRIX, render_matrix(cells, meta, action_order, roles or {},
                                          banner_html(completeness)))
    _write(bundle / SUMMARY, render_summary(cells, meta, completeness))
    write_rules_page(bundle)
    _write(bundle / oscal.ASSESSMENT_RESULTS,
           json.dumps(oscal.assessment_results(cells, meta, completeness=completeness),
                      indent=1, sort_keys=True))
    if junit is not None and junit.is_file():
        _write(bundle / "junit.xml", junit.read_text(errors="replace"))
    manifest = {"bundle": BUNDLE_KIND, "schema": SCHEMA, **meta,
                "status": completeness.headline,
                "rolecall": {"version": rolecall.__version__, "git_sha": git_sha()},
                "tools": tool_versions(), "files": _hashes(bundle)}
    _write(bundle / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    return bundle


def write_rules_page(folder: Path) -> Path | None:
    """rules.html beside the report pages, so their rule links work wherever the folder goes."""
    source = rules_page.rules_source()
    if source is None:
        return None
    _write(folder / rules_page.RULES_HTML, rules_page.render(source.read_text(encoding="utf-8")))
    return folder / rules_page.RULES_HTML


def _write(path: Path, text: str) -> None:
    """The bundle's only writer: everything on disk has been through redaction."""
    path.write_text(redact_text(text), encoding="utf-8")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hashes(bundle: Path) -> dict[str, dict[str, Any]]:
    return {p.name: {"sha256": sha256(p), "bytes": p.stat().st_size}
            for p in sorted(bundle.iterdir()) if p.is_file() and p.name != MANIFEST}


# --- verify and diff ---------------------------------------------------------------------

@dataclass
class Verification:
    """Integrity (`problems`: files missing, changed or added) and extent (`completeness`)."""

    bundle: Path
    manifest_sha256: str
    problems: list[str] = field(default_factory=list)
    completeness: Completeness | None = None  # None: not recorded (schema 1) or unreadable

    @property
    def intact(self) -> bool:
        return not self.problems


def load_manifest(bundle: Path) -> dict[str, Any]:
    """The bundle's manifest, or a BundleError saying what is wrong and what to do."""
    if not bundle.is_dir():
        raise BundleError(f"{bundle}: no such bundle folder; give the folder a run wrote, "
                          "e.g. reports/<runid> (the run prints its path at the end)")
    path = bundle / MANIFEST
    if not path.is_file():
        raise BundleError(f"{path}: missing, so {bundle} is not an evidence bundle; give the "
                          "folder a conformance run wrote (reports/<runid>)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc}); the manifest was damaged or edited: "
                          "the bundle cannot be trusted, take the run's evidence again") from None
    if not isinstance(manifest, dict) or manifest.get("bundle") != BUNDLE_KIND:
        raise BundleError(f"{path}: not a rolecall evidence manifest (no \"bundle\": "
                          f"\"{BUNDLE_KIND}\"); give the folder a conformance run wrote")
    return manifest


def verify(bundle: Path) -> Verification:
    """Re-hash every file the manifest lists; name each missing, changed or added file."""
    manifest = load_manifest(bundle)
    result = Verification(bundle, sha256(bundle / MANIFEST))
    listed: dict[str, Any] = manifest.get("files") or {}
    for name, entry in sorted(listed.items()):
        path = bundle / name
        if not path.is_file():
            result.problems.append(f"{path}: missing (listed in {MANIFEST})")
        elif sha256(path) != entry.get("sha256"):
            result.problems.append(f"{path}: modified since the run (SHA-256 differs from "
                                   f"{MANIFEST})")
    for path in sorted(bundle.iterdir()):
        if path.name == STATE_DIR and path.is_dir():
            continue  # a run kept its working state (--keep-state): not part of the bundle
        if path.name != MANIFEST and path.name not in listed:
            result.problems.append(f"{path}: added after the run (not in {MANIFEST})")
    if EVIDENCE not in listed:
        result.problems.append(f"{bundle / EVIDENCE}: not listed in {MANIFEST}")
    result.completeness = completeness_of(bundle)
    return result


def completeness_of(bundle: Path) -> Completeness | None:
    """What evidence.json says about the run's extent; None when it does not say (schema 1)."""
    try:
        data = json.loads((bundle / EVIDENCE).read_text())
        return Completeness.from_dict(data["completeness"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_cells(bundle: Path) -> dict[str, dict[str, Any]]:
    """The cells of an intact bundle by id; a tampered bundle is refused, naming its files."""
    checked = verify(bundle)
    if not checked.intact:
        raise BundleError(f"{bundle} is not intact, refusing to compare it:\n  "
                          + "\n  ".join(checked.problems)
                          + "\n  take the evidence of that run again (the files were changed)")
    data = json.loads((bundle / EVIDENCE).read_text())
    return {cell["id"]: cell for cell in data.get("cells", [])}


@dataclass(frozen=True)
class Change:
    """One cell that differs between two runs: field -> (old, new).

    `only` ("old"/"new"): the cell is in one run only: added to the suite or removed
    from it, unless `outside` says the other run was a selection that left it out.
    `not_run` ("old"/"new"/"both"): a run planned the cell but never ran it, so nothing
    can be said about it: missing, never "unchanged".
    """

    id: str
    fields: dict[str, tuple[Any, Any]]
    only: str | None = None
    not_run: str | None = None
    outside: str | None = None  # "old"/"new": that run's selection left the cell out ...
    selection: str = ""  # ... by these options

    @property
    def kind(self) -> str:
        """changed, added, removed, or missing (NOT RUN, or outside a selection: not compared)."""
        if self.not_run or self.outside:
            return "missing"
        if self.only:
            return "added" if self.only == "new" else "removed"
        return "changed"

    def describe(self) -> str:
        if self.not_run:
            where = "either run" if self.not_run == "both" else f"the {self.not_run} run"
            return f"{self.id}: NOT RUN in {where}: missing, not compared"
        if self.outside:
            how = f" ({self.selection})" if self.selection else ""
            return f"{self.id}: not in the {self.outside} run's selection{how}: missing, not compared"
        if self.only:
            return f"{self.id}: {self.kind} (only in the {self.only} run)"
        return f"{self.id}: " + "; ".join(f"{name} {show(old)} -> {show(new)}"
                                          for name, (old, new) in self.fields.items())


def _selection_of(bundle: Path) -> str | None:
    """How a bundle's run was narrowed on purpose ("" when unnamed), None for a whole run.

    An interrupted run keeps its planned cells as NOT RUN rows; only a selection (or a
    deselection) leaves cells of the suite out of its evidence altogether."""
    verdict = completeness_of(bundle)
    if verdict is None or not (verdict.status == SELECTION or verdict.selection
                               or verdict.deselected):
        return None
    return ", ".join(verdict.selection)


def diff(old: Path, new: Path) -> list[Change]:
    """Cells whose observed outcome or role (or expectation, or verdict) changed, by id;
    cells one run did not run, or its selection left out, which are missing rather than
    unchanged; and cells added to the suite or removed from it."""
    before, after = load_cells(old), load_cells(new)
    narrowed = {"old": _selection_of(old), "new": _selection_of(new)}
    changes: list[Change] = []
    for cell_id in sorted(set(before) | set(after)):
        old_cell, new_cell = before.get(cell_id), after.get(cell_id)
        missing = [side for side, cell in (("old", old_cell), ("new", new_cell))
                   if cell is not None and cell.get("observed") == NOT_RUN]
        absent = "new" if new_cell is None else "old" if old_cell is None else None
        if missing:
            changes.append(Change(cell_id, {}, not_run="both" if len(missing) == 2 else missing[0]))
        elif absent is not None and narrowed[absent] is not None:
            changes.append(Change(cell_id, {}, outside=absent, selection=narrowed[absent] or ""))
        elif absent is not None:
            changes.append(Change(cell_id, {}, "old" if absent == "new" else "new"))
        else:
            assert old_cell is not None and new_cell is not None
            fields = {name: (old_cell.get(name), new_cell.get(name)) for name in DIFF_FIELDS
                      if old_cell.get(name) != new_cell.get(name)}
            if fields:
                changes.append(Change(cell_id, fields))
    return changes


# --- summary.md ----------------------------------------------------------------------------

def _md(value: Any) -> str:
    return show(value).replace("|", "\\|").replace("\n", " ")


def _tests_note(cells: list[dict[str, Any]]) -> list[str]:
    """Why pytest's test count is lower than the cell count, when it is."""
    tests = len({c.get("test") for c in cells if c.get("test")})
    if not tests or tests == len(cells):
        return []
    return [f"{len(cells)} cells from {tests} pytest tests: a test that checks several variants "
            "records one cell per variant.", ""]


def render_summary(cells: list[dict[str, Any]], meta: dict[str, Any],
                   completeness: Completeness) -> str:
    """summary.md: completeness first, then totals, per scenario, failures and cells not run."""
    totals = counts(cells)
    lines = [f"# rolecall conformance run {meta['runid']}", "", *summary_lines(completeness),
             f"- target: {meta['target']} ({meta['region']}, account {meta['account']})",
             f"- started: {meta['started_at']}", f"- ended: {meta['ended_at']}", "",
             "## Totals", "", "| cells | passed | failed | not probed | not run |",
             "|---:|---:|---:|---:|---:|",
             f"| {totals['cells']} | {totals['passed']} | {totals['failed']} | "
             f"{totals['not_probed']} | {totals['not_run']} |", "", *_tests_note(cells),
             "## Per scenario", "",
             "| scenario | cells | passed | failed | not probed | not run |",
             "|---|---:|---:|---:|---:|---:|"]
    for scenario, of_scenario in by(cells, "scenario").items():
        sc = counts(of_scenario)
        lines.append(f"| {_md(scenario)} | {sc['cells']} | {sc['passed']} | {sc['failed']} | "
                     f"{sc['not_probed']} | {sc['not_run']} |")
    lines += _pins(cells)
    lines += _escalation_paths(cells)
    lines += _below_threshold(cells)
    failures = [c for c in cells if not c["passed"]
                and c.get("test_outcome") not in (SKIPPED, NOT_RUN_OUTCOME)]
    lines += ["", f"## Failures ({len(failures)})", ""]
    if not failures and totals["not_run"]:
        lines.append(f"None among the cells that ran; {totals['not_run']} planned cell(s) did "
                     "not run (see above): this is not a clean run.")
    elif not failures and totals["not_probed"]:
        lines.append(f"None among the cells observed; {totals['not_probed']} cell(s) were not "
                     "probed (see \"Not probed\"): not every cell was observed.")
    elif not failures:
        lines.append("None: every cell observed what the spec and the scenarios expect.")
    else:
        lines += ["| cell | expected | observed | role expected / observed | rule | source |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {_md(c['id'])} | {_md(c['expected'])} | {_md(c['observed'])} | "
                  f"{_md(c['expected_role'])} / {_md(c['observed_role'])} | {_md(c['rule'])} | "
                  f"{_md(c['source'])} |" for c in failures]
    lines += not_probed_lines(completeness)
    lines += not_run_lines(completeness)
    return "\n".join(lines) + "\n"


def _escalation_paths(cells: list[dict[str, Any]]) -> list[str]:
    """Every escalation path the run found, accepted or not, each with the SPEC rule of the
    path it takes (a CustomRoleArn request E7a, the classic flow C5 ...): `<variant>/<subject>`,
    the credential path, its rule, and what it grants beyond the entitlement."""
    found = [(c, path) for c in cells if c.get("kind") == "escalation"
             for path in _paths_of(c)]
    if not found:
        return []
    lines = ["", f"## Escalation paths ({len(found)})", "",
             "| cell | accepted | subject | credential path | rule | grants (what it changes) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {_md(c['id'])} | {_accepted(c, path['subject'])} | {_md(path['subject'])} | "
              f"{_md(path['path'])} | {_md(path['rule'])} | {_md(', '.join(path['grants']))} |"
              for c, path in found]
    return lines


def _below_threshold(cells: list[dict[str, Any]]) -> list[str]:
    """Audit findings nobody accepted that passed their cell only because they are less
    severe than --audit-fail-on: reported here, never hidden."""
    found = [(c, f) for c in cells if c.get("kind") == "audit"
             for f in (c.get("details") or {}).get("findings") or []
             if isinstance(f, dict) and f.get("accepted") is None and f.get("fails") is False]
    if not found:
        return []
    threshold = (found[0][0].get("details") or {}).get("fail_on")
    lines = ["", f"## Audit findings open below the threshold ({len(found)})", "",
             f"Not accepted, and less severe than `--audit-fail-on {threshold}`: their cells "
             "passed, the holes are open.", "",
             "| cell | severity | subject | finding | fix |", "|---|---|---|---|---|"]
    lines += [f"| {_md(c['id'])} | {_md(f.get('severity'))} | {_md(f.get('subject'))} | "
              f"{_md(f.get('message'))} | {_md(f.get('fix'))} |" for c, f in found]
    return lines


def _paths_of(cell: dict[str, Any]) -> list[dict[str, Any]]:
    """An escalation cell's paths; a bundle written before paths were recorded says each
    finding as text (`<variant>/<subject>: <path> grants ...`), the cell's rule for all."""
    details = cell.get("details") or {}
    if details.get("paths") is not None:
        return list(details["paths"])
    return [{"subject": str(text).split(":", 1)[0], "path": str(text).split(": ", 1)[-1],
             "rule": cell.get("rule"), "grants": []}
            for text in details.get("findings") or []]


def _accepted(cell: dict[str, Any], subject: Any) -> str:
    """yes when the path's subject (`<variant>/<user>`) is an accepted finding."""
    return "yes" if str(subject) in (cell.get("expected") or []) else "no"


def _pins(cells: list[dict[str, Any]]) -> list[str]:
    """Each pinned 'assumed' SPEC rule with the cell that settles it and what it observed:
    on AWS this is the answer the embedded target's assumption is checked against."""
    pinned = [c for c in cells if (c.get("details") or {}).get("pin")
              and c.get("test_outcome") != NOT_RUN_OUTCOME]
    if not pinned:
        return []
    lines = ["", f"## Pinned assumptions ({len(pinned)})", "",
             "| rule | cell | assumed | observed | source |", "|---|---|---|---|---|"]
    lines += [f"| {_md(c['details']['pin'])} | {_md(c['id'])} | {_md(c['expected'])} | "
              f"{_md(c['observed'])} | {_md(c['source'])} |" for c in pinned]
    return lines
