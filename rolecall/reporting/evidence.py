"""The evidence bundle of a run: what an auditor reads, and proof it was not edited since.

At the end of a run the controller writes `reports/<runid>/`:

- `evidence.json`  one record per cell (who, which role expected and observed,
                   which action, expected and observed outcome, error code, AWS
                   request ids, rule, source, timestamps), plus the run's metadata;
- `matrix.html`    per scenario and variant a users x actions grid, readable with
                   no network (no scripts, no external assets);
- `summary.md`     counts, failures, and a per scenario table;
- `junit.xml`      a copy of the run's JUnit report, when there is one;
- `manifest.json`  run metadata, tool versions and the SHA-256 of every other file.

`verify` re-hashes a bundle; `diff` says which cells changed between two. Every
text goes through `rolecall.reporting.redact` on its way to disk. The manifest cannot hash
itself: its own digest is printed at the end of the run (and by `verify`) so it
can be kept somewhere the bundle's owner cannot rewrite, such as the CI log.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import platform
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rolecall
from rolecall.reporting.redact import mask_account, redact, redact_text

if TYPE_CHECKING:
    from rolecall.target.run import Run

BUNDLE_KIND = "rolecall-evidence"
SCHEMA = 1
MANIFEST = "manifest.json"
EVIDENCE = "evidence.json"
MATRIX = "matrix.html"
SUMMARY = "summary.md"
TOOLS = ("python", "rolecall", "boto3", "botocore", "moto", "pytest", "pytest-xdist",
         "allure-pytest")
CELL_FIELDS = ("id", "kind", "scenario", "variant", "flow", "user", "groups", "expected_role",
               "observed_role", "action", "expected", "observed", "code", "request_ids", "rule",
               "source", "passed", "test_outcome", "test", "recorded_at", "finished_at")
# What `diff` compares: observed drift first, then what was expected and the verdict.
DIFF_FIELDS = ("observed", "observed_role", "expected", "expected_role", "passed")


class BundleError(Exception):
    """A folder that is not a usable bundle; the message names the file and the fix."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- what the tests write during the run ----------------------------------------------------

def stamp(record: dict[str, Any]) -> dict[str, Any]:
    """A cell record as it is stored: which test wrote it and when, redacted (rule 4)."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    return redact({**record, "test": record.get("test") or test or None,
                   "recorded_at": record.get("recorded_at") or now()})


def append_outcome(state_dir: Path, worker: str, outcome: dict[str, Any]) -> None:
    """How a cell's test ended (passed / failed / skipped), beside the cells it recorded.

    Kept apart from the cell records so a test that failed before it recorded
    anything still leaves its cell in the evidence, as not observed.
    """
    with (state_dir / f"outcomes-{worker}.jsonl").open("a") as handle:
        handle.write(json.dumps(redact({**outcome, "finished_at": now()}), sort_keys=True) + "\n")


def _jsonl(paths: Iterable[Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(paths):
        rows.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return rows


def collect(state_dir: Path) -> list[dict[str, Any]]:
    """The run's cells, one per record id, with how their tests ended, sorted by id."""
    records = _jsonl(state_dir.glob("cells-*.jsonl"))
    outcomes = {o["test"]: o for o in _jsonl(state_dir.glob("outcomes-*.jsonl")) if o.get("test")}
    by_test: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_test.setdefault(record.get("test") or "", []).append(record)
    cells: dict[str, dict[str, Any]] = {}
    for test, rows in by_test.items():
        ended = outcomes.get(test, {})
        for row in rows:
            cell = normalise(row)
            cell["test_outcome"] = ended.get("outcome")
            cell["finished_at"] = ended.get("finished_at")
            if ended.get("outcome") == "failed" and (len(rows) == 1 or all(r.get("passed")
                                                                            for r in rows)):
                cell["passed"] = False  # a later assertion of the test failed the cell
            cells[cell["id"]] = cell
    for test, ended in outcomes.items():
        if test not in by_test and ended.get("cell"):
            cell = normalise({**ended["cell"], "observed": "NOT OBSERVED", "passed": False,
                              "code": ended.get("error"), "test": test})
            if ended.get("outcome") == "skipped":
                cell["observed"] = "SKIPPED"
            cell["test_outcome"], cell["finished_at"] = ended.get("outcome"), ended["finished_at"]
            cells.setdefault(cell["id"], cell)
    return [cells[key] for key in sorted(cells)]


def _issued_role(outcome: Any) -> str | None:
    text = str(outcome or "")
    return text[len("ISSUED("):-1] if text.startswith("ISSUED(") and text.endswith(")") else None


