"""The mutation run: junit reading, what counts as a kill, the gate, and one real run.

A kill must mean "the suite judged the target wrong": an assertion failed. A
suite that crashed, errored in setup or collected nothing has detected nothing,
so those runs are BROKEN and count as not killed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rolecall.emulator.faults import Fault
from rolecall.tools import cli, mutation, mutation_quick, mutation_verdict
from rolecall.tools.mutation_verdict import (
    BROKEN,
    CANCELLED,
    FAILED,
    KILLED,
    PASSED,
    SURVIVED,
    Cell,
    JunitResult,
    RunOutcome,
)

ROOT = Path(__file__).resolve().parents[2]


def _junit(tmp_path: Path, *cases: str) -> Path:
    path = tmp_path / "junit.xml"
    path.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
                    + "".join(cases) + "</testsuite></testsuites>")
    return path


def _case(name: str, inner: str = "", classname: str = "suites.test_access") -> str:
    return f'<testcase classname="{classname}" name="{name}" time="0.01">{inner}</testcase>'


PASS = _case("test_access[books-a-GetItem]")
ASSERTION = _case("test_access[books-a-PutItem]",
                  '<failure message="AssertionError: books-a-PutItem: expected DENIED, observed '
                  'ALLOWED [SPEC D1]">trace</failure>')
PYTEST_FAIL = _case("test_access[books-a-Scan]",
                    '<failure message="Failed: books-a-Scan: expected credentials">t</failure>')
CRASH = _case("test_credentials[books-a]",
              '<failure message="RuntimeError: provisioning scenario books failed">t</failure>',
              "suites.test_credentials")
SETUP_ERROR = _case("test_access[books-a-Query]",
                    '<error message="failed on setup with &quot;KeyError&quot;">t</error>')
COLLECTION = _case("suites.test_tokens", '<error message="collection failure">t</error>', "")
INTERNAL = _case("internal", '<error message="internal error">t</error>', "pytest")


# --------------------------------------------------------------------------- junit


def test_parse_junit_sorts_verdicts_crashes_errors_and_collection_errors(tmp_path: Path) -> None:
    result = mutation_verdict.parse_junit(_junit(tmp_path, PASS, ASSERTION, PYTEST_FAIL, CRASH,
                                         SETUP_ERROR, COLLECTION, INTERNAL))

    assert result.tests == 5
    assert [c.id for c in result.verdicts] == ["books-a-PutItem", "books-a-Scan"]
    assert result.verdicts[0].message.startswith("AssertionError: books-a-PutItem: expected DENIED")
    assert [c.id for c in result.crashed] == ["books-a"]
    assert [c.id for c in result.errors] == ["books-a-Query"]
    assert [c.name for c in result.collection_errors] == ["suites.test_tokens", "internal"]


def test_a_cell_failing_in_call_and_erroring_in_teardown_is_both(tmp_path: Path) -> None:
    both = _case("test_access[x]", '<failure message="AssertionError: x">t</failure>'
                                   '<error message="failed on teardown with &quot;boom&quot;">t</error>')
    result = mutation_verdict.parse_junit(_junit(tmp_path, both))
    assert result.tests == 1
    assert [c.id for c in result.verdicts] == ["x"] and [c.id for c in result.errors] == ["x"]


def test_cell_id_is_the_parametrization_or_the_test_name() -> None:
    assert Cell("suites.test_claims", "test_id_token_claims[books-editor]").id == "books-editor"
    assert Cell("suites.test_x", "test_plain").id == "test_plain"


# --------------------------------------------------------------------------- classification

V = (Cell("c", "test_credentials[v]", "AssertionError: v"),)
C = (Cell("c", "test_credentials[c]", "RuntimeError: c"),)
E = (Cell("c", "test_credentials[e]", "failed on setup"),)
COLL = (Cell("", "suites.test_tokens", "collection failure"),)


@pytest.mark.parametrize(("returncode", "junit", "timed_out", "status", "reason"), [
    (0, JunitResult(10), False, SURVIVED, ""),
    (1, JunitResult(10, verdicts=V), False, KILLED, ""),
    (1, JunitResult(10, verdicts=V, crashed=C), False, KILLED, "1 cell(s) crashed"),
    (1, JunitResult(10, crashed=C), False, BROKEN, "no verdict failed; 1 cell(s) crashed"),
    (1, JunitResult(10, errors=E), False, BROKEN, "no verdict failed; 1 setup/teardown error(s)"),
    (2, JunitResult(0, collection_errors=COLL), False, BROKEN,
     "collection error in suites.test_tokens"),
    (2, JunitResult(10, verdicts=V), False, BROKEN, "pytest exit code 2"),
    (3, JunitResult(10), False, BROKEN, "pytest exit code 3"),
    (4, None, False, BROKEN, "no junit report (pytest exit code 4)"),
    (5, JunitResult(0), False, BROKEN, "pytest exit code 5"),
    (0, JunitResult(0), False, BROKEN, "no tests ran"),
    (0, JunitResult(10, verdicts=V), False, BROKEN, "pytest exit code 0 contradicts its junit report"),
    (None, None, True, BROKEN, "timed out"),
], ids=["all-pass", "verdict", "verdict+crash", "only-crash", "only-error", "collection",
        "interrupted", "internal", "usage", "no-tests", "empty-junit", "contradiction", "timeout"])
def test_classify_fault(returncode: int | None, junit: JunitResult | None, timed_out: bool,
                        status: str, reason: str) -> None:
    assert mutation_verdict.classify_fault(returncode, junit, timed_out) == (status, reason)


@pytest.mark.parametrize(("returncode", "junit", "status"), [
    (0, JunitResult(10), PASSED),
    (1, JunitResult(10, verdicts=V), FAILED),
    (1, JunitResult(10, crashed=C), BROKEN),
    (4, None, BROKEN),
])
def test_classify_baseline(returncode: int, junit: JunitResult | None, status: str) -> None:
    assert mutation_verdict.classify_baseline(returncode, junit)[0] == status


def test_killing_cells_put_direct_cells_before_access_cells() -> None:
    junit = JunitResult(3, verdicts=(Cell("a", "test_access[x-PutItem]"),
                                     Cell("c", "test_credentials[x]"),
                                     Cell("b", "test_id_token_claims[x]")))
    outcome = RunOutcome("f", KILLED, junit=junit)
    assert [c.name for c in outcome.killing_cells] == [
        "test_credentials[x]", "test_id_token_claims[x]", "test_access[x-PutItem]"]
    assert RunOutcome("f", BROKEN, junit=junit).killing_cells == []


# --------------------------------------------------------------------------- the gate

CATALOGUE = {f"f{i}": Fault(f"f{i}", "area", "G4", "d", critical=(i == 0)) for i in range(20)}
OK_BASELINE = RunOutcome(None, PASSED, junit=JunitResult(10))


def _outcomes(*statuses: str) -> list[RunOutcome]:
    return [RunOutcome(f"f{i}", status) for i, status in enumerate(statuses)]


@pytest.mark.parametrize(("baseline", "statuses", "min_rate", "rate", "failures"), [
    (OK_BASELINE, [KILLED] * 20, 0.95, 1.0, []),
    (OK_BASELINE, [KILLED] * 19 + [SURVIVED], 0.95, 0.95, []),                 # exactly at the bar
    (OK_BASELINE, [KILLED] * 18 + [SURVIVED] * 2, 0.95, 0.9, ["kill rate"]),
    (OK_BASELINE, [KILLED] * 18 + [SURVIVED] * 2, 0.9, 0.9, []),              # --min-kill-rate
    (OK_BASELINE, [SURVIVED] + [KILLED] * 19, 0.95, 0.95, ["critical"]),       # f0 is critical
    (OK_BASELINE, [BROKEN] + [KILLED] * 19, 0.95, 0.95, ["critical"]),         # broken is not killed
    (OK_BASELINE, [KILLED] * 18 + [BROKEN, CANCELLED], 0.95, 0.9, ["kill rate"]),
    (RunOutcome(None, FAILED, "2 cell(s) fail"), [KILLED] * 20, 0.95, 1.0, ["faithful"]),
    (None, [KILLED] * 20, 0.95, 1.0, ["faithful"]),
    (OK_BASELINE, [], 0.95, 0.0, ["no fault"]),
    (RunOutcome(None, BROKEN, "timed out"), [SURVIVED] + [KILLED] * 9, 0.95, 0.9, ["faithful"]),
], ids=["all", "at-bar", "below", "lower-bar", "critical-survives", "critical-broken",
        "broken-cancelled", "false-alarm", "no-baseline", "nothing-run", "baseline-hides-the-rest"])
def test_judge(baseline: RunOutcome | None, statuses: list[str], min_rate: float, rate: float,
               failures: list[str]) -> None:
    verdict = mutation_verdict.judge(baseline, _outcomes(*statuses), min_rate, CATALOGUE)
    assert verdict.kill_rate == pytest.approx(rate)
    assert len(verdict.failures) == len(failures)
    for reason, expected in zip(verdict.failures, failures, strict=True):
        assert expected in reason
    assert verdict.ok is (not failures)


def test_select_faults_keeps_catalogue_order_and_rejects_unknown_names() -> None:
    assert mutation.select_faults([], quick=False) == [f.name for f in mutation.CATALOGUE]
    quick = mutation.select_faults([], quick=True)
    assert sorted(quick) == sorted(mutation_quick.QUICK)
    assert mutation.select_faults(["iam-notaction-inverted", "precedence-null-wins"], False) == [
        "precedence-null-wins", "iam-notaction-inverted"]
    # --quick --fault NAME: that fault alone, scoped as QUICK says
    assert mutation.select_faults(["iam-transact-unchecked"], quick=True) == [
        "iam-transact-unchecked"]
    with pytest.raises(ValueError, match="no-such-fault"):
        mutation.select_faults(["no-such-fault"], quick=False)


def test_quick_subset_is_critical_small_and_covers_every_critical_area() -> None:
    # CI's budget: mutation-quick must not grow with the catalogue (the full run is tox -e mutation);
    # it grows by one fault per new critical area only (issue 22 added three: 37 -> 40;
    # issue 23 one, request shapes: 41)
    quick = [mutation.BY_NAME[name] for name in mutation_quick.QUICK]
    assert len(quick) <= 41 and all(f.critical for f in quick)
    assert {f.area for f in quick} == {f.area for f in mutation.CATALOGUE if f.critical}


def test_quick_subset_names_scenarios_and_tests_that_exist() -> None:
    # a renamed scenario or test would make its quick fault run BROKEN in CI; say so here first
    existing = {path.stem for path in (ROOT / "scenarios").glob("*.yaml")}
    tests = {name for path in (ROOT / "suites").glob("test_*.py")
             for name in re.findall(r"^def (test_\w+)", path.read_text(), re.M)}
    for fault, quick in mutation_quick.QUICK.items():
        assert quick.scenario in existing, (fault, quick.scenario)
        named = set(re.findall(r"test_\w+", quick.tests))
        assert named and named <= tests, (fault, sorted(named - tests))
        assert mutation_quick.QUICK_SCENARIOS[fault] == (quick.scenario,)


def test_scoped_runs_name_their_scenarios_and_the_baseline_covers_them_all(tmp_path: Path) -> None:
    scenarios = {"a": ("books",), "b": ("rules", "books")}
    per_fault, baseline = mutation.scoped(["a", "b"], scenarios)
    assert per_fault == scenarios and baseline == ("books", "rules")
    # one fault without scenarios runs the whole suite, so the baseline must too
    assert mutation.scoped(["a", "c"], scenarios) == ({"a": ("books",)}, ())
    assert mutation.scoped(["c"], {}) == ({}, ())

    settings = mutation.Settings(ROOT / "suites", tmp_path, ("-k", "x"), 0, 3, 60.0,
                                 per_fault, baseline)
    fault_run = mutation.pytest_command(settings, "b", tmp_path / "j.xml")
    assert fault_run[-10:] == ["--scenario", "rules", "--scenario", "books",
                               "--emulator-fault", "b", "--maxfail=3", "--cheapest-first",
                               "-k", "x"]
    faithful = mutation.pytest_command(settings, None, tmp_path / "j.xml")
    assert "--emulator-fault" not in faithful and not any("maxfail" in a for a in faithful)
    assert "--cheapest-first" not in faithful  # the baseline runs whole, in the usual order
    assert faithful[-6:] == ["--scenario", "books", "--scenario", "rules", "-k", "x"]


def test_quick_runs_select_their_tests_and_the_baseline_the_union(tmp_path: Path) -> None:
    per_fault = {"a": ("books",), "b": ("rules",)}
    tests = {"a": "test_access", "b": "test_credentials or test_broken_token"}
    settings = mutation.Settings(ROOT / "suites", tmp_path, (), 0, 1, 60.0, per_fault,
                                 ("books", "rules"), tests)
    fault_run = mutation.pytest_command(settings, "b", tmp_path / "j.xml")
    assert fault_run[-8:] == ["--scenario", "rules", "-k", "test_credentials or test_broken_token",
                              "--emulator-fault", "b", "--maxfail=1", "--cheapest-first"]
    faithful = mutation.pytest_command(settings, None, tmp_path / "j.xml")
    assert faithful[faithful.index("-k") + 1] == (
        "(test_access) or (test_credentials or test_broken_token)")
    # a fault without tests runs every test of its scenario, so the baseline must too
    partial = mutation.Settings(ROOT / "suites", tmp_path, (), 0, 1, 60.0, per_fault,
                                ("books", "rules"), {"a": "test_access"})
    assert "-k" not in mutation.pytest_command(partial, None, tmp_path / "j.xml")


def test_a_reused_faithful_junit_must_pass_and_hold_every_scenario(tmp_path: Path) -> None:
    passing = _junit(tmp_path, _case("test_access[books-token-x-GetItem]"),
                     _case("test_credentials[rules-token-enhanced-u]"))
    ok = mutation.reused_baseline(passing, ["books", "rules"])
    assert ok.status == PASSED and ok.junit.tests == 2
    missing = mutation.reused_baseline(passing, ["books", "flows"])
    assert missing.status == BROKEN and "flows" in missing.reason
    assert mutation.reused_baseline(tmp_path / "none.xml", ["books"]).status == BROKEN
    failing = _junit(tmp_path, _case("test_access[books-token-x-GetItem]",
                                     '<failure message="expected ALLOWED, observed DENIED"/>'))
    assert mutation.reused_baseline(failing, ["books"]).status == FAILED


# --------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize(("baseline", "statuses", "extra", "exit_code"), [
    (OK_BASELINE, [KILLED, KILLED], [], 0),
    (OK_BASELINE, [KILLED, SURVIVED], [], 1),
    (OK_BASELINE, [KILLED, SURVIVED], ["--min-kill-rate", "0.5"], 0),
    (RunOutcome(None, FAILED, "1 cell(s) fail"), [KILLED, KILLED], [], 1),
    (OK_BASELINE, [KILLED, BROKEN], ["--min-kill-rate", "0.5"], 0),
], ids=["pass", "survivor", "lower-bar", "false-alarm", "broken-within-bar"])
def test_exit_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, baseline: RunOutcome,
                   statuses: list[str], extra: list[str], exit_code: int) -> None:
    # two non-critical faults of the real catalogue, so only the kill rate and baseline decide
    names = ["precedence-roleless-counts", "claims-roles-as-string"]

    def fake_run_all(runner: mutation.Runner, faults: list[str], jobs: int
                     ) -> tuple[RunOutcome, list[RunOutcome]]:
        assert faults == names
        return baseline, [RunOutcome(n, s) for n, s in zip(names, statuses, strict=True)]

    monkeypatch.setattr(mutation, "run_all", fake_run_all)
    report = tmp_path / "mutation.json"
    code = cli.main(["mutation", "--fault", names[0], "--fault", names[1], "--report", str(report),
                     "--suites", str(ROOT / "suites"), *extra])
    assert code == exit_code
    assert json.loads(report.read_text())["totals"]["passed"] is (exit_code == 0)


def test_unknown_fault_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["mutation", "--fault", "no-such-fault"]) == 2
    assert "no-such-fault" in capsys.readouterr().err


# --------------------------------------------------------------------------- real runs


def _run(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "mutation.json"
    code = cli.main(["mutation", "--suites", str(ROOT / "suites"), "--report", str(report),
                     "--work-dir", str(tmp_path / "work"), *args])
    return code, json.loads(report.read_text())


def test_a_real_fault_is_killed_and_its_killing_cells_are_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = _run(tmp_path, "--fault", "precedence-highest-wins", "--min-kill-rate", "1",
                          "--", "--scenario", "books")
    out = capsys.readouterr().out

    assert code == 0, out
    assert document["baseline"]["status"] == PASSED and document["baseline"]["tests"] > 0
    [fault] = document["faults"]
    assert fault["killed"] is True and fault["status"] == KILLED
    # books' editor is in BooksRead (precedence 10) and BooksWrite (precedence 1): G4 picks write
    assert "test_id_token_claims[books-editor]" in fault["killing_cells"]
    assert fault["killing_count"] == len(fault["killing_cells"]) > 0
    assert "SPEC G4" in fault["first_message"]
    assert "precedence-highest-wins" in out and "books-editor" in out
    assert document["totals"]["kill_rate"] == 1.0 and document["totals"]["killed"] == 1


def test_a_broken_suite_run_is_not_a_kill(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    # an unknown scenario stops pytest at configuration: nothing judged, nothing killed
    code, document = _run(tmp_path, "--fault", "precedence-highest-wins",
                          "--", "--scenario", "no-such-scenario")

    assert code == 1
    assert document["baseline"]["status"] == BROKEN
    [fault] = document["faults"]
    assert fault["killed"] is False and fault["status"] in (BROKEN, CANCELLED)
    assert "faithful run is not clean" in capsys.readouterr().out
