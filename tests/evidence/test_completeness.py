"""A bundle says whether it holds the whole run: complete, a selection, or INCOMPLETE and why.

Built from records and plans written by hand; tests/evidence/test_interrupted_run.py
interrupts real runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rolecall.reporting import allure_run, completeness, evidence
from rolecall.reporting.completeness import COMPLETE, INCOMPLETE, SELECTION, Completeness, Plan
from rolecall.reporting.matrix_html import counts
from rolecall.reporting.records import (
    CELL_FIELDS,
    NOT_PROBED,
    NOT_RUN,
    Description,
    Observation,
    records_of,
)
from tests.evidence.test_bundle import RUN, cells, evidence_cli_main


def _test(cell: dict[str, Any]) -> str:
    return str(cell["test"])


def _records(rows: list[dict[str, Any]], outcome: str = "passed") -> list[dict[str, Any]]:
    return [{**dict.fromkeys(CELL_FIELDS), "groups": [], "request_ids": [],
             "test_outcome": outcome, **row} for row in rows]


def _plan(rows: list[dict[str, Any]], deselected: int = 0) -> Plan:
    described = [(_test(r), {k: r.get(k) for k in ("id", "kind", "scenario", "variant", "flow",
                                                   "user", "groups", "action", "expected",
                                                   "expected_role", "rule", "source")})
                 for r in rows]
    return Plan(described, [f"suites/x.py::t[other-{n}]" for n in range(deselected)])


def test_the_headline_says_how_much_and_why() -> None:
    assert Completeness(INCOMPLETE, 1793, 684, ["a"], "interrupted by SIGINT").headline == (
        "INCOMPLETE: 684 of 1,793 cells; interrupted by SIGINT")
    assert Completeness(COMPLETE, 1793, 1793).headline == "COMPLETE: all 1,793 planned cells observed"
    selection = Completeness(SELECTION, 33, 33, selection=["--scenario books", "-k 'testuser1'"],
                             deselected=96)
    assert selection.headline == ("SELECTION: all 33 selected cells observed; selected by "
                                  "--scenario books, -k 'testuser1'; 96 cell(s) deselected; "
                                  "not the whole suite")
    assert Completeness(INCOMPLETE, None, 0, reason="interrupted by SIGTERM").headline == (
        "INCOMPLETE: 0 cells observed, no plan (collection never finished); "
        "interrupted by SIGTERM")


def test_an_interrupted_run_lists_its_missing_cells_as_not_run() -> None:
    rows = cells()
    verdict, all_cells = completeness.assess(_plan(rows), _records(rows[:3]),
                                             "interrupted by SIGINT", [])
    assert (verdict.status, verdict.planned, verdict.observed) == (INCOMPLETE, len(rows), 3)
    assert verdict.missing == sorted(r["id"] for r in rows[3:])
    not_run = [c for c in all_cells if c["observed"] == NOT_RUN]
    assert len(not_run) == len(rows) - 3 and len(all_cells) == len(rows)
    assert all(not c["passed"] and c["test_outcome"] == "not run" for c in not_run)
    assert all(c["code"] == "interrupted before it ran" for c in not_run)
    assert {c["user"] for c in not_run} == {"testuser1", "writer"}  # placed in the grid


def test_cells_lost_without_a_signal_are_partial_and_name_the_crash() -> None:
    rows = cells()
    lost = _test(rows[-1])
    crash = f"worker 'gw1' crashed while running '{lost}'"
    verdict, all_cells = completeness.assess(_plan(rows), _records(rows[:-1]), None, [],
                                             {lost: crash})
    assert verdict.status == INCOMPLETE and verdict.missing == [rows[-1]["id"]]
    assert verdict.headline.endswith(f"1 planned cell(s) never recorded ({crash})")
    assert next(c for c in all_cells if c["test"] == lost)["code"] == crash


def test_a_selection_is_not_complete_and_says_by_what() -> None:
    rows = cells()
    verdict, _ = completeness.assess(_plan(rows, deselected=5), _records(rows), None, ["-k 'x'"])
    assert (verdict.status, verdict.deselected) == (SELECTION, 5)
    verdict, _ = completeness.assess(_plan(rows, deselected=2), _records(rows), None, [])
    assert verdict.status == SELECTION and verdict.selection == ["deselection"]
    verdict, _ = completeness.assess(_plan(rows), _records(rows), None, [])
    assert verdict.status == COMPLETE and verdict.reason is None


def test_no_plan_is_incomplete_even_with_records() -> None:
    verdict, _ = completeness.assess(None, _records(cells()[:2]), "interrupted by SIGTERM", [])
    assert (verdict.status, verdict.planned, verdict.observed) == (INCOMPLETE, None, 2)


def test_the_plan_is_written_once_and_read_back(tmp_path: Path) -> None:
    completeness.write_plan(tmp_path, [("t::a[x]", {"id": "x"})], ["t::a[y]"])
    completeness.write_plan(tmp_path, [("t::a[z]", {"id": "z"})], [])  # a second worker: ignored
    plan = completeness.read_plan(tmp_path)
    assert plan == Plan([("t::a[x]", {"id": "x"})], ["t::a[y]"])
    assert completeness.read_plan(tmp_path / "none") is None
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def _incomplete_bundle(tmp_path: Path) -> tuple[Path, Completeness]:
    rows = cells()
    verdict, all_cells = completeness.assess(_plan(rows), _records(rows[:4]),
                                             "interrupted by SIGINT", ["--scenario books"])
    bundle = evidence.write_bundle(all_cells, {**RUN, "runid": "cut"}, tmp_path / "reports",
                                   verdict, action_order=["GetItem", "Query", "PutItem"])
    assert bundle is not None
    return bundle, verdict


def test_an_incomplete_bundle_says_so_in_every_file(tmp_path: Path) -> None:
    bundle, verdict = _incomplete_bundle(tmp_path)
    headline = "INCOMPLETE: 4 of 8 cells; interrupted by SIGINT; selected by --scenario books"
    assert verdict.headline == headline
    summary = (bundle / "summary.md").read_text().splitlines()
    assert summary[2] == f"**{headline}**"
    text = "\n".join(summary)
    assert "every cell observed what the spec" not in text and "## Not run (4)" in text
    assert "| 8 | 4 | 0 | 0 | 4 |" in text  # cells, passed, failed, skipped, not run
    page = (bundle / "matrix.html").read_text()
    assert page.index('class="banner incomplete"') < page.index("<h1>")
    assert headline in page and "all cells passed" not in page and "4 cell(s) NOT RUN" in page
    data = json.loads((bundle / "evidence.json").read_text())
    assert data["completeness"]["status"] == "incomplete"
    assert data["completeness"]["headline"] == headline
    assert sum(1 for c in data["cells"] if c["observed"] == NOT_RUN and not c["passed"]) == 4
    assert json.loads((bundle / "manifest.json").read_text())["status"] == headline


def test_verify_refuses_an_incomplete_bundle_unless_allowed(tmp_path: Path, capsys: Any) -> None:
    bundle, _ = _incomplete_bundle(tmp_path)
    assert evidence_cli_main(["verify", str(bundle)]) == 1
    out = capsys.readouterr().out
    assert "intact" in out and "INCOMPLETE: 4 of 8 cells" in out and "refused" in out
    assert evidence_cli_main(["verify", "--allow-partial", str(bundle)]) == 0
    assert "accepted as partial" in capsys.readouterr().out


def test_verify_accepts_a_selection_and_prints_it(tmp_path: Path, capsys: Any) -> None:
    rows = cells()
    verdict, all_cells = completeness.assess(_plan(rows), _records(rows), None,
                                             ["--scenario books"])
    bundle = evidence.write_bundle(all_cells, RUN, tmp_path / "reports", verdict)
    assert bundle is not None
    assert evidence_cli_main(["verify", str(bundle)]) == 0
    assert "SELECTION: all 8 selected cells observed; selected by --scenario books" in (
        capsys.readouterr().out)
    assert evidence_cli_main(["verify", "--require-full", str(bundle)]) == 1


def test_verify_refuses_a_bundle_that_does_not_record_its_extent(tmp_path: Path) -> None:
    bundle, _ = _incomplete_bundle(tmp_path)
    data = json.loads((bundle / "evidence.json").read_text())
    del data["completeness"]  # as a schema 1 bundle was written
    (bundle / "evidence.json").write_text(json.dumps(data))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["evidence.json"]["sha256"] = evidence.sha256(bundle / "evidence.json")
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert evidence.verify(bundle).intact
    assert evidence_cli_main(["verify", str(bundle)]) == 1
    assert evidence_cli_main(["verify", "--allow-partial", str(bundle)]) == 0


def test_diff_reports_cells_not_run_as_missing_not_unchanged(tmp_path: Path, capsys: Any) -> None:
    rows = cells()
    full, full_cells = completeness.assess(_plan(rows), _records(rows), None, [])
    old = evidence.write_bundle(full_cells, {**RUN, "runid": "old"}, tmp_path / "r", full)
    new, _ = _incomplete_bundle(tmp_path)
    assert old is not None
    changes = evidence.diff(old, new)
    assert sorted(c.id for c in changes) == sorted(r["id"] for r in rows[4:])
    assert {c.not_run for c in changes} == {"new"}
    assert "NOT RUN in the new run: missing, not compared" in changes[0].describe()
    assert evidence_cli_main(["diff", str(old), str(new)]) == 1
    err = capsys.readouterr().err
    assert "the new bundle" in err and "INCOMPLETE" in err and "4 cell(s) missing" in err
    both = evidence.diff(new, new)
    assert {c.not_run for c in both} == {"both"} and len(both) == 4  # never "unchanged"


def test_diff_of_a_full_run_and_a_selection_never_calls_a_cell_changed(
        tmp_path: Path, capsys: Any) -> None:
    """Cells in one run only are added or removed; outside a selection they are missing."""
    rows = cells()
    full, full_cells = completeness.assess(_plan(rows), _records(rows), None, [])
    old = evidence.write_bundle(full_cells, {**RUN, "runid": "full"}, tmp_path / "r", full)
    chosen = [r for r in rows if "testuser1" in r["id"]]
    picked, picked_cells = completeness.assess(_plan(chosen, deselected=len(rows) - len(chosen)),
                                               _records(chosen), None, ["-k 'testuser1'"])
    new = evidence.write_bundle(picked_cells, {**RUN, "runid": "picked"}, tmp_path / "r", picked)
    assert old is not None and new is not None
    changes = evidence.diff(old, new)
    assert sorted(c.id for c in changes) == sorted(r["id"] for r in rows if r not in chosen)
    assert {c.kind for c in changes} == {"missing"}
    assert "not in the new run's selection (-k 'testuser1'): missing, not compared" in (
        changes[0].describe())
    assert evidence_cli_main(["diff", str(old), str(new)]) == 1
    err = capsys.readouterr().err
    assert f"0 cell(s) changed, 0 added, 0 removed; {len(changes)} cell(s) missing" in err
    assert [c.kind for c in evidence.diff(new, old)] == ["missing"] * len(changes)

    # Two whole runs: a cell of one only was added to the suite, or removed from it.
    grown = [*rows, {**rows[-1], "id": "books-token-authrole-enhanced-writer-Scan",
                     "test": "suites/test_access.py::test_access[books-x-Scan]"}]
    more, more_cells = completeness.assess(_plan(grown), _records(grown), None, [])
    bigger = evidence.write_bundle(more_cells, {**RUN, "runid": "grown"}, tmp_path / "r", more)
    assert bigger is not None
    assert [(c.id, c.kind) for c in evidence.diff(old, bigger)] == [
        ("books-token-authrole-enhanced-writer-Scan", "added")]
    assert [(c.kind, c.describe()) for c in evidence.diff(bigger, old)] == [
        ("removed", "books-token-authrole-enhanced-writer-Scan: removed (only in the old run)")]
    assert evidence_cli_main(["diff", str(bigger), str(old)]) == 1
    assert "0 cell(s) changed, 0 added, 1 removed; 0 cell(s) missing" in capsys.readouterr().err


def test_a_skipped_cell_is_never_counted_as_passed() -> None:
    described = Description(id="c", kind="access", expected="DENIED")
    skipped = records_of(described, [Observation(observed="DENIED")], "skipped", "t", "now")
    assert skipped[0]["passed"] is False
    assert counts(skipped) == {"cells": 1, "passed": 0, "failed": 0, "not_probed": 1,
                               "not_run": 0}


def test_the_plan_counts_each_part_of_a_cell_so_one_number_holds_everywhere() -> None:
    """A test that checks several variants is several cells in the plan too (item 7)."""
    rows = cells()
    plan = _plan(rows)
    revoked = {"id": "books-signed-out", "kind": "negative", "scenario": "books",
               "parts": ["token-authrole", "token-deny"]}
    plan = Plan([*plan.cells, ("suites/t.py::t[books-signed-out]", revoked)], [])
    records = _records(rows) + _records([
        {"id": f"books-signed-out[{part}]", "kind": "negative", "scenario": "books",
         "variant": part, "passed": True, "test": "suites/t.py::t[books-signed-out]"}
        for part in ("token-authrole", "token-deny")])
    verdict, all_cells = completeness.assess(plan, records, None, [])
    assert (verdict.planned, verdict.observed, len(all_cells)) == (len(rows) + 2,) * 3
    assert verdict.headline == f"COMPLETE: all {len(rows) + 2:,} planned cells observed"
    cut, cut_cells = completeness.assess(plan, _records(rows), "interrupted by SIGINT", [])
    assert cut.missing == ["books-signed-out[token-authrole]", "books-signed-out[token-deny]"]
    assert len(cut_cells) == cut.planned == len(rows) + 2


def _not_probed_bundle(tmp_path: Path) -> tuple[Path, Completeness, str, str]:
    """A run whose control cell was skipped: no safe way to ask (a team's table)."""
    rows = cells()
    skipped = rows[-1]["id"]
    reason = ("table T is not deletion-protected: an allowed DeleteTable would delete it "
              "(turn DeletionProtectionEnabled on to have this probed)")
    skip = {**_records([rows[-1]], "skipped")[0], "observed": NOT_PROBED, "passed": False,
            "code": reason}
    records = [*_records(rows[:-1]), skip]
    verdict, all_cells = completeness.assess(_plan(rows), records, None, [])
    bundle = evidence.write_bundle(all_cells, {**RUN, "runid": "np"}, tmp_path / "reports",
                                   verdict, action_order=["GetItem", "Query", "PutItem"])
    assert bundle is not None
    return bundle, verdict, skipped, reason


def test_a_cell_not_probed_is_counted_and_named_apart_everywhere(tmp_path: Path,
                                                                 capsys: Any) -> None:
    """Item 10: not probed is not observed, in every reader's words, with the reason."""
    bundle, verdict, skipped, reason = _not_probed_bundle(tmp_path)
    headline = f"COMPLETE: 7 of 8 planned cells observed; 1 not probed: {reason}"
    assert (verdict.status, verdict.observed, verdict.headline) == (COMPLETE, 7, headline)
    assert verdict.not_probed == {skipped: reason}
    summary = (bundle / "summary.md").read_text()
    assert f"**{headline}**" in summary and "| 8 | 7 | 0 | 1 | 0 |" in summary
    assert "## Not probed (1)" in summary and f"- {skipped}: {reason}" in summary
    assert "every cell observed what the spec" not in summary
    page = (bundle / "matrix.html").read_text()
    assert headline in page and "all cells passed" not in page and "1 NOT PROBED" in page
    assert 'class="banner complete notprobed"' in page  # not the all-observed green
    assert f'class="v NOTPROBED" title="{skipped}: NOTPROBED' in page  # never red, never "fail"
    data = json.loads((bundle / "evidence.json").read_text())
    assert data["completeness"]["not_probed"] == {skipped: reason}
    results = json.loads((bundle / "assessment-results.json").read_text())
    result = results["assessment-results"]["results"][0]
    assert skipped not in {o["title"] for o in result["observations"]}  # nothing was observed
    assert not result.get("findings")
    assert result["remarks"].startswith(headline) and f"{skipped}: {reason}" in result["remarks"]
    assert {"name": "not-probed", "value": "1"} in result["props"]
    assert evidence_cli_main(["verify", str(bundle)]) == 0  # a reasoned gap, stated everywhere
    out = capsys.readouterr().out
    assert "1 cell(s) NOT PROBED" in out and f"{skipped}: {reason}" in out
    assert evidence_cli_main(["verify", "--require-full", str(bundle)]) == 1
    assert "refused (--require-full)" in capsys.readouterr().out
    allure_run.write(tmp_path / "allure", RUN, ["books"], "abc123", verdict)
    properties = (tmp_path / "allure" / "environment.properties").read_text().splitlines()
    assert f"run.status={headline}" in properties and "run.cells.not_probed=1" in properties


def test_allure_environment_says_the_runs_status_on_one_redacted_line(tmp_path: Path) -> None:
    # One writer (allure_run.write) for environment.properties: the run's metadata and status.
    verdict = Completeness(INCOMPLETE, 1793, 684, reason="interrupted by SIGINT\nat 12:00")
    allure_run.write(tmp_path, {**RUN, "account": "123456789012"}, ["books"], "abc123", verdict)
    lines = (tmp_path / "environment.properties").read_text().splitlines()
    assert "run.status=INCOMPLETE: 684 of 1,793 cells; interrupted by SIGINT at 12:00" in lines
    assert "run.cells.planned=1793" in lines and "run.cells.observed=684" in lines
    assert "account=********9012" in lines and "target=emulated" in lines
    allure_run.write(tmp_path, RUN, ["books"], "abc123")  # no verdict (no session): no status
    assert "run.status" not in (tmp_path / "environment.properties").read_text()


def test_junit_carries_the_headline(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text('<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="1">'
                     '<testcase name="t"/></testsuite></testsuites>')
    completeness.mark_junit(junit, Completeness(INCOMPLETE, 10, 3, reason="interrupted by SIGTERM"))
    assert ('<property name="rolecall.run.status" value="INCOMPLETE: 3 of 10 cells; '
            'interrupted by SIGTERM"') in junit.read_text()