def normalise(record: dict[str, Any]) -> dict[str, Any]:
    """Every cell with the same fields; kind-specific extras kept under `details`."""
    cell: dict[str, Any] = {name: record.get(name) for name in CELL_FIELDS}
    kind = record.get("kind")
    if kind == "credential":
        cell["expected_role"] = cell["expected_role"] or _issued_role(record.get("expected"))
        cell["observed_role"] = cell["observed_role"] or _issued_role(record.get("observed"))
    elif kind == "claims":  # the preferred role is the claims cell's outcome
        cell["expected_role"] = cell["expected_role"] or record.get("expected")
        cell["observed_role"] = cell["observed_role"] or record.get("observed")
    cell["groups"] = list(cell["groups"] or [])
    cell["request_ids"] = list(cell["request_ids"] or [])
    cell["passed"] = bool(record.get("passed"))
    extras = {k: v for k, v in record.items() if k not in CELL_FIELDS}
    if extras:
        cell["details"] = extras
    return cell


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


def run_metadata(run: Run, started_at: str | None, ended_at: str) -> dict[str, Any]:
    config = run.config
    return {"runid": config.runid, "target": config.target, "region": config.region,
            "account": mask_account(config.account_id), "endpoint_url": config.endpoint_url,
            "started_at": started_at or getattr(config, "started_at", "") or None,
            "ended_at": ended_at}


def write_bundle(run: Run, out_root: Path, junit: Path | None = None,
                 started_at: str | None = None) -> Path | None:
    """Write reports/<runid>/ for a finished run; None when the run observed no cell."""
    cells = collect(run.state_dir)
    if not cells:
        return None
    meta = run_metadata(run, started_at, now())
    bundle = out_root / run.config.runid
    bundle.mkdir(parents=True, exist_ok=True)
    _write(bundle / EVIDENCE, json.dumps({"bundle": BUNDLE_KIND, "schema": SCHEMA, "run": meta,
                                          "cells": cells}, indent=1, sort_keys=True))
    _write(bundle / MATRIX, render_matrix(cells, meta))
    _write(bundle / SUMMARY, render_summary(cells, meta))
    if junit is not None and junit.is_file():
        _write(bundle / "junit.xml", junit.read_text(errors="replace"))
    manifest = {"bundle": BUNDLE_KIND, "schema": SCHEMA, **meta,
                "rolecall": {"version": rolecall.__version__, "git_sha": git_sha()},
                "tools": tool_versions(), "files": _hashes(bundle)}
    _write(bundle / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    return bundle


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
    bundle: Path
    manifest_sha256: str
    problems: list[str] = field(default_factory=list)

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
        if path.name != MANIFEST and path.name not in listed:
            result.problems.append(f"{path}: added after the run (not in {MANIFEST})")
    if EVIDENCE not in listed:
        result.problems.append(f"{bundle / EVIDENCE}: not listed in {MANIFEST}")
    return result


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
    """One cell that differs between two runs: field -> (old, new); `only` for added/removed."""

    id: str
    fields: dict[str, tuple[Any, Any]]
    only: str | None = None  # "old" or "new" when the cell is in one run only

    def describe(self) -> str:
        if self.only:
            return f"{self.id}: only in the {self.only} run"
        return f"{self.id}: " + "; ".join(f"{name} {_show(old)} -> {_show(new)}"
                                          for name, (old, new) in self.fields.items())


def diff(old: Path, new: Path) -> list[Change]:
    """Cells whose observed outcome or role (or expectation, or verdict) changed, by id."""
    before, after = load_cells(old), load_cells(new)
    changes: list[Change] = []
    for cell_id in sorted(set(before) | set(after)):
        if cell_id not in after:
            changes.append(Change(cell_id, {}, "old"))
        elif cell_id not in before:
            changes.append(Change(cell_id, {}, "new"))
        else:
            fields = {name: (before[cell_id].get(name), after[cell_id].get(name))
                      for name in DIFF_FIELDS
                      if before[cell_id].get(name) != after[cell_id].get(name)}
            if fields:
                changes.append(Change(cell_id, fields))
    return changes


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


# --- matrix.html ---------------------------------------------------------------------------

STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#1a1a1a}
h1{font-size:1.4em;margin:0 0 .3em} h2{margin-top:1.6em;border-bottom:2px solid #444}
h3{margin:1.2em 0 .4em} .meta{color:#444} .meta span{margin-right:1.5em}
table{border-collapse:collapse;margin:.4em 0 1em} th,td{border:1px solid #999;padding:3px 6px}
th{background:#eee;text-align:left;font-weight:600} td.v{text-align:center;min-width:5.5em}
.ALLOWED,.ISSUED{background:#c8e6c9;color:#1b5e20}
.DENIED,.REFUSED{background:#ffcdd2;color:#8e0000}
.ERROR{background:#ffe082;color:#5d4037} .NONE{background:#eceff1;color:#555}
.MATCH{background:#e3f2fd;color:#0d47a1}
td.fail{outline:3px solid #000;outline-offset:-3px;font-weight:700}
td.fail::before{content:"\\2717 "} .exp{display:block;font-size:.8em;font-weight:400}
.legend td{min-width:7em} .totals{font-size:1.1em}
.ok{color:#1b5e20;font-weight:700} .bad{color:#b00020;font-weight:700}
"""


def _e(value: Any) -> str:
    return html.escape(_show(value))


def _verdict_class(observed: Any) -> str:
    text = str(observed or "")
    for word in ("ALLOWED", "DENIED", "ERROR", "ISSUED", "REFUSED"):
        if text.startswith(word):
            return word
    return "NONE"


def _td(cell: dict[str, Any] | None, show: Any | None = None) -> str:
    """One observation: coloured by verdict (or as-expected), failures outlined with the expectation."""
    if cell is None:
        return '<td class="v NONE">&ndash;</td>'
    verdict = _verdict_class(cell["observed"])
    if verdict == "NONE" and cell["passed"]:
        verdict = "MATCH"  # not a verdict word (a role name, findings): as expected
    classes = f"v {verdict}" + ("" if cell["passed"] else " fail")
    title = (f"{cell['id']}: expected {_show(cell['expected'])}, observed {_show(cell['observed'])}"
             f" [SPEC {_show(cell['rule'])}; source: {_show(cell['source'])}]")
    body = _e(show if show is not None else cell["observed"])
    if not cell["passed"]:
        body += f'<span class="exp">expected {_e(cell["expected"])}</span>'
    return f'<td class="{classes}" title="{html.escape(title)}">{body}</td>'


def _action_order(actions: Iterable[str]) -> list[str]:
    from rolecall.target.probes import PROBES  # the SPEC D5 order; unknown actions after

    order = [p.action for p in PROBES]
    return sorted(set(actions), key=lambda a: (order.index(a.split("@")[0])
                                               if a.split("@")[0] in order else len(order), a))


def _variant_grid(cells: list[dict[str, Any]]) -> str:
    """Rows: each credential (flow, user); columns: its outcome, role, then every action."""
    actions = _action_order(c["action"] for c in cells if c["kind"] == "access" and c["action"])
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for cell in cells:
        row = rows.setdefault((cell["user"] or "guest", cell["flow"] or ""), {"access": {}})
        if cell["kind"] == "credential":
            row["credential"] = cell
        elif cell["kind"] == "access":
            row["access"][cell["action"]] = cell
            row.setdefault("role_from", cell)
    head = "".join(f"<th>{html.escape(a)}</th>" for a in actions)
    out = [f"<table class=\"grid\"><thead><tr><th>user</th><th>flow</th><th>groups</th>"
           f"<th>credential</th><th>role expected</th><th>role observed</th>{head}</tr></thead>"
           "<tbody>"]
    for (user, flow), row in sorted(rows.items()):
        source = row.get("credential") or row.get("role_from") or {}
        role_ok = source.get("expected_role") == source.get("observed_role")
        role_class = "" if role_ok else ' class="bad"'
        out.append(f"<tr><th>{html.escape(user)}</th><td>{html.escape(flow)}</td>"
                   f"<td>{_e(source.get('groups') or [])}</td>{_td(row.get('credential'))}"
                   f"<td>{_e(source.get('expected_role'))}</td>"
                   f"<td{role_class}>{_e(source.get('observed_role'))}</td>"
                   + "".join(_td(row["access"].get(a)) for a in actions) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _claims_table(cells: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><th>{_e(c['user'])}</th><td>{_e(c['groups'])}</td><td>{_e(c['expected'])}</td>"
        f"{_td(c, c['observed'] if c['observed'] is not None else 'none')}</tr>" for c in cells)
    return ("<h3>ID token: preferred role</h3><table class=\"claims\"><thead><tr><th>user</th>"
            "<th>groups</th><th>expected</th><th>observed</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _other_table(kind: str, cells: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><th>{_e(c['id'])}</th><td>{_e(c['expected'])}</td>"
        f"{_td(c, _outcome_text(c))}<td>{_e(c['rule'])}</td></tr>" for c in cells)
    return (f"<h3>{html.escape(kind)} cells</h3><table class=\"other\"><thead><tr><th>cell</th>"
            "<th>expected</th><th>observed</th><th>rule</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _outcome_text(cell: dict[str, Any]) -> Any:
    if cell["observed"] not in (None, []):
        return cell["observed"]
    return "as expected" if cell["passed"] else "failed"


def _counts(cells: list[dict[str, Any]]) -> dict[str, int]:
    skipped = sum(1 for c in cells if c.get("test_outcome") == "skipped")
    passed = sum(1 for c in cells if c["passed"])
    return {"cells": len(cells), "passed": passed, "failed": len(cells) - passed - skipped,
            "skipped": skipped}


def _by(cells: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault(str(cell.get(key) or "-"), []).append(cell)
    return dict(sorted(groups.items()))


def render_matrix(cells: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """One self-contained page: no script, no link, no image; colours and text say it all."""
    counts = _counts(cells)
    verdict = ('<span class="ok">all cells passed</span>' if counts["failed"] == 0 else
               f'<span class="bad">{counts["failed"]} cell(s) failed</span>')
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>rolecall run {_e(meta['runid'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>rolecall conformance run {_e(meta['runid'])}</h1><p class=\"meta\">"
        f"<span>target: {_e(meta['target'])}</span><span>region: {_e(meta['region'])}</span>"
        f"<span>account: {_e(meta['account'])}</span><span>started: {_e(meta['started_at'])}"
        f"</span><span>ended: {_e(meta['ended_at'])}</span></p>",
        f"<p class=\"totals\">{counts['cells']} cells: {counts['passed']} passed, "
        f"{counts['failed']} failed, {counts['skipped']} skipped &mdash; {verdict}</p>",
        "<table class=\"legend\"><tr><th>legend</th><td class=\"v ALLOWED\">ALLOWED / ISSUED</td>"
        "<td class=\"v DENIED\">DENIED / REFUSED</td><td class=\"v ERROR\">ERROR</td>"
        "<td class=\"v MATCH\">as expected (claims, checks)</td>"
        "<td class=\"v NONE\">not probed</td><td class=\"v ALLOWED fail\">failed cell"
        "<span class=\"exp\">expected &hellip;</span></td></tr></table>",
    ]
    for scenario, of_scenario in _by(cells, "scenario").items():
        sc = _counts(of_scenario)
        parts.append(f"<section id=\"scenario-{html.escape(scenario)}\"><h2>scenario "
                     f"{html.escape(scenario)}</h2><p>{sc['cells']} cells, {sc['passed']} passed,"
                     f" {sc['failed']} failed</p>")
        kinds = _by(of_scenario, "kind")
        if "claims" in kinds:
            parts.append(_claims_table(kinds.pop("claims")))
        grid_cells = kinds.pop("credential", []) + kinds.pop("access", [])
        for variant, of_variant in _by(grid_cells, "variant").items():
            parts.append(f"<h3>variant {html.escape(variant)}</h3>{_variant_grid(of_variant)}")
        for kind, rest in kinds.items():
            parts.append(_other_table(kind, rest))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


# --- summary.md ----------------------------------------------------------------------------

def _md(value: Any) -> str:
    return _show(value).replace("|", "\\|").replace("\n", " ")


def render_summary(cells: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    counts = _counts(cells)
    lines = [f"# rolecall conformance run {meta['runid']}", "",
             f"- target: {meta['target']} ({meta['region']}, account {meta['account']})",
             f"- started: {meta['started_at']}", f"- ended: {meta['ended_at']}", "",
             "## Totals", "", "| cells | passed | failed | skipped |", "|---:|---:|---:|---:|",
             f"| {counts['cells']} | {counts['passed']} | {counts['failed']} | "
             f"{counts['skipped']} |", "", "## Per scenario", "",
             "| scenario | cells | passed | failed | skipped |", "|---|---:|---:|---:|---:|"]
    for scenario, of_scenario in _by(cells, "scenario").items():
        sc = _counts(of_scenario)
        lines.append(f"| {_md(scenario)} | {sc['cells']} | {sc['passed']} | {sc['failed']} | "
                     f"{sc['skipped']} |")
    failures = [c for c in cells if not c["passed"] and c.get("test_outcome") != "skipped"]
    lines += ["", f"## Failures ({len(failures)})", ""]
    if not failures:
        lines.append("None: every cell observed what the spec and the scenarios expect.")
    else:
        lines += ["| cell | expected | observed | role expected / observed | rule | source |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {_md(c['id'])} | {_md(c['expected'])} | {_md(c['observed'])} | "
                  f"{_md(c['expected_role'])} / {_md(c['observed_role'])} | {_md(c['rule'])} | "
                  f"{_md(c['source'])} |" for c in failures]
    return "\n".join(lines) + "\n"
